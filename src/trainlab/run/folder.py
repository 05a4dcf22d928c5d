"""Find a run's checkpoint and its saved config from what the user typed."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from trainlab.config.errors import UserError


def resolve_checkpoint(path: str, prefer: str = "best") -> Path:
    """A .ckpt file as given, or a run directory's checkpoint: ``prefer="best"`` (evaluation) takes the
    best one (checkpoints/best.txt) and falls back to last.ckpt; ``prefer="last"`` (resuming training)
    takes last.ckpt, the state at the end of the last finished epoch."""
    p = Path(path).expanduser()
    if p.is_dir():
        ckpt_dir = p / "checkpoints"
        if not ckpt_dir.is_dir():
            raise UserError(f"ckpt_path: '{path}' is a directory without checkpoints/; give a run directory or a .ckpt file")
        best = ckpt_dir / "best.txt"
        last = ckpt_dir / "last.ckpt"
        if prefer == "last" and last.is_file():
            return last
        if best.is_file() and Path(best.read_text().strip()).is_file():
            return Path(best.read_text().strip())
        if last.is_file():
            return last
        found = sorted(ckpt_dir.glob("*.ckpt"))
        if not found:
            raise UserError(f"ckpt_path: no .ckpt file in '{ckpt_dir}'; the run ended before its first checkpoint")
        return found[-1]
    if not p.is_file():
        raise UserError(f"ckpt_path: '{path}' does not exist; give a .ckpt file or a run directory under outputs/")
    return p


def run_dir_of(ckpt: Path) -> Path:
    """The run directory a checkpoint belongs to (<run>/checkpoints/<file>.ckpt)."""
    return ckpt.resolve().parent.parent


def load_run_config(run_dir: Path) -> DictConfig:
    """The composed config a run saved in .hydra/config.yaml."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        raise UserError(f"'{run_dir}' has no .hydra/config.yaml; evaluate needs a run directory written by train.py")
    import yaml

    try:
        loaded = OmegaConf.load(path)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"'{path}' is not readable YAML ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
                        "the run's config was damaged: restore it, or evaluate another run") from None
    if not isinstance(loaded, DictConfig):
        raise UserError(f"'{path}' holds no mapping of config keys; restore the run's config, or evaluate another run")
    return loaded


def load_checkpoint(path: Path) -> dict:
    """torch.load with weights_only=True; a truncated or foreign file gets a clear message."""
    import pickle

    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError) as exc:
        raise UserError(f"ckpt_path: '{path}' is not a readable checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200]}); was it cut short? pick another .ckpt") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"ckpt_path: '{path}' holds no Lightning checkpoint (no state_dict)")
    return ckpt
