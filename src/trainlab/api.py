"""Runs from Python in one call (a notebook, a script's loop of runs): ``trainlab.train([...])`` and
``trainlab.evaluate(run)`` and ``trainlab.predict(run, horizon)``, each the command line's run::

    import trainlab

    result = trainlab.train(["data=elnino", "model=cnn", "trainer.max_epochs=3"])   # python train.py data=elnino ...
    result.run_dir, result.metrics["test/rmse"], result.best_checkpoint
    report = trainlab.evaluate(result.run_dir, ["split=val"])        # python evaluate.py ckpt_path=<run> split=val
    ahead = trainlab.predict(result.run_dir, 24)                       # python predict.py ckpt_path=<run> horizon=24
    # (24 months fed back: El Nino's inputs are its past and the month; the default data's are refused past data.steps)

The overrides are the command line's, in its grammar, composed as ``@hydra.main`` composes them (the
same search path: conf/, experiments/, ``config_dir`` as ``--config-dir``), and the run is made by
Hydra's own ``run_job`` in a new folder under ``paths.log_dir`` (``.hydra/``, ``train.log``; the repository's
outputs/ by default, from whatever folder it is called), so
evaluate.py and a resume read it as any other. A refusal raises :class:`UserError` with the line the
command line prints (a misspelt key, a group option that does not exist, a folder that holds a run);
a Ctrl-C or SIGTERM raises ``KeyboardInterrupt`` or ``RunStopped``. What a run set for the process
(torch's threads and flags, the root logger's handlers) is given back when it ends.

Nothing here imports torch, lightning or Hydra at module level: ``import trainlab`` stays cheap.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from trainlab.config.errors import UserError


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` made.

    Args:
        run_dir: the run folder (``outputs/train/runs/<date>_<time>_<suffix>``), as ``ckpt_path=`` takes it.
        metrics: the logged metrics: ``train/*`` and ``val/*`` as the last epoch left them, ``test/*`` of the
            best checkpoint (with ``test=true``), as ``training_summary.json`` records them.
        objective: what a sweep optimises: the best value of ``optimized_metric``, where the checkpoint callback
            keeps its best by it (the default); else ``optimized_metric`` at the last epoch.
        best_checkpoint: the best checkpoint's file, or None when none was kept.
        checkpoint_kept_by: the metric ``best_checkpoint`` is the best by (``callbacks.model_checkpoint.monitor``,
            ``optimized_metric`` unless set apart); None where it is the last epoch's, or the run wrote no
            training_summary.json to say.
    """

    run_dir: Path
    metrics: dict[str, float]
    objective: float
    best_checkpoint: Optional[Path]
    checkpoint_kept_by: Optional[str] = None


@dataclass(frozen=True)
class EvalResult:
    """What :func:`evaluate` made.

    Args:
        out_dir: the evaluation's folder (``outputs/eval/runs/...``): metrics.json, report.json, report.md, plots.
        report: its ``report.md``.
        metrics: the split's metrics (``test/rmse``, ...), as metrics.json holds them.
        details: everything report.json holds (checkpoint, baselines, latency, plots, ...).
    """

    out_dir: Path
    report: Path
    metrics: dict[str, float]
    details: dict[str, Any]


@dataclass(frozen=True)
class PredictResult:
    """What :func:`predict` made.

    Args:
        out_dir: the prediction's folder (``outputs/predict/runs/...``): forecast.csv, forecast.png, forecast.json
            (a series run), anomaly_scores.csv, anomaly_maps.npz, anomaly_maps.png, anomaly_maps.json (an image run),
            or predictions.csv, predictions_map.png, predictions.json (a graph run).
        forecast: its csv: ``forecast.csv``, ``anomaly_scores.csv`` or ``predictions.csv``.
        plot: its png: ``forecast.png``, ``anomaly_maps.png`` or ``predictions_map.png``.
        frame: the csv's rows as a pandas DataFrame (series, time, step, targets in the data's units; or tile,
            score, anomalous pixels; or star identifier, predicted class, class probabilities).
        details: what its json holds (checkpoint, horizon, series, whether forecasts were fed back; or tiles; or
            stars and the count predicted per class).
    """

    out_dir: Path
    forecast: Path
    plot: Path
    frame: Any
    details: dict[str, Any]


def train(overrides: Sequence[str] = (), *, config_dir: Optional[str | os.PathLike] = None,
          config_name: str = "train") -> TrainResult:
    """``python train.py <overrides>`` from Python: one run in a new folder; see the module's docstring.

    Args:
        overrides: the command line's overrides (``["model=cnn", "optimizer.lr=0.01"]``).
        config_dir: a folder of your own config options, as ``--config-dir`` gives it.
        config_name: the primary config, as ``--config-name`` gives it (one of ``config_dir``'s, or conf/'s).
    """
    from trainlab.run.folder import RunFolder
    from trainlab.run.jobs import train_job

    run_dir, metrics = _run("train.py", config_name, overrides, config_dir, lambda cfg: train_job(cfg, exits=False))
    objective = metrics.pop("objective")
    folder = RunFolder(run_dir)
    return TrainResult(run_dir, metrics, objective, folder.best(), folder.checkpoint_kept_by()[1])


def evaluate(ckpt_path_or_run: str | os.PathLike, overrides: Sequence[str] = (), *,
             config_dir: Optional[str | os.PathLike] = None, config_name: str = "eval") -> EvalResult:
    """``python evaluate.py ckpt_path=<ckpt_path_or_run> <overrides>`` from Python (a run folder, e.g.
    :attr:`TrainResult.run_dir`, or a ``.ckpt`` file); ``overrides`` as evaluate.py takes them
    (``split=val``, ``+data.source.path=<file>``)."""
    from trainlab.config.spelling import grammar_value
    from trainlab.run.jobs import evaluate_job

    given = [f"ckpt_path={grammar_value(str(ckpt_path_or_run))}", *_listed(overrides)]
    out_dir, report = _run("evaluate.py", config_name, given, config_dir, lambda cfg: evaluate_job(cfg, exits=False))
    return EvalResult(out_dir, out_dir / "report.md", report["metrics"], report)


def predict(ckpt_path_or_run: str | os.PathLike, horizon: Optional[int] = None, overrides: Sequence[str] = (), *,
            images: Optional[str | os.PathLike] = None, catalogue: Optional[str | os.PathLike] = None,
            future: Optional[str | os.PathLike] = None, config_dir: Optional[str | os.PathLike] = None, config_name: str = "predict") -> PredictResult:
    """``python predict.py ckpt_path=<ckpt_path_or_run> horizon=<horizon> <overrides>`` from Python: the next
    ``horizon`` steps after the end of every series of the run's data; ``overrides`` as predict.py takes
    them (``+data.source.path=<newer file>``); ``future``: the values after the data's end of inputs besides the
    targets and calendar (predict.py's ``future=<file>``). An image run takes ``images=<folder>`` instead of a horizon, a graph
    run ``catalogue=<file>`` (stars; a label column is left out)."""
    from trainlab.config.spelling import grammar_value
    from trainlab.run.jobs import predict_job

    from trainlab.prediction.fit import check_horizon

    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral)):
        check_horizon(horizon)  # predict.py's own line (the same value on its command line)
    horizon = None if horizon is None else int(horizon)  # numpy's integers too (a length, np.arange's values)
    given = [f"ckpt_path={grammar_value(str(ckpt_path_or_run))}", *([f"horizon={horizon}"] if horizon is not None else []),
             *([f"images={grammar_value(str(images))}"] if images is not None else []),
             *([f"catalogue={grammar_value(str(catalogue))}"] if catalogue is not None else []),
             *([f"future={grammar_value(str(future))}"] if future is not None else []), *_listed(overrides)]
    out_dir, made = _run("predict.py", config_name, given, config_dir, lambda cfg: predict_job(cfg, exits=False))
    frame = made.pop("forecast")
    made.pop("out_dir")
    csv, png = (next(f for f in made["files"] if f.endswith(end)) for end in (".csv", ".png"))
    return PredictResult(out_dir, out_dir / csv, out_dir / png, frame, made)


def _listed(overrides: Sequence[str]) -> list[str]:
    """The overrides as a list of strings; one string (``"model=cnn seed=1"``) is refused, not split."""
    if isinstance(overrides, (str, bytes)):
        raise UserError(f"overrides={overrides!r} is one string: give a list, one override each "
                        f"({[str(o) for o in str(overrides).split()]!r})")
    if isinstance(overrides, Mapping):  # iterated, its keys alone were taken: "data has no '='"
        pairs = [f"{key}={_override_value(value)}" for key, value in overrides.items()]
        raise UserError(f"overrides is a dict: give a list, one override each ({pairs!r})")
    return [str(o) for o in overrides]


def _override_value(value: object) -> str:
    """A Python value as an override writes it: None as null, True as true, a list as [a,b]."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return str(value)


def _run(script: str, config_name: str, overrides: Sequence[str], config_dir: Optional[str | os.PathLike],
         job: Callable[[Any], Any]) -> tuple[Path, Any]:
    """Compose ``config_name`` with ``overrides`` as ``python <script> [--config-dir <config_dir>] <overrides>``
    does, and run ``job`` in the run folder Hydra makes; (the folder, what ``job`` returned).

    Hydra's ``@hydra.main`` parses ``sys.argv`` and ends the process on any error (``run_and_report``);
    this makes the same calls it makes (``hydra._internal``: Hydra has no public API for a run with its
    folder, only ``compose``, which makes none), with the same search path and run mode, and raises."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.config.composition import start_problem
    from trainlab.config.invocation import as_script
    from trainlab.config.errors import refusals_raised
    from trainlab.config.command_line import start_checks
    from trainlab.config.quiet_stop import process_given_back
    from trainlab.config.schemas import register_configs
    from trainlab.run.preflight import release_run_folder
    from trainlab.run.root import repo_root

    overrides = _listed(overrides)
    flag = next((o for o in overrides if o.startswith("-")), None)
    if flag is not None:
        raise UserError(f"{flag}: {script.removesuffix('.py')}() takes overrides only (key=value, group=option); "
                        "--config-dir is config_dir=, --config-name config_name=, and a sweep (-m) runs on the "
                        f"command line: python {script} -m ...")
    config_dir = os.path.expanduser(config_dir) if config_dir is not None else None  # a shell's ~, which Python lacks
    argv = [*(["--config-dir", config_dir] if config_dir is not None else []), *overrides]
    from trainlab.config.search_path import added_group_problem

    problem = start_checks(argv) or added_group_problem(argv, config_name)
    if problem:
        raise UserError(problem)
    register_configs()
    search_path = create_automatic_config_search_path(None, None, str(repo_root() / "conf"))
    if config_dir is not None:  # where --config-dir goes (Hydra's _run_hydra)
        search_path.prepend("command-line", f"file://{os.path.abspath(config_dir)}",
                            anchor=SearchPathQuery(provider="schema"))
    # refusals_raised: a check Hydra runs before the job (Preflight: hydra.run.dir holds a run, a full disk)
    global_hydra = GlobalHydra.instance()  # one per process: a caller's own initialize() is given back after
    caller_hydra = global_hydra.hydra if global_hydra.is_initialized() else None
    with process_given_back(), as_script(script, argv), refusals_raised(), _repository_claimed(repo_root()):
        global_hydra.clear()
        try:
            hydra = Hydra.create_main_hydra2(task_name=script.removesuffix(".py"), config_search_path=search_path)
            done = hydra.run(config_name=config_name, task_function=lambda cfg: _refusal_returned(job, cfg),
                             overrides=[*overrides, "hydra.mode=RUN"])
        except Exception as exc:  # noqa: BLE001 - a refusal before the job becomes its one line, the rest re-raised
            problem = start_problem(exc, argv, config_name)
            if problem is None:
                raise
            raise UserError(problem) from None
        finally:
            release_run_folder()  # the run folder's lock, also after a Ctrl-C (Hydra's on_run_end is skipped then)
            global_hydra.clear()
            if caller_hydra is not None:
                global_hydra.initialize(caller_hydra)
    if isinstance(done.return_value, _Refusal):
        raise done.return_value.error
    return Path(done.hydra_cfg.hydra.runtime.output_dir), done.return_value


@contextmanager
def _repository_claimed(root: Path) -> Iterator[None]:
    """``TRAINLAB_ROOT`` set to the checkout for the run where nothing set it, as train.py sets it for its process:
    ``paths.root_dir`` (conf/paths) reads it, and without it a run from a notebook in another folder went to that
    folder's outputs/ (the ETS cache too), where the scripts put every run in the repository's. Unset again after
    the run, as the process's other settings are given back."""
    if os.environ.get("TRAINLAB_ROOT"):
        yield
        return
    os.environ["TRAINLAB_ROOT"] = str(root)
    try:
        yield
    finally:
        os.environ.pop("TRAINLAB_ROOT", None)


@dataclass(frozen=True)
class _Refusal:
    """A job's refusal carried out of Hydra's ``run_job`` as its value: raised there, Hydra writes ``Error
    executing job with overrides: [...]`` to stderr before passing it on, a second line beside the one
    the caller gets (in a notebook's loop of runs, at every bad run)."""

    error: UserError


def _refusal_returned(job: Callable[[Any], Any], cfg: Any) -> Any:
    try:
        return job(cfg)
    except UserError as exc:
        return _Refusal(exc)
