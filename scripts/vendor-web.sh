#!/usr/bin/env bash
# Copy the pinned browser assets (web/package-lock.json) into api/static/vendor/.
#
# Runs `npm ci` in web/ (needs npm and the npm registry; nothing else does), then copies only
# the prebuilt files the API pages load, each package's licence texts, and writes
# api/static/vendor/MANIFEST.json (package versions, file sizes and SHA-256). The copied files
# are committed, so serving the API needs neither npm nor a network.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web="$root/web"
out="$root/api/static/vendor"

command -v npm >/dev/null || { echo "vendor-web: npm is not installed" >&2; exit 1; }
(cd "$web" && npm ci --ignore-scripts --no-audit --no-fund)

nm="$web/node_modules"
rm -rf "$out"
mkdir -p "$out/swagger-ui" "$out/redoc" "$out/maplibre-gl" "$out/mapbox-gl-draw"

# Swagger UI (/docs): the bundle (with its standalone preset), its stylesheet and favicon.
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
         favicon-32x32.png LICENSE NOTICE package.json; do
    cp "$nm/swagger-ui-dist/$f" "$out/swagger-ui/$f"
done
# ReDoc (/redoc): the standalone bundle (React and its other dependencies are inside it).
for f in bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt LICENSE \
         package.json; do
    cp "$nm/redoc/$f" "$out/redoc/$(basename "$f")"
done

# MapLibre GL JS (the map of / and /console): the UMD build (it starts its workers from a
# blob of its own code, so nothing else is loaded), its stylesheet and licence.
for f in dist/maplibre-gl.js dist/maplibre-gl.css LICENSE.txt package.json; do
    cp "$nm/maplibre-gl/$f" "$out/maplibre-gl/$(basename "$f")"
done
# mapbox-gl-draw (drawing closures in /console; works on MapLibre with its class names set).
for f in dist/mapbox-gl-draw.js dist/mapbox-gl-draw.css LICENSE package.json; do
    cp "$nm/@mapbox/mapbox-gl-draw/$f" "$out/mapbox-gl-draw/$(basename "$f")"
done

# Patches (recorded in the manifest; the script fails if one no longer applies exactly once):
# ReDoc's sidebar footer always shows a logo loaded from cdn.redoc.ly; without a source the
# image reports an error without a request, and ReDoc then leaves it out.
# A manifest for reviewers and tests: versions from the lockfile, sizes and digests (of the
# files as npm ships them and as served).
node - "$web/package-lock.json" "$out" "$nm" <<'JS'
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [lockPath, out, nm] = process.argv.slice(2);
const lock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
const sha256 = (data) => crypto.createHash("sha256").update(data).digest("hex");
const patches = [
  { package: "redoc", dir: "redoc", file: "redoc.standalone.js",
    source: "bundles/redoc.standalone.js",
    find: '"https://cdn.redoc.ly/redoc/logo-mini.svg"', replace: '""',
    why: "the sidebar logo would be loaded from cdn.redoc.ly; the page must stay offline" },
];
for (const p of patches) {
  const file = path.join(out, p.dir, p.file);
  const text = fs.readFileSync(file, "utf8");
  const n = text.split(p.find).length - 1;
  if (n !== 1) {
    console.error(`vendor-web: patch for ${p.file} matches ${n} times, expected 1: ${p.find}`);
    process.exit(1);
  }
  fs.writeFileSync(file, text.replace(p.find, p.replace));
  p.upstream_sha256 = sha256(fs.readFileSync(path.join(nm, p.package, p.source)));
}
const packages = {};
for (const [dir, name] of [["swagger-ui", "swagger-ui-dist"], ["redoc", "redoc"],
                           ["maplibre-gl", "maplibre-gl"],
                           ["mapbox-gl-draw", "@mapbox/mapbox-gl-draw"]]) {
  const entry = lock.packages["node_modules/" + name];
  const files = {};
  for (const f of fs.readdirSync(path.join(out, dir)).sort()) {
    const data = fs.readFileSync(path.join(out, dir, f));
    files[f] = { bytes: data.length, sha256: sha256(data) };
  }
  packages[name] = { version: entry.version, license: entry.license, integrity: entry.integrity,
                     dir, files };
}
const manifest = { generated_by: "scripts/vendor-web.sh", lockfile: "web/package-lock.json",
                   packages, patches };
fs.writeFileSync(path.join(out, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
for (const [name, p] of Object.entries(packages)) console.log(`vendored ${name}@${p.version} -> api/static/vendor/${p.dir}/`);
JS
