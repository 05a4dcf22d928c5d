"""trainlab on the machines users have, which are not the developer's: containers and shared hosts (an
arbitrary uid without a passwd entry, no HOME, a CPU quota, a small /dev/shm, a console that goes away)."""

from __future__ import annotations

import os
import pwd
import sys
import tempfile


def _no_passwd_entry(uid: int):
    raise KeyError(f"getpwuid(): uid not found: {uid}")


def test_no_home_and_no_passwd_entry_gets_a_matplotlib_folder_not_a_traceback(tmp_path, monkeypatch):
    """``docker run --user 12345`` without HOME: Path.home() raises, and every command ended in a
    RuntimeError traceback before it composed its config (matplotlib's own lookup raises the same)."""
    from trainlab.run.console import home_folder, matplotlib_config_where_writable

    for name in ("HOME", "MPLCONFIGDIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", _no_passwd_entry)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert home_folder() is None
    chosen = matplotlib_config_where_writable()
    assert chosen == str(tmp_path / f"trainlab-matplotlib-{os.getuid()}") == os.environ["MPLCONFIGDIR"]
    assert os.path.isdir(chosen)
