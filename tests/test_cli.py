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
    # predict.py's line for each family that predicts (series, images, star catalogues)
    for argument in ("horizon=<steps>", "images=<folder>", "catalogue=<file>"):
        assert f"python predict.py ckpt_path=<run> {argument}" in out, argument


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


# -- first contact: what a new user reads ------------------------------------------------------------
def test_help_starts_with_our_text_and_lists_only_real_choices(tmp_path):
    out = run("train.py", "--help", cwd=tmp_path, log_dir=tmp_path).stdout
    assert out.startswith("train.py of trainlab:") and "python evaluate.py ckpt_path=" in out.split("\n\n")[0]
    assert "hparams_search: optuna" in out and "hparams_search/space" not in out
    assert "powered by Hydra" not in out


def test_help_of_evaluate_and_predict_lists_only_the_groups_they_take(capsys):
    """evaluate.py --help and predict.py --help listed model, data, experiment ... (train.py's groups), which
    both refuse (`model=cnn: evaluate.py chooses no model`); train.py's list stays whole."""
    from trainlab.config.help import chosen_groups, print_help

    hydra_help = ("== Configuration groups ==\nCompose your configuration from those groups (group=option)\n\n"
                  "data: elnino, synthetic\nhardware: auto, cpu\nhparams_search/space: cnn, lstm\n"
                  "model: cnn, lstm\ntrainer: ddp, default\n\n\n== Config ==\ntrainer:\n  max_epochs: 20\n"
                  "model:\n  lr: 0.1\n")

    def main():
        print(hydra_help, end="")
        raise SystemExit(0)  # as Hydra ends --help

    assert chosen_groups("eval") == chosen_groups("predict") == {"trainer", "hardware", "paths", "hydra"}
    for config_name, groups in [("eval", ["hardware", "trainer"]), ("predict", ["hardware", "trainer"]),
                                ("train", ["data", "hardware", "model", "trainer"])]:
        with pytest.raises(SystemExit):
            print_help(main, config_name)
        listed, config = capsys.readouterr().out.split("== Config ==")
        assert [line.split(":")[0] for line in listed.splitlines() if ": " in line] == groups, config_name
        assert config == "\ntrainer:\n  max_epochs: 20\nmodel:\n  lr: 0.1\n"  # the config is never cut


def test_make_help_expands_the_port():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "$(" not in out and "http://127.0.0.1:6006 (PORT=<n> changes it)" in out


def test_the_servers_have_ports_of_their_own_so_they_can_run_side_by_side():
    """TensorBoard, the MLflow UI and optuna-dashboard all listened on 6006: the second one started failed
    to bind. Each has its tool's usual port now; PORT=<n> still moves the one started."""
    def port(target, *extra):
        out = subprocess.run(["make", "-n", target, "SWEEP=.", "MLFLOW_DB=Makefile", *extra], cwd=ROOT,
                             capture_output=True, text=True).stdout
        return out.rsplit("--port ", 1)[1].split()[0]

    assert [port(t) for t in ("tensorboard", "mlflow", "dashboard")] == ["6006", "5000", "8080"]
    assert [port(t, "PORT=7001") for t in ("tensorboard", "mlflow", "dashboard")] == ["7001"] * 3


def test_make_help_lines_up_every_description():
    """Names longer than the column (install-mlflow, bench-forecast) pushed their description out of line."""
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("  make ")]
    starts = {len(line) - len(line[len("  make "):].split(" ", 1)[1].lstrip()) for line in lines}
    assert len(lines) > 20 and len(starts) == 1, out


def test_run_label_leaves_the_logger_choice_out(compose_cfg):
    from trainlab.loggers import run_label

    compose_cfg(["logger=csv", "optimizer.lr=0.01"])
    assert run_label() == "lstm_synthetic__optimizer.lr=0.01"


def test_lightning_advertisements_and_launcher_internals_are_dropped(caplog):
    import logging

    from trainlab.run.console import LauncherNoise, route_lightning_logs

    route_lightning_logs()
    with caplog.at_level(logging.INFO):
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("💡 Tip: For seamless cloud logging, try x")
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False, used: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
    noise = LauncherNoise()
    line = lambda text: logging.LogRecord("x", logging.INFO, "", 0, text, None, None)  # noqa: E731
    assert not noise.filter(line("Joblib.Parallel(n_jobs=2,backend=loky,prefer=processes) is launching 1 jobs"))
    assert not noise.filter(line("Launching jobs, sweep output dir : /tmp/x"))
    assert noise.filter(line("\t#3 : optimizer.lr=0.01"))


def test_model_summary_without_an_all_zero_flops_column(capsys):
    from trainlab.callbacks.training import ModelSummary

    data = [(" ", ["0"]), ("Name", ["net"]), ("Type", ["LSTMNet"]), ("Params", ["51.5 K"]), ("Mode", ["train"]),
            ("FLOPs", ["0"])]
    ModelSummary.summarize(data, 51_500, 51_500, 0.206, {"train": 1, "eval": 0}, total_flops=0)
    out = capsys.readouterr().out
    assert "FLOPs" not in out and "LSTMNet" in out and "params: 51.5 K trainable, 0 frozen, 0.206 MB" in out


def test_progress_bar_counts_epochs_from_one_and_fits_80_columns():
    from types import SimpleNamespace

    from rich.console import Console

    from trainlab.callbacks.training import RichProgressBar

    bar = RichProgressBar()
    bar._console = Console(width=80)
    metrics = {"train/loss_step": 0.251, "val/loss": 0.517, "val/accuracy": 0.812, "val/f1_macro": 0.5,
               "train/loss_epoch": 0.606, "v_num": "lstm_synthetic__optimizer.lr=0.01"}
    trainer = SimpleNamespace(current_epoch=1, max_epochs=2, num_training_batches=120, loggers=[],
                              progress_bar_metrics=metrics)
    bar._trainer = trainer
    description = bar._get_train_description(trainer.current_epoch)
    assert description.strip() == "Epoch 2/2"
    shown = bar.get_metrics(trainer, None)
    assert list(shown) == ["loss", "val/loss"]  # in logging order, as many as fit
    text = " ".join(f"{k}: {v:.3f}" for k, v in shown.items())
    line = f"{description} {'━' * bar.BAR_WIDTH} 120/120 0:00:12 • 0:01:40 {text}"
    assert len(line) <= 80, line


def test_test_metrics_are_explained():
    from trainlab.metrics.names import legend

    text = legend(["test/aaa", "test/loss", "test/accuracy", "test/r2"])
    assert text.startswith("aaa = average absolute accuracy, 1 - mape") and "r2 = " in text
    assert "accuracy =" not in text  # a word needs no legend
    # a forecasting run's table: mase, smape and the baselines' rows had no word under it
    text = legend(["test/mase", "test/smape", "test/baseline_ets_rmse", "test/baseline_last_value_mase",
                   "test/rmse_vs_best_naive"])
    assert text == ("baseline_<name>_<metric> = that metric of a naive forecast (last_value, seasonal_naive) or ETS on "
                    "the same windows; mase = mean absolute scaled error, the MAE over a naive forecast's on the "
                    "training rows (below 1: better than it); rmse_vs_best_naive = the best naive forecast's rmse over "
                    "the model's (above 1: the model is better); smape = symmetric mean absolute percentage error, as "
                    "a fraction (0 to 2)")


def test_lr_monitor_logs_every_step(compose_cfg):
    assert compose_cfg([]).callbacks.lr_monitor.logging_interval == "step"


def test_a_misspelt_key_gets_the_nearest_setting_and_exit_2(tmp_path):
    """Hydra's own answer to a key the config lacks suggests '+key=...' (a new key nothing reads); the
    last line names the setting meant, and the exit status is a user error's."""
    done = run("train.py", "trainer.max_epoch=5", cwd=tmp_path, log_dir=tmp_path / "outputs")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: trainer.max_epoch is not a setting of trainer; did you mean trainer.max_epochs?")
    assert not (tmp_path / "outputs").exists()  # nothing was started


@pytest.mark.parametrize("argv, config, expected", [
    (["tranier.max_epochs=5"], "train", "tranier is not a top-level setting; did you mean trainer?"),
    (["model=cnn", "model.net.hidden_size=8"], "train", "model.net.hidden_size is not a setting of model.net"),
    (["-m", "data.source.num_rowz=5", "model.net.hidden_size=8,16"], "train",
     "data.source.num_rowz is not a setting of data.source; did you mean data.source.num_rows?"),
    (["ckpt_path=x", "splitt=val"], "eval", "splitt is not a top-level setting; did you mean split?"),
    (["model=lstn"], "train", "model=lstn is not an option of the model group; did you mean model=lstm? "
                              "its options: cnn, gnn, lstm, lstm_attention, tcn, unet"),
    (["hydra/launcher=jobib"], "train", "hydra/launcher=jobib is not an option of the hydra/launcher group; "
                                        "did you mean hydra/launcher=joblib?"),
    (["split=val", "hardware=cpuu"], "eval", "hardware=cpuu is not an option of the hardware group; did you "
                                             "mean hardware=cpu?"),
    # a mapping given whole: 'hydra.launcher.additional_parameters is not a setting of hydra.launcher; did you mean
    # hydra.launcher.additional_parameters?', before
    (["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
      "hydra.launcher.additional_parameters={reservation:maint,exclusive:true}"], "train",
     "hydra.launcher.additional_parameters holds no key yet, and a mapping given whole cannot add one (reservation): "
     "add each with a '+' in front: +hydra.launcher.additional_parameters.reservation=maint "
     "+hydra.launcher.additional_parameters.exclusive=True"),
    (["data.source={num_rowz:5}"], "train", "data.source.num_rowz is not a setting of data.source; did you mean "
                                            "data.source.num_rows?"),
    (["trainer.max_epochs=5", "model=cnn"], "train", None),  # composes: Hydra's error was another one
    (["model.net.hiden_size=8,16"], "train", None),  # a sweep's key is the sweeper's to check
])
def test_unknown_key_problem_names_the_first_missing_part(argv, config, expected):
    from trainlab.config.command_line import unknown_key_problem

    problem = unknown_key_problem(argv, config)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected), problem


def test_in_a_sweep_the_run_label_starts_with_the_searched_keys(compose_cfg, tmp_path, monkeypatch):
    """Cut at 120 characters, a trial's label lost the values the sweep searched (they came after the command
    line's overrides): every trial of a sweep had the same MLflow run name."""
    from trainlab.loggers import run_label, sweep_tags

    given = ["data.source.num_rows=600", "data.window=16", "trainer.enable_progress_bar=false",
             "trainer.enable_model_summary=false", "hardware.num_threads=1", "trainer.max_epochs=3"]
    # as the sweeper hands a trial over: the command line, then the values it chose
    cfg = compose_cfg(["hparams_search=optuna", *given, "optimizer.lr=0.0042", "data.batch_size=64"])
    label = run_label()
    assert label.startswith("lstm_synthetic__optimizer.lr=0.0042,data.batch_size=64,hparams_search=optuna,data.source")
    assert len(label) == 120 and "max_epochs" not in label  # cut: the command line's tail goes
    assert sweep_tags() == {"sweep_dir": str(Path(cfg.hydra.sweep.dir).absolute()), "sweep_job": "0"}
    compose_cfg([*given, "optimizer.lr=0.0042"])  # a single run: as typed, no sweep
    assert run_label().startswith("lstm_synthetic__data.source.num_rows=600,") and sweep_tags() == {}


def test_make_tensorboard_and_mlflow_take_the_folder_and_database_given(tmp_path):
    """make tensorboard served outputs/ only (a moved run folder, or runs under another paths.log_dir, could not
    be served); make mlflow with a misspelt MLFLOW_DB served a new, empty database."""
    make = ["make", "-s", "VENV="]  # VENV=: the recipes alone, not the .venv they depend on
    run = subprocess.run([*make, "-n", "tensorboard", f"LOGDIR={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert f'--logdir "{tmp_path}" --host 127.0.0.1 --port 6006' in run.stdout, run.stdout + run.stderr
    for target, setting, line in [
        ("tensorboard", f"LOGDIR={tmp_path / 'moved'}", "is no folder; give the folder of your runs"),
        ("mlflow", f"MLFLOW_DB={tmp_path / 'mlfow.db'}", "is no file; train with logger=mlflow first"),
    ]:
        run = subprocess.run([*make, target, setting], cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.startswith(f"error: {setting} {line}"), run.stderr
    assert not (tmp_path / "mlfow.db").exists()


def test_a_run_label_names_a_data_file_by_its_name(compose_cfg, tmp_path):
    """A file given by its full path filled the label (cut at 120 characters) with its folders: a newcomer's
    run read lstm_file__data.source.path=-tmp-h-newcomer-data-demand_fixed.csv,data.source.target_columns=-Demand-MW-,
    data.source.tim, and the settings after it, those that told the runs apart, were cut off."""
    from trainlab.loggers import run_label

    path = tmp_path / "deep" / "folders" / "of" / "mine" / "demand.csv"
    compose_cfg(["data=file", f"data.source.path={path}", "data.source.target_columns=[y]", "optimizer.lr=0.01"])
    assert run_label() == "lstm_file__data.source.path=demand.csv,data.source.target_columns=-y-,optimizer.lr=0.01"


def test_fewer_training_batches_than_the_logging_interval_is_one_line_of_ours(compose_cfg, run_train, caplog):
    """A newcomer's folder of 12 images (8 training tiles, one batch) got Lightning's Python warning,
    '.../fit_loop.py:321: The number of training batches (1) is smaller than the logging interval
    Trainer(log_every_n_steps=10). Set a lower value for log_every_n_steps if you want to see logs for the
    training epoch', which names Trainer's argument, not the setting, and says the epoch's logs are lost:
    only the per-step points thin out (Lightning counts steps across epochs)."""
    import logging
    import warnings

    from tests.conftest import TINY

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        run_train(compose_cfg([*TINY, "trainer.max_epochs=1", "trainer.limit_train_batches=3",
                               "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "data.ets_baseline=false",
                               "logger=csv"]))
    assert not [w for w in caught if "logging interval" in str(w.message)], [str(w.message) for w in caught]
    assert ("trainer.log_every_n_steps=10 is more than the 3 training batch(es) of an epoch: what is logged per "
            "step (train/loss, the learning rate) gets a point every 10 steps, less than once an epoch (epoch values "
            "are logged every epoch); trainer.log_every_n_steps=1 logs every step") in caplog.text


def test_check_pythons_names_a_version_it_cannot_find_and_fails(tmp_path):
    """tools/check_pythons.sh (make check-pythons) repeats README's check on other Pythons; a version with no
    interpreter is named in one line and in the summary, makes nothing and fails the run."""
    env = {**os.environ, "CHECK_DIR": str(tmp_path / "check"), "PYENV_ROOT": str(tmp_path / "no-pyenv")}
    out = subprocess.run(["bash", "tools/check_pythons.sh", "2.1"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Python 2.1: no python2.1 on PATH" in out.stdout and "Python 2.1: MISSING" in out.stdout
    assert not (tmp_path / "check" / "venv-2.1").exists()
    usage = subprocess.run(["bash", "tools/check_pythons.sh"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage:" in usage.stderr
