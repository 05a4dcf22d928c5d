"""How this run was invoked, for messages that tell the user what to type: the script's name as typed
(:func:`_script`: train.py, evaluate.py, or the one a run made from Python stands for, :func:`as_script`), its
overrides as typed (:func:`typed_overrides`) and as Hydra recorded them (:func:`task_overrides`), Hydra's flags
put before the overrides (:func:`flags_first`), a config's leaves as the dotted keys an override names
(:func:`leaves`), and the line that says a search file started a sweep without ``-m`` (:func:`sweep_without_m`)."""

from __future__ import annotations

import contextvars
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional


def flags_first(argv: list[str]) -> list[str]:
    """``argv`` with Hydra's flags (``--config-dir d``, ``-m``, ``--cfg job``) and their values moved before
    the overrides, each group in its order: Hydra's argparse takes the overrides as one run of positional
    arguments, so ``model=x --config-dir d seed=1`` was refused (``unrecognized arguments: seed=1``).

    Which flags take a value is read from Hydra's own parser (``hydra._internal.utils.get_args_parser``, a
    private function: the one place here that knows Hydra's flags). A value is the next argument for a flag
    that needs one, and for ``--info`` only when it is one of its choices; ``--flag=value`` is one argument.
    An argument starting with '-' that Hydra does not know stays where it is (argparse names it)."""
    from hydra._internal.utils import get_args_parser

    actions = {flag: action for action in get_args_parser()._actions for flag in action.option_strings}
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        name, inline, _ = arg.partition("=")
        action = actions.get(name) if arg.startswith("-") else None
        i += 1
        if action is None:
            overrides.append(arg)
            continue
        flags.append(arg)
        takes_next = not inline and i < len(argv) and (
            action.nargs is None or (action.nargs == "?" and argv[i] in (action.choices or ())))
        if takes_next:
            flags.append(argv[i])
            i += 1
    return [*flags, *overrides]


MULTIRUN_FLAGS = ("-m", "--multirun")


def sweep_without_m(config: Any, argv: list[str]) -> Optional[str]:
    """The line that opens a sweep a search file started without ``-m`` (None with ``-m``, or where no search
    file was chosen). Every file under conf/hparams_search sets ``hydra.mode: MULTIRUN`` (optuna.yaml, which the
    others start from), as lightning-hydra-template's search files do: ``hparams_search=`` means a search, and
    without the mode the command trained once with the search's settings unread. Hydra's own way to start a
    sweep is ``-m``; the line says why this one started without it."""
    from omegaconf import OmegaConf

    search = OmegaConf.select(config, "hydra.runtime.choices.hparams_search", default=None)
    if search is None or any(arg in MULTIRUN_FLAGS for arg in argv):
        return None
    return (f"hparams_search={search} starts a sweep without -m: its search file sets hydra.mode=MULTIRUN, as every "
            f"search file does (a search is many runs); python {_script()} -m hparams_search={search} ... is the same")


def search_run_once() -> Optional[str]:
    """Why a single run (Hydra's RUN mode) with a search file chosen is refused, or None: it would train once
    and read none of the search (a search file of one's own without ``hydra.mode: MULTIRUN``, run without
    ``-m``; ``trainlab.train([..., "hparams_search=optuna"])``, which runs one job)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.RUN:
        return None
    search = HydraConfig.get().runtime.choices.get("hparams_search")
    if search is None:
        return None
    script = _script()
    if _TYPED.get() is not None:  # a run made from Python (trainlab.api)
        return (f"hparams_search={search} is a search, a sweep of runs, which runs on the command line: python "
                f"{script} -m hparams_search={search} ...; {script.removesuffix('.py')}() makes one run (leave "
                "hparams_search out)")
    return (f"hparams_search={search} is a search, but this command trains once (its file does not set hydra.mode: "
            f"MULTIRUN, as conf/hparams_search/optuna.yaml does) and would read none of it; add -m: python {script} -m "
            f"hparams_search={search} ...")


def task_overrides() -> list[str]:
    """This run's command-line overrides as typed (Hydra's ``hydra.overrides.task``; [] outside Hydra).

    Read unresolved: OmegaConf would take a ``${...}`` in an override's value for an interpolation of
    Hydra's own config, and fail on one it cannot find there (``data.batch_size=${oops}``)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return []
    return [str(o) for o in OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)]


def leaves(node: typing.Mapping[str, Any], sep: str = ".", prefix: str = "") -> typing.Iterator[tuple[str, Any]]:
    """(``a.b.c``, value) for each leaf of nested mappings (``sep``: what joins the keys)."""
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, sep, f"{prefix}{key}{sep}")
        else:
            yield f"{prefix}{key}", value


_SCRIPT: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("trainlab_script", default=None)


SUBMITIT_ENTRY = "_submit.py"  # what a submitit job runs (python -m submitit.core._submit): not the user's script


def _script() -> str:
    """The script's name as typed (train.py, evaluate.py), which messages name (``python train.py --cfg job``);
    within :func:`as_script`, the script whose run is made from Python (not ``ipykernel_launcher.py``); in a
    submitit (SLURM) job, the script Hydra's job is named after (not submitit's ``_submit.py``)."""
    name = _SCRIPT.get() or (sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "train.py")
    if name == "-c":  # `python -c "..."` (and pytest-xdist's workers): no script typed; train.py's run
        name = "train.py"
    if name == SUBMITIT_ENTRY:
        from hydra.core.hydra_config import HydraConfig

        return f"{HydraConfig.get().job.name}.py" if HydraConfig.initialized() else "train.py"
    return name


_TYPED: contextvars.ContextVar[Optional[list[str]]] = contextvars.ContextVar("trainlab_typed", default=None)


def taken_out_by(key: str, overrides: typing.Iterable[str], reader: str, read: str) -> Optional[str]:
    """The line for ``key``, which ``reader`` reads (as ``read`` shows), when a ``~`` among ``overrides`` took it or a
    node above it out of the config; None when none did."""
    for override in overrides:
        taken = override[1:].split("=", 1)[0]
        if override.startswith("~") and (key == taken or key.startswith(taken + ".")):
            return (f"{override} takes out {taken}, which {reader} reads ({read}); leave {override} out (python "
                    f"{_script()} --cfg job shows the setting it would take out)")
    return None


def typed_overrides() -> list[str]:
    """The overrides as typed, before Hydra records them (its run folder is made before the job): the command
    line's, or within :func:`as_script` those a run made from Python was given (not the notebook's argv)."""
    typed = _TYPED.get()
    return list(typed) if typed is not None else sys.argv[1:]


@contextmanager
def as_script(name: str, argv: Optional[list[str]] = None) -> Iterator[None]:
    """Within it, messages name ``name`` as the script (``trainlab.train`` makes train.py's run), and ``argv`` are
    the overrides as typed."""
    tokens = _SCRIPT.set(name), _TYPED.set(argv)
    try:
        yield
    finally:
        _SCRIPT.reset(tokens[0])
        _TYPED.reset(tokens[1])
