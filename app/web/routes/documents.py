"""The 公文 (``/documents``): what was issued to a unit, the planning office's drafts, a draft filled in and signed,
and a document downloaded as .docx or .pdf."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from stages.rules.identity import Forbidden
from stages.store.models import Notice

from ..deps import CheckedForm, Coordinating, ReadSession, SignedIn, aact
from ..helpers import disposition
from ..pages import adone, common, page
from ..state import PageError

router = APIRouter()

_FIELD_ZH = {"contact_person": "联系人", "contact_phone": "联系电话", "contact_email": "电子邮箱",
             "contact_address": "地址", "signer": "签发人", "place": "会议地点", "text": "正文"}


def _addressed_to(n: Notice, dept: str | None) -> bool:
    rec = {part for r in (n.recipients or []) for part in str(r).split("、")}
    # a unit named, or a collective 主送 (各有关部门, 各街镇 …: "各…"), or the public (社会…)
    return bool(dept and (dept in rec or any(r.startswith(("各", "社会")) for r in rec)))


def documents_data(s, actor, run):
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


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, c: SignedIn, s: ReadSession):
    return page(request, "documents.html", {**common(request, c, s), **documents_data(s, c.actor, c.run)})


@router.get("/api/documents")
def api_documents(c: SignedIn, s: ReadSession):
    return documents_data(s, c.actor, c.run)


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


@router.get("/documents/{notice_id}", response_class=HTMLResponse)
def document_page(request: Request, c: SignedIn, s: ReadSession, notice_id: int):
    from stages.paperwork.notices import EDITABLE, PLACEHOLDER, missing

    n, md = one_document(s, c.actor, c.run, notice_id, "md")
    fields = []
    if n.status == "draft" and c.actor.can_coordinate:
        data = n.data
        gaps = set(missing(data, n.kind))
        for f, zh in EDITABLE.items():
            if f.startswith("contact_"):
                value = (data.get("contact") or {}).get(f[8:], "")
            elif f in ("place", "attendees") and f not in data:
                continue
            elif f == "signer" and data.get("genre") not in ("请示", "报告"):
                continue
            else:
                value = data.get(f) or ""
            placeholder = bool(value and PLACEHOLDER.search(value))
            fields.append({"name": f, "zh": zh, "value": "" if placeholder else value,
                           "hint": value if placeholder else "", "missing": f in gaps})
    return page(request, "document.html", {**common(request, c, s), "n": n,
                                           "md": md.decode("utf-8"), "fields": fields,
                                           "genre": n.data.get("genre"),
                                           "numbered": n.data.get("numbered")})


def download_format(format: str = "docx") -> str:
    """The ``format`` asked for, checked before anything else is read."""
    if format not in ("docx", "pdf"):
        raise PageError(400, "格式只能是 docx 或 pdf")
    return format


@router.get("/documents/{notice_id}/download")
def document_download(fmt: Annotated[str, Depends(download_format)], c: SignedIn, s: ReadSession, notice_id: int):
    n, data = one_document(s, c.actor, c.run, notice_id, fmt)
    name = f"{n.doc_number or ('草稿' if n.status == 'draft' else n.data.get('genre', n.kind))}-{n.title or ''}.{fmt}"
    media = ("application/pdf" if fmt == "pdf"
             else "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return Response(data, media_type=media, headers={"Content-Disposition": disposition(name)})


@router.post("/documents/{notice_id}/sign")
async def document_sign(request: Request, form: CheckedForm, c: Coordinating, notice_id: int):
    from stages.paperwork.notices import EDITABLE

    actor = c.actor
    changes = {f: form.get(f) for f in EDITABLE if form.get(f) is not None}
    current = await run_in_threadpool(_draft_values, request.app.state.pc, notice_id)
    changes = {f: v for f, v in changes.items() if v.strip() and v != current.get(f)}
    action = form.get("action") or "sign"
    if action == "save":
        if not changes:
            raise PageError(400, "没有需要保存的修改")
        await aact(request, "edit_document", "EditDocumentRequest", notice=notice_id, changes=changes, actor=actor,
                   by=actor.dept)
        return await adone(request, f"/documents/{notice_id}", "草稿已保存")
    out = await aact(request, "sign_document", "SignDocumentRequest", notice=notice_id, changes=changes,
                     number=(form.get("number") or "").strip() or None, actor=actor, by=actor.dept)
    signed = (out.get("data") or {}).get("notice") or {}
    return await adone(request, f"/documents/{notice_id}",
                       f"已签发：{signed.get('number') or signed.get('genre', '')} {signed.get('title', '')}")


def _draft_values(st, notice_id: int) -> dict:
    with Session(st.read_engine) as s:
        n = s.get(Notice, notice_id)
        if n is None:
            return {}
        c = n.data
        return {"place": c.get("place"), "attendees": c.get("attendees"), "signer": c.get("signer"),
                "extra": c.get("extra"), **{f"contact_{k}": v for k, v in (c.get("contact") or {}).items()}}
