"""Loggers of conf/logger: TensorBoard (Lightning's, flushed less often: ``tensorboard.py``), Lightning's CSV
logger, and MLflow (``mlflow.py``; ``mlflow_store.py`` checks where it tracks).

:func:`build_loggers` instantiates the group and names each logger's run after the run itself
(:func:`run_label`), so TensorBoard over all of outputs/ tells the runs apart.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Optional

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError
from trainlab.config.instantiate import build, group_nodes, import_target
from trainlab.config.invocation import task_overrides

_UNSAFE = re.compile(r"[^A-Za-z0-9=.,_+-]+")


def run_label(max_len: int = 120) -> str:
    """``<model>_<data>`` plus the command-line overrides, safe as one folder name.

    TensorBoard lists runs by folder, so ``make tensorboard`` over all of outputs/ shows which model
    and which overrides each curve belongs to, e.g. ``lstm_synthetic__optimizer.lr=0.01``. In a sweep the
    searched keys come first (``hydra.sweeper.params``), so that a label cut at ``max_len`` still tells
    the trials apart.
    """
    if not HydraConfig.initialized():
        return "run"
    hc = HydraConfig.get()
    choices = hc.runtime.choices
    label = f"{choices.get('model', 'model')}_{choices.get('data', 'data')}"
    # left out: model and data (already in front), the logger choice (the logger itself shows the run),
    # where things are written, the sweeper's hand-over
    skip = ("model=", "data=", "optuna_trial=", "+optuna_trial=", "logger=", "logger.", "paths.")
    overrides = [_named_by_file(o) for o in task_overrides() if not o.startswith(skip)]
    searched = set(hc.sweeper.get("params") or {}) if hc.mode == RunMode.MULTIRUN else set()
    overrides.sort(key=lambda o: o.lstrip("+~").partition("=")[0] not in searched)  # stable: else as typed
    if overrides:
        label += "__" + ",".join(overrides)
    return _UNSAFE.sub("-", label)[:max_len]


def _named_by_file(override: str) -> str:
    """``data.source.path=/home/me/data/demand.csv`` as ``data.source.path=demand.csv``: a path's folders
    filled the label, cut at its length, and left out the settings after it; any key ending in ``path`` or
    ``dir`` (``data.source.mask_dir``, ``ckpt_path``) keeps its last name."""
    key, eq, value = override.partition("=")
    name = value.strip("'\"").rstrip("/")
    return f"{key}={name.rsplit('/', 1)[-1]}" if eq and key.endswith(("path", "dir")) and "/" in name else override


def sweep_tags() -> dict[str, str]:
    """In a job of a multirun: its sweep folder and job number (the trial's folder name in it), so that a
    tracking server groups a sweep's runs (MLflow: ``tags.sweep_dir = '...'``); {} in a single run."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return {}
    hc = HydraConfig.get()
    return {"sweep_dir": str(Path(hc.sweep.dir).absolute()), "sweep_job": str(hc.job.num)}


def run_tags(ckpt_path: Optional[str] = None) -> dict[str, str]:
    """Tags that tie a run to others: :func:`sweep_tags`, and ``resumed_from``, the run folder of the
    checkpoint a resumed run starts from (its first epochs are that run's)."""
    from trainlab.run.folder import RunFolder

    resumed = {"resumed_from": str(RunFolder.of_checkpoint(Path(ckpt_path)).path)} if ckpt_path else {}
    return {**sweep_tags(), **resumed}


def build_loggers(nodes: Optional[DictConfig], label: str, open_runs: bool = True,
                  tags: Optional[dict[str, str]] = None) -> list[Any]:
    """Instantiate the logger group; ``label`` names each logger's run: TensorBoard's and CSV's
    ``version``, MLflow's ``run_name`` (unless the config gives one). Loggers that take ``tags`` get
    ``tags`` (:func:`run_tags`) added to the config's. Each is opened here (its folder, its MLflow run), unless
    ``open_runs`` is false: for ``trainer.fast_dev_run``, where Lightning logs nothing into them, and an
    opened MLflow run stayed RUNNING and empty for ever."""
    from lightning.pytorch.loggers import Logger

    loggers = []
    for name, node in group_nodes(nodes, "logger"):
        takes = inspect.signature(import_target(node._target_, f"logger.{name}")).parameters
        named: dict[str, Any] = {key: label for key in ("version", "run_name") if key in takes and node.get(key) is None}
        if "tags" in takes and tags:
            named["tags"] = {**OmegaConf.to_container(node.get("tags") or {}, resolve=True), **tags}
        logger = build(node, f"logger.{name}", Logger, **named)
        loggers.append(logger)
        if not open_runs:
            continue
        try:  # opened here, not at the start of fit: TensorBoard's writer imports its package only then
            logger.experiment
        except ImportError as exc:
            raise UserError(f"logger={name} needs the Python package {exc.name}, which is not installed; pip install "
                            f"{exc.name} (it is in requirements.txt), or choose another logger: logger=csv or "
                            "logger=none") from None
        except OSError as exc:  # its folder cannot be made or written (read-only, a file in the way)
            raise UserError(_unwritable(name, node, exc)) from None
    return loggers


def _unwritable(name: str, node: DictConfig, exc: OSError) -> str:
    """The line for a logger that cannot write where its config says, naming the key that says it."""
    where = Path(str(exc.filename)) if exc.filename else None
    key = next((k for k, v in node.items() if isinstance(v, str) and where is not None and v
                and (where == Path(v) or Path(v) in where.parents or where in Path(v).parents)), None)
    given = f"logger.{name}.{key}={node[key]}" if key else f"logger={name}"
    fix = "give a writable folder, or change paths.log_dir" if key else "give a writable paths.log_dir"
    return f"{given}: cannot write {where or 'its folder'} ({exc.strerror or exc}); {fix} (every run writes below it)"
