#!/usr/bin/env bash
# The hash of the sources a compiled build (scripts/build-dist.sh) is made from: every file under sidecars/,
# filters/ and envoy-config/ that the build compiles or reads (.ts, .json, .bin; not caches such as
# __pycache__). build-dist.sh records it; bin/hexr refuses a HEXR_DIST whose record differs.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
find sidecars filters envoy-config -type f \( -name '*.ts' -o -name '*.json' -o -name '*.bin' \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
