"""Running an action from a command line: through Prefect when a Prefect API is already there, else in-process.

Owns: :func:`run_action`, the choice between the two paths, and the advertisement a long-running process
(``plancycle serve``, the web console) leaves so CLI actions can use its API: :func:`advertise`,
:func:`withdraw`, :func:`advert_path`.

Why: starting Prefect's embedded API costs 7–17 s per CLI process (and ~230 MB left behind when the process is
killed). So a CLI action goes through Prefect only when an API is reachable:

- ``PREFECT_API_URL`` is set (in the environment or the active Prefect profile), or
- a running ``plancycle web`` / ``plancycle serve`` advertises its API for this database in
  ``advert_path(db)`` — JSON ``{"url": …, "pid": …}`` — the pid is alive and ``GET {url}/health`` answers
  within 0.3 s.

Otherwise the flow's function is called directly in this process (``ACTIONS[name](request)``, the very body the
flow runs), which imports no Prefect and starts no server; the audit log then carries no flow-run id and no
Prefect event is emitted. ``PLANCYCLE_FLOWS=always`` restores the old behaviour (always through Prefect,
starting the embedded API if none is set), ``never`` always runs in-process, ``auto`` (default) chooses as above.

Either way a refused action becomes one :class:`~stages.ground.errors.PlancycleError` line, and nothing was written.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any, Callable

from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg

MODES = ("always", "auto", "never")
HEALTH_TIMEOUT = 0.3
DEFAULT_URL = "sqlite:///plancycle.db"  # as stages.store.models.DEFAULT_URL, without importing SQLModel for it


def mode() -> str:
    value = (os.environ.get("PLANCYCLE_FLOWS") or "auto").strip().lower()
    if value not in MODES:
        raise PlancycleError("flows.bad_mode", modes=" / ".join(MODES), value=value)
    return value


# -- the advertisement -----------------------------------------------------------------------------------------
def _normalised(db_url: str | None) -> str:
    url = db_url or os.environ.get("PLANCYCLE_DATABASE_URL") or DEFAULT_URL
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix):]
            path, sep, query = rest.partition("?")
            if path and path != ":memory:":
                return "sqlite:///" + os.path.abspath(path) + sep + query
    return url


def _run_dir() -> Path:
    explicit = os.environ.get("PLANCYCLE_RUN_DIR")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "plancycle"
    return Path.home() / ".cache" / "plancycle"


def advert_path(db_url: str | None) -> Path:
    """Where a process serving a Prefect API for this database says so (one file per database URL)."""
    digest = hashlib.sha256(_normalised(db_url).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return _run_dir() / f"prefect-api-{digest}.json"


def advertise(db_url: str | None, api_url: str) -> Path:
    """Tell CLI processes working on ``db_url`` that this process serves a Prefect API at ``api_url``."""
    path = advert_path(db_url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": api_url.rstrip("/"), "pid": os.getpid(), "db": _normalised(db_url)}, fh)
    os.replace(tmp, path)
    return path


def withdraw(db_url: str | None) -> None:
    """Remove this process's advertisement (one left by another live process is kept)."""
    path = advert_path(db_url)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if data.get("pid") == os.getpid():
        try:
            path.unlink()
        except OSError:
            pass


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=HEALTH_TIMEOUT) as resp:  # noqa: S310 (loopback)
            return resp.status == 200
    except Exception:
        return False


def advertised(db_url: str | None) -> str | None:
    """The advertised API for this database, if its process is alive and answers; a stale file is removed."""
    path = advert_path(db_url)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not _alive(data.get("pid")):
        try:
            path.unlink()
        except OSError:
            pass
        return None
    return url if _healthy(url) else None


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, read without importing Prefect."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    try:
        import tomllib

        home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
        profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
        active = os.environ.get("PREFECT_PROFILE") or data.get("active")
        value = (data.get("profiles") or {}).get(active or "", {}).get("PREFECT_API_URL")
        return value or None
    except Exception:
        return None


def api_for(db_url: str | None) -> str | None:
    """The Prefect API a CLI action should use for ``db_url``, or None to run in-process."""
    return configured_api_url() or advertised(db_url)


# -- running -------------------------------------------------------------------------------------------------
def _plain(flow_fn: Callable) -> Callable:
    """The undecorated function: a Prefect Flow's ``.fn``, or the function itself (``flows.actions.ACTIONS``)."""
    return getattr(flow_fn, "fn", flow_fn)


def _as_flow(flow_fn: Callable):
    """The Prefect Flow for a plain action function (``flows.actions`` makes it on first access)."""
    if hasattr(flow_fn, "fn"):
        return flow_fn
    import importlib

    return getattr(importlib.import_module(flow_fn.__module__), flow_fn.__name__)


def _db_of(args: tuple, kwargs: dict) -> str | None:
    if "db" in kwargs:
        return kwargs["db"]
    return getattr(args[0], "db", None) if args else None


def _failed(state) -> bool:
    return bool(getattr(state, "is_failed", None) and (state.is_failed() or state.is_crashed()))


def _message(state) -> str:
    return ((getattr(state, "message", None) or "").strip().splitlines() or [str(Msg("flows.run_failed"))])[0]


def run_action(flow_fn: Callable, *args, **kwargs) -> dict:
    """Run one action (a Prefect Flow, or the plain function of one) and return its result dict.

    A refusal — a Failed or Crashed run, a Failed state returned, a PlancycleError raised — is raised as a
    PlancycleError carrying the first line of its message.
    """
    how = mode()
    api = None
    if how == "auto":
        api = api_for(_db_of(args, kwargs))
        if api is None:
            return run_in_process(flow_fn, *args, **kwargs)
    elif how == "never":
        return run_in_process(flow_fn, *args, **kwargs)
    return run_through_prefect(flow_fn, *args, api_url=api, **kwargs)


def run_in_process(flow_fn: Callable, *args, **kwargs) -> dict:
    out = _plain(flow_fn)(*args, **kwargs)
    if _failed(out):
        raise PlancycleError(_message(out))
    if hasattr(out, "result") and hasattr(out, "is_completed"):  # a State returned by a flow body
        out = out.result()
    return out


def _refusal_of(state):
    """The PlancycleError a refused run ended with (``flows.common.refused`` keeps it as the state's data), so a
    caller can tell a forbidden move (403) from a bad request (400); None when the run failed otherwise."""
    data = getattr(state, "data", None)
    for candidate in (data, getattr(data, "result", None)):
        if isinstance(candidate, PlancycleError):
            return candidate
    return None


def run_through_prefect(flow_fn: Callable, *args, api_url: str | None = None, **kwargs) -> dict:
    """A real flow run, on ``api_url`` (or PREFECT_API_URL, or the embedded API), with heartbeats off (they cost
    ~1 s per sync run here)."""
    import logging

    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Prefect's event queue announces at exit that it is still flushing: progress chatter, not a warning.
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)
    if not os.environ.get("PLANCYCLE_DEBUG"):
        # a failed run's traceback is Prefect's to log in its UI, not on the command line: the caller prints
        # one line (and PLANCYCLE_DEBUG=1 shows the traceback)
        logging.getLogger("prefect.flow_runs").setLevel(logging.CRITICAL)
    updates: dict = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if api_url:
        updates[PREFECT_API_URL] = api_url
    flow = _as_flow(flow_fn)
    with temporary_settings(updates=updates):
        state = flow(*args, return_state=True, **kwargs)
    if _failed(state):
        message = _message(state)
        if message.startswith(("Flow run encountered an exception", "Crash detected")):
            state.result()  # raises what the flow raised, for the caller's error boundary to name in one line
        original = _refusal_of(state)
        raise original if original is not None else PlancycleError(message)
    return state.result()


def in_prefect() -> bool:
    """Whether Prefect has been imported in this process (read-only commands must not)."""
    return "prefect" in sys.modules
