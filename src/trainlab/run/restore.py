"""A saved run built again: the same model and data as :mod:`trainlab.run.pipeline` builds them, with its
checkpoint's weights and the statistics its data module fit at training time (evaluate.py, predict.py).

    restore(run_cfg, ckpt, ckpt_name)   (task module, data module); data that no longer fit the model refused
    with_saved_weights(run_cfg, ckpt, data, ckpt_name)   the task module for a data module built otherwise
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from omegaconf import DictConfig

from trainlab.config.checks import DATA_KEY, run_data_hint
from trainlab.config.errors import UserError
from trainlab.run.pipeline import build_data, build_task_module

log = logging.getLogger(__name__)


def restore(run_cfg: DictConfig, ckpt: dict[str, Any], ckpt_name: str,
            given: Sequence[str] = (), whole_file: bool = False, forecast: bool = False) -> tuple[Any, Any]:
    """(task module, data module) of a saved run: the checkpoint's weights, and the statistics its data
    module fit at training time (scaling, imputation), so evaluation sees data as training did.

    A refusal of the run's data (``data.source.path: file not found``) says how to change that setting:
    the caller gets it from the run's config, not from its own command line. ``given``: the overrides
    of the run's data (``+data.steps=2``, evaluate.py's): data that no longer fit the trained model (other
    columns, steps, inputs) are refused in one line naming them, before any weight is loaded. ``whole_file``
    (evaluate.py's ``split=all``): the data module's test split is every window of the file; ``forecast``
    (predict.py, with ``whole_file``): nothing is scored, so data seen in training are no reason to warn."""
    from trainlab.run.resume_checks import tensor_differences
    from trainlab.run.trained import with_trained

    run_cfg = with_trained(run_cfg, "data", ckpt)  # what the config leaves to defaults, as it was trained
    try:
        datamodule = _restore_data(run_cfg, ckpt, ckpt_name, given, whole_file, forecast)
    except UserError as exc:
        if DATA_KEY.search(str(exc)) and "+data." not in str(exc):
            raise UserError(run_data_hint(str(exc), _kept(run_cfg))) from None
        raise
    told = datamodule.model_kwargs()  # what the data tell the model: class names, target channels, steps
    trained = ckpt.get("hyper_parameters") or {}
    other = [f"{k} {trained[k]} in the checkpoint, {v} here" for k, v in told.items()
             if k in trained and _exact(v) and _exact(trained[k]) and _items(trained[k]) != _items(v)]
    if other:  # same sizes, other meaning: the outputs would be read as the wrong classes
        raise _misfit(given, ckpt_name, "; ".join(other[:2]))
    run_cfg = with_trained(run_cfg, "model", ckpt, told)
    try:
        model = build_task_module(run_cfg, datamodule)
    except UserError as exc:
        if not given:
            raise
        raise _misfit(given, ckpt_name, str(exc)) from None
    missing, unexpected, shapes = tensor_differences(model.state_dict(), ckpt["state_dict"])
    if missing or unexpected:
        raise UserError(
            f"'{ckpt_name}' does not fit {run_cfg.model.net._target_} (missing {len(missing)} tensors, "
            f"e.g. {missing[:2]}; unexpected {len(unexpected)}, e.g. {unexpected[:2]}); it belongs to "
            "another model: pass that run's own directory"
        )
    if shapes:
        raise _misfit(given, ckpt_name, f"the net built for them has {'; '.join(shapes[:2])}")
    model.load_state_dict(ckpt["state_dict"])
    return model, datamodule


def with_saved_weights(run_cfg: DictConfig, ckpt: dict[str, Any], datamodule: Any, ckpt_name: str) -> Any:
    """The task module of ``run_cfg`` (its model settings as trained) for ``datamodule``, a data module the caller
    built from the checkpoint alone (predict.py's ``images=``, ``catalogue=``), with the checkpoint's weights; a
    checkpoint whose tensors do not fit the net so built refused in one line."""
    from trainlab.run.resume_checks import tensor_differences
    from trainlab.run.trained import with_trained

    model = build_task_module(with_trained(run_cfg, "model", ckpt, datamodule.model_kwargs()), datamodule)
    missing, unexpected, shapes = tensor_differences(model.state_dict(), ckpt["state_dict"])
    if missing or unexpected or shapes:
        raise UserError(f"'{ckpt_name}' does not fit the model its run's config builds "
                        f"({(missing + unexpected + shapes)[:2]})")
    model.load_state_dict(ckpt["state_dict"])
    return model


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _exact(value: Any) -> bool:
    """Whether a value the data give the model is compared exactly (names, counts), not as a float statistic."""
    return all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in _items(value))


def _misfit(given: Sequence[str], ckpt_name: str, detail: str) -> UserError:
    """The refusal of data that no longer fit a trained model: the overrides that changed them, else the
    run's own data (its file edited since training)."""
    if given:
        return UserError(f"{' '.join(given)} changes the model that '{ckpt_name}' holds ({detail}); a trained model "
                         "takes the columns and data.* sizes it was trained with: give data with those, or leave the "
                         "override out")
    return UserError(f"the run's data no longer fit '{ckpt_name}' ({detail}); was its file changed since training? "
                     "restore it, or give the original: +data.source.path=<file>")


def _kept(run_cfg: DictConfig) -> tuple[str, ...]:
    """The run's data arguments its model was trained with (the data module's ``TRAINED_WITH``)."""
    from hydra.utils import get_class

    return getattr(get_class(run_cfg.data._target_), "TRAINED_WITH", ())


def _restore_data(run_cfg: DictConfig, ckpt: dict[str, Any], ckpt_name: str, given: Sequence[str],
                  whole_file: bool = False, forecast: bool = False) -> Any:
    changed = [g for g in given if g.split("=", 1)[0].removeprefix("+data.") in _kept(run_cfg)]
    if changed:
        key = changed[0].split("=", 1)[0].lstrip("+")
        task, script = ("forecast", "predict.py") if forecast else ("tested", "evaluate.py")
        raise UserError(f"{changed[0]}: the model in '{ckpt_name}' was trained with the run's own {key}, and with "
                        f"another it would be {task} on a task it was not trained for; {script} keeps it: leave "
                        "the override out, or train a run with it")
    datamodule = build_data(run_cfg)
    datamodule.of_a_saved_run()
    if whole_file:
        if not hasattr(datamodule, "score_whole_file"):
            raise UserError(f"split=all scores every window of a series file; this is a {datamodule.family} run, "
                            "whose data have no such reading: use split=test or split=val")
        datamodule.score_whole_file(forecast=True) if forecast else datamodule.score_whole_file()
    state = ckpt.get(type(datamodule).__qualname__)
    if state is not None:  # read as the run read them (its categories), not as this file alone would be
        datamodule.read_as_saved(state)
    datamodule.setup("fit")  # the data's own refusals (a file not found) before the model's
    if state is not None:
        sizes = datamodule.size_differences(state)
        if sizes:  # other columns (channels, features): scaling them with the checkpoint's would not even broadcast
            raise _misfit(given, ckpt_name, f"other columns or channels: {sizes[0]}")
        if forecast:  # another step or other series: a forecast would continue what the model never learned
            from trainlab.prediction.fit import check_same_series

            check_same_series(state, datamodule.fingerprint(), ckpt_name)
        changed = datamodule.data_differences(state)
        if whole_file and not changed and not forecast:
            log.warning("split=all on the data '%s' was trained on: most of the windows scored are ones it learned "
                        "from; give a new file: +data.source.path=<file>", ckpt_name)
        if changed:  # evaluating on new data is legitimate, but should not pass for the run's own; a newer
            # file is what a forecast is for: said, not warned
            say = log.info if forecast else log.warning
            say("the data differ from those '%s' was trained on (%s); it is %s them with its training scaling",
                ckpt_name, "; ".join(changed), "forecast from" if forecast else "evaluated on")
        datamodule.load_state_dict(state)
    return datamodule
