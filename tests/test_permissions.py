"""The advice of a refusal of a file or folder this user may not read or write depends on who owns it
(trainlab.run.permissions): 'chmod u+r ... by its owner' mended nothing for a user who is not the owner.

Files of other users are faked (the suite may run as root, which owns and reads everything; a test cannot make
a file another user's): this process's uid and groups are changed, and the passwd and group lookups answer."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from trainlab.config.errors import UserError
from trainlab.run.permissions import let_user


@pytest.fixture
def someone_else(monkeypatch):
    """This process is user 'ann', uid 4242, in none of the files' groups (until ``in_group``); the files' owner
    is 'bob' and their group 'lab', whatever their numbers."""
    monkeypatch.setenv("USER", "ann")
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.setattr(os, "getegid", lambda: 4242)
    monkeypatch.setattr(os, "getgroups", lambda: [4243])
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: SimpleNamespace(pw_name="bob"))
    monkeypatch.setattr(grp, "getgrgid", lambda gid: SimpleNamespace(gr_name="lab"))

    def in_group(path: Path) -> None:
        monkeypatch.setattr(os, "getgroups", lambda: [4243, path.stat().st_gid])

    return in_group


def test_the_owner_is_told_to_chmod_u(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "ann")
    path = tmp_path / "x.csv"
    path.write_text("y\n1\n")
    assert let_user(path) == f"let user 'ann', its owner, read it: chmod u+r '{path}'"
    assert let_user(tmp_path) == f"let user 'ann', its owner, list it: chmod u+rx '{tmp_path}'"
    assert let_user(tmp_path, "write") == f"let user 'ann', its owner, write in it: chmod u+wx '{tmp_path}'"
    # a file still to be made: the folder it is made in
    assert let_user(tmp_path / "new" / "s.db", "use") == f"let user 'ann', its owner, write in it: chmod u+wx '{tmp_path}'"


def test_a_user_of_the_files_group_asks_its_owner_for_g(tmp_path, someone_else):
    path = tmp_path / "x.csv"
    path.write_text("y\n1\n")
    someone_else(path)
    assert let_user(path) == f"ask its owner 'bob' to let group 'lab' (user 'ann' is in it) read it: chmod g+r '{path}'"
    assert let_user(tmp_path, "write") == (f"ask its owner 'bob' to let group 'lab' (user 'ann' is in it) write in it: "
                                           f"chmod g+wx '{tmp_path}'")


def test_any_other_user_asks_its_owner_for_o_or_a_copy(tmp_path, someone_else):
    path = tmp_path / "x.csv"
    path.write_text("y\n1\n")
    assert let_user(path) == (f"ask its owner 'bob' to let every user read it (chmod o+r '{path}') or to give user 'ann' a "
                              "copy, or run as a user who may read it")
    assert let_user(tmp_path) == (f"ask its owner 'bob' to let every user list it (chmod o+rx '{tmp_path}'), or run as a "
                                  "user who may list it")


def test_a_folder_on_the_way_that_may_not_be_entered_is_the_one_named(tmp_path, someone_else, monkeypatch):
    """open() of a file in a folder without x for this user fails on the file: its folder is the one to mend."""
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "x.csv"
    path.write_text("y\n1\n")
    real_stat, real_access = Path.stat, os.access

    def stat(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path / "data" and real_access(p, mode))
    assert let_user(path) == (f"ask its owner 'bob' to let every user enter it (chmod o+x '{tmp_path / 'data'}'), or "
                              "run as a user who may enter it")


def test_a_refusal_of_another_users_file_says_what_its_owner_does(tmp_path, someone_else, monkeypatch):
    """Through a reader: 'let that user read it (chmod u+r ... by its owner)' said the same to every user."""
    from tests.conftest import deny_reading
    from trainlab.data.files import read_frame

    path = tmp_path / "x.csv"
    pd.DataFrame({"y": [1.0, 2.0]}).to_csv(path, index=False)
    deny_reading(monkeypatch, path)
    with pytest.raises(UserError) as refused:
        read_frame(str(path), "data.source.path")
    assert str(refused.value) == (
        f"data.source.path: '{path}' cannot be read by user 'ann' (Permission denied); ask its owner 'bob' to let every "
        f"user read it (chmod o+r '{path}') or to give user 'ann' a copy, or run as a user who may read it; or give "
        "another")


def test_a_write_refused_mid_run_names_what_the_files_owner_does(tmp_path, someone_else):
    """A record written into a shared folder whose file another user owns: 'let user ... write there again (its
    owner can chmod or chown it)' whoever owned it; where the error names no file that stays the advice."""
    import errno

    from trainlab.run.durable import disk_state

    path = tmp_path / "epochs.jsonl"
    path.write_text("")
    assert disk_state(PermissionError(errno.EACCES, "Permission denied", str(path))) == (
        "permission denied", f"ask its owner 'bob' to let every user write it (chmod o+w '{path}'), or run as a user "
                             "who may write it")
    assert disk_state(OSError(errno.EACCES, "Permission denied"))[1] == (
        "let user 'ann' write there again (its owner can chmod or chown it)")


@pytest.mark.parametrize("name", ["Ann's runs", "two words", 'say "hi"', "$HOME stays"])
def test_the_advised_command_names_a_path_of_any_characters(tmp_path, monkeypatch, name):
    """The advice wrote every path inside plain single quotes: a folder named "Ann's runs" closed them early, and the
    command a user copied failed (or named another file). Each path is one shell word, as shlex.quote writes it."""
    import shlex

    from trainlab.search.shared import storage_place_problem

    monkeypatch.setenv("USER", "ann")
    path = tmp_path / name / "x.csv"
    path.parent.mkdir()
    path.write_text("y\n1\n")
    command = let_user(path).split(": ", 1)[1]
    assert shlex.split(command) == ["chmod", "u+r", str(path)]
    missing = tmp_path / name / "nope"
    advice = storage_place_problem(f"sqlite:///{missing}/s.db", writing=True)
    assert shlex.split(advice.split("(mkdir -p ", 1)[1].split("), or", 1)[0]) == [str(missing)]


def test_a_bare_permission_error_names_the_file_being_written(tmp_path, monkeypatch):
    """A write through a file already open fails with an EACCES that names no file (an NFS or FUSE folder whose
    rights changed mid-run): the advice was 'let user ... write there again (its owner can chmod or chown it)';
    where the writer knows its file, the advice names it, by who owns it."""
    import errno

    from trainlab.run.durable import DiskFull

    monkeypatch.setenv("USER", "ann")
    path = tmp_path / "epochs.jsonl"
    path.write_text("")
    bare = PermissionError(errno.EACCES, "Permission denied")
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = bare
    for full in (DiskFull.writing(path, bare), DiskFull.of(wrapped, path)):
        assert str(full).startswith(f"permission denied: writing '{path}' failed (Permission denied). Let user 'ann', "
                                    f"its owner, write it: chmod u+w '{path}'")
    assert "use it again (its owner can chmod or chown it)" in str(DiskFull.of(bare))  # no file known: as before
