#!/usr/bin/env bash
# Set up lessonbench on a fresh machine: system libraries, then a Python 3.11 virtual environment in .venv with
# the pinned dependencies. Safe to run again: it only installs what is missing.
#
#   ./setup.sh            what the workflow needs on this machine (WeasyPrint's Pango and fonts, the package)
#   ./setup.sh --cluster  and Snakemake's SLURM and cluster-generic executor plugins, PostgreSQL's driver
#   ./setup.sh --tests    and what only the tests need: PostgreSQL (a throwaway server for the shared-search
#                         test), Chromium and its driver (the report opened in a real browser), pytest,
#                         poppler-utils (pdftoppm: the report's pages as PNG, to look at them)
set -euo pipefail
cd "$(dirname "$0")"

extra=""
debs=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
case "${1:-}" in
  "") ;;
  --cluster) extra="[cluster]" ;;
  --tests) extra="[test]"; debs+=(postgresql chromium chromium-driver poppler-utils) ;;
  *) echo "setup: unknown option ${1}; expected nothing, --cluster or --tests" >&2; exit 2 ;;
esac

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
.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e ".${extra}" \
  | { grep --line-buffered -E "^(Collecting|Installing|Successfully)" || true; }
echo "setup: ready ($(.venv/bin/python -c 'import torch, snakemake; print("torch", torch.__version__, "snakemake", snakemake.__version__)'))"
