"""A sweep folder: the files it holds, the study it belongs to, and the trials' run folders in it.

Paths are stored relative to the folder that holds the record (:func:`as_stored`), so that a copied or
moved sweep folder keeps working: a trial's ``run_dir`` attribute relative to the study file's folder
(the sweep folder, unless ``hydra.sweeper.storage`` names another file), the files' run folders and
checkpoint relative to the sweep folder, and the folder's own study file as ``storage: null``. Paths
outside stay absolute; files and studies written before, with absolute paths, are still read
(:func:`run_dir_of`, :func:`sweep_storage`).

:mod:`trainlab.search.results` writes the folder's records.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

import optuna
from optuna.trial import FrozenTrial

from trainlab.config.errors import UserError
from trainlab.run.durable import read_yaml
from trainlab.run.checkpoint_path import resolve_checkpoint
from trainlab.search.shared import JOURNAL, is_copied, open_storage, storage_file, storage_url, with_file

log = logging.getLogger(__name__)

# the files a sweep folder holds (a staged search's folder: STAGES_YAML and a folder per stage)
STUDY_FILE = "optuna.db"  # the study, unless hydra.sweeper.storage names another
STAGES_YAML = "stages.yaml"
TRIALS_CSV = "trials.csv"
TRIALS_JSONL = "trials.jsonl"
RESULTS_YAML = "optimization_results.yaml"
RESULTS_JSON = "optimization_results.json"
MULTIRUN_YAML = "multirun.yaml"  # the sweep's config, as the sweeper writes it
# what to do with a sweep file a power loss cut short (they are replaced whole: a kill leaves none so)
DAMAGED_RESULTS = "delete it: the sweep folder's optuna.db is read instead"
DAMAGED_MULTIRUN = "continue the sweep (the same command), which writes it again"
RUN_DIR = "run_dir"  # a trial's user attribute: its run folder (see as_stored)
METRIC = "metric"  # a study's user attribute: the optimized_metric its trials' values are


def as_stored(path: Any, base: Optional[Path]) -> str:
    """``path`` as a record in ``base`` stores it: relative to ``base`` when inside it, else absolute."""
    path = Path(path).absolute()
    if base is not None:
        for inner, outer in ((path, base.absolute()), (path.resolve(), base.resolve())):
            if inner.is_relative_to(outer):
                return inner.relative_to(outer).as_posix()
    return str(path)


def study_folder(storage: str) -> Optional[Path]:
    """The folder of a study file, which its trials' relative ``run_dir`` start from; None for a server."""
    found = storage_file(storage)
    return found.absolute().parent if found is not None else None


def run_dir_places(trial: FrozenTrial, base: Optional[Path], sweep_dir: Optional[Path] = None) -> list[Path]:
    """Where a trial's run folder may lie, the one its record names first; empty when it has none. ``base``: the
    folder of the study file it was read from (:func:`study_folder`), where a relative one lies; ``sweep_dir``: the
    sweep folder it belongs to, which holds its trials' folders (``<sweep>/<number>``) wherever the study file is.
    A study file moved away from the sweep (``STORAGE=sqlite:////elsewhere/x.db``) found ``/elsewhere/3``, not the
    sweep's ``3``. A trial copied from an earlier study (warm start) keeps that study's folder alone."""
    stored = trial.user_attrs.get(RUN_DIR)
    if not stored:
        return []
    path, copied = Path(stored), is_copied(trial)
    if path.is_absolute():
        # a study written before paths were stored relative: the sweep folder moved or copied with its trials'
        # folders holds one of its name, which is taken before the place it was written at
        places = [base / path.name] if base is not None and not copied and path.parent != base else []
        places.append(path)
        if sweep_dir is not None and not copied:
            places.append(sweep_dir.absolute() / path.name)
    else:
        places = [(base or Path.cwd()) / path]
        if not copied:
            # the study file moved below the folder its paths start from (an earlier trainlab's relative
            # sqlite:///study.db, put into the sweep folder or given with STORAGE=): outputs/sweep/3 is base's
            # sweep/3 or 3; and the sweep folder itself, wherever the study file went
            tails = [Path(*path.parts[i:]) for i in range(len(path.parts))]
            places += [base / tail for tail in tails[1:]] if base is not None else []
            places += [sweep_dir.absolute() / tail for tail in tails] if sweep_dir is not None else []
    return list(dict.fromkeys(places))


def run_dir_of(trial: FrozenTrial, base: Optional[Path], sweep_dir: Optional[Path] = None) -> Optional[Path]:
    """A trial's run folder, None when it has none: the first of :func:`run_dir_places` that is a folder, else
    the place its record names (absolute: as written; relative: from ``base``, else from here)."""
    places = run_dir_places(trial, base, sweep_dir)
    if not places:
        return None
    stored = Path(trial.user_attrs[RUN_DIR])
    named = stored if stored.is_absolute() else places[0]
    return next((p for p in places if p.is_dir()), named)


# a study's place given by hand for one sweep folder (make analyze / refine / stage2 STORAGE=<url>, the tools'
# --storage): in the environment, so that the train.py that make stage2 starts reads the same study
GIVEN_STORAGE_ENV = "TRAINLAB_SWEEP_STORAGE"


STORAGE_HELP = ("the sweep's study, where its folder's records do not find it (a relative sqlite:///study.db of an "
                "earlier trainlab): sqlite:///<file>, journal:<file> or a database URL")


def give_storage(sweep_dir: Path, url: str) -> None:
    """Read ``sweep_dir``'s study from ``url`` (a relative file taken from this folder), here and in the processes
    started from here."""
    if not url.startswith(JOURNAL) and "://" not in url:
        raise UserError(f"STORAGE={url} (--storage) is neither a database URL (sqlite:///<file>) nor journal:<file>")
    file = storage_file(url)
    placed = with_file(url, file.absolute()) if file is not None and not file.is_absolute() else url
    os.environ[GIVEN_STORAGE_ENV] = json.dumps({"sweep": str(sweep_dir.resolve()), "storage": placed})


def _given_storage(sweep_dir: Path) -> Optional[str]:
    """The storage given by hand for ``sweep_dir`` (:func:`give_storage`), else None."""
    try:
        given = json.loads(os.environ.get(GIVEN_STORAGE_ENV) or "null")
    except ValueError:
        return None
    if isinstance(given, dict) and given.get("sweep") == str(sweep_dir.resolve()):
        return given.get("storage")
    return None


def sweep_storage(sweep_dir: Path) -> str:
    """The storage URL of a sweep folder's study: one given by hand (:func:`give_storage`), else the one its
    optimization_results.yaml names, except that ``storage: null``, and an older file's URL of an optuna.db where
    this folder has its own (the folder's own study file at its place before a move or copy), mean this folder's
    optuna.db."""
    given = _given_storage(sweep_dir)
    if given:
        return given
    own = sweep_dir.absolute() / STUDY_FILE
    results = sweep_dir / RESULTS_YAML
    stored = (read_yaml(results, DAMAGED_RESULTS) or {}).get("storage") if results.is_file() else None
    written_at = storage_file(stored) if stored else None
    if stored and not (written_at is not None and written_at.name == STUDY_FILE and own.is_file()):
        return stored if written_at is None or written_at.is_absolute() else _placed(stored, written_at, sweep_dir)
    return storage_url(None, own)


def _placed(stored: str, file: Path, sweep_dir: Path) -> str:
    """A study file stored relative (``sqlite:///study.db``, as trainlab wrote it before storage paths were made
    absolute) found where the sweep was run (its multirun.yaml's ``hydra.runtime.cwd``), in the sweep folder or a
    folder above it (a checkout moved whole), or here; the file found is said. Opened from this folder alone, it
    was "its study file 'study.db' does not exist" wherever a tool ran elsewhere (sqlite would have made an empty
    one); where none holds it, one line names the places tried and the fix."""
    tried: list[Path] = []
    for base in (*run_from(sweep_dir), sweep_dir.absolute(), *sweep_dir.absolute().parents, Path.cwd()):
        candidate = base / file
        if candidate in tried:
            continue
        tried.append(candidate)
        if candidate.is_file():
            log.warning("%s: its study is %s: %s names it %s, relative to the folder the sweep was run from (as "
                        "trainlab wrote it before storage paths were made absolute), here %s", sweep_dir, candidate,
                        RESULTS_YAML, stored, base)
            return with_file(stored, candidate)
    shown = ", ".join(str(p) for p in tried[:6]) + (f" (and {len(tried) - 6} more)" if len(tried) > 6 else "")
    example = with_file(stored, Path("/", "<folder>", file.name))
    # STORAGE= is for one command; a file put in the sweep folder is found by every tool (stage 2's train.py too)
    raise UserError(f"{sweep_dir}: its study file '{file}' ({RESULTS_YAML} names it {stored}, relative to the folder "
                    f"the sweep was run from) is in none of {shown}; give its place: make analyze (or refine, stage2, "
                    f"dashboard) SWEEP={sweep_dir} STORAGE={example}, or put the file in the sweep folder "
                    f"({sweep_dir.absolute() / file}), where every tool finds it")


def run_from(sweep_dir: Path) -> list[Path]:
    """The folder the sweep was run from, as its multirun.yaml records it (``hydra.runtime.cwd``); none where
    that file is missing or unreadable."""
    import yaml

    try:
        recorded = yaml.safe_load((sweep_dir / MULTIRUN_YAML).read_text(encoding="utf-8"))
        cwd = recorded["hydra"]["runtime"]["cwd"]
    except (OSError, yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError):
        return []
    return [Path(cwd)] if isinstance(cwd, str) and Path(cwd).is_absolute() else []


def given_sweep(sweep_dir: Optional[Path], target: str, module: str) -> Path:
    """The sweep folder a sweep's tool was given (``make <target>``, ``python -m trainlab.search.<module>``); none is
    refused in one line naming SWEEP= (argparse said "the following arguments are required: sweep_dir, overrides",
    the overrides being optional, and nothing of make's SWEEP=)."""
    if sweep_dir is None:
        raise UserError(f"no sweep folder given: make {target} SWEEP=outputs/train/multiruns/<sweep> (python -m "
                        f"trainlab.search.{module} <sweep folder>)")
    return sweep_dir


def _holds_study(folder: Path) -> bool:
    return (folder / RESULTS_YAML).is_file() or (folder / STUDY_FILE).is_file()


def no_sweep_folder(sweep_dir: Path) -> Optional[str]:
    """Why ``sweep_dir``, given to a sweep's tool (make analyze, refine, stage2, dashboard), holds no study of its
    own: it is no folder (a typo), a staged search's, with a study per stage, one trial's run folder, or the folder
    the sweeps lie in (both were told they hold no study, and not which folder does); None otherwise."""
    if _holds_study(sweep_dir):
        return None
    if sweep_dir.is_file() and _holds_study(sweep_dir.parent):  # <sweep>/optuna.db, <sweep>/trials.csv
        return f"{sweep_dir} is a file of a sweep; give the sweep's folder: {sweep_dir.parent}"
    if not sweep_dir.is_dir():
        return f"{sweep_dir} is not a folder; give a sweep folder (outputs/train/multiruns/...)"
    if (sweep_dir / STAGES_YAML).is_file():  # a staged search's folder holds one study a stage
        stages = sorted(p.name for p in sweep_dir.iterdir() if _holds_study(p))
        return (f"{sweep_dir} is a staged search, with a study per stage: give one of its stages' folders "
                f"({', '.join(str(sweep_dir / s) for s in stages) or 'none has started'})")
    found = beside_a_sweep(sweep_dir)
    return f"{sweep_dir} {found[0]}; give {found[1]}" if found else None


def beside_a_sweep(sweep_dir: Path) -> Optional[tuple[str, str]]:
    """Where the sweep is that ``sweep_dir``, which holds no study, was given for: it is a trial's run folder, or
    holds sweeps (multiruns/, paths.log_dir); (what it is, the sweep's folder or the latest ones), else None."""
    if _holds_study(sweep_dir):
        return None
    if _holds_study(sweep_dir.absolute().parent) and sweep_dir.absolute().name.isdigit():
        return (f"is the run folder of trial {sweep_dir.absolute().name} of a sweep",
                f"the sweep's folder: {sweep_dir.absolute().parent}")
    for depth in range(1, 4):  # multiruns/<sweep>, or paths.log_dir's train/multiruns/<sweep>
        sweeps = sorted((p for p in sweep_dir.glob("/".join("*" * depth)) if p.is_dir() and _holds_study(p)),
                        key=lambda p: p.name)
        if sweeps:
            return (f"holds {len(sweeps)} sweep folder(s), not a study of its own",
                    f"one of them (the latest by name first: {', '.join(str(p) for p in sweeps[-3:][::-1])})")
    return None


def said_of(key: str, typed: Any, folder: Path, refusal: UserError) -> UserError:
    """An earlier sweep's refusal (read from ``folder``, resolved) said of the sweeper key that named it and of the
    folder as the user typed it: ``hydra.sweeper.fix_top_of=outputs/s: no trial completed ...``, not the study's
    name or an absolute path the user never wrote."""
    text = str(refusal).replace(str(folder), str(typed)).removeprefix(f"{typed}: ")
    if text.startswith(f"{typed} "):  # '<folder> holds no study ...': the key has named it already
        text = "it" + text[len(str(typed)):]
    return UserError(f"{key}={typed}: {text}")


def missing_study_file(url: str, folder: Path) -> Optional[str]:
    """Why the sweep folder ``folder``'s study cannot be read: its study file is gone (sqlite and optuna-dashboard
    made an empty one in its place); None when it is there, or on a server."""
    path = storage_file(url)
    if path is not None and not path.exists() and path.parent.is_dir():
        return (f"{folder}: its study file '{path}' does not exist (moved or removed?); put it back, or give the "
                "folder that holds it")
    return None


def load_existing(url: str, study_name: Optional[str], folder: Path) -> optuna.Study:
    """A finished sweep's study, read by the tools (``make analyze`` / ``refine`` / ``stage2``): a study file
    that is gone is said (sqlite made an empty one in its place and Optuna raised ``KeyError: 'Record does not
    exist.'``), and so is a study name the storage lacks, with the names it holds; ``study_name`` None: the one
    named as ``folder``, else the file's only study (a renamed sweep folder without optimization_results.yaml)."""
    problem = missing_study_file(url, folder)
    if problem is not None:
        raise UserError(problem)
    storage = open_storage(url)
    names = optuna.get_all_study_names(storage=storage)
    if study_name is None and folder.absolute().name in names:
        study_name = folder.absolute().name
    if study_name is None or study_name not in names:
        if study_name is None and len(names) == 1:
            study_name = names[0]
        else:
            held = f"it holds {', '.join(names)}" if names else "it holds no study"
            raise UserError(f"{folder}: study {study_name or folder.name} is not in {url} ({held}); give the sweep "
                            "folder whose study it is")
    return optuna.load_study(study_name=study_name, storage=storage)


def load_sweep_study(sweep_dir: Path) -> optuna.Study:
    """The study a sweep folder belongs to (from optimization_results.yaml, else its optuna.db)."""
    results = sweep_dir / RESULTS_YAML
    if results.is_file():
        storage, name = sweep_storage(sweep_dir), read_yaml(results, DAMAGED_RESULTS)["study_name"]
    elif (sweep_dir / STUDY_FILE).is_file():  # the folder's name, or the file's one study (a renamed folder)
        storage, name = sweep_storage(sweep_dir), None
    elif (problem := no_sweep_folder(sweep_dir)) is not None:
        raise UserError(problem)
    else:
        raise UserError(f"{sweep_dir} holds no study ({RESULTS_YAML} or {STUDY_FILE}); give a sweep folder "
                        "(outputs/train/multiruns/...)")
    study = load_existing(storage, name, sweep_dir)
    meant = intended_directions(sweep_dir, study)
    if meant is None:
        return study
    log.warning("%s: %s; its trials are read toward the most here", sweep_dir, searched_the_other_way(study))
    return in_memory(study, meant)


def intended_directions(sweep_dir: Path, study: optuna.Study) -> Optional[list[str]]:
    """The directions the sweep in ``sweep_dir`` was run for, where its study has others: trainlab before
    8e46706 minimised the first of several objectives (hparams_search=optuna_two_objectives) whatever
    optimized_mode said, which its multirun.yaml keeps. None where the study follows its optimized_mode."""
    path = sweep_dir / MULTIRUN_YAML
    if len(study.directions) < 2 or not path.is_file():
        return None
    try:
        mode = (read_yaml(path, DAMAGED_MULTIRUN) or {}).get("optimized_mode")
    except UserError:  # a multirun.yaml cut short says nothing here; its readers refuse it
        return None
    found = [d.name.lower() for d in study.directions]
    if mode != "max" or found[0] != "minimize":
        return None
    return ["maximize", *found[1:]]


def searched_the_other_way(study: optuna.Study) -> str:
    """What a study of :func:`intended_directions` is."""
    metric = study.user_attrs.get(METRIC, "its first objective")
    return (f"its study was searched toward the least {metric}, though it ran with optimized_mode=max (trainlab before "
            "8e46706 minimised the first of several objectives whatever optimized_mode said)")


def in_memory(study: optuna.Study, directions: Optional[list[str]] = None) -> optuna.Study:
    """The study as it stands, in memory (``directions``: read toward these instead of its own), for
    readers that go through its trials many times: on an SQLite study of 10,000 trials each read took
    0.6 s, and ``study.trials`` (a deep copy) 7 s."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not 'A new study created in memory' in refine's output
    try:
        copy = optuna.create_study(study_name=study.study_name,
                                   directions=directions or [d.name.lower() for d in study.directions])
    finally:
        optuna.logging.set_verbosity(verbosity)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy


def checkpoint_of(run_dir: Optional[Path]) -> Optional[str]:
    """The run's best checkpoint as evaluate.py would pick it (best.txt, else last.ckpt), or None."""
    if not run_dir:
        return None
    try:
        return str(resolve_checkpoint(str(run_dir)))
    except UserError:  # the trial ended before its first checkpoint
        return None
