"""MLflow tracking (logger=mlflow): a tiny run into a sqlite database, read back through the client.

mlflow is an optional extra (make install-mlflow); tests that need it skip without it.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY
from trainlab.config.errors import UserError
from trainlab.run.folder import RunFolder
from trainlab.testing.ports import free_port


def mlflow_overrides(tmp_path: Path, *extra: str) -> list[str]:
    return [*TINY, "logger=mlflow", f"logger.mlflow.tracking_uri=sqlite:///{tmp_path}/m.db", *extra]


class FakeEnergyCounter:
    """Stands in for a GPU's energy counter (trainlab.callbacks.energy.CounterReader): 5 J more per reading."""

    def __init__(self):
        self.total = 0.0

    def joules(self) -> float:
        self.total += 5.0
        return self.total

    def close(self) -> None:
        pass


def test_default_tracking_uri_is_a_database_under_outputs(compose_cfg, tmp_path):
    cfg = compose_cfg(["logger=mlflow"])
    assert cfg.logger.mlflow.tracking_uri == f"sqlite:///{tmp_path}/outputs/mlflow.db"
    assert cfg.logger.mlflow.registered_model_name == "lstm_synthetic"


@pytest.mark.slow  # 27-36 s here (2 shared cores): a new MLflow database first runs its schema migrations
def test_run_is_tracked_and_registered(compose_cfg, run_train, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    # Lightning's logger calls mlflow.set_tracking_uri, which also sets this variable: undone afterwards
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/m.db")
    from trainlab.callbacks.energy import EnergyMeter

    meter = EnergyMeter()
    meter.readers = [FakeEnergyCounter()]  # so energy metrics exist without a GPU
    cfg = compose_cfg(mlflow_overrides(tmp_path, "logger.mlflow.register_model=true", "callbacks.energy=null",
                                       "optimizer.lr=0.01"))
    metrics = run_train(cfg, extra_callbacks=[meter])
    run_dir = Path(cfg.paths.output_dir)

    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path}/m.db")
    (run,) = client.search_runs([client.get_experiment_by_name("trainlab").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("lstm_synthetic__data.source.num_rows=600,")  # the run's label
    assert run.data.tags["run_dir"] == str(run_dir) and run.data.tags["model"] == "lstm"

    params = run.data.params  # the flattened resolved config
    assert params["model/net/hidden_size"] == "16" and params["optimizer/lr"] == "0.01"
    assert params["data/source/num_rows"] == "600" and params["seed"] == "3407"

    logged = run.data.metrics  # the last value of each
    assert logged["val/loss"] == pytest.approx(metrics["val/loss"])
    assert logged["test/rmse"] == pytest.approx(metrics["test/rmse"])
    assert logged["lr-Adam"] == pytest.approx(0.01)
    assert logged["model/params_total"] == logged["model/params_trainable"] > 0 and logged["model/size_mb"] > 0
    assert logged["energy/epoch_joules"] == pytest.approx(5.0)  # one counter reading apart
    assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 2  # one per epoch

    def artifacts(path: str = "") -> set[str]:
        found = set()
        for item in client.list_artifacts(run.info.run_id, path):
            found |= artifacts(item.path) if item.is_dir else {item.path}
        return found

    best = RunFolder(run_dir).best()  # the best checkpoint, as the run folder records it
    uploaded = artifacts()
    assert {f"checkpoints/{best.name}", "resolved_config.yaml", ".hydra/config.yaml", "epochs.jsonl",
            "training_summary.json", "training_curves.png"} <= uploaded
    assert not any(p.endswith("last.ckpt") for p in uploaded)  # log_model=false: the best one only
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(tmp_path)  # beside m.db
    # the summary went up again after testing, with the test metrics in it
    summary = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/training_summary.json")
    assert summary["test"]["test/rmse"] == pytest.approx(metrics["test/rmse"])

    (version,) = client.search_model_versions("name='lstm_synthetic'")
    assert version.run_id == run.info.run_id and version.source == run.info.artifact_uri
    assert version.tags["checkpoint"] == best.name and version.tags["monitor"] == "val/loss"
    downloaded = Path(mlflow.artifacts.download_artifacts(f"models:/lstm_synthetic/{version.version}",
                                                          dst_path=str(tmp_path / "download")))
    (checkpoint,) = (downloaded / "checkpoints").iterdir()
    assert checkpoint.read_bytes() == best.read_bytes()
    # the downloaded version is a run folder that evaluate.py takes
    import evaluate as evaluate_script

    report = evaluate_script.evaluate(compose_cfg([f"ckpt_path={downloaded}"], config_name="eval"))
    assert report["checkpoint"] == str(checkpoint)
    assert report["metrics"]["test/rmse"] == pytest.approx(metrics["test/rmse"], rel=1e-5)


def test_without_mlflow_installed(compose_cfg, run_train, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    cfg = compose_cfg(mlflow_overrides(tmp_path))
    with pytest.raises(UserError, match=r"^logger=mlflow needs the mlflow package \(~800 MB\): make install-mlflow$"):
        run_train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / ".hydra" / "config.yaml").is_file()  # what was written stays
    assert not (run_dir / "checkpoints").exists()  # nothing trained


def test_unreachable_server_stops_before_training(compose_cfg, run_train, tmp_path):
    pytest.importorskip("mlflow")
    uri = f"http://127.0.0.1:{free_port()}"
    cfg = compose_cfg([*TINY, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"])
    start = time.perf_counter()
    with pytest.raises(UserError, match=rf"logger.mlflow.tracking_uri={uri}: no MLflow server answers there "
                                        r"\(.*\); start it \(`make mlflow"):
        run_train(cfg)
    assert time.perf_counter() - start < 30  # not MLflow's minutes of retries
    run_dir = Path(cfg.paths.output_dir)
    assert (run_dir / ".hydra" / "config.yaml").is_file() and not (run_dir / "checkpoints").exists()


def test_any_http_reply_counts_as_a_server():
    """A server behind a login (401 on /health) is reachable; a closed port is not."""
    import http.server
    import threading

    from trainlab.loggers.mlflow_store import unreachable

    class LoginWall(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(401)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), LoginWall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert unreachable(f"http://127.0.0.1:{server.server_port}") is None
    finally:
        server.shutdown()
        server.server_close()
    assert "refused" in unreachable(f"http://127.0.0.1:{free_port()}", timeout_s=2).lower()


@pytest.mark.slow
def test_unreachable_server_on_the_command_line(tmp_path):
    pytest.importorskip("mlflow")
    from tests.test_errors import cli

    uri = f"http://127.0.0.1:{free_port()}"
    result = cli(*TINY, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}", tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"error: logger.mlflow.tracking_uri={uri}: no MLflow server answers there" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "uri,match",
    [
        ("htp://localhost:5000", r"'htp' is not a scheme MLflow tracks into \(http, https, sqlite, .*\); for a server "
                                 r"give http\(s\)://<host>:<port>, for a local database sqlite:///<file>$"),
        ("localhost:5000", r"'localhost' is not a scheme MLflow tracks into .*; for a server give http://localhost:5000,"),
        ("sqlite:////proc/mlflow.db", r"cannot create or open the database \(unable to open database file\); give a "
                                      r"writable folder .*, or change paths.log_dir$"),
        ("sqlite:///{tmp}/not_a_db.db", r"cannot create or open the database \(file is not a database\)"),
        ("postgresql://u:p@127.0.0.1:9/db", r"MLflow needs the Python package psycopg\w* for this database, which is "
                                            r"not installed; pip install psycopg"),
        # a folder (MLflow's file store): MLflow 3's multi-line refusal, exit 1
        ("{tmp}/mlruns", r"a folder is MLflow's file store, which MLflow 3 refuses \(maintenance mode\); give a "
                         r"database, sqlite:///.*/mlruns/mlflow.db, or set MLFLOW_ALLOW_FILE_STORE=true"),
        ("file://{tmp}/mlruns", r"a folder is MLflow's file store"),
    ],
)
def test_tracking_uris_mlflow_cannot_use_get_one_line(tmp_path, monkeypatch, uri, match):
    """They were a multi-line Hydra error with exit 1 (a scheme MLflow does not know, a missing database
    driver) or minutes of MLflow's retries first (a database that cannot be opened)."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    for driver in ("psycopg", "psycopg2"):  # as where none is installed (a test must not reach a real server)
        monkeypatch.setitem(sys.modules, driver, None)
    (tmp_path / "not_a_db.db").write_text("not sqlite\n")
    uri = uri.format(tmp=tmp_path)
    start = time.perf_counter()
    with pytest.raises(UserError, match=rf"^logger.mlflow.tracking_uri={uri}: {match}"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri)
    assert time.perf_counter() - start < 30


def test_settings_mlflow_would_drop_are_refused(tmp_path):
    """log_model=maybe was taken as false or true; an artifact_location for an experiment that exists was
    dropped (MLflow sets it only when it creates the experiment); the place of a moved database's experiment
    was refused as an artifact_location the user had not given."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    uri = f"sqlite:///{tmp_path}/m.db"
    with pytest.raises(UserError, match=r"^logger.mlflow.log_model='maybe' must be false, true \(every kept"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, log_model="maybe")
    first = MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, artifact_location=str(tmp_path / "a"))
    first.experiment  # creates the experiment, with its artifacts in tmp_path/a
    MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, artifact_location=str(tmp_path / "a"))  # the same: fine
    with pytest.raises(UserError, match=rf"^logger.mlflow.artifact_location={tmp_path / 'b'}: experiment 'trainlab' "
                                        r"exists already, with its artifacts in .*/a, and MLflow sets the place only "
                                        r"for a new experiment; .*logger.mlflow.experiment_name=<name>$"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, artifact_location=str(tmp_path / "b"))
    # MLflow records an experiment's place absolute (a relative one too: it resolves it when it creates the
    # experiment): a database moved with its mlartifacts/ points at the old place. A run into it was refused as
    # 'logger.mlflow.artifact_location=file:///<new>/mlartifacts: ...', a key the user never set; now the line says
    # the database was moved, and a link from the old place to the new is taken
    MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, experiment_name="beside").experiment  # mlartifacts/
    old, new = tmp_path / "mlartifacts", tmp_path / "moved" / "mlartifacts"
    new.mkdir(parents=True)
    (tmp_path / "m.db").rename(tmp_path / "moved" / "m.db")
    moved = f"sqlite:///{tmp_path}/moved/m.db"
    with pytest.raises(UserError) as refused:
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=moved, experiment_name="beside")
    assert str(refused.value) == (
        f"logger.mlflow.tracking_uri={moved}: experiment 'beside' keeps its artifacts in {old.as_uri()}, not beside "
        f"this database ({new.as_uri()}): the database was moved or copied, and MLflow records that place absolute; "
        f"link the old place to the new (ln -s {new} {old}), or start a new experiment beside it: "
        "logger.mlflow.experiment_name=<name> (README: MLflow, moving runs)")
    shutil.rmtree(old, ignore_errors=True)
    old.symlink_to(new)
    MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=moved, experiment_name="beside")  # the old place is the new


def test_a_folder_store_allowed_but_not_writable_gets_one_line(tmp_path, monkeypatch):
    """With MLFLOW_ALLOW_FILE_STORE=true, a folder that cannot be made was MLflow's FileNotFoundError in a
    multi-line Hydra error."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    (tmp_path / "blocker").write_text("a file where the folder would go\n")
    uri = f"file://{tmp_path}/blocker/mlruns"
    with pytest.raises(UserError, match=rf"^logger.mlflow.tracking_uri={uri}: cannot create or write the folder "
                                        r"\(.*\); give a writable folder, or change paths.log_dir$"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri)


def test_names_mlflow_refuses_get_one_line(tmp_path, monkeypatch):
    """An empty experiment name, or one over MLflow's 500 characters, was MLflow's traceback when the run
    started (exit 1)."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a folder store: no database to migrate, fast
    uri = str(tmp_path / "mlruns")
    with pytest.raises(UserError, match=r"^logger.mlflow.experiment_name='' is empty; name the experiment"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, experiment_name="")
    with pytest.raises(UserError, match=r"^logger.mlflow: MLflow refused the experiment or run \(.*500.*\); change "
                                        r"logger.mlflow.experiment_name, run_name or tags$"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri, experiment_name="x" * 501).experiment


def _stopped(kind: str) -> BaseException:
    import optuna

    from trainlab.callbacks.training import SignalStop

    return {"ctrl-c": KeyboardInterrupt(), "sigterm": SignalStop("SIGTERM"),
            "pruned": optuna.TrialPruned("pruned at epoch 1 (check 1)"), "crash": ValueError("boom")}[kind]


@pytest.mark.parametrize("kind,status,why", [("ctrl-c", "KILLED", "Ctrl-C"), ("sigterm", "KILLED", "signal SIGTERM"),
                                             ("pruned", "KILLED", "pruned at epoch 1 (check 1)"),
                                             ("crash", "FAILED", None)])
def test_a_run_stopped_on_purpose_ends_killed_with_the_reason(tmp_path, monkeypatch, kind, status, why):
    """Lightning finalizes every logger with "failed" while it handles the exception that ended training:
    Ctrl-C, SIGTERM and a pruned trial showed FAILED in MLflow, like a crash."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run = MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=str(tmp_path / "mlruns"))
    run.log_metrics({"val/loss": 1.0}, step=0)  # starts the run, as training does
    try:
        raise _stopped(kind)
    except BaseException:  # as Lightning's trainer/call.py does
        run.finalize("failed")
    ended = run.experiment.get_run(run.run_id)
    assert ended.info.status == status
    assert ended.data.tags.get("stopped_by") == why


def test_a_sweeps_runs_are_tagged_with_their_sweep(compose_cfg, tmp_path, monkeypatch):
    """A sweep's trials were MLflow runs with nothing in common to filter on (tags.sweep_dir now)."""
    pytest.importorskip("mlflow")
    from trainlab.loggers import build_loggers, run_label, run_tags

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    cfg = compose_cfg(["hparams_search=optuna", "logger=mlflow", f"logger.mlflow.tracking_uri={tmp_path}/mlruns",
                       "optimizer.lr=0.0042"])
    (logger,) = build_loggers(cfg.logger, run_label(), tags=run_tags())
    run = logger.experiment.get_run(logger.run_id)
    assert run.info.run_name.startswith("lstm_synthetic__optimizer.lr=0.0042")
    assert run.data.tags["sweep_dir"] == str(Path(cfg.hydra.sweep.dir).absolute()) and run.data.tags["sweep_job"] == "0"
    assert run.data.tags["model"] == "lstm" and run.data.tags["run_dir"] == cfg.paths.output_dir  # the config's kept


def test_a_deleted_experiment_is_refused_before_training(tmp_path, monkeypatch):
    """An experiment deleted in the UI (MLflow keeps it in its trash) raised MLflow's traceback at the run's
    first metric: 'already exists in deleted state'."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = str(tmp_path / "mlruns")
    first = MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri)
    first.experiment.delete_experiment(first.experiment_id)
    with pytest.raises(UserError, match=r"^logger.mlflow.experiment_name=trainlab: that experiment was deleted \(it "
                                        r"is in MLflow's trash, id \d+\); restore it .*experiment_name=<name>$"):
        MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri)


def test_a_tracking_store_lost_during_the_run_does_not_end_training(compose_cfg, run_train, tmp_path, monkeypatch,
                                                                     caplog):
    """A server that stopped answering after the start: each request failed after MLflow's retries (about 4
    minutes) with a traceback that ended the run; now one warning, and training and testing go on."""
    pytest.importorskip("mlflow")
    import requests
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    calls = []

    def lost(*args, **kwargs):
        calls.append(1)
        try:
            raise requests.exceptions.ConnectionError("Max retries exceeded with url: /api/2.0/mlflow/runs/log-batch")
        except requests.exceptions.ConnectionError as exc:  # as MLflow's rest_utils raises it
            raise MlflowException(f"API request to http://127.0.0.1:5999 failed with exception {exc}")

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setattr(MlflowClient, "log_batch", lost)  # every metric and parameter goes through it
    cfg = compose_cfg([*TINY, "trainer.max_epochs=1", "logger=mlflow", f"logger.mlflow.tracking_uri={tmp_path}/mlruns"])
    with caplog.at_level("WARNING", logger="trainlab.loggers.mlflow"):
        metrics = run_train(cfg)
    assert "test/rmse" in metrics and RunFolder(Path(cfg.paths.output_dir)).best() is not None
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "trainlab.loggers.mlflow"]
    assert warning.startswith(f"mlflow: the tracking store at {tmp_path}/mlruns stopped answering (API request to")
    assert warning.endswith(f"training goes on without it, its checkpoints and records are in {cfg.paths.output_dir}")
    assert len(calls) == 1  # not again for every later metric


def test_a_server_that_is_no_mlflow_is_refused_in_one_line(tmp_path):
    """Something else answering at the address (TensorBoard, which `make tensorboard` serves on the same default
    port as `make mlflow`): MLflow's traceback about a response that is not JSON."""
    pytest.importorskip("mlflow")
    import http.server
    import threading

    from trainlab.loggers.mlflow import MLflowRun

    class NotMlflow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>TensorBoard</html>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(UserError, match=rf"^logger.mlflow.tracking_uri={uri}: the tracking store refused MLflow's "
                                            r"first request \(.*not in a valid JSON format.*\); is it an MLflow server"):
            MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=uri)
    finally:
        server.shutdown()
        server.server_close()


def test_fast_dev_run_opens_no_logger_run(compose_cfg, run_train, tmp_path, monkeypatch):
    """debug=fdr: Lightning logs nothing into the loggers, and the MLflow run opened for them stayed RUNNING and
    empty for ever (TensorBoard: an empty folder); they are still built, so their settings are checked."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"{tmp_path}/mlruns"
    cfg = compose_cfg([*TINY, "debug=fdr", "logger=[mlflow,tensorboard]", f"logger.mlflow.tracking_uri={uri}"])
    assert "test/rmse" in run_train(cfg)
    assert MlflowClient(uri).get_experiment_by_name("trainlab") is None  # no experiment, no run
    assert not (Path(cfg.paths.output_dir) / "tensorboard").exists()
    with pytest.raises(UserError, match="logger.mlflow.experiment_name='' is empty"):  # still checked
        run_train(compose_cfg([*TINY, "debug=fdr", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}",
                               "logger.mlflow.experiment_name=''"]))


def test_a_resumed_run_names_the_run_it_resumed(compose_cfg, run_train, tmp_path, monkeypatch):
    """A resume is a new MLflow run; nothing tied it to the run whose epochs it goes on from."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"{tmp_path}/mlruns"
    first = compose_cfg([*TINY, "trainer.max_epochs=1", "test=false", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"])
    run_train(first)
    run_train(compose_cfg([*TINY, "test=false", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}",
                           f"ckpt_path={first.paths.output_dir}"]))
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("trainlab").experiment_id],
                              order_by=["attributes.start_time ASC"])
    assert [r.data.tags.get("resumed_from") for r in runs] == [None, str(Path(first.paths.output_dir).resolve())]


def test_long_parameter_values_are_kept_up_to_mlflows_limit(tmp_path, monkeypatch, caplog):
    """Lightning cut every parameter value at 250 characters without a word (MLflow 3 takes 6000)."""
    pytest.importorskip("mlflow")
    from trainlab.loggers.mlflow import MLflowRun

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run = MLflowRun(run_dir=str(tmp_path / "run"), tracking_uri=str(tmp_path / "mlruns"))
    columns = [f"sensor_{i:03d}" for i in range(60)]  # a file's 60 target columns: ~900 characters
    with caplog.at_level("WARNING", logger="trainlab.loggers.mlflow"):
        run.log_hyperparams({"data": {"source": {"target_columns": columns, "path": "x" * 7000}}, "seed": 1})
    params = run.experiment.get_run(run.run_id).data.params
    assert params["data/source/target_columns"] == str(columns) and params["seed"] == "1"
    assert params["data/source/path"] == "x" * 6000
    assert [r.getMessage() for r in caplog.records if r.name == "trainlab.loggers.mlflow"] == [
        "mlflow: data/source/path longer than MLflow's 6000 characters, cut there; resolved_config.yaml among the "
        "run's artifacts holds the whole config"]



@pytest.mark.parametrize("limit, said", [(20000, "a file-size limit stopped the write"), (-1, "the disk is full")])
def test_an_mlflow_database_stopped_by_a_file_size_limit_is_not_called_a_full_disk(tmp_path, monkeypatch, limit,
                                                                                     said):
    """A run under ulimit -f whose mlflow.db reached the limit: sqlite's 'database or disk is full' was said 'the disk
    is full: an SQLite database could not be written' of a disk with room; the study's file already told the two
    apart. Now the MLflow database is told alike (one classification: DiskFull.database), naming the file."""
    import resource
    import shutil
    import sqlite3

    from trainlab.loggers.mlflow import MLflowRun
    from trainlab.run.durable import DiskFull

    database = tmp_path / "mlflow.db"
    database.write_bytes(b"x" * 20000)  # as far as the limit let it grow
    logger = object.__new__(MLflowRun)  # its store is not opened: only what a write meets is tried
    logger._lost, logger._database, logger._tracking_uri = False, database, f"sqlite:///{database}"

    def log_metrics():
        full = sqlite3.OperationalError("database or disk is full")
        full.sqlite_errorcode = sqlite3.SQLITE_FULL
        try:
            raise full
        except sqlite3.OperationalError as exc:
            raise RuntimeError("(sqlite3.OperationalError) database or disk is full [SQL: INSERT ...]") from exc

    fsize = resource.RLIM_INFINITY if limit == -1 else limit
    real = resource.getrlimit
    monkeypatch.setattr(resource, "getrlimit", lambda which: (fsize, fsize) if which == resource.RLIMIT_FSIZE
                        else real(which))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 10, 10 ** 9, 9 * 10 ** 9))
    with pytest.raises(Exception) as raised:
        logger._survive(log_metrics)
    full = DiskFull.of(raised.value)  # as the run's end reads what stopped it
    assert str(full).startswith(f"{said}") and f"the MLflow database '{database}' could not be written" in str(full)
    assert ("ulimit -f unlimited" in str(full)) == (limit != -1)
