"""MLflow tracking of a run (``logger=mlflow``): Lightning's MLFlowLogger plus what a run leaves behind.

Lightning's logger already sends the hyperparameters (train.py logs the flattened resolved config),
every metric other callbacks log (losses, learning rate, model size, parameter counts, energy) and,
with ``log_model``, checkpoints. :class:`MLflowRun` adds what it lacks:

- checks at construction, before anything trains: mlflow installed, an http(s) server answering as
  MLflow, a URI MLflow takes (no folder: MLflow 3 refuses its file store), an experiment it can log into;
- a tracking store lost during the run costs MLflow's part of it (one warning), not the training;
- a local sqlite database keeps its artifacts beside it, not in ``./mlruns`` of whatever folder the
  command ran from;
- at the end of fit (and again after testing, for files that changed) the run folder's records are
  uploaded: the best checkpoint, resolved_config.yaml, .hydra/, epochs.jsonl, training_summary.json,
  the figures and train.log;
- ``register_model``: the run's artifacts (best checkpoint and config) become a new version of a
  registered model.

mlflow itself (~800 MB with its dependencies) is an optional extra: ``make install-mlflow``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any, Literal, Optional, Union

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from trainlab.config.errors import UserError
from trainlab.config.invocation import leaves
from trainlab.loggers.mlflow_store import (check_experiment, check_store_folder, sqlite_database, store_folder,
                                           unreachable, uri_problem)
from trainlab.run.durable import DiskFull, full_database
from trainlab.run.folder import CHECKPOINTS, RECORDS

log = logging.getLogger(__name__)

INSTALL_HINT = "logger=mlflow needs the mlflow package (~800 MB): make install-mlflow"
# files of the run folder uploaded at the end of fit (and after test, when changed), at the same relative paths
RUN_FILES = RECORDS


def stopped_by(exception: Optional[BaseException]) -> Optional[str]:
    """Why a run was stopped on purpose (Ctrl-C, a signal, a sweep's pruner), or None: a failure."""
    from trainlab.run.preemption import stop_reason

    if isinstance(exception, KeyboardInterrupt):
        return "Ctrl-C"
    optuna = sys.modules.get("optuna")  # a pruned trial; imported already where one can be
    if optuna is not None and isinstance(exception, optuna.TrialPruned):
        return str(exception) or "pruned"
    return stop_reason(exception) if exception is not None else None



class MLflowRun(MLFlowLogger):
    """Lightning's MLFlowLogger for one train.py run, with its run folder uploaded at the end of fit.

    Args:
        run_dir: the run folder; its records (see ``RUN_FILES``) become the MLflow run's artifacts,
            and its path is recorded as the tag ``run_dir``.
        experiment_name, run_name, tags, log_model: as in MLFlowLogger. ``log_model`` is Lightning's
            (``true``: every kept checkpoint at the end, ``all``: each one when saved); the best
            checkpoint goes up as ``checkpoints/<file>`` whatever it says.
        tracking_uri: ``sqlite:///<file>`` (a local database; its folder is created) or the
            ``http(s)://`` address of a tracking server, checked for an answer here.
        artifact_location: where a newly created experiment keeps artifacts; null: beside a sqlite
            database (``<its folder>/mlartifacts``), or the server's choice.
        register_model: after fit, register the best checkpoint as a new version of
            ``registered_model_name`` in the model registry.
        registered_model_name: name in the registry (created when missing).
    """

    def __init__(
        self,
        run_dir: str,
        tracking_uri: str,
        experiment_name: str = "trainlab",
        run_name: Optional[str] = None,
        tags: Optional[dict[str, Any]] = None,
        log_model: Union[bool, Literal["all"]] = False,
        artifact_location: Optional[str] = None,
        register_model: bool = False,
        registered_model_name: Optional[str] = None,
    ):
        # no network at run time: MLflow 3 would send anonymous usage data (users may set it to false)
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        try:
            import mlflow  # noqa: F401 - only to know it is there; Lightning imports what it needs
        except ImportError:
            raise UserError(INSTALL_HINT) from None
        problem = uri_problem(tracking_uri)
        if problem:
            raise UserError(f"logger.mlflow.tracking_uri={tracking_uri}: {problem}")
        beside = False  # artifact_location: the default beside a sqlite database, not the user's
        database: Optional[Path] = None  # the sqlite file of the tracking store, where it is one
        if tracking_uri.startswith(("http://", "https://")):
            reason = unreachable(tracking_uri)
            if reason is not None:
                raise UserError(
                    f"logger.mlflow.tracking_uri={tracking_uri}: no MLflow server answers there ({reason}); start it "
                    f"(`make mlflow PORT=<port>` serves outputs/mlflow.db on 127.0.0.1), fix the address, or leave "
                    f"the key out to log into the local database outputs/mlflow.db"
                )
        elif store_folder(tracking_uri) is not None:
            check_store_folder(tracking_uri, store_folder(tracking_uri))
        elif tracking_uri.startswith("sqlite:///"):
            database = sqlite_database(tracking_uri)
            try:
                database.parent.mkdir(parents=True, exist_ok=True)
                # opened once here: MLflow would retry an unwritable database for minutes, then raise
                sqlite3.connect(database).execute("PRAGMA user_version").close()
            except (OSError, sqlite3.Error) as exc:
                raise UserError(f"logger.mlflow.tracking_uri={tracking_uri}: cannot create or open the database "
                                f"({exc}); give a writable folder (or an MLflow database file), or change paths.log_dir") from None
            if artifact_location is None:
                artifact_location = (database.parent / "mlartifacts").resolve().as_uri()
                beside = True
        if not str(experiment_name).strip():  # MLflow refused it only when the run started, with a traceback
            raise UserError(f"logger.mlflow.experiment_name={experiment_name!r} is empty; name the experiment (any "
                            "text), or leave the key out for 'trainlab'")
        if log_model not in (True, False, "all"):  # Lightning treats any other value like false or true, unsaid
            raise UserError(f"logger.mlflow.log_model={log_model!r} must be false, true (every kept checkpoint at the "
                            "end) or all (each one when saved)")
        given_location = artifact_location
        if register_model and not registered_model_name:
            raise UserError("logger.mlflow.register_model=true needs a name: "
                            "logger.mlflow.registered_model_name=<name>")
        try:  # MLflow opens the store here: a database URI loads its driver
            super().__init__(experiment_name=experiment_name, run_name=run_name, tracking_uri=tracking_uri,
                             tags={"run_dir": str(run_dir), **(tags or {})}, log_model=log_model,
                             artifact_location=artifact_location)
        except ModuleNotFoundError as exc:  # the database's driver (MLflow's own dependencies do not include it)
            raise UserError(f"logger.mlflow.tracking_uri={tracking_uri}: MLflow needs the Python package {exc.name} for "
                            f"this database, which is not installed; pip install {exc.name}, or leave the key out to "
                            "log into the local database outputs/mlflow.db") from None
        check_experiment(tracking_uri, experiment_name, given_location, beside)
        self.run_dir = Path(run_dir)
        self.register_model, self.registered_model_name = register_model, registered_model_name
        self._best_from: Optional[ModelCheckpoint] = None
        self._uploaded: dict[Path, tuple[int, int]] = {}  # file -> (mtime_ns, size) when uploaded
        self._registered = False
        self._lost = False  # the tracking store stopped answering during the run (see _survive)
        self._database = database

    @property
    def experiment(self) -> Any:
        """Lightning's MlflowClient, the experiment and the run made on first use; a name or tag MLflow
        refuses (too long, a run name over its limit) is one line here, not MLflow's traceback."""
        from mlflow.exceptions import MlflowException

        try:
            return super().experiment
        except MlflowException as exc:
            if exc.error_code != "INVALID_PARAMETER_VALUE":
                raise
            raise UserError(f"logger.mlflow: MLflow refused the experiment or run ({exc.message}); change "
                            "logger.mlflow.experiment_name, run_name or tags") from None

    def _survive(self, call: Any, *args: Any) -> None:
        """``call(*args)`` unless the tracking store was lost; a store lost during the run (MLflow's request
        failed after its own retries, about 4 minutes) ends MLflow's part of the run with one warning, not
        the training: its checkpoints and records are in the run folder. A sqlite database that took no more
        ('database or disk is full') stops the run in one line, a file-size limit told from a full disk as a
        study's is (:meth:`trainlab.run.durable.DiskFull.database`)."""
        if self._lost:
            return
        try:
            call(*args)
        except Exception as exc:  # noqa: BLE001 - a full database and a lost store are answered here, the rest re-raised
            if full_database(exc) is not None:  # as a study's: a file-size limit (ulimit -f) is not a full disk
                raise DiskFull.database(full_database(exc), self._database, "the MLflow database "
                                        f"'{self._database or self._tracking_uri}'") from None
            from mlflow.exceptions import MlflowException
            from requests.exceptions import RequestException

            # MLflow raises it inside `except` without `from`: the request's error is the context
            if not isinstance(exc, MlflowException) or not isinstance(exc.__cause__ or exc.__context__,
                                                                      RequestException):
                raise
            self._lost = True
            log.warning("mlflow: the tracking store at %s stopped answering (%s); training goes on without it, its "
                        "checkpoints and records are in %s", self._tracking_uri, " ".join(exc.message.split())[:200],
                        self.run_dir)

    @rank_zero_only
    def log_metrics(self, metrics: Any, step: Optional[int] = None) -> None:
        self._survive(super().log_metrics, metrics, step)

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        self._survive(self._log_params, params)

    def _log_params(self, params: dict[str, Any]) -> None:
        """The config as parameters, ``a/b/c`` for ``a.b.c``, each value whole up to MLflow's limit (6000
        characters in MLflow 3): Lightning cut every value at 250 without a word (a list of columns, a path)."""
        from mlflow.entities import Param
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        flat = {key: str(value) for key, value in leaves(vars(params) if isinstance(params, Namespace) else params, "/")}
        cut = sorted(key for key, value in flat.items() if len(value) > MAX_PARAM_VAL_LENGTH)
        if cut:
            log.warning("mlflow: %s longer than MLflow's %d characters, cut there; resolved_config.yaml among the run's "
                        "artifacts holds the whole config", ", ".join(cut), MAX_PARAM_VAL_LENGTH)
        batch = [Param(key, value[:MAX_PARAM_VAL_LENGTH]) for key, value in flat.items()]
        for start in range(0, len(batch), 100):  # MLflow takes at most 100 parameters per request
            self.experiment.log_batch(self.run_id, params=batch[start:start + 100])

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        self._survive(super().after_save_checkpoint, checkpoint_callback)
        if self._best_from is None and checkpoint_callback.monitor is not None:
            self._best_from = checkpoint_callback  # the one that knows which checkpoint is best

    @property
    def best_checkpoint(self) -> Optional[Path]:
        path = self._best_from.best_model_path if self._best_from is not None else ""
        return Path(path) if path and Path(path).is_file() else None

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        """Upload what changed in the run folder (and register the best checkpoint), then end the run.

        Lightning calls this after fit (after every ``on_fit_end``, so the summary and the figures
        exist), after test (the summary then holds test metrics) and on an exception ("failed"), while
        handling it: a run stopped on purpose (Ctrl-C, SIGTERM, a sweep's pruner) ends KILLED, with the
        reason as the tag ``stopped_by``; any other exception, FAILED.
        """
        self._survive(self._finalize, status)

    def _finalize(self, status: str) -> None:
        why = stopped_by(sys.exc_info()[1]) if status == "failed" else None
        if why is not None and self._initialized:
            status = "KILLED"
            self.experiment.set_tag(self.run_id, "stopped_by", why)
        if self._initialized:  # else no run was ever started: nothing to add to
            best = self.best_checkpoint
            if best is not None:
                self._upload(best, CHECKPOINTS)
            for pattern in RUN_FILES:
                for path in sorted(self.run_dir.glob(pattern)):
                    parent = path.parent.relative_to(self.run_dir).as_posix()
                    self._upload(path, None if parent == "." else parent)
            if status == "success" and self.register_model and not self._registered:
                self._register(best)
        super().finalize(status)

    def _upload(self, path: Path, artifact_path: Optional[str]) -> None:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._uploaded.get(path) != stamp:
            self.experiment.log_artifact(self.run_id, str(path), artifact_path)
            self._uploaded[path] = stamp

    def _register(self, best: Optional[Path]) -> None:
        """A new model version whose source is the run's artifact folder: the best checkpoint (the only
        one in ``checkpoints/``) with the config it was trained with (``.hydra/``) and its records.
        Downloading ``models:/<name>/<version>`` therefore gives a folder that ``evaluate.py
        ckpt_path=<folder>`` takes like a run folder; a checkpoint alone could not be rebuilt."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

        self._registered = True
        if best is None:
            log.warning("mlflow: nothing registered, the run saved no checkpoint with a monitored metric")
            return
        client, name = self.experiment, self.registered_model_name
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
        source = client.get_run(self.run_id).info.artifact_uri
        score = self._best_from.best_model_score
        tags = {"checkpoint": best.name, "monitor": str(self._best_from.monitor),
                "score": f"{float(score):.6g}" if score is not None else ""}
        version = client.create_model_version(name, source, run_id=self.run_id, tags=tags)
        log.info("mlflow: registered %s version %s from %s", name, version.version, best.name)
