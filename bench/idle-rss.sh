#!/usr/bin/env bash
# Idle RSS of an authz-only sidecar: `bench/idle-rss.sh [REPO]` starts `hexr sidecar` (a Unix socket and the
# project's policy bundle), waits until it serves, 3 s more, and prints VmRSS. Used for bench/RESULTS.md.
# From the TypeScript sources by default; `HEXR_DIST=.hexr/dist` (after scripts/build-dist.sh) measures the
# compiled build. The whole sidecar's idle RSS (guard and credentials on) is in `bin/hexr bench`'s
# `hexr-sidecar-full` row.
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck disable=SC1091
. "${HEXR_CACHE:-$HOME/.cache/hexr}/tools/env.sh"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
(cd "$repo" && bin/hexr policy build --out "$d/bundle.tar.gz" >/dev/null)
printf 'trust_domains: [hexr.cloud]\nauthz:\n  listen: { socket: %s/a.sock }\n  bundle: %s/bundle.tar.gz\naudit: { path: stdout }\n' "$d" "$d" >"$d/h.yaml"
"$repo/bin/hexr" sidecar --config "$d/h.yaml" >"$d/log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -S "$d/a.sock" ] && break; sleep 0.05; done  # until it serves
[ -S "$d/a.sock" ] || { echo "sidecar did not start: $(tail -3 "$d/log")" >&2; kill "$pid"; exit 1; }
sleep 3
grep VmRSS "/proc/$pid/status"
kill "$pid"; wait "$pid" 2>/dev/null || true
