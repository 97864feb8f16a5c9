#!/usr/bin/env bash
# One prepared run for a lent GPU machine (issue 25), done in at most 9 minutes:
#   1. the GPU's name and memory;
#   2. coordinate synthesis at 4096^2: the torch twin on CUDA against numpy (exactness and time);
#   3. the three translator folds (every third set held out) and the all-sets model, trained side by
#      side for MINUTES of wall clock, a checkpoint and a model file every minute;
#   4. each fold measured on the sets it never saw (trainer eval-translator), both axes of relief for
#      translator, classical fitted and flat, and the ship rule of docs/photo.md applied.
# OUT gets 7 files: window.log, cv.md, cv.json, fold0..2.safetensors, all.safetensors.
#
#   python -m scripts.pack_gpu_data out/gpu_data        # here, once: the CC0 sets halved (~10 MiB)
#   scripts/gpu_window.sh OUT [DATA]                    # there (DATA: out/gpu_data)
#   scripts/gpu_window.sh --toy OUT [DATA]              # the same steps on the CPU at toy scale (< 2 min)
# Environment: PYTHON (python3), MINUTES (training budget, GPU: 5), DEADLINE_S (all steps, GPU: 540),
# TRAIN_EXTRA (more train flags, e.g. --lr 5e-4).
set -uo pipefail  # no -e: a step that fails is logged and the window goes on to write what it can
TOY=0
if [[ ${1:-} == --toy ]]; then TOY=1; shift; fi
OUT=${1:?usage: scripts/gpu_window.sh [--toy] OUT [DATA]}
DATA=${2:-}
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-python3}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_window.XXXXXX")
[[ -n ${KEEP_WORK:-} ]] || trap 'rm -rf "$WORK"' EXIT  # the runs' checkpoints stay behind with KEEP_WORK=1
LOG=$OUT/window.log
: > "$LOG"
say() { echo "[$(printf '%4d' "$SECONDS") s] $*" | tee -a "$LOG"; }

if (( TOY )); then
  # toy: a quiet 2-core CPU finishes in about a minute; the floors let a busy one finish too
  DEVICE=cpu; MINUTES=${MINUTES:-0.2}; DEADLINE_S=${DEADLINE_S:-110}; SIZE=256; NUMPY_S=30; GRACE=150; FLOOR=150
  FLAGS=(--batch 4 --crop 64 --channels 8,16,24 --max-side 128 --log-every 20)
  export OMP_NUM_THREADS=1  # four trainers side by side on a small CPU
  if [[ -z $DATA ]]; then DATA=$WORK/data; $PY -m scripts.pack_gpu_data "$DATA" --toy >> "$LOG" 2>&1; fi
else
  DEVICE=cuda; MINUTES=${MINUTES:-5}; DEADLINE_S=${DEADLINE_S:-540}; SIZE=4096; NUMPY_S=200; GRACE=45; FLOOR=30
  FLAGS=(--batch 16 --crop 256 --max-side 512 --log-every 100)
  DATA=${DATA:-out/gpu_data}
fi
read -ra EXTRA <<< "${TRAIN_EXTRA:-}"; FLAGS+=("${EXTRA[@]}")  # e.g. TRAIN_EXTRA='--lr 5e-4'
[[ -d $DATA ]] || { say "no data folder '$DATA': run python -m scripts.pack_gpu_data out/gpu_data first"; exit 1; }
say "window: toy=$TOY device=$DEVICE data=$DATA training $MINUTES min, all steps within $DEADLINE_S s; work in $WORK"

# 1. The device.
$PY - "$DEVICE" >> "$LOG" 2>&1 <<'EOF' || { say "no usable $DEVICE device"; exit 1; }
import sys, torch
if sys.argv[1] == "cuda":
    assert torch.cuda.is_available(), "torch sees no CUDA device"
    p = torch.cuda.get_device_properties(0)
    print(f"GPU: {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs; torch {torch.__version__}")
else:
    print(f"CPU only (toy scale); torch {torch.__version__}")
EOF
tail -n 1 "$LOG"

# 2. Synthesis: the torch field first (the device to itself; on the CPU no need to wait), numpy
#    alongside the training.
$PY -m scripts.gpu_synthesis --size $SIZE --device $DEVICE --numpy-timeout $NUMPY_S > "$WORK/synthesis.jsonl" 2>> "$LOG" &
SYNTH=$!
(( TOY )) || for _ in $(seq 90); do grep -q torch_s "$WORK/synthesis.jsonl" 2>/dev/null && break; kill -0 $SYNTH 2>/dev/null || break; sleep 1; done
(( TOY )) || say "synthesis, torch: $(head -n 1 "$WORK/synthesis.jsonl" 2>/dev/null)"

# 3. Training: three folds and the all-sets model side by side.
mapfile -t SETS < <($PY -c "import sys; from trainer.pbr_sets import find_pbr_sets; print('\n'.join(sorted(find_pbr_sets(sys.argv[1]))))" "$DATA")
fold() { local k=$1 i out=(); for i in "${!SETS[@]}"; do (( i % 3 == k )) && out+=("${SETS[$i]}"); done; (IFS=,; echo "${out[*]}"); }
say "${#SETS[@]} sets; held out: fold0 $(fold 0); fold1 $(fold 1); fold2 $(fold 2)"
HARD=$(awk -v m="$MINUTES" -v g="$GRACE" 'BEGIN { printf "%d", m * 60 + g }')  # start-up and the last save, then killed
train() {  # run-name seed [--holdout sets]
  timeout -s INT -k 15 "$HARD" $PY -m trainer train --kind translator --data "$DATA" --out "$WORK/$1" \
      --steps 1000000 --max-minutes "$MINUTES" --ckpt-minutes 1 --ckpt-every 1000000 --seed "$2" \
      --device $DEVICE "${FLAGS[@]}" "${@:3}" > "$WORK/$1.log" 2>&1
}
pids=()
for k in 0 1 2; do train fold$k $k --holdout "$(fold $k)" & pids+=($!); done
train all 3 & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
for r in fold0 fold1 fold2 all; do say "$r: $(grep '"step"' "$WORK/$r.log" | tail -n 1) $(tail -n 1 "$WORK/$r.log")"; done

# 4. Each fold on the sets it never saw, in the time that is left.
LEFT=$(( DEADLINE_S - SECONDS - 15 )); (( LEFT < FLOOR )) && LEFT=$FLOOR
say "measuring the folds (at most $LEFT s)"
pids=()  # one process per held-out set: a set that runs out of time costs only itself
for k in 0 1 2; do
  IFS=, read -ra HELD <<< "$(fold $k)"
  for name in "${HELD[@]}"; do
    timeout -k 5 "$LEFT" $PY -m trainer eval-translator "$WORK/fold$k/model.safetensors" --data "$DATA" \
        --sets "$name" --device $DEVICE --json "$WORK/fold$k.$name.json" > "$WORK/fold$k.$name.eval.txt" 2>&1 & pids+=($!)
  done
done
for p in "${pids[@]}"; do wait "$p"; done
say "measured $(ls "$WORK"/fold?.*.json 2>/dev/null | wc -l) of ${#SETS[@]} held-out sets"
wait $SYNTH  # numpy stops itself after its timeout
say "synthesis, both: $(tail -n 1 "$WORK/synthesis.jsonl" 2>/dev/null)"

$PY -m scripts.gpu_window_table "$WORK" "$OUT" >> "$LOG" 2>&1
STATUS=$?
say "done in $SECONDS s (status $STATUS); OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exit $STATUS
