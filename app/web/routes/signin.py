"""Signing in and out, who is signed in (``/api/me``), and ``/healthz``, which answers without a session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from stages.ground.clock import as_datetime
from stages.store.models import CycleRun

from .. import auth
from ..deps import CheckedForm, ReadSession, SignedIn, State
from ..pages import page

router = APIRouter()


@router.get("/healthz")
def healthz(s: ReadSession):
    runs = s.exec(select(CycleRun.spec_id)).all()
    return {"ok": True, "runs": list(runs)}


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(request: Request, st: State):
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


@router.post("/logout")
async def logout(request: Request, _form: CheckedForm, st: State):
    await run_in_threadpool(auth.sign_out, request, st.write_engine)
    return RedirectResponse("/login", status_code=303)


@router.get("/api/me")
def api_me(request: Request, c: SignedIn):
    return {"username": c.user.username, "name": c.user.display_name, "role": c.user.role, "dept": c.actor.dept,
            "csrf_token": auth.csrf_token(request)}


def _safe_next(nxt: str) -> str:
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"
