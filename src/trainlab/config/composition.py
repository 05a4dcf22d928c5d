"""Hydra's refusals of a command line, as one line ``error: ...`` and exit status 2.

Hydra composes the config before any job starts and prints what goes wrong there in several lines
(``Error merging override ...``, OmegaConf's ``full_key:``/``object_type=`` lines, the config search
path, a hint about ``HYDRA_FULL_ERROR``) and exits 1. :func:`hydra_errors_as_one_line` turns each of
these refusals into one line naming the override, what is wrong with it and how to write it:

- an override Hydra cannot read (``trainer.max_epochs=[1``, ``seed=${oops``, a missing ``=``, an
  unclosed quote): :func:`parse_problem`;
- a value a typed schema refuses (``hardware.memory_gb=abc``, ``hardware.pin_memory=maybe``,
  ``trainer.max_epochs=1.5``, ``hardware.num_workers=null``): :func:`typed_value_problem`;
- a key or group option the config lacks (:func:`trainlab.config.command_line.unknown_key_problem`);
- ``+key=...`` on a key the config has, ``~key`` on one it lacks, ``+group=...`` on a chosen group.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from trainlab.config.invocation import _script
from trainlab.config.spelling import KIND_WORDS, quoted_text, shell_word, single_quoted

OVERRIDE_GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
# a value of each type, for "e.g. <key>=<value>" where the schema's default is null
_EXAMPLES = {int: "1", float: "0.5", bool: "true", str: "text", list: "[1,2]", dict: "{a:1}"}


def _in_job(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside the task function (Hydra's ``run_job``): a job's own error,
    which keeps Hydra's report (a traceback for a bug); otherwise it came from composing the config."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "run_job":
            return True
        tb = tb.tb_next
    return False


@contextmanager
def hydra_errors_as_one_line(argv: list[str], config_name: Optional[str]) -> Iterator[None]:
    """While ``@hydra.main`` runs: a composition error is printed as one line and exits 2.

    Hydra prints those errors itself in ``hydra._internal.utils.run_and_report`` (the one function
    its entry point runs every step through) and exits 1; its API offers no hook, so that function
    is wrapped here, and only here: errors from composing go to :func:`composition_problem`, the
    rest (a job's own error, which keeps its traceback) to Hydra's function as before.
    """
    import hydra._internal.utils as hydra_utils

    original = hydra_utils.run_and_report

    def run_and_report(func: Any) -> Any:
        try:
            return func()
        except Exception as exc:  # noqa: BLE001 - what is not described goes back to Hydra unchanged
            problem = start_problem(exc, argv, config_name)
            described = os.environ.get("HYDRA_FULL_ERROR") != "1"  # HYDRA_FULL_ERROR=1 asks for Hydra's traceback
            if problem is None and described:
                from trainlab.config.errors import unreadable
                from trainlab.run.durable import DiskFull

                # a config file it may not read (composing), Hydra's own writes before the task function
                # (.hydra/*.yaml, the job's log file) on a full disk, under a file size limit or without
                # permission: its traceback, exit 1
                full = (None if _in_job(exc) else unreadable(exc, "", "a config file")) or DiskFull.of(exc)
                problem = None if full is None else str(full)
            told = _launcher_line(exc) if problem is None and described else None
            if told is not None:  # Hydra's advice would show only the launcher's frames
                print(f"error: {told[0]}", file=sys.stderr, flush=True)
                sys.exit(told[1])
            if problem is None:
                return original(lambda error=exc: _raise(error))  # bound here, not read late
        from trainlab.config.errors import refuse

        refuse(problem)

    hydra_utils.run_and_report = run_and_report
    try:
        yield
    finally:
        hydra_utils.run_and_report = original


def _launcher_line(exc: BaseException) -> Optional[tuple[str, int]]:
    """(one line, exit status) for a multirun's job that a launcher handed back, or None for any other error:
    a launcher's own account of its jobs (``exit_status``: trainlab.run.slurm); a job stopped by a signal
    (RunStopped, any launcher but slurm, which says it), with the command that resumes it and a signal's exit
    status, where Hydra printed the message alone, then its HYDRA_FULL_ERROR advice, and exited 1; a job of
    submitit_local or submitit_slurm without a result; a worker's job error, its traceback in its log."""
    from trainlab.run.job_errors import worker_error_line
    from trainlab.run.submitit_jobs import lost_job_line

    status = getattr(exc, "exit_status", None)
    if status is not None:
        return str(exc), status
    if type(exc).__name__ == "RunStopped":
        from trainlab.run.preemption import EXIT_SIGINT, EXIT_SIGTERM

        return f"{exc}{exc.go_on()}", EXIT_SIGINT if exc.signal_name == "Ctrl-C" else EXIT_SIGTERM
    noted = worker_error_line(exc)
    return lost_job_line(exc) or (None if noted is None else (noted, 1))


def start_problem(exc: BaseException, argv: list[str], config_name: Optional[str]) -> Optional[str]:
    """The one line for an error Hydra met composing the config (:func:`composition_problem`); None for a
    job's own error (which keeps its traceback), and under HYDRA_FULL_ERROR=1, which asks Hydra for the
    whole traceback. The command line prints it (:func:`hydra_errors_as_one_line`), ``trainlab.train``
    raises it as a UserError."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1" or _in_job(exc):
        return None
    return composition_problem(exc, argv, config_name)



def _raise(exc: BaseException) -> None:
    raise exc


def composition_problem(exc: BaseException, argv: list[str], config_name: Optional[str]) -> Optional[str]:
    """The one line for an error Hydra raised while composing (None: not a composition error)."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException, ValidationError

    from trainlab.config.command_line import _launcher_value_hint, _unknown_option, unknown_key_problem
    from trainlab.config.file_problems import file_problem
    from trainlab.config.search_path import unchosen_group_problem
    from trainlab.config.shapes import file_value_problem, shape_problem

    if (in_a_file := file_problem(exc, argv)) is not None:
        return in_a_file
    if isinstance(exc, OverrideParseException):
        return parse_problem(exc.override, str(exc))
    if isinstance(exc, MissingConfigException):
        return _unknown_option(exc, argv) or _one_line(exc)
    keyless = next((a for a in argv if a.lstrip("+~").startswith("=")), None)
    if keyless is not None:  # Hydra's grammar reads "=5" as a group override and fails with a ValueError
        return parse_problem(keyless, str(exc))
    if isinstance(exc, ValueError) and str(exc).startswith("Config group override must be a string or a list"):
        return group_value_problem(argv, config_name) or _one_line(exc)  # logger=false, optimizer=1e-3: Hydra's traceback
    if not isinstance(exc, (ConfigCompositionException, OmegaConfBaseException)):
        return None
    if (shape := shape_problem(exc, argv)) is not None:  # a mapping for a list, or a list for a mapping
        return shape
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return _launcher_value_hint(cause) or typed_value_problem(cause) or _one_line(exc)
    message = str(exc)
    if (unchosen := unchosen_group_problem(message, argv, config_name)) is not None:
        return unchosen
    if (taken := _add_or_delete_problem(f"{message}; {cause}" if cause else message, argv)) is not None:
        return taken
    if config_name and (message.startswith("Could not override")
                        or (message.startswith("In '") and "ConfigKeyError" in message)):  # a key a file sets
        return unknown_key_problem(argv, config_name) or _one_line(exc)
    # a value a file sets that its typed node refuses (a search file's n_trials: 2.5): Hydra's line names the file, and
    # the key only on a line of its own, which the one line leaves out
    typed = re.match(r"In '([^']+)': ValidationError raised while composing config:\n(.+?)\n\s*full_key: (\S+)",
                     message)
    if typed:
        return file_value_problem(message, argv) or f"{typed.group(1)}.yaml sets {typed.group(3)}: {typed.group(2).strip()}"
    return _one_line(exc)


def group_value_problem(argv: list[str], config_name: Optional[str]) -> Optional[str]:
    """A config group given a value that names no option, ``logger=false``, ``optimizer=1e-3``, ``model=null``,
    ``experiment=null`` (Hydra's ValueError ``Config group override must be a string or a list``, a traceback): what
    a group takes, and the override meant (``logger=none``, ``optimizer.lr=0.001``, leaving it out)."""
    from omegaconf import OmegaConf

    from trainlab.config.command_line import _parsed
    from trainlab.config.search_path import group_options, option_files
    from trainlab.run.root import repo_root

    for override in _parsed(argv):
        group, value = override.key_or_group, override.value()
        options = group_options(group)
        if isinstance(value, (str, list, dict)) or not options or override.is_sweep_override():
            continue
        typed = override.input_line or f"{group}={_yaml_value(value)}"
        if group.startswith("hydra/"):  # its options are Hydra's plugins too, which no config folder holds
            return f"{typed} names no option of the {group} group: give an option's name (python {_script()} --help)"
        listed = f"its options: {', '.join(options)}"
        off = f"; for no {group}: {group}=none" if "none" in options else ""
        if value is None:
            own = repo_root() / "conf" / f"{config_name or 'train'}.yaml"  # its defaults: which groups may be null
            defaults = OmegaConf.to_container(OmegaConf.load(own)).get("defaults", []) if own.is_file() else []
            optional = any(isinstance(d, dict) and group in d and d[group] is None for d in defaults)
            if optional or off:
                why = f"{group} is off unless an option is chosen: leave {typed} out" if optional else off[2:]
                return f"{typed} names no option of the {group} group; {why} ({listed})"
            return (f"{typed} names no option of the {group} group, and every run needs one; choose one: "
                    f"{group}=<option> ({', '.join(options)})")
        numbers = sorted({key for option in options for path in option_files(group, option)
                          for key, held in (OmegaConf.to_container(OmegaConf.load(path)) or {}).items()
                          if isinstance(held, (int, float)) and not isinstance(held, bool)})
        listed_keys = (f"{', '.join(f'{group}.{k}' for k in numbers)} take numbers" if 0 < len(numbers) <= 4
                       else f"python {_script()} --cfg job shows them")
        keys = "" if isinstance(value, bool) or "/" in group else \
            f"; to change one of its settings, name it: {group}.<key>={_yaml_value(value)} ({listed_keys})"
        return (f"{typed} is not an option of the {group} group: a group takes an option's name, not "
                f"{KIND_WORDS[type(value)][0] if type(value) in KIND_WORDS else 'a value'}"
                f"{off if isinstance(value, bool) else ''}{keys}; {listed}")
    return None


def _one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's own words, joined into one line (for refusals with no better wording)."""
    lines = [*str(exc).splitlines(), *(str(exc.__cause__).splitlines() if exc.__cause__ else [])]
    kept = [line.strip() for line in lines if line.strip() and not line.startswith(("See https", "\t"))
            and not line.lstrip().startswith(("full_key:", "object_type=", "Config search path", "provider="))]
    return "; ".join(dict.fromkeys(kept))


def unknown_function(message: str) -> Optional[str]:
    """For Hydra's refusal of a function its grammar lacks (``intrval(1e-4, 1e-2)``): ``"intrval() is no function of
    Hydra's override grammar; did you mean interval?"``, the nearest of those its message lists (on a second line,
    which one-line refusals dropped); None for any other message."""
    unknown = re.search(r"Unknown function '([^']*)'", message)
    if unknown is None:
        return None
    from trainlab.config.errors import did_you_mean

    listed = re.search(r"Available: ([\w,]+)", message)
    close = did_you_mean(unknown.group(1), listed.group(1).split(",") if listed else ())
    return f"{unknown.group(1)}() is no function of Hydra's override grammar{f'; {close}' if close else ''}"


def parse_problem(override: str, message: str) -> str:
    """An override Hydra's grammar cannot read: what is wrong with it and how to write it."""
    key, eq, value = override.partition("=")
    bare = key.lstrip("+~")
    if not eq:
        if not bare:
            return f"{override!r} names no key: write {override or '+'}<key>=<value>"
        return (f"{override} has no '=': give it a value, {override}=<value>"
                f"{f' (or ~{bare} to delete the key)' if not key.startswith('~') else ''}")
    if not bare:
        return f"{override!r} names no key before the '=': write <key>={value}"
    fix = f"quote the text: {shell_word(f'{key}={_quoted_text(value)}')} (the outer quotes are the shell's)"
    if value.startswith("~"):  # quoting it would make a folder named '~'
        from trainlab.config.errors import shell_path_hint

        return f"{override}: {shell_path_hint(value)}"
    if "${" in value and value.count("{") > value.count("}"):
        return f"{override}: the interpolation is not closed; write {key}={value}}} (e.g. seed=${{data.batch_size}})"
    for opening, closing in ("[]", "{}", "()"):
        if value.count(opening) != value.count(closing):
            return f"{override}: a '{opening}' is not closed by a '{closing}'; close it, or {fix}"
    for quote in "'\"":
        if value.count(quote) % 2 and quote not in value.strip(quote):  # one at an end: opened, never closed
            return (f"{override}: a {quote} quote is not closed (the shell removes quotes it reads); put the "
                    f"whole override in the other kind: {shell_word(f'{key}={single_quoted(value.strip(quote))}')}")
    function = unknown_function(message)
    if function:  # a misspelt sweep (choise(16, 32)) was told to quote it, which would pass the text as the value
        return (f"{override}: {function} (its sweeps: interval(a, b), range(start, stop, step), choice(a, b), "
                f"tag(log, ...)); to pass the text as it is, {fix}")
    # a quote inside the text (a file named "Bob's data.csv") is part of it: quoted and escaped by the fix
    reason = next((line.strip() for line in message.splitlines() if line.strip() and "Error parsing" not in line
                   and not line.startswith("See https")), "")
    return f"{override}: Hydra cannot read this override ({reason}); {fix}; the grammar: {OVERRIDE_GRAMMAR}"


def _quoted_text(value: str) -> str:
    """``value`` with its text in single quotes; a list's items each (``[load, Demand (MW)]`` ->
    ``[load,'Demand (MW)']``: the whole list in quotes is one text, which names no column)."""
    items = value[1:-1]
    if value.startswith("[") and value.endswith("]") and not re.search(r"[\[\]{}'\"]", items):
        return "[" + ",".join(quoted_text(item.strip()) for item in items.split(",")) + "]"
    return quoted_text(value)


def typed_value_problem(cause: Any) -> Optional[str]:
    """A value a typed schema refuses, with the type it takes and a value that works; None when the
    schema (a dataclass) does not say the key's type."""
    return typed_value_line(str(cause.full_key), cause.object_type, str(cause.key), cause.value)


def typed_value_line(key: str, owner: Any, leaf: str, value: Any, file: Optional[str] = None) -> Optional[str]:
    """:func:`typed_value_problem`'s line for ``key`` (``leaf`` in the dataclass ``owner``) set to ``value``, on
    the command line or, ``file``, in that config file (then the example is written as in the file)."""
    if not key or not dataclasses.is_dataclass(owner):
        return None
    try:
        hint = typing.get_type_hints(owner).get(leaf)
    except (NameError, TypeError):
        return None
    optional = type(None) in typing.get_args(hint)
    kind = next((typing.get_origin(a) or a for a in typing.get_args(hint) if a is not type(None)), None) \
        if optional else (typing.get_origin(hint) or hint)
    if kind not in KIND_WORDS:
        return None
    own = next((f for f in dataclasses.fields(owner) if f.name == leaf), None)
    default = own.default if own is not None else None
    example = (own.metadata.get("example") if own is not None else None) or (
        _yaml_value(default) if isinstance(default, kind) and default not in ("", None) else _EXAMPLES[kind])
    takes = f"{KIND_WORDS[kind][0]}{' or null' if optional else ''}"
    if file is not None:
        return (f"{file} sets {key} to {'null' if value is None else _yaml_value(value)}, which is not {takes}, "
                f"which this key takes; e.g. {leaf}: {example}")
    if value is None:
        return f"{key}=null: this key cannot be empty, it takes {takes}; e.g. {key}={example}"
    return f"{key}={_yaml_value(value)} is not {takes}, which this key takes; e.g. {key}={example}"


def _yaml_value(value: Any) -> str:
    """``value`` as it would be typed on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{','.join(_yaml_value(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _add_or_delete_problem(message: str, argv: list[str]) -> Optional[str]:
    """``+key=`` on a key the config has, ``+group=`` on a group already chosen, ``~key`` on a key it lacks,
    a sweep (``model=lstm,cnn``, ``seed=choice(1,2)``) without ``-m``."""
    given = {a.lstrip("+~").split("=", 1)[0]: a for a in argv if a.startswith(("+", "~"))}
    if (found := re.match(r"Could not append to config\. An item is already at '([^']+)'", message)):
        key = found.group(1)
        override = given.get(key, f"+{key}=...")
        return (f"{override} adds {key}, which the config already has; drop the '+' to change it: "
                f"{override.lstrip('+')}")
    if (found := re.match(r"Multiple values for ([\w/@]+(?:\.\w+)*)", message)):
        group = found.group(1)
        override = given.get(group, f"+{group}=...")
        return (f"{override} adds a second {group}, but {group} is already chosen; drop the '+' to choose "
                f"another: {override.lstrip('+')}")
    if (found := re.match(r"Ambiguous value for argument '(([^=']+)=(.*))'", message)):
        override, key, value = found.groups()
        return (f"{override}: the ',' makes several values, which only a sweep tries: add -m (python {_script()} -m "
                f"... {override}); for a list write {key}=[{value}], for text with a comma {shell_word(f'{key}={single_quoted(value)}')}")
    if (found := re.match(r"Sweep parameters? '(([^=']+)=.*)' requires? --multirun", message)):
        override, key = found.groups()
        return (f"{override} is a search range, which only a sweep uses: add -m (python {_script()} -m "
                f"hparams_search=optuna ... {override}), or give one value: {key}=<value>")
    if (found := re.match(r"Could not delete from config\. '([^']+)' does not exist", message)):
        key = found.group(1)  # Hydra deletes no key that holds null either (~epochs)
        return (f"{given.get(key, '~' + key)} deletes {key}, which the config does not have, or holds as null "
                f"already; leave it out (python {_script()} --cfg job shows every setting)")
    if (found := re.match(r"Error merging override ~([\w.]+)\S*; (\w+) \(DictConfig\) does not support deletion",
                          message)):  # a key of a typed schema (trainer, hardware): every one is read
        key = found.group(1)
        return (f"~{key}: {key} is a setting of a typed schema ({found.group(2)}), which keeps every one of its "
                f"settings; give it a value instead: {key}=<value> (python {_script()} --cfg "
                f"{'hydra' if key.startswith('hydra.') else 'job'} shows its own)")
    if (found := re.match(r"Could not override '([^']+)'", message)):  # a key below one that ~ takes out
        key = found.group(1)
        above = next((k for k in given if given[k].startswith("~") and key.startswith(k + ".")), None)
        if above is not None:
            typed = next((a for a in argv if a.lstrip("+").startswith(key + "=")), key + "=...")
            return (f"{typed} sets a setting of {above}, which {given[above]} takes out; "
                    f"leave one of the two out")
    return None
