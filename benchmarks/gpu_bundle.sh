#!/usr/bin/env bash
# Wheels that a GPU machine without network needs to run `make gpu-check`, into .whl/ (git-ignored).
#
# The device machine brings Python 3.12 and its own CUDA torch (2.11 at the last look) with lightning,
# torchmetrics, torch-geometric, tensorboard, nvidia-ml-py, scipy, scikit-image, statsmodels,
# matplotlib and rich. What it lacks is Hydra: hydra-core and omegaconf as wheels, and
# antlr4-python3-runtime 4.9.3, which exists only as a source release: its wheel is built here
# (pure Python, so one py3-none-any wheel serves 3.12). Our own code travels as the working tree
# (PYTHONPATH=src), torch is never bundled: the machine's CUDA build must stay.
# python-calamine (workbooks as data files) is imported only when a workbook is read, which gpu_check never
# does: not bundled.
#
# ZEUS=1 also fetches zeus (an independent energy reading for gpu_check) and the dependencies
# its metadata names that the device image does not list; unverified on the device.
#
# On the device machine, from the repository root:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
#   PYTHONPATH=/tmp/site:src python3 benchmarks/gpu_check.py --out $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.whl
PY=${PY:-python3}
mkdir -p "$DEST"  # git-ignored (.gitignore)

# the platforms pip should accept for Python 3.12 on x86-64 Linux (pip matches manylinux tags exactly)
PLATFORMS=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$tag")
done
download() {
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d "$DEST" "$@"
}

# versions from requirements.txt: one home for them
pin() { grep -E "^$1==" requirements.txt | head -n1; }
download "$(pin hydra-core)" "$(pin omegaconf)"

# antlr4-python3-runtime: Hydra 1.3 needs exactly 4.9.x; only a source release exists
"$PY" -m pip wheel --no-deps --no-build-isolation -w "$DEST" antlr4-python3-runtime==4.9.3 \
  || "$PY" -m pip wheel --no-deps -w "$DEST" antlr4-python3-runtime==4.9.3

if [ "${ZEUS:-0}" = "1" ]; then
  download zeus==0.16.0 pydantic pydantic-core annotated-types typing-inspection tyro docstring-parser shtab \
    typeguard amdsmi
fi

echo "wheels in $DEST:"
ls -1 "$DEST"
du -sh "$DEST"
