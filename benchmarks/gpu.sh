#!/usr/bin/env bash
# The README's GPU figures, on a machine with an NVIDIA GPU, in one go:
#   1. per run at K = 1, 10, 1000, 10000 seeds in one stack with device cuda (and the lesson's loop and
#      K = 10 on this machine's CPU, for the ratio), plus one search round, cuda;
#   2. the whole default pipeline from clean with `device: cuda`, then a no-op rerun, then from clean
#      with `device: cpu` on the same machine: wall time and peak memory of each.
# usage: benchmarks/gpu.sh OUTDIR [CORES]      (PYTHON=... picks the interpreter, default python3;
#        PARTS="cuda cpu" picks the parts: per_run, cuda (pipeline), cpu (pipeline); default all three)
# It runs in a scratch copy of this checkout's files (results/ and the store left behind), so nothing of
# yours is touched. Without Pango (WeasyPrint) the PDF render is left out and the log says so.
set -uo pipefail
out=$(realpath -m "${1:?usage: benchmarks/gpu.sh OUTDIR [CORES]}"); cores=${2:-$(nproc)}
py=${PYTHON:-python3}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
work=$scratch/repo
mkdir -p "$work"
(cd "$root" && tar --exclude=./results --exclude=./.snakemake --exclude=./.lessonbench-store --exclude=./.venv \
  --exclude=./.whl --exclude=./.git -cf - .) | tar -xf - -C "$work"
cd "$work" || exit 1
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$out/gpu.txt"

parts=" ${PARTS:-per_run cuda cpu} "
if [[ $parts == *" per_run "* ]]; then
echo "== per run, device cuda (K = 1, 10, 1000, 10000) and one search round"
"$py" benchmarks/stacked_vs_lesson.py --device cuda --stacks 1 10 1000 10000 --lesson-repeats 1 \
  --skip-pipeline --json "$out/per_run_cuda.json" 2>&1 | tee "$out/per_run.log"
echo "== per run, this machine's CPU, K = 10 (one torch thread)"
"$py" benchmarks/stacked_vs_lesson.py --device cpu --stacks 10 --skip-lesson --skip-search --skip-pipeline \
  --json "$out/per_run_cpu.json" 2>&1 | tee -a "$out/per_run.log"
fi

omit=()
if ! "$py" -c "import weasyprint" 2>/dev/null; then
  echo "== WeasyPrint cannot load (no Pango here): the pipeline runs without render_report"
  omit=(--omit-from render_report)
fi
probe='import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT); print(f"exit {r.returncode}, {time.perf_counter() - t:.1f} s wall, peak job {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")'
pipeline() {  # $1 label, then snakemake's arguments: its wall time and the largest job's peak memory
  local label=$1; shift
  echo "$label: $("$py" -c "$probe" "$out/$label.log" "$py" -m snakemake --cores "$cores" "${omit[@]}" "$@")" \
    | tee -a "$out/pipeline.txt"
}
echo "== pipeline, --cores $cores"
if [[ $parts == *" cuda "* ]]; then
  pipeline cuda_clean --config device=cuda
  cp results/tables/timings.csv "$out/timings_cuda.csv"; cp results/tables/search_timings.csv "$out/search_timings_cuda.csv"
  pipeline cuda_noop --config device=cuda
fi
if [[ $parts == *" cpu "* ]]; then
  rm -rf results .snakemake .lessonbench-store
  pipeline cpu_clean --config device=cpu
  cp results/tables/timings.csv "$out/timings_cpu.csv"; cp results/tables/search_timings.csv "$out/search_timings_cpu.csv"
fi
