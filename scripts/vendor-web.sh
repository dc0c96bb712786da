#!/usr/bin/env bash
# Vendor the web UI's front-end libraries: `npm ci` of the pinned scripts/web-libs/package-lock.json in
# build/web-vendor (never in the source tree), then copy the needed dist files and licences
# into src/deconfliction/web/vendor/ (gitignored). Nothing is fetched at run time.
# Runs again only when the lock file or this script changed (a hash stamp in vendor/).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=src/deconfliction/web/vendor
build=build/web-vendor
want="$(cat scripts/web-libs/package.json scripts/web-libs/package-lock.json "$0" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm (Node.js 18+) is needed once to vendor the web UI's libraries" \
        "(Debian: apt-get install -y nodejs npm)" >&2
    exit 1
fi
echo "Vendoring the web UI's libraries (npm ci of scripts/web-libs/package-lock.json) ..." >&2
rm -rf "$build"
mkdir -p "$build"
cp scripts/web-libs/package.json scripts/web-libs/package-lock.json "$build/"
(cd "$build" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
nm="$build/node_modules"
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/leaflet/images" "$tmp/milsymbol" "$tmp/mgrs"
cp "$nm/leaflet/dist/leaflet.js" "$nm/leaflet/dist/leaflet.js.map" "$nm/leaflet/dist/leaflet.css" \
    "$nm/leaflet/LICENSE" "$tmp/leaflet/"
cp "$nm"/leaflet/dist/images/*.png "$tmp/leaflet/images/"
cp "$nm/milsymbol/dist/milsymbol.js" "$nm/milsymbol/dist/milsymbol.js.map" \
    "$nm/milsymbol/LICENSE" "$tmp/milsymbol/"
cp "$nm/mgrs/dist/mgrs.esm.js" "$nm/mgrs/dist/mgrs.esm.js.map" "$nm/mgrs/license.md" "$tmp/mgrs/"
for pkg in leaflet milsymbol mgrs; do
    node -e 'const p = require(process.argv[1]); console.log(p.name + "@" + p.version)' \
        "$PWD/$nm/$pkg/package.json" >>"$tmp/VERSIONS"
done
echo "$want" >"$tmp/.stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "Vendored into $dest: $(tr '\n' ' ' <"$dest/VERSIONS")" >&2
