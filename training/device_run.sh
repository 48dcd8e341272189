#!/usr/bin/env bash
# Train the segmenter on a CUDA GPU machine in one command (training/README.md, "Training on a GPU machine").
#
#   bash training/device_run.sh --prepare        # beforehand, on a machine with the project's environment:
#                                                # wheels, font files and library versions into .whl/
#   bash training/device_run.sh MINUTES [extra training.train arguments]
#                                                # on the GPU machine, from the repository root, with .whl/
#
# The run: check python3 (torch with CUDA), install the wheels carried in .whl/, put the carried font
# files where the generator looks for them and check it finds the same ones, build the sample cache
# with one generator process per core, train on the GPU for MINUTES minutes of crop epochs (then one
# whole-canvas epoch), fit the calibration offsets, and leave last.pt, train_info.json,
# calibration.json, device_env.json, gpu_load.csv and device_run.log in $OUT (default ./device_out).
#
# Settings (environment): PYTHON (python3), OUT (./device_out), WHEELS (.whl), CACHE (the project's
# cache folder), SAMPLES (4000), VAL_SAMPLES (48), CAL_SAMPLES (300), SEED (1), GEN_WORKERS (one per
# core), LOADER_WORKERS (12), CALIBRATE (1), LIMIT_S (570: the whole script's wall-clock budget;
# training is shortened to fit it and calibration skipped when it no longer fits), TAIL_S (90: kept
# for the whole-canvas epoch), CAL_S (150: needed for calibration), ALLOW_FONT_MISMATCH (0).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
WHEELS=${WHEELS:-.whl}
# The packages the generator and training import that a machine with only torch, numpy, OpenCV,
# Pillow, PyYAML, ONNX and ONNX Runtime lacks (pydantic through edge.config, which training.train
# imports via training.evaluate; zxing-cpp draws the barcodes).
WHEEL_DISTS=(zxing-cpp pydantic pydantic_core annotated-types typing-inspection typing_extensions)
# The libraries whose versions shape the generator's output.
GENERATOR_DISTS=(numpy opencv-python-headless pillow zxing-cpp)

# --------------------------------------------------------------------------------------- prepare
if [[ "${1:-}" == "--prepare" ]]; then
    PY=${PYTHON:-}
    if [[ -z "$PY" ]]; then
        if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
    fi
    TARGET_PY=${DEVICE_PYTHON_VERSION:-3.12}
    mkdir -p "$WHEELS/fonts"
    specs=$("$PY" - "${WHEEL_DISTS[@]}" <<'EOF'
import sys
from importlib.metadata import version
print(" ".join(f"{d}=={version(d)}" for d in sys.argv[1:]))
EOF
)
    echo "wheels for Python $TARGET_PY: $specs"
    # shellcheck disable=SC2086
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version "$TARGET_PY" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" $specs
    "$PY" - "$WHEELS" "${GENERATOR_DISTS[@]}" <<'EOF'
import hashlib
import json
import os
import platform
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

from training.synth.fonts import FONT_DIRS, style_files

wheels, dists = Path(sys.argv[1]), sys.argv[2:]
fonts = wheels / "fonts"
roots = [Path(os.path.expanduser(d)) for d in FONT_DIRS]
expected: dict[str, list[list[str]]] = {}
copied: set[str] = set()
for style, paths in style_files().items():
    expected[style] = []
    for p in map(Path, paths):
        root = next(r for r in roots if p.is_relative_to(r))
        dest = fonts / p.relative_to(root)
        if str(dest) not in copied:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            copied.add(str(dest))
        expected[style].append([p.name, hashlib.sha256(p.read_bytes()).hexdigest()])
(fonts / "expected.json").write_text(json.dumps(expected, indent=1))
versions = {d: version(d) for d in dists} | {"python": platform.python_version()}
(wheels / "versions.json").write_text(json.dumps(versions, indent=1))
print(f"{len(copied)} font files into {fonts}; generator libraries here: {versions}")
if not copied:
    print("NOTE: no TrueType fonts found here; the generator draws text with its Hershey fallback")
EOF
    # Licence texts of the fonts carried (DejaVu: Bitstream Vera licence; Liberation: SIL OFL 1.1).
    for f in /usr/share/doc/fonts-dejavu-core/copyright /usr/share/doc/fonts-liberation*/copyright; do
        if [[ -f "$f" ]]; then
            mkdir -p "$WHEELS/fonts/LICENCES"
            cp "$f" "$WHEELS/fonts/LICENCES/$(basename "$(dirname "$f")").txt"
        fi
    done
    du -sh "$WHEELS"
    echo "prepared $WHEELS: carry it to the GPU machine with the working tree"
    exit 0
fi

# --------------------------------------------------------------------------------------- run
if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "usage: bash training/device_run.sh MINUTES [extra training.train arguments]" >&2
    echo "       bash training/device_run.sh --prepare" >&2
    exit 2
fi
MINUTES=$1
shift
PY=${PYTHON:-python3}
OUT=${OUT:-./device_out}
SAMPLES=${SAMPLES:-4000}
VAL_SAMPLES=${VAL_SAMPLES:-48}
CAL_SAMPLES=${CAL_SAMPLES:-300}
SEED=${SEED:-1}
CORES=$(nproc 2>/dev/null || echo 4)
GEN_WORKERS=${GEN_WORKERS:-$((CORES > 16 ? 16 : CORES))}
LOADER_WORKERS=${LOADER_WORKERS:-12}
CALIBRATE=${CALIBRATE:-1}
LIMIT_S=${LIMIT_S:-570}
TAIL_S=${TAIL_S:-90}
CAL_S=${CAL_S:-150}
mkdir -p "$OUT"
LOG="$OUT/device_run.log"
exec > >(tee -a "$LOG") 2>&1
stamp() { echo "[$(date -u +%H:%M:%S) +${SECONDS}s] $*"; }
loud() { echo; echo "!!!!!!!! $* !!!!!!!!"; echo; }

stamp "device_run: $MINUTES min of crop epochs; extra arguments: ${*:-none}"

# 1. torch with CUDA: refuse at once without it (this script is for a GPU; on CPU see README).
if ! "$PY" - <<'EOF'
import sys
try:
    import torch
except ImportError as e:
    sys.exit(f"REFUSED: {e}: this script needs torch with CUDA")
if not torch.cuda.is_available():
    sys.exit(
        f"REFUSED: torch {torch.__version__} sees no CUDA device: this script trains on a GPU only "
        "(on CPU, run python -m training.train as in training/README.md)"
    )
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
EOF
then
    exit 3
fi

# Batches travel from the loader processes through shared memory (about 3 MB each, 4 per process ahead).
shm_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
if [[ -z "$shm_mb" || "$shm_mb" -lt 1024 ]]; then
    loud "/dev/shm has ${shm_mb:-no} MB free: loader processes may fail; try LOADER_WORKERS=4"
fi

# 2. carried wheels
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if ((${#wheels[@]})); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    stamp "installed ${#wheels[@]} wheels from $WHEELS into /tmp/site"
else
    stamp "no wheels in $WHEELS"
fi

# 3. every module the generator and training import
if ! "$PY" - <<'EOF'
import importlib
import sys

missing = []
for name in ("numpy", "cv2", "PIL", "yaml", "onnx", "pydantic", "zxingcpp"):
    try:
        importlib.import_module(name)
    except ImportError as e:
        missing.append(f"{name} ({e})")
if missing:
    sys.exit(
        "REFUSED: missing " + ", ".join(missing)
        + ": run `bash training/device_run.sh --prepare` where the project's environment is, and carry .whl/"
    )
import training.calibrate  # noqa: F401
import training.synth  # noqa: F401
import training.train  # noqa: F401

print("imports ok")
EOF
then
    exit 4
fi

# 4. fonts: the generator draws label text with the TrueType fonts it finds (training/synth/fonts.py),
#    or with OpenCV's Hershey fonts when there are none; a bare machine would draw other text.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
if [[ -d "$WHEELS/fonts" ]]; then
    mkdir -p "$HOME/.local/share/fonts"
    cp -r "$WHEELS/fonts/." "$HOME/.local/share/fonts/"
fi
set +e
"$PY" - "$WHEELS/fonts/expected.json" <<'EOF'
import hashlib
import json
import sys
from pathlib import Path

from training.synth.fonts import style_files

found = {s: [[Path(p).name, hashlib.sha256(Path(p).read_bytes()).hexdigest()] for p in ps]
         for s, ps in style_files().items()}
n = len({f[0] for fs in found.values() for f in fs})
expected_path = Path(sys.argv[1])
if not expected_path.exists():
    print(f"fonts NOT CHECKED (no {expected_path}): the generator finds {n} font files here"
          + ("; none, so it draws all text with the Hershey fallback" if n == 0 else ""))
    sys.exit(5)
expected = json.loads(expected_path.read_text())
if found != expected:
    for style in sorted(set(found) | set(expected)):
        if found.get(style) != expected.get(style):
            print(f"  {style}: here {[f[0] for f in found.get(style, [])]}, "
                  f"expected {[f[0] for f in expected.get(style, [])]}")
    print("fonts DIFFER from the prepared set: generated text will not match the frames made elsewhere")
    sys.exit(5)
print(f"fonts ok: the generator finds the {n} prepared font files")
EOF
fonts_rc=$?
set -e
if ((fonts_rc != 0)); then
    if [[ "${ALLOW_FONT_MISMATCH:-0}" == 1 ]]; then
        loud "FONTS NOT CHECKED OR NOT AS PREPARED: continuing because ALLOW_FONT_MISMATCH=1"
    else
        loud "REFUSED: FONTS NOT CHECKED OR NOT AS PREPARED (carry .whl/ from --prepare, or set ALLOW_FONT_MISMATCH=1)"
        exit 5
    fi
fi

# 5. library versions against those of the prepared machine; the record goes back with the results
"$PY" - "$WHEELS/versions.json" "$OUT/device_env.json" "$fonts_rc" "${GENERATOR_DISTS[@]}" <<'EOF'
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

ref_path, out_path, fonts_rc, dists = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]


def v(d: str) -> str:
    try:
        return version(d)
    except PackageNotFoundError:
        return "absent"


here = {d: v(d) for d in dists} | {"python": platform.python_version()}
ref = json.loads(ref_path.read_text()) if ref_path.exists() else {}
differ = {d: [here.get(d), ref[d]] for d in ref if here.get(d) != ref[d] and d != "python"}
if differ:
    print("\n!!!!!!!! GENERATOR LIBRARIES DIFFER FROM THE PREPARED MACHINE (here, there): "
          f"{differ}; samples may differ in detail !!!!!!!!\n")
env = {
    "gpu": torch.cuda.get_device_name(0),
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "cpus": os.cpu_count(),
    "libraries": here,
    "prepared_libraries": ref,
    "libraries_differ": differ,
    "fonts_as_prepared": fonts_rc == 0,
}
out_path.write_text(json.dumps(env, indent=1))
print("environment", json.dumps(env))
EOF

# 6. sample cache: training, validation and calibration seeds, one generator process per core
cache_args=(--workers "$GEN_WORKERS")
if [[ -n "${CACHE:-}" ]]; then cache_args+=(--cache "$CACHE"); fi
stamp "building the sample cache with $GEN_WORKERS generator processes"
"$PY" -m training.dataset "${cache_args[@]}" --samples "$SAMPLES" --seed-base 0
"$PY" -m training.dataset "${cache_args[@]}" --samples "$VAL_SAMPLES" --seed-base 10000000
if [[ "$CALIBRATE" == 1 ]]; then
    "$PY" -m training.dataset "${cache_args[@]}" --samples "$CAL_SAMPLES" --seed-base 20000000
fi
stamp "cache ready"

# 7. train: crop epochs for MINUTES (less if the budget no longer allows it), then a whole-canvas epoch
left=$((LIMIT_S - SECONDS - TAIL_S))
if [[ "$CALIBRATE" == 1 ]]; then left=$((left - CAL_S)); fi
read -r train_min shortened < <("$PY" -c "m = round(max(0.5, min($MINUTES, $left / 60)), 2); print(m, int(m < $MINUTES))")
if [[ "$shortened" == 1 ]]; then
    loud "training shortened to $train_min min to fit LIMIT_S=${LIMIT_S}s"
fi
stamp "training for $train_min min on the GPU with $LOADER_WORKERS loader processes"
gpu_log=""
if command -v nvidia-smi >/dev/null; then  # GPU load every 20 s: shows whether the loader keeps up
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 20 >"$OUT/gpu_load.csv" 2>&1 &
    gpu_log=$!
    trap 'kill "$gpu_log" 2>/dev/null || true' EXIT
fi
"$PY" -m training.train "${cache_args[@]}" --device cuda --loader-workers "$LOADER_WORKERS" \
    --samples "$SAMPLES" --val-samples "$VAL_SAMPLES" --epochs 1000 --full-epochs 1 --seed "$SEED" \
    --max-minutes "$train_min" --lr-by-time --threads 4 --out "$OUT" "$@"
if [[ -n "$gpu_log" ]]; then kill "$gpu_log" 2>/dev/null || true; fi
stamp "training done: $OUT/last.pt"

# 8. calibration offsets, if they still fit
if [[ "$CALIBRATE" == 1 ]]; then
    left=$((LIMIT_S - SECONDS))
    if ((left >= 60)); then
        stamp "calibrating (up to ${left}s)"
        if ! timeout "$left" "$PY" -m training.calibrate "$OUT/last.pt" "${cache_args[@]}" \
            --samples "$CAL_SAMPLES" --device cuda --threads 4; then
            loud "CALIBRATION DID NOT FINISH: run python -m training.calibrate on last.pt afterwards"
        fi
    else
        loud "NO TIME LEFT TO CALIBRATE: run python -m training.calibrate on last.pt afterwards"
    fi
fi
stamp "done; in $OUT:"
ls -la "$OUT"
