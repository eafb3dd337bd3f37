"""What the console holds for its lifetime (:class:`WebState`, at ``app.state.pc``), the two refusals its pages
raise themselves, and the Prefect API it keeps warm when actions run as flow runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

from stages.ground.clock import as_datetime
from stages.ground.errors import PlancycleError
from stages.store.files import FileStore
from stages.store.models import CycleRun, check_schema, database_url, make_engine

log = logging.getLogger("plancycle.web")


class WebState:
    """What the app holds for its lifetime: engines, the fixed clock, the file store, warm Prefect."""

    def __init__(self, db: str | None, as_of: str | None, flows: str):
        self.url = database_url(db)
        self.read_engine = make_engine(self.url, write=False)
        self.write_engine = make_engine(self.url)
        check_schema(self.read_engine)
        self.as_of = as_datetime(as_of) if as_of else None
        self.store = FileStore.for_url(self.url)
        self.flows = flows
        self.api_url: str | None = None
        self._specs: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        """The fixed day (``--as-of``) at the wall clock's time of day, so actions on it keep their order; else now."""
        if self.as_of is None:
            return as_datetime(None)
        return dt.datetime.combine(self.as_of.date(), as_datetime(None).time())

    def spec(self, run: CycleRun):
        from stages.definition.loader import load_cycle

        p = Path(run.spec_path)
        key = (str(p), p.stat().st_mtime if p.exists() else 0.0)
        with self._lock:
            if key not in self._specs:
                self._specs[key] = load_cycle(p)
            return self._specs[key]


class PageError(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


class FigureRefused(PlancycleError):
    """A number field the console could not read: the message is the services' own; ``field`` is the form's."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def default_flows() -> str:
    """``prefect`` when a Prefect server is configured (``PREFECT_API_URL``): every action a flow run on it.
    ``direct`` on the embedded default: the same flow functions called in the console's threads, no flow run.

    Measured here (benchmarks/web.py, 2 cores): on Prefect's embedded API a flow run adds ~250–350 ms to an action
    and the embedded server (SQLite-backed, sharing the 2 cores) saturates near two runs a second, so fifty people
    working at once time out; called directly the same actions take 20–50 ms alone and hold fifty users without
    an error. The database is the system of record either way; Prefect keeps the schedules (sweep, reports).
    """
    from flows.runner import configured_api_url

    return "prefect" if configured_api_url() else "direct"


def warm_prefect(st: WebState) -> None:
    """Start Prefect's API once for this process and keep it: ``PREFECT_API_URL`` when set, else an embedded API
    server (a subprocess Prefect stops at exit). Local CLI actions on the same database are told where it is, so
    they run their flows there instead of starting their own."""
    from flows.runner import advertise, configured_api_url

    url = configured_api_url()
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        url = server.api_url
        st.prefect_server = server
    st.api_url = url
    try:
        import httpx

        httpx.get(f"{url}/health", timeout=10).raise_for_status()
    except Exception as exc:  # pragma: no cover - the first action will say what is wrong
        log.warning("Prefect API at %s did not answer: %s", url, exc)
    advertise(st.url, url)
    import atexit

    from flows.runner import withdraw

    atexit.register(withdraw, st.url)


def stop_prefect(st: WebState) -> None:
    """On shutdown (Ctrl-C, SIGTERM) the console's own Prefect API goes with it: no orphan server."""
    from flows.runner import withdraw

    withdraw(st.url)
    server = getattr(st, "prefect_server", None)
    if server is not None:
        server.stop()
