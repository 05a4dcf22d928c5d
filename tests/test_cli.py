"""The commands as a person types them (subprocesses; the torch-importing ones are marked slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT

QUICK = ["data.source.num_rows=400", "data.window=12", "model.net.hidden_size=8", "model.net.num_layers=1",
         "trainer.max_epochs=2", "hardware.num_threads=1"]


def run(script: str, *args: str, cwd: Path, log_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / script), *args, f"paths.log_dir={log_dir}"],
                          capture_output=True, text=True, cwd=cwd, timeout=600, env={**os.environ})


def test_help_lists_groups_and_options(tmp_path):
    out = run("train.py", "--help", cwd=tmp_path, log_dir=tmp_path).stdout
    for group, option in [("model", "lstm_attention"), ("hardware", "rtx4070_mobile"), ("scheduler", "onecycle"),
                          ("debug", "fdr"), ("experiment", "lstm_seed"), ("data", "elnino"), ("logger", "csv")]:
        assert f"{group}: " in out and option in out, (group, option)


def test_cfg_job_composes_without_torch(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), "--cfg", "job",
                             "model=cnn", "hardware=h100"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "_target_: trainlab.models.nets.cnn.TemporalCNN" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {"torch", "lightning"} & imported


@pytest.mark.slow
def test_train_cli_writes_a_timestamped_run_folder(tmp_path):
    result = run("train.py", *QUICK, "logger=csv", cwd=tmp_path, log_dir=tmp_path / "outputs")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "train.log", "checkpoints/last.ckpt",
                 "resolved_config.yaml"):
        assert (run_dir / name).is_file(), name
    assert "Trainer.fit" in (run_dir / "train.log").read_text()

    evaluation = run("evaluate.py", f"ckpt_path={run_dir}", cwd=tmp_path, log_dir=tmp_path / "outputs")
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    (eval_dir,) = (tmp_path / "outputs" / "eval" / "runs").iterdir()
    report = json.loads((eval_dir / "metrics.json").read_text())
    assert report["run_dir"] == str(run_dir.resolve()) and "test/rmse" in report["metrics"]


@pytest.mark.slow
def test_two_runs_started_together_get_two_folders(tmp_path):
    out = tmp_path / "outputs"
    args = ["debug=fdr", "logger=none", *QUICK]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run("train.py", *args, cwd=tmp_path, log_dir=out), range(2)))
    assert all(r.returncode == 0 for r in results), [r.stderr[-1000:] for r in results]
    folders = sorted(p.name for p in (out / "train" / "runs").iterdir())
    assert len(folders) == 2
    assert all(len(f.split("_")) == 3 for f in folders)


@pytest.mark.slow
def test_cfg_job_starts_in_about_a_second(tmp_path):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "train.py"), "--cfg", "job"], capture_output=True, check=True,
                       cwd=tmp_path)
        times.append(time.perf_counter() - start)
    assert sorted(times)[1] < 3.0  # generous on a loaded CI machine; README quotes the measured figure
