"""One default per setting: a config that leaves a key out, a shipped config and the Python API build the
same run, and a checkpoint is rebuilt as it was trained when a default changes (trainlab.run.trained)."""

from __future__ import annotations

import copy
import inspect

import pytest
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

from tests.conftest import TINY, config_options
from trainlab.run.pipeline import build_model_and_data, prepare
from trainlab.run.restore import restore

# an option's own values for its own data, where the class default suits data in general
OWN_VALUES = {("data", "elnino"): {"window", "batch_size"},  # 24 months of a monthly series, in batches of 16
              # the class default (2: dilations 1, 2, 4, 8) is how cnn runs made before the argument were built, and
              # rebuilds them so; the shipped config's 3 sees the default window of 48 steps (receptive field 81)
              ("model", "cnn"): {"dilation_base"}}


def _written_defaults(node: DictConfig, key: str, option: tuple[str, str]):
    """(key, the config's value, the class default) for every argument ``node`` writes, its children too."""
    if not OmegaConf.is_dict(node) or not isinstance(node.get("_target_"), str):
        return
    raw = OmegaConf.to_container(node, resolve=False)
    for name, parameter in inspect.signature(get_class(node._target_)).parameters.items():
        value = raw.get(name)
        if (parameter.default is parameter.empty or name not in raw or value is None or name in OWN_VALUES.get(option, ())
                or (isinstance(value, str) and value.startswith("${"))):
            continue  # null: a size from the data; ${...}: another setting's
        default = list(parameter.default) if isinstance(parameter.default, tuple) else parameter.default
        yield f"{key}.{name}", value, default
    for name in raw:
        if name != "_target_" and not OmegaConf.is_missing(node, name):
            yield from _written_defaults(node[name], f"{key}.{name}", option)


@pytest.mark.parametrize("group, option", [(g, o) for g in ("model", "data") for o in config_options(g)])
def test_shipped_configs_write_the_class_defaults(compose_cfg, group, option):
    """A user's config that leaves a key out gets the class default; a shipped one must then mean the same."""
    cfg = compose_cfg([f"{group}={option}"])
    differ = [f"{key}={value}, class default {default}"
              for key, value, default in _written_defaults(cfg[group], group, (group, option)) if value != default]
    assert not differ, "; ".join(differ)


def _without(cfg: DictConfig, *keys: str) -> DictConfig:
    """``cfg`` as a user's config that does not write ``keys`` (``model.window_scaling``) composes it."""
    with open_dict(cfg):
        for key in keys:
            group, name = key.split(".")
            del cfg[group][name]
    return cfg


def test_a_config_without_window_scaling_gets_the_documented_default(compose_cfg):
    """README (forecasting): ``model.window_scaling``, default ``last``; a user's model config without the key
    got the constructor's ``none``."""
    cfg = prepare(_without(compose_cfg(TINY), "model.window_scaling", "data.target_inputs"))
    model, datamodule = build_model_and_data(cfg)
    assert (model.scaler.mode, datamodule.target_inputs) == ("last", True)


@pytest.mark.parametrize("mode", ["none", "revin", "last", "before the setting existed"])
def test_a_checkpoint_is_rebuilt_with_the_window_scaling_it_was_trained_with(compose_cfg, mode):
    """A run whose config left window_scaling (and target_inputs) to the default is rebuilt from its checkpoint's
    hyperparameters, whatever the default is now; a checkpoint from before the setting existed scaled globally."""
    trained_mode = "none" if mode.startswith("before") else mode
    target_inputs = trained_mode != "none"
    cfg = prepare(compose_cfg([*TINY, f"model.window_scaling={trained_mode}", f"data.target_inputs={target_inputs}"]))
    model, datamodule = build_model_and_data(cfg, training=False)
    datamodule.setup("fit")
    hparams = dict(model.hparams)
    if mode.startswith("before"):
        del hparams["window_scaling"]
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": hparams,
            type(datamodule).__qualname__: datamodule.state_dict()}
    restored, data = restore(_without(cfg, "model.window_scaling", "data.target_inputs"), ckpt, "best.ckpt")
    assert (restored.scaler.mode, data.target_inputs) == (trained_mode, target_inputs)


@pytest.mark.parametrize("target_inputs", [True, False])
def test_a_checkpoint_of_a_task_module_that_keeps_no_target_channels_is_rebuilt_with_its_target_inputs(compose_cfg,
                                                                                                    target_inputs):
    """data.target_inputs was guessed from the task module's stored target_channels: a user's own module that keeps
    none was rebuilt with False, and then refused by the check of the weights' shapes. The data's own record in the
    checkpoint says it; a checkpoint with neither keeps today's default (nothing guessed)."""
    scaling = "last" if target_inputs else "none"
    cfg = prepare(compose_cfg([*TINY, f"data.target_inputs={target_inputs}", f"model.window_scaling={scaling}"]))
    model, datamodule = build_model_and_data(cfg, training=False)
    datamodule.setup("fit")
    hparams = {k: v for k, v in model.hparams.items() if k != "target_channels"}  # as a user's module keeps them
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": hparams,
            type(datamodule).__qualname__: datamodule.state_dict()}
    left_out = _without(cfg, "data.target_inputs")
    restored, data = restore(left_out, ckpt, "best.ckpt")
    assert data.target_inputs is target_inputs and restored.net.lstm.input_size == datamodule.num_features
    del ckpt[type(datamodule).__qualname__]["trained_with"]  # a checkpoint from before the record
    from trainlab.run.trained import trained_settings

    assert "target_inputs" not in trained_settings(left_out, "data", ckpt)


def test_a_resume_names_a_default_that_changed_since_its_checkpoint(compose_cfg, tmp_path, caplog):
    """A resume composes its config anew: one that leaves window_scaling out goes on with today's default, which
    its checkpoint (trained with none) did not have; the warning of differing settings names it."""
    import logging

    import torch

    from trainlab.run.resume_checks import check_resume

    cfg = prepare(compose_cfg([*TINY, "model.window_scaling=none"]))
    model, datamodule = build_model_and_data(cfg)
    datamodule.setup("fit")
    path = tmp_path / "old" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), "epoch": 0,
                type(datamodule).__qualname__: datamodule.state_dict()}, path)
    cfg = prepare(_without(compose_cfg(TINY), "model.window_scaling"))
    model, datamodule = build_model_and_data(cfg)
    datamodule.setup("fit")
    with caplog.at_level(logging.WARNING):
        check_resume(cfg, model, datamodule, str(path))
    assert "model.window_scaling: none -> last (the default now" in caplog.text


def _net_with(cfg: DictConfig, **values) -> DictConfig:
    """A copy of ``cfg`` whose net has ``values`` (None: the key left out, as a user's model config may)."""
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for name, value in values.items():
            if value is None:
                del cfg.model.net[name]
            else:
                cfg.model.net[name] = value
    return cfg


def test_a_resume_and_a_rebuild_take_a_net_argument_whose_default_changed_from_the_checkpoint(compose_cfg, tmp_path,
                                                                                              caplog):
    """The LSTM's dropout default moved 0.0 -> 0.1: a resume of a run whose own model config left model.net.dropout
    out went on with 0.1 (the net's arguments were not in the checkpoint). The checkpoint records them; what this
    config leaves to a default that differs is the checkpoint's, said in one line; a value typed wins (the warning
    of other settings names it, with the checkpoint's value); a checkpoint without the record keeps today's."""
    import logging

    import torch

    from trainlab.run.folder import CONFIG
    from trainlab.run.pipeline import assemble
    from trainlab.run.trained import resume_with_trained_net

    composed = compose_cfg(TINY)
    model, datamodule = build_model_and_data(prepare(_net_with(composed, dropout=0.0)))  # as the old default built it
    datamodule.setup("fit")
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), "epoch": 0,
            type(datamodule).__qualname__: datamodule.state_dict()}
    model.on_save_checkpoint(ckpt)
    assert ckpt["net_arguments"]["dropout"] == 0.0 and ckpt["net_arguments"]["input_size"] == datamodule.dims["in"]
    path = tmp_path / "old" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(ckpt, path)
    (tmp_path / "old" / CONFIG).parent.mkdir()
    left_out = _net_with(composed, dropout=None)  # the run's own config left it out
    OmegaConf.save(OmegaConf.masked_copy(left_out, [k for k in left_out if k != "hydra"]), tmp_path / "old" / CONFIG)

    with caplog.at_level(logging.INFO):
        resumed = assemble(prepare(left_out), ckpt_path=str(path))
    assert resumed.model.net.dropout.p == 0.0
    assert f"ckpt_path={path}: model.net.dropout=0.0, as its run was built (the default is 0.1 now" in caplog.text
    assert "settings differ" not in caplog.text  # the value taken is no difference from that run
    caplog.clear()
    with caplog.at_level(logging.INFO):
        typed = assemble(prepare(_net_with(composed, dropout=0.3)), ckpt_path=str(path))
    assert typed.model.net.dropout.p == 0.3 and "as its run was built" not in caplog.text
    assert "this resume's settings differ from that run's: model.net.dropout: 0.0 -> 0.3" in caplog.text

    restored, _ = restore(left_out, ckpt, "last.ckpt")  # evaluate.py, predict.py
    assert restored.net.dropout.p == 0.0
    del ckpt["net_arguments"]  # a checkpoint from before the record
    assert resume_with_trained_net(left_out, ckpt, str(path)) is left_out
