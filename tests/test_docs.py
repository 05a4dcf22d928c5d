"""The docs name what exists: every `make <target>`, `group=option` and `group.key` that README.md,
CONTRIBUTING.md, conf/README.md, experiments/README.md and docs/speed-history.md show in code (a backticked
span or a fenced block) is a Makefile target, a config option or a key of a composed config; conf/README.md's table has
a row for every config group and names each of its options; README's contents link to its sections.

Examples of mistakes that the docs show on purpose (the "Bad input" table) are listed below, and must
stay mistakes."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from omegaconf import DictConfig, OmegaConf

from tests.conftest import ROOT, config_options

DOCS = ["README.md", "CONTRIBUTING.md", "conf/README.md", "experiments/README.md", "docs/speed-history.md"]
GROUPS = ["data", "model", "optimizer", "scheduler", "trainer", "hardware", "callbacks", "logger", "paths",
          "debug", "hparams_search", "experiment"]
# groups whose options (some or all) live in Hydra's ConfigStore: the plugins' launchers, our sweeper's
STORE_GROUPS = ["hydra/launcher", "hydra/sweeper", "hydra/sweeper/sampler", "hydra/sweeper/pruner"]
# what the docs show as a user's mistake or as a user's own option (README: Bad input, Your own configs)
NOT_OPTIONS = {"model=lstn", "model=LSTM", "model=choice", "hardware=h10", "hydra/launcher=jobib",
               "scheduler=CosineAnnealingLR", "model=mymlp", "data=mydata", "hparams_search=mysearch", "callbacks=mine",
               "optimizer=adam2", "model=adam2",  # a user's optimizer written into their model/ folder
               "optimizer=none",  # a built-in option chosen in another group
               "data=synthetc",  # a misspelt choice of a searched group
               "logger=false", "optimizer=1e", "model=null", "experiment=null",  # a value for an option's name
               "experiment=mine"}  # a user's own experiment
NOT_KEYS = {"trainer.max_epoch", "model.net.hiden_size", "callbacks.x", "model.foo", "hardware.pin_mem",
            "hydra.sweeper.n_trial", "trainer.max_time", "callbacks.mine", "callbacks.mine._target_",
            "data.nope", "data.source.num_rowz", "optimizer.amsgrad", "callbacks.early_stopping.stopping_threshold",
            "model.num_layers"}  # a key indented one node too high
FILE_SUFFIXES = ("py", "yaml", "yml", "csv", "json", "jsonl", "md", "png", "ckpt", "npz", "npy", "log", "db",
                 "txt", "parquet", "fits", "gz", "out", "sh", "toml", "html", "pt")


def doc_code(name: str) -> str:
    """The code of a doc: its backticked spans (a wrapped one joined) and fenced blocks, one per line."""
    text = (ROOT / name).read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    # a span may wrap onto the next line, as prose does (one wrapped there hid its names from every check)
    spans = re.findall(r"``(.+?)``|`([^`\n]+(?:\n[^`\n]+)?)`", prose)
    return "\n".join(blocks + [" ".join((a or b).split("\n")) for a, b in spans])


@cache
def all_code() -> str:
    return "\n".join(doc_code(name) for name in DOCS)


def named_targets() -> set[str]:
    return set(re.findall(r"^\s*(?:\S.*&& )?make ([a-z][a-z0-9-]*)", all_code(), flags=re.M))


def named_options() -> set[str]:
    groups = "|".join(re.escape(g) for g in sorted(GROUPS + STORE_GROUPS, key=len, reverse=True))
    # not a path given as an option (README's Bad input: model=conf/model/cnn.yaml, data=my.csv)
    # not a sweep of Hydra's over a group's options (model=glob([lstm,cnn])): a function, no option
    return {f"{g}={o}" for g, o in re.findall(rf"(?<![\w./$-])\+?({groups})=([A-Za-z0-9_]+)(?![/\w(]|\.\w)", all_code())}


def named_keys() -> set[str]:
    """Dotted keys under a group (``data.source.path``), less those added with '+' and file names."""
    groups = "|".join(g for g in GROUPS + ["hydra", "latency"] if g != "experiment")
    found = re.findall(rf"(?<![\w./$+~-])((?:{groups})(?:\.[A-Za-z_]\w*)+)", all_code())
    return {key for key in found if key.rsplit(".", 1)[1] not in FILE_SUFFIXES}


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9-]+):", (ROOT / "Makefile").read_text(), flags=re.M))


def store_options(group: str) -> set[str]:
    Plugins.instance()  # imports every hydra_plugins module: the plugins' ConfigStore entries
    node = ConfigStore.instance().repo
    for part in group.split("/"):
        node = node.get(part, {})
    return {name.removesuffix(".yaml") for name, entry in node.items() if not isinstance(entry, dict)}


def group_options(group: str) -> set[str]:
    found = set(config_options(group)) if (ROOT / "conf" / group).is_dir() or group == "experiment" else set()
    return found | (store_options(group) if group in STORE_GROUPS else set())


def _paths(node: DictConfig, prefix: str = "") -> set[str]:
    out = set()
    for key in node.keys():
        out.add(f"{prefix}{key}")
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            out |= _paths(child, f"{prefix}{key}.")
    return out


@cache
def composed_keys() -> frozenset[str]:
    """Every key of the configs train.py, evaluate.py and predict.py compose, over every option of every
    group: the n-th composition takes each group's n-th option (fewer compositions than options)."""
    assert set(OmegaConf.load(ROOT / "conf/callbacks/default.yaml").defaults) >= group_options("callbacks") - {
        "default", "none"}
    from trainlab.config.schemas import register_configs

    register_configs()
    # callbacks=default composes every callback option (the others are one of them alone, or none)
    options = {g: sorted(group_options(g)) for g in GROUPS if g not in ("paths", "experiment", "callbacks")}
    options["hydra/launcher"] = ["slurm", "joblib"]
    samplers, pruners = sorted(store_options("hydra/sweeper/sampler")), sorted(store_options("hydra/sweeper/pruner"))
    runs = [("eval", []), ("predict", [])]
    for n in range(max(len(o) for o in options.values())):
        runs.append(("train", [f"{g}={o[n % len(o)]}" for g, o in options.items()]))
    for n in range(max(len(samplers), len(pruners))):  # each sampler and pruner under the plain search
        runs.append(("train", ["hparams_search=optuna", f"hydra/sweeper/sampler={samplers[n % len(samplers)]}",
                               f"hydra/sweeper/pruner={pruners[n % len(pruners)]}"]))
    keys: set[str] = set()
    for config_name, overrides in runs:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            keys |= _paths(compose(config_name, overrides=overrides, return_hydra_config=True))
    GlobalHydra.instance().clear()
    return frozenset(keys)


def test_make_targets_named_in_the_docs_exist():
    named = named_targets()
    assert {"train", "test", "analyze", "tensorboard"} <= named  # the extraction finds them
    missing = sorted(named - make_targets())
    assert not missing, f"the docs show make target(s) the Makefile lacks: {missing}"


def test_group_options_named_in_the_docs_exist():
    named = named_options()
    assert {"model=gnn", "data=elnino", "hardware=a100", "hydra/launcher=slurm", "experiment=lstm_seed"} <= named
    missing = sorted(o for o in named - NOT_OPTIONS if o.split("=")[1] not in group_options(o.split("=")[0]))
    assert not missing, f"the docs show option(s) that no config group has: {missing}"
    still_options = sorted(o for o in NOT_OPTIONS if o.split("=")[1] in group_options(o.split("=")[0]))
    assert not still_options, f"the docs show these as mistakes, but they are options now: {still_options}"


def test_keys_named_in_the_docs_exist():
    named = named_keys()
    assert {"data.source.path", "trainer.max_epochs", "hydra.sweeper.n_trials", "logger.mlflow.register_model",
            "callbacks.energy.grid_g_co2_per_kwh"} <= named
    keys = composed_keys()
    missing = sorted(named - NOT_KEYS - keys)
    assert not missing, f"the docs show key(s) that no composed config has: {missing}"
    still_keys = sorted(NOT_KEYS & keys)
    assert not still_keys, f"the docs show these as mistakes, but they are keys now: {still_keys}"


def test_conf_readme_has_a_row_for_every_group_and_names_its_options():
    rows = {}
    for line in (ROOT / "conf/README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([\w/]+)` \|(.*)$", line)
        if match:
            rows.setdefault(match.group(1), match.group(2))
    folders = {str(p.parent.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml")} - {"."}
    groups = folders - {"hparams_search/space"} | set(STORE_GROUPS) | {"experiment"}
    assert {"data", "hydra/sweeper/sampler", "experiment"} <= groups
    assert not sorted(groups - rows.keys()), f"conf/README.md has no row for {sorted(groups - rows.keys())}"
    unnamed = sorted(f"{g}={o}" for g in groups for o in group_options(g) if f"`{o}`" not in rows[g].split(" | ")[0])
    assert not unnamed, f"conf/README.md's table does not name option(s) {unnamed}"
    # the models' own search spaces are one option each of hparams_search/space, named by the model's option
    assert set(config_options("hparams_search/space")) == set(config_options("model"))


def test_readme_contents_link_every_section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text_out_of_code = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    headings = re.findall(r"^(#{2,3}) (.+)$", text_out_of_code, flags=re.M)
    slug = {h: re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for _, h in headings}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert len(links) >= 10
    assert not sorted(set(links) - set(slug.values())), f"links to no heading: {sorted(set(links) - set(slug.values()))}"
    unlisted = [h for level, h in headings if level == "##" and slug[h] not in links]
    assert not unlisted, f"README's contents do not list section(s) {unlisted}"


def test_files_named_in_the_docs_exist():
    """Paths in the repository (``src/...``, ``tests/...``, ``benchmarks/...``, ``conf/...``) and test files
    named by their own name (``test_errors.py``) exist; ``<name>`` placeholders are left alone."""
    code = all_code()
    paths = {p.rstrip(".,:;)") for p in re.findall(r"(?<![\w/.~<$-])((?:src|tests|benchmarks|conf|experiments|\.ci)/[\w./-]*)(?![\w./-]*<)",
                                                     code)}
    paths -= {"conf/experiment/"}  # conf/README.md: why there is no such folder
    assert {"src/trainlab/run/pipeline.py", "tests/families.py", "conf/hparams_search/optuna.yaml"} <= paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"the docs name path(s) that do not exist: {missing}"
    tests = set(re.findall(r"(?<![\w/])(test_\w+\.py)", "\n".join((ROOT / name).read_text(encoding="utf-8")
                                                                   for name in DOCS)))
    assert len(tests) >= 5
    missing = sorted(t for t in tests if not (ROOT / "tests" / t).exists())
    assert not missing, f"the docs name test file(s) that do not exist: {missing}"


def _top_level_names(path: Path) -> set[str]:
    """What a module defines or imports at its top level (functions, classes, assignments, imports), and, in
    a module with a ``__getattr__`` (trainlab's own: ``trainlab.train`` imported when first used), the names
    its top-level lists of strings give."""
    import ast

    names, listed = set(), set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
            if isinstance(node.value, (ast.Tuple, ast.List)):
                listed |= {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names | (listed if "__getattr__" in names else set())


def _python_name_exists(dotted: str) -> bool:
    """``trainlab.run.durable.write_atomic``: the longest prefix that is a module or package under src/, then
    a name that module defines (or a submodule of the package); read from the source, nothing imported."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT / "src" / Path(*parts[:cut])
        module = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if module.is_file():
            rest = parts[cut:]
            return not rest or rest[0] in _top_level_names(module) or (base / f"{rest[0]}.py").is_file()
    return False


def test_python_names_in_the_docs_exist():
    """CONTRIBUTING.md sent a contributor to trainlab.config.composition.command_line and .grammar_value, which
    live in trainlab.config.spelling: every ``trainlab.*`` / ``hydra_plugins.*`` name the docs show, and
    every ``from trainlab... import X`` of their code, names a module and a name it defines."""
    code = all_code()
    names = set(re.findall(r"(?<![\w.])((?:trainlab|hydra_plugins)(?:\.\w+)+)", code))
    names |= {f"{module}.{name.strip()}" for module, imported in
              re.findall(r"from ((?:trainlab|hydra_plugins)[\w.]*) import ([\w, ]+)", code)
              for name in imported.split(",")}
    names = {n.removesuffix(".py") for n in names if not n.endswith((".yaml", ".log"))}
    assert {"trainlab.config.errors.refuse", "trainlab.data.timeseries.synthetic.SyntheticSeries"} <= names
    missing = sorted(n for n in names if not _python_name_exists(n))
    assert not missing, f"the docs name Python module(s) or name(s) that do not exist: {missing}"


def _layout_paths() -> dict[str, str]:
    """README's Layout block under ``src/trainlab/``: each listed module or package (``data/csv_files.py``,
    ``data/graph/``) -> the reason given, read from the indentation (two spaces a level)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Layout\n", 1)[1]
    block = re.search(r"^```\n(.*?)^```", text, flags=re.M | re.S).group(1).splitlines()
    first = next(n for n, line in enumerate(block) if line.startswith("src/trainlab/"))
    listed: dict[str, str] = {}
    folders: list[str] = []
    for line in block[first + 1:]:
        match = re.match(r"^((?:  )+)(\S+)\s+(\S.*)$", line)
        if not match:  # the next top-level entry
            break
        depth = len(match.group(1)) // 2
        folders = folders[:depth - 1]
        name = match.group(2)
        listed["".join(folders) + name] = match.group(3)
        if name.endswith("/"):
            folders.append(name)
    return listed


def test_readme_layout_lists_every_module_of_src_trainlab():
    """README's Layout did not list data/csv_files.py (split from data/files.py): every module and package under
    src/trainlab is listed with a reason, and every listed one exists."""
    listed = _layout_paths()
    assert {"api.py", "data/", "data/files.py", "data/graph/module.py"} <= listed.keys()  # the reading finds them
    package = ROOT / "src" / "trainlab"
    present = {str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py"}
    present |= {f"{p.relative_to(package)}/" for p in package.rglob("*") if p.is_dir() and (p / "__init__.py").exists()}
    assert not sorted(present - listed.keys()), f"README's Layout does not list {sorted(present - listed.keys())}"
    assert not sorted(listed.keys() - present), f"README's Layout lists what does not exist: {sorted(listed.keys() - present)}"
    assert all(len(reason) > 5 for reason in listed.values())


def test_each_packages_docstring_names_its_modules():
    """CONTRIBUTING.md says each package's __init__.py says which of its modules holds what; config's left out
    file_problems, interpolations, shapes and spelling, run's durable and resume_checks, search's importance: every
    module and subpackage of a package under src/trainlab is named in its docstring (the top package's are
    README's Layout)."""
    import ast

    package = ROOT / "src" / "trainlab"
    unnamed = []
    for init in sorted(package.rglob("__init__.py")):
        if init.parent == package:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        parts = [p.stem for p in init.parent.glob("*.py") if p.name != "__init__.py"]
        parts += [p.name for p in init.parent.iterdir() if (p / "__init__.py").is_file()]
        unnamed += [f"{init.parent.relative_to(package)}/{name}" for name in parts if not re.search(rf"\b{name}\b", doc)]
    assert not unnamed, f"these modules are not named in their package's docstring: {sorted(unnamed)}"
