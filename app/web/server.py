"""The web console (``plancycle web``): departments, the planning office and leaders, each signed in with a role.

A FastAPI app over the same database and the same services as the CLI: pages are server-rendered Jinja2
(``templates/web/``), plain HTML forms, no JavaScript build; every page has a JSON twin under ``/api/``. Reads go
straight to ``stages`` views; every change runs its action flow (``flows.actions``) through ``flows.runner``, with
the signed-in user as the acting identity, so authorisation is the services' and the audit log names the user.

Errors are one line in Chinese: 400 for bad input, 403 for a refused identity or CSRF, 404 for what does not
exist, 409 for a move the cycle's state refuses; never a stack trace. ``GET /healthz`` answers without a session.

The layout (FastAPI's "bigger applications"): this module assembles the app; ``state`` is what it holds for its
lifetime (``app.state.pc``); ``deps`` the dependencies a route asks for (who is signed in, a read session, a POST's
form with its CSRF token checked, an action flow run as the user); ``pages`` the templates (``app.state.templates``)
and the header every page shows; ``errors`` the handlers; ``routes/`` one ``APIRouter`` an area.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from . import auth, errors
from .pages import TEMPLATES, make_templates
from .routes import ROUTERS, messages
from .state import WebState, default_flows, stop_prefect, warm_prefect


def create_app(db: str | None = None, *, as_of: str | None = None, flows: str | None = None) -> FastAPI:
    """The console over database ``db`` (default ``$PLANCYCLE_DATABASE_URL`` or ``sqlite:///plancycle.db``).

    ``as_of`` fixes a simulated clock (demos, tests). ``flows``: ``prefect`` runs every action as a Prefect flow
    run (the default; the API is started once, here, and kept warm), ``direct`` calls the same flow functions
    without an orchestrator (``PLANCYCLE_WEB_FLOWS`` sets the default).

    What the routes share lives on ``app.state``: ``pc`` (the :class:`~app.web.state.WebState`) and ``templates``;
    the routes (``app.web.routes``, one router an area) reach them through the dependencies of ``app.web.deps``.
    """
    st = WebState(db, as_of, flows or os.environ.get("PLANCYCLE_WEB_FLOWS") or default_flows())
    app = FastAPI(title="plancycle", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pc = st
    app.add_middleware(SessionMiddleware, secret_key=auth.session_secret(st.read_engine),
                       session_cookie=auth.SESSION_COOKIE, max_age=auth.SESSION_HOURS * 3600, same_site="lax",
                       https_only=os.environ.get("PLANCYCLE_SECURE_COOKIES") == "1")

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    app.state.templates = templates = make_templates()
    templates.env.globals["unread_messages"] = messages.unread_badge(st)
    app.mount("/static", StaticFiles(directory=str(TEMPLATES / "static")), name="static")
    if st.flows == "prefect":
        warm_prefect(st)
        app.router.on_shutdown.append(lambda: stop_prefect(st))
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def serve(db: str | None, host: str, port: int, as_of: str | None = None) -> None:
    import uvicorn

    app = create_app(db, as_of=as_of)
    # one setting says whose X-Forwarded-For to believe: the sign-in throttle's and uvicorn's (none by default, so
    # nothing connecting through loopback can choose the address the throttle counts)
    trusted = os.environ.get("PLANCYCLE_TRUSTED_PROXIES", "")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None)
