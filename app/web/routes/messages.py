"""The console's notification list: ``/messages`` (and ``/api/messages``), read / unread per user.

A router over ``stages.paperwork.messages``; sign-in, sessions and CSRF are the console's own dependencies
(``app.web.deps``), not copied. :func:`unread_badge` gives the templates ``unread_messages(user)``: the unread count
the header's badge shows on every page.

Each user sees only the messages addressed to them; the planning office also sees how delivery is going (rows
per channel and state, the latest failures). Reads only: nothing here imports Prefect.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from stages.paperwork import messages as mg

from ..deps import CheckedForm, ReadSession, SignedIn, ctx
from ..pages import common, page

router = APIRouter()


def unread_badge(st):
    """The templates' ``unread_messages(user)`` for the console over ``st``."""

    def unread_messages(user) -> int:
        if user is None:
            return 0
        try:
            with Session(st.read_engine) as s:
                return mg.unread_count(s, user)
        except Exception:  # noqa: BLE001 - a badge must never break a page (an error page least of all)
            return 0

    return unread_messages


def data(s, user, actor, unread: bool) -> dict:
    rows = [mg.as_dict(m) for m in mg.messages_for(s, user, unread_only=unread)]
    for m in rows:  # the page links the item itself: the text's own link line is for e-mail and chat
        m["body"] = "\n".join(ln for ln in m["text"].splitlines() if not ln.startswith("查看事项："))
    out = {"messages": rows, "unread": mg.unread_count(s, user)}
    if actor.can_coordinate:
        out["delivery"] = mg.summary(s)
    return out


@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request, c: SignedIn, s: ReadSession, unread: bool = False):
    d = data(s, c.user, c.actor, unread)
    return page(request, "messages.html", {**common(request, c, s), **d,
                                           "only_unread": unread, "RUNG_ZH": mg.RUNG_ZH,
                                           "CHANNEL_ZH": mg.CHANNEL_ZH, "STATUS_ZH": mg.STATUS_ZH})


@router.get("/api/messages")
def api_messages(c: SignedIn, s: ReadSession, unread: bool = False):
    return data(s, c.user, c.actor, unread)


def _mark(request: Request, message_id: int | None) -> int:
    st = request.app.state.pc
    with Session(st.write_engine) as s:
        user = ctx(request, s).user
        n = mg.mark_read(s, user, message_id, at=st.now())
        s.commit()
        return n


@router.post("/messages/{message_id}/read")
async def read_one(request: Request, _form: CheckedForm, message_id: int):
    await run_in_threadpool(_mark, request, message_id)
    back = "/messages?unread=1" if request.query_params.get("unread") else "/messages"
    return RedirectResponse(f"{back}#m{message_id}", status_code=303)


@router.post("/messages/read-all")
async def read_all(request: Request, _form: CheckedForm):
    n = await run_in_threadpool(_mark, request, None)
    request.session["flash"] = f"已将 {n} 条消息标为已读" if n else "没有未读消息"
    return RedirectResponse("/messages", status_code=303)


@router.post("/api/messages/{message_id}/read")
async def api_read_one(request: Request, _form: CheckedForm, message_id: int):
    n = await run_in_threadpool(_mark, request, message_id)
    return {"id": message_id, "changed": n}
