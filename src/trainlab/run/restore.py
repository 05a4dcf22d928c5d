"""Rebuild a run's model and data module from its saved config and a checkpoint."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from trainlab.config.instantiate import bind_data_dims, build
from trainlab.config.errors import UserError


def restore_model_and_data(run_cfg: DictConfig, ckpt: dict[str, Any], ckpt_name: str):
    """Data module with the checkpoint's scaling statistics, model with the checkpoint's weights."""
    missing = [k for k in ("model", "data") if k not in run_cfg]
    if missing:
        raise UserError(f"the run's .hydra/config.yaml has no {' and no '.join(missing)}: it is not (or no longer) "
                        f"the config of a train.py run; restore it, or evaluate another run ({ckpt_name})")
    datamodule = build(run_cfg.data, "data")
    state = ckpt.get(type(datamodule).__qualname__)
    if state is not None:
        datamodule.load_state_dict(state)
    net = build(run_cfg.model.net, "model.net", **bind_data_dims(run_cfg.model.net, datamodule.dims))
    model = build(run_cfg.model, "model", net=net, optimizer=None, scheduler=None, **datamodule.model_kwargs())
    missing, unexpected = model.load_state_dict(ckpt["state_dict"], strict=False)
    if missing or unexpected:
        raise UserError(
            f"'{ckpt_name}' does not fit {run_cfg.model.net._target_} (missing {len(missing)} tensors, "
            f"e.g. {missing[:2]}; unexpected {len(unexpected)}, e.g. {unexpected[:2]}); it belongs to "
            "another model: pass that run's own directory"
        )
    return model, datamodule
