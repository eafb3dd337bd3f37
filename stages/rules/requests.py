"""Request models: what each action takes, validated and normalised where a request enters (CLI, flow, web).

Owns: :class:`ActionBase` and the one model per action (``SubmitRequest``, ``ReviewRequest`` …), the rules for
free text (no control characters; line and paragraph separators normalised; stripped; bounded), for numbers
(``days`` / ``workdays`` 1…3660) and for dates (real calendar dates, 2000…2099), and :func:`first_error`,
which turns a pydantic ``ValidationError`` into the one line an adapter prints. Pure pydantic: no Prefect, no
database, so the CLI can refuse a bad request before anything heavy is imported.

Why so strict about text: a note, a title or a meeting place ends up in numbered 公文. A control character
stored once made every later document naming it fail to render; U+2028 / U+2029 / VT / FF / NEL injected
paragraphs. So such text is refused here, with a message naming the field (备注 / note: a catalogue code of its
own, ``rules.field.<name>``), and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Union, Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from stages.ground.i18n import Msg
from stages.rules.identity import Actor

# field → (longest allowed, may it hold several lines); a field's name as a person reads it (备注) is the catalogue's
# ``rules.field.<field>``
TEXT_FIELDS: dict[str, tuple[int, bool]] = {
    "note": (4000, True),
    "comments": (4000, True),
    "reason": (4000, True),
    "override_reason": (4000, True),
    "attendees": (4000, True),
    "title": (200, False),
    "contractor": (200, False),
    "contact": (200, False),
    "place": (200, False),
    "value": (200, False),
}
# identifiers and names a user types: one line, no control characters, bounded
NAME_FIELDS: dict[str, int] = {
    "item": 200, "milestone": 200, "by": 200, "dept": 200, "body": 200, "subject": 200, "key": 500, "cycle": 200,
    "db": 2000, "from_stage": 200, "files": 4096, "items": 200, "confirm": 200, "reject": 200, "topics": 200,
    "field": 40,
}
LIST_MAX = 500  # entries of a list field (items, topics, confirm …)
FILES_MAX = 20
MAX_DAYS = 3660  # ten years: longer than any cycle
DATE_MIN, DATE_MAX = dt.date(2000, 1, 1), dt.date(2099, 12, 31)

# normalised to a line break in multi-line text (refused in single-line text)
LINE_BREAKS = {"\u2028": "\n", "\u2029": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n"}


def _refuse(code: str, /, **params) -> PydanticCustomError:
    """A refusal pydantic carries to :func:`first_error`: the message code rides in the error's context."""
    msg = Msg(code, **params)
    return PydanticCustomError("plancycle", msg.render().replace("{", "{{").replace("}", "}}"), {"plancycle_msg": msg})


def _field(field: str) -> "Msg | str":
    """A field's name as the reader reads it: 备注 in Chinese, ``note`` (what the CLI and the API call it) in English;
    a field the catalogue does not name, as it is called."""
    from stages.ground.catalogue import CATALOGUE

    head, dot, key = field.partition(".")
    if dot and f"rules.field.{head}" in CATALOGUE:  # a document's part: changes.place
        return Msg(f"rules.field.{head}", name=key)
    if f"rules.field.{field}" in CATALOGUE:
        return Msg(f"rules.field.{field}")
    return field


def _control(ch: str) -> bool:
    """C0 (other than the line feed and tab this module handles), DEL and C1 — ESC, BEL, NUL, NEL …"""
    o = ord(ch)
    return o < 0x20 or 0x7F <= o <= 0x9F


def _bad_char(field: str, ch: str) -> PydanticCustomError:
    o = ord(ch)
    if 0xD800 <= o <= 0xDFFF:  # what Python makes of bytes that are not UTF-8 (surrogateescape)
        return _refuse("rules.not_utf8", field=_field(field))
    if unicodedata.category(ch) == "Cs":
        return _refuse("rules.not_utf8", field=_field(field))
    return _refuse("rules.control_character", field=_field(field), code=f"{o:04X}")


def clean_text(field: str, value: str, *, limit: int, multiline: bool) -> str:
    """The stored form of one free-text value, or a PydanticCustomError naming the field."""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # a web form's textarea posts CRLF
        for sep, repl in LINE_BREAKS.items():
            value = value.replace(sep, repl)
    else:
        value = value.replace("\t", " ")
        for ch in value:
            if ch in LINE_BREAKS or ch in "\r\n":
                raise _refuse("rules.one_line", field=_field(field), code=f"{ord(ch):04X}")
    for ch in value:
        if ch in "\n\t" and multiline:
            continue
        if _control(ch) or 0xD800 <= ord(ch) <= 0xDFFF:
            raise _bad_char(field, ch)
    value = value.strip()
    if multiline:
        value = "\n".join(line.rstrip() for line in value.split("\n"))
    if len(value) > limit:
        raise _refuse("rules.too_long", field=_field(field), length=len(value), limit=limit)
    return value


def clean_name(field: str, value: str, *, limit: int) -> str:
    for ch in value:
        if _control(ch) or ch in LINE_BREAKS or 0xD800 <= ord(ch) <= 0xDFFF:
            raise _bad_char(field, ch)
    value = value.strip()
    if len(value) > limit:
        raise _refuse("rules.too_long", field=_field(field), length=len(value), limit=limit)
    return value


def parse_when(field: str, value: Any) -> Optional[dt.datetime]:
    """A date or a time as the CLI and forms give it: YYYY-MM-DD (09:00, the start of the working day) or
    YYYY-MM-DDTHH:MM, Asia/Shanghai. Numbers are refused (pydantic would read 20190601 as seconds since 1970)."""
    from stages.ground.clock import as_datetime

    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise _refuse("rules.not_a_time", field=_field(field), value=value)
    if isinstance(value, str):
        text = clean_name(field, value, limit=64)
        if not text:
            return None
        try:
            when = as_datetime(text)
        except Exception:
            raise _refuse("rules.unreadable_time", field=_field(field), value=text) from None
    elif isinstance(value, (dt.date, dt.datetime)):
        when = as_datetime(value)
    else:
        raise _refuse("rules.not_a_date_value", field=_field(field), value=value)
    _in_range(field, when.date())
    return when


def parse_day(field: str, value: Any) -> Optional[dt.date]:
    if value is None or isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        text = clean_name(field, value, limit=64)
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise _refuse("rules.unreadable_day", field=_field(field), value=text) from None
    else:
        raise _refuse("rules.not_a_day", field=_field(field), value=value)
    _in_range(field, day)
    return day


def _in_range(field: str, day: dt.date) -> None:
    if not DATE_MIN <= day <= DATE_MAX:
        raise _refuse("rules.date_out_of_range", field=_field(field), day=day.isoformat(), first=DATE_MIN.year,
                      last=DATE_MAX.year)


class ActionBase(BaseModel):
    """Fields every action flow takes. In the Prefect UI these become the run form."""

    as_of: Optional[dt.datetime] = Field(None, description="when the action happened (Asia/Shanghai); default now")
    key: Optional[str] = Field(None, description="idempotency key; default a natural key for the request")
    db: Optional[str] = Field(None, description="SQLAlchemy URL; default $PLANCYCLE_DATABASE_URL or sqlite:///plancycle.db")
    cycle: Optional[str] = Field(None, description="cycle id, when the database holds several runs")
    actor: Optional[Actor] = Field(None, description="the acting identity (set by the web console; the CLI passes `by`)")

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if name in ("as_of", "at"):
            return parse_when(name, value)
        if name in ("due_from", "due_to", "new_due", "due"):
            return parse_day(name, value)
        if name in ("days", "workdays"):
            return _bounded_int(name, value)
        if name == "changes" and isinstance(value, dict):  # a document's free-text parts
            if len(value) > 10:
                raise _refuse("rules.too_many_changes", most=10)
            return {str(k): clean_text(f"changes.{k}", str(v), limit=2000, multiline=False) or ""
                    for k, v in value.items()}
        if name in TEXT_FIELDS and isinstance(value, str):
            limit, multiline = TEXT_FIELDS[name]
            text = clean_text(name, value, limit=limit, multiline=multiline)
            if not text:
                field = cls.model_fields.get(name)
                if field is not None and field.is_required():
                    raise _refuse("rules.empty", field=_field(name))
                return None
            return text
        if name in NAME_FIELDS:
            limit = NAME_FIELDS[name]
            if isinstance(value, str):
                return clean_name(name, value, limit=limit)
            if isinstance(value, (list, tuple)):
                most = FILES_MAX if name == "files" else LIST_MAX
                if len(value) > most:
                    raise _refuse("rules.too_many_entries", field=_field(name), count=len(value), most=most)
                return [clean_name(name, v, limit=limit) if isinstance(v, str) else v for v in value]
        return value


def _bounded_int(field: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _refuse("rules.not_whole_number", field=_field(field), value=value)
    try:
        n = int(value)
    except ValueError:
        raise _refuse("rules.not_whole_number", field=_field(field), value=value) from None
    if not 1 <= n <= MAX_DAYS:
        raise _refuse("rules.days_out_of_range", field=_field(field), most=MAX_DAYS, value=n)
    return n


class StoredFile(BaseModel):
    """An attachment already in the attachment store (``stages.store.files``): its digest, and its original name as data."""

    name: str = Field(max_length=200)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    type: str = Field("", max_length=10)


_NUMBER_TEXT = re.compile(r"([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+)\s*(.*)")
_UNIT_TEXT = re.compile(r"[^\d\s.,+\-=:;，。]{1,20}")


def parse_number(text: str, unit: str | None = None) -> tuple[float, str | None]:
    """A figure as an office types it → (value, unit): ``26.3``, ``26.3%``, ``1,190``, ``７６家`` (full-width digits),
    ``-0.8``. What follows the number must be a unit — the expected ``unit`` when one is given — and nothing else:
    ``1e3``, ``.5.5``, ``76亿元`` against 家 and ``七十六`` are refused (ValueError, with the reason)."""
    import unicodedata

    raw = unicodedata.normalize("NFKC", str(text or "")).strip()
    m = _NUMBER_TEXT.fullmatch(raw)
    if not m:
        raise ValueError(f"{text!r} is not a number" + (f" (expected e.g. 26.3{unit or ''})" if unit is not None else ""))
    value = float(m.group(1).replace(",", ""))
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a number: too large")
    rest = m.group(2).strip()
    if rest and not _UNIT_TEXT.fullmatch(rest):
        raise ValueError(f"{text!r} is not a number: {rest!r} after it")
    if rest and unit is not None and rest != unit:
        raise ValueError(f"{text!r}: the unit is {unit or 'none'}, not {rest}")
    return value, (rest or None)


class FigureIn(BaseModel):
    """An actual figure: what it measures (a target's ``of`` or an indicator's id or name; empty for a
    milestone's only target), the number, and optionally its unit and 数据来源."""

    of: str = Field("", max_length=200)
    value: float = Field(allow_inf_nan=False)
    unit: Optional[str] = Field(None, max_length=20)
    source: Optional[str] = Field(None, max_length=200)


class ReportParts(BaseModel):
    """A report's three parts: 进展, 存在问题, 下步安排."""

    progress: Optional[str] = Field(None, max_length=4000)
    problems: Optional[str] = Field(None, max_length=4000)
    next: Optional[str] = Field(None, max_length=4000)


class SubmitRequest(ActionBase):
    item: str = Field(description="item key, as the board shows it")
    milestone: str = Field(description="milestone id or name, as the cycle file gives them")
    by: str = Field(description="the submitting department (short name or id)")
    files: list[Union[StoredFile, str]] = Field(
        default_factory=list, description="attachments in the store (the web's uploads, the CLI's --file), or paths "
                                          "on this machine to copy into the store")
    note: Optional[str] = None
    figures: list[FigureIn] = Field(default_factory=list, max_length=50,
                                    description="actual figures against targets or indicators")
    report: Optional[ReportParts] = Field(None, description="进展 / 存在问题 / 下步安排")


class IndicatorRequest(ActionBase):
    indicator: str = Field(max_length=200, description="the indicator's id or name")
    year: int = Field(ge=2000, le=2099, description="the year the figure stands for")
    value: float = Field(allow_inf_nan=False, description="the figure, in the indicator's unit")
    source: Optional[str] = Field(None, max_length=200, description="数据来源")
    by: Optional[str] = Field(None, description="the unit recording it; default the cycle's coordinator")


class TriggerRequest(ActionBase):
    item: str
    milestone: str
    reason: str = Field(description="what calls for it (中期评估认为需要修改调整)")
    due: Optional[dt.date] = Field(None, description="its deadline, when the planned one has passed")
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class ReviewRequest(ActionBase):
    item: str
    milestone: str
    decision: Literal["accept", "return"]
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")
    comments: Optional[str] = Field(None, description="required when returning (退回)")


class WaiveRequest(ActionBase):
    item: str
    milestone: str
    reason: str
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class ApproveRequest(ActionBase):
    body: str = Field(description="approval body: a key of the cycle file's approval_bodies (or the body's name)")
    subject: str = Field(description="what was approved: the subject a gate's approval names in the cycle file")
    note: Optional[str] = None
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class AdvanceRequest(ActionBase):
    from_stage: Optional[str] = Field(None, description="the stage to leave; protects a retried request")
    override_reason: Optional[str] = Field(None, description="force a closed gate, with the reason recorded")
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class ExtendRequest(ActionBase):
    reason: str
    items: list[str] = Field(default_factory=list)
    milestone: Optional[str] = None
    due_from: Optional[dt.date] = None
    due_to: Optional[dt.date] = None
    days: Optional[int] = None
    workdays: Optional[int] = None
    new_due: Optional[dt.date] = None
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class ProposeRequest(ActionBase):
    dept: str
    title: str
    note: Optional[str] = None


class RegisterRequest(ActionBase):
    confirm: list[str]
    reject: list[str] = Field(default_factory=list)
    reason: Optional[str] = None
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class MeetingRequest(ActionBase):
    milestone: str = Field(description="the topic milestone whose review meeting this is (its id in the cycle file)")
    at: dt.datetime = Field(description="meeting time (Asia/Shanghai)")
    topics: list[str] = Field(default_factory=list, description="topic keys; or give dept")
    dept: Optional[str] = Field(None, description="batch every open topic this lead department leads")
    place: Optional[str] = None
    attendees: Optional[str] = None
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class ContractorRequest(ActionBase):
    topic: str
    contractor: str
    contact: str
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class CorrectRequest(ActionBase):
    item: str
    field: Literal["title", "contractor", "contractor_contact"] = Field(description="what is corrected")
    value: str
    reason: str
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class EditDocumentRequest(ActionBase):
    notice: int = Field(ge=1, description="the draft's id (plancycle notices)")
    changes: dict[str, str] = Field(description="field → new text: place, contact_person, contact_phone, "
                                                "contact_email, contact_address, signer, attendees, extra")
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


class SignDocumentRequest(ActionBase):
    notice: int = Field(ge=1, description="the draft's id (plancycle notices)")
    number: Optional[str] = Field(None, max_length=40, description="the 发文字号 the office's OA gave; default the "
                                                                   "register's next number")
    changes: dict[str, str] = Field(default_factory=dict, description="edits made as it is signed")
    by: Optional[str] = Field(None, description="the department acting; default the cycle's coordinator")


REQUESTS = (SubmitRequest, ReviewRequest, WaiveRequest, ApproveRequest, AdvanceRequest, ExtendRequest,
            ProposeRequest, RegisterRequest, MeetingRequest, ContractorRequest, CorrectRequest,
            EditDocumentRequest, SignDocumentRequest)


def first_error(exc: ValidationError) -> "Msg | str":
    """One line for a refused request: our own refusals as their message code (a :class:`Msg`, rendered where it is
    shown), pydantic's as ``field: what is wrong``."""
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc).splitlines()[0]
    e = errors[0]
    msg = e.get("msg", "invalid")
    if e.get("type") == "plancycle":
        if isinstance((e.get("ctx") or {}).get("plancycle_msg"), Msg):
            return e["ctx"]["plancycle_msg"]
        line = msg
    else:
        where = ".".join(str(p) for p in e.get("loc", ()) if not isinstance(p, int)) or "request"
        line = f"{where}: {msg[0].lower() + msg[1:] if msg else 'invalid'}"
        if e.get("type") == "missing":
            return Msg("rules.required", field=_field(where))
        elif "input" in e and not isinstance(e["input"], (dict, list)):
            shown = repr(e["input"])
            line += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    return " ".join(line.split("\n"))
