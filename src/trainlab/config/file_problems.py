"""Mistakes inside a config file (one of conf/, experiments/ or a user's own ``--config-dir``), as one
line naming the file and the fix: YAML that cannot be read (a tab in the indentation, a bracket not
closed), a defaults list that is no list, a defaults entry choosing a group the config has already
chosen, an option a defaults list names that does not exist, and an experiment file without
``# @package _global_``, or with one Hydra does not read (:func:`unread_package_line`). Hydra reported them with a traceback (``yaml.scanner.ScannerError``, ``ValueError:
Invalid defaults list``) or in words that named another thing (``Could not override 'model@experiment.model'``;
``+model=... adds a second model`` for a file's entry; ``model=lstmm is not an option`` for an option
nobody typed). :func:`trainlab.config.composition.composition_problem` asks here first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

EXAMPLE_EXPERIMENT = "experiments/experiment/lstm_seed.yaml"
BOM = "\ufeff"  # a byte-order mark: Windows editors' "UTF-8 with BOM" starts the file with it
HEADER_LINE = re.compile(r"\s*#\s*@")  # a line of the header Hydra reads (hydra's ConfigSource._get_header_dict)
PACKAGE_LINE = re.compile(r"\s*#\s*@package\b")


def unread_package_line(path: Path) -> Optional[str]:
    """Why Hydra did not read the ``# @package`` line that the config file ``path`` holds, or None where it holds
    none. Hydra reads it only in the header, the lines at the top that are blank or begin ``# @``, and stops at the
    first other line: a comment above it (``# my experiment``), or the byte-order mark that an editor's "UTF-8 with
    BOM" puts before its first character. The file's keys then landed under its group's name (``experiment.*``),
    and the refusal said to add the line the file has."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    at = next((number for number, line in enumerate(lines) if PACKAGE_LINE.match(line.lstrip(BOM))), None)
    if at is None:
        return None
    said = lines[at].lstrip(BOM).strip()
    stop = next((number for number, line in enumerate(lines) if line.strip() and not HEADER_LINE.match(line)), at + 1)
    if stop > at:  # in the header: read
        return None
    if lines[stop].startswith(BOM) and stop == at:
        return (f"its '{said}' is not read by Hydra: the file begins with a byte-order mark (saved as 'UTF-8 with "
                "BOM'), so its first line does not begin with '#'; save it as UTF-8 without BOM")
    return (f"its '{said}' (line {at + 1}) is not read by Hydra, which reads it only above every other line and "
            f"stops at line {stop + 1} ({lines[stop].lstrip(BOM).strip()[:40]}); make it the first line")


def _folders(argv: list[str]) -> list[Path]:
    """The config folders in Hydra's order: the repository's, then the command line's own (``--config-dir``,
    ``hydra.searchpath``), which no composed config names yet when composing failed."""
    from trainlab.config.search_path import _searchpath_folders, config_dir_flags, config_folders

    own = [Path(f).expanduser().absolute() for f in (*config_dir_flags(argv), *_searchpath_folders(argv))]
    return [*config_folders(), *own]


def _file(name: str, argv: list[str]) -> str:
    """``model/badbase`` (Hydra's name of a config) -> its path on the search path, or ``model/badbase.yaml``."""
    found = next((path for folder in _folders(argv) if (path := folder / f"{name}.yaml").is_file()), None)
    return str(found) if found is not None else f"{name}.yaml"


def _options(group: str, argv: list[str]) -> list[str]:
    return sorted({path.stem for folder in _folders(argv) for path in (folder / group).glob("*.yaml")})


def _yaml_problem(exc: Any) -> Optional[str]:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return None
    problem = str(getattr(exc, "problem", "") or "").strip()
    where = f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}"
    context, began = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and began is not None and began.line != mark.line:  # a bracket opened lines before
        problem += f", {context} begun at line {began.line + 1}, column {began.column + 1}"
    line = ""
    try:
        line = Path(mark.name).read_text(encoding="utf-8").splitlines()[mark.line]
    except (OSError, IndexError, UnicodeDecodeError):
        pass
    if "\t" in problem or "\t" in line[: mark.column + 1]:
        fix = "YAML indents with spaces only: replace the tab(s) in the file with spaces"
    else:
        fix = "correct the file there (a bracket or quote not closed, a ':' missing or misplaced, an indent off)"
    return f"{where} is not readable YAML: {problem}{f' ({line.strip()})' if line.strip() else ''}; {fix}"


def file_problem(exc: BaseException, argv: list[str]) -> Optional[str]:
    """The one line for a mistake inside a config file, or None when ``exc`` is no such mistake."""
    import yaml
    from hydra.errors import ConfigCompositionException, MissingConfigException

    if isinstance(exc, yaml.YAMLError):
        return _yaml_problem(exc)
    message = str(exc)
    if isinstance(exc, ValueError) and (found := re.match(r"Invalid defaults list in '([^']+)', (.*)", message)):
        name, why = found.groups()
        why = why.strip().removeprefix("defaults ")
        return (f"{_file(name, argv)}: its defaults {why}; write a list, e.g. defaults: [lstm, _self_], "
                "or one entry per line with '- '")
    if isinstance(exc, ValueError) and message.startswith("Unsupported item value in defaults"):
        return _defaults_value_problem(argv)
    if isinstance(exc, ConfigCompositionException) and (
            found := re.match(r"In '([^']+)': Could not override '([^'@]+)@([^']+)'", message)):
        name, group, package = found.groups()
        folder = name.rpartition("/")[0]
        if package != group and folder and package.startswith(folder.replace("/", ".")):
            path = _file(name, argv)
            fix = unread_package_line(Path(path)) or (f"make its first line '# @package _global_' ({EXAMPLE_EXPERIMENT}"
                                                       " shows the form)")
            return (f"{path} is read into {package.rsplit('.', 1)[0]}.* (Hydra puts a file's settings "
                    f"under its folder's name), so its 'override /{group}' reaches no choice of the config; {fix}")
    if isinstance(exc, ConfigCompositionException) and (
            found := re.match(r"Multiple values for ([\w/]+)\. To override a value use 'override ([\w/]+): (\S+)'",
                              message)):
        group, _, option = found.groups()
        if any(a.startswith(f"+{group}=") for a in argv):
            return None  # typed on the command line: the command line's own refusal says it
        return (f"a defaults list chooses {group}: {option}, but {group} is chosen already (conf/train.yaml's "
                f"defaults); in your file write '- override /{group}: {option}' (an experiment file, under "
                f"'# @package _global_'; {EXAMPLE_EXPERIMENT} shows the form)")
    if isinstance(exc, MissingConfigException) and (
            found := re.match(r"In '([^']+)': Could not load '([^']+)'", message)):
        name, missing = found.groups()
        from trainlab.config.errors import did_you_mean

        group, _, option = missing.rpartition("/")
        if "/" not in name or any(a.lstrip("+~").startswith(f"{group}=") and option in a for a in argv):
            return None  # the primary config's list holds the command line's choices: the command line's refusal
        options = _options(group, argv) if group else []
        # punctuated as the command line's line for an option no folder holds (search_path.not_an_option)
        listed = f"the {group} group's options: {', '.join(options)}" if options else ""
        told = " ".join(part for part in (did_you_mean(option, options), listed) if part)
        return (f"{_file(name, argv)}: its defaults name {missing}, which no config folder holds"
                f"{'; ' + told if told else ''}")
    return None


def _defaults_value_problem(argv: list[str]) -> Optional[str]:
    """A defaults entry of a file the command line chose that gives a group a number or true/false
    (``- override /logger: false``; Hydra's ValueError ``Unsupported item value in defaults : bool``, a traceback):
    the file, the entry and the option's name it takes. None when no such file is found."""
    from omegaconf import OmegaConf

    from trainlab.config.command_line import _parsed

    for override in _parsed(argv):
        chosen = override.value()
        if not isinstance(chosen, str):
            continue
        path = Path(_file(f"{override.key_or_group}/{chosen}", argv))
        text = OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else None
        entries = text.get("defaults") if isinstance(text, dict) else None
        for key, value in [(k, v) for e in entries or [] if isinstance(e, dict) for k, v in e.items()]:
            if isinstance(value, (bool, int, float)):
                group = key.split()[-1].strip("/")
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                options = _options(group, argv)
                off = f" ('{key}: none' for no {group})" if "none" in options else ""
                return (f"{path}: its defaults entry '{key}: {shown}' gives {group} a value where an option's name "
                        f"belongs; write one{off}; the {group} group's options: {', '.join(options)}")
    return None


def misplaced(group: str, option: str, argv: list[str]) -> str:
    """For ``group=option`` that no folder holds: ``"; <folder>/<other>/<option>.yaml exists: ..."`` where a file of
    that name lies in another group's folder of the user's (an optimizer written into model/), else ``""``. A file
    of the repository's own (conf/, experiments/) is an option of its group, where it belongs: the line names that
    choice alone (``optimizer=none``: ``callbacks=none``), never a move of trainlab's file."""
    from trainlab.run.root import repo_root

    if not option or "/" in option:
        return ""
    ours = {(repo_root() / name).resolve() for name in ("conf", "experiments")}
    for folder in _folders(argv):
        for path in sorted(folder.glob(f"*/{option}.yaml")) + sorted(folder.glob(f"*/*/{option}.yaml")):
            other = path.parent.relative_to(folder).as_posix()
            if other == group:
                continue
            if folder.resolve() in ours:
                if "/" in other:  # hparams_search/space/<model>.yaml: chosen by the model's name, not typed
                    continue
                return f"; {other}={option} is an option of the {other} group ({path}), if that is what you meant"
            return (f"; {path} exists, in the {other} group's folder: options of the {group} group go "
                    f"in {folder / group}/ (move it there), or choose it as {other}={option}")
    return ""
