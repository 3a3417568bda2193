#!/usr/bin/env bash
# The whole training recipe on a lent GPU machine, in one call (README: "Training on a lent GPU").
#
#   bash scripts/gpu_recipe.sh prepare [START]   here, once, in the checkout the device tool sends: the face pack,
#                                                the float16 start weights (START, default part D:
#                                                git show fc62bb5:models/iqpfr_default.pt), the converted face
#                                                network, the platformdirs wheel, and the size of what travels
#                                                (must stay under 64 MiB)
#   bash scripts/gpu_recipe.sh run [MINUTES]     there, in the repository root, with python3's PyTorch (no .venv
#                                                travels: the machine's image has the packages training imports but
#                                                platformdirs, carried as a wheel), carrying runs/pack,
#                                                .cache/face-api/face_api_identity.pt and .whl: a 2-step smoke run of
#                                                every stage, then the recipe for MINUTES (default 6); the float16
#                                                weights, the log and the console output go to $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=runs/pack/faces128.npz
START=runs/pack/start_fp16.pt  # configs/recipe_gpu.toml's first stage starts from it
PART_D=fc62bb5:models/iqpfr_default.pt
CARRY=(runs/pack .cache/face-api/face_api_identity.pt .whl)

prepare() {
    local python=.venv/bin/python
    [ -f "$PACK" ] || "$python" -m app.cli pack-faces "$PACK"
    if [ ! -f "$START" ]; then
        start_source=${1:-}
        if [ -z "$start_source" ]; then
            start_source=$(mktemp --suffix=.pt)
            trap 'rm -f "$start_source"' EXIT
            git show "$PART_D" >"$start_source"
        fi
        "$python" -c 'import sys; from pathlib import Path; from app.training.recipe import float16_copy
float16_copy(Path(sys.argv[1]), Path(sys.argv[2]), {"float16_of": sys.argv[3]})' "$start_source" "$START" "${1:-$PART_D}"
    fi
    # the face network: converted from face-api's npm package (setup.sh does it); nothing can be fetched there
    [ -f .cache/face-api/face_api_identity.pt ] || "$python" scripts/convert_face_api.py
    if ! ls .whl/platformdirs-*.whl >/dev/null 2>&1; then  # the machine's image has no platformdirs
        local version
        version=$("$python" -c "import platformdirs; print(platformdirs.__version__)")
        "$python" -m pip download --quiet --no-deps --only-binary=:all: -d .whl "platformdirs==$version"
    fi
    for path in "${CARRY[@]}"; do  # carried, never committed (the pack is non-commercial data)
        git check-ignore -q "$path" || { echo "$path must be ignored by git" >&2; exit 1; }
    done
    local tree carried total
    tree=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
    tree=$((tree + $(git ls-files -z --others --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)))
    carried=$(du -cb "${CARRY[@]}" | tail -1 | cut -f1)
    total=$((tree + carried))
    echo "working tree $((tree / 1048576)) MiB + carried $((carried / 1048576)) MiB = $((total / 1048576)) MiB (limit 64)"
    echo "carry: ${CARRY[*]}"
    [ "$total" -lt $((64 * 1048576)) ] || { echo "too large to travel" >&2; exit 1; }
}

run() {
    local minutes=${1:-6}
    : "${OUT:?OUT must name the folder the results go to}"
    local python=${PYTHON:-python3} device=${DEVICE:-cuda}  # PYTHON, DEVICE: to try the script elsewhere
    if ! "$python" -c "import platformdirs" 2>/dev/null; then
        "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONUNBUFFERED=1 IQPFR_OFFLINE=1
    { [ "$device" != cuda ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; } | tee "$OUT/console.log"
    local train=("$python" -m app.cli train-recipe --pack "$PACK" --device "$device" --no-progress)
    rm -rf runs/recipe-smoke
    "${train[@]}" --out runs/recipe-smoke --steps 2 --batch-size 8 --num-workers 2 --quick-faces 2 2>&1 |
        tee -a "$OUT/console.log"
    local resume=()
    [ -f runs/recipe/recipe_log.json ] && resume=(--resume)
    "${train[@]}" --out runs/recipe --minutes "$minutes" "${resume[@]}" 2>&1 | tee -a "$OUT/console.log"
    cp runs/recipe/*_fp16.pt runs/recipe/recipe_log.json "$OUT/"
    ls -la "$OUT"
}

case "${1:-}" in
    prepare) prepare "${@:2}" ;;
    run) run "${@:2}" ;;
    *) echo "usage: bash scripts/gpu_recipe.sh prepare [START_WEIGHTS] | run [MINUTES]" >&2; exit 2 ;;
esac
