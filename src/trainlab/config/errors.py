"""Bad input from the person at the keyboard, reported as one clear line instead of a traceback."""

from __future__ import annotations

import contextvars
import difflib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, Optional


def rebuilt(cls: type, args: tuple, state: dict) -> BaseException:
    """An exception pickled by :class:`KeepsItsState`: its message and attributes, its ``__init__`` not run again."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class KeepsItsState:
    """For an exception whose ``__init__`` takes other arguments than the message it builds: pickled as its
    message and attributes. A job in a worker process (``hydra/launcher=submitit_local``, ``joblib``) hands its
    error back pickled, and unpickling called ``__init__(message)``: RunStopped's failed ('missing 2 required
    positional arguments'), a traceback where the run had stopped cleanly; DiskFull's built its line again
    around the finished one."""

    def __reduce__(self) -> tuple:
        return rebuilt, (type(self), self.args, dict(self.__dict__))


class UserError(KeepsItsState, Exception):
    """Something the user asked for cannot be done; the message names the culprit and the fix.

    Raised where the fact is known (a data loader, a net's constructor, the hardware check) and
    turned into ``error: <message>`` plus exit status 2 by :func:`report_user_errors`.
    """


EXIT_USER_ERROR = 2


def nearest(name: str, options: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The options ``name`` likely meant, nearest first (at most ``n``, none when no option is close): the one
    option with the same letters and digits in another case or spacing (``demand_mw`` for ``Demand (MW)``), else
    the closest spellings (difflib's ratio of at least ``cutoff``) as typed, else in any case (``model=LSTM``)."""
    options = list(options)
    letters = re.sub(r"[\W_]+", "", name.casefold())
    same = [option for option in options if letters and re.sub(r"[\W_]+", "", option.casefold()) == letters]
    if len(same) == 1:
        return same
    folded = {option.casefold(): option for option in reversed(options)}  # the first of one spelling wins
    close = difflib.get_close_matches(name, options, n=n, cutoff=cutoff)
    if name.casefold() in folded or not close:  # model=LSTM: no letter alike to difflib, one option in any case
        close = [folded[c] for c in difflib.get_close_matches(name.casefold(), list(folded), n=n, cutoff=cutoff)]
    return close


def did_you_mean(name: str, options: Iterable[str], prefix: str = "", n: int = 1, cutoff: float = 0.6) -> str:
    """``"did you mean <prefix><nearest>?"`` (``" or "`` between several), or ``""`` when no option is
    close (:func:`nearest`): the one wording of every "misspelt?" hint (keys, arguments, metrics, classes)."""
    close = nearest(name, options, n, cutoff)
    return f"did you mean {' or '.join(prefix + c for c in close)}?" if close else ""


_SHELL_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def shell_path_hint(path: str) -> str:
    """For a path holding ``~`` or ``$NAME`` as text (quoted on the command line, or in a YAML file),
    which neither Hydra nor OmegaConf expands: how to write it instead; ``""`` for any other path."""
    tilde = path == "~" or path.startswith("~/")
    if not tilde and not _SHELL_NAME.search(path):
        return ""
    written = _SHELL_NAME.sub(lambda m: f"${{oc.env:{m.group(1)}}}", path)
    written = "${oc.env:HOME}" + written[1:] if tilde else written
    here = os.path.expandvars(os.path.expanduser(path))
    return (f"Hydra expands neither ~ nor $NAME; write '{written}' ({f'here {here}; ' if here != path else ''}the ' "
            "marks keep a shell from reading ${...}), or the path in full")


def empty_path_problem(path: Any, key: str, what: str, effect: str = "") -> Optional[str]:
    """An empty ``path`` given as ``key``, as an unset shell variable leaves it (``key=$NAME``), in one line
    saying ``effect`` and to give ``what``; None for any other value (None too: not given)."""
    if path is None or str(path).strip():
        return None
    return f"{key} is empty (an unset shell variable in {key}=$NAME?){effect}; give {what}"


def require_path(path: Any, key: str, what: str) -> None:
    """Refuse an empty path (``Path("")`` is the working folder), as an unset shell variable leaves it."""
    problem = empty_path_problem(path or "", key, what)
    if problem:
        raise UserError(problem)


def why_missing(path: Path, key: Optional[str] = None) -> str:
    """What a path that names nothing usable is, as the end of a refusal: a link to nowhere, a path with
    ``~``/``$NAME`` that nothing expanded, a Windows path, or, relative, the folder it was looked for in
    (with ``key``: ``key=<path>`` in the repository when that holds it: train.py started in another folder);
    ``""`` otherwise."""
    if path.is_symlink():
        return f" (a link to '{os.readlink(path)}', which does not exist)"
    hint = shell_path_hint(str(path))
    if hint:
        return f" ({hint})"
    if os.sep == "/" and (re.match(r"[A-Za-z]:[\\/]", str(path)) or "\\" in str(path)):
        return (" (a Windows path, which this machine reads as one name: give the file's path on this machine, "
                "with / between folders)")
    if path.is_absolute() or key is None:
        return ""
    from trainlab.config.spelling import typed_setting
    from trainlab.run.root import repo_root

    try:
        found = repo_root() / path
    except UserError:
        found = None
    held = f"; the repository has it: {typed_setting(key, found)}" if found is not None and found.exists() else ""
    return f" in the working folder {Path.cwd()} (relative paths are read from there{held})"


def unreadable(exc: BaseException, path: Any, key: str) -> Optional[UserError]:
    """A file this user may not read (``exc``: the reader's PermissionError, or an error raised from one), as
    one line naming ``key``, the file, the user and the fix; None for any other error. Readers said
    ``cannot read '<file>' as csv: [Errno 13] ...`` (a checkpoint: ``was it cut short?``) without the fix."""
    import errno

    seen = exc
    while seen is not None and not (isinstance(seen, OSError) and seen.errno in (errno.EACCES, errno.EPERM)):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    from trainlab.run.console import user_name
    from trainlab.run.permissions import let_user

    where = seen.filename or path  # the file itself, or a folder on its way that may not be entered
    return UserError(f"{key}: '{where}' cannot be read by user '{user_name()}' ({os.strerror(seen.errno)}); "
                     f"{let_user(where, 'read')}; or give another")


def unwrap_user_error(exc: BaseException) -> UserError | None:
    """Return the UserError behind ``exc`` (Hydra's instantiate wraps constructor errors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserError):
            return exc
        seen.add(id(exc))
        # `raise ... from None` says "not caused by what was being handled": stop there
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def known_error(exc: BaseException) -> Optional[UserError]:
    """What behind ``exc`` is a fact about the input or the machine, no bug: a UserError, a full disk
    (:class:`trainlab.run.durable.DiskFull`, which is one), DataLoader workers out of shared memory
    (:func:`trainlab.data.shared_memory.shared_memory_error`); None for anything else."""
    from trainlab.run.durable import DiskFull

    found = unwrap_user_error(exc) or DiskFull.of(exc) or taken_out(exc)
    if found is None and "torch" in sys.modules:  # only torch's DataLoader workers use shared memory
        from trainlab.data.shared_memory import shared_memory_error

        found = shared_memory_error(exc)
    return found


def taken_out(exc: BaseException) -> Optional[UserError]:
    """A setting the run reads, missing because ``~key`` on the command line took it (or a node above it)
    out: one line naming the override (``~model.net`` ended in ``Key 'net' is not in struct`` and a
    traceback); None for any other error. The settings of the config file itself and its groups are checked
    before the run (:func:`trainlab.config.families.check_nothing_taken_out`); this catches the keys below them."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and not isinstance(exc, (ConfigAttributeError, ConfigKeyError)):
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    if exc is None or id(exc) in seen or not exc.full_key:
        return None
    from trainlab.config.invocation import _script, taken_out_by, task_overrides

    missing = str(exc.full_key)
    line = taken_out_by(missing, task_overrides(), _script(), f"{missing} is missing")
    return UserError(line) if line else None


class Refused(BaseException):
    """A refusal (:func:`refuse`) on its way to a caller in Python (:func:`refusals_raised`). No Exception:
    Hydra's callbacks (:class:`trainlab.run.preflight.Preflight`) let none through, they turn it into a
    warning and start the run anyway."""


_REFUSALS_RAISED: contextvars.ContextVar[bool] = contextvars.ContextVar("trainlab_refusals_raised", default=False)


@contextmanager
def refusals_raised() -> Iterator[None]:
    """Within it, :func:`refuse` ends nothing: the caller (``trainlab.train``) gets its UserError, whose
    message is the line the command line prints."""
    token = _REFUSALS_RAISED.set(True)
    try:
        yield
    except Refused as refused:
        raise UserError(str(refused)) from None
    finally:
        _REFUSALS_RAISED.reset(token)


def refuse(message: str) -> NoReturn:
    """End the command with one line, ``error: <message>`` on stderr, and exit status 2 (a user error): how
    every refusal ends, a UserError's (:func:`report_user_errors`), preflight's and Hydra's rewritten ones.
    Within :func:`refusals_raised` (a run made from Python), :class:`Refused` is raised instead."""
    if _REFUSALS_RAISED.get():
        raise Refused(message)
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)


@contextmanager
def report_user_errors(on_error: Optional[Callable[[], Optional[str]]] = None, exits: bool = True) -> Iterator[None]:
    """Print a UserError (also one wrapped by Hydra) as one line on stderr and exit with status 2.

    ``on_error``: called first (e.g. to remove a run folder that holds nothing yet); what it returns is
    appended to the line. ``exits=False`` (a script's ``main(cfg)`` called from Python, see
    :func:`in_a_hydra_job`): the UserError itself is raised to the caller instead, unwrapped, after
    ``on_error``. A full disk is no bug either, whoever was writing (TensorBoard, a library's own
    file): one line too (:class:`trainlab.run.durable.DiskFull`), and a writer thread it stops says so
    in one line, not a traceback. Anything else is a bug and keeps its traceback.
    """
    from trainlab.run.durable import quiet_full_disk_threads

    try:
        with quiet_full_disk_threads():
            yield
    except Exception as exc:  # noqa: BLE001 - only UserErrors are swallowed, the rest re-raised
        user_error = known_error(exc)
        if user_error is None:
            raise
        note = on_error() if on_error is not None else None
        if not exits:
            raise user_error from None
        if getattr(user_error, "quiet", False):  # a rank of a multi-process run whose rank 0 says it
            sys.exit(EXIT_USER_ERROR)
        if getattr(user_error, "exit_status", None) is not None:  # one line, but no refusal (a rank whose peer ended)
            print(f"error: {user_error}", file=sys.stderr, flush=True)
            sys.exit(user_error.exit_status)
        refuse(f"{user_error}{'; ' + note if note else ''}")
