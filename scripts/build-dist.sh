#!/usr/bin/env bash
# The compiled build of the sidecar: `scripts/build-dist.sh [OUT]` (default .hexr/dist) emits JavaScript for
# sidecars/, filters/ and envoy-config/ with tsc (tsconfig.dist.json: types erased, `./x.ts` imports
# rewritten to `./x.js`, incremental) and links the data files the code reads beside itself (proto/, the
# guard's model). Run it with `HEXR_DIST=OUT bin/hexr sidecar ...`, or `node OUT/sidecars/cli/main.js`.
#
# Why: Node strips TypeScript types with a WebAssembly build of swc (amaro) that stays resident — about
# 18 MB in the main thread and 5 MB more in the guard's worker thread, for nothing after start-up
# (bench/RESULTS.md, issue 14). A container image runs this build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/.hexr/dist}")
cd "$root"
# no marker while building: a failed or interrupted build is never taken for a good one
rm -f "$out/.hexr-dist"
if [ "$out" != "$root/.hexr/dist" ]; then
  node node_modules/typescript/bin/tsc -p tsconfig.dist.json --outDir "$out" --tsBuildInfoFile "$out/.tsbuildinfo"
else
  node node_modules/typescript/bin/tsc -p tsconfig.dist.json
fi
ln -sfn "$root/proto" "$out/proto"
# packages resolve from the build's own directory upwards: outside the repo it needs them beside it
[ "$out" = "$root/.hexr/dist" ] || ln -sfn "$root/node_modules" "$out/node_modules"
mkdir -p "$out/filters/guard"
ln -sfn "$root/filters/guard/models" "$out/filters/guard/models"
# marks the build as ours and says what it was built from (bin/hexr refuses a HEXR_DIST without it, or
# one built from other sources than those beside it)
bash "$root/scripts/source-hash.sh" "$root" >"$out/.hexr-dist"
