"""Search, round two, in real sweeps (subprocesses on tiny data, one thread; slow): a pruner that
looks several times per epoch and the per-trial records, and a staged search closed by refine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_sweeper import TINY_SWEEP, only_sweep_dir, sweep

pytestmark = pytest.mark.slow


def records(sweep_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (sweep_dir / "trials.jsonl").read_text().splitlines()]


def test_reports_at_every_validation_check_and_writes_the_seeds_per_trial_records(tmp_path):
    """val_check_interval=0.5: two looks per epoch, warm-up counted in checks; trials.jsonl holds the
    seed's fields, the results also come as JSON."""
    result = sweep("hydra.sweeper.n_trials=5", "hydra.sweeper.pruner.n_startup_trials=2",
                   "hydra.sweeper.pruner.n_warmup_steps=1", "trainer.val_check_interval=0.5",
                   "callbacks.early_stopping.patience=100", *TINY_SWEEP, "trainer.max_epochs=3", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = only_sweep_dir(tmp_path)
    rows = records(sweep_dir)
    assert len(rows) == 5 and {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}
    for row in rows:
        assert set(row["params"]) == {"model.net.num_layers", "optimizer.lr", "data.batch_size"}
        assert row["final_train_loss"] > 0 and row["training_seconds"] > 0 and row["best_val_loss"] > 0
        if row["state"] == "COMPLETE":
            assert row["epochs"] == 3 and row["checks"] == 6  # two checks per epoch
            assert row["best_val_loss"] == pytest.approx(row["values"][0])
    study = optuna.load_study(study_name=sweep_dir.name, storage=f"sqlite:///{sweep_dir}/optuna.db")
    assert max(len(t.intermediate_values) for t in study.trials) == 6
    for row in (r for r in rows if r["state"] == "PRUNED"):
        trial = study.trials[row["trial"]]
        assert trial.last_step >= 1  # warm-up: one check
        assert row["checks"] == trial.last_step + 1 and row["epochs"] <= 3
        assert row["pruned_at_epoch"] == trial.last_step // 2
    results = json.loads((sweep_dir / "optimization_results.json").read_text())
    assert results == yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def test_staged_search_in_one_command_then_refine_its_best(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=staged", "hydra.sweeper.stage_trials=[2,2]",
         "hydra/sweeper/pruner=nop", f"hydra.sweep.dir={sweep_dir}", *TINY_SWEEP, "trainer.max_epochs=1",
         f"paths.log_dir={tmp_path}/outputs"], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    stages = yaml.safe_load((sweep_dir / "stages.yaml").read_text())["stages"]
    assert [s["name"] for s in stages] == ["architecture", "optimisation"]
    # TINY_SWEEP fixes the width on the command line, so stage 1 searches the depth only
    assert stages[0]["searched"] == ["model.net.num_layers"] and set(stages[1]["fixed"]) == {"model.net.num_layers"}
    last = sweep_dir / "2_optimisation"
    overrides = yaml.safe_load((last / "0" / ".hydra" / "overrides.yaml").read_text())
    assert f"model.net.num_layers={stages[0]['best_params']['model.net.num_layers']}" in overrides

    refined = subprocess.run(["make", "-s", "refine", f"PY={sys.executable}", "VENV=", f"SWEEP={last}", "EPOCHS=1",
                              f"ARGS=logger=none paths.log_dir={tmp_path}/outputs hardware.num_threads=1"],
                             capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert refined.returncode == 0, refined.stderr[-3000:]
    assert "trainer.max_epochs=1 logger=none" in refined.stdout
