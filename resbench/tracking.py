"""Experiment trackers: resbench's runs mirrored into MLflow or TensorBoard.

Both are optional extras (``pip install resbench[track]``). A tracker is opened, and its
store reached, before any work starts: a missing package, a malformed URI or a store
that cannot be reached is a usage error then, never after hours of training. Once work
has started, a tracker that fails is dropped with one warning and the work goes on: the
results are resbench's records, and the tracker only a copy of them.

A run in the trackers has params (the config and the spec), tags (the resolved
environment), metrics with steps (epochs, batch sizes, trial counts), artifacts (tables,
figures, traces) and child runs (a comparison's arms, a search's trials).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from resbench.errors import UsageError
from resbench.hooks import Hooks
from resbench.store import results_dir as resolve
from resbench.validate import writable_folder

BACKENDS = ("mlflow", "tensorboard")
EXPERIMENT = "resbench"
# MLflow's stores: the local ones (folders, SQLite) and the remote ones it speaks to
_MLFLOW_SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")
_KEY = re.compile(r"[^0-9A-Za-z_\-. /]")


@dataclass(frozen=True)
class TrackerTarget:
    """One tracker: ``mlflow`` or ``tensorboard``, with the MLflow tracking URI or the
    TensorBoard log folder (None: $MLFLOW_TRACKING_URI, else the results folder)."""

    backend: str
    where: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(f"{self.backend!r}: unknown tracker; give mlflow[=URI] or tensorboard[=DIR]")
        if self.where is not None and not self.where.strip():
            raise UsageError(f"{self.backend}=: nothing after '='; give {self.backend} alone for the default "
                             f"or {'a tracking URI' if self.backend == 'mlflow' else 'a folder'} after it")
        if self.backend == "mlflow" and self.where is not None:
            _check_mlflow_uri(self.where)
        if self.backend == "tensorboard" and self.where is not None and "://" in self.where:
            raise UsageError(f"tensorboard={self.where}: TensorBoard logs to a folder here, not a URI; "
                             "give a folder such as tensorboard=runs")

    @classmethod
    def parse(cls, text: str) -> "TrackerTarget":
        backend, eq, where = text.partition("=")
        return cls(backend.strip().lower(), where if eq else None)


def _check_mlflow_uri(uri: str, what: str = "mlflow=") -> None:
    try:
        u = urlparse(uri)
        u.hostname  # noqa: B018 - parses the host part (a malformed IPv6 host raises here)
    except ValueError as e:
        raise UsageError(f"{what}{uri}: not a URI ({e}); give e.g. sqlite:///results/mlflow.db or http://HOST:PORT") from None
    if not u.scheme or (len(u.scheme) == 1 and os.name == "nt"):
        return  # a plain folder: MLflow's file store
    if u.scheme not in _MLFLOW_SCHEMES:
        raise UsageError(f"{what}{uri}: unknown scheme {u.scheme!r}; give a folder, sqlite:///FILE.db, "
                         "http(s)://HOST:PORT or another MLflow store URI")
    if u.scheme in ("http", "https") and not u.hostname:
        raise UsageError(f"{what}{uri}: no host; give e.g. http://localhost:5000")
    if u.scheme == "sqlite" and not u.path.strip("/"):
        raise UsageError(f"{what}{uri}: no database file; give e.g. sqlite:///results/mlflow.db")


def _flat(d: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """Nested values as dotted keys of scalars (lists and unknown types as JSON text)."""
    out: dict = {}
    for k, v in d.items():
        key = _KEY.sub("_", f"{prefix}{k}")
        if isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        elif v is None or isinstance(v, (str, int, float, bool)):
            out[key] = v
        else:
            out[key] = json.dumps(v, default=str)
    return out


class _Sink:
    """One backend's side of one run."""

    def params(self, values: dict) -> None: ...
    def tags(self, values: dict) -> None: ...
    def metrics(self, values: dict, step: int) -> None: ...
    def artifact(self, path: Path) -> None: ...
    def child(self, name: str) -> "_Sink": ...
    def end(self, status: str) -> None: ...


class _MlflowSink(_Sink):
    def __init__(self, client, experiment_id: str, name: str, parent: str | None = None) -> None:
        self.client, self.experiment_id = client, experiment_id
        tags = {"mlflow.parentRunId": parent} if parent else {}
        self.run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id

    def params(self, values: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in _flat(values).items()])

    def tags(self, values: dict) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in _flat(values).items()])

    def metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(dt.datetime.now().timestamp() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in _flat(values).items()
                                                    if isinstance(v, (int, float)) and not isinstance(v, bool)])

    def artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def child(self, name: str) -> "_MlflowSink":
        return _MlflowSink(self.client, self.experiment_id, name, parent=self.run_id)

    def end(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


class _TensorBoardSink(_Sink):
    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = folder
        self.writer = SummaryWriter(log_dir=str(folder))
        self._params: dict = {}

    def params(self, values: dict) -> None:
        self._params.update(_flat(values))
        self.writer.add_text("params", _markdown(self._params))

    def tags(self, values: dict) -> None:
        self.writer.add_text("environment", _markdown(_flat(values)))

    def metrics(self, values: dict, step: int) -> None:
        for k, v in _flat(values).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(k, v, step)

    def artifact(self, path: Path) -> None:
        if path.suffix.lower() == ".png":
            import matplotlib.image

            self.writer.add_image(path.stem, matplotlib.image.imread(str(path))[..., :3], dataformats="HWC")
        elif path.suffix.lower() in (".md", ".csv", ".txt"):
            self.writer.add_text(path.stem, path.read_text() if path.suffix.lower() == ".md"
                                 else "    " + path.read_text().replace("\n", "\n    "))

    def child(self, name: str) -> "_TensorBoardSink":
        return _TensorBoardSink(self.folder / _folder_name(name))

    def end(self, status: str) -> None:
        self.writer.add_text("status", status)
        self.writer.close()


def _folder_name(run: str) -> str:
    """A run's name as one folder name (TensorBoard's runs are folders)."""
    return _KEY.sub("_", run).replace("/", "_").replace(" ", "_")


def _markdown(values: dict) -> str:
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return "| key | value |\n|---|---|\n" + "\n".join(f"| {cell(k)} | {cell(v)} |" for k, v in values.items())


class TrackedRun:
    """A run in every tracker asked for. A backend that fails is dropped with one warning;
    the others, and the work, go on."""

    def __init__(self, sinks: dict[str, _Sink], hooks: Hooks) -> None:
        self._sinks, self._hooks = dict(sinks), hooks

    def _each(self, what: str, call) -> list:
        made = []
        for backend, sink in list(self._sinks.items()):
            try:
                made.append((backend, call(sink)))
            except Exception as e:  # noqa: BLE001 - any tracker failure: the records stand
                del self._sinks[backend]
                self._hooks.warning(f"{backend}: {what} failed ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                                    "no more logging there in this run, the results are stored as records all the same")
        return made

    def params(self, values: dict) -> None:
        self._each("logging params", lambda s: s.params(values))

    def tags(self, values: dict) -> None:
        self._each("logging tags", lambda s: s.tags(values))

    def metrics(self, values: dict, step: int) -> None:
        self._each("logging metrics", lambda s: s.metrics(values, step))

    def artifact(self, path) -> None:
        if path is not None and Path(path).is_file():
            self._each(f"storing {Path(path).name}", lambda s: s.artifact(Path(path)))

    @contextlib.contextmanager
    def child(self, name: str):
        run = TrackedRun(dict(self._each(f"starting run {name!r}", lambda s: s.child(name))), self._hooks)
        with run._ending():
            yield run

    @contextlib.contextmanager
    def _ending(self):
        try:
            yield self
        except BaseException:
            self._each("ending the run", lambda s: s.end("KILLED"))
            raise
        self._each("ending the run", lambda s: s.end("FINISHED"))


class Tracker:
    """The trackers of one command, opened (and reached) on construction."""

    def __init__(self, targets: list[TrackerTarget], results_dir=None, hooks: Hooks = Hooks(), outputs=()) -> None:
        """``outputs``: the command's other output files; a tracker store at one of them is
        refused (it would be overwritten, or block the file, after the work)."""
        self.targets, self.hooks = list(targets), hooks
        self._outputs = {Path(o).resolve() for o in outputs if o and o != "-"}
        self._openers = {}
        for t in self.targets:
            self._openers[t.backend] = (self._open_mlflow if t.backend == "mlflow" else self._open_tensorboard)(t, results_dir)

    @classmethod
    def from_texts(cls, texts: list[str] | None, results_dir=None, hooks: Hooks = Hooks(),
                   outputs=()) -> "Tracker | None":
        if not texts:
            return None
        targets = [TrackerTarget.parse(t) for t in texts]
        backends = [t.backend for t in targets]
        if len(set(backends)) < len(backends):
            raise UsageError(f"{backends[0]} given twice: one URI or folder per tracker")
        return cls(targets, results_dir, hooks, outputs)

    def _open_mlflow(self, target: TrackerTarget, results_dir):
        try:
            import mlflow  # noqa: F401  (installed: checked before the work)
        except ImportError:
            raise UsageError("mlflow: MLflow is not installed; pip install 'resbench[track]' (or pip install mlflow)") from None
        uri = target.where
        env_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()  # blank is unset
        if uri is None and env_uri:
            uri = env_uri
            _check_mlflow_uri(uri, "mlflow: MLFLOW_TRACKING_URI=")
        if uri is None:
            folder = resolve(results_dir)
            _writable(folder, "the results folder (MLflow's default store is mlflow.db there)")
            uri = f"sqlite:///{(folder / 'mlflow.db').resolve()}"
        with _undone_on_failure() as made:
            local = self._local_store(uri, made)
            artifacts = None
            if local is not None and urlparse(uri).scheme == "sqlite":
                uri = f"sqlite:///{local}"  # absolute: the same file whatever folder MLflow runs in
                artifacts = local.parent / "mlflow-artifacts"  # beside the database, not in the current folder
                made += _missing(artifacts)
                _writable(artifacts, "the MLflow artifact folder")
            experiment_id, client = _reach_mlflow(uri, artifacts, local)
        self.mlflow_uri = uri
        return lambda name: _MlflowSink(client, experiment_id, name)

    def _local_store(self, uri: str, made: list) -> Path | None:
        """The file or folder of a local MLflow store (None for a server), checked: writable,
        not a folder where a database file should be, not a database of another tool, not
        one of the command's outputs. ``sqlite:///runs/x.db`` is relative to the current
        folder, ``sqlite:////abs/x.db`` absolute (SQLAlchemy's rule). What it creates is
        added to ``made``, to be removed if the store is refused."""
        u = urlparse(uri)
        if u.scheme not in ("", "file", "sqlite"):
            return None
        raw = u.path[1:] if u.scheme == "sqlite" and u.path.startswith("/") else (u.path if u.scheme else uri)
        path = Path(raw).resolve()
        if u.scheme == "sqlite":
            if path.is_dir():
                raise UsageError(f"mlflow={uri}: {path} is a folder; give a database file, e.g. sqlite:///{path / 'mlflow.db'}")
            made += _missing(path.parent)
            _writable(path.parent, "the database's folder")
            _not_foreign(path, uri)
            made += [] if path.exists() else [path]
        else:
            if path.exists() and not path.is_dir():
                raise UsageError(f"mlflow={uri}: {path} is a file; a folder store needs a folder, or give sqlite:///FILE.db")
            made += _missing(path)
            _writable(path, "the MLflow folder")
        if path in self._outputs:
            raise UsageError(f"mlflow={uri}: {path} is also one of this command's output files; give each its own place")
        return path

    def _open_tensorboard(self, target: TrackerTarget, results_dir):
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it)
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (importable: checked before the work)
        except ImportError:
            raise UsageError("tensorboard: TensorBoard is not installed; pip install 'resbench[track]' "
                             "(or pip install tensorboard)") from None
        if target.where is None:
            folder = resolve(results_dir) / "tensorboard"
        else:
            folder = Path(target.where)
        if folder.resolve() in self._outputs:
            raise UsageError(f"tensorboard={folder}: it is also one of this command's output files; give each its own place")
        _writable(folder, "the TensorBoard folder", hint="give a folder you can write, e.g. tensorboard=runs")
        self.tensorboard_dir = folder
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return lambda name: _TensorBoardSink(folder / f"{stamp}-{_folder_name(name)}")

    @contextlib.contextmanager
    def run(self, name: str, *, params: dict | None = None, tags: dict | None = None):
        """A top-level run in every tracker; KILLED if the block raises, FINISHED otherwise."""
        sinks = {}
        for backend, opener in self._openers.items():
            try:
                sinks[backend] = opener(name)
            except Exception as e:  # noqa: BLE001 - any tracker failure: the records stand
                self.hooks.warning(f"{backend}: starting run {name!r} failed ({type(e).__name__}: {e}); "
                                   "the results are stored as records all the same")
        run = TrackedRun(sinks, self.hooks)
        if params:
            run.params(params)
        if tags:
            run.tags(tags)
        with run._ending():
            yield run


def _reach_mlflow(uri: str, artifacts: Path | None, local: Path | None):
    """(experiment id, client) of resbench's experiment in the store, created if new; any
    failure is one line."""
    from mlflow import MlflowClient

    try:
        with _no_retries(), _quiet_mlflow():
            client = MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(EXPERIMENT)
            experiment_id = found.experiment_id if found else client.create_experiment(
                EXPERIMENT, artifact_location=artifacts.resolve().as_uri() if artifacts else None)
    except Exception as e:  # noqa: BLE001 - whatever the store says, in one line
        if "MLFLOW_ALLOW_FILE_STORE" in str(e):  # MLflow 3.x keeps folder stores behind a switch
            raise UsageError(f"mlflow={uri}: this MLflow writes folder stores only with MLFLOW_ALLOW_FILE_STORE=true; "
                             f"give sqlite:///{local / 'mlflow.db'} instead, or set that variable") from None
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UsageError(f"mlflow: the store {uri} cannot be reached or read ({first}); start the server, or give "
                         "another URI after mlflow= (e.g. sqlite:///results/mlflow.db)") from None
    return experiment_id, client


# Tables every MLflow database has; a database with tables but none of these is another tool's.
_MLFLOW_TABLES = {"experiments", "runs", "alembic_version"}


def _not_foreign(path: Path, uri: str) -> None:
    """Refuse a file that is not a SQLite database, or a database that holds another tool's
    tables (an Optuna study): MLflow would add its own tables to it. Read without writing."""
    if path.exists() and not path.is_file():  # a FIFO would block the read, a device take the tables
        raise UsageError(f"mlflow={uri}: {path} is not a regular file; give a database file")
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise UsageError(f"mlflow={uri}: {path} is not a SQLite database; give a new file or an MLflow database")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UsageError(f"mlflow={uri}: {path} cannot be read as a database ({e}); give another file") from None
    if tables and not tables & _MLFLOW_TABLES:
        raise UsageError(f"mlflow={uri}: {path} holds another tool's tables ({', '.join(sorted(tables)[:3])}); "
                         "MLflow's would be added to it: give a database of its own, e.g. sqlite:///mlflow.db")


def _missing(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, outermost first."""
    out = []
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        out.insert(0, p)
    return out


@contextlib.contextmanager
def _undone_on_failure():
    """A refused store leaves nothing behind: yields a list of what opening it creates (a
    database file, folders, outermost first); on failure each is removed: the database with
    its journal, a folder only if it is empty (never what someone else put there)."""
    made: list[Path] = []
    try:
        yield made
    except BaseException:
        for p in reversed(made):
            with contextlib.suppress(OSError):
                if p.is_dir():
                    p.rmdir()
                else:
                    for suffix in ("", "-journal", "-wal", "-shm"):
                        Path(f"{p}{suffix}").unlink(missing_ok=True)
        raise


def _writable(folder: Path, what: str, hint: str = "give another place") -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{what} {str(folder)!r} cannot be created ({e.strerror}); {hint}") from None
    writable_folder(folder, what)


@contextlib.contextmanager
def _quiet_mlflow():
    """MLflow's and Alembic's INFO lines (creating tables, migrations) are not our output."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _no_retries():
    """Reaching the store before the work: a dead server fails in seconds, not after
    MLflow's minutes of retries."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
