#!/usr/bin/env bash
# Idempotent set-up on Debian 12: QGIS 3.22 from Debian, one .venv that sees it,
# the pinned pip packages (numpy held below 2 for every pip call), roadseg itself.
# Re-running does nothing when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
PY=/usr/bin/python3
VENV=.venv
CONSTRAINTS=requirements/constraints.txt

if ! "$PY" -c "import qgis.core, venv" >/dev/null 2>&1; then
  echo "setup: installing QGIS 3.22 and python3-qgis from Debian (about 1 minute)..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qgis python3-qgis python3-venv >/dev/null
fi

stamp_value=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV (with Debian's site-packages, for qgis and PyQt5)..."
  "$PY" -m venv --system-site-packages "$VENV"
fi
if [ "$(cat "$VENV/.roadseg-stamp" 2>/dev/null)" != "$stamp_value" ]; then
  echo "setup: installing pinned Python packages into $VENV..."
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      -c "$CONSTRAINTS" -r requirements/dev.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
      -c "$CONSTRAINTS" -e . 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import roadseg, torch, segmentation_models_pytorch, rasterio, qgis.core" \
    || { echo "setup: the environment does not import; see the messages above" >&2; exit 1; }
  echo "$stamp_value" > "$VENV/.roadseg-stamp"
fi
