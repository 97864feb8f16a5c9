#!/usr/bin/env bash
# Train and export the default model library from ../shared/data/cc0, two runs at a time with one
# thread each (faster than one run with two threads on a 2-core machine).
# Usage: scripts/train_library.sh [NAME=SET=SOURCE[=DOWNSAMPLE[=PATCH_SPACE]] ...]
#   e.g. rock_grey=Rock058=ambientCG   or   bark=Bark014=ambientCG=0=bands   (downsample 0: automatic)
# With no arguments it trains the bundled library (blender_texgan/models/, proc_bricks aside).
# EXPORT_ONLY=1 skips training and re-exports the existing runs (e.g. after a manifest change).
# The bundled cards start with what the material is (e.g. "Grooved tree bark with moss."): the README's
# model table (scripts/model_table.py) shows that first sentence.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/cc0}
SETS=("$@")
if [ ${#SETS[@]} -eq 0 ]; then
  SETS=(stone_wall=Bricks102=ambientCG cobblestones=cobblestone_pavement=PolyHaven
        tiles=long_white_tiles=PolyHaven wood_veneer=rosewood_veneer1=PolyHaven
        bark=Bark014=ambientCG=0=bands rock_cliff=cliff_side=PolyHaven sand_rocks=coast_sand_rocks_02=PolyHaven
        grass=Grass004=ambientCG rusty_metal=rusty_metal_05=PolyHaven concrete_wall=concrete_wall_001=PolyHaven=0=bands)
fi
train_one() {
  IFS== read -r name set_name source downsample patch_space <<< "$1"
  [ -n "${EXPORT_ONLY:-}" ] || OMP_NUM_THREADS=1 .venv/bin/python -m trainer train --config configs/library.toml \
    --data "$DATA/$set_name" --downsample "${downsample:-0}" ${patch_space:+--patch-space "$patch_space"} \
    --out "runs/$name" > "runs/$name.log" 2>&1
  case "$source" in
    ambientCG) url="https://ambientcg.com/view?id=$set_name"; by="ambientCG" ;;
    PolyHaven) url="https://polyhaven.com/a/$set_name"; by="Poly Haven" ;;
    *) url=""; by="$source" ;;
  esac
  .venv/bin/python -m trainer export "runs/$name" --out "runs/$name.safetensors" --name "$name" \
    --force --description "Tileable PBR material from the CC0 texture $set_name by $by; the exemplar it carries gives the detail." \
    --credit "$set_name by $by${url:+, $url}, CC0 1.0" >> "runs/$name.log" 2>&1
  echo "finished $name"
}
export -f train_one
export DATA EXPORT_ONLY
mkdir -p runs
printf '%s\n' "${SETS[@]}" | xargs -P 2 -I{} bash -c 'train_one {}'
