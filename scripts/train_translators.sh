#!/usr/bin/env bash
# Cross-validated translator training on the CC0 sets, as run on a GPU machine:
# three folds (every third set held out) and one model on all sets, trained side by side, then
# each fold's model measured on the sets it never saw. A checkpoint and a model file every minute.
# For a lent machine's 15 minutes, scripts/gpu_window.sh does this and more within 9 minutes.
#   scripts/train_translators.sh DATA OUT [MINUTES] [extra train flags...]
set -euo pipefail
DATA=$1; OUT=$2; MINUTES=${3:-5}; shift 3 || true
PY=${PYTHON:-python3}
mkdir -p "$OUT"
mapfile -t SETS < <($PY -c "from trainer.pbr_sets import find_pbr_sets; print('\n'.join(sorted(find_pbr_sets('$DATA'))))" 2>/dev/null)
fold() { local k=$1 i out=(); for i in "${!SETS[@]}"; do (( i % 3 == k )) && out+=("${SETS[$i]}"); done; (IFS=,; echo "${out[*]}"); }
pids=()
for k in 0 1 2; do
  $PY -m trainer train --kind translator --data "$DATA" --out "$OUT/fold$k" --holdout "$(fold $k)" \
      --steps 1000000 --max-minutes "$MINUTES" --ckpt-minutes 1 --seed $k "$@" > "$OUT/fold$k.log" 2>&1 &
  pids+=($!)
done
$PY -m trainer train --kind translator --data "$DATA" --out "$OUT/all" \
    --steps 1000000 --max-minutes "$MINUTES" --ckpt-minutes 1 --seed 3 "$@" > "$OUT/all.log" 2>&1 &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
for k in 0 1 2; do
  $PY -m trainer eval-translator "$OUT/fold$k/model.safetensors" --data "$DATA" --sets "$(fold $k)" \
      --json "$OUT/fold$k.json" > "$OUT/fold$k.eval.txt" 2>&1 &
done
wait
