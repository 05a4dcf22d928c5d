"""The folders Hydra finds config options in, in its order: the repository's ``conf/``, ``experiments/``,
and a user's own folders (``--config-dir``, ``hydra.searchpath``; read from a command line by
:func:`config_dir_flags`, refused when they name no folder by :func:`config_dir_problem`).

Hydra takes an option from the first folder that holds it, so a user's ``model/cnn.yaml`` beside the
repository's is never read: :func:`check_shadowed_choices` refuses such a choice. Lists of a group's
options (in messages, the family checks of a sweep) come from every folder (:func:`group_options`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Optional

from trainlab.config.errors import UserError, did_you_mean, shell_path_hint


Sources = Optional[Sequence[Any]]  # a composed config's hydra.runtime.config_sources


def config_folders(sources: Sources = None) -> list[Path]:
    """The file and package folders on the config search path, in Hydra's order: of ``sources`` (a
    sweeper's config's ``hydra.runtime.config_sources``), else of this run's; without either, the
    repository's conf/ and experiments/."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab.run.root import repo_root

    if sources is None and HydraConfig.initialized():
        sources = HydraConfig.get().runtime.config_sources
    if sources is None:
        return [repo_root() / "conf", repo_root() / "experiments"]
    folders = []
    for source in sources:
        if source.schema == "file":
            folders.append(Path(source.path))
        elif source.schema == "pkg" and source.provider != "hydra":  # a user's configs inside a package
            spec = importlib.util.find_spec(source.path.split("/")[0])
            if spec is not None and spec.submodule_search_locations:
                folders.append(Path(list(spec.submodule_search_locations)[0], *source.path.split("/")[1:]))
    return folders


def option_files(group: str, option: str, sources: Sources = None) -> list[Path]:
    """Every ``<folder>/<group>/<option>.yaml`` on the search path; Hydra reads the first."""
    return [path for folder in config_folders(sources) if (path := folder / group / f"{option}.yaml").is_file()]


def option_file(group: str, option: str, sources: Sources = None) -> Optional[Path]:
    """The file Hydra composes for ``group=option``, or None when no folder holds it."""
    return next(iter(option_files(group, option, sources)), None)


def group_options(group: str, sources: Sources = None) -> list[str]:
    """The options of config group ``group`` in every folder of the search path, sorted."""
    return sorted({path.stem for folder in config_folders(sources) for path in (folder / group).glob("*.yaml")})


def not_an_option(group: str, option: str, options: Sequence[str], given_as: str = "") -> str:
    """``<group>=<option> is not an option of the <group> group; did you mean <group>=<near>? its options: ...``,
    the one wording for a choice that no config folder holds: typed on the command line, or one of a sweep's
    choices (``given_as``, after the choice: ``", one of the sweep's data choices,"``)."""
    hint = did_you_mean(option, options, prefix=f"{group}=")
    return (f"{group}={option}{given_as} is not an option of the {group} group; {hint + ' ' if hint else ''}"
            f"its options: {', '.join(options)}")


def options_with_key(group: str, key: str, sources: Sources = None) -> list[str]:
    """The options of ``group`` whose own file sets ``key`` (dotted, below the group: ``source.path``), as
    ``group=option``: where a key this run's option lacks lives (``data.source.path=my.csv`` without
    ``data=file``). Read from each option's file alone (what its defaults list adds is not seen)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    found = []
    for option in group_options(group, sources):
        try:  # as written: a required value (???) and interpolations are keys all the same
            node: Any = OmegaConf.to_container(OmegaConf.load(option_file(group, option, sources)), resolve=False)
        except (OSError, OmegaConfBaseException):
            continue  # a file Hydra cannot read either: its own refusal names it
        for part in key.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is not _ABSENT:
            found.append(f"{group}={option}")
    return found


_ABSENT = object()


def other_options_hint(key: str, composed: Any, also: Sequence[str] = ()) -> str:
    """``data.source.path`` is no setting of ``data=synthetic`` but of ``data=file``: which options of the key's
    group have it ("" when none, or the key is no group's); it was told the settings of the run's option alone,
    or 'did you mean data.source._target_?'. ``also``: other keys the command line gives that the run's options
    lack; the options of the group that have them all are named where there are any (data.source.path with
    data.source.target_columns: data=file, not 'one of' three)."""
    from omegaconf import OmegaConf

    group, _, below = key.partition(".")
    if group == "hydra":
        return _hydra_option_hint(below, composed)
    if not below:
        return ""
    others = options_with_key(group, below)
    if not others:
        return ""
    for other in also:  # keep the options that have every key given, where any does
        other_group, _, other_below = other.partition(".")
        having = [o for o in others if other_group == group and o in options_with_key(group, other_below)]
        others = having or others
    # then those of the model's family; the keys given decide first (data.source.label_column names data=catalogue,
    # whatever the model: its own refusal of the pairing comes when the run is built)
    others = _of_the_models_family(group, others, composed)
    chosen = OmegaConf.select(composed, f"hydra.runtime.choices.{group}", default=None)
    lacking = f" ({group}={chosen} does not)" if chosen else ""
    return (f"{', '.join(others)} {'has' if len(others) == 1 else 'have'} it{lacking}: add "
            f"{others[0] if len(others) == 1 else 'one of them'}")


def _of_the_models_family(group: str, options: list[str], composed: Any) -> list[str]:
    """Of the data ``options`` (``data=catalogue``) that have a key, those of the run's model's family where any
    is: model=gnn with data=gaia's data.source.path was offered 'data=catalogue, data=file, data=sky_folder', two
    of which its model refuses."""
    from omegaconf import OmegaConf

    from trainlab.config.errors import UserError
    from trainlab.config.families import family_of, options_of

    model = OmegaConf.select(composed, "model._target_", default=None)
    if group != "data" or not isinstance(model, str):
        return options
    try:
        family = family_of(model, "model")
    except UserError:  # a model that cannot be imported: its own refusal comes where it is built
        return options
    if family is None:
        return options
    ours = set(options_of(group, family))
    return [o for o in options if o.partition("=")[2] in ours] or options


def _hydra_option_hint(below: str, composed: Any) -> str:
    """``hydra.sweeper.n_trials`` without a search, ``hydra.launcher.n_jobs`` without ``hydra/launcher=joblib``: which
    other sweeper or launcher has the key (it was told the basic one's settings, "_target_, max_batch_size, params",
    which say nothing of the search or launcher the key belongs to)."""
    from omegaconf import OmegaConf

    part, _, name = below.partition(".")
    if part not in ("sweeper", "launcher") or not name:
        return ""
    group = f"hydra/{part}"
    chosen = OmegaConf.select(composed, f"hydra.runtime.choices.{group}", default=None)
    others = [option for option, keys in hydra_option_keys(group).items()
              if name.split(".")[0] in keys and option != chosen]
    if not others:
        return ""
    lacking = f" ({group}={chosen} does not)" if chosen else ""
    if group == "hydra/sweeper" and others == ["optuna"]:  # chosen by a search file, not on its own
        choices = OmegaConf.select(composed, "hydra.runtime.choices", default=None) or {}
        if "hparams_search" not in choices:  # evaluate.py, predict.py: no search to add
            return f"{group}=optuna has it{lacking}, which only train.py's search chooses: this script searches nothing"
        return f"{group}=optuna has it{lacking}, which a search chooses: add -m hparams_search=optuna"
    named = [f"{group}={option}" for option in others]
    return (f"{', '.join(named)} {'has' if len(named) == 1 else 'have'} it{lacking}: add "
            f"{named[0] if len(named) == 1 else 'one of them'}")


def hydra_option_keys(group: str) -> dict[str, set[str]]:
    """The options of one of Hydra's own groups (``hydra/sweeper``, ``hydra/launcher``) and the keys of each: the
    plugins' configs in Hydra's ConfigStore and the files of the config folders (conf/hydra/launcher/slurm.yaml,
    with the keys of the stored config its defaults list extends; that stored base is no option of its own)."""
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    Plugins.instance()  # the plugins' configs are stored when Hydra imports them
    folder: Any = ConfigStore.instance().repo
    for part in group.split("/"):
        folder = folder.get(part, {}) if isinstance(folder, dict) else {}
    stored = {name.removesuffix(".yaml"): {str(k) for k in entry.node.keys()}
              for name, entry in folder.items() if name.endswith(".yaml") and hasattr(entry, "node")}
    options, bases = {}, set()
    for option in group_options(group):
        try:
            node: Any = OmegaConf.to_container(OmegaConf.load(option_file(group, option)), resolve=False)
        except (OSError, OmegaConfBaseException):
            continue  # a file Hydra cannot read either: its own refusal names it
        node = node if isinstance(node, dict) else {}
        keys = {str(k) for k in node if k != "defaults"}
        for base in node.get("defaults") or []:
            if isinstance(base, str) and base in stored:
                keys |= stored[base]
                bases.add(base)
        options[option] = keys
    return {**{name: keys for name, keys in stored.items() if name not in bases}, **options}


def option_given_as_path(group: str, value: str) -> str:
    """What to say for ``group=<a file's path>`` (``model=conf/model/cnn.yaml``, ``model=~/myconf/model/mine.yaml``):
    a group's option is a file's name, without ``.yaml``, found in the config folders; a file of one's own is
    found by giving the folder above its group folder with ``--config-dir``."""
    import shlex

    path = Path(value.replace("\\", "/")).expanduser()
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    head = f"{group}={value} gives a file's path, but a config group's option is a file's name without .yaml"
    options = group_options(group)
    if group == "data" and (path.is_dir() or path.suffix.lower() not in (".yaml", ".yml")):  # the data itself
        from trainlab.config.spelling import typed_setting

        kind, what = ("sky_folder", "a folder of sky images") if path.is_dir() else ("file", "a series file")
        return (f"data={value} gives the data's path, but data= chooses a kind of data ({', '.join(options)}); "
                f"for {what}: data={kind} {typed_setting('data.source.path', value)} (a star catalogue: "
                f"data=catalogue, the same path key)")
    ours = [found.resolve() for found in option_files(group, name)]
    if ours and (not path.is_file() or path.resolve() in ours):
        return f"{head}, found in the config folders: {group}={name}"
    if path.is_file():
        folder = path.resolve().parent
        if folder.name == group.rsplit("/", 1)[-1]:  # already <folder>/<group>/<name>.yaml
            return (f"{head}; to use your own file, give the folder above its {folder.name}/ folder: "
                    f"--config-dir {shlex.quote(str(folder.parent))} {group}={name}")
        return (f"{head}; to use your own file, put it in <your folder>/{group}/{name}.yaml and give "
                f"--config-dir <your folder> {group}={name}")
    return f"{head}; there is no file {value} either; the options of the {group} group: {', '.join(options)}"


def not_for_a_saved_run(group: str, script: str) -> str:
    """Why evaluate.py or predict.py (``script``) takes no choice of ``group`` (a train.py group), and what does
    what the user meant. One reason said of every group ('the model and data come from the run ... and it writes
    no training logs') answered data=file with a word on logs, and said nothing of another file's place."""
    top = group.split("/", 1)[0]
    if top == "data":
        other = ("to score another file of the same columns: +data.source.path=<file> (split=all scores all of it)"
                 if script == "evaluate.py" else
                 "to forecast past the end of another file of the same columns: +data.source.path=<file> (values of "
                 "its drivers after the end: future=<file>; an image run: images=<folder>, a graph run: "
                 "catalogue=<file>)")
        return (f"the run's own data settings are used, those its model was trained on (+data.<key>=<value> changes "
                f"one); {other}")
    if top == "model":
        return ("the model is the run's own, rebuilt with its trained weights (ckpt_path=<another run> "
                "for another model)")
    if top == "logger":
        return (f"it writes no training logs (what it finds goes to its own folder, outputs/"
                f"{'eval' if script == 'evaluate.py' else 'predict'}/runs/...)")
    reasons = {
        "optimizer": "it trains nothing: the run's weights are used as they are",
        "scheduler": "it trains nothing: the run's weights are used as they are",
        "callbacks": "it trains nothing, so no training callback (checkpoints, early stopping) runs",
        "hparams_search": "it searches nothing (a search: python train.py -m hparams_search=<search>)",
        "experiment": "an experiment presets a training run, and the run's own config holds what its one chose",
        "debug": "debug modes shape a training run (python train.py debug=<mode>)",
    }
    return reasons.get(top, "the model and data come from the run's own config (+data.<key>=<value> changes the "
                            "run's data)")


def added_group_problem(argv: list[str], config_name: Optional[str]) -> Optional[str]:
    """``+data=file`` (a '+' before a group of train.py) on evaluate.py's or predict.py's command line, which Hydra
    adds: the file's own ``???`` was then refused as 'data.source.path has no value; set it', advice for a group
    the run's data replace anyway. Refused as ``data=file`` is (:func:`unchosen_group_problem`), before Hydra."""
    from trainlab.config.help import chosen_groups

    if config_name not in ("eval", "predict"):
        return None
    trains, own = chosen_groups("train") or set(), chosen_groups(config_name) or set()
    script = "evaluate.py" if config_name == "eval" else "predict.py"
    for arg in argv:
        key = arg.split("=", 1)[0]
        group = key.lstrip("+")
        if key.startswith("+") and "=" in arg and "." not in group and group.split("/", 1)[0] in trains - own:
            return f"{arg}: {script} chooses no {group}; {not_for_a_saved_run(group, script)}: leave it out"
    return None


def unchosen_group_problem(message: str, argv: list[str], config_name: Optional[str]) -> Optional[str]:
    """A group option for a group the script's config never chooses: Hydra said "Could not override 'logger'.
    No match in the defaults list ... use +logger=none", a '+' that adds a group nothing reads (evaluate.py
    and predict.py take model and data from the run; the Optuna sweeper's sampler needs the search)."""
    import re

    found = re.match(r"Could not override '([^']+)'\. No match in the defaults list", message)
    if found is None:
        return None
    group = found.group(1)
    override = next((a for a in argv if a.split("=", 1)[0] == group), f"{group}=...")
    if config_name in ("eval", "predict"):
        script = "evaluate.py" if config_name == "eval" else "predict.py"
        return f"{override}: {script} chooses no {group}; {not_for_a_saved_run(group, script)}: leave {group}= out"
    if group.startswith("hydra/sweeper/"):
        return (f"{override} chooses a part of the Optuna sweeper, which only a search has: python train.py -m "
                f"hparams_search=optuna {override} ...")
    return f"{override}: no config chooses a {group}, so nothing would read it; leave it out"


def check_shadowed_choices() -> None:
    """Refuse a chosen option (this run's ``hydra.runtime.choices``) that two folders hold (a user's
    ``model/cnn.yaml`` beside the repository's): Hydra reads the first and never the other, without a word."""
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    for group, option in choices.items():
        if not option or group.startswith("hydra/") and group != "hydra/launcher":
            continue
        files = option_files(group, option)
        if len(files) > 1:
            raise UserError(
                f"{group}={option} is {files[0]}, found first on the config search path; {', '.join(map(str, files[1:]))} "
                f"of the same name is never read: rename it (e.g. {files[1].parent / ('my_' + option + '.yaml')}) and "
                f"choose {group}=my_{option}; to start from {group}={option}, begin it with defaults: [{option}, _self_]")


def config_dir_flags(argv: list[str]) -> list[str]:
    """The folders the command line gives with ``--config-dir`` / ``-cd`` (either spelling), as typed."""
    return flag_values(argv, "--config-dir", "-cd")


def config_dir_problem(argv: list[str]) -> Optional[str]:
    """A ``--config-dir`` that names no folder, in one line (Hydra's three lines, exit 1, named no fix);
    ``--config-dir=~/myconf`` gets its own: the shell leaves a '~' after '=' as it is, and so does a quoted
    '~' or '$NAME' anywhere."""
    for folder in config_dir_flags(argv):
        if Path(folder).is_dir():
            continue
        hint = shell_path_hint(folder)
        after_equals = folder.startswith("~") and any(arg in (f"--config-dir={folder}", f"-cd={folder}")
                                                      for arg in argv)
        how = "a space, not '=', lets the shell expand it" if after_equals else "unquoted, the shell expands it"
        fix = (f"{hint.split(';')[0]}; write --config-dir {folder} ({how})" if hint
               else "give the folder that holds your config groups (model/, data/, ...)")
        return f"--config-dir {folder}: {_no_folder(folder)} ({Path(folder).absolute()}); {fix}"
    for folder in _searchpath_folders(argv):  # Hydra skips a search path folder that is not there, unsaid
        if not Path(folder).is_dir():
            what = _no_folder(folder)
            return (f"hydra.searchpath: {what}{'' if what == 'no such folder' else ' at'} file://{folder} "
                    f"({Path(folder).absolute()}); give the "
                    "folder that holds your config groups, or --config-dir <folder>")
    return None


def _no_folder(folder: str) -> str:
    """What a config folder that is none is: a file (a config file given for its folder, said to be 'no such
    folder'), a link to nowhere, or nothing."""
    path = Path(folder)
    return "a file, not a folder" if path.is_file() else "a link to nowhere" if path.is_symlink() else "no such folder"


def _searchpath_folders(argv: list[str]) -> list[str]:
    """The ``file://`` folders of a ``hydra.searchpath=[...]`` override; [] when there is none, or Hydra's
    grammar cannot read it (its own refusal then says why)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    given = [arg for arg in argv if arg.lstrip("+").startswith("hydra.searchpath=")]
    try:
        entries = [e for arg in given for e in (OverridesParser.create().parse_override(arg).value() or [])]
    except (HydraException, TypeError):
        return []
    return [str(e)[len("file://"):] for e in entries if str(e).startswith("file://")]


def search_path_override(argv: list[str], overrides: list[Any], folders: list[str] = ()) -> list[str]:
    """``hydra.searchpath=[...]`` holding the command line's own search path entries and the folders of
    ``--config-dir`` / ``-cd`` (which Hydra's main adds, and ``compose`` has no flag for), so that the
    config composed again finds a user's own options (``--config-dir ~/myconf model=mymodel``); [] when
    the command line adds none. ``folders``: more folders to add (the primary one, when the primary
    config is a user's own)."""
    folders = [*folders, *config_dir_flags(argv)]
    given = next((list(o.value()) for o in overrides if o.key_or_group == "hydra.searchpath"), [])
    entries = [*given, *(f"file://{os.path.abspath(os.path.expanduser(f))}" for f in folders)]
    from trainlab.config.spelling import grammar_value  # the one spelling of values for Hydra's grammar

    return [f"hydra.searchpath={grammar_value([str(e) for e in entries])}"] if entries else []


def flag_values(argv: list[str], *names: str) -> list[str]:
    """The values given to a Hydra flag (``--config-dir d``, ``-cd d``, ``--config-dir=d``), in order."""
    values = []
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(tuple(f"{n}=" for n in names)):
            values.append(arg.split("=", 1)[1])
    return values
