"""trainer=ddp_sim: two CPU processes over gloo, one run folder, metrics gathered across ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# 800 rows, window 48: 120 test windows, an even split over 2 ranks (no sample repeated by the sampler)
DDP_RUN = ["trainer=ddp_sim", "data.source.num_rows=800", "trainer.max_epochs=2", "model.net.hidden_size=16",
           "trainer.enable_progress_bar=false", "hardware.num_threads=1", "logger=csv"]


def test_ddp_configs_compose(compose_cfg):
    sim = compose_cfg(["trainer=ddp_sim"]).trainer
    assert (sim.strategy, sim.devices, sim.accelerator) == ("ddp", 2, "cpu")
    gpu = compose_cfg(["trainer=ddp", "hardware=h100"]).trainer
    assert gpu.strategy == "ddp" and gpu.accelerator == "gpu" and gpu.precision == "bf16-mixed"


@pytest.mark.slow
def test_ddp_sim_writes_one_run_folder_and_gathers_metrics(compose_cfg, tmp_path):
    import evaluate as evaluate_script

    result = subprocess.run([sys.executable, str(ROOT / "train.py"), *DDP_RUN, f"paths.log_dir={tmp_path}/outputs"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1, runs  # one folder for the run, not one per rank
    run_dir = runs[0]
    assert not list(run_dir.glob(".pl_hydra*")) and (run_dir / ".hydra" / "config.yaml").is_file()
    records = [json.loads(line) for line in (run_dir / "epochs.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]  # written once, by rank 0
    ddp_test = json.loads((run_dir / "training_summary.json").read_text())["test"]
    # the same checkpoint tested in one process: the metrics gathered from 2 ranks must agree
    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={run_dir}"], config_name="eval"))
    for key in ("test/rmse", "test/r2", "test/mape", "test/loss"):
        assert report["metrics"][key] == pytest.approx(ddp_test[key], rel=1e-4), key  # float32 sums, another order


def test_slurm_launcher_config_composes(compose_cfg):
    launcher = compose_cfg(["hydra/launcher=slurm", "hydra.launcher.partition=gpu"]).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    # GPUs: null, i.e. from the hardware profile (none for hardware=cpu; tests/test_slurm.py)
    assert (launcher.timeout_min, launcher.gpus_per_node, launcher.tasks_per_node) == (240, None, 1)


@pytest.mark.parametrize("extra,message", [
    ([], "hydra/launcher=slurm needs a partition: add hydra.launcher.partition=<name>"),
    (["hydra.launcher.partition=gpu"], "submits with sbatch, which this machine does not have"),
])
def test_slurm_launcher_refused_before_anything_starts(tmp_path, extra, message):
    # a PATH without SLURM's commands, also where the machine has them (CI installs SLURM)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not (Path(p) / "sbatch").exists())
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "hydra/launcher=slurm", *extra,
                             f"paths.log_dir={tmp_path}/outputs"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120, env={**os.environ, "PATH": path})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "outputs").exists()
