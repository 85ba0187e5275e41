#!/usr/bin/env bash
# Set up lessonbench on a fresh machine: system libraries for WeasyPrint, then a
# Python 3.11 virtual environment in .venv with the pinned dependencies.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# WeasyPrint renders text with Pango; the report uses DejaVu fonts. PostgreSQL: the tests start a
# throwaway server to check that several search workers can share one study (the workflow itself
# needs no database unless config/config.yaml names one). Chromium and its driver: a test opens
# report.html in a real (headless) browser.
debs=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core postgresql chromium chromium-driver)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: apt-get update, then the packages (about 2 minutes the first time)"
  $sudo_cmd apt-get update -qq
  # a failure of apt-get fails set-up (pipefail); grep only thins its output to one line a package
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}" \
    | { grep --line-buffered -E "^Setting up " || true; }
fi

PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
# torch is pinned (==2.13.0, CPU wheel); an open range would pull a multi-GB CUDA build.
# pip's own progress, one line per package (about 2 minutes on a fresh machine).
echo "setup: installing the Python packages into .venv"
.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e ".[test]" \
  | { grep --line-buffered -E "^(Collecting|Installing|Successfully)" || true; }
echo "setup: ready ($(.venv/bin/python -c 'import torch, snakemake; print("torch", torch.__version__, "snakemake", snakemake.__version__)'))"
