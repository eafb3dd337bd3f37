"""Errors as one line in Chinese: 400 for bad input, 403 for a refused identity or CSRF, 404 for what does not
exist, 409 for a move the cycle's state refuses, 401 / a redirect to sign in for no one signed in; never a stack
trace. Under ``/api/`` the line comes as JSON ``{"error": …}``, elsewhere as the error page."""

from __future__ import annotations

import logging
import urllib.parse

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlmodel import Session

from stages.ground.errors import NotFound, PlancycleError, TransitionError
from stages.rules.identity import Forbidden

from . import auth, words
from .deps import ctx, web_state
from .pages import common
from .state import PageError

log = logging.getLogger("plancycle.web")


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def who(request: Request) -> dict:
    """The signed-in context for an error page's header, if there is one (never raises)."""
    try:
        with Session(web_state(request).read_engine) as s:
            c = ctx(request, s)
            return {**common(request, c, s), "labels": words.labels_for(s, c.run, c.spec)}
    except Exception:
        return {}


def error_response(request: Request, status: int, message: str, prefix: str = ""):
    base = who(request) if request.session.get("uid") else {}
    message = prefix + words.translate(message, base.get("labels"))
    if is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    try:
        return request.app.state.templates.TemplateResponse(
            request, "error.html", {"request": request, "status": status, "message": message,
                                    "csrf": auth.csrf_token(request), **base}, status_code=status)
    except Exception:  # pragma: no cover - a template error must not hide the message
        import html

        return HTMLResponse(f"<p>{status}: {html.escape(message)}</p>", status_code=status)


async def _need_login(request: Request, _exc):
    if is_api(request):
        return JSONResponse({"error": "请先登录"}, status_code=401)
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + urllib.parse.quote(nxt), status_code=303)


def _said_as(status: int, prefix: str = ""):
    async def handler(request: Request, exc):
        return error_response(request, status, str(exc), prefix)

    return handler


async def _bad_params(request: Request, exc):
    where = ".".join(str(x) for x in (exc.errors() or [{}])[0].get("loc", ())[1:]) or "参数"
    return error_response(request, 400, f"请求参数“{where}”格式不正确")


async def _page_error(request: Request, exc):
    return error_response(request, exc.status, exc.message)


async def _404(request: Request, _exc):
    return error_response(request, 404, "页面不存在")


async def _405(request: Request, _exc):
    return error_response(request, 405, "不支持此请求方式")


async def _crash(request: Request, exc):
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OperationalError) and "locked" in str(exc):
        log.warning("database busy on %s", request.url.path, exc_info=exc)
        return error_response(request, 503, "系统正忙（数据库被占用），请稍后重试；本次操作未生效")
    log.exception("internal error on %s", request.url.path)
    return error_response(request, 500, f"系统内部错误（{type(exc).__name__}），本次操作未生效；请联系管理员")


def install(app: FastAPI) -> None:
    """The console's exception handlers, in the order they were always registered."""
    app.add_exception_handler(auth.NeedLogin, _need_login)
    app.add_exception_handler(auth.CsrfRefused, _said_as(403))
    app.add_exception_handler(Forbidden, _said_as(403, "无权办理："))
    app.add_exception_handler(NotFound, _said_as(404, "未找到："))
    app.add_exception_handler(TransitionError, _said_as(409, "无法办理："))
    app.add_exception_handler(PlancycleError, _said_as(400, "无法办理："))
    app.add_exception_handler(RequestValidationError, _bad_params)
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(404, _404)
    app.add_exception_handler(405, _405)
    app.add_exception_handler(Exception, _crash)
