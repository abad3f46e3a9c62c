#!/usr/bin/env bash
# Fetches the prebuilt OHIF viewer (npm @ohif/app, its dist/ only) and prepares it to be served by the
# gateway under /viewer/ (README "Viewer"). Idempotent: a prepared bundle of the pinned version is kept.
#
#   bash scripts/fetch-viewer.sh [DEST]     DEST defaults to .viewer/ohif (the default viewer.path)
#
# Why a script and not a dependency: `npm install @ohif/app` would pull its whole build tree (hundreds
# of packages) into node_modules for 200 MB of files we only serve. `npm pack` fetches the one
# published tarball; its sha512 must equal both the integrity pinned here and the registry's
# dist.integrity before anything is extracted.
#
# The npm build has its public path compiled in as "/" (webpack publicPath, absolute links in
# index.html and app.bundle.css). Serving it under /viewer/ needs three literal rewrites of those
# prefixes (and the same in each worker bundle's runtime), done here once and checked (each must match exactly as expected, else the script fails):
# no rebuild, and a build of your own made with PUBLIC_URL=/viewer/ needs none of it (viewer.path).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE='@ohif/app'
VERSION='3.13.2'
INTEGRITY='sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=='
PUBLIC_PATH='/viewer/'
PREPARE=3  # bump when the preparation below changes

dest="${1:-.viewer/ohif}"
marker="$dest/.pgw-viewer.json"
want="{\"package\":\"$PACKAGE\",\"version\":\"$VERSION\",\"integrity\":\"$INTEGRITY\",\"publicPath\":\"$PUBLIC_PATH\",\"prepare\":$PREPARE}"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && [ -f "$dest/index.html" ]; then
  echo "fetch-viewer: $PACKAGE@$VERSION already prepared in $dest"
  exit 0
fi

cache="${PGW_VIEWER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pacs-gateway/viewer}"
mkdir -p "$cache"
tarball="$cache/ohif-app-$VERSION.tgz"

# npm's integrity string (SSRI) of a file: sha512, base64.
integrity_of() { node -e 'const c=require("node:crypto"),f=require("node:fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"; }

if [ ! -f "$tarball" ] || [ "$(integrity_of "$tarball")" != "$INTEGRITY" ]; then
  echo "fetch-viewer: npm pack $PACKAGE@$VERSION into $cache"
  registry="$(npm view "$PACKAGE@$VERSION" dist.integrity </dev/null)"
  if [ "$registry" != "$INTEGRITY" ]; then
    echo "fetch-viewer: the registry's integrity for $PACKAGE@$VERSION ($registry) is not the pinned one; refusing" >&2
    exit 1
  fi
  tmp="$(mktemp -d "$cache/pack.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PACKAGE@$VERSION" --silent </dev/null >/dev/null)
  got="$(integrity_of "$tmp/ohif-app-$VERSION.tgz")"
  if [ "$got" != "$INTEGRITY" ]; then
    echo "fetch-viewer: downloaded tarball has integrity $got, expected $INTEGRITY; refusing" >&2
    exit 1
  fi
  mv "$tmp/ohif-app-$VERSION.tgz" "$tarball"
fi

# Extract dist/ only, into a fresh directory next to DEST, then swap it in.
staging="$(mktemp -d "$(dirname "$dest")/.ohif-staging.XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$dest")"; mktemp -d "$(dirname "$dest")/.ohif-staging.XXXXXX"; })"
trap 'rm -rf "$staging" ${tmp:+"$tmp"}' EXIT
tar -xzf "$tarball" -C "$staging" --strip-components=2 --no-same-owner package/dist

# Replaces FROM with TO in FILE, requiring exactly COUNT occurrences (guards against a changed bundle).
rewrite() {
  local file="$1" from="$2" to="$3" count="$4"
  node -e '
    const fs = require("node:fs");
    const [file, from, to, count] = process.argv.slice(1);
    const text = fs.readFileSync(file, "utf8");
    const n = text.split(from).length - 1;
    if (n !== Number(count)) { console.error(`fetch-viewer: ${file}: expected ${count} of ${JSON.stringify(from)}, found ${n}`); process.exit(1); }
    fs.writeFileSync(file, text.split(from).join(to));
  ' "$file" "$from" "$to" "$count"
}
# webpack's public path: once in the app bundle and once in each worker bundle's own runtime.
runtimes=0
for js in "$staging"/*.js; do
  if grep -qF '__webpack_require__.p = "/";' "$js"; then
    rewrite "$js" '__webpack_require__.p = "/";' "__webpack_require__.p = \"$PUBLIC_PATH\";" 1
    runtimes=$((runtimes + 1))
  fi
done
if ! grep -qF "__webpack_require__.p = \"$PUBLIC_PATH\";" "$staging"/app.bundle.*.js || [ "$runtimes" -lt 2 ]; then
  echo "fetch-viewer: webpack public path not found where expected ($runtimes runtimes); refusing" >&2
  exit 1
fi
rewrite "$staging/app.bundle.css" 'url(/' "url($PUBLIC_PATH" 5
rewrite "$staging/index.html" 'window.PUBLIC_URL="/"' "window.PUBLIC_URL=\"$PUBLIC_PATH\"" 2
node -e '
  const fs = require("node:fs");
  const [file, base] = process.argv.slice(1);
  const text = fs.readFileSync(file, "utf8");
  // Every root-relative href/src/content of the page (not "//host" ones) moves under the public path.
  fs.writeFileSync(file, text.replace(/((?:href|src|content)=")\/(?!\/)/g, `$1${base}`));
' "$staging/index.html" "$PUBLIC_PATH"
# The demo app-config.js points at a public server; the gateway answers /viewer/app-config.js itself.
rm -f "$staging/app-config.js" "$staging/_redirects" "$staging/_headers" "$staging/serve.json"
# A gzip copy beside each text and WebAssembly file of more than 1 KB (165 MB → 40 MB, ~5 s on 2 cores),
# sent to browsers that accept gzip (Content-Encoding: gzip): a cold open moves 29 MB less over TLS.
# After the rewrites above, so each copy holds the served text; -n: no name or time inside.
find "$staging" -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.css' -o -name '*.html' -o -name '*.json' -o -name '*.wasm' -o -name '*.svg' \) -size +1k -print0 \
  | xargs -0 -r -P2 -n8 gzip -6 -k -n
printf '%s' "$want" >"$staging/.pgw-viewer.json"

rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
rm -rf ${tmp:+"$tmp"}
echo "fetch-viewer: $PACKAGE@$VERSION prepared in $dest for $PUBLIC_PATH"
