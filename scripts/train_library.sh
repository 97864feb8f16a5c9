#!/usr/bin/env bash
# Train and export the default model library from ../shared/data/cc0, two runs at a time with one
# thread each (faster than one run with two threads on a 2-core machine).
# Usage: scripts/train_library.sh [NAME=SET=SOURCE=DOWNSAMPLE[=PATCH_SPACE] ...]
#   e.g. rock_grey=Rock058=ambientCG=2   or   bark=Bark014=ambientCG=2=bands
# With no arguments it trains the bundled library (blender_texgan/models/, proc_bricks aside).
# EXPORT_ONLY=1 skips training and re-exports the existing runs (e.g. after a manifest change).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/cc0}
SETS=("$@")
if [ ${#SETS[@]} -eq 0 ]; then
  SETS=(stone_wall=Bricks102=ambientCG=1 sand_rocks=coast_sand_rocks_02=PolyHaven=2
        rock_cliff=cliff_side=PolyHaven=4 rusty_metal=rusty_metal_05=PolyHaven=2
        bark=Bark014=ambientCG=2=bands grass=Grass004=ambientCG=2
        concrete_wall=concrete_wall_001=PolyHaven=2=bands)
fi
train_one() {
  IFS== read -r name set_name source downsample patch_space <<< "$1"
  [ -n "${EXPORT_ONLY:-}" ] || OMP_NUM_THREADS=1 .venv/bin/python -m trainer train --config configs/library.toml \
    --data "$DATA/$set_name" --downsample "${downsample:-1}" ${patch_space:+--patch-space "$patch_space"} \
    --out "runs/$name" > "runs/$name.log" 2>&1
  case "$source" in
    ambientCG) url="https://ambientcg.com/view?id=$set_name"; by="ambientCG" ;;
    PolyHaven) url="https://polyhaven.com/a/$set_name"; by="Poly Haven" ;;
    *) url=""; by="$source" ;;
  esac
  .venv/bin/python -m trainer export "runs/$name" --out "runs/$name.safetensors" --name "$name" \
    --description "Tileable PBR generator trained on the CC0 texture $set_name by $by (one exemplar)." \
    --credit "$set_name by $by${url:+, $url}, CC0 1.0" >> "runs/$name.log" 2>&1
  echo "finished $name"
}
export -f train_one
export DATA EXPORT_ONLY
mkdir -p runs
printf '%s\n' "${SETS[@]}" | xargs -P 2 -I{} bash -c 'train_one {}'
