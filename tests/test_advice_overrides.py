"""The overrides that our own messages recommend compose: a refusal that says "add
trainer.check_val_every_n_epoch=null" sent the user to a second refusal, the trainer schema's (it typed the key
int, where Lightning takes null). Every ``key=value`` or ``key.path=value`` with a literal value whose key is one
of train.py's, evaluate.py's or predict.py's (a top-level key or a group), in a string of src/ (messages and
warnings; docstrings left out, values given by a placeholder, ``<n>``, ``%s`` or an f-string's field, left out), is
composed here by the script that reads it, in the context its message is about (data=file for a file's columns, ...)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

# key.path=value, not inside a longer name, a path or a placeholder
OVERRIDE = re.compile(r"(?<![\w.$<{/\[-])([+~]?[a-z_]+(?:\.[a-z_0-9]+)*=[^\s,;)'\"`{}]+)")
CONFIGS = ("train", "eval", "predict")
FIELD = "\x00"  # stands for an f-string's {field}: its value is only known at run time
# the options an override's key belongs to (the group option whose config holds it), longest prefix first
CONTEXT = {
    "data.source.categorical_columns=[survey]": ["model=gnn", "data=catalogue"],
    "data.source.missing_masks": ["model=unet", "data=sky_folder"],
    "data.source.mask_planes": ["model=unet", "data=sky_folder"],
    "data.source.missing": ["model=gnn", "data=catalogue"],
    "data.source.angle_units": ["model=gnn", "data=catalogue"],
    "data.sampler": ["model=gnn", "data=gaia"],
    "data.source.name": ["data=packaged"],
    "data.source.": ["data=file"],
    "hydra.launcher.n_jobs": ["hydra/launcher=joblib"],
    "hydra.launcher.": ["hydra/launcher=slurm"],
    "hydra.sweeper.": ["hparams_search=optuna"],
    "logger.mlflow.": ["logger=mlflow"],
    "optimizer.momentum": ["optimizer=sgd"],
}


def _message_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings, an f-string's fields as FIELD."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skip.add(id(node.body[0].value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip |= {id(part) for part in node.values}
            found.append((node.lineno, "".join(part.value if isinstance(part, ast.Constant) else FIELD
                                               for part in node.values)))
    found += [(node.lineno, node.value) for node in ast.walk(tree)
              if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]
    return found


def top_names(config_name: str) -> set[str]:
    """The keys at the top of a primary config: its own and its groups' (read from the file, nothing composed)."""
    from omegaconf import OmegaConf

    conf = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / f"{config_name}.yaml"))
    groups = {name for entry in conf.pop("defaults", []) if isinstance(entry, dict) for name in entry}
    return set(conf) | {group.split("/")[0] for group in groups}


NAMES = {name: top_names(name) for name in CONFIGS}


def config_of(override: str) -> str | None:
    """The first config (train, eval, predict) that has the override's top-level key; None: no key of ours."""
    top = re.split(r"[.=]", override.lstrip("+~"), maxsplit=1)[0]
    return next((name for name in CONFIGS if top in NAMES[name]), None)


def recommended_overrides() -> dict[str, str]:
    """Each override with a literal value that a string of src/ shows -> where (file:line) it is first shown."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src").rglob("*.py")):
        for line, text in _message_strings(path):
            for match in OVERRIDE.finditer(text):
                override = match.group(1).rstrip(".:")  # the sentence's own stop or colon
                value = override.split("=", 1)[1]
                if config_of(override) is None or re.search(rf"[<%${FIELD}]|\.\.\.", match.group(1)) \
                        or not value or re.fullmatch(r"[A-Z]", value) or value.count("[") != value.count("]"):
                    continue  # a placeholder, a value known at run time, or a list the message goes on to spell out
                found.setdefault(override, f"{path.relative_to(ROOT)}:{line}")
    return found


OVERRIDES = recommended_overrides()


def context(override: str) -> list[str]:
    bare = override.lstrip("+~")
    prefix = max((p for p in CONTEXT if bare.startswith(p)), key=len, default=None)
    return CONTEXT[prefix] if prefix else []


def test_the_extraction_finds_the_advice():
    # the one that composed no more, and others of every kind: a trainer key, a hardware one, an added one, a
    # removal by null, a list, a sweeper's key
    assert {"trainer.check_val_every_n_epoch=null", "trainer.gradient_clip_val=1.0", "hardware.num_workers=0",
            "+trainer.max_time=00:12:00:00", "callbacks.early_stopping=null", "data.source.categorical_columns=[survey]",
            "hydra.sweeper.params=null", "hydra.launcher.pending_timeout_min=null", "test=false",
            "optimized_metric=train/loss_epoch", "split=val", "horizon=24"} <= OVERRIDES.keys()
    assert len(OVERRIDES) >= 60


@pytest.mark.parametrize("override", sorted(OVERRIDES))
def test_a_recommended_override_composes(compose_cfg, override):
    try:
        compose_cfg([*context(override), override], config_name=config_of(override))
    except Exception as exc:  # a composition error of any kind is the failure reported
        pytest.fail(f"{OVERRIDES[override]} recommends {override}, which does not compose "
                    f"(with {context(override) or 'the defaults'}): {exc}")
