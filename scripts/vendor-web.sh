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
mkdir -p "$out/swagger-ui" "$out/redoc"

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

# A manifest for reviewers and tests: versions from the lockfile, sizes and digests.
node - "$web/package-lock.json" "$out" <<'JS'
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [lockPath, out] = process.argv.slice(2);
const lock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
const packages = {};
for (const [dir, name] of [["swagger-ui", "swagger-ui-dist"], ["redoc", "redoc"]]) {
  const entry = lock.packages["node_modules/" + name];
  const files = {};
  for (const f of fs.readdirSync(path.join(out, dir)).sort()) {
    const data = fs.readFileSync(path.join(out, dir, f));
    files[f] = { bytes: data.length,
                 sha256: crypto.createHash("sha256").update(data).digest("hex") };
  }
  packages[name] = { version: entry.version, license: entry.license, integrity: entry.integrity,
                     dir, files };
}
const manifest = { generated_by: "scripts/vendor-web.sh", lockfile: "web/package-lock.json",
                   packages };
fs.writeFileSync(path.join(out, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
for (const [name, p] of Object.entries(packages)) console.log(`vendored ${name}@${p.version} -> api/static/vendor/${p.dir}/`);
JS
