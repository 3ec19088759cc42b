#!/usr/bin/env bash
# The peer engine for the benchmarks: OSRM from the osrm-bindings wheel (PyPI; its wheels are
# for Python 3.12 only) in var/osrm/venv, and CH data for the bench cities made with the
# wheel's own osrm-extract (car.lua) + osrm-contract: var/osrm/{nky,porto}.osrm.
# bench/road.py (in-process route), bench/matrix.py (table) and bench/http.py (osrm-routed)
# use them when present. Usage (from the project's root): bench/setup_osrm.sh
set -eu
cd "$(dirname "$0")/.."
out=var/osrm
py=${OSRM_PYTHON:-$(command -v python3.12 || ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)}
[ -n "$py" ] && [ -x "$py" ] || { echo "needs a Python 3.12 (set OSRM_PYTHON)" >&2; exit 2; }
mkdir -p "$out"
[ -x "$out/venv/bin/python" ] || "$py" -m venv "$out/venv"
"$out/venv/bin/python" -m pip install --quiet osrm-bindings
bin=$(ls -d "$out"/venv/lib/python3*/site-packages/osrm/bin | tail -1)
profile=$(ls "$out"/venv/lib/python3*/site-packages/osrm/share/profiles/car.lua | tail -1)
for city in nky:data/northern-kentucky/nky_streets.osm.pbf \
            porto:../shared/data/roads/porto_portugal.osm.pbf; do
  name=${city%%:*}; pbf=${city#*:}
  [ -f "$pbf" ] || { echo "skip $name: no $pbf"; continue; }
  if [ -f "$out/$name.osrm.hsgr" ]; then echo "$name: ready"; continue; fi
  ln -sf "$(realpath "$pbf")" "$out/$name.osm.pbf"
  echo "$name: osrm-extract (car.lua) + osrm-contract…"
  "$bin/osrm-extract" -p "$profile" "$out/$name.osm.pbf" > "$out/$name.extract.log" 2>&1
  "$bin/osrm-contract" "$out/$name.osrm" > "$out/$name.contract.log" 2>&1
  echo "$name: ready"
done
