#!/usr/bin/env bash
# Train several resnet-animals recipes side by side on one GPU (the device machine), then probe each
# with bench/judge_probe.py. Reads the subset zip made by bench/cifar_subset.py (carried as .data/),
# writes one tarball per recipe + logs to $OUT. Each recipe (a line of bench/judge_recipes.txt, named
# in $NAMES) gets at most $DEADLINE seconds.
#   OUT=/tmp/out DEADLINE=400 NAMES="a40 c80c12" bash bench/judge_gpu_sweep.sh
set -u
DATA=${DATA:-.data/cifar10-judge.zip}
DEADLINE=${DEADLINE:-400}
OUT=${OUT:?set OUT}
NAMES=${NAMES:?name recipes of bench/judge_recipes.txt}
RUNS=${RUNS:-/tmp/ra-runs}
PY=${PY:-python3}
mkdir -p "$RUNS"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=3
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, torchvision.__version__, torch.cuda.is_available())"

COMMON="--data $DATA --arch fast-resnet --flip-tta --schedule onecycle --label-smoothing 0.2 --ema 0.99 --device cuda"
declare -A RECIPES=()
for name in $NAMES; do
  RECIPES[$name]=$(awk -v n="$name" '$1 == n {$1 = ""; print}' bench/judge_recipes.txt)
  [ -n "${RECIPES[$name]}" ] || { echo "no recipe $name in bench/judge_recipes.txt"; exit 2; }
done
for name in "${!RECIPES[@]}"; do
  timeout "$DEADLINE" "$PY" -m catgan.judge train $COMMON ${RECIPES[$name]} \
    --run "$RUNS/$name" --out "$RUNS/$name/export" > "$RUNS/$name.log" 2>&1 &
done
wait
for name in "${!RECIPES[@]}"; do
  tr '\r' '\n' < "$RUNS/$name.log" | tail -3
  tail -1 "$RUNS/$name/metrics.jsonl" 2>/dev/null
done > "$OUT/train_tail.txt"
exports=$(ls -d "$RUNS"/*/export 2>/dev/null)
[ -n "$exports" ] && "$PY" bench/judge_probe.py $exports > "$OUT/probe.txt" 2>&1
for name in "${!RECIPES[@]}"; do
  tar -czf "$OUT/$name.tgz" -C "$RUNS" --exclude checkpoint.pt "$name" "$name.log" 2>/dev/null
done
cat "$OUT/train_tail.txt" "$OUT/probe.txt"
for name in "${!RECIPES[@]}"; do
  "$PY" -c "import json,sys; s=json.load(open(sys.argv[1]))['test']; print(sys.argv[1], round(100*s['accuracy'],2), {k: round(100*v,1) for k,v in s['per_class'].items()})" "$RUNS/$name/summary.json" 2>/dev/null
done
