"""The command line's own run: ``run_command_line`` wraps ``train.py`` and ``evaluate.py`` so that what
Hydra refuses (an unknown key or option, a config folder that is not one, an argument the locale cannot
read) and a Ctrl-C before training end in one line each (:mod:`trainlab.config.errors` holds the
refusals themselves)."""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Optional

from trainlab.config.errors import did_you_mean, refuse
from trainlab.config.quiet_stop import process_given_back
from trainlab.config.search_path import config_dir_flags, config_dir_problem, flag_values, search_path_override


def in_a_hydra_job() -> bool:
    """Whether the caller runs inside a job that Hydra started (its ``run_job`` is on the stack): the
    command line's run, or a launcher's job in a worker process. Not so for ``main(cfg)`` called from
    Python with a composed config (a notebook, a script's loop of runs), which Hydra's decorator hands
    straight to the function: there a process-ending exit would end the caller's own program. (Read
    from the stack: Hydra offers no flag for it.)"""
    from hydra.core.utils import run_job

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is run_job.__code__:
            return True
        frame = frame.f_back
    return False


def _composed_without(composed: Any, single: list, dropped: str) -> tuple[Any, set[str]]:
    """The config composed without the override of ``dropped`` and any other that Hydra refuses likewise (a
    second key of an option not chosen: ``data.source.path=x data.source.target_columns=[y]`` without data=file
    was answered with Hydra's own "Could not override ... use +data.source.path", a '+' that nothing reads); None
    where it fails otherwise; and the keys left out."""
    from hydra.errors import HydraException
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf.errors import OmegaConfBaseException

    left_out = {dropped}
    try:
        for _ in range(len(single) + 1):
            try:
                return composed([o.input_line for o in single if o.key_or_group not in left_out]), left_out
            except HydraException as exc:
                again = re.match(r"Could not override '([^']+)'", str(exc))
                if again is None or again.group(1) in left_out or "not in" not in str(exc.__cause__):
                    return None, left_out
                left_out.add(again.group(1))
            except OmegaConfBaseException:
                return None, left_out
        return None, left_out
    finally:
        GlobalHydra.instance().clear()


def unknown_key_problem(argv: list[str], config_name: str) -> Optional[str]:
    """What to say after Hydra refused to override a key the config does not have.

    Hydra answers ``trainer.max_epoch=5`` with "Could not override 'trainer.max_epoch'. To append
    to your config use +trainer.max_epoch=5": for a misspelling, that hint adds a key nothing reads.
    Composes the config again (in-process, without the sweeps of a multirun) to find the key Hydra
    refused, and names the settings of its node that come closest. A config group option that does
    not exist (``model=lstn``) gets the nearest option. None when composing succeeds or fails for
    another reason (Hydra's own message then stands alone).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf import DictConfig
    from omegaconf.errors import OmegaConfBaseException

    from trainlab.run.root import repo_root

    try:
        parsed = OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except HydraException:
        return None  # an override Hydra cannot parse: its own message says where
    single = [o for o in parsed if not o.is_sweep_override()]  # a multirun's sweeps are the sweeper's
    # the primary config as Hydra's main read it: --config-path (absolute, or from the scripts' folder), --config-name
    config_dir = next(iter(flag_values(argv, "--config-path", "-cp")[-1:]), "conf")
    config_dir = os.path.join(repo_root(), os.path.expanduser(config_dir))  # an absolute path stays itself
    config_name = next(iter(flag_values(argv, "--config-name", "-cn")[-1:]), config_name)
    # a user's own config folders, as Hydra's main saw them; Hydra's compose looks for the primary config in
    # config_dir alone: one of theirs (--config-dir d --config-name mine) is composed from its own folder
    own = [os.path.abspath(os.path.expanduser(f)) for f in config_dir_flags(argv)]
    primary = next((f for f in own if os.path.isfile(os.path.join(f, f"{config_name}.yaml"))), None)
    search_path = search_path_override(argv, single, [config_dir] if primary else [])
    config_dir = primary or config_dir

    def composed(overrides: list[str]) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            return compose(config_name, overrides=[*overrides, *search_path], return_hydra_config=True)

    single = [o for o in single if o.key_or_group != "hydra.searchpath"]
    try:
        composed([o.input_line for o in single])
        return None
    except MissingConfigException as exc:  # a group option that does not exist (model=lstn)
        return _unknown_option(exc, argv)
    except HydraException as exc:
        hint = _launcher_value_hint(exc.__cause__)
        if hint:
            return hint
        # a key a config file sets that its node (a typed schema) lacks: a user's hardware/mine.yaml's num_thread
        in_file = re.match(r"In '([^']+)': ConfigKeyError raised while composing config:.*full_key: (\S+)", str(exc),
                           re.DOTALL)
        refused = re.match(r"Could not override '([^']+)'", str(exc))
        cause, message = str(exc.__cause__), str(exc)
        if in_file is None and (refused is None or "not in" not in str(exc.__cause__)):
            return None
    except OmegaConfBaseException:
        return None
    if in_file:  # composed without that file, the node may be another option's (hydra/sweeper=basic's)
        from trainlab.config.schemas import group_node_problem

        problem = group_node_problem(in_file.group(1), in_file.group(2), message)
        if problem:
            return problem
    refused_key = in_file.group(2) if in_file else refused.group(1)
    dropped = in_file.group(1).rpartition("/")[0] if in_file else refused_key  # composed again without it
    # a mapping given whole (hydra.launcher.additional_parameters={reservation:x}): the key refused is one of
    # its keys, which the node lacks (it was told 'additional_parameters is not a setting ... did you mean
    # additional_parameters?')
    inner = re.search(r"full_key: (\S+)", cause) if refused else None
    missing = inner.group(1) if inner and inner.group(1).startswith(refused_key + ".") else refused_key
    if config_name in ("eval", "predict"):  # evaluate.py's and predict.py's own configs
        from trainlab.config.checks import EVAL_RUN_KEYS

        if refused_key.split(".")[0] in EVAL_RUN_KEYS:
            given = next(o.input_line for o in single if o.key_or_group == refused_key)
            script = "evaluate.py" if config_name == "eval" else "predict.py"
            return (f"{refused_key} is a setting of the run's own config, which {script} changes with a '+' in "
                    f"front: +{given}")
    node, left_out = _composed_without(composed, single, dropped)
    if node is None:
        return None
    # the first part of the key the config lacks (evaul.x: evaul), below the deepest node it has
    parts, depth, root = missing.split("."), 0, node
    while depth < len(parts) - 1 and isinstance(node, DictConfig) and parts[depth] in node:
        node, depth = node[parts[depth]], depth + 1
    key, parent, name = ".".join(parts[: depth + 1]), ".".join(parts[:depth]), parts[depth]
    settings = [str(k) for k in node.keys() if parent or k != "hydra"] if isinstance(node, DictConfig) else []
    from trainlab.config.search_path import other_options_hint

    given = next((o.value() for o in single if o.key_or_group == refused_key), None)
    if missing != refused_key and parent == refused_key and not settings and isinstance(given, dict):
        from trainlab.config.spelling import grammar_value

        adds = " ".join(f"+{refused_key}.{k}={grammar_value(v)}" for k, v in given.items())
        return (f"{refused_key} holds no key yet, and a mapping given whole cannot add one ({name}): add each with a "
                f"'+' in front: {adds}")
    where = f"a setting of {parent}" if parent else "a top-level setting"
    if isinstance(node, DictConfig) and depth == len(parts) - 1:  # trainer.max_time: an argument not listed
        from trainlab.config.schemas import unlisted_argument

        line = next((o.input_line for o in single if o.key_or_group == refused_key), f"{key}=<value>")
        if unlisted_argument(node.get("_target_"), name, parent):
            return f"{key} is an argument of {node._target_} that the config does not list, so it is added with a " \
                   f"'+' in front: +{line}"
    ours = [k for k in settings if not k.startswith("_") or name.startswith("_")]  # _target_ is no spelling of a key
    below = _one_level_down(node, name, parent)  # model.hidden_size for model.net.hidden_size
    hint = "; ".join(h for h in (f"did you mean {below}?" if below else
                                 did_you_mean(name, ours, prefix=f"{parent}." if parent else ""),
                                 other_options_hint(key, root, sorted(left_out - {dropped}))) if h) \
        or _other_options_below(node, name, parent, root) or (f"its settings: {', '.join(settings)}" if settings else "")
    from trainlab.config.invocation import _script

    script = _script()
    shown = "hydra" if key.startswith("hydra.") else "job"
    if in_file:
        return (f"{in_file.group(1)}.yaml sets {key}, which is not {where}{'; ' + hint if hint else ''} (python "
                f"{script} --cfg {shown} shows every setting)")
    return (f"{key} is not {where}{'; ' + hint if hint else ''} (a '+' in front would add it as a new key, "
            f"which nothing reads; python {script} --cfg {shown} shows every setting)")


def _one_level_down(node: Any, name: str, parent: str) -> Optional[str]:
    """The key ``name`` in one node right below ``node`` (``model.net.hidden_size`` for ``model.hidden_size``,
    ``trainer.max_epochs`` for ``max_epochs``), written in full; None where no single node has it. It was told
    the node's own settings, or a near name of them (max_epochs: 'did you mean epochs?')."""
    from omegaconf import DictConfig

    if not isinstance(node, DictConfig):
        return None
    found = [key for key in node.keys() if (parent or key != "hydra")
             and isinstance(child := node._get_node(key), DictConfig) and name in child.keys()]
    return f"{parent + '.' if parent else ''}{found[0]}.{name}" if len(found) == 1 else None


def _other_options_below(node: Any, name: str, parent: str, root: Any) -> str:
    """``data.path`` on data=synthetic: the key one node down in other options of the group (``did you mean
    data.source.path? data=catalogue, data=file, data=sky_folder have it ...``); "" where none has it."""
    from omegaconf import DictConfig

    from trainlab.config.search_path import other_options_hint

    if not parent or not isinstance(node, DictConfig):
        return ""
    for key in node.keys():
        if isinstance(node._get_node(key), DictConfig):
            deeper = f"{parent}.{key}.{name}"
            others = other_options_hint(deeper, root)
            if others:
                return f"did you mean {deeper}? {others}"
    return ""


def _unknown_option(exc: Any, argv: list[str]) -> Optional[str]:
    """``model=lstn``: Hydra lists the group's options over several lines and exits with 1; this is
    the one line naming the option meant (None when Hydra did not say which group it searched). In a list
    (``logger=[csv,wandb]``) Hydra lists no options: they are read from the config folders. An option given
    as a file's path (``model=conf/model/cnn.yaml``) is named as one: Hydra took the path's folders for
    groups (``model/conf/model=cnn.yaml is not an option of the model/conf/model group``)."""
    if not exc.missing_cfg_file:
        return None
    from trainlab.config.search_path import group_options, not_an_option, option_given_as_path
    from trainlab.data.files import DATA_SUFFIXES, SAVE_AS_SUFFIXES

    for override in _parsed(argv):  # the override as typed: its group, and the path that Hydra split
        group, value = override.key_or_group, override.value()
        # a workbook too (data=sales.xlsx): named as a path (data=file data.source.path=sales.xlsx)
        if isinstance(value, str) and exc.missing_cfg_file == f"{group}/{value}" and (
                re.search(r"[/\\]", value) or group == "data"
                and value.lower().endswith((*DATA_SUFFIXES, *SAVE_AS_SUFFIXES))):
            return option_given_as_path(group, value)
    group, _, option = exc.missing_cfg_file.rpartition("/")
    if not group:
        return None

    options = exc.options or group_options(group)
    if not options:
        return None
    if group == "hparams_search/space":  # chosen by the model's name (conf/hparams_search/*.yaml), not typed
        return (f"the search files take the model's own search space, hparams_search/space/{option}.yaml, which no "
                f"config folder holds; write one for model={option} in your config folder (one line per key, e.g. "
                "optimizer.lr: tag(log, interval(1e-5, 1e-3)); conf/hparams_search/space/ has examples)")
    if not option:
        return f"{group}= gives no option; choose one of the {group} group's: {', '.join(options)}"
    from trainlab.config.file_problems import misplaced

    return not_an_option(group, option, options) + misplaced(group, option, argv)


def _parsed(argv: list[str]) -> list[Any]:
    """The command line's overrides as Hydra's grammar reads them (none when it cannot read one)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except HydraException:
        return []


def _launcher_value_hint(cause: Optional[BaseException]) -> Optional[str]:
    """For a SLURM launcher key typed in sbatch's format (``timeout_min=1:00:00``, ``mem_gb=4G``), which
    OmegaConf refuses as no number: the value in the key's unit."""
    from omegaconf.errors import ValidationError

    if not isinstance(cause, ValidationError) or not str(cause.full_key).startswith("hydra.launcher."):
        return None
    from trainlab.run.slurm_request import launcher_value_hint

    return launcher_value_hint(str(cause.full_key).rsplit(".", 1)[-1], cause.value)


def run_command_line(main, config_name: Optional[str] = None) -> None:
    """Run a ``@hydra.main`` function; Hydra's own check of the flags (``-m`` with ``--cfg``, two of
    ``--cfg``/``--info``/...) raises a ValueError before any job: make it one line and exit 2. So is
    a search range set as ``hydra.sweeper.params.<key>=...``, which Hydra refuses with a misleading
    message (:func:`trainlab.search.space.params_override_problem`). Every error Hydra meets while
    composing the config (an override it cannot read, a value of the wrong type, a key or option the
    config lacks) is one line and exit status 2 instead of Hydra's several lines and 1
    (:mod:`trainlab.config.composition`; ``config_name``, the script's primary config, lets a
    misspelt key get the nearest settings: :func:`unknown_key_problem`)."""
    from trainlab.run.console import readers_may_go

    with process_given_back(), readers_may_go():
        _run_command_line(main, config_name)


def start_checks(argv: list[str]) -> Optional[str]:
    """What refuses a run before Hydra starts (None: nothing), for the command line and :mod:`trainlab.api`:
    a working folder removed after the shell entered it (Hydra records it first thing, hydra.runtime.cwd: a
    FileNotFoundError traceback), a ``--config-dir`` or search path folder that is not there
    (:func:`config_dir_problem`). Also points matplotlib's cache at a writable folder (a read-only home:
    two warnings and a font cache rebuilt per run)."""
    from trainlab.run.console import matplotlib_config_where_writable

    try:
        os.getcwd()
    except FileNotFoundError:
        return ("the working folder this command was started in no longer exists (removed after the shell "
                "entered it); cd to an existing folder and run it again")
    matplotlib_config_where_writable()
    return _undecoded_argument(argv) or config_dir_problem(argv) or _hydra_taken_out(argv) or _missing_stack(argv)


def _hydra_taken_out(argv: list[str]) -> Optional[str]:
    """``~hydra`` takes out conf/hydra/default.yaml's settings (Hydra keeps its own node, which its schema
    holds): the run went to Hydra's own ``outputs/<date>/<time>`` in the working folder, past ``paths.log_dir``,
    without train.log's handler or the preflight checks. (``~hydra.<key>`` is refused by Hydra's schema.)"""
    # ~hydra=default (Hydra's deletion of a group's option by its name) takes them out alike
    typed = next((a for a in argv if a.split("=", 1)[0] == "~hydra"), None)
    if typed is None:
        return None
    from trainlab.config.invocation import _script

    return (f"{typed} takes out trainlab's Hydra settings (conf/hydra/default.yaml: the run folder under "
            "paths.log_dir, train.log, the checks before a run), and the run would go to Hydra's own "
            f"outputs/<date>/<time> in the working folder; leave {typed} out (hydra.<key>=<value> changes one of "
            f"them; python {_script()} --cfg hydra shows them)")


# what a run imports that requirements.txt installs apart from the rest: torch's line first, and the two that need it
_STACK = ("torch", "lightning", "torchmetrics")
_NO_STACK_FLAGS = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")


def _missing_stack(argv: list[str]) -> Optional[str]:
    """torch, Lightning or torchmetrics missing from this Python (a venv made without torch: one for a Python
    whose torch pin resolves only to a CUDA build, tools/check_pythons.sh) met a run as a ModuleNotFoundError
    traceback from deep inside it. ``--help`` and ``--cfg`` need none of them."""
    import importlib.util

    if any(arg.split("=", 1)[0] in _NO_STACK_FLAGS for arg in argv):
        return None
    missing = [name for name in _STACK if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    version = ".".join(map(str, sys.version_info[:3]))
    return (f"{', '.join(missing)} not installed in this Python ({sys.executable}, {version}); install "
            "requirements.txt into it, its torch line first (make install does), then run this again")


def _undecoded_argument(argv: list[str]) -> Optional[str]:
    """An argument whose bytes are no text in the locale's encoding (``é`` under ``LANG=C`` with
    ``PYTHONUTF8=0``: ASCII): Python keeps them as surrogates, which Hydra's grammar refused with advice to
    quote the value, which cannot help."""
    for arg in argv:
        if any("\udc80" <= c <= "\udcff" for c in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return (f"{shown}: this argument is not text in the locale's encoding ({sys.getfilesystemencoding()}); "
                    "run it with a UTF-8 locale (LC_ALL=C.UTF-8) or PYTHONUTF8=1")
    return None


def _run_command_line(main, config_name: Optional[str]) -> None:
    from trainlab.config.invocation import flags_first
    from trainlab.config.help import help_requested, print_help

    sys.argv[1:] = flags_first(sys.argv[1:])  # Hydra's flags anywhere: model=x --config-dir d seed=1
    from trainlab.config.search_path import added_group_problem

    problem = start_checks(sys.argv[1:]) or added_group_problem(sys.argv[1:], config_name)
    if problem:
        refuse(problem)
    if any("hydra.sweeper.params." in arg for arg in sys.argv[1:]):  # optuna is imported only then
        from trainlab.search.space import params_override_problem

        problem = params_override_problem(sys.argv[1:])
        if problem:
            refuse(problem)
    from trainlab.config.composition import hydra_errors_as_one_line
    from trainlab.config.invocation import _script

    try:
        with hydra_errors_as_one_line(sys.argv[1:], config_name):
            print_help(main, config_name) if help_requested(sys.argv[1:]) else main()
    except ValueError as exc:
        if "can be specified" not in str(exc):
            raise
        refuse(f"{exc}; to see a sweep's config, leave out -m: python {_script()} --cfg job <overrides>")
