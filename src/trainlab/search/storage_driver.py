"""Whether SQLAlchemy can open a sweep's storage URL on this machine (:func:`driver_problem`), asked when the sweep
is planned (:func:`trainlab.search.shared.storage_url`), before anything is written."""

from __future__ import annotations

from typing import Optional

import sqlalchemy.exc
from sqlalchemy.engine import make_url


def driver_problem(spec: str) -> Optional[str]:
    """Why SQLAlchemy (which Optuna opens a storage with) cannot open a database URL of this kind here: a database
    it knows no dialect of (foo://, failed after five tries with "Can't load plugin"), or a driver whose package is
    not installed (postgresql:// is psycopg 3 to SQLAlchemy 2, where requirements.txt installs psycopg2; mysql://
    is mysqlclient); None where it can, or where the URL is not one it reads (said where it is opened)."""
    try:
        url = make_url(spec)
    except sqlalchemy.exc.ArgumentError:
        return None
    try:
        dialect = url.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError:
        return (f"'{url.drivername}' is no database SQLAlchemy knows; give sqlite:///<file>, "
                "postgresql+psycopg2://<user>@<host>:<port>/<db> or journal:<file>")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        hint = (f"; psycopg2 is installed: postgresql+psycopg2://{spec.split('://', 1)[1]}"
                if url.get_backend_name() == "postgresql" else "")
        return (f"its driver {url.drivername} needs the Python module '{exc.name}', which is not installed (pip "
                f"install its package into .venv){hint}")
    return None
