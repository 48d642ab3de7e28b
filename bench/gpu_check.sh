#!/usr/bin/env bash
# The checks only a machine with an NVIDIA GPU can make, in one run, most important first:
#   1. the CUDA build (every architecture a wheel carries);
#   2. the CUDA tests (each kernel against the reference, streams, torch.compile) and the classic
#      backbones against torchvision, where torchvision imports;
#   3. compute-sanitizer (memcheck, racecheck, synccheck, initcheck) over every kernel;
#   4. the default dream on the GPU, written as an image to look at;
#   5. the GPU benchmarks (bench/test_bench_cuda.py);
#   6. the whole suite, where CUDA is the default device, in the time that is left.
# Each step has a time limit, capped by what is left of BUDGET seconds (default 540). Written to
# $OUT (default ./gpu-check): log.txt (every step), suite.txt, summary.txt, bench_cuda.json and
# dream_gpu.png. Wheels the machine lacks (the default backbone's weights) can lie in .whl/.
#
#   BUDGET=450 bash bench/gpu_check.sh
set -u
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 FASTDREAM_CUDA=ON
BUDGET=${BUDGET:-540}
START=$SECONDS
PY=${PYTHON:-python3}

left() { echo $((BUDGET - (SECONDS - START))); }

# step NAME LIMIT CMD...: CMD under min(LIMIT, what is left) seconds, its output appended to log.txt
step() {
  local name=$1 limit=$2 rc
  shift 2
  local l
  l=$(left)
  ((limit > l)) && limit=$l
  if ((limit < 10)); then
    echo "== $name: skipped, no time left" | tee -a "$OUT/summary.txt"
    return
  fi
  local t=$SECONDS log=$OUT/log.txt
  [[ $name == suite ]] && log=$OUT/suite.txt
  echo "==== $name: $*" >>"$log"
  timeout "$limit" "$@" >>"$log" 2>&1
  rc=$?
  echo "== $name: rc $rc in $((SECONDS - t)) s (limit $limit s)" | tee -a "$OUT/summary.txt"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/summary.txt"
$PY -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.version.cuda)" | tee -a "$OUT/summary.txt"
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile .whl/*.whl
fi

step build 240 $PY -m pip install -v --no-build-isolation --no-deps -e .
$PY -c "import fastdream as fd, json; print(json.dumps(fd.info(), default=str))" | tee -a "$OUT/summary.txt"

step cuda_tests 150 $PY -m pytest -q -p no:cacheprovider tests/ops tests/test_torchvision_parity.py \
  tests/test_inception_v3.py
step cuda_marked 90 $PY -m pytest -q -p no:cacheprovider -m cuda tests --ignore=tests/ui

sanitize() { step "sanitize_$1" 120 compute-sanitizer --tool "$1" --error-exitcode 9 $PY bench/cuda_sanitize.py; }
sanitize memcheck
sanitize racecheck

step dream_cli 60 $PY -m fastdream dream -o "$OUT/dream_gpu.png"

step bench 200 $PY -m pytest -q -p no:cacheprovider bench/test_bench_cuda.py --benchmark-group-by=group \
  --benchmark-columns=min,median,max --benchmark-json="$OUT/bench_cuda.json"

sanitize synccheck
sanitize initcheck
# -n: pytest-xdist, where the machine has it (the GPU machines' image does); the browser tests
# need Gradio and Chromium, which that image lacks.
step suite 900 $PY -m pytest -q -p no:cacheprovider -rf --ignore=tests/ui -n 8 tests fastdream
echo "total $((SECONDS - START)) s" | tee -a "$OUT/summary.txt"
