#!/usr/bin/env bash
# Refresh the charting libraries that report.html inlines (src/llmbench/report/assets/vendor/):
# the minified builds of Vega, Vega-Lite and vega-embed and their licences, from the npm
# registry with `npm pack` (no install, no build). vega-embed bundles vega-tooltip and
# vega-interpreter (the CSP-safe expression interpreter the page uses), so they need no file
# of their own.
#
#     bash scripts/vendor_charts.sh                      # the versions below
#     bash scripts/vendor_charts.sh 6.4.0 6.5.0 7.3.0    # vega, vega-lite, vega-embed
#
# Check the peer dependencies first (`npm view vega-lite@X peerDependencies`: Vega-Lite 6.5
# wants vega ^6.4), then run the report tests and the browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
VEGA=${1:-6.4.0}
VEGA_LITE=${2:-6.5.0}
VEGA_EMBED=${3:-7.3.0}
OUT=src/llmbench/report/assets/vendor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fetch() {  # package version build-file -> $OUT/<package>.min.js and <package>.LICENSE
    local name=$1 version=$2 file=$3
    (cd "$WORK" && npm pack --silent "$name@$version" >/dev/null)
    mkdir -p "$WORK/$name"
    tar -xzf "$WORK/$name-$version.tgz" -C "$WORK/$name"
    # the source-map comment names a file that is not shipped
    sed '/^\/\/# sourceMappingURL=/d; s|//# sourceMappingURL=[^ ]*$||' \
        "$WORK/$name/package/build/$file" >"$OUT/$name.min.js"
    cp "$WORK/$name/package/LICENSE" "$OUT/$name.LICENSE"
    if grep -qiE '</script|<!--' "$OUT/$name.min.js"; then
        echo "$OUT/$name.min.js holds </script or <!--: it cannot be inlined as it is" >&2
        exit 1
    fi
}

mkdir -p "$OUT"
fetch vega "$VEGA" vega.min.js
fetch vega-lite "$VEGA_LITE" vega-lite.min.js
fetch vega-embed "$VEGA_EMBED" vega-embed.min.js
cat >"$OUT/README.md" <<EOF
# Vendored charting libraries

Inlined into every report.html (which must work offline, from one file), in this order:

| file | package | version | licence |
|---|---|---|---|
| vega.min.js | vega | $VEGA | BSD-3-Clause (vega.LICENSE) |
| vega-lite.min.js | vega-lite | $VEGA_LITE | BSD-3-Clause (vega-lite.LICENSE) |
| vega-embed.min.js | vega-embed (bundles vega-tooltip, vega-interpreter) | $VEGA_EMBED | BSD-3-Clause (vega-embed.LICENSE) |

The builds are the packages' own minified files as published on the npm registry, with the
trailing source-map comment removed. Refresh them with \`bash scripts/vendor_charts.sh\`
(see the script for other versions), never by hand. The bundles include their own
dependencies (d3 modules, vega-tooltip, vega-interpreter, fast-json-patch, semver, ...) under
those packages' permissive licences (ISC, MIT, BSD-3-Clause), as published.
EOF
ls -l "$OUT"
