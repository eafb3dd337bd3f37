"""Notices (公文): drafts, sign-off, the 发文字号 register, rendering and filing.

Owns: the notice settings (``config/notices.yaml`` or the cycle's ``notices:``: the issuing organ, its register,
contacts, and per document kind its genre, 主送 and 抄送), the Jinja2 environment (``templates/notices``,
StrictUndefined, every value escaped for the markup), the life of a document — **draft → (edit) → 签发** — and
re-rendering a filed one. Does not own: the page format (``stages.paperwork.documents``), what a step calls for
(``stages.paperwork.drafting``) or when a step happens (``stages.engine``). Imports neither of them.

A generated document is a *draft*: it has its context and its genre but no 发文字号. The coordinator (or the
签发人 the settings name) signs it off; the number is taken at that moment from the register — the next number of
the year after the last one used (``numbering.first`` seeds a year where the office has already issued numbers by
hand), or the number the office's OA gave, which the register then continues after — so a number is never
skipped, never used twice and never collides with the office's own. A draft with a placeholder (“请填写”) or an
empty required field cannot be signed: the refusal names the field. The free-text parts (place, contact,
signer, an added paragraph) can be edited before signing.

A signed notice stores the context it was rendered from, the template's checksum and the file's SHA-256, so
``render`` reproduces the same bytes.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from stages.paperwork import documents
from stages.ground.clock import as_datetime
from stages.ground.errors import ConfigError, NotFound, PlancycleError, TransitionError
from stages.ground.catalogue import CATALOGUE
from stages.ground.i18n import Msg
from stages.ground.paths import NOTICES_DEFAULT, TEMPLATES_DIR
from stages.store.models import DocSequence, Notice
from stages.store.runs import insert_ignore

TEMPLATES = TEMPLATES_DIR / "notices"
CONFIG = NOTICES_DEFAULT

# kind → template; a kind is what the step produced, its genre (通知, 函, 请示 …) comes from the settings
TEMPLATE_OF = {"call_for_tender": "call_for_tender", "tender_result": "tender_result", "meeting": "meeting",
               "meeting_letter": "meeting_letter", "stage_notice": "stage_notice",
               "special_plan_registration": "special_plan_registration", "request": "request",
               "monthly_report": "monthly_report", "supervision": "supervision",
               "indicator_report": "indicator_report",
               # documents of earlier versions, still rendered from their stored context
               "reminder": "reminder", "escalation": "reminder"}

# the genre each kind is, unless the settings say otherwise; 公告/公示/简报 carry no 发文字号
DEFAULT_DOCUMENTS = {
    "request": {"genre": "请示"},
    "stage_notice": {"genre": "通知", "to": "各有关单位"},  # the settings name the office's usual 主送
    "meeting": {"genre": "通知"},
    "meeting_letter": {"genre": "函"},
    "call_for_tender": {"genre": "公告", "numbered": False},
    "tender_result": {"genre": "公示", "numbered": False},
    "special_plan_registration": {"genre": "通知"},
    "supervision": {"genre": "督办通知", "every": "month"},
    "monthly_report": {"genre": "报告"},
    # the yearly 《纲要》主要指标监测情况: a 报告 upward (主送 from the settings, else the cycle's government body), or a 简报
    "indicator_report": {"genre": "报告"},
}
UNNUMBERED_GENRES = {"公告", "公示", "简报", "工作动态", "会议通知"}
UPWARD_GENRES = {"请示", "报告"}  # 上行文: a 签发人 on the 文号 line

PLACEHOLDER = re.compile(r"请填写|待填写|X{3,}|x{3,}|＿＿|__")


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def cn_datetime(when: dt.datetime) -> str:
    return f"{cn_date(when.date())}{when.hour}:{when.minute:02d}"


WEEKDAY_CN = "一二三四五六日"


def cn_weekday(day: dt.date) -> str:
    return "星期" + WEEKDAY_CN[day.weekday()]


def cn_no(i: int) -> str:
    """Chinese numerals as ordinals are written: 一 … 十, 十一, 二十, 二十一 … 九十九 (then digits)."""
    digits = "零一二三四五六七八九"
    if i < 1:
        return str(i)
    if i < 10:
        return digits[i]
    if i < 100:
        tens, ones = divmod(i, 10)
        return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
    return str(i)


def glue(*parts: str) -> str:
    """Join phrases without doubling the word where they meet: 课题 + 课题启动会 → 课题启动会,
    “十四五”规划 + 规划编制 → “十四五”规划编制."""
    out = ""
    for p in parts:
        if not p:
            continue
        for k in range(min(len(out), len(p)), 1, -1):
            if out.endswith(p[:k]):
                p = p[k:]
                break
        out += p
    return out


@lru_cache(maxsize=8)
def load_config(path: str = str(CONFIG)) -> dict:
    from stages.definition.yamlio import load_yaml

    doc = load_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError("paperwork.settings.not_mapping", file=path, line=1)
    for key in ("organ", "contact", "numbering"):
        if key not in data:
            raise ConfigError("paperwork.settings.missing_key", key=key, file=path, line=1)
    for key in ("name", "prefix", "masthead", "office"):
        if not (data["organ"] or {}).get(key):
            raise ConfigError("paperwork.settings.missing_key", key=key, file=path, line=doc.line("organ"), path="organ")
    docs = data.get("documents") or {}
    if not isinstance(docs, dict):
        raise ConfigError("paperwork.settings.documents_not_mapping", file=path,
                          line=doc.line("documents"))
    for kind in docs:
        if kind not in DEFAULT_DOCUMENTS:
            raise ConfigError("paperwork.settings.unknown_document_kind", kind=kind, known=list(DEFAULT_DOCUMENTS),
                              file=path, line=doc.line("documents", kind))
    mode = (data["numbering"] or {}).get("mode", "sequence")
    if mode not in ("sequence", "manual"):
        raise ConfigError("paperwork.settings.numbering_mode", mode=mode, file=path,
                          line=doc.line("numbering"))
    return data


def doc_settings(cfg: dict, kind: str) -> dict:
    """A kind's genre, numbering, 主送 and 抄送, the settings over the defaults."""
    out = dict(DEFAULT_DOCUMENTS.get(kind, {"genre": "通知"}))
    out.update((cfg.get("documents") or {}).get(kind) or {})
    legacy_unnumbered = (cfg.get("numbering") or {}).get("unnumbered") or []
    out.setdefault("numbered", out["genre"] not in UNNUMBERED_GENRES and kind not in legacy_unnumbered)
    cc = cfg.get("cc") or {}
    out.setdefault("cc", cc.get(kind, cc.get("default")))
    return out


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False,
                      finalize=documents.escape, keep_trailing_newline=True, trim_blocks=False)
    env.filters["cn_no"] = cn_no
    env.globals["glue"] = glue
    return env


def template_sha(kind: str) -> str:
    name = TEMPLATE_OF[kind]
    h = hashlib.sha256()
    for f in sorted(TEMPLATES.glob("*.j2")):
        if f.stem in (name, "_tail", "_head"):
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def markup(kind: str, context: dict) -> str:
    return _env().get_template(TEMPLATE_OF[kind] + ".j2").render(**context)


def render(kind: str, context: dict, fmt: str = "docx") -> bytes:
    return _render_doc(documents.parse(markup(kind, context)), context, fmt)


def _render_doc(doc: documents.Doc, context: dict, fmt: str) -> bytes:
    if fmt == "md":
        return documents.to_markdown(doc).encode("utf-8")
    if fmt in ("docx", "pdf"):
        created = dt.datetime.fromisoformat(context["issued_at"])
        data = documents.to_docx(doc, author=context["organ"]["name"], created=created)
        if fmt == "pdf":
            to_pdf = getattr(documents, "to_pdf", None)
            if to_pdf is None:
                from stages.paperwork.pdf import to_pdf  # type: ignore[no-redef]
            return to_pdf(data)
        return data
    raise PlancycleError("paperwork.unknown_format", fmt=fmt)


# -- the register -----------------------------------------------------------------------------------------------------
NUMBER = re.compile(r"^(?P<prefix>.+)〔(?P<year>\d{4})〕(?P<n>\d{1,5})号$")


def _first(cfg: dict, prefix: str, year: int) -> int:
    """Where a year's register starts: ``numbering.first`` seeds the organ's own prefix (长发改), ``numbering.registers``
    any other (长发改函: {2019: 5})."""
    numbering = cfg.get("numbering") or {}
    if prefix == cfg["organ"]["prefix"]:
        seeds = numbering.get("first") or {}
    else:
        seeds = (numbering.get("registers") or {}).get(prefix) or {}
    return int(seeds.get(year, 1))


def allocate_number(session: Session, prefix: str, year: int, cfg: dict) -> tuple[int, str]:
    """Next 发文字号 for (prefix, year), in the caller's transaction: rolled back with it, never skipped.

    The year's row is created with INSERT … ON CONFLICT DO NOTHING (one row whoever gets there first), then the
    UPDATE takes its row lock: concurrent sign-offs queue instead of failing on the unique constraint.
    """
    first = _first(cfg, prefix, year)
    insert = insert_ignore(session)
    session.execute(insert(DocSequence).values(organ=prefix, year=year, last=first - 1)
                    .on_conflict_do_nothing(index_elements=["organ", "year"]))
    session.execute(update(DocSequence).where(DocSequence.organ == prefix, DocSequence.year == year)
                    .values(last=DocSequence.last + 1))
    last = session.exec(select(DocSequence.last).where(DocSequence.organ == prefix, DocSequence.year == year)).one()
    return last, f"{prefix}〔{year}〕{last}号"


def take_given_number(session: Session, prefix: str, year: int, number: str, cfg: dict) -> tuple[int, str]:
    """The number the office's OA gave at sign-off: checked, unique, and the register continues after it."""
    m = NUMBER.match(number.strip().replace("[", "〔").replace("]", "〕"))
    if not m or m["prefix"] != prefix or int(m["year"]) != year:
        raise PlancycleError("paperwork.number_format", pattern=f"{prefix}〔{year}〕N号", number=number)
    n = int(m["n"])
    text = f"{prefix}〔{year}〕{n}号"
    if session.exec(select(Notice.id).where(Notice.doc_number == text)).first() is not None:
        raise TransitionError("paperwork.number_used", number=text)
    first = _first(cfg, prefix, year)
    insert = insert_ignore(session)
    session.execute(insert(DocSequence).values(organ=prefix, year=year, last=first - 1)
                    .on_conflict_do_nothing(index_elements=["organ", "year"]))
    row = session.exec(select(DocSequence).where(DocSequence.organ == prefix, DocSequence.year == year)
                       .with_for_update()).one()
    if n > row.last:
        row.last = n
        session.add(row)
    return n, text


# -- drafts, editing, sign-off ----------------------------------------------------------------------------------------
EDITABLE = {"place": "会议地点", "contact_person": "联系人", "contact_phone": "联系电话",
            "contact_email": "电子邮箱", "contact_address": "地址", "signer": "签发人",
            "extra": "补充内容", "attendees": "参会人员"}


def _status(status: str):
    """A document's status in a refusal's words (已签发), or as stored where the catalogue has none."""
    code = f"paperwork.status.{status}"
    return Msg(code) if code in CATALOGUE else status


def _settings_context(cfg: dict, kind: str, context: dict) -> dict:
    ds = doc_settings(cfg, kind)
    c = copy.deepcopy(context)
    c.setdefault("organ", dict(cfg["organ"]))
    c.setdefault("contact", dict(cfg["contact"]))
    c.setdefault("cc", ds.get("cc"))
    c["genre"] = ds["genre"]
    c["numbered"] = bool(ds["numbered"])
    c.setdefault("prefix", ds.get("prefix") or cfg["organ"]["prefix"])
    if ds["genre"] in UPWARD_GENRES:
        c.setdefault("signer", cfg["organ"].get("signer") or "")
    c.setdefault("extra", "")
    return c


def draft(session: Session, run_id: int, kind: str, context: dict, *, recipients: list[str], about: str, as_of,
          flow_run_id: str | None = None, key: str | None = None, cfg: dict | None = None,
          replaces: int | None = None) -> Notice:
    """File a draft: its context and genre, rendered once to prove it renders; no 发文字号. Does not commit."""
    cfg = cfg or load_config()
    when = as_datetime(as_of)
    if key:
        prior = session.exec(select(Notice).where(Notice.run_id == run_id, Notice.idem_key == key)).first()
        if prior is not None:
            return prior
    c = _settings_context(cfg, kind, context)
    c["date_cn"] = cn_date(when.date())
    c["issued_at"] = when.isoformat()
    c["doc_number"] = None
    c["draft"] = True
    doc = documents.parse(markup(kind, c))
    _render_doc(doc, c, "docx")  # a template or data error refuses the step now, not at sign-off
    row = Notice(run_id=run_id, kind=kind, status="draft", recipients=list(recipients), about=about, data=c,
                 created_at=when, flow_run_id=flow_run_id, idem_key=key, title=doc.title,
                 organ=c["prefix"], template=TEMPLATE_OF[kind], template_sha=template_sha(kind),
                 corrects_id=replaces)
    session.add(row)
    session.flush()
    return row


def edit(session: Session, notice: Notice, changes: dict) -> dict:
    """Change a draft's free-text parts. Returns {field: (old, new)}. Does not commit."""
    if notice.status != "draft":
        raise TransitionError("paperwork.not_draft.edit", id=notice.id, status=_status(notice.status))
    c = copy.deepcopy(notice.data)
    changed = {}
    for field_, value in changes.items():
        if field_ not in EDITABLE:
            raise PlancycleError("paperwork.cannot_edit", field=field_, editable=list(EDITABLE))
        value = (value or "").strip()
        if field_ == "place" and "place" not in c:
            raise PlancycleError("paperwork.no_meeting_place", id=notice.id, genre=c.get("genre"))
        if field_ == "attendees" and "attendees" not in c:
            raise PlancycleError("paperwork.no_attendees", id=notice.id, genre=c.get("genre"))
        if field_.startswith("contact_"):
            old = (c.get("contact") or {}).get(field_[8:])
            c.setdefault("contact", {})[field_[8:]] = value
        else:
            old = c.get(field_)
            c[field_] = value
        if old != value:
            changed[field_] = (old, value)
    if not changed:
        raise PlancycleError("paperwork.nothing_to_change")
    doc = documents.parse(markup(notice.kind, c))
    _render_doc(doc, c, "docx")
    notice.data = c
    notice.title = doc.title
    session.add(notice)
    session.flush()
    return changed


def missing(context: dict, kind: str | None = None) -> list[str]:
    """What stops a draft being signed: each field with a placeholder or left empty, by its name."""
    out = []
    contact = context.get("contact") or {}
    if not (contact.get("person") or "").strip() or PLACEHOLDER.search(contact.get("person") or ""):
        out.append("contact_person")
    if not (contact.get("phone") or "").strip() or PLACEHOLDER.search(contact.get("phone") or ""):
        out.append("contact_phone")
    if context.get("genre") in UPWARD_GENRES:
        s = (context.get("signer") or "").strip()
        if not s or PLACEHOLDER.search(s):
            out.append("signer")
    if "place" in context and (not (context.get("place") or "").strip() or PLACEHOLDER.search(context["place"])):
        out.append("place")
    if kind:  # anything else the settings left as a placeholder, anywhere in the printed text
        text = markup(kind, context)
        for name, label in (("contact_email", "电子邮箱："), ("contact_address", "地址：")):
            value = contact.get(name[8:])
            if value and PLACEHOLDER.search(value) and f"{label}{value}" in text:
                out.append(name)
        if not out and PLACEHOLDER.search(text):
            out.append("text")
    return out


def sign(session: Session, notice: Notice, *, as_of, signed_by: str, number: str | None = None,
         cfg: dict | None = None) -> Notice:
    """签发: check, number (when the genre is numbered), render, checksum, file. Does not commit."""
    cfg = cfg or load_config()
    if notice.status != "draft":
        raise TransitionError("paperwork.not_draft.sign", id=notice.id, status=_status(notice.status))
    gaps = missing(notice.data, notice.kind)
    if gaps:
        raise PlancycleError("paperwork.cannot_sign.one" if len(gaps) == 1 else "paperwork.cannot_sign.many",
                             id=notice.id, fields=[Msg(f"paperwork.gap.{g}") for g in gaps])
    when = as_datetime(as_of)
    c = copy.deepcopy(notice.data)
    c["date_cn"] = cn_date(when.date())
    c["issued_at"] = when.isoformat()
    c["draft"] = False
    c["signed_by"] = signed_by
    seq = None
    if c.get("numbered"):
        prefix = c.get("prefix") or cfg["organ"]["prefix"]
        mode = (cfg.get("numbering") or {}).get("mode", "sequence")
        if number:
            seq, text = take_given_number(session, prefix, when.year, number, cfg)
        elif mode == "manual":
            raise PlancycleError("paperwork.number_manual")
        else:
            seq, text = allocate_number(session, prefix, when.year, cfg)
        c["doc_number"] = text
    elif number:
        raise PlancycleError("paperwork.unnumbered_genre", genre=c.get("genre"))
    doc = documents.parse(markup(notice.kind, c))
    data = _render_doc(doc, c, "docx")
    notice.status = "issued"
    notice.data = c
    notice.title = doc.title
    notice.doc_number = c.get("doc_number")
    notice.year = when.year
    notice.seq = seq
    notice.template_sha = template_sha(notice.kind)
    notice.checksum = hashlib.sha256(data).hexdigest()
    notice.issued_at = when
    session.add(notice)
    session.flush()
    return notice


def render_notice(session: Session, notice_id: int, fmt: str = "docx") -> tuple[Notice, bytes]:
    """A filed document's bytes; a draft renders as a draft (no number), a record is not a document."""
    n = session.get(Notice, notice_id)
    if n is None:
        raise NotFound("paperwork.no_document", id=notice_id)
    if n.status not in ("issued", "draft"):
        raise PlancycleError("paperwork.is_record", id=notice_id, kind=n.kind)
    return n, render(n.kind, n.data, fmt)
