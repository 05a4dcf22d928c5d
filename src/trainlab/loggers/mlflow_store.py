"""Where an MLflow run is tracked, checked before anything trains (:class:`trainlab.loggers.mlflow.MLflowRun` calls
these): a tracking URI MLflow takes, a server that answers, a local database and its folder, and an experiment
whose artifacts lie where this run can write them (a database moved since its experiment was made is named)."""

from __future__ import annotations

import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from trainlab.config.errors import UserError

# a server that does not answer within this time is reported before training, instead of after
# MLflow's own retries (7 with exponential back-off: minutes) in the middle of a run
PROBE_TIMEOUT_S = 5.0

# URI schemes MLflow tracks into (its tracking store registry: servers, databases through SQLAlchemy, a
# folder, Databricks); a path without a scheme is a folder (MLflow's file store)
TRACKING_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks", "databricks-uc",
                    "uc")


def uri_problem(uri: str) -> Optional[str]:
    """Why MLflow cannot track into ``uri`` (a scheme it does not know, such as ``htp://`` or a
    ``host:port`` without ``http://``), or None."""
    from urllib.parse import urlparse

    scheme = urlparse(uri).scheme.split("+")[0]  # postgresql+psycopg2: the driver after '+'
    if not scheme or len(scheme) == 1 or scheme in TRACKING_SCHEMES:  # one letter: a Windows drive, a folder
        return None
    hint = f"http://{uri}" if "://" not in uri else "http(s)://<host>:<port>"
    return (f"'{scheme}' is not a scheme MLflow tracks into ({', '.join(TRACKING_SCHEMES)}); for a server give "
            f"{hint}, for a local database sqlite:///<file>")


def store_folder(uri: str) -> Optional[Path]:
    """The folder of a file-store URI (a path, ``file:///<path>``), or None for a server or a database."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(uri).expanduser() if not parsed.scheme or len(parsed.scheme) == 1 else None


def check_store_folder(uri: str, folder: Path) -> None:
    """MLflow 3 refuses its file store (in maintenance mode) unless ``MLFLOW_ALLOW_FILE_STORE=true``: in a
    multi-line Hydra error, as it did for a folder it cannot create. Refused here in one line each."""
    from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE

    if not MLFLOW_ALLOW_FILE_STORE.get():
        raise UserError(f"logger.mlflow.tracking_uri={uri}: a folder is MLflow's file store, which MLflow 3 refuses "
                        f"(maintenance mode); give a database, sqlite:///{folder.absolute() / 'mlflow.db'}, or set "
                        "MLFLOW_ALLOW_FILE_STORE=true to write into the folder all the same")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"no permission to write {folder}")
    except OSError as exc:
        raise UserError(f"logger.mlflow.tracking_uri={uri}: cannot create or write the folder ({exc}); give a "
                        "writable folder, or change paths.log_dir") from None


def sqlite_database(uri: str) -> Path:
    """The file of a ``sqlite:///<path>`` URI as MLflow's SQLAlchemy reads it (``%xx`` decoded), so that the
    database checked and created here is the one MLflow opens; a ``?`` in the path is refused: SQLAlchemy
    reads what follows as options, and MLflow wrote its tables into a file named after the part before it."""
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if "/" in uri.partition("?")[2]:  # a folder's name, not options (?timeout=30)
        raise UserError(f"logger.mlflow.tracking_uri={uri}: a database URI reads what follows '?' as options, so "
                        f"MLflow would open '{url.database}'; choose a paths.log_dir without '?', or write it as %3F "
                        "in the URI")
    return Path(url.database)


def check_experiment(tracking_uri: str, experiment_name: str, location: Optional[str], beside: bool = False) -> None:
    """An experiment of that name that MLflow would not log into, or where the setting would be dropped:
    one deleted (in MLflow's trash: the run's first metric raised MLflow's traceback), or one that exists with
    another ``artifact_location`` (MLflow applies it only when it creates the experiment). ``beside``: the
    location is the default beside a sqlite database, which differs from the experiment's when the database was
    moved or copied since (MLflow records the place absolute): said so, not as a setting the user never gave."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:  # the first request to the store: a server at the address that is no MLflow (TensorBoard on 6006), a login
        existing = MlflowClient(tracking_uri).get_experiment_by_name(experiment_name)
    except MlflowException as exc:
        reason = " ".join(exc.message.split())[:300]
        raise UserError(f"logger.mlflow.tracking_uri={tracking_uri}: the tracking store refused MLflow's first "
                        f"request ({reason}); is it an MLflow server (`make mlflow` serves one), with your "
                        "credentials (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_TOKEN)?") from None
    if existing is None:
        return
    if existing.lifecycle_stage == "deleted":
        raise UserError(f"logger.mlflow.experiment_name={experiment_name}: that experiment was deleted (it is in "
                        f"MLflow's trash, id {existing.experiment_id}); restore it (the UI, or `mlflow experiments "
                        f"restore --experiment-id {existing.experiment_id}`), or name another: "
                        "logger.mlflow.experiment_name=<name>")

    def bare(uri: str) -> str:
        return str(uri).removeprefix("file://").rstrip("/")

    if location is not None and _same_place(existing.artifact_location, location):
        return
    if location is not None and beside:
        raise UserError(f"logger.mlflow.tracking_uri={tracking_uri}: experiment '{experiment_name}' keeps its artifacts in "
                        f"{existing.artifact_location}, not beside this database ({location}): the database was moved "
                        "or copied, and MLflow records that place absolute; link the old place to the new (ln -s "
                        f"{bare(location)} {bare(existing.artifact_location)}), or start a new experiment beside it: "
                        "logger.mlflow.experiment_name=<name> (README: MLflow, moving runs)")
    if location is not None:
        raise UserError(f"logger.mlflow.artifact_location={location}: experiment '{experiment_name}' exists already, "
                        f"with its artifacts in {existing.artifact_location}, and MLflow sets the place only for a new "
                        "experiment; leave the key out, or name a new one: logger.mlflow.experiment_name=<name>")


def _same_place(one: str, other: str) -> bool:
    """Whether two artifact locations name one place: the same text, or local folders that resolve to one (the
    old place of a moved store linked to the new)."""
    from urllib.parse import unquote, urlparse

    def local(uri: str) -> Optional[Path]:
        parsed = urlparse(str(uri))
        return Path(unquote(parsed.path)).resolve() if parsed.scheme in ("", "file") else None

    if str(one).removeprefix("file://").rstrip("/") == str(other).removeprefix("file://").rstrip("/"):
        return True
    return local(one) is not None and local(one) == local(other)


def unreachable(uri: str, timeout_s: float = PROBE_TIMEOUT_S) -> Optional[str]:
    """Why nothing answers at an http(s) tracking URI, or None when something does.

    Any HTTP reply counts as an answer (a 401 from a server behind a login is still a server), and
    so does a failed TLS handshake (MLflow reports certificate problems itself); a refused
    connection, an unknown host or a timeout do not. Proxies from the environment are used, as
    MLflow's own requests would.
    """
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        return None if isinstance(exc.reason, ssl.SSLError) else str(exc.reason)
    except OSError as exc:  # a timeout while reading, a reset connection
        return f"{type(exc).__name__}: {exc}"
    return None
