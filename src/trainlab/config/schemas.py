"""Typed schemas for the config groups where a typo is most likely (hardware, trainer).

A group file extends its schema through its defaults list (``- /hardware_schema@_here_``), so a
misspelt key or a value of the wrong type fails at composition with a message that names the key.
Only dataclasses and OmegaConf live here: this module is imported before Hydra composes anything and
must stay free of torch and lightning.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "auto")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
GPU_ACCELERATORS = ("gpu", "cuda")  # the two of them that mean a CUDA GPU
MATMUL_PRECISIONS = ("highest", "high", "medium")


@dataclass
class HardwareConf:
    """What one machine class can do; trainer and data configs interpolate these keys.

    ``auto`` values (accelerator, precision) are replaced by concrete ones at run time by
    :func:`trainlab.run.hardware.apply_hardware`, before anything reads them.
    """

    name: str = "cpu"
    accelerator: str = "cpu"  # one of ACCELERATORS
    devices: Any = 1  # int, list of ids or "auto"
    precision: str = "32-true"  # one of PRECISIONS
    float32_matmul_precision: str = "highest"  # torch.set_float32_matmul_precision
    allow_tf32: bool = False  # TF32 in cuDNN convolutions (Ampere and newer); CUDA matmuls follow the precision above
    cudnn_benchmark: bool = False  # autotune conv algorithms for fixed input shapes
    num_threads: Optional[int] = None  # torch.set_num_threads; null keeps torch's default
    num_workers: int = 0  # DataLoader worker processes
    pin_memory: bool = False
    persistent_workers: bool = False  # only meaningful with num_workers > 0
    prefetch_factor: Optional[int] = None  # batches per worker; only with num_workers > 0
    memory_gb: Optional[float] = None  # device memory budget, informs data modules
    max_nodes_per_graph: Optional[int] = None  # graph data: sample subgraphs above this size
    host_memory_keep_mb: Optional[int] = 256  # freed host memory glibc's malloc keeps for reuse (null: its defaults)


@dataclass
class TrainerConf:
    """Keyword arguments of ``lightning.pytorch.Trainer`` that this project sets or exposes."""

    _target_: str = "lightning.pytorch.Trainer"
    default_root_dir: Optional[str] = None
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: Any = "auto"  # auto | ddp | ddp_spawn | fsdp ... (trainer=ddp, trainer=ddp_sim)
    num_nodes: int = 1  # machines; under SLURM Lightning reads the allocation itself
    sync_batchnorm: bool = False
    precision: Any = "32-true"
    benchmark: Optional[bool] = None
    min_epochs: int = 1
    max_epochs: int = 20
    max_steps: int = -1
    accumulate_grad_batches: int = 1  # >= 1; effective batch = data.batch_size x this
    gradient_clip_val: Optional[float] = None
    gradient_clip_algorithm: str = "norm"
    check_val_every_n_epoch: Optional[int] = 1  # null: val_check_interval (an int) counts batches across epochs
    val_check_interval: Any = None
    log_every_n_steps: int = 10
    num_sanity_val_steps: int = 2
    limit_train_batches: Any = None  # int: batches, float: fraction
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    overfit_batches: Any = 0.0
    fast_dev_run: Any = False
    deterministic: Any = None
    profiler: Optional[str] = None
    enable_model_summary: bool = True
    enable_progress_bar: bool = True
    detect_anomaly: bool = False


_TRAINER_MINIMUMS = {"num_nodes": 1, "accumulate_grad_batches": 1, "log_every_n_steps": 1, "check_val_every_n_epoch": 1,
                     "min_epochs": 0, "num_sanity_val_steps": -1}


def check_trainer(trainer: Any, test: bool = False) -> None:
    """Ranges the schema's types cannot express, checked before Lightning divides by them; ``test``: the run tests
    its best checkpoint after training (``test=true``)."""
    from trainlab.config.errors import UserError

    for key, low in _TRAINER_MINIMUMS.items():
        value = trainer[key]
        if value is not None and value < low:
            raise UserError(f"trainer.{key}={value} must be at least {low}")
    for key in ("max_epochs", "limit_train_batches", "max_steps"):  # Lightning would "train" 0 steps and test
        if trainer[key] is not None and trainer[key] == 0:
            raise UserError(f"trainer.{key}={trainer[key]} trains nothing; give at least 1 (epochs=N sets "
                            "trainer.max_epochs), or test a finished run with evaluate.py")
    clip = trainer.gradient_clip_val
    if clip is not None and clip < 0:
        # Lightning skips clipping for any value <= 0 without a word
        raise UserError(f"trainer.gradient_clip_val={clip} must be > 0 (e.g. 1.0), or null for no clipping")
    _check_trainer_limits(trainer, test)


def _check_trainer_limits(trainer: Any, test: bool) -> None:
    """Values Lightning takes and then fails on mid-run, or ignores without a word."""
    from trainlab.config.errors import UserError

    interval = trainer.val_check_interval
    if isinstance(interval, (int, float)) and not isinstance(interval, bool) and interval == 0:
        # 0: 'integer modulo by zero' at the first training batch; 0.0: validation after every batch
        raise UserError(f"trainer.val_check_interval={interval} must be above 0: a number of training batches "
                        "(e.g. 100) or a fraction of the epoch (e.g. 0.25), or null for once per epoch")
    if trainer.check_val_every_n_epoch is None and isinstance(interval, float):
        # Lightning's own refusal names neither key as set here nor the fix
        raise UserError(f"trainer.val_check_interval={interval} is a fraction of an epoch, but "
                        "trainer.check_val_every_n_epoch=null counts training batches across epochs; give a whole "
                        "number of batches (trainer.val_check_interval=<n>), or trainer.check_val_every_n_epoch=1 to "
                        "validate within each epoch")
    for low, high, unit in (("min_epochs", "max_epochs", "epochs"), ("min_steps", "max_steps", "steps")):
        least, most = trainer.get(low), trainer.get(high)
        if least is not None and most is not None and most >= 0 and least > most:  # Lightning stops at the most
            raise UserError(f"trainer.{low}={least} is more than trainer.{high}={most}: training stops at "
                            f"{most} {unit} all the same; give trainer.{low}={most} or less, or raise trainer.{high}")
    max_time = trainer.get("max_time")
    if isinstance(max_time, (int, float)):  # 'int' object has no attribute 'total_seconds' (a traceback)
        raise UserError(f"trainer.max_time={max_time} must be a duration DD:HH:MM:SS (e.g. "
                        "+trainer.max_time=00:12:00:00), or null")
    limit = trainer.limit_test_batches
    if test and limit is not None and not isinstance(limit, bool) and limit == 0:  # the test was skipped, no word
        raise UserError(f"trainer.limit_test_batches={limit} tests nothing, but test=true; give test=false to "
                        "train without testing, or a limit above 0")


def check_schema_additions(cfg: Any, overrides: Iterable[str]) -> None:
    """``+hardware.foo=1`` adds a key to a node with a typed schema (OmegaConf lets a '+' do that), a
    key nothing reads; refused, with the setting meant. ``overrides``: the command line's (a run's
    ``hydra.overrides.task``, a sweep's ``hydra.overrides.hydra``)."""
    from trainlab.config.errors import UserError, did_you_mean

    for override in overrides:
        if not override.startswith("+"):
            continue
        key = override.lstrip("+").split("=", 1)[0]
        parent, _, name = key.rpartition(".")
        node = OmegaConf.select(cfg, parent, default=None) if parent else None
        schema = OmegaConf.get_type(node) if OmegaConf.is_dict(node) else None
        if not dataclasses.is_dataclass(schema):
            continue
        settings = [f.name for f in dataclasses.fields(schema)]
        if name not in settings and not _takes_argument(node.get("_target_"), name, parent):
            hint = did_you_mean(name, settings, prefix=f"{parent}.") or f"its settings: {', '.join(settings)}"
            raise UserError(f"{override}: {key} is not a setting of {parent}, and a key added with '+' is read by "
                            f"nothing; {hint}")


def unlisted_argument(target: Any, name: str, key: str) -> bool:
    """Whether ``name``, a key that the node at ``key`` lacks, is an argument of its ``_target_`` (read when added
    with '+': ``+trainer.max_time=...``, ``+optimizer.amsgrad=true``)."""
    return target is not None and not name.startswith("_") and _takes_argument(target, name, key)


def _takes_argument(target: Any, name: str, key: str) -> bool:
    """Whether ``target`` (a node's ``_target_``) has a parameter ``name``: the schema lists the keys this
    project sets, ``+trainer.max_time=...`` adds another argument of Lightning's Trainer."""
    from trainlab.config.instantiate import arguments_of, import_target

    if not isinstance(target, str):
        return False
    arguments = arguments_of(import_target(target, key))
    return arguments is not None and name in arguments.parameters


def _unique_suffix() -> str:
    """Six hex digits, drawn anew per composed config (the resolver is cached, as Hydra's ``${now:}``): every
    use within one config agrees, and two runs composed in one process within the same second (a loop of
    ``trainlab.train`` calls) get folders of their own. Drawn once per process, both runs got the same folder
    and the second was refused ("hydra.run.dir ... already holds a training run")."""
    return secrets.token_hex(3)


def register_configs() -> None:
    """Register the schemas and the ``uid`` resolver; safe to call more than once."""
    if not OmegaConf.has_resolver("uid"):
        # Keeps two runs started in the same second apart: ${now:...}_${uid:}. Cached per config like
        # Hydra's ${now:}: a launcher that composes each job again in another process (submitit, joblib) copies
        # the sweep's resolver cache into the job's config (Hydra's load_sweep_config), so the job
        # lands in the folder the sweep decided before submission, not in one drawn by its own process.
        OmegaConf.register_new_resolver("uid", _unique_suffix, use_cache=True)
    cs = ConfigStore.instance()
    # stored at the root, not in a group, so that --help lists only real choices
    cs.store(name="hardware_schema", node=HardwareConf)
    cs.store(name="trainer_schema", node=TrainerConf)


def group_node_problem(file: str, full_key: str, message: str) -> Optional[str]:
    """A config file set a key that the typed node of a config group's option lacks, where that file also
    chose the option (a search file's ``pruner: {_target_: ..ThresholdPruner, upper: 0}`` on the median
    pruner it selects): the line naming the option, its settings, and how another option is chosen.
    None when the key's node is no option of a group in the ConfigStore."""
    import re

    typed = re.search(r"object_type=(\w+)", message)
    parent, _, name = full_key.rpartition(".")
    group = parent.replace(".", "/")
    cs = ConfigStore.instance()
    try:
        options = sorted(o.removesuffix(".yaml") for o in cs.list(group))
    except (OSError, ValueError):  # no such group in the ConfigStore
        return None
    chosen = next((o for o in options if typed and
                   OmegaConf.get_type(cs.load(f"{group}/{o}.yaml").node).__name__ == typed.group(1)), None)
    if chosen is None:
        return None
    keys = [str(k) for k in cs.load(f"{group}/{chosen}.yaml").node.keys()]
    settings = ", ".join(keys)
    from trainlab.config.errors import did_you_mean

    close = did_you_mean(name, keys, prefix=f"{parent}.")
    if close:  # a misspelt setting (serch_space): its spelling is the fix, not another option of the group
        return (f"{file}.yaml sets {full_key}, which is not a setting of {parent}; {close} ({group}={chosen} takes "
                f"{settings})")
    return (f"{file}.yaml sets {full_key}, which is not a setting of {parent} ({group}={chosen} takes {settings}); "
            f"choose another option in that file's defaults list, - override /{group}: <option> ({', '.join(options)}), "
            f"or add your own as {group}/<name>.yaml in your config folder (--config-dir)")
