"""The web console (``plancycle web``): departments, the planning office and leaders, each signed in with a role.

A FastAPI app over the same database and the same services as the CLI: pages are server-rendered Jinja2
(``templates/web/``), plain HTML forms, no JavaScript build; every page has a JSON twin under ``/api/``. Reads go
straight to ``stages`` views; every change runs its action flow (``flows.actions``) through ``flows.runner``, with
the signed-in user as the acting identity, so authorisation is the services' and the audit log names the user.

Errors are one line in Chinese: 400 for bad input, 403 for a refused identity or CSRF, 404 for what does not
exist, 409 for a move the cycle's state refuses; never a stack trace. ``GET /healthz`` answers without a session.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from stages.ground.clock import as_datetime
from stages.ground.errors import NotFound, PlancycleError, TransitionError
from stages.store.files import FileStore
from stages.rules.identity import ROLE_NAMES, Forbidden
from stages.store.models import CycleRun, Item, Milestone, Notice, Submission, check_schema, database_url, make_engine

from . import auth, words

log = logging.getLogger("plancycle.web")
ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates" / "web"
LIGHT_ZH = {"green": "绿", "yellow": "黄", "red": "红", "done": "完成", "dormant": "未触发"}
PROGRESS_ZH = {"behind": "欠进度", "on": "达进度", "ahead": "超进度"}
REPORT_PARTS = (("progress", "本期进展"), ("problems", "存在问题"), ("next", "下步安排"))
KIND_ZH = {"topic": "前期重大课题", "special_plan": "专项规划", "outline": "《纲要》", "task": "工作任务"}
TRACK_ZH = {"topics": "前期重大课题", "special_plans": "专项规划", "outline": "《纲要》", "tasks": "工作任务"}


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


def create_app(db: str | None = None, *, as_of: str | None = None, flows: str | None = None) -> FastAPI:
    """The console over database ``db`` (default ``$PLANCYCLE_DATABASE_URL`` or ``sqlite:///plancycle.db``).

    ``as_of`` fixes a simulated clock (demos, tests). ``flows``: ``prefect`` runs every action as a Prefect flow
    run (the default; the API is started once, here, and kept warm), ``direct`` calls the same flow functions
    without an orchestrator (``PLANCYCLE_WEB_FLOWS`` sets the default).
    """
    st = WebState(db, as_of, flows or os.environ.get("PLANCYCLE_WEB_FLOWS") or _default_flows())
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

    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(LIGHT_ZH=LIGHT_ZH, KIND_ZH=KIND_ZH, TRACK_ZH=TRACK_ZH, ROLE_NAMES=ROLE_NAMES,
                                 PROGRESS_ZH=PROGRESS_ZH, REPORT_PARTS=REPORT_PARTS)
    templates.env.filters["num"] = _num
    templates.env.filters["d"] = lambda v: (v or "")[:10]
    templates.env.filters["dt"] = lambda v: (v or "")[:16].replace("T", " ")
    templates.env.filters["size"] = _size
    templates.env.filters["zh"] = lambda text, labels=None: words.translate(text or "", labels or {})
    templates.env.filters["action_zh"] = lambda a: words.ACTION_ZH.get(a, a)
    templates.env.filters["doc_html"] = _doc_html
    app.mount("/static", StaticFiles(directory=str(TEMPLATES / "static")), name="static")
    if st.flows == "prefect":
        _warm_prefect(st)

        def _stop_prefect() -> None:
            """On shutdown (Ctrl-C, SIGTERM) the console's own Prefect API goes with it: no orphan server."""
            from flows.runner import withdraw

            withdraw(st.url)
            server = getattr(st, "prefect_server", None)
            if server is not None:
                server.stop()

        app.router.on_shutdown.append(_stop_prefect)

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def ctx(request: Request, s: Session):
        user = auth.current_user(request, s)
        from stages.engine import find_run

        run = find_run(s)
        spec = st.spec(run)
        from stages.rules.identity import resolve_actor
        from stages.store.users import actor_for

        actor = resolve_actor(spec, actor_for(user))
        return user, actor, run, spec

    def page(request: Request, name: str, data: dict, status: int = 200) -> HTMLResponse:
        data = {"request": request, "csrf": auth.csrf_token(request), **data}
        return templates.TemplateResponse(request, name, data, status_code=status)

    def done(request: Request, to: str, flash: str) -> RedirectResponse:
        with Session(st.read_engine) as s:
            from stages.engine import find_run

            run = find_run(s)
            labels = words.labels_for(s, run, st.spec(run))
        request.session["flash"] = words.translate(flash, labels)[:300]
        return RedirectResponse(to, status_code=303)

    def common(request: Request, user, actor, run, spec, s: Session) -> dict:
        flash = request.session.pop("flash", None)
        review_count = 0
        if actor.can_coordinate:
            review_count = len(s.exec(select(Milestone.id).where(Milestone.run_id == run.id,
                                                                 Milestone.status == "submitted")).all())
        units = [d for d in spec.departments if d.kind in ("department", "street")]
        return {"user": user, "actor": actor, "run": run, "spec": spec, "flash": flash, "today": st.now(), "units": units,
                "review_count": review_count, "clock_fixed": st.as_of is not None}

    async def form_of(request: Request) -> dict:
        if request.url.path not in ("/login",) and not request.session.get("uid"):
            raise auth.NeedLogin()
        form = await request.form()
        auth.check_csrf(request, form.get("csrf_token"))
        return form

    def act(flow_name: str, req_name: str, **fields) -> dict:
        """Run one action flow with the signed-in identity; refusals come back as PlancycleError."""
        import flows.actions as fa
        import stages.rules.requests as rq
        from flows.runner import run_in_process, run_through_prefect

        try:
            req = getattr(rq, req_name)(db=st.url, as_of=st.now(), **fields)
        except ValidationError as exc:
            raise PlancycleError(rq.first_error(exc)) from None
        if st.flows == "prefect":
            return run_through_prefect(getattr(fa, flow_name), req, api_url=st.api_url)
        return run_in_process(getattr(fa, flow_name), req)

    def _acting(request: Request):
        with Session(st.read_engine) as s:
            return ctx(request, s)

    async def acting(request: Request):
        """Who is signed in and the run, read off the event loop (an action's own work runs in a thread too)."""
        return await run_in_threadpool(_acting, request)

    async def adone(request: Request, to: str, flash: str) -> RedirectResponse:
        return await run_in_threadpool(done, request, to, flash)

    async def aact(flow_name: str, req_name: str, **fields) -> dict:
        """``act`` off the event loop: a Prefect flow run is synchronous and must not run inside it."""
        return await run_in_threadpool(lambda: act(flow_name, req_name, **fields))

    # -- errors -----------------------------------------------------------------------------------------------------
    def who(request: Request) -> dict:
        """The signed-in context for an error page's header, if there is one (never raises)."""
        try:
            with Session(st.read_engine) as s:
                user, actor, run, spec = ctx(request, s)
                return {**common(request, user, actor, run, spec, s), "labels": words.labels_for(s, run, spec)}
        except Exception:
            return {}

    def error_response(request: Request, status: int, message: str, prefix: str = ""):
        base = who(request) if request.session.get("uid") else {}
        message = prefix + words.translate(message, base.get("labels"))
        if is_api(request):
            return JSONResponse({"error": message}, status_code=status)
        try:
            return templates.TemplateResponse(request, "error.html", {"request": request, "status": status,
                                                                       "message": message,
                                                                       "csrf": auth.csrf_token(request), **base},
                                              status_code=status)
        except Exception:  # pragma: no cover - a template error must not hide the message
            import html

            return HTMLResponse(f"<p>{status}: {html.escape(message)}</p>", status_code=status)

    @app.exception_handler(auth.NeedLogin)
    async def _need_login(request: Request, _exc):
        if is_api(request):
            return JSONResponse({"error": "请先登录"}, status_code=401)
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + urllib.parse.quote(nxt), status_code=303)

    @app.exception_handler(auth.CsrfRefused)
    async def _csrf(request: Request, exc):
        return error_response(request, 403, str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc):
        return error_response(request, 403, str(exc), "无权办理：")

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc):
        return error_response(request, 404, str(exc), "未找到：")

    @app.exception_handler(TransitionError)
    async def _conflict(request: Request, exc):
        return error_response(request, 409, str(exc), "无法办理：")

    @app.exception_handler(PlancycleError)
    async def _bad(request: Request, exc):
        return error_response(request, 400, str(exc), "无法办理：")

    @app.exception_handler(RequestValidationError)
    async def _bad_params(request: Request, exc):
        where = ".".join(str(x) for x in (exc.errors() or [{}])[0].get("loc", ())[1:]) or "参数"
        return error_response(request, 400, f"请求参数“{where}”格式不正确")

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc):
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(404)
    async def _404(request: Request, _exc):
        return error_response(request, 404, "页面不存在")

    @app.exception_handler(405)
    async def _405(request: Request, _exc):
        return error_response(request, 405, "不支持此请求方式")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc):
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError) and "locked" in str(exc):
            log.warning("database busy on %s", request.url.path, exc_info=exc)
            return error_response(request, 503, "系统正忙（数据库被占用），请稍后重试；本次操作未生效")
        log.exception("internal error on %s", request.url.path)
        return error_response(request, 500, f"系统内部错误（{type(exc).__name__}），本次操作未生效；请联系管理员")

    # -- open pages -------------------------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz():
        with Session(st.read_engine) as s:
            runs = s.exec(select(CycleRun.spec_id)).all()
        return {"ok": True, "runs": list(runs)}

    @app.get("/login")
    def login_page(request: Request, next: str = "/"):
        return page(request, "login.html", {"next": _safe_next(next), "error": None})

    @app.post("/login")
    async def login(request: Request):
        from stages.store.users import LoginRefused, authenticate

        try:  # the body is bounded before it is read (auth.LOGIN_MAX_BYTES)
            form = await auth.login_form(request)
        except auth.BodyTooLarge as exc:
            return page(request, "login.html", {"next": "/", "error": str(exc)}, status=413)
        nxt = _safe_next(form.get("next") or "/")
        throttle, ip = auth.login_throttle(request.app), auth.client_ip(request)
        wait = throttle.wait(ip)
        if wait:  # too many failures from this address: refused before any password is checked
            resp = page(request, "login.html", {"next": nxt, "error": auth.TOO_MANY,
                                                "username": str(form.get("username") or "")[:40]}, status=429)
            resp.headers["Retry-After"] = str(wait)
            return resp

        def check():
            with Session(st.write_engine) as s:
                try:
                    u = authenticate(s, str(form.get("username") or ""), str(form.get("password") or ""),
                                     at=as_datetime(None))
                    s.commit()
                    return u.username, u.password_changed_at, None
                except LoginRefused as exc:
                    s.commit()  # count the failure
                    return None, None, str(exc)

        username, changed, error = await run_in_threadpool(check)
        if error:
            throttle.failed(ip)
            return page(request, "login.html", {"next": nxt, "error": error,
                                                "username": str(form.get("username") or "")[:40]}, status=401)
        auth.sign_in(request, username, changed)
        return RedirectResponse(nxt, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        await form_of(request)
        await run_in_threadpool(auth.sign_out, request, st.write_engine)
        return RedirectResponse("/login", status_code=303)

    # -- the board --------------------------------------------------------------------------------------------------
    def _visible(key: str, actor, spec) -> None:
        from stages.views.reads import check_visible

        with Session(st.read_engine) as s:
            check_visible(s, spec, actor, key)

    def board_data(s, actor, run, spec, dept, stage, late, domain=""):
        from stages.views.board import board

        if not actor.reads_all:
            dept = actor.dept  # a department sees its own items
        elif dept:
            try:
                dept = spec.department(dept).short
            except KeyError:
                raise PageError(400, f"未知部门：{dept}") from None
        if stage and stage not in [x.id for x in spec.stages]:
            raise PageError(400, f"未知阶段：{stage}")
        data = board(s, spec, st.now(), dept=dept or None, stage=stage or None, late_only=late)
        domains = _domains(spec)
        if domain:
            if domain not in domains:
                raise PageError(400, f"未知领域：{domain}")
            data["items"] = [it for it in data["items"] if it.get("domain") == domain]
            data["counts"] = _recount(data["items"], data["counts"])
            data["filters"]["domain"] = domain
        data["domains"] = domains
        if not actor.reads_all:  # the run-wide gate progress is the planning office's
            for sd in data["stages"]:
                sd["gate_missing"] = []
        return data

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, dept: str = "", stage: str = "", late: bool = False, domain: str = ""):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = board_data(s, actor, run, spec, dept, stage, late, domain)
            from stages.engine import facts_for

            facts = facts_for(s, run)
            gates = []
            for sd in data["stages"]:
                if sd["exit_gate"]:
                    g = spec.gate(sd["exit_gate"])
                    gates.append({"stage": sd["name"], "gate": g.name, "checks": _checklist(spec, g, facts)})
            return page(request, "board.html", {**common(request, user, actor, run, spec, s), "b": data,
                                                "labels": words.labels_for(s, run, spec),
                                                "gates": gates, "depts": spec.departments,
                                                "has_optional": _has_optional(spec),
                                                "f": {"dept": dept, "stage": stage, "late": late, "domain": domain}})

    @app.get("/api/board")
    def api_board(request: Request, dept: str = "", stage: str = "", late: bool = False, domain: str = ""):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return board_data(s, actor, run, spec, dept, stage, late, domain)

    # -- my inbox ---------------------------------------------------------------------------------------------------
    def inbox_data(s, actor, run, spec, dept):
        from stages.views.reads import inbox

        if actor.role == "department" or not dept:
            dept = actor.dept
        data = inbox(s, spec, dept, st.now())
        rows = s.exec(select(Milestone, Item).join(Item, Item.id == Milestone.item_id)
                      .where(Milestone.run_id == run.id, Milestone.owner == data["dept"], Milestone.status == "dormant")
                      .order_by(Milestone.due_date, Milestone.id)).all()
        data["dormant"] = [{"item": it.key, "title": it.title, "milestone": m.ms_id, "name": m.name,
                            "due": m.due_date.isoformat(), "light": "dormant",
                            "condition": _ms_spec(spec, it.kind, it.key, m.ms_id, "condition")} for m, it in rows]
        return data

    @app.get("/inbox", response_class=HTMLResponse)
    def inbox_page(request: Request, dept: str = ""):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = inbox_data(s, actor, run, spec, dept)
            return page(request, "inbox.html", {**common(request, user, actor, run, spec, s), "ib": data,
                                                "depts": spec.departments})

    @app.get("/api/inbox")
    def api_inbox(request: Request, dept: str = ""):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return inbox_data(s, actor, run, spec, dept)

    # -- one item ---------------------------------------------------------------------------------------------------
    def item_data(s, actor, run, spec, key):
        from stages.views.reads import check_visible, item_history

        check_visible(s, spec, actor, key)
        data = item_history(s, spec, key)
        from stages.views.board import board

        lights = {}
        for it in board(s, spec, st.now())["items"]:
            if it["key"] == key:
                lights = {m["id"]: m for m in it["milestones"]}
                data["item"].update({k: it[k] for k in ("domain", "part_of", "progress", "progress_zh") if k in it})
        row = s.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
        today = st.now().date().isoformat()
        for m in data["milestones"]:
            b = lights.get(m["id"], {})
            m.update(light=b.get("light"), workdays_late=b.get("workdays_late"), status_zh=b.get("status_zh"))
            for k in ("targets", "progress", "progress_zh"):
                if k in b:
                    m[k] = b[k]
            mspec = _ms_spec(spec, row.kind, key, m["id"])
            m["optional"] = bool(mspec and mspec.optional)
            m["condition"] = mspec.condition if mspec else None
            m["report"] = bool(mspec and mspec.period)  # a periodic report: 进展 / 问题 / 下步 and its figures
            m["can_submit"] = m["status"] in ("open", "returned") and (
                actor.can_coordinate or actor.dept == m["owner"] or actor.dept in data["item"]["lead"])
            m["can_review"] = m["status"] == "submitted" and (actor.can_coordinate or (
                spec.file.lead_may_review and actor.dept in data["item"]["lead"]))
            m["can_trigger"] = m["status"] == "dormant" and actor.can_coordinate
            m["due_passed"] = m["due"] < today
            if m["can_submit"] and mspec is not None:
                m["figure_fields"] = _figure_fields(spec, row, mspec, m["due"])
        subs = s.exec(select(Submission).join(Milestone, Milestone.id == Submission.milestone_id)
                      .where(Milestone.item_key == key, Milestone.run_id == run.id)
                      .order_by(Submission.submitted_at, Submission.id)).all()
        if not actor.reads_all:
            data["audit"] = []  # the audit trail is the planning office's and the leaders'
        from stages.store.models import Figure

        figures: dict[int, list] = {}
        if subs:
            for f in s.exec(select(Figure).where(Figure.submission_id.in_([x.id for x in subs]))
                            .order_by(Figure.id)).all():
                task, _, name = f.of.rpartition(":")  # a report's figure for one of its unit's tasks: t02:重点项目落地
                title = _item_title(spec, task) if task else None
                figures.setdefault(f.submission_id, []).append(
                    {"of": f"{title}·{name}" if title else words.figure_name(f.of), "value": f.value, "unit": f.unit,
                     "period": f.period, "source": f.source})
        for out, sub in zip(data["submissions"], subs):
            out["id"] = sub.id
            out["report"] = sub.report or None
            out["figures"] = figures.get(sub.id, [])
            for i, f in enumerate(out["files"]):
                f["url"] = f"/files/{sub.id}/{i}"
                f.pop("path", None)
        return data

    def item_view(request: Request, key: str, refused: dict | None = None, status: int = 200):
        """The item page; ``refused``: a submission refused (its milestone, the message, what was typed, kept)."""
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = item_data(s, actor, run, spec, key)
            if refused:
                refused["message"] = words.translate(refused["message"], words.labels_for(s, run, spec))
            return page(request, "item.html", {**common(request, user, actor, run, spec, s), "d": data,
                                               "max_mb": st.store.max_bytes // (1024 * 1024),
                                               "types": st.store.allowed, "refused": refused}, status=status)

    @app.get("/items/{key}", response_class=HTMLResponse)
    def item_page(request: Request, key: str):
        return item_view(request, key)

    @app.get("/api/items/{key}")
    def api_item(request: Request, key: str):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return item_data(s, actor, run, spec, key)

    @app.get("/files/{sub_id}/{index}")
    def download(request: Request, sub_id: int, index: int):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            sub = s.get(Submission, sub_id)
            m = s.get(Milestone, sub.milestone_id) if sub else None
            if sub is None or m is None or m.run_id != run.id or not 0 <= index < len(sub.files):
                raise PageError(404, "文件不存在")
            from stages.views.reads import check_visible

            check_visible(s, spec, actor, m.item_key)
            f = sub.files[index]
        if not f.get("sha256") or not st.store.has(f["sha256"]):
            raise PageError(404, "该文件未存档（早于附件存档功能的记录）")
        from stages.store.files import MIME

        name = f.get("name") or "附件"
        return Response(st.store.read(f["sha256"]), media_type=MIME.get(f.get("type") or "", "application/octet-stream"),
                        headers={"Content-Disposition": _disposition(name), "X-Content-Type-Options": "nosniff"})

    # -- submit and review ------------------------------------------------------------------------------------------
    def _units_of(key: str, ms: str, spec) -> dict[str, str]:
        """The figures the milestone may carry, by the names the form sends, with their units."""
        from stages.engine import figure_subjects

        with Session(st.read_engine) as s:
            run = find_run_of(s)
            row = s.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
            mrow = row and s.exec(select(Milestone).where(Milestone.item_id == row.id, Milestone.ms_id == ms)).first()
            mspec = _ms_spec(spec, row.kind, key, mrow.ms_id) if mrow else None
            return {k: v.get("unit") or "" for k, v in figure_subjects(spec, row, mspec).items()} if mspec else {}

    def find_run_of(s):
        from stages.engine import find_run

        return find_run(s)

    async def do_submit(request: Request, key: str, ms: str, form=None) -> dict:
        form = form if form is not None else await form_of(request)
        _user, actor, run, spec = await acting(request)
        await run_in_threadpool(_visible, key, actor, spec)  # nothing is stored for an item one cannot see
        units = await run_in_threadpool(_units_of, key, ms, spec)
        figures = _form_figures(form, units)  # a bad number is refused before anything is stored
        report = {part: str(form.get(f"report_{part}") or "").strip() for part, _zh in REPORT_PARTS}
        report = {k: v for k, v in report.items() if v} or None
        uploads = [f for f in form.getlist("files") if getattr(f, "filename", None)]
        if len(uploads) > 20:
            raise PageError(400, "一次最多上传 20 个文件")
        stored = []
        for up in uploads:
            stored.append(await run_in_threadpool(st.store.put, up.filename, up.file))
        return await aact("submit_deliverable", "SubmitRequest", item=key, milestone=ms, by=actor.dept, actor=actor,
                          files=stored, note=(form.get("note") or None), figures=figures, report=report)

    @app.post("/items/{key}/milestones/{ms}/submit")
    async def submit(request: Request, key: str, ms: str):
        form = await form_of(request)
        try:
            out = await do_submit(request, key, ms, form)
        except (Forbidden, NotFound):
            raise
        except PlancycleError as exc:  # the page again, the message at the form, what was typed kept
            typed = {k: str(v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
            had_files = any(getattr(f, "filename", None) for f in form.getlist("files"))
            return await run_in_threadpool(item_view, request, key, {"ms": ms, "message": str(exc), "values": typed,
                                                                     "had_files": had_files,
                                                                     "field": getattr(exc, "field", None)},
                                           409 if isinstance(exc, TransitionError) else 400)
        return await adone(request, f"/items/{urllib.parse.quote(key)}", _said(out, "已报送"))

    @app.post("/api/items/{key}/milestones/{ms}/submit")
    async def api_submit(request: Request, key: str, ms: str):
        return await do_submit(request, key, ms)

    async def do_review(request: Request, key: str, ms: str, form=None) -> dict:
        form = form if form is not None else await form_of(request)
        decision = form.get("decision")
        if decision not in ("accept", "return"):
            raise PageError(400, "请选择“通过”或“退回”")
        _user, actor, run, spec = await acting(request)
        return await aact("review_deliverable", "ReviewRequest", item=key, milestone=ms, decision=decision, by=actor.dept,
                   actor=actor, comments=(form.get("comments") or None))

    @app.post("/items/{key}/milestones/{ms}/review")
    async def review(request: Request, key: str, ms: str):
        form = await form_of(request)
        back = form.get("back") if form.get("back") in ("/review",) else f"/items/{urllib.parse.quote(key)}"
        if form.get("decision") == "return" and not str(form.get("comments") or "").strip():
            request.session["flash"] = "退回须填写修改意见，请填写后再点“退回修改”"
            return RedirectResponse(back + f"#ms-{ms}", status_code=303)
        out = await do_review(request, key, ms, form)
        return await adone(request, back, _said(out, "已审核"))

    @app.post("/api/items/{key}/milestones/{ms}/review")
    async def api_review(request: Request, key: str, ms: str):
        return await do_review(request, key, ms)

    async def do_trigger(request: Request, key: str, ms: str) -> dict:
        """An optional milestone woken (修改调整 after all): the services decide who may (the coordinator)."""
        form = await form_of(request)
        _user, actor, run, spec = await acting(request)
        due = (form.get("due") or "").strip()
        if due:
            try:
                due = dt.date.fromisoformat(due)
            except ValueError:
                raise PageError(400, "新期限格式不正确（应为 YYYY-MM-DD）") from None
        return await aact("trigger_milestone", "TriggerRequest", item=key, milestone=ms,
                          reason=str(form.get("reason") or ""), due=due or None, actor=actor, by=actor.dept)

    @app.post("/items/{key}/milestones/{ms}/trigger")
    async def trigger(request: Request, key: str, ms: str):
        out = await do_trigger(request, key, ms)
        return await adone(request, f"/items/{urllib.parse.quote(key)}#ms-{ms}", _said(out, "已触发"))

    @app.post("/api/items/{key}/milestones/{ms}/trigger")
    async def api_trigger(request: Request, key: str, ms: str):
        return await do_trigger(request, key, ms)

    # -- the review queue (coordinator) -----------------------------------------------------------------------------
    def queue_data(s, actor, run, spec):
        if not actor.can_coordinate and not spec.file.lead_may_review:
            raise Forbidden("只有规划科（协调人）审核报送材料")
        rows = s.exec(select(Milestone, Item).join(Item, Item.id == Milestone.item_id)
                      .where(Milestone.run_id == run.id, Milestone.status == "submitted")
                      .order_by(Milestone.submitted_at, Milestone.id)).all()
        out = []
        for m, it in rows:
            if not actor.can_coordinate and actor.dept not in it.lead:
                continue
            sub = s.exec(select(Submission).where(Submission.milestone_id == m.id)
                         .order_by(Submission.round.desc())).first()
            out.append({"item": it.key, "title": it.title, "kind": it.kind, "milestone": m.ms_id, "name": m.name,
                        "owner": m.owner, "by": sub.submitted_by if sub else m.owner,
                        "due": m.due_date.isoformat(), "round": sub.round if sub else 1,
                        "submitted_at": m.submitted_at.isoformat() if m.submitted_at else None,
                        "note": sub.note if sub else None,
                        "files": [{**{k: v for k, v in f.items() if k != "path"}, "url": f"/files/{sub.id}/{i}"}
                                  for i, f in enumerate(sub.files)] if sub else []})
        return {"queue": out}

    @app.get("/review", response_class=HTMLResponse)
    def review_page(request: Request):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = queue_data(s, actor, run, spec)
            return page(request, "review.html", {**common(request, user, actor, run, spec, s), **data})

    @app.get("/api/review")
    def api_review_queue(request: Request):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return queue_data(s, actor, run, spec)

    @app.post("/review/bulk")
    async def review_bulk(request: Request):
        form = await form_of(request)
        picks = form.getlist("pick")
        _user, actor, run, spec = await acting(request)
        if not actor.can_coordinate:
            raise Forbidden("只有规划科（协调人）审核报送材料")
        if not picks:
            raise PageError(400, "请先勾选要通过的材料")
        n, refused = 0, []
        for p in picks[:200]:
            key, _, ms = str(p).partition(":")
            try:
                await aact("review_deliverable", "ReviewRequest", item=key, milestone=ms, decision="accept", by=actor.dept,
                    actor=actor)
                n += 1
            except PlancycleError as exc:
                refused.append(f"{key} {ms}：{exc}")
        msg = f"已通过 {n} 项" + (f"；{len(refused)} 项未通过：" + "；".join(refused[:3]) if refused else "")
        return await adone(request, "/review", msg)

    # -- coordinator tools ------------------------------------------------------------------------------------------
    def manage_data(s, actor, run, spec):
        if not actor.can_coordinate:
            raise Forbidden("协调工具仅限规划科（协调人）使用")
        from stages.views.board import board
        from stages.rules.gates import evaluate
        from stages.engine import facts_for

        facts = facts_for(s, run)
        cur = spec.stage(run.current_stage) if run.status == "active" else None
        gate = None
        if cur and cur.exit_gate:
            g = spec.gate(cur.exit_gate)
            gate = {"name": g.name, "id": g.id, "ok": evaluate(spec, g.id, facts).ok, "checks": _checklist(spec, g, facts)}
        b = board(s, spec, st.now())
        open_ms = [{"item": it["key"], "title": it["title"], "milestone": m["id"], "name": m["name"], "due": m["due"],
                    "owner": m["owner"], "status": m["status"]}
                   for it in b["items"] for m in it["milestones"] if m["status"] in ("pending", "open", "submitted", "returned")]
        topics = [it for it in b["items"] if it["kind"] == "topic"]
        proposals = [it for it in b["items"] if it["kind"] == "special_plan" and it["status"] == "active"
                     and any(m["status"] in ("submitted", "open", "pending") for m in it["milestones"][:2])]
        meeting_ms, seen = [], set()
        for it in spec.items:
            for m in it.milestones:
                if it.kind == "topic" and m.id not in seen and any(n.endswith("_meeting") for n in m.notices):
                    seen.add(m.id)
                    meeting_ms.append({"id": m.id, "name": m.name})
        from stages.engine import _approval_subjects

        approvals = []
        for body, subject in sorted(_approval_subjects(spec)):
            from stages.rules.gates import predicates

            waiting = [g.name for g in spec.file.gates
                       if any(p.approval and (p.approval.body, p.approval.subject) == (body, subject)
                              for p in predicates(g))]
            what = waiting[0] if waiting else subject
            approvals.append({"value": f"{body}|{subject}", "label": f"{spec.file.approval_bodies.get(body, body)}：{what}",
                              "done": (body, subject) in facts.approvals})
        return {"stage": cur.name if cur else None, "stage_id": cur.id if cur else None, "gate": gate,
                "open": open_ms, "topics": topics, "proposals": proposals, "meeting_milestones": meeting_ms,
                "approvals": approvals, "labels": words.labels_for(s, run, spec)}

    @app.get("/manage", response_class=HTMLResponse)
    def manage_page(request: Request):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = manage_data(s, actor, run, spec)
            return page(request, "manage.html", {**common(request, user, actor, run, spec, s), "m": data,
                                                 "depts": spec.departments})

    async def coordinator_form(request: Request):
        form = await form_of(request)
        _user, actor, run, spec = await acting(request)
        if not actor.can_coordinate:
            raise Forbidden("只有规划科（协调人）可以办理")
        return form, actor, spec

    @app.post("/manage/advance")
    async def advance(request: Request):
        form, actor, _spec = await coordinator_form(request)
        out = await aact("advance_stage", "AdvanceRequest", from_stage=form.get("from_stage") or None, actor=actor,
                  by=actor.dept, override_reason=form.get("override_reason") or None)
        return await adone(request, "/manage", _said(out, "阶段已推进"))

    @app.get("/manage/extend", response_class=HTMLResponse)
    def extend_preview(request: Request):
        """The preview is a page of its own (GET, nothing written): back and reload work, and it can be shared."""
        form = request.query_params
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            if not actor.can_coordinate:
                raise Forbidden("只有规划科（协调人）可以调整期限")
            preview = _extend_preview(s, run, spec, _extend_fields(form))
            return page(request, "extend_preview.html", {**common(request, user, actor, run, spec, s), "p": preview,
                                                         "form": [(k, v) for k, v in form.multi_items()
                                                                  if k not in ("csrf_token", "confirm")],
                                                         "labels": words.labels_for(s, run, spec)})

    @app.post("/manage/extend")
    async def extend(request: Request):
        form, actor, spec = await coordinator_form(request)
        fields = _extend_fields(form)
        if form.get("confirm") != "yes":  # preview: what would move, nothing written
            with Session(st.read_engine) as s:
                user, actor2, run, spec = ctx(request, s)
                preview = _extend_preview(s, run, spec, fields)
                return page(request, "extend_preview.html", {**common(request, user, actor2, run, spec, s),
                                                             "p": preview, "form": list(form.multi_items()),
                                                             "labels": words.labels_for(s, run, spec)})
        out = await aact("extend_deadlines", "ExtendRequest", actor=actor, by=actor.dept, **fields)
        return await adone(request, "/manage", _said(out, "期限已调整"))

    @app.post("/items/{key}/correct")
    async def correct(request: Request, key: str):
        form, actor, _ = await coordinator_form(request)
        out = await aact("correct_record", "CorrectRequest", item=key, field=form.get("field") or "",
                         value=form.get("value") or "", reason=form.get("reason") or "", actor=actor, by=actor.dept)
        return await adone(request, f"/items/{urllib.parse.quote(key)}", _said(out, "已更正"))

    @app.post("/manage/waive")
    async def waive(request: Request):
        form, actor, _ = await coordinator_form(request)
        key, _, ms = str(form.get("target") or "").partition(":")
        out = await aact("waive_milestone", "WaiveRequest", item=key, milestone=ms, reason=form.get("reason") or "",
                  actor=actor, by=actor.dept)
        return await adone(request, "/manage", _said(out, "已免除"))

    @app.post("/manage/meeting")
    async def meeting(request: Request):
        form, actor, _ = await coordinator_form(request)
        at = _datetime_field(form.get("at"), "会议时间")
        out = await aact("schedule_meeting", "MeetingRequest", milestone=form.get("milestone") or "", at=at,
                  topics=form.getlist("topic"), dept=form.get("dept") or None, place=form.get("place") or None,
                  attendees=form.get("attendees") or None, actor=actor, by=actor.dept)
        return await adone(request, "/manage", _said(out, "会议通知已生成"))

    @app.post("/manage/contractor")
    async def contractor(request: Request):
        form, actor, _ = await coordinator_form(request)
        out = await aact("assign_contractor", "ContractorRequest", topic=form.get("topic") or "",
                  contractor=form.get("contractor") or "", contact=form.get("contact") or "", actor=actor,
                  by=actor.dept)
        return await adone(request, "/manage", _said(out, "承接单位已登记"))

    @app.post("/manage/approve")
    async def approve(request: Request):
        form, actor, _ = await coordinator_form(request)
        body, _, subject = str(form.get("approval") or "").partition("|")
        out = await aact("record_approval", "ApproveRequest", body=body, subject=subject,
                  note=form.get("note") or None, actor=actor, by=actor.dept)
        return await adone(request, "/manage", _said(out, "审批已登记"))

    @app.post("/manage/register")
    async def register(request: Request):
        form, actor, _ = await coordinator_form(request)
        confirm = [k for k, v in form.multi_items() if k.startswith("sp:") and v == "confirm"]
        reject = [k for k, v in form.multi_items() if k.startswith("sp:") and v == "reject"]
        out = await aact("register_special_plans", "RegisterRequest", confirm=[k[3:] for k in confirm],
                  reject=[k[3:] for k in reject], reason=form.get("reason") or None, actor=actor, by=actor.dept)
        return await adone(request, "/manage", _said(out, "立项确认已办理"))

    @app.post("/propose")
    async def propose(request: Request):
        form = await form_of(request)
        _user, actor, run, spec = await acting(request)
        dept = actor.dept if actor.role == "department" else (form.get("dept") or actor.dept)
        out = await aact("propose_special_plan", "ProposeRequest", dept=dept, title=form.get("title") or "",
                  note=form.get("note") or None, actor=actor)
        return await adone(request, "/inbox", _said(out, "立项建议已报送"))

    # -- the 纲要's 主要指标 (schema 2 indicators) ----------------------------------------------------------------
    def indicators_data(s, actor, run, spec, category: str = "", warn: bool = False) -> dict:
        """``stages.engine.indicators.indicator_board`` as of the console's day, filtered by 类别 and 只看预警, with what the
        page needs besides: the years to show, the shared note, the counts over what is shown, who may record."""
        from stages.engine.indicators import figure_rows, indicator_board

        if not spec.file.indicators:
            raise PageError(404, "本周期没有监测指标")
        data = indicator_board(spec, figure_rows(s, spec), st.now())
        categories = list(dict.fromkeys(i["category"] for i in data["indicators"] if i["category"]))
        if category and category not in categories:
            raise PageError(400, f"未知类别：{category}")
        rows = [i for i in data["indicators"] if (not category or i["category"] == category)
                and (i["warning"] or not warn)]
        shown = {i["id"] for i in rows}
        may = set(_recordable(spec, actor))
        for i in rows:
            i["can_record"] = i["id"] in may
        by_status = {k: 0 for k in data["counts"]["by_status"]}
        for i in rows:
            by_status[i["judgement"]["status"]] += 1
        # the years up to now: a year after the last one due by the console's day has no figure yet
        last = max([st.now().year - 1] + [a["year"] for i in rows for a in i["actuals"]])
        note, extras = _shared_note([(i["id"], i["note"]) for i in data["indicators"]])
        for i in rows:
            i["note_extra"] = extras.get(i["id"])
            i["note_shared"] = bool(note and (i["note"] or "").startswith(note))
        data.update(indicators=rows, warnings=[w for w in data["warnings"] if w["indicator"] in shown],
                    counts={"indicators": len(rows), "by_status": by_status,
                            "warnings": sum(1 for i in rows if i["warning"]), "all": data["counts"]["indicators"]},
                    years_shown=[y for y in data["years"] if y <= last], categories=categories,
                    filters={"category": category or None, "warnings_only": warn}, note=note,
                    note_all=bool(note) and all((i.note or "").startswith(note) for i in spec.file.indicators),
                    recordable=sorted(may, key=[i.id for i in spec.file.indicators].index))
        return data

    def indicators_view(request: Request, category: str = "", warn: bool = False, pick: str = "",
                        refused: dict | None = None, status: int = 200):
        from stages.engine.indicators import STATUS_ZH, year_range

        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            data = indicators_data(s, actor, run, spec, category, warn)
            years = [year_range(spec, spec.indicator(i)) for i in data["recordable"]]
            if refused:
                refused["message"] = words.translate(refused["message"], words.labels_for(s, run, spec))
            return page(request, "indicators.html", {
                **common(request, user, actor, run, spec, s), "x": data, "STATUS_ZH": STATUS_ZH,
                "f": {"category": category, "warn": warn}, "pick": pick if pick in data["recordable"] else "",
                "year_span": (min(y[0] for y in years), max(y[1] for y in years)) if years else None,
                "default_year": st.now().year - 1, "refused": refused,
                "by_id": {i.id: i for i in spec.file.indicators}}, status=status)

    @app.get("/indicators", response_class=HTMLResponse)
    def indicators_page(request: Request, category: str = "", warn: bool = False, record: str = ""):
        return indicators_view(request, category, warn, record)

    @app.get("/api/indicators")
    def api_indicators(request: Request, category: str = "", warn: bool = False):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return indicators_data(s, actor, run, spec, category, warn)

    async def do_record_indicator(request: Request, form) -> dict:
        """A yearly actual, recorded through the ``record_indicator`` action flow as the signed-in user. What the
        request model types strictly (a known indicator, a whole year in the indicator's years, a number) is
        checked here first, in the service's own words; who may record it (the coordinator or the indicator's lead
        unit) is the service's to decide. A refusal writes nothing."""
        from stages.engine.indicators import year_range
        from stages.rules.requests import parse_number

        _user, actor, run, spec = await acting(request)
        if not spec.file.indicators:
            raise PageError(404, "本周期没有监测指标")
        indicator = str(form.get("indicator") or "").strip()
        try:
            ind = spec.indicator(indicator)
        except KeyError:
            names = "、".join(i.id for i in spec.file.indicators)
            raise FigureRefused(f"unknown indicator {indicator!r} (this cycle's indicators: {names[:300]})",
                                "indicator") from None
        raw_year = str(form.get("year") or "").strip()
        try:
            year = int(__import__("unicodedata").normalize("NFKC", raw_year))
        except ValueError:
            raise FigureRefused(f"{ind.name}: the year {raw_year!r} is not a year (expected e.g. "
                                f"{year_range(spec, ind)[0] + 1})", "year") from None
        lo, hi = year_range(spec, ind)
        if not lo <= year <= hi:
            raise FigureRefused(f"{ind.name}: {year} is outside its years {lo}–{hi}", "year")
        try:  # 6.5, 6.5%, ６.５, 1,190: the one parser every figure goes through
            value = parse_number(str(form.get("value") or ""), ind.unit)[0]
        except ValueError as exc:
            raise FigureRefused(f"{ind.name} {year}: {exc}", "value") from None
        source = str(form.get("source") or "").strip() or None
        return await aact("record_indicator", "IndicatorRequest", indicator=ind.id, year=year, value=value,
                          source=source, actor=actor, by=actor.dept)

    @app.post("/indicators/record")
    async def record_indicator(request: Request):
        form = await form_of(request)
        category, warn = str(form.get("category") or ""), form.get("warn") == "true"
        try:
            out = await do_record_indicator(request, form)
        except (PlancycleError, PageError) as exc:  # the page again, the one line at the form, what was typed kept
            status = getattr(exc, "status", None) or (
                403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound)
                else 409 if isinstance(exc, TransitionError) else 400)
            typed = {k: str(v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
            return await run_in_threadpool(indicators_view, request, category, warn, typed.get("indicator", ""),
                                           {"message": getattr(exc, "message", None) or str(exc), "typed": typed,
                                            "field": getattr(exc, "field", None)},
                                           status)
        ind = (out.get("data") or {}).get("indicator") or ""
        back = "/indicators" + ("?" + urllib.parse.urlencode({k: v for k, v in (("category", category),
                                                                                 ("warn", "true" if warn else ""))
                                                               if v}) if category or warn else "")
        return await adone(request, back + (f"#ind-{ind}" if ind else ""), _said(out, "已录入"))

    @app.post("/api/indicators/record")
    async def api_record_indicator(request: Request):
        form = await form_of(request)
        return await do_record_indicator(request, form)

    # -- documents, timeline, exports, audit ------------------------------------------------------------------------
    def documents_data(s, actor, run, spec):
        from stages.paperwork.notices import missing

        rows = s.exec(select(Notice).where(Notice.run_id == run.id, Notice.status.in_(["issued", "draft"]))
                      .order_by(Notice.id.desc())).all()
        out, drafts = [], []
        for n in rows:
            if n.status == "draft":  # drafts are the planning office's, until signed
                if actor.reads_all:
                    drafts.append({"id": n.id, "kind": n.kind, "genre": n.data.get("genre"), "title": n.title,
                                   "recipients": n.recipients, "date": n.created_at.date().isoformat(),
                                   "missing": [_FIELD_ZH.get(f, f) for f in missing(n.data, n.kind)]})
                continue
            if not actor.reads_all and not _addressed_to(n, actor.dept):
                continue
            out.append({"id": n.id, "kind": n.kind, "genre": n.data.get("genre"), "number": n.doc_number,
                        "title": n.title, "recipients": n.recipients,
                        "date": (n.issued_at or n.created_at).date().isoformat()})
        return {"documents": out, "drafts": drafts}

    @app.get("/documents", response_class=HTMLResponse)
    def documents_page(request: Request):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            return page(request, "documents.html", {**common(request, user, actor, run, spec, s),
                                                    **documents_data(s, actor, run, spec)})

    @app.get("/api/documents")
    def api_documents(request: Request):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return documents_data(s, actor, run, spec)

    def one_document(s, actor, run, notice_id: int, fmt: str):
        from stages.paperwork.notices import render_notice

        n = s.get(Notice, notice_id)
        if n is None or n.run_id != run.id or n.status not in ("issued", "draft"):
            raise PageError(404, "文件不存在")
        if n.status == "draft" and not actor.reads_all:
            raise PageError(404, "文件不存在")
        if not actor.reads_all and not _addressed_to(n, actor.dept):
            raise Forbidden("该文件未发给本部门")
        return render_notice(s, notice_id, fmt)

    @app.get("/documents/{notice_id}", response_class=HTMLResponse)
    def document_page(request: Request, notice_id: int):
        from stages.paperwork.notices import EDITABLE, PLACEHOLDER, missing

        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            n, md = one_document(s, actor, run, notice_id, "md")
            fields = []
            if n.status == "draft" and actor.can_coordinate:
                c = n.data
                gaps = set(missing(c, n.kind))
                for f, zh in EDITABLE.items():
                    if f.startswith("contact_"):
                        value = (c.get("contact") or {}).get(f[8:], "")
                    elif f in ("place", "attendees") and f not in c:
                        continue
                    elif f == "signer" and c.get("genre") not in ("请示", "报告"):
                        continue
                    else:
                        value = c.get(f) or ""
                    placeholder = bool(value and PLACEHOLDER.search(value))
                    fields.append({"name": f, "zh": zh, "value": "" if placeholder else value,
                                   "hint": value if placeholder else "", "missing": f in gaps})
            return page(request, "document.html", {**common(request, user, actor, run, spec, s), "n": n,
                                                   "md": md.decode("utf-8"), "fields": fields,
                                                   "genre": n.data.get("genre"),
                                                   "numbered": n.data.get("numbered")})

    @app.get("/documents/{notice_id}/download")
    def document_download(request: Request, notice_id: int, format: str = "docx"):
        if format not in ("docx", "pdf"):
            raise PageError(400, "格式只能是 docx 或 pdf")
        with Session(st.read_engine) as s:
            _user, actor, run, _spec = ctx(request, s)
            n, data = one_document(s, actor, run, notice_id, format)
            name = f"{n.doc_number or ('草稿' if n.status == 'draft' else n.data.get('genre', n.kind))}-{n.title or ''}.{format}"
        media = ("application/pdf" if format == "pdf"
                 else "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        return Response(data, media_type=media, headers={"Content-Disposition": _disposition(name)})

    @app.post("/documents/{notice_id}/sign")
    async def document_sign(request: Request, notice_id: int):
        from stages.paperwork.notices import EDITABLE

        form, actor, _spec = await coordinator_form(request)
        changes = {f: form.get(f) for f in EDITABLE if form.get(f) is not None}
        current = await run_in_threadpool(_draft_values, notice_id)
        changes = {f: v for f, v in changes.items() if v.strip() and v != current.get(f)}
        action = form.get("action") or "sign"
        if action == "save":
            if not changes:
                raise PageError(400, "没有需要保存的修改")
            out = await aact("edit_document", "EditDocumentRequest", notice=notice_id, changes=changes, actor=actor,
                             by=actor.dept)
            return await adone(request, f"/documents/{notice_id}", "草稿已保存")
        out = await aact("sign_document", "SignDocumentRequest", notice=notice_id, changes=changes,
                         number=(form.get("number") or "").strip() or None, actor=actor, by=actor.dept)
        signed = (out.get("data") or {}).get("notice") or {}
        return await adone(request, f"/documents/{notice_id}",
                           f"已签发：{signed.get('number') or signed.get('genre', '')} {signed.get('title', '')}")

    def _draft_values(notice_id: int) -> dict:
        with Session(st.read_engine) as s:
            n = s.get(Notice, notice_id)
            if n is None:
                return {}
            c = n.data
            return {"place": c.get("place"), "attendees": c.get("attendees"), "signer": c.get("signer"),
                    "extra": c.get("extra"), **{f"contact_{k}": v for k, v in (c.get("contact") or {}).items()}}

    @app.get("/timeline", response_class=HTMLResponse)
    def timeline_page(request: Request):
        from stages.views.reads import timeline

        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            return page(request, "timeline.html", {**common(request, user, actor, run, spec, s),
                                                   "t": timeline(s, spec, st.now())})

    @app.get("/api/timeline")
    def api_timeline(request: Request):
        from stages.views.reads import timeline

        with Session(st.read_engine) as s:
            _user, _actor, _run, spec = ctx(request, s)
            return timeline(s, spec, st.now())

    @app.get("/ledger.xlsx")
    def ledger(request: Request, dept: str = ""):
        import tempfile

        from stages.paperwork.exports import write_ledger
        from stages.views.reads import ledger_rows

        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            dept = actor.dept if not actor.reads_all else _known_dept(spec, dept)
            rows = ledger_rows(s, spec, st.now(), dept or None)
            with tempfile.TemporaryDirectory() as tmp:
                p = write_ledger(rows, Path(tmp) / "ledger.xlsx", spec.file.title + "台账")
                data = p.read_bytes()
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": _disposition(f"台账{('-' + dept) if dept else ''}.xlsx")})

    @app.get("/calendar.ics")
    def calendar(request: Request, dept: str = ""):
        import tempfile

        from stages.paperwork.exports import write_calendar
        from stages.views.board import board

        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            dept = actor.dept if not actor.reads_all else _known_dept(spec, dept)
            data = board(s, spec, st.now(), dept=dept or None)
            with tempfile.TemporaryDirectory() as tmp:
                p = write_calendar(data, Path(tmp) / "deadlines.ics", st.now())
                body = p.read_bytes()
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": _disposition(f"期限{('-' + dept) if dept else ''}.ics")})

    def audit_data(s, actor, run, spec, q: str, who: str, action: str, limit: int):
        from stages.store.models import AuditEvent

        if not actor.reads_all:
            raise Forbidden("审计记录仅限规划科和领导查看")
        stmt = select(AuditEvent).where(AuditEvent.run_id == run.id)
        if q:
            stmt = stmt.where(AuditEvent.target.contains(q) | AuditEvent.why.contains(q))
        if who:
            stmt = stmt.where(AuditEvent.actor.contains(who) | (AuditEvent.actor_user == who))
        if action:
            stmt = stmt.where(AuditEvent.action.startswith(action))
        rows = s.exec(stmt.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 1000)))).all()
        return {"events": [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "user": e.actor_user,
                            "action": e.action, "target": e.target, "why": e.why} for e in rows]}

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, q: str = "", who: str = "", action: str = "", limit: int = 200):
        with Session(st.read_engine) as s:
            user, actor, run, spec = ctx(request, s)
            return page(request, "audit.html", {**common(request, user, actor, run, spec, s),
                                                "labels": words.labels_for(s, run, spec),
                                                **audit_data(s, actor, run, spec, q, who, action, limit),
                                                "f": {"q": q, "who": who, "action": action}})

    @app.get("/api/audit")
    def api_audit(request: Request, q: str = "", who: str = "", action: str = "", limit: int = 200):
        with Session(st.read_engine) as s:
            _user, actor, run, spec = ctx(request, s)
            return audit_data(s, actor, run, spec, q, who, action, limit)

    @app.get("/api/me")
    def api_me(request: Request):
        with Session(st.read_engine) as s:
            user, actor, _run, _spec = ctx(request, s)
            return {"username": user.username, "name": user.display_name, "role": user.role, "dept": actor.dept,
                    "csrf_token": auth.csrf_token(request)}

    app.include_router(__import__("app.web.messages", fromlist=["router"]).router(st, templates, ctx=ctx, common=common, page=page, form_of=form_of))  # /messages
    return app


# -- helpers ------------------------------------------------------------------------------------------------------
def _default_flows() -> str:
    """``prefect`` when a Prefect server is configured (``PREFECT_API_URL``): every action a flow run on it.
    ``direct`` on the embedded default: the same flow functions called in the console's threads, no flow run.

    Measured here (benchmarks/web.py, 2 cores): on Prefect's embedded API a flow run adds ~250–350 ms to an action
    and the embedded server (SQLite-backed, sharing the 2 cores) saturates near two runs a second, so fifty people
    working at once time out; called directly the same actions take 20–50 ms alone and hold fifty users without
    an error. The database is the system of record either way; Prefect keeps the schedules (sweep, reports).
    """
    from flows.runner import configured_api_url

    return "prefect" if configured_api_url() else "direct"


def _warm_prefect(st: WebState) -> None:
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


def _said(out: dict, default: str) -> str:
    return out.get("message") or default


def _num(v) -> str:
    """26.0 → 26, 1.50 → 1.5, 1190 → 1190: a figure as a person writes it."""
    if v is None or v == "":
        return ""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.6f}".rstrip("0").rstrip(".")


def _ms_spec(spec, kind: str, key: str, ms_id: str, attr: str | None = None):
    try:
        m = spec.milestone_spec(kind, key, ms_id)
    except KeyError:
        return None
    return getattr(m, attr) if attr else m


def _item_title(spec, key: str) -> str | None:
    try:
        return spec.item(key).title
    except KeyError:
        return None


def _has_optional(spec) -> bool:
    return any(m.optional for it in spec.items for m in it.milestones)


def _domains(spec) -> list[str]:
    """The cycle's 领域, in the file's order (schema 2; empty when its tasks name none)."""
    return list(dict.fromkeys(it.domain for it in spec.items if it.domain))


def _recount(items: list[dict], counts: dict) -> dict:
    """The board's counts over the items left after a filter the board itself does not know (领域)."""
    by_status = {k: 0 for k in counts["by_status"]}
    by_light = {k: 0 for k in counts["by_light"]}
    by_progress = {k: 0 for k in counts.get("by_progress", {})}
    by_track: dict[str, int] = {k: 0 for k in counts.get("items_by_track", {})}
    for it in items:
        by_track[it["track"]] = by_track.get(it["track"], 0) + 1
        for m in it["milestones"]:
            by_status[m["status"]] = by_status.get(m["status"], 0) + 1
            by_light[m["light"]] = by_light.get(m["light"], 0) + 1
            if m.get("progress") and "by_progress" in counts:
                by_progress[m["progress"]] += 1
    out = {**counts, "items": len(items), "items_by_track": by_track, "milestones": sum(by_status.values()),
           "by_status": by_status, "by_light": by_light}
    if "by_progress" in counts:
        out["by_progress"] = by_progress
    return out


def _target_text(t) -> str:
    """目标 25% / 目标不高于 0.5%: a target as the form's label says it."""
    return f"目标{'不高于' if t.direction == 'down' else ''} {_num(t.value)}{t.unit or ''}"


def _figure_fields(spec, row, mspec, due: str) -> list[dict]:
    """The number fields of a submission form: a milestone's own targets, one each; a periodic report's, every
    target of the tasks its unit leads (the one due next after the report, year to date) and the indicators it
    reports. Only names :func:`stages.engine.figure_subjects` accepts are offered."""
    from stages.engine import figure_subjects

    known = figure_subjects(spec, row, mspec)
    out: list[dict] = []
    for t in mspec.targets:
        name = t.of or ""
        if name in known:
            out.append({"name": name, "label": t.of or "完成值", "target": _target_text(t), "unit": t.unit or "",
                        "group": None})
    if not mspec.period:
        return out
    units = set(row.lead)
    for other in spec.items:
        if other.kind != "task" or not units & set(other.lead):
            continue
        pairs: dict[str, list] = {}
        for m in other.milestones:
            for t in m.targets:
                if t.of and f"{other.key}:{t.of}" in known:
                    pairs.setdefault(t.of, []).append((m, t))
        for of, ms in pairs.items():
            m, t = next(((m, t) for m, t in ms if m.due_date and m.due_date.isoformat() >= due), ms[-1])
            said = _target_text(t)  # 一季度目标 78家 (a name that already says 目标), else 第一阶段·目标 78家
            said = m.name + said[2:] if m.name.endswith("目标") else f"{m.name}·{said}"
            out.append({"name": f"{other.key}:{of}", "label": of, "target": said,
                        "unit": t.unit or "", "group": other.title})
    names = {ind.id: ind for ind in spec.file.indicators}
    for k, e in known.items():
        if e.get("kind") == "indicator" and k == e["of"] and k in names:
            out.append({"name": k, "label": names[k].name, "target": "", "unit": e.get("unit") or "",
                        "group": "监测指标"})
    return out


class FigureRefused(PlancycleError):
    """A number field the console could not read: the message is the services' own; ``field`` is the form's."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field




def _form_figures(form, units: dict[str, str]) -> list[dict]:
    """The ``fig:NAME`` fields a person filled in, as figures; an empty field reports nothing. A number is read
    as the CLI and the indicator form read it (``stages.rules.requests.parse_number``): its own unit may follow (26.3%,
    80家), full-width digits and thousands commas (1,190) are fine; anything else is refused with the services'
    own message, before anything is stored."""
    from stages.rules.requests import parse_number

    out = []
    for k, v in form.multi_items():
        if not k.startswith("fig:") or not isinstance(v, str):
            continue
        of, raw = k[4:], v.strip()
        if not raw:
            continue
        unit = units.get(of, "")
        try:
            value = parse_number(raw, unit)[0]
        except ValueError:
            raise FigureRefused(f"figure {of!r}: {raw!r} is not a number", field=k) from None
        out.append({"of": of, "value": value, "unit": unit or None})
    return out


def _recordable(spec, actor) -> list[str]:
    """The indicators ``actor`` may record a yearly actual for (``stages.engine.indicators.record``'s rule): all of them
    for the coordinator, those it leads for a unit, none for a leader."""
    if actor.role == "leader":
        return []
    out = []
    for ind in spec.file.indicators:
        leads = []
        for d in ind.lead:
            try:
                leads.append(spec.department(d).short)
            except KeyError:
                leads.append(d)
        if actor.can_coordinate or (actor.dept and actor.dept in leads):
            out.append(ind.id)
    return out


def _shared_note(notes: list[tuple[str, str | None]]) -> tuple[str | None, dict[str, str]]:
    """The note the indicators share (示例值……: shown once, under the table) and what one adds to it, by id
    (``…为准（完成市下达目标）`` → 完成市下达目标); an indicator whose note shares nothing keeps all of it."""
    given = [n for _id, n in notes if n]
    if not given:
        return None, {}
    common = given[0]
    for n in given[1:]:
        while not n.startswith(common):
            common = common[:-1]
    common = common.rstrip("（(，,、；; ")
    if len(common) < 4 or len(given) < 2:
        common = ""
    extras = {}
    for iid, n in notes:
        rest = (n or "")[len(common):] if common else (n or "")
        rest = rest.strip().strip("，,、；; ")
        if rest.startswith(("（", "(")) and rest.endswith(("）", ")")):
            rest = rest[1:-1].strip()
        if rest:
            extras[iid] = rest
    return common or None, extras


def _doc_html(md: str):
    """A notice's Markdown preview as simple HTML: headings, bold, paragraphs, tables, rules; everything escaped."""
    import html

    from markupsafe import Markup

    out, table = [], []

    def inline(t: str) -> str:
        t = html.escape(t)
        return __import__("re").sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            head, body = cells[0], cells[1:]
            out.append("<table class='board small'><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                       + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>"
                                                          for r in body) + "</tbody></table>")
            table.clear()

    for line in md.splitlines():
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        flush()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            level = min(len(stripped) - len(stripped.lstrip("#")), 3)
            out.append(f"<h{level + 1} class='doc-h'>{inline(stripped.lstrip('#').strip())}</h{level + 1}>")
        elif set(stripped) <= set("-*_ "):
            out.append("<hr>")
        else:
            out.append(f"<p>{inline(stripped)}</p>")
    flush()
    return Markup("\n".join(out))


def _size(n) -> str:
    n = int(n or 0)
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, n // 1024)} KB"


def _safe_next(nxt: str) -> str:
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"


def _disposition(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in name) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


_FIELD_ZH = {"contact_person": "联系人", "contact_phone": "联系电话", "contact_email": "电子邮箱",
             "contact_address": "地址", "signer": "签发人", "place": "会议地点", "text": "正文"}


def _addressed_to(n: Notice, dept: str | None) -> bool:
    rec = {part for r in (n.recipients or []) for part in str(r).split("、")}
    # a unit named, or a collective 主送 (各有关部门, 各街镇 …: "各…"), or the public (社会…)
    return bool(dept and (dept in rec or any(r.startswith(("各", "社会")) for r in rec)))


def _known_dept(spec, dept: str) -> str:
    if not dept:
        return ""
    try:
        return spec.department(dept).short
    except KeyError:
        raise PageError(400, f"未知部门：{dept}") from None


def _checklist(spec, gate, facts) -> list[dict]:
    """A gate as a checklist: each of its parts, met or not, with what is missing."""
    from stages.rules.gates import _eval, evaluate

    parts = []
    children = gate.all_of or gate.any_of
    if children:
        for ch in children:
            gid = ch if isinstance(ch, str) else None
            res = evaluate(spec, gid, facts) if gid else _eval(spec, ch, facts, ())
            parts.append({"name": spec.gate(gid).name if gid else _pred_name(ch), "ok": res.ok,
                          "missing": list(res.missing)[:8]})
    else:
        res = evaluate(spec, gate.id, facts)
        parts.append({"name": gate.name, "ok": res.ok, "missing": list(res.missing)[:8]})
    return parts


def _pred_name(p) -> str:
    if p.milestone:
        return p.milestone
    if p.all:
        return f"全部{TRACK_ZH.get(p.all.track, p.all.track)}完成 {p.all.milestone}"
    if p.at_least:
        return f"至少 {p.at_least.n} 项{TRACK_ZH.get(p.at_least.track, p.at_least.track)}完成 {p.at_least.milestone}"
    if p.approval:
        return f"{p.approval.body} 审议 {p.approval.subject}"
    return "组合条件"


def _datetime_field(value, label: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        raise PageError(400, f"{label}格式不正确（应为 YYYY-MM-DDTHH:MM）") from None


def _extend_fields(form) -> dict:
    def date(name, label):
        v = (form.get(name) or "").strip()
        if not v:
            return None
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise PageError(400, f"{label}格式不正确（应为 YYYY-MM-DD）") from None

    def num(name, label):
        v = (form.get(name) or "").strip()
        if not v:
            return None
        try:
            return int(v)
        except ValueError:
            raise PageError(400, f"{label}应为整数") from None

    items = [x for x in form.getlist("item") if x]
    return {"reason": form.get("reason") or "", "items": items, "milestone": form.get("milestone") or None,
            "due_from": date("due_from", "起始日期"), "due_to": date("due_to", "截止日期"), "days": num("days", "顺延天数"),
            "workdays": num("workdays", "顺延工作日"), "new_due": date("new_due", "新期限")}


def _extend_preview(s: Session, run: CycleRun, spec, f: dict) -> dict:
    """What an extension would move: the service's own selection (``extension_plan``), without writing."""
    from stages.engine import calendar_for, extension_plan

    if sum(x is not None for x in (f["days"], f["workdays"], f["new_due"])) != 1:
        raise PageError(400, "请在“顺延天数”“顺延工作日”“新期限”中填写且只填写一项")
    if not (f["reason"] or "").strip():
        raise PageError(400, "调整期限须填写理由")
    try:
        plan = extension_plan(s, run.id, calendar_for(spec), items=f["items"], milestone=f["milestone"],
                              due_from=f["due_from"], due_to=f["due_to"], days=f["days"], workdays=f["workdays"],
                              new_due=f["new_due"])
    except (OverflowError, PlancycleError) as exc:
        raise PageError(400, f"无法计算新期限：{exc}") from None
    rows = [{"item": m.item_key, "name": m.name, "owner": m.owner, "from": m.due_date.isoformat(),
             "to": to.isoformat(), "ok": to > m.due_date} for m, to in plan]
    if f["due_from"] and f["due_to"] and f["due_from"] > f["due_to"]:
        raise PageError(400, "期限范围的起始日期晚于截止日期")
    return {"rows": rows, "reason": f["reason"], "ok": all(r["ok"] for r in rows)}


def serve(db: str | None, host: str, port: int, as_of: str | None = None) -> None:
    import uvicorn

    app = create_app(db, as_of=as_of)
    # one setting says whose X-Forwarded-For to believe: the sign-in throttle's and uvicorn's (none by default, so
    # nothing connecting through loopback can choose the address the throttle counts)
    trusted = os.environ.get("PLANCYCLE_TRUSTED_PROXIES", "")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None)
