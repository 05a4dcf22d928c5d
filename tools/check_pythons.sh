#!/usr/bin/env bash
# Check trainlab on other Python versions: tools/check_pythons.sh 3.10 3.12 (make check-pythons PYTHONS="3.10 3.12").
#
# For each version: a venv made as `make install` makes .venv (torch's line of requirements.txt first, then
# requirements.txt, then this checkout with --no-deps -e), then every .py file compiled with warnings as errors
# (SyntaxWarning for an invalid escape since 3.12), the default training, evaluate.py and predict.py on that
# run, a 2-trial sweep (1 epoch, logger=none) and a subset of the fast tests. The interpreter is `pythonX.Y` on
# PATH, else pyenv's newest X.Y. Venvs and every output go under CHECK_DIR (default /tmp/trainlab-pythons),
# never into the checkout; a venv already made there is reused (rm -r it to reinstall).
#
# torch: where torch's pinned version resolves to a CUDA build (nvidia-* packages, several GB), it is not
# installed unless TORCH_CUDA_OK=1; PIP_FIND_LINKS or PIP_EXTRA_INDEX_URL pointing at CPU wheels for that
# Python gives the CPU build. Without torch the version is checked up to what needs no torch (install of the
# other requirements, compile, `train.py --help`, the tests in TESTS_WITHOUT_TORCH) and reported PARTIAL.
# Exit status 0 only when every step of every version passed.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
CHECK_DIR=${CHECK_DIR:-/tmp/trainlab-pythons}
TESTS=${TESTS:-tests/test_configs.py tests/test_train.py tests/test_search_plan.py tests/test_prediction.py tests/test_graph_prediction.py}
TESTS_WITHOUT_TORCH=${TESTS_WITHOUT_TORCH:-tests/test_search_advice.py}  # what a venv without torch can run
[ $# -gt 0 ] || { echo "usage: $0 3.10 [3.12 ...] (the Python versions to check)" >&2; exit 2; }
mkdir -p "$CHECK_DIR" || exit 2

declare -A VERDICT
failed=0

find_python() {  # pythonX.Y on PATH, else pyenv's newest X.Y.*; one that runs (a pyenv shim may not)
    local v=$1 candidate
    for candidate in "$(command -v "python$v" 2>/dev/null)" \
            "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v".*/bin/python 2>/dev/null | sort -V | tail -n 1)"; do
        if [ -n "$candidate" ] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

step() {  # step NAME LOGFILE COMMAND...: run, keep the output in LOGFILE, print one line
    local name=$1 logfile=$2 start=$SECONDS rc
    shift 2
    "$@" >"$logfile" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        printf '  ok    %-9s %4ds\n' "$name" $((SECONDS - start))
    else
        printf '  FAIL  %-9s %4ds  rc=%d, last lines of %s:\n' "$name" $((SECONDS - start)) $rc "$logfile"
        tail -n 15 "$logfile" | sed 's/^/        /'
    fi
    return $rc
}

check_version() {
    local v=$1 py venv vpy out log torch_req torch_ok=1
    py=$(find_python "$v") || true
    if [ -z "$py" ]; then
        echo "Python $v: no python$v on PATH and none under ${PYENV_ROOT:-$HOME/.pyenv}/versions"
        VERDICT[$v]="MISSING"
        return 1
    fi
    venv=$CHECK_DIR/venv-$v
    vpy=$venv/bin/python
    out=$CHECK_DIR/out-$v
    log=$CHECK_DIR/logs-$v
    rm -rf "$out" "$log"
    mkdir -p "$out" "$log"
    echo "Python $v: $py ($("$py" -c 'import sys; print(sys.version.split()[0])')), venv $venv, logs $log"
    torch_req=$(grep -E '^torch==' requirements.txt)

    if [ ! -f "$venv/.installed" ]; then
        step venv "$log/venv.log" "$py" -m venv "$venv" || return 1
        step pip "$log/pip.log" "$vpy" -m pip install --upgrade pip || return 1
        # what torch's line would install, without downloading the wheels themselves
        step torch-plan "$log/torch-plan.log" "$vpy" -m pip install --dry-run --report "$log/torch-plan.json" "$torch_req" \
            || return 1
        local cuda
        cuda=$("$vpy" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(" ".join(i["metadata"]["name"] for i in r["install"] if i["metadata"]["name"].startswith("nvidia-")))' \
            "$log/torch-plan.json")
        if [ -n "$cuda" ] && [ "${TORCH_CUDA_OK:-0}" != 1 ]; then
            echo "  skip  torch     $torch_req for Python $v resolves to a CUDA build; it would also install: $cuda"
            echo "                  (TORCH_CUDA_OK=1 installs it; PIP_FIND_LINKS/PIP_EXTRA_INDEX_URL at CPU wheels avoids it)"
            torch_ok=0
            # the rest without torch and the two packages that require it
            grep -vE '^(torch|lightning|torchmetrics)==' requirements.txt >"$log/requirements-without-torch.txt"
            step requirements "$log/requirements.log" "$vpy" -m pip install -r "$log/requirements-without-torch.txt" \
                || return 1
        else
            step torch "$log/torch.log" "$vpy" -m pip install "$torch_req" || return 1
            step requirements "$log/requirements.log" "$vpy" -m pip install -r requirements.txt || return 1
            touch "$venv/.with-torch"
        fi
        step editable "$log/editable.log" "$vpy" -m pip install --no-deps -e "$ROOT" || return 1
        touch "$venv/.installed"
    fi
    [ -f "$venv/.with-torch" ] || torch_ok=0

    local ok=0
    step compile "$log/compile.log" "$vpy" -W error -c 'import pathlib, sys
bad = 0
for path in sorted(p for d in ("src", "tests", "benchmarks", "tools") for p in pathlib.Path(d).rglob("*.py")) + sorted(pathlib.Path(".").glob("*.py")):
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except (SyntaxError, SyntaxWarning, DeprecationWarning) as e:
        bad += 1
        print(f"{path}: {type(e).__name__}: {e}")
sys.exit(1 if bad else 0)' || ok=1
    step help "$log/help.log" "$vpy" train.py --help || ok=1
    if [ $torch_ok = 0 ]; then
        # shellcheck disable=SC2086 - a list of paths
        step tests "$log/tests.log" "$vpy" -m pytest -m "not slow" -q -x -p no:cacheprovider $TESTS_WITHOUT_TORCH || ok=1
        echo "  skip  train, evaluate, predict, sweep, $TESTS: no torch in $venv"
        VERDICT[$v]="PARTIAL (no torch)"
        return 1
    fi
    local run
    step train "$log/train.log" "$vpy" train.py "paths.log_dir=$out" || ok=1
    run=$(ls -d "$out"/train/runs/*/ 2>/dev/null | sort | tail -n 1)
    if [ -n "$run" ]; then
        step evaluate "$log/evaluate.log" "$vpy" evaluate.py "ckpt_path=$run" "paths.log_dir=$out" || ok=1
        step predict "$log/predict.log" "$vpy" predict.py "ckpt_path=$run" horizon=1 "paths.log_dir=$out" || ok=1
    else
        echo "  FAIL  evaluate, predict: no run folder under $out/train/runs"
        ok=1
    fi
    step sweep "$log/sweep.log" "$vpy" train.py -m hparams_search=optuna hydra.sweeper.n_trials=2 epochs=1 logger=none \
        "paths.log_dir=$out" || ok=1
    # shellcheck disable=SC2086 - TESTS is a list of paths
    step tests "$log/tests.log" "$vpy" -m pytest -m "not slow" -q -x -p no:cacheprovider $TESTS || ok=1
    [ $ok = 0 ] && VERDICT[$v]="PASS" || VERDICT[$v]="FAIL"
    return $ok
}

for v in "$@"; do
    check_version "$v" || failed=1
    echo
done
echo "summary (logs and outputs under $CHECK_DIR):"
for v in "$@"; do
    echo "  Python $v: ${VERDICT[$v]:-FAIL (install)}"
done
exit $failed
