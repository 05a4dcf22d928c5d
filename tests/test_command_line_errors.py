"""What Hydra refuses while composing the command line's config: one line, exit 2, nothing from Hydra
above it (in-process: the scripts' own ``run_command_line``, which never reaches a job here)."""

from __future__ import annotations

import errno
import os

import pytest

import evaluate as evaluate_script
import train as train_script
from tests.conftest import ROOT


def refused(argv: list[str], capsys, monkeypatch, tmp_path, script=train_script, config="train") -> str:
    """The one stderr line of ``python <script> <argv>``, which must exit 2 before any job."""
    from trainlab.config.command_line import run_command_line

    monkeypatch.setattr("sys.argv", [f"{config}.py", *argv, f"paths.log_dir={tmp_path / 'outputs'}"])
    # as when run as a script: Hydra finds conf/ beside the file of a task function in __main__
    monkeypatch.setattr(script.main.__wrapped__, "__module__", "__main__")
    with pytest.raises(SystemExit) as exited:
        run_command_line(script.main, config_name=config)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not (tmp_path / "outputs").exists()  # refused before Hydra made a folder
    return lines[0]


@pytest.mark.parametrize("override, expected", [
    ("hardware.memory_gb=abc", "hardware.memory_gb=abc is not a number or null, which this key takes; "
                               "e.g. hardware.memory_gb=0.5"),
    ("hardware.pin_memory=maybe", "hardware.pin_memory=maybe is not true or false, which this key takes; "
                                  "e.g. hardware.pin_memory=false"),
    ("trainer.max_epochs=1.5", "trainer.max_epochs=1.5 is not a whole number, which this key takes; "
                               "e.g. trainer.max_epochs=20"),
    ("trainer.max_epochs={a:1}", "trainer.max_epochs={a:1} is not a whole number, which this key takes; "
                                 "e.g. trainer.max_epochs=20"),
    ("hardware.name=[a,b]", "hardware.name=[a,b] is not text, which this key takes; e.g. hardware.name=cpu"),
    ("hardware.num_workers=null", "hardware.num_workers=null: this key cannot be empty, it takes a whole "
                                  "number; e.g. hardware.num_workers=0"),
])
def test_a_value_a_typed_schema_refuses_names_key_value_type_and_an_example(override, expected, capsys,
                                                                              monkeypatch, tmp_path):
    assert refused([override], capsys, monkeypatch, tmp_path) == f"error: {expected}"


def test_a_list_key_given_one_value_in_a_sweep(capsys, monkeypatch, tmp_path):
    line = refused(["-m", "hparams_search=optuna", "hydra.sweeper.stage_trials=3"], capsys, monkeypatch, tmp_path)
    # the example is the key's own (its schema's field metadata: trials per stage), no longer any list's [1,2]
    assert line == ("error: hydra.sweeper.stage_trials=3 is not a list [..] or null, which this key takes; "
                    "e.g. hydra.sweeper.stage_trials=[10,20]")


@pytest.mark.parametrize("override, expected", [
    ("trainer.max_epochs=[1", "trainer.max_epochs=[1: a '[' is not closed by a ']'; close it, or quote"),
    ("hardware.devices=(1", "hardware.devices=(1: a '(' is not closed by a ')'"),
    ("seed=${oops", "seed=${oops: the interpolation is not closed; write seed=${oops}"),
    ("seed='abc", "seed='abc: a ' quote is not closed"),
    ("trainer.max_epochs", "trainer.max_epochs has no '=': give it a value, trainer.max_epochs=<value>"),
    ("++", "'++' names no key: write ++<key>=<value>"),
    ("=5", "'=5' names no key before the '=': write <key>=5"),
    ("model=", "model= gives no option; choose one of the model group's: cnn, gnn, lstm"),
    ("modle=lstm", "modle is not a top-level setting; did you mean model? (a '+' in front would add it"),
    ("model=lstn", "model=lstn is not an option of the model group; did you mean model=lstm?"),
    # another case was no near spelling to difflib: model=LSTM got the list alone, data=File a hint
    ("model=LSTM", "model=LSTM is not an option of the model group; did you mean model=lstm?"),
    ("trainer.Max_Epochs=3", "trainer.Max_Epochs is not a setting of trainer; did you mean trainer.max_epochs?"),
    # in a list of options Hydra said "In 'train': Could not load 'logger/wandb'." and named none
    ("logger=[csv,wandb]", "logger=wandb is not an option of the logger group; its options: csv, mlflow, none, "
                           "tensorboard"),
    ("trainer.max_epoch=3", "trainer.max_epoch is not a setting of trainer; did you mean trainer.max_epochs?"),
    # a key one node too high: it was told the node's settings (model: _target_, net, ...), data.path with the
    # ??? of data=file's data.source.path too, and max_epochs 'did you mean epochs?'
    ("model.hidden_size=8", "model.hidden_size is not a setting of model; did you mean model.net.hidden_size? (a '+'"),
    ("max_epochs=1", "max_epochs is not a top-level setting; did you mean trainer.max_epochs? (a '+'"),
    ("data.path=my.csv", "data.path is not a setting of data; did you mean data.source.path? data=file has it "
                         "(data=synthetic does not): add data=file (a '+'"),  # of the default model's family
    ("model.attention=scaled_dot", "model.attention is not a setting of model; did you mean model.net.attention? "
                                   "model=lstm_attention has it (model=lstm does not): add model=lstm_attention"),
    # a key of another option of the group: it was told the run's option's settings alone, or 'did you mean
    # data.source._target_?'
    # of them, those of the model's family: model=lstm was offered data=catalogue and data=sky_folder too
    ("data.source.path=my.csv", "data.source.path is not a setting of data.source; data=file has it (data=synthetic "
                                "does not): add data=file (a '+' in front"),
    ("data.source.target_columns=[y]", "data.source.target_columns is not a setting of data.source; data=file has it "
                                       "(data=synthetic does not): add data=file (a '+'"),
    ("model.net.attention=scaled_dot", "model.net.attention is not a setting of model.net; model=lstm_attention has "
                                       "it (model=lstm does not): add model=lstm_attention (a '+'"),
    ("optimizer.momentum=0.9", "optimizer.momentum is not a setting of optimizer; optimizer=sgd has it "
                               "(optimizer=adam does not): add optimizer=sgd (a '+'"),
    # a key of the Optuna sweeper or of another launcher: it was told the basic one's settings ("its settings:
    # _target_, max_batch_size, params"), which say nothing of the search or launcher that has the key
    ("hydra.sweeper.n_trials=3", "hydra.sweeper.n_trials is not a setting of hydra.sweeper; hydra/sweeper=optuna has "
                                 "it (hydra/sweeper=basic does not), which a search chooses: add -m "
                                 "hparams_search=optuna (a '+'"),
    ("hydra.sweeper.pruner.n_warmup_steps=1", "hydra.sweeper.pruner is not a setting of hydra.sweeper; "
                                              "hydra/sweeper=optuna has it"),
    ("hydra.launcher.n_jobs=2", "hydra.launcher.n_jobs is not a setting of hydra.launcher; hydra/launcher=joblib has "
                                "it (hydra/launcher=basic does not): add hydra/launcher=joblib (a '+'"),
    ("hydra.launcher.partition=gpu", "hydra.launcher.partition is not a setting of hydra.launcher; "
                                     "hydra/launcher=submitit_slurm, hydra/launcher=slurm have it"),
    # an argument of the node's constructor that the config does not list is read when added with '+' (README:
    # the trainer schema): it was told '... did you mean trainer.max_steps? (a '+' in front would add it as a new
    # key, which nothing reads ...'
    ("trainer.max_time=00:00:10:00", "trainer.max_time is an argument of lightning.pytorch.Trainer that the config "
                                     "does not list, so it is added with a '+' in front: +trainer.max_time=00:00:10:00"),
    ("callbacks.early_stopping.stopping_threshold=0.01", "callbacks.early_stopping.stopping_threshold is an argument "
     "of trainlab.callbacks.checkpoints.EarlyStopping that the config does not list, so it is added with a '+' in "
     "front: +callbacks.early_stopping.stopping_threshold=0.01"),
    ("optimizer.amsgrad=true", "optimizer.amsgrad is an argument of torch.optim.Adam that the config does not list"),
    ("+seed=3", "+seed=3 adds seed, which the config already has; drop the '+' to change it: seed=3"),
    ("+model=cnn", "+model=cnn adds a second model, but model is already chosen; drop the '+' to choose "
                   "another: model=cnn"),
    ("~trainer.foo", "~trainer.foo deletes trainer.foo, which the config does not have"),
    ("model=lstm,cnn", "model=lstm,cnn: the ',' makes several values, which only a sweep tries: add -m"),
    ("seed=choice(1,2)", "seed=choice(1,2) is a search range, which only a sweep uses: add -m"),
])
def test_hydras_refusals_are_our_one_line_alone(override, expected, capsys, monkeypatch, tmp_path):
    assert refused([override], capsys, monkeypatch, tmp_path).startswith(f"error: {expected}")


@pytest.mark.parametrize("overrides, expected", [
    (["data=file", "data.path=my.csv"], "data.path is not a setting of data; did you mean data.source.path? (a '+'"),
    (["data.source.path=my.csv", "data.source.target_columns=[y]"], "data=file has it (data=synthetic does not): add "
                                                                     "data=file (a '+'"),
    (["data.source.path=stars.csv", "data.source.label_column=member"], "data=catalogue has it (data=synthetic does "
                                                                         "not): add data=catalogue (a '+'"),
    (["data.source.path=imgs", "data.source.tile_size=64", "model.net.hidden_size=8"], "data=sky_folder has it"),
])
def test_several_keys_of_an_option_not_chosen_name_the_option_that_has_them_all(overrides, expected, capsys,
                                                                                monkeypatch, tmp_path):
    """Forgetting data=file, the usual first mistake with a file of one's own: two keys of it were answered with
    Hydra's own 'Could not override 'data.source.path'.; To append to your config use +data.source.path=my.csv', a
    '+' that nothing reads (one key alone got the options that have it)."""
    line = refused(overrides, capsys, monkeypatch, tmp_path)
    assert line.startswith("error: data.") and expected in line, line


@pytest.mark.parametrize("model, data, option", [("gnn", "gaia", "catalogue"), ("unet", "sky", "sky_folder")])
def test_a_key_of_another_data_option_is_offered_of_the_models_family(model, data, option, capsys, monkeypatch,
                                                                      tmp_path):
    """model=gnn data=gaia data.source.path=stars.csv was offered 'data=catalogue, data=file, data=sky_folder', two
    of which its model refuses."""
    line = refused([f"model={model}", f"data={data}", "data.source.path=mine"], capsys, monkeypatch, tmp_path)
    assert line.startswith(f"error: data.source.path is not a setting of data.source; data={option} has it "
                           f"(data={data} does not): add data={option} (a '+' in front")


@pytest.mark.parametrize("override, expected", [
    ("optimizer=none", "optimizer=none is not an option of the optimizer group; its options: adam, adamw, sgd; "
                       "callbacks=none is an option of the callbacks group ("),
    ("trainer=cpu", "; hardware=cpu is an option of the hardware group ("),
    ("hparams_search=lstm", "; model=lstm is an option of the model group ("),
])
def test_an_option_of_another_built_in_group_is_named_as_that_choice_not_a_file_to_move(override, expected, capsys,
                                                                                        monkeypatch, tmp_path):
    """A repository's option chosen in the wrong group was told '.../conf/callbacks/none.yaml exists, in the
    callbacks group's folder: options of the optimizer group go in .../conf/optimizer/ (move it there)': a move
    of trainlab's own file, meant for a file of the user's in the wrong folder (README: Mistakes inside your files)."""
    line = refused([override], capsys, monkeypatch, tmp_path)
    assert expected in line and "move it" not in line, line


def test_hydra_full_error_still_gets_hydras_whole_report(capsys, monkeypatch, tmp_path):
    """HYDRA_FULL_ERROR=1 is how a user asks Hydra for the traceback: the one line must not take it away."""
    from trainlab.config.command_line import run_command_line

    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    monkeypatch.setattr("sys.argv", ["train.py", "hardware.memory_gb=abc", f"paths.log_dir={tmp_path}"])
    monkeypatch.setattr(train_script.main.__wrapped__, "__module__", "__main__")
    with pytest.raises(Exception) as raised:  # Hydra re-raises under HYDRA_FULL_ERROR=1
        run_command_line(train_script.main, config_name="train")
    assert "hardware.memory_gb" in str(raised.value) and "error: " not in capsys.readouterr().err


def test_evaluate_shares_the_handling(capsys, monkeypatch, tmp_path):
    line = refused(["ckpt_path=x", "hardware.pin_memory=maybe"], capsys, monkeypatch, tmp_path,
                   script=evaluate_script, config="eval")
    assert line.startswith("error: hardware.pin_memory=maybe is not true or false")
    line = refused(["ckpt_path=x", "split=[val"], capsys, monkeypatch, tmp_path, script=evaluate_script,
                   config="eval")
    assert line.startswith("error: split=[val: a '[' is not closed")


def test_cfg_job_shares_the_handling(capsys, monkeypatch, tmp_path):
    assert refused(["--cfg", "job", "trainer.max_epochs=1.5"], capsys, monkeypatch, tmp_path).startswith(
        "error: trainer.max_epochs=1.5 is not a whole number")


@pytest.mark.parametrize("argv0, script", [("/home/me/trainlab/evaluate.py", "evaluate.py"), ("-c", "train.py")])
def test_a_sweeps_cfg_names_the_script_as_every_message_does(argv0, script, capsys, monkeypatch, tmp_path):
    """``-m --cfg job`` names the script as trainlab.config.invocation._script does; it read sys.argv[0] itself,
    and said 'python -c --cfg job' where no script was typed (python -c, pytest-xdist's workers)."""
    from trainlab.config.command_line import run_command_line

    monkeypatch.setattr("sys.argv", [argv0, "-m", "--cfg", "job", f"paths.log_dir={tmp_path}"])
    monkeypatch.setattr(train_script.main.__wrapped__, "__module__", "__main__")
    with pytest.raises(SystemExit) as exited:
        run_command_line(train_script.main, config_name="train")
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().endswith(
        f"; to see a sweep's config, leave out -m: python {script} --cfg job <overrides>")


@pytest.mark.parametrize("override, expected", [
    ("+hardware.pin_mem=true", "+hardware.pin_mem=true: hardware.pin_mem is not a setting of hardware, and a key "
                               "added with '+' is read by nothing; did you mean hardware.pin_memory?"),
    ("+trainer.fooo=1", "+trainer.fooo=1: trainer.fooo is not a setting of trainer"),
])
def test_a_key_added_to_a_typed_node_is_refused(override, expected, compose_cfg):
    from trainlab.config.errors import UserError
    from trainlab.config.schemas import check_schema_additions

    cfg = compose_cfg([override])
    with pytest.raises(UserError) as refusal:
        check_schema_additions(cfg, [override])
    assert str(refusal.value).startswith(expected)
    check_schema_additions(compose_cfg(["+trainer.max_time=00:00:01:00"]), ["+trainer.max_time=00:00:01:00"])


def test_a_key_added_to_the_sweeper_is_refused_before_any_trial(capsys, monkeypatch, tmp_path):
    line = refused(["-m", "hparams_search=optuna", "+hydra.sweeper.n_trial=3"], capsys, monkeypatch, tmp_path)
    assert line.startswith("error: +hydra.sweeper.n_trial=3: hydra.sweeper.n_trial is not a setting of "
                           "hydra.sweeper, and a key added with '+' is read by nothing; did you mean "
                           "hydra.sweeper.n_trials?")


def test_a_jobs_own_error_keeps_hydras_report():
    """Only composition errors are ours: an exception raised inside Hydra's run_job goes to Hydra."""
    from trainlab.config.composition import _in_job

    def run_job():
        raise ValueError("a bug")

    try:
        run_job()
    except ValueError as exc:
        assert _in_job(exc)


def test_an_interpolation_to_a_missing_key_is_one_line_before_anything_is_built(compose_cfg):
    """It ended in an OmegaConf traceback: first where the run read its own overrides, then in the
    data module's constructor."""
    from trainlab.config.invocation import task_overrides
    from trainlab.config.errors import UserError
    from trainlab.run.pipeline import prepare

    cfg = compose_cfg(["data.batch_size=${oops}"])
    assert "data.batch_size=${oops}" in task_overrides()
    with pytest.raises(UserError, match=r"^data\.batch_size: interpolation key 'oops' not found; write the full key"):
        prepare(cfg)
    prepare(compose_cfg(["seed=${data.batch_size}"]))  # one that resolves is fine


@pytest.mark.parametrize("group", ["model", "data", "logger", "callbacks", "optimizer"])
def test_a_group_taken_out_is_refused_by_name(group, compose_cfg):
    """~logger, ~callbacks, ~optimizer ended in OmegaConf's "Key 'logger' is not in struct" and a traceback."""
    from trainlab.config.errors import UserError
    from trainlab.run.pipeline import prepare

    with pytest.raises(UserError, match=rf"^the config has no {group} \(~{group} takes it out\), and every run needs "
                                        rf"one; choose one instead: {group}=<option>") as refused_:
        prepare(compose_cfg([f"~{group}"]))
    if group in ("logger", "callbacks"):
        assert str(refused_.value).endswith(f"; {group}=none for none")


@pytest.mark.parametrize("config, override, expected", [
    ("train", "~seed", "the config has no seed (~seed takes it out), and every run reads it; leave ~seed out (its "
                       "default: seed=3407), or give a value: seed=<value>"),
    ("train", "~test", "the config has no test (~test takes it out), and every run reads it; leave ~test out (its "
                       "default: test=true)"),
    ("eval", "~hardware", "the config has no hardware (~hardware takes it out), and every run needs one; choose one "
                          "instead: hardware=<option> (a100, auto, cpu"),
    ("eval", "~latency", "the config has no latency (~latency takes it out), and every run reads it; leave ~latency "
                         "out, or give"),
    ("predict", "~horizon", "the config has no horizon (~horizon takes it out), and every run reads it"),
])
def test_a_setting_of_the_scripts_own_config_taken_out_is_refused_by_name(config, override, expected, compose_cfg):
    """evaluate.py ~hardware ended in a traceback, predict.py ~hardware in 'interpolation key hardware.accelerator
    not found', which named no ~."""
    from trainlab.config.errors import UserError
    from trainlab.config.families import check_nothing_taken_out

    extra = {"train": [], "eval": ["ckpt_path=x"], "predict": ["ckpt_path=x", "horizon=2"]}[config]
    with pytest.raises(UserError) as refused_:
        check_nothing_taken_out(compose_cfg([*extra, override], config_name=config), config)
    assert str(refused_.value).startswith(expected), refused_.value


def test_a_key_below_the_groups_taken_out_is_one_line_naming_the_override(compose_cfg):
    """~model.net ended in "Key 'net' is not in struct" and a traceback, where the pipeline read it."""
    from omegaconf.errors import ConfigAttributeError

    from trainlab.config.invocation import as_script
    from trainlab.config.errors import known_error
    from trainlab.run.pipeline import prepare

    cfg = prepare(compose_cfg(["~model.net"]))
    with pytest.raises(ConfigAttributeError) as missing:
        cfg.model.net
    with as_script("train.py"):
        assert str(known_error(missing.value)).startswith(
            "~model.net takes out model.net, which train.py reads (model.net is missing); leave ~model.net out")
    compose_cfg(["seed=3"])  # no ~ on this command line: the same error is no user's
    assert known_error(missing.value) is None


@pytest.mark.parametrize("argv, expected", [
    (["~trainer.max_epochs"], "~trainer.max_epochs: trainer.max_epochs is a setting of a typed schema (TrainerConf), "
                              "which keeps every one of its settings; give it a value instead: trainer.max_epochs=<value>"),
    (["~trainer", "trainer.max_epochs=1"], "trainer.max_epochs=1 sets a setting of trainer, which ~trainer takes "
                                           "out; leave one of the two out"),
    (["~epochs"], "~epochs deletes epochs, which the config does not have, or holds as null already"),
    (["~hydra.run.dir"], "~hydra.run.dir: hydra.run.dir is a setting of a typed schema (RunDir), which keeps every one "
                         "of its settings; give it a value instead: hydra.run.dir=<value> (python train.py --cfg hydra "
                         "shows its own)"),
    # Hydra's run folder reads it before any job: 'hydra.run.dir: interpolation key 'task_name' not found'
    (["~task_name"], "~task_name takes out task_name, which hydra.run.dir reads (${task_name}); leave ~task_name out"),
])
def test_a_deletion_hydra_refuses_is_one_line_saying_why(argv, expected, capsys, monkeypatch, tmp_path):
    """Hydra's words were 'Error merging override ~trainer.max_epochs; TrainerConf (DictConfig) does not support
    deletion', and for ~trainer with trainer.max_epochs=1 'To append to your config use +trainer.max_epochs=1'."""
    line = refused(argv, capsys, monkeypatch, tmp_path)
    assert line.startswith(f"error: {expected}"), line


@pytest.mark.parametrize("script, config, taken", [(train_script, "train", "~hydra"), (evaluate_script, "eval", "~hydra"),
                                                   (train_script, "train", "~hydra=default")])
def test_hydras_own_settings_taken_out_are_refused_before_a_folder_is_made(script, config, taken, capsys, monkeypatch,
                                                                           tmp_path):
    """~hydra took out conf/hydra/default.yaml: the run went to Hydra's own outputs/<date>/<time> in the working
    folder, past the paths.log_dir given beside it, without a word. ~hydra=default (the option named) likewise."""
    monkeypatch.chdir(tmp_path)
    line = refused([taken, "ckpt_path=x"] if config == "eval" else [taken], capsys, monkeypatch, tmp_path,
                   script=script, config=config)
    assert line.startswith(f"error: {taken} takes out trainlab's Hydra settings (conf/hydra/default.yaml: the run "
                           "folder under paths.log_dir, "), line
    assert line.endswith(f"python {config}.py --cfg hydra shows them)")  # the script as typed (refused() types eval.py)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override, fix", [
    # the fix offered was "data.source.target_columns='[Demand (MW)]'": one text, no list, which then
    # named no column of the file
    ("data.source.target_columns=[Demand (MW)]", "\"data.source.target_columns=['Demand (MW)']\""),
    ("data.source.target_columns=[load, Demand (MW)]", "\"data.source.target_columns=[load,'Demand (MW)']\""),
    ("data.source.path=my file (1).csv", "\"data.source.path='my file (1).csv'\""),
])
def test_a_column_name_hydra_cannot_read_gets_a_fix_that_keeps_the_list(override, fix, capsys, monkeypatch,
                                                                       tmp_path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    line = refused(["data=file", override], capsys, monkeypatch, tmp_path)
    assert f"quote the text: {fix} (the outer quotes are the shell's)" in line, line
    typed = OverridesParser.create().parse_override(fix.strip('"')).value()  # what the shell hands Hydra
    key, _, value = override.partition("=")
    wanted = [item.strip() for item in value[1:-1].split(",")] if value.startswith("[") else value
    assert typed == wanted


@pytest.mark.parametrize("override, meant", [
    ("optimizer.lr=intrval(1e-4,1e-2)", "intrval() is no function of Hydra's override grammar; did you mean interval?"),
    ("data.batch_size=choise(16,32)", "choise() is no function of Hydra's override grammar; did you mean choice?"),
    ("optimizer.lr=tag(log,intervl(1e-4,1e-2))", "intervl() is no function of Hydra's override grammar; did you mean "
                                                 "interval?"),
])
def test_a_misspelt_sweep_function_is_told_the_function_it_likely_meant(override, meant, capsys, monkeypatch,
                                                                         tmp_path):
    """It was told to quote the text, which would hand the sweep's text to the run as the value, and Hydra's own
    list of its functions was on a second line that the one line left out."""
    line = refused(["-m", override], capsys, monkeypatch, tmp_path)
    assert line.startswith(f"error: {override}: {meant} (its sweeps: interval(a, b), range(start, stop, step), "
                           "choice(a, b), tag(log, ...)); to pass the text as it is, quote the text: "), line


def test_a_group_option_given_as_a_path_is_named_as_one(capsys, monkeypatch, tmp_path):
    """Hydra took a path's folders for groups: ``model=conf/model/cnn.yaml`` got "model/conf/model=cnn.yaml is
    not an option of the model/conf/model group", and ``data=my.csv`` a list of data options without the fix."""
    from trainlab.run.root import repo_root

    def line(override: str) -> str:
        return refused([override], capsys, monkeypatch, tmp_path)

    shipped = "a config group's option is a file's name without .yaml, found in the config folders"
    assert line("model=conf/model/cnn.yaml") == (
        f"error: model=conf/model/cnn.yaml gives a file's path, but {shipped}: model=cnn")
    assert line(f"experiment={repo_root()}/experiments/experiment/lstm_seed.yaml").endswith(
        f"{shipped}: experiment=lstm_seed")
    own = tmp_path / "my conf" / "model"  # a file of one's own, in a folder named after its group
    own.mkdir(parents=True)
    (own / "mine.yaml").write_text("{}\n")
    assert line(f"model={own / 'mine.yaml'}").endswith(
        f"to use your own file, give the folder above its model/ folder: --config-dir '{own.parent}' model=mine")
    loose = tmp_path / "loose.yaml"
    loose.write_text("{}\n")
    assert line(f"model={loose}").endswith(
        "put it in <your folder>/model/loose.yaml and give --config-dir <your folder> model=loose")
    assert "there is no file nope/x.yaml either; the options of the model group: cnn," in line("model=nope/x.yaml")
    assert line("data=my.csv") == (
        "error: data=my.csv gives the data's path, but data= chooses a kind of data (catalogue, elnino, file, gaia, "
        "packaged, sky, sky_folder, synthetic); for a series file: data=file data.source.path=my.csv (a star "
        "catalogue: data=catalogue, the same path key)")
    assert "for a folder of sky images: data=sky_folder" in line(f"data={tmp_path}/")
    # every file data=file and catalogue read, and those whose read says what to save them as
    for name in ("stars.vot", "load.csv.gz", "stars.fits", "load.tsv", "sales.xlsx", "export.txt"):
        assert line(f"data={name}").startswith(f"error: data={name} gives the data's path, but data= chooses")


@pytest.mark.parametrize("script, config, override, expected", [
    # a train.py option copied onto evaluate.py's command line: Hydra advised '+logger=none', a group nothing reads
    (evaluate_script, "eval", "logger=none", "logger=none: evaluate.py chooses no logger; it writes no training logs "
                                             "(what it finds goes to its own folder, outputs/eval/runs/...): leave "
                                             "logger= out"),
    (evaluate_script, "eval", "data=file", "data=file: evaluate.py chooses no data;"),
    # it was told to add -m hparams_search=optuna, which evaluate.py has not
    (evaluate_script, "eval", "hydra.sweeper.n_trials=3",
     "hydra.sweeper.n_trials is not a setting of hydra.sweeper; hydra/sweeper=optuna has it (hydra/sweeper=basic does "
     "not), which only train.py's search chooses: this script searches nothing (a '+'"),
    (train_script, "train", "hydra/sweeper/sampler=random",
     "hydra/sweeper/sampler=random chooses a part of the Optuna sweeper, which only a search has: python train.py -m "
     "hparams_search=optuna hydra/sweeper/sampler=random ..."),
])
def test_a_group_the_scripts_config_never_chooses(script, config, override, expected, capsys, monkeypatch, tmp_path):
    argv = ["ckpt_path=x", override] if config == "eval" else [override]
    assert refused(argv, capsys, monkeypatch, tmp_path, script=script, config=config).startswith(f"error: {expected}")


@pytest.mark.parametrize("config, override, why", [
    ("predict", "data=file", "the run's own data settings are used, those its model was trained on (+data.<key>=<value> "
                             "changes one); to forecast past the end of another file of the same columns: "
                             "+data.source.path=<file> (values of its drivers after the end: future=<file>; an image "
                             "run: images=<folder>, a graph run: catalogue=<file>)"),
    ("eval", "data=file", "the run's own data settings are used, those its model was trained on (+data.<key>=<value> "
                          "changes one); to score another file of the same columns: +data.source.path=<file> "
                          "(split=all scores all of it)"),
    ("predict", "model=cnn", "the model is the run's own, rebuilt with its trained weights (ckpt_path=<another run> "
                             "for another model)"),
    ("predict", "logger=none", "it writes no training logs (what it finds goes to its own folder, "
                               "outputs/predict/runs/...)"),
    ("eval", "optimizer=sgd", "it trains nothing: the run's weights are used as they are"),
    ("eval", "callbacks=none", "it trains nothing, so no training callback (checkpoints, early stopping) runs"),
    ("predict", "hparams_search=optuna", "it searches nothing (a search: python train.py -m hparams_search=<search>)"),
    ("eval", "debug=fdr", "debug modes shape a training run (python train.py debug=<mode>)"),
])
def test_a_train_group_on_evaluate_or_predict_is_told_why_that_group_does_not_apply(config, override, why, capsys,
                                                                                   monkeypatch, tmp_path):
    """predict.py ckpt_path=<run> data=file was told 'the model and data come from the run's own config ... and it
    writes no training logs', said of every group alike: nothing on where another file goes."""
    import predict as predict_script

    script, name = (evaluate_script, "evaluate.py") if config == "eval" else (predict_script, "predict.py")
    group = override.split("=")[0]
    line = refused(["ckpt_path=x", override], capsys, monkeypatch, tmp_path, script=script, config=config)
    assert line == f"error: {override}: {name} chooses no {group}; {why}: leave {group}= out"
    # with a '+', Hydra added the group: +data=file was told 'data.source.path has no value (??? in the config); set
    # it', +logger=none 'predict.py does not use logger; its keys are ...'
    line = refused(["ckpt_path=x", f"+{override}"], capsys, monkeypatch, tmp_path, script=script, config=config)
    assert line == f"error: +{override}: {name} chooses no {group}; {why}: leave it out"


@pytest.mark.parametrize("script, config, argv", [(train_script, "train", []),
                                                 (evaluate_script, "eval", ["ckpt_path=x"])])
def test_a_python_without_torch_is_one_line_naming_it(script, config, argv, capsys, monkeypatch, tmp_path):
    """A venv without torch and Lightning (tools/check_pythons.sh on Python 3.10/3.12/3.13, where torch's pin
    resolves only to a CUDA build) met train.py with a ModuleNotFoundError traceback; --help still works."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("torch", "lightning") else find_spec(name, *a))
    line = refused(argv, capsys, monkeypatch, tmp_path, script=script, config=config)
    assert line.startswith("error: torch, lightning not installed in this Python (") and "make install" in line
    from trainlab.config.command_line import start_checks

    assert start_checks(["--help"]) is None and start_checks(["--cfg", "job"]) is None


@pytest.mark.parametrize("path, marker", [
    # a quote inside a file's name was taken for one never closed, and the fix kept it unescaped:
    # "data.source.path='/d/q'uote.csv'", which Hydra refused again
    ("/d/Bob's data.csv", "quote the text: "),
    # a " inside ended the shell's double quotes of the fix: the shell handed Hydra a cut word
    ('/d/the "best" run.csv', "quote the text: "),
    ("/d/a!b [1].csv", "quote the text: "),
    ("/d/ünï,b.csv", "quote the text: "),
    ("/d/a,b.csv", "for text with a comma "),
    ("'/d/unclosed.csv", "in the other kind: "),
])
def test_the_fix_for_a_path_hydra_cannot_read_reads_back_as_that_path(path, marker, capsys, monkeypatch, tmp_path):
    """The word a refusal offers, read as a POSIX shell reads it (shlex) and then by Hydra, is the path typed."""
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    line = refused(["data=file", f"data.source.path={path}"], capsys, monkeypatch, tmp_path)
    assert marker in line, line
    lexer = shlex.shlex(line.split(marker, 1)[1], posix=True)
    lexer.whitespace_split = True
    word = lexer.get_token()  # the first word only: the shell reads no further
    assert OverridesParser.create().parse_override(word).value() == path.strip("'"), (line, word)


# what each error is said to be: a file-size limit (EFBIG) and a used-up quota (EDQUOT) were 'the disk is full'
STATES = {errno.EFBIG: "a file-size limit stopped the write (the process's limit, ulimit -f / prlimit --fsize, or the "
                       "file system's largest file)", errno.EDQUOT: "the disk quota is used up",
          errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied"}


@pytest.mark.parametrize("error", [errno.EFBIG, errno.EDQUOT, errno.ENOSPC, errno.EACCES])
def test_hydras_own_files_on_a_full_disk_are_one_line(error, capsys, monkeypatch, tmp_path):
    """Hydra writes .hydra/config.yaml, hydra.yaml and overrides.yaml before the task function: a full disk, a
    file size limit (prlimit --fsize) or a folder it may not write there was Hydra's traceback, exit 1. Each is
    said as what it is, with its own fix: a file-size limit was 'the disk is full ... (File too large)'."""
    import hydra.core.utils

    from trainlab.config.command_line import run_command_line

    def full(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(hydra.core.utils, "_save_config", full)
    monkeypatch.setattr("sys.argv", ["train.py", f"paths.log_dir={tmp_path}"])
    monkeypatch.setattr(train_script.main.__wrapped__, "__module__", "__main__")
    with pytest.raises(SystemExit) as exited:
        run_command_line(train_script.main, config_name="train")
    lines = capsys.readouterr().err.splitlines()
    assert exited.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {STATES[error]} ({os.strerror(error)}, met by "), lines  # the writer: the fake
    fix = {errno.EFBIG: "Raise the file-size limit of the shell or job that starts it, if that is the limit (ulimit -f "
                        "unlimited",
           errno.EDQUOT: "Free some of your quota on that disk (quota -s shows it)",
           errno.ENOSPC: "Free some space on that disk"}.get(error, "")
    assert fix in lines[0], lines
    assert lines[0].endswith(", or write elsewhere with paths.log_dir=<a folder on another disk>, and run it again")


def test_a_config_file_this_user_may_not_read_is_one_line_saying_so(capsys, monkeypatch, tmp_path):
    """chmod 000 on a file of --config-dir: Hydra's PermissionError traceback, exit 1 (faked: the suite may run
    as root, which reads any file)."""
    from tests.conftest import deny_reading

    (tmp_path / "conf" / "model").mkdir(parents=True)
    mine = tmp_path / "conf" / "model" / "mine.yaml"
    mine.write_text((ROOT / "conf" / "model" / "lstm.yaml").read_text())
    deny_reading(monkeypatch, mine)
    monkeypatch.setenv("USER", "ann")
    line = refused(["--config-dir", str(tmp_path / "conf"), "model=mine"], capsys, monkeypatch, tmp_path)
    assert line == (f"error: a config file: '{mine}' cannot be read by user 'ann' (Permission denied); let user 'ann', "
                    f"its owner, read it: chmod u+r '{mine}'; or give another")


@pytest.mark.parametrize("override, expected", [
    # OmegaConf said "Error merging override ...; Cannot merge DictConfig with ListConfig", whichever way round
    ("hydra.sweeper.enqueue={optimizer.lr:0.001}", "hydra.sweeper.enqueue={optimizer.lr:0.001} is a mapping, but "
     "hydra.sweeper.enqueue takes a list (or null); put it in brackets: hydra.sweeper.enqueue=[{optimizer.lr:0.001}]"),
    ("hydra.sweeper.stages={name:lr,params:[optimizer.lr]}", "hydra.sweeper.stages={name:lr,params:[optimizer.lr]} is a "
     "mapping, but hydra.sweeper.stages takes a list (or null); put it in brackets: "
     "hydra.sweeper.stages=[{name:lr,params:[optimizer.lr]}]"),
    ("hydra.sweeper.objectives={a:1}", "hydra.sweeper.objectives={a:1} is a mapping, but hydra.sweeper.objectives takes "
     "a list of text (or null): hydra.sweeper.objectives=[<item>,...]"),
    ("hydra.job.env_set=[1]", "hydra.job.env_set=[1] is a list, but hydra.job.env_set takes a mapping {key:value}; "
     "e.g. hydra.job.env_set={a:1}"),
])
def test_a_mapping_for_a_list_key_or_a_list_for_a_mapping_names_the_key_and_the_shape(override, expected, capsys,
                                                                                       monkeypatch, tmp_path):
    assert refused(["-m", "hparams_search=optuna", override], capsys, monkeypatch, tmp_path) == f"error: {expected}"


@pytest.mark.parametrize("setting, expected", [
    # Hydra's line named the file but no key: 'In 'hparams_search/mine': ConfigTypeError ...'
    ("enqueue:\n      optimizer.lr: 0.001", "sets hydra.sweeper.enqueue to a mapping, but hydra.sweeper.enqueue takes a "
     "list (or null); write each mapping as a list entry starting with '- '"),
    # the same hint for a list of numbers; and a list for a mapping: 'gives a mapping where its key takes a list, or a
    # list where it takes a mapping', naming no key
    ("stage_trials:\n      a: 1", "sets hydra.sweeper.stage_trials to a mapping, but hydra.sweeper.stage_trials takes a "
     "list of whole numbers (or null); e.g. stage_trials: [...]"),
    ("params:\n      - optimizer.lr", "sets hydra.sweeper.params to a list, but hydra.sweeper.params takes a mapping "
     "(key: value on lines of their own, without '- ')"),
    # OmegaConf's words: 'sets hydra.sweeper.enqueue: Invalid value assigned: AnyNode is not a ListConfig, list or tuple.'
    ("enqueue: 5", "sets hydra.sweeper.enqueue to 5, which is not a list [..] or null, which this key takes; e.g. "
     "enqueue: [{optimizer.lr:0.001}]"),
    ("n_trials: [3]", "sets hydra.sweeper.n_trials to [3], which is not a whole number, which this key takes; e.g. "
     "n_trials: 20"),
    ("objectives: val/loss", "sets hydra.sweeper.objectives to val/loss, which is not a list [..] or null, which this "
     "key takes; e.g. objectives: [objective,fit_seconds]"),
    # 'In 'hparams_search/mine': ValidationError raised while composing config:; Merge error: str is not a subclass
    # of TPESamplerConf. value: tpe' (the command line's hydra.sweeper.sampler=tpe had its line already)
    ("sampler: random", "sets hydra.sweeper.sampler to the name random; a sampler is chosen as a config group: in the "
     "file's defaults list, - override /hydra/sweeper/sampler: random (tpe | random | cmaes | grid | nsgaii | "
     "nsgaii_small | qmc), and its settings under hydra.sweeper.sampler"),
    ("pruner: 3", "sets hydra.sweeper.pruner to the name 3; a pruner is chosen as a config group: in the file's defaults "
     "list, - override /hydra/sweeper/pruner: <option> (median | percentile | successive_halving | hyperband | nop), "
     "and its settings under hydra.sweeper.pruner"),
])
def test_a_search_file_giving_a_sweeper_key_of_another_shape_or_type_names_the_file_key_and_fix(
        capsys, monkeypatch, tmp_path, setting, expected):
    """The file's path, the key and how to write it, as the command line's refusal of the same value says."""
    mine = tmp_path / "conf" / "hparams_search" / "mine.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text(f"# @package _global_\ndefaults:\n  - optuna\nhydra:\n  sweeper:\n    {setting}\n")
    line = refused(["-m", "--config-dir", str(tmp_path / "conf"), "hparams_search=mine"], capsys, monkeypatch, tmp_path)
    assert line == f"error: {mine} {expected}"


@pytest.mark.parametrize("name, text, choice, expected", [
    # 'sets hardware.num_threads: Value '[1]' of type 'ListConfig' could not be converted to Integer'
    ("hardware/myhw.yaml", "defaults: [cpu, _self_]\nnum_threads: [1]\n", "hardware=myhw",
     "sets hardware.num_threads to [1], which is not a whole number or null, which this key takes; e.g. num_threads: 1"),
    ("experiment/typed.yaml", "# @package _global_\ntrainer:\n  max_epochs: 2.5\n", "experiment=typed",
     "sets trainer.max_epochs to 2.5, which is not a whole number, which this key takes; e.g. max_epochs: 20"),
])
def test_a_value_of_another_type_in_a_file_of_a_typed_group_names_the_file_key_and_fix(
        capsys, monkeypatch, tmp_path, name, text, choice, expected):
    """Every typed node (hardware and trainer too), and a group's file whose keys lie below the group's package."""
    mine = tmp_path / "conf" / name
    mine.parent.mkdir(parents=True)
    mine.write_text(text)
    line = refused(["--config-dir", str(tmp_path / "conf"), choice], capsys, monkeypatch, tmp_path)
    assert line == f"error: {mine} {expected}"


@pytest.mark.parametrize("launcher,kept", [
    ("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", True),
    ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher", True),
    ("hydra._internal.core_plugins.basic_launcher.BasicLauncher", False),  # in this process: Hydra's own report
])
def test_a_jobs_own_error_in_a_worker_process_keeps_its_traceback_in_its_log(launcher, kept, tmp_path, capsys):
    """-m hydra/launcher=joblib (or submitit_local) +callbacks.boom._target_=<a callback that raises>: the job's
    exception came back pickled, without its traceback; the command printed the sweeper's frames ending in
    'raise self._return_value', and the job's own frames were nowhere (not in its train.log either)."""
    import logging
    import pickle

    import hydra._internal.utils as hydra_utils
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    from trainlab.config.composition import hydra_errors_as_one_line
    from trainlab.run.job_errors import JobErrors

    def on_train_epoch_end():
        raise RuntimeError("boom in a callback")

    try:
        on_train_epoch_end()
    except RuntimeError as exc:
        raised = exc
    handler = logging.FileHandler(tmp_path / "train.log")
    logging.getLogger().addHandler(handler)
    try:
        config = OmegaConf.create({"hydra": {"mode": "MULTIRUN", "launcher": {"_target_": launcher}}})
        JobErrors().on_job_end(config, JobReturn(status=JobStatus.FAILED, _return_value=raised))
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    log = (tmp_path / "train.log").read_text()
    assert ("on_train_epoch_end" in log and "Traceback" in log) is kept, log
    capsys.readouterr()
    if not kept:
        return
    came_back = pickle.loads(pickle.dumps(raised))  # as the launcher hands it to the sweeper: no traceback

    def multirun():
        raise came_back

    with hydra_errors_as_one_line(["-m"], "train"), pytest.raises(SystemExit) as exited:
        hydra_utils.run_and_report(multirun)
    assert (exited.value.code, capsys.readouterr().err.strip()) == (
        1, f"error: a job of this multirun failed: RuntimeError: boom in a callback; its traceback is in "
           f"{tmp_path / 'train.log'}")


def _errors_a_job_hands_back():
    from trainlab.run.durable import DiskFull
    from trainlab.run.preemption import RunStopped
    from trainlab.run.ranks import RankGone
    from trainlab.run.slurm import SlurmJobFailed
    from trainlab.search.handover import TrialOutOfSpace

    return [RunStopped("SIGUSR2", 5, "/s/0", resume="python train.py -m ... ckpt_path=/s/0"),
            DiskFull("the disk is full: writing '/s/0/last.ckpt' failed (No space left on device)"),
            TrialOutOfSpace("the disk is full: writing '/s/0/x' failed"), RankGone("another process ended"),
            SlurmJobFailed("SLURM job 9 failed: ...")]


@pytest.mark.parametrize("error", _errors_a_job_hands_back(), ids=lambda e: type(e).__name__)
def test_an_error_a_job_hands_back_through_a_worker_process_is_the_same_error(error):
    """hydra/launcher=submitit_local hydra.launcher.timeout_min=1: the run stopped cleanly at its time limit, and
    the command ended in a traceback, 'TypeError: RunStopped.__init__() missing 2 required positional arguments'
    (the job's RunStopped came back pickled, and unpickling called its __init__ with the message alone);
    DiskFull's line was built again around the finished one."""
    import pickle

    came_back = pickle.loads(pickle.dumps(error))
    assert (type(came_back), str(came_back), came_back.__dict__) == (type(error), str(error), error.__dict__)


def test_a_job_stopped_by_a_signal_ends_the_multirun_with_its_line_and_resume_command(capsys):
    """submitit_local's time limit (SIGUSR2), or SIGTERM to a joblib worker: Hydra printed the message alone,
    without the command that resumes the run, then its HYDRA_FULL_ERROR advice, and exited 1."""
    import pickle

    import hydra._internal.utils as hydra_utils

    from trainlab.config.composition import hydra_errors_as_one_line
    from trainlab.run.preemption import RunStopped

    stopped = RunStopped("SIGUSR2", 2, "/s/0", resume="python train.py -m hydra/launcher=submitit_local ckpt_path=/s/0")

    def multirun():
        raise pickle.loads(pickle.dumps(stopped))  # as the worker hands it back

    with hydra_errors_as_one_line(["-m"], "train"), pytest.raises(SystemExit) as exited:
        hydra_utils.run_and_report(multirun)
    assert (exited.value.code, capsys.readouterr().err.strip()) == (
        143, "error: stopped by SIGUSR2 during epoch 2; checkpoints and records are in /s/0; resume with: python "
             "train.py -m hydra/launcher=submitit_local ckpt_path=/s/0")


def test_a_stop_signal_that_lands_while_a_target_is_imported_stays_a_stop(tmp_path, monkeypatch):
    """submitit_local's time-limit signal came while the job imported its callbacks: the run was refused with
    'callbacks.run_records._target_=...: importing trainlab.callbacks.records failed (...): SignalStop: SIGUSR2;
    the error is in that module (or one it imports), not in the config' (exit 2), not stopped by the signal."""
    from trainlab.callbacks.training import SignalStop
    from trainlab.config.instantiate import import_target

    (tmp_path / "slow_to_import.py").write_text(
        "from trainlab.callbacks.training import SignalStop\nraise SignalStop('SIGUSR2')  # the handler, mid-import\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SignalStop, match="SIGUSR2"):
        import_target("slow_to_import.Callback", "callbacks.slow")


@pytest.mark.parametrize("script, config, override, expected", [
    # each was Hydra's traceback: ValueError: Config group override must be a string or a list. Got bool
    (train_script, "train", "logger=false", "logger=false is not an option of the logger group: a group takes an "
     "option's name, not true or false; for no logger: logger=none; its options: csv, mlflow, none, tensorboard"),
    (train_script, "train", "optimizer=1e-3", "optimizer=1e-3 is not an option of the optimizer group: a group takes "
     "an option's name, not a number; to change one of its settings, name it: optimizer.<key>=0.001 (optimizer.lr, "
     "optimizer.momentum, optimizer.weight_decay take numbers); its options: adam, adamw, sgd"),
    (train_script, "train", "model=null", "model=null names no option of the model group, and every run needs one; "
     "choose one: model=<option> (cnn, gnn, lstm, lstm_attention, tcn, unet)"),
    (train_script, "train", "experiment=null", "experiment=null names no option of the experiment group; experiment "
     "is off unless an option is chosen: leave experiment=null out"),
    (train_script, "train", "scheduler=null", "scheduler=null names no option of the scheduler group; for no "
     "scheduler: scheduler=none"),
    (evaluate_script, "eval", "hardware=1", "hardware=1 is not an option of the hardware group: a group takes an "
     "option's name, not a whole number; to change one of its settings, name it: hardware.<key>=1 (python "),
])
def test_a_group_given_a_value_instead_of_an_options_name_is_one_line(script, config, override, expected, capsys,
                                                                      monkeypatch, tmp_path):
    assert refused([override], capsys, monkeypatch, tmp_path, script, config).startswith(f"error: {expected}")
