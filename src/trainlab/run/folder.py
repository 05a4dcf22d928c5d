"""The run folder: the one module that knows its layout (the repository is found by :mod:`trainlab.run.root`, what
a user typed as ``ckpt_path`` by :mod:`trainlab.run.checkpoint_path`).

A run folder (``outputs/train/runs/<date>_<time>_<suffix>/``, or ``<sweep>/<job number>/``) holds::

    .hydra/config.yaml          the composed config, as Hydra saved it (unresolved)
    .hydra/overrides.yaml       the command line's overrides
    resolved_config.yaml        the config with every interpolation and ``auto`` value resolved
    checkpoints/*.ckpt          top-k by the monitored metric, ``last.ckpt``, ``on_exception.ckpt``
    checkpoints/best.txt        the best checkpoint's file name, relative to checkpoints/
    epochs.jsonl, training_summary.json, training_curves.png   the run's records
    train.log                   everything printed

Paths inside the folder are stored relative to it, so a copied or moved folder is evaluated and
resumed from its own files. Config files name the checkpoint folder through ``paths.checkpoint_dir``
(conf/paths/default.yaml), which must stay ``<output_dir>/checkpoints`` (tests/test_configs.py).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf

from trainlab.config.spelling import command_line, typed_setting
from trainlab.config.errors import UserError
from trainlab.run.durable import read_json, read_yaml, write_atomic

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
ON_EXCEPTION = "on_exception.ckpt"  # conf/callbacks/on_exception.yaml: the weights when training stopped, mid-epoch
BEST_POINTER = "best.txt"
CONFIG = ".hydra/config.yaml"
OVERRIDES = ".hydra/overrides.yaml"
HYDRA_CONFIG = ".hydra/hydra.yaml"
RESOLVED_CONFIG = "resolved_config.yaml"
EPOCHS = "epochs.jsonl"
SUMMARY = "training_summary.json"
CURVES = "training_curves.png"
RECORDS = (RESOLVED_CONFIG, ".hydra/*.yaml", EPOCHS, SUMMARY, "*.png", "*.log")  # what trackers upload

# module paths of round 1, as saved in older runs' .hydra/config.yaml (evaluate.py reads those)
_MOVED_MODULES = {
    "trainlab.models.regression": "trainlab.models.timeseries",
    "trainlab.models.classification": "trainlab.models.graph",
    "trainlab.models.segmentation": "trainlab.models.image",
    "trainlab.data.timeseries": "trainlab.data.timeseries.module",
    "trainlab.data.sources": "trainlab.data.timeseries.sources",
    "trainlab.data.graph": "trainlab.data.graph.module",
    "trainlab.data.catalogue": "trainlab.data.graph.catalogue",
    "trainlab.data.sky": "trainlab.data.image.module",
    "trainlab.data.sky_sources": "trainlab.data.image.sources",
    "trainlab.data.anomalies": "trainlab.data.image.anomalies",
    "trainlab.callbacks": "trainlab.callbacks.training",
    "trainlab.records": "trainlab.callbacks.records",
    "trainlab.energy": "trainlab.callbacks.energy",
    "trainlab.tracking": "trainlab.loggers.mlflow",
}
# classes that left a module which stays, by full name (applied after _MOVED_MODULES, so a round-1 path
# of a class that moved twice reaches its present home)
_MOVED_CLASSES = {
    "trainlab.data.graph.catalogue.SyntheticGaia": "trainlab.data.graph.synthetic.SyntheticGaia",
    "trainlab.data.timeseries.sources.SyntheticSeries": "trainlab.data.timeseries.synthetic.SyntheticSeries",
    "trainlab.data.timeseries.sources.ElNinoSST": "trainlab.data.timeseries.packaged.ElNinoSST",
    "trainlab.data.image.sources.ImageFolder": "trainlab.data.image.folder.ImageFolder",
    **{f"trainlab.callbacks.training.{name}": f"trainlab.callbacks.checkpoints.{name}"
       for name in ("EpochSeed", "ModelCheckpoint", "CheckpointOnException")},
}


def _upgraded(target: str) -> str:
    """A ``_target_`` at its present home: its module's (``_MOVED_MODULES``), then its own (``_MOVED_CLASSES``)."""
    module, name = target.rsplit(".", 1)
    target = f"{_MOVED_MODULES.get(module, module)}.{name}"
    return _MOVED_CLASSES.get(target, target)


def _upgrade_targets(node: DictConfig) -> None:
    """Rewrite ``_target_`` values that name a moved module or class to its new home, in place."""
    for key in list(node.keys()):
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _upgrade_targets(child)
        elif key == "_target_" and isinstance(child._value(), str) and "." in child._value():
            upgraded = _upgraded(child._value())
            if upgraded != child._value():
                node[key] = upgraded


class RunFolder:
    """A run's folder on disk: where its files are, and which checkpoint to take."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def of_checkpoint(cls, ckpt: Path) -> "RunFolder":
        """The folder a checkpoint belongs to (``<run>/checkpoints/<file>.ckpt``)."""
        return cls(Path(ckpt).resolve().parent.parent)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    # -- the best checkpoint ---------------------------------------------------------------
    def record_best(self, ckpt: str | os.PathLike) -> None:
        """Remember the best checkpoint by its name inside checkpoints/ (never an absolute path)."""
        ckpt = Path(ckpt)
        if ckpt.resolve().parent != self.checkpoints.resolve():
            raise ValueError(f"{ckpt} is not in {self.checkpoints}")
        write_atomic(self.checkpoints / BEST_POINTER, ckpt.name + "\n")

    def best(self) -> Optional[Path]:
        """The recorded best checkpoint in this folder, or None.

        Older runs recorded an absolute path: only its file name is used, looked up in this folder,
        so a copied folder never reaches back into the original's files.
        """
        pointer = self.checkpoints / BEST_POINTER
        if not pointer.is_file():
            return None
        candidate = self.checkpoints / Path(pointer.read_text().strip()).name
        return candidate if candidate.is_file() else None

    def _best_of_sweep(self, runs: list[Path]) -> Optional[str]:
        """``the sweep's best (trial 1, val/loss 0.1815): ckpt_path=<its folder>`` for a sweep folder whose
        optimization_results.yaml names its best run (the newest trial is no better than any other); else None."""
        import yaml

        try:
            results = yaml.safe_load((self.path / "optimization_results.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        best = results.get("best_run_dir") if isinstance(results, dict) else None
        if not isinstance(best, str) or (self.path / best) not in runs:
            return None
        return (f"the sweep's best (trial {results.get('best_trial')}, {results.get('metric')} "
                f"{results.get('best_value'):.4g}): {typed_setting('ckpt_path', self.path / best)}"
                if isinstance(results.get("best_value"), float) else
                f"the sweep's best: {typed_setting('ckpt_path', self.path / best)}")

    def checkpoint(self, prefer: str = "best", given: str = "") -> Path:
        """``prefer="best"`` (evaluation): the best checkpoint (recorded in best.txt when training ended, else
        the one the checkpoint callback held best when last.ckpt was written: an interrupted run's), else
        last.ckpt, else the last epoch file by name; ``prefer="last"`` (resuming): last.ckpt, the state at
        the end of the last finished epoch, else on_exception.ckpt (a run stopped during its first epoch).
        A run stopped before its first checkpoint is not evaluated through its folder: its
        on_exception.ckpt is a mid-epoch snapshot, evaluated only when named."""
        shown = given or str(self.path)
        if not self.checkpoints.is_dir():
            runs = sorted((p for p in self.path.iterdir() if (p / CHECKPOINTS).is_dir()), key=lambda p: p.stat().st_mtime)
            if runs:  # a sweep's folder, or outputs/train/runs itself
                raise UserError(f"ckpt_path: '{shown}' holds {len(runs)} run(s), not one; give one of them, e.g. "
                                f"{self._best_of_sweep(runs) or 'the newest: ' + typed_setting('ckpt_path', runs[-1])}")
            if (self.path / CONFIG).is_file():  # a train.py run stopped (killed) before its first checkpoint
                raise UserError(f"ckpt_path: '{shown}' is a run that stopped before its first checkpoint (no "
                                f"{CHECKPOINTS}/): nothing to resume or evaluate; start it again: "
                                f"{self._start_again()}")
            raise UserError(f"ckpt_path: '{shown}' is a directory without {CHECKPOINTS}/; give a run directory "
                            "or a .ckpt file")
        last = self.checkpoints / LAST
        if prefer == "last" and last.is_file():
            return last
        best = self.best()
        if best is None and prefer == "best" and last.is_file():
            best = self._best_held_by(last)
        if best is not None:
            return best
        if last.is_file():
            return last
        found = sorted(p for p in self.checkpoints.glob("*.ckpt") if p.name != ON_EXCEPTION)
        if found:
            return found[-1]
        stopped = self.checkpoints / ON_EXCEPTION
        if stopped.is_file() and prefer == "last":
            return stopped
        if stopped.is_file():
            raise UserError(f"ckpt_path: '{shown}' stopped before its first checkpoint (the end of an epoch): it holds "
                            f"only {ON_EXCEPTION}, its weights when it stopped, mid-epoch; resume training with "
                            f"python train.py <its overrides> {typed_setting('ckpt_path', shown)}, or evaluate that "
                            f"snapshot by name: {typed_setting('ckpt_path', stopped)}")
        raise UserError(f"ckpt_path: no .ckpt file in '{self.checkpoints}'; the run ended before its "
                        "first checkpoint")

    def _best_held_by(self, ckpt: Path) -> Optional[Path]:
        """The best checkpoint the checkpoint callback recorded in ``ckpt`` (an absolute path, of the folder as
        it was then), looked up by name in this folder; None when it names none that is here."""
        from trainlab.run.checkpoint_path import load_checkpoint  # which imports this module

        try:
            state = load_checkpoint(ckpt).get("callbacks", {})
        except UserError:  # unreadable: taken as last.ckpt, whose loading then says why
            return None
        names = [Path(v.get("best_model_path") or "").name for k, v in state.items()
                 if k.startswith("ModelCheckpoint") and isinstance(v, dict)]
        found = [self.checkpoints / n for n in names if n and (self.checkpoints / n).is_file()]
        return found[0] if found else None

    # -- its config ------------------------------------------------------------------------
    def config(self) -> DictConfig:
        """The composed config the run saved (.hydra/config.yaml), with moved modules and classes upgraded."""
        path = self.path / CONFIG
        if not path.is_file():
            # said for evaluate.py and predict.py alike; a .ckpt copied out of its run lands here too
            raise UserError(f"'{self.path}' has no {CONFIG}; a checkpoint is read with the config its run saved: give "
                            f"a run directory written by train.py, or a .ckpt file in its {CHECKPOINTS}/ folder")
        cfg = read_yaml(path, "the run's config was damaged: restore it, or evaluate another run", OmegaConf.load)
        if not isinstance(cfg, DictConfig):
            raise UserError(f"'{path}' holds no mapping of config keys; restore the run's config, or evaluate another run")
        missing = [k for k in ("model", "data") if k not in cfg]
        if missing:
            raise UserError(f"'{self.path}': its {CONFIG} has no {' and no '.join(missing)}: it is not (or no longer) "
                            "the config of a train.py run; restore it, or evaluate another run")
        _upgrade_targets(cfg)
        self._pin_environment(cfg)
        self._anchor_data_paths(cfg)
        return cfg

    def _pin_environment(self, cfg: DictConfig) -> None:
        """Every value of the run's config that reads an environment variable (``paths.root_dir:
        ${oc.env:TRAINLAB_ROOT,.}``) set to what it was in the run (its resolved_config.yaml): resolved later it
        took evaluate.py's environment, another checkout's folder or none, and the run's files were looked for
        there. A run without that file (killed before it was written) keeps them as they are."""
        from trainlab.config.invocation import leaves

        resolved_file = self.path / RESOLVED_CONFIG
        try:
            resolved = read_yaml(resolved_file, "", OmegaConf.load) if resolved_file.is_file() else None
        except UserError:  # damaged: the variables are read from this environment, as before
            resolved = None
        if not isinstance(resolved, DictConfig):
            return
        raw = OmegaConf.to_container(cfg, resolve=False)
        for key, value in leaves(raw):
            if isinstance(value, str) and "${oc.env:" in value:
                was = OmegaConf.select(resolved, key, default=None, throw_on_resolution_failure=False)
                if was is not None and not OmegaConf.is_config(was):
                    OmegaConf.update(cfg, key, was, force_add=True)

    def _anchor_data_paths(self, cfg: DictConfig) -> None:
        """Relative data paths of the run's config, and its relative ``paths.*`` (``paths.log_dir=./o``, the
        default ``paths.root_dir`` '.'), made absolute against the folder its train.py started in
        (.hydra/hydra.yaml's ``hydra.runtime.cwd``, which read them so): evaluate.py started elsewhere then
        reads the run's own files, not whatever has that name in its own working folder, and what the run's
        data write through them (``data.baseline_cache: ${paths.log_dir}/baselines``) lands where the run's
        did, not in a stray ./o/baselines of evaluate's working folder."""
        hydra_file = self.path / HYDRA_CONFIG
        try:
            saved = read_yaml(hydra_file, "relative data paths are read from the working folder", OmegaConf.load) \
                if hydra_file.is_file() else None
        except UserError as exc:  # only the folder the run started in is lost: a warning, not a refusal
            log.warning("%s", exc)
            saved = None
        started_in = OmegaConf.select(saved, "hydra.runtime.cwd") if isinstance(saved, DictConfig) else None
        if started_in:
            for node, key in _data_paths(cfg.data):
                node[key] = str(Path(started_in) / node[key])
            _anchor_run_paths(cfg, Path(started_in))

    def overrides(self) -> list[str]:
        """The command-line overrides the run was started with (.hydra/overrides.yaml)."""
        path = self.path / OVERRIDES
        if not path.is_file():
            raise UserError(f"'{self.path}' has no {OVERRIDES}; was it written by train.py?")
        overrides = read_yaml(path, "the run's command-line options are lost: give them again yourself", OmegaConf.load)
        if not isinstance(overrides, ListConfig):
            raise UserError(f"'{path}' holds no list of overrides; the run's command-line options are lost: give "
                            "them again yourself")
        return [str(o) for o in overrides]

    def tested(self) -> bool:
        """Whether the run's test ended (its metrics are in training_summary.json); False for a run killed
        before or while testing, and for a summary a kill cut short."""
        try:
            return "test" in read_json(self.path / SUMMARY, "")
        except (OSError, UserError, TypeError):
            return False

    def checkpoint_kept_by(self) -> tuple[bool, Optional[str]]:
        """(known, metric): the metric the run's kept checkpoint is the best by, as training_summary.json's
        ``checkpoint`` records it (None: the last epoch's); (False, None) where the summary does not say (no
        run_records, a run of an older trainlab, no checkpoint kept)."""
        try:
            kept = read_json(self.path / SUMMARY, "").get("checkpoint")
        except (OSError, UserError, TypeError, AttributeError):
            return False, None
        return (True, kept.get("kept_by")) if isinstance(kept, dict) else (False, None)

    def _start_again(self) -> str:
        """The command that starts the run again with its own options, quoted for the shell (an option holding
        a folder with a space); with a placeholder when they are unreadable."""
        try:
            return command_line("train.py", self.overrides())
        except UserError:
            return "python train.py <its options>"



def _anchor_run_paths(cfg: DictConfig, started_in: Path) -> None:
    """Each of the run's ``paths.*`` whose value is a relative path, as the run resolved it, replaced by that
    path under ``started_in``. Keys of Hydra's runtime (``paths.output_dir``: the run folder, absolute) and
    those that do not resolve outside the run are left as they are."""
    from omegaconf.errors import OmegaConfBaseException

    paths = cfg.get("paths")
    if not isinstance(paths, DictConfig):
        return
    for key in list(paths):
        raw = paths._get_node(key)._value() if not isinstance(paths._get_node(key), DictConfig) else None
        if not isinstance(raw, str) or "hydra:" in raw:
            continue
        try:
            value = paths[key]
        except OmegaConfBaseException:  # an interpolation of something this config lacks: left to resolve later
            continue
        if isinstance(value, str) and value and "://" not in value and not Path(value).expanduser().is_absolute():
            paths[key] = str(started_in / value)


def _data_paths(node: Any) -> list[tuple[DictConfig, str]]:
    """(node, key) of each relative file or folder path in a data config: a plain string (no
    interpolation) under a key named ``path`` or ending in ``_path``, ``_dir`` or ``_cache``
    (``baseline_cache``)."""
    if not isinstance(node, DictConfig):
        return []
    found = []
    for key in node:
        value = node._get_node(key)._value() if not isinstance(node._get_node(key), DictConfig) else None
        if (isinstance(value, str) and (key == "path" or str(key).endswith(("_path", "_dir", "_cache"))) and "${" not in value
                and not Path(value).expanduser().is_absolute()):
            found.append((node, key))
        found.extend(_data_paths(node._get_node(key)))
    return found


# what makes a run folder worth keeping: a checkpoint, an epoch's record, evaluation metrics
_KEPT = ("**/*.ckpt", EPOCHS, "metrics.json")


def discard_unstarted_run() -> Optional[str]:
    """Remove the run folder of a run that stopped before it produced anything (a bad setting, a
    missing package, a GPU profile without a GPU), so that outputs/ holds no folders with only a log.

    Only single runs: a sweep's trial folders stay, the sweep records their failures. Returns a note
    for the error line, or None when the folder was kept.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None

    hc = HydraConfig.get()
    # unset while Hydra composes (it sets the config before the job's folder): a Ctrl-C then reads it here
    output_dir = OmegaConf.select(hc, "runtime.output_dir", default=None, throw_on_missing=False)
    if output_dir is None or hc.mode == RunMode.MULTIRUN:
        return None
    folder = Path(output_dir)
    if not folder.is_dir() or any(any(folder.glob(p)) for p in _KEPT):
        return None
    root = logging.getLogger()
    for handler in list(root.handlers):  # the run's log file lives in the folder
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(folder):
            handler.close()
            root.removeHandler(handler)  # a closed FileHandler opens its file again for the next line (an atexit
            # hook's): in a removed folder, that printed a FileNotFoundError traceback after our error line
    shutil.rmtree(folder, ignore_errors=True)
    from trainlab.run.preemption import remove_job_note

    remove_job_note()  # a SLURM job's note naming the folder for a requeue's attempt
    return "nothing was run, so its run folder was removed"
