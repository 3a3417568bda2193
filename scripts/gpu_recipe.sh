#!/usr/bin/env bash
# The whole training recipe on a lent GPU machine, in one call (README: "Training on a lent GPU").
#
#   bash scripts/gpu_recipe.sh prepare        here, once: the face pack, the platformdirs wheel, and the size of
#                                             what travels (must stay under 64 MiB)
#   bash scripts/gpu_recipe.sh run [MINUTES]  there, in the repository root, carrying runs/pack, .cache/face-api and
#                                             .whl: a 2-step smoke run of every stage, then the recipe for MINUTES
#                                             (default 6.5); the float16 weights, the log and the console output
#                                             go to $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=runs/pack/faces128.npz
CARRY=(runs/pack .cache/face-api/face_api_identity.pt .whl)

prepare() {
    local python=.venv/bin/python
    [ -f "$PACK" ] || "$python" -m app.cli pack-faces "$PACK"
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
    tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
    tree=$((tree + $(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb | tail -1 | cut -f1)))
    carried=$(du -cb "${CARRY[@]}" | tail -1 | cut -f1)
    total=$((tree + carried))
    echo "working tree $((tree / 1048576)) MiB + carried $((carried / 1048576)) MiB = $((total / 1048576)) MiB (limit 64)"
    echo "carry: ${CARRY[*]}"
    [ "$total" -lt $((64 * 1048576)) ] || { echo "too large to travel" >&2; exit 1; }
}

run() {
    local minutes=${1:-6.5}
    : "${OUT:?OUT must name the folder the results go to}"
    if ! python3 -c "import platformdirs" 2>/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONUNBUFFERED=1 IQPFR_OFFLINE=1
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/console.log"
    local train=(python3 -m app.cli train-recipe --pack "$PACK" --device cuda --no-progress)
    rm -rf runs/recipe-smoke
    "${train[@]}" --out runs/recipe-smoke --steps 2 --batch-size 8 --num-workers 2 --quick-faces 2 2>&1 |
        tee -a "$OUT/console.log"
    local resume=()
    [ -f runs/recipe/recipe_log.json ] && resume=(--resume)
    "${train[@]}" --out runs/recipe --minutes "$minutes" "${resume[@]}" 2>&1 | tee -a "$OUT/console.log"
    cp runs/recipe/iqpfr_recipe_fp16.pt runs/recipe/codebook_fp16.pt runs/recipe/recipe_log.json "$OUT/"
    ls -la "$OUT"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run "${@:2}" ;;
    *) echo "usage: bash scripts/gpu_recipe.sh prepare | run [MINUTES]" >&2; exit 2 ;;
esac
