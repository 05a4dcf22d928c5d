"""Bad input from the person at the keyboard, reported as one clear line instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional


class UserError(Exception):
    """Something the user asked for cannot be done; the message names the culprit and the fix.

    Raised where the fact is known (a data loader, a net's constructor, the hardware check) and
    turned into ``error: <message>`` plus exit status 2 by :func:`report_user_errors`.
    """


EXIT_USER_ERROR = 2


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


@contextmanager
def report_user_errors(on_error: Optional[Callable[[], Optional[str]]] = None) -> Iterator[None]:
    """Print a UserError (also one wrapped by Hydra) as one line on stderr and exit with status 2.

    ``on_error``: called first (e.g. to remove a run folder that holds nothing yet); what it returns is
    appended to the line. Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only UserErrors are swallowed, the rest re-raised
        user_error = unwrap_user_error(exc)
        if user_error is None:
            raise
        note = on_error() if on_error is not None else None
        print(f"error: {user_error}{'; ' + note if note else ''}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)


def run_command_line(main) -> None:
    """Run a ``@hydra.main`` function; Hydra's own check of the flags (``-m`` with ``--cfg``, two of
    ``--cfg``/``--info``/...) raises a ValueError before any job: make it one line and exit 2. So is
    a search range set as ``hydra.sweeper.params.<key>=...``, which Hydra refuses with a misleading
    message (:func:`trainlab.search.space.params_override_problem`)."""
    from trainlab.config.help import help_requested, print_help

    if any("hydra.sweeper.params." in arg for arg in sys.argv[1:]):  # optuna is imported only then
        from trainlab.search.space import params_override_problem

        problem = params_override_problem(sys.argv[1:])
        if problem:
            print(f"error: {problem}", file=sys.stderr, flush=True)
            sys.exit(EXIT_USER_ERROR)
    try:
        print_help(main) if help_requested(sys.argv[1:]) else main()
    except ValueError as exc:
        if "can be specified" not in str(exc):
            raise
        script = sys.argv[0].rsplit("/", 1)[-1]
        print(f"error: {exc}; to see a sweep's config, leave out -m: python {script} --cfg job <overrides>",
              file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)
