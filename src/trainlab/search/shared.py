"""Several sweep processes on one study: where the study lives, who owns a running trial, which asked
trial may run.

The SLURM-array pattern starts one command several times with the same storage and study name (the
same ``hydra.sweep.dir`` gives both: its optuna.db and its folder's name). The processes share the
study, and each asks trials until ``n_trials`` are finished (COMPLETE or PRUNED) in total.

- Owners: every trial carries the user attribute ``sweeper`` = ``<host>:<pid>`` of the process that
  asked it. A RUNNING trial is *live* while that process exists. On this host that is checked
  (``kill(pid, 0)``), and a trial of a process that has gone is told FAIL by the next sweeper that
  counts. A trial of another host cannot be checked: it counts as live, so a machine that died
  keeps its trial's place until the command runs again on that host (or the trial is told FAIL by
  hand: ``study.tell(<number>, state=TrialState.FAIL)``). Hosts are told apart by name: containers
  that share a host name but not their process ids count as one host, wrongly.
- Admission: the storage numbers trials atomically, so an asked trial may run only if fewer than
  ``n_trials`` trials with a smaller number are COMPLETE, PRUNED or live RUNNING. Of two processes
  that ask at the same moment for the last place, the later number sees the earlier one running and
  is told FAIL at once with ``fail_reason`` "surplus: ..." and never launched. A trial's number is
  admitted against trials that existed before it; those can only end COMPLETE, PRUNED or FAIL, so
  at most ``n_trials`` trials ever finish, and no trial runs twice (each is launched once, by the
  process that asked it).
- Ending: a process stops asking once the finished and live running trials reach ``n_trials``. A
  running trial that fails later is replaced by the process that owns it. One whose process was
  killed is marked FAIL and replaced by a process of the same host that is still asking; when none
  is left, run the command again.
- Storage spellings (``hydra.sweeper.storage``): any SQLAlchemy URL (``sqlite:///<file>``,
  ``postgresql+psycopg2://<user>@<host>:<port>/<db>``); sqlite URLs get ``?timeout=60``, so that
  concurrent writers wait for the file's lock instead of failing with "database is locked".
  ``journal:<file>`` is Optuna's journal file storage (``JournalStorage`` + ``JournalFileBackend``):
  an append-only log with a file lock, no database needed.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
from pathlib import Path
from typing import Optional, Union

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from trainlab.config.errors import UserError
from trainlab.run.durable import DiskFull, cut_torn_tail, full_database
from trainlab.search.handover import sweep_process, sweep_process_gone
from trainlab.search.storage_driver import driver_problem

log = logging.getLogger(__name__)

JOURNAL = "journal:"
SQLITE_TIMEOUT_S = 60  # how long a sqlite writer waits for another one's lock
OPEN_ATTEMPTS = 5
SURPLUS = "surplus:"
COPIED = "copied_from"  # user attribute of a trial copied from an earlier study: "<study name>#<number>"  # fail_reason prefix of an asked trial that found the study full
# A trial is asked, then gets its owner in a second write: a RUNNING trial without an owner is young
# (its process is between the two) or orphaned (the process died between them, a window of a few ms).
UNOWNED_GRACE_S = 120


# --- where the study lives ---------------------------------------------------------------------------

_URL_ESCAPES = {"%": "%25", "?": "%3F", "#": "%23"}


def out_of_space(exc: BaseException, url: Optional[str] = None) -> Optional[DiskFull]:
    """What ran out of space, when a full (or read-only) disk is behind ``exc``: a file of ours or a
    library's, or the study's SQLite file (``database or disk is full``, wrapped by SQLAlchemy and
    Optuna; ``url``: the study's storage, whose file tells a file-size limit from a full disk); else None."""
    database = full_database(exc)  # out here (a trial's own are TrialOutOfSpace), the study's
    if database is not None:
        return DiskFull.database(database, storage_file(url) if url else None, "the study")
    return DiskFull.of(exc)


def storage_url(spec: Optional[str], default_file: Path) -> str:
    """``hydra.sweeper.storage`` as every process opens it: sqlite with a lock timeout, a journal's and a sqlite
    file's path absolute (jobs and tools may run in another folder); null -> ``sqlite:///<default_file>``."""
    given = spec
    if not spec:
        spec = "sqlite:///" + _escaped(default_file)
    spec = str(spec)
    if spec.startswith(JOURNAL):
        path = spec[len(JOURNAL):]
        if not path:
            raise UserError(f"hydra.sweeper.storage={spec} names no file: journal:<path>, e.g. journal:study.journal")
        spec = JOURNAL + str(Path(path).expanduser().resolve())
    elif "://" not in spec:
        raise UserError(f"hydra.sweeper.storage={spec} is neither a database URL (sqlite:///<file>, "
                        "postgresql://<user>@<host>:<port>/<db>) nor journal:<file>")
    else:
        problem = driver_problem(spec)
        if problem is not None:
            raise UserError(f"hydra.sweeper.storage={given}: {problem}")
    url = _sqlite(spec)
    if url is not None:
        spec, url = _sqlite_absolute(spec, url, given)
    if url is not None and "timeout" not in url.query:
        spec += ("&" if url.query else "?") + f"timeout={SQLITE_TIMEOUT_S}"
    # a given file's place, before the sweep folder is made: a sqlite file's missing folder was found after 5 tries
    problem = storage_place_problem(spec, writing=True) if given else None
    if problem is not None:
        raise UserError(f"hydra.sweeper.storage={given}: {problem}")
    return spec


def _sqlite_absolute(spec: str, url: URL, given: Optional[str]) -> tuple[str, URL]:
    """A sqlite URL with its file made absolute, as a journal's is (a relative one was looked for in the folder of
    each job and of make analyze / refine: "its study file 'study.db' does not exist"); a host refused."""
    if url.host:  # sqlite://tmp/s.db: SQLAlchemy takes tmp for a server and opens s.db in this folder
        file = f"{url.host}/{url.database or ''}"
        raise UserError(f"hydra.sweeper.storage={given}: a sqlite URL names no server, but '{url.host}' stands where one "
                        f"would; give the file after three slashes: sqlite:///{file} (from this folder), or four for "
                        f"an absolute path: sqlite:////{file}")
    if url.database in (None, "", ":memory:") or Path(url.database).is_absolute():
        return spec, url
    path = Path(url.database).absolute()
    query = spec.partition("?")[2]  # the path's own '?' are escaped (%3F): the first one left starts the options
    if not path.parent.is_dir() and Path("/", url.database).parent.is_dir():  # sqlite:///tmp/s.db meant /tmp/s.db
        raise UserError(f"hydra.sweeper.storage={given}: after sqlite:/// a path is read from this folder, as "
                        f"'{path}', whose folder does not exist; for the absolute path /{url.database} write four "
                        f"slashes: hydra.sweeper.storage=sqlite:////{url.database}")
    spec = "sqlite:///" + _escaped(path) + (f"?{query}" if query else "")
    return spec, make_url(spec)


def _escaped(path: Path) -> str:
    """A path as a URL holds it: '?' would start its options, '#' a fragment and %xx an escape."""
    return "".join(_URL_ESCAPES.get(c, c) for c in str(path))


def _sqlite(spec: str) -> Optional[URL]:
    """``spec`` as SQLAlchemy (which Optuna opens it with) reads it, when it is a sqlite URL; else None.
    Read its way, not with urllib's: urlsplit takes a '#' in a file's path for a fragment, so a study
    at sqlite:////data/run#2/s.db was looked for in /data/run, and a timeout after it was added twice."""
    try:
        url = make_url(spec)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return None  # Optuna's own refusal names it when the study is opened
    return url if url.get_backend_name() == "sqlite" else None


def storage_file(url: str) -> Optional[Path]:
    """The file a :func:`storage_url` keeps its study in (``sqlite:///<file>``, ``journal:<file>``), the one
    SQLAlchemy opens (``%xx`` decoded); None for a database server or a sqlite database in memory."""
    if url.startswith(JOURNAL):
        return Path(url[len(JOURNAL):])
    sqlite = _sqlite(url)
    if sqlite is None or sqlite.database in (None, "", ":memory:"):
        return None
    return Path(sqlite.database)


def with_file(url: str, path: Path) -> str:
    """A sqlite or journal :func:`storage_url` that keeps its study in ``path`` instead, its options kept
    (``sqlite:///study.db?timeout=60`` -> ``sqlite:////<folder>/study.db?timeout=60``)."""
    if url.startswith(JOURNAL):
        return JOURNAL + str(path)
    query = url.partition("?")[2]  # the path's own '?' are escaped (%3F): the first one left starts the options
    return "sqlite:///" + _escaped(path) + (f"?{query}" if query else "")


def open_storage(url: str) -> Union[str, optuna.storages.BaseStorage]:
    """What ``optuna.create_study`` / ``load_study`` take for a :func:`storage_url`: the URL itself
    (Optuna builds an RDBStorage), or the journal file's storage."""
    problem = storage_place_problem(url)
    if problem is not None:
        raise UserError(f"hydra.sweeper.storage={url}: {problem}")
    if not url.startswith(JOURNAL):
        return url
    from optuna.storages.journal import JournalFileBackend

    path = Path(url[len(JOURNAL):])
    repair_journal(path)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def storage_place_problem(url: str, writing: bool = False) -> Optional[str]:
    """Why this user cannot keep a study in the file of a :func:`storage_url` (a folder given for the file, a
    folder that does not exist: to be made where the study is to be written, ``writing``, else the study is not
    there; ``writing``: one it may not write, a read-only disk; a finished sweep's study is read from a read-only
    folder), said before Optuna opens it (at the sweep's plan, :func:`storage_url`, for a storage given) (sqlite said "cannot open the study after 5
    tries: unable to open database file", a journal on a folder was an IsADirectoryError traceback); None when
    it can, or the study is on a server."""
    import errno
    import os

    path = storage_file(url)
    if path is None:
        return None
    kind = "journal:" if url.startswith(JOURNAL) else "sqlite:///"
    if path.is_dir():
        return (f"'{path}' is a folder; name a file in it: {kind}{path / ('study.journal' if kind == 'journal:' else 'optuna.db')}")
    folder = path.parent
    if not folder.is_dir() and not writing:  # a finished sweep's study read: a new folder would hold no study
        return (f"the folder '{folder}' does not exist, so the study is not there (moved or removed?); give the "
                "study's file where it is now")
    if not folder.is_dir():
        from trainlab.config.spelling import shell_path

        return (f"the folder '{folder}' does not exist; create it (mkdir -p {shell_path(folder)}), or name a file in "
                "another folder")
    # sqlite writes a journal beside its file, Optuna's journal a lock: the folder is written either way
    denied = next((p for p, need in ((folder, os.W_OK | os.X_OK), (path, os.R_OK | os.W_OK))
                   if writing and p.exists() and not os.access(p, need)), None)
    if denied is None:
        return None
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return f"'{folder}' is on a read-only disk ({os.strerror(errno.EROFS)}); name a file on a writable one"
    from trainlab.run.console import user_name
    from trainlab.run.permissions import let_user

    return (f"user '{user_name()}' may not write '{denied}' ({os.strerror(errno.EACCES)}); "
            f"{let_user(denied, 'write' if denied == folder else 'use')}; or name a file in a folder of yours")


def dashboard_storage(sweep: Union[str, Path]) -> str:
    """``make dashboard``'s storage, :func:`trainlab.search.sweep_folder.sweep_storage`; refused where its study file
    is gone (optuna-dashboard made an empty one and showed no study), and where the folder is none (optuna-dashboard
    failed with sqlalchemy's traceback) or a staged search's (its stages hold the studies). A journal is handed as
    its file's path, which is how optuna-dashboard tells a journal file."""
    from trainlab.config.errors import refuse
    from trainlab.search.sweep_folder import missing_study_file, no_sweep_folder, sweep_storage

    if not str(sweep):  # make dashboard without SWEEP= was told '.: its study file .../optuna.db does not exist'
        refuse("no sweep folder given: make dashboard SWEEP=outputs/train/multiruns/<sweep>, or STORAGE=<url> for "
               "a study elsewhere")
    sweep_dir = Path(sweep)
    problem = no_sweep_folder(sweep_dir) or missing_study_file(url := sweep_storage(sweep_dir), sweep_dir)
    if problem:
        refuse(problem)
    # optuna-dashboard reads a journal by its file's path alone ('journal:<file>' failed with its traceback,
    # 'ValueError: Failed to guess storage class from storage_url')
    return str(storage_file(url)) if url.startswith(JOURNAL) else url


def repair_journal(path: Path) -> None:
    """Cut a journal's torn last line (a process killed mid-append, power loss), under the journal's own
    lock. Optuna skips such a line when it reads, but its next append continues it, and from then on every
    process fails to read the study (JSONDecodeError)."""
    from optuna.storages.journal import JournalFileSymlinkLock

    if not path.is_file():
        return
    lock = JournalFileSymlinkLock(str(path))  # what JournalFileBackend locks its appends with
    lock.acquire()
    try:
        cut_torn_tail(path)
    finally:
        lock.release()


def create_or_load(url: str, study_name: str, directions: list[str]) -> optuna.Study:
    """``optuna.create_study(load_if_exists=True)``, tried again when several processes create a new
    database's tables at the same moment (the later ones get "table ... already exists" or a
    duplicate key) or the server does not answer yet; its sampler is set by the caller."""
    problem = storage_place_problem(url, writing=True)
    if problem is not None:
        raise UserError(f"hydra.sweeper.storage={url}: {problem}")
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return optuna.create_study(storage=open_storage(url), study_name=study_name, directions=directions,
                                       sampler=optuna.samplers.RandomSampler(), load_if_exists=True)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if full_database(exc) is not None:  # no other process's doing: trying again fills nothing
                raise out_of_space(exc, url) from None
            if attempt == OPEN_ATTEMPTS - 1:
                raise UserError(f"hydra.sweeper.storage={url}: cannot open the study after {OPEN_ATTEMPTS} tries: "
                                f"{str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}") from None
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def trial_id(trial: Union[optuna.trial.Trial, FrozenTrial]) -> int:
    """The storage's id of a trial: what ``optuna.trial.Trial(study, trial_id)`` rebuilds it from.

    Private in Optuna 5 (``_trial_id``) and without a public accessor, yet the only handle that
    rebuilds a trial in another process: numbers are per study, ids per storage (they start at 1
    in sqlite, at 0 in journal storage). The one place this project reads it.
    """
    return int(trial._trial_id)


# --- who owns a running trial -------------------------------------------------------------------------

def gone_reason(trial: FrozenTrial) -> Optional[str]:
    """Why a RUNNING trial's sweeper is known to have ended, or None while it is (or may be) alive (another
    machine's cannot be checked and counts as live)."""
    who = trial.user_attrs.get("sweeper")
    if who is None:
        age = (datetime.datetime.now() - trial.datetime_start).total_seconds() if trial.datetime_start else 0.0
        return f"no sweeper took it within {UNOWNED_GRACE_S} s" if age > UNOWNED_GRACE_S else None
    gone = sweep_process_gone(who, trial.datetime_start.timestamp() if trial.datetime_start else None)
    return None if gone is None else f"its sweep process ({who}) ended before it did{gone}"


def tell(study: optuna.Study, trial: optuna.trial.Trial, values: Optional[list[float]], state: TrialState) -> None:
    """``study.tell``, where GridSampler's end is not an error: it calls study.stop() once every point
    is visited, which Optuna refuses outside study.optimize; the trial's state is stored before that
    (Optuna's tell does it in a finally block), and the sweeper stops by counting trials anyway."""
    try:
        study.tell(trial, values, state=state)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise


def fail_trial(study: optuna.Study, trial_id: int, reason: str) -> bool:
    """Tell a trial FAIL with its reason; False when another process closed it first."""
    trial = optuna.trial.Trial(study, trial_id)
    try:
        trial.set_user_attr("fail_reason", reason)
        tell(study, trial, None, TrialState.FAIL)
    except (UpdateFinishedTrialError, ValueError):  # Optuna: "has already finished" / "Cannot tell a ..."
        (now,) = (t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
        if not now.state.is_finished():
            raise
        return False
    return True


def queue_again(study: optuna.Study, trial: Union[optuna.trial.Trial, FrozenTrial]) -> None:
    """The configuration of a trial stopped from outside (Ctrl-C, SIGTERM, its sweep process killed), queued
    to run first: its trial never trained to its end, and the sweep went on drawing new ones."""
    if trial.params:
        study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number})


def _close_if_orphaned(study: optuna.Study, trial: FrozenTrial) -> Optional[bool]:
    """For a RUNNING trial: None while its sweeper is (or may be) alive; else tell it FAIL and return
    whether this call closed it (False: another process did first)."""
    reason = gone_reason(trial)
    if reason is None:
        return None
    closed = fail_trial(study, trial_id(trial), reason)
    if closed:
        queue_again(study, trial)
        log.info("trial %d marked FAIL: %s; its configuration runs again first", trial.number, reason)
    return closed


def close_orphans(study: optuna.Study) -> int:
    """Tell FAIL every RUNNING trial whose sweeper is known to have ended; how many this call closed."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return sum(bool(_close_if_orphaned(study, trial)) for trial in running)


# --- which asked trial may run ------------------------------------------------------------------------

def is_copied(trial: FrozenTrial) -> bool:
    """A trial copied from an earlier study (``hydra.sweeper.warm_start``): it informs the sampler but
    never ran here and does not count towards ``n_trials``."""
    return COPIED in trial.user_attrs


def taken(study: optuna.Study, below: Optional[int] = None) -> int:
    """COMPLETE, PRUNED (not copied) and live RUNNING trials (with a number below ``below``, if given); RUNNING
    trials of sweepers that have ended are told FAIL on the way."""
    count = 0
    for trial in study.get_trials(deepcopy=False):
        if below is not None and trial.number >= below:
            continue
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            count += not is_copied(trial)
        elif trial.state == TrialState.RUNNING and _close_if_orphaned(study, trial) is None:
            count += 1
    return count


def ask_admitted(study: optuna.Study, n_trials: int) -> Optional[optuna.trial.Trial]:
    """A new trial owned by this process, without parameters yet; None when the study is full.

    The parameters are suggested by the caller after this, so that a surplus trial costs no sampling
    and a seeded sampler can be re-seeded by the trial's number first.
    """
    # Counted again after a surplus: a process whose trial failed meanwhile may have counted this one, then
    # running, as taken and ended; with both gone, the study ended a trial short (11 of 12, 4 processes racing)
    while taken(study) < n_trials:
        trial = study.ask()
        trial.set_user_attr("sweeper", sweep_process())  # its owner
        ahead = taken(study, below=trial.number)
        if ahead < n_trials:
            return trial
        fail_trial(study, trial_id(trial), f"{SURPLUS} {ahead} trials before it were finished or running "
                                           f"(n_trials={n_trials}); never launched")
        log.info("trial %d is surplus: another process took the last place", trial.number)
    return None


def is_surplus(trial: FrozenTrial) -> bool:
    """An asked trial that found the study full: FAIL in Optuna, but never launched, not a failure."""
    return trial.state == TrialState.FAIL and str(trial.user_attrs.get("fail_reason", "")).startswith(SURPLUS)
