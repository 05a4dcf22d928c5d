"""The batch-size finder: refused with one line where it cannot or must not run; its GPU-side logic."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from tests.conftest import TINY
from trainlab.callbacks.batch_size import over_budget, record_in_resolved_config, refusal
from trainlab.config.errors import UserError


def test_refused_on_a_cpu_with_one_line_before_training(compose_cfg, run_train):
    cfg = compose_cfg([*TINY, "callbacks.batch_size_finder.enabled=true"])
    with pytest.raises(UserError, match=r"^callbacks.batch_size_finder.enabled=true needs an NVIDIA GPU") as err:
        run_train(cfg)
    assert "\n" not in str(err.value)
    assert not (Path(cfg.paths.output_dir) / "epochs.jsonl").exists()  # refused before any epoch


def _gpu_trainer(strategy, world_size: int = 1):
    from lightning.pytorch.accelerators import CUDAAccelerator

    return SimpleNamespace(accelerator=CUDAAccelerator(), world_size=world_size, strategy=strategy)


def test_refused_under_ddp():
    from lightning.pytorch.strategies import DDPStrategy

    message = refusal(_gpu_trainer(DDPStrategy(), world_size=2), SimpleNamespace(batch_size=32))
    assert message.startswith("callbacks.batch_size_finder.enabled=true cannot run under DDPStrategy with 2")


def test_refused_in_a_sweep_that_searches_the_batch_size(compose_cfg):
    from lightning.pytorch.strategies import SingleDeviceStrategy

    trainer, data = _gpu_trainer(SingleDeviceStrategy()), SimpleNamespace(batch_size=32)
    cfg = compose_cfg([*TINY, "hparams_search=optuna"])  # lstm's space has data.batch_size
    assert "data.batch_size" in cfg.hydra.sweeper.params
    assert "searches data.batch_size" in refusal(trainer, data)
    OmegaConf.set_readonly(cfg.hydra, False)  # HydraConfig.set_config made it read-only
    with open_dict(cfg):
        del cfg.hydra.sweeper.params["data.batch_size"]
    HydraConfig.instance().set_config(cfg)
    assert refusal(trainer, data) is None  # a sweep over other keys may use the finder
    OmegaConf.set_readonly(cfg.hydra, False)
    cfg.hydra.overrides.task.append("data.batch_size=16,64")  # varied on the command line instead
    HydraConfig.instance().set_config(cfg)
    assert "searches data.batch_size" in refusal(trainer, data)


def test_refused_for_whole_graph_batches(compose_cfg):
    from lightning.pytorch.strategies import SingleDeviceStrategy

    compose_cfg([*TINY])  # a single run, not a sweep

    message = refusal(_gpu_trainer(SingleDeviceStrategy()), SimpleNamespace(batch_size=256, sampled=False))
    assert "one whole-graph batch" in message


def test_memory_budget_reads_as_out_of_memory_to_lightning():
    from lightning.pytorch.utilities.memory import is_oom_error

    gb = 1024**3
    assert over_budget(int(7.5 * gb), 8) is None and over_budget(int(9 * gb), None) is None
    message = over_budget(int(8.5 * gb), 8)
    assert "hardware.memory_gb=8" in message
    assert is_oom_error(RuntimeError(message))  # so the finder steps back to the last size that fitted


def test_found_size_goes_into_the_resolved_config(tmp_path):
    (tmp_path / "resolved_config.yaml").write_text(OmegaConf.to_yaml({"data": {"batch_size": 32, "window": 48}}))
    record_in_resolved_config(tmp_path, 512)
    assert OmegaConf.load(tmp_path / "resolved_config.yaml").data == {"batch_size": 512, "window": 48}
