#!/usr/bin/env bash
# Set up lessonbench on a fresh machine: system libraries for WeasyPrint, then a
# Python 3.11 virtual environment in .venv with the pinned dependencies.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# WeasyPrint renders text with Pango; the report uses DejaVu fonts. PostgreSQL: the tests start a
# throwaway server to check that several search workers can share one study (the workflow itself
# needs no database unless config/config.yaml names one).
debs=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core postgresql)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
# torch is pinned (==2.13.0, CPU wheel); an open range would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
echo "setup: ready ($(.venv/bin/python -c 'import torch, snakemake; print("torch", torch.__version__, "snakemake", snakemake.__version__)'))"
