"""What a resume says of its settings against the run it goes on from (src/trainlab/run/resume_settings.py): only
what the user changed, and every such change. A run of an older trainlab lacks the keys added since, which hold
their defaults; two forms of the same devices are the same devices."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from tests.conftest import TINY
from trainlab.config.errors import UserError
from trainlab.run.pipeline import build_model_and_data, prepare
from trainlab.run.resume_checks import check_resume
from trainlab.run.resume_settings import device_change


def _run_with_checkpoint(cfg) -> str:
    """A checkpoint of ``cfg``'s model after one epoch, in its run folder (whose .hydra/config.yaml compose_cfg
    wrote), made by hand: what check_resume reads of it."""
    model, datamodule = build_model_and_data(prepare(cfg))
    datamodule.setup("fit")
    path = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), "epoch": 0,
                type(datamodule).__qualname__: datamodule.state_dict()}, path)
    return str(path)


def _resume(cfg, ckpt: str, caplog, **hardware) -> list[str]:
    """The lines check_resume says of ``cfg`` resuming ``ckpt`` (``hardware``: set after the profile was applied,
    as on another machine)."""
    cfg = prepare(cfg)
    model, datamodule = build_model_and_data(cfg)
    datamodule.setup("fit")
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for key, value in hardware.items():
            cfg.hardware[key] = value
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="trainlab.run"):
        check_resume(cfg, model, datamodule, ckpt)
    return [r.getMessage() for r in caplog.records if "this resume" in r.getMessage()]


def test_keys_added_since_an_older_run_are_no_difference_unless_set(compose_cfg, caplog):
    """A run of an older trainlab, whose config lacks keys added since (data.source.seed, callbacks.energy,
    hardware.host_memory_keep_mb), was refused as 'trained on other data (data.source.seed: None -> ${seed})' and
    listed every new key as a setting that differs; keys holding their defaults are no difference, one the resume
    sets is."""
    first = compose_cfg([*TINY, "trainer.max_epochs=1"])
    ckpt = _run_with_checkpoint(first)
    saved = Path(first.paths.output_dir) / ".hydra" / "config.yaml"
    old = OmegaConf.load(saved)
    with open_dict(old):
        del old.data.source.seed, old.callbacks.energy, old.hardware.host_memory_keep_mb
    OmegaConf.save(old, saved)
    said = _resume(compose_cfg([*TINY, "trainer.max_epochs=2"]), ckpt, caplog)
    assert said == ["ckpt_path=%s: this resume goes on with trainer.max_epochs: 1 -> 2 (settings a resume may change: "
                    "its length, its test, early stopping's patience, its display, its logger, its loader workers, its "
                    "devices)" % ckpt]
    said = _resume(compose_cfg([*TINY, "trainer.max_epochs=2", "hardware.host_memory_keep_mb=128",
                                "callbacks.energy=null"]), ckpt, caplog)
    assert len(said) == 1 and "hardware.host_memory_keep_mb: None -> 128" in said[0]
    assert "callbacks.energy" not in said[0]  # absent there, none here: the same
    # a key the run had and the resume changes is still a difference: the data's seed refuses as before
    old.data.source.seed = 5
    OmegaConf.save(old, saved)
    with pytest.raises(UserError, match=r"trained on other data \(data.source.seed: 5 -> "):
        _resume(compose_cfg([*TINY, "trainer.max_epochs=2"]), ckpt, caplog)


def test_devices_are_compared_by_what_they_name(compose_cfg, caplog):
    """hardware.devices=1 and [0] are the same GPU; a resume on [1] trains on another, and said nothing (the
    devices were left to the effective batch's line, which sees the same count)."""
    first = compose_cfg([*TINY, "trainer.max_epochs=1"])
    ckpt = _run_with_checkpoint(first)
    saved = Path(first.paths.output_dir) / ".hydra" / "config.yaml"
    OmegaConf.save(OmegaConf.merge(OmegaConf.load(saved), {"hardware": {"accelerator": "gpu"}}), saved)  # a GPU run
    resume = [*TINY, "trainer.max_epochs=2"]
    said = _resume(compose_cfg(resume), ckpt, caplog, accelerator="gpu", devices=[0])
    assert len(said) == 1 and "devices:" not in said[0]
    said = _resume(compose_cfg(resume), ckpt, caplog, accelerator="gpu", devices=[1])
    assert len(said) == 1 and "trainer.max_epochs: 1 -> 2; hardware.devices: 1 -> [1] (GPUs 0 -> 1)" in said[0]


@pytest.mark.parametrize("old, new, accelerator, line", [
    (1, [0], "gpu", None), (1, "1", "cpu", None), (2, "0,1", "gpu", None), (-1, "auto", "gpu", None),
    ("1,", 1, "gpu", "hardware.devices: 1, -> 1 (GPUs 1 -> 0)"),
    (2, 1, "cpu", "hardware.devices: 2 -> 1 (2 -> 1 training processes)"),
    ([0, 1], [2, 3], "gpu", "hardware.devices: [0, 1] -> [2, 3] (GPUs 0,1 -> 2,3)"),
])
def test_device_forms(old, new, accelerator, line):
    assert device_change(old, new, accelerator, "hardware.devices") == ([line] if line else [])


def test_a_net_argument_added_since_the_run_is_compared_with_the_default_it_was_built_with(compose_cfg, caplog):
    """A cnn run made before model.net.dilation_base existed was built with the argument's default, dilations 1, 2,
    4, 8; resumed under today's config (dilation_base 3), its weights fit and it trained on with other dilations,
    said as 'None -> 3' (or, with the resume's own overrides read, not at all: a key the run lacks was taken for a
    default). It is compared with the default it was built with, and said as such."""
    cnn = ["model=cnn", *[o for o in TINY if not o.startswith("model.")]]
    first = compose_cfg([*cnn, "trainer.max_epochs=1"])
    ckpt = _run_with_checkpoint(first)
    saved = Path(first.paths.output_dir) / ".hydra" / "config.yaml"
    old = OmegaConf.load(saved)
    with open_dict(old):
        del old.model.net.dilation_base  # as a run of the version before wrote it
    OmegaConf.save(old, saved)
    said = _resume(compose_cfg([*cnn, "trainer.max_epochs=2"]), ckpt, caplog)
    assert any("model.net.dilation_base: 2 (its default; that run's config predates the key) -> 3" in s
               for s in said), said
    said = _resume(compose_cfg([*cnn, "trainer.max_epochs=2", "model.net.dilation_base=2"]), ckpt, caplog)
    assert not any("dilation_base" in s for s in said), said  # built as that run was: nothing to say
