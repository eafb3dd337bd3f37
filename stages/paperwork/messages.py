"""Messages to people — not 公文: the outbox, its delivery, and the console's notification list.

Owns: the channel settings (``config/messages.yaml``, or the file ``PLANCYCLE_MESSAGES_CONFIG`` names), turning the
sweep's 提前提醒 / 催办 reminders into messages (:func:`enqueue_reminders`), delivering them by e-mail (SMTP) and
webhook (generic JSON, 企业微信/政务微信 and 钉钉 group robots) (:func:`deliver_pending`, or its steps :func:`claim`,
:func:`send_claimed`, :func:`release` as ``flows.delivery`` runs them under Prefect's task retries), and what a
signed-in user reads (:func:`messages_for`, :func:`mark_read`). Does not own: when the ladder fires
(``stages.engine.sweep``), numbered notices (``stages.paperwork.notices``), scheduling (``flows``). No Prefect here.

The outbox is the table ``message``: one row per (message, recipient, channel) — a liaison's console entry, the
same liaison's e-mail, the department's group robot — under a unique ``key``. For a reminder the key is
``reminder:<milestone id>:<due version>:<rung>:<recipient>:<channel>``, so enqueuing is ``INSERT … ON CONFLICT
DO NOTHING``: a second run, a retried sweep or a sweep that catches up adds nothing that is already there.
Console rows are delivered by being written (the console reads the table); e-mail and webhook rows wait
``pending`` for a sender.

**The delivery guarantee, as implemented.** A sender first *claims* due rows — status ``sending``, a fresh claim
token, ``claimed_at`` — and commits, *then* sends, then records each row ``sent`` (``… WHERE claim_token = mine
AND status = 'sending'``) and commits, one row at a time. So:

* locally, at most one successful record per key: a row moves to ``sent`` once, and only by the claim that holds it;
* a sender that crashes (SIGKILL, power) between handing a message to the server and recording it leaves the row
  ``sending``; when its lease (``delivery.lease_seconds`` of wall-clock time, renewed while the sender lives) has
  run out, the next delivery run claims it again and sends it once more **with the same id**: the SMTP
  ``Message-ID`` and the webhook ``Idempotency-Key`` / ``X-Plancycle-Message-Id`` header (and the generic body's
  ``id``) are derived from the key (``ext_id``), never from the attempt;
* exactly-once toward the other system is therefore the receiver's part: it must drop a second delivery of an id
  it has seen (mail archives and most mail clients thread or dedupe on Message-ID; a generic receiver must keep
  the ids it accepted). 企业微信 / 钉钉 robots do not dedupe: after such a crash the group sees the message twice.
  Nothing here can close that window — no protocol lets us send and record atomically — so the window is kept
  to one row: each is recorded the moment its send returns.

A channel that is down never blocks: failures are recorded per row (``failed``, ``last_error``, ``attempts``,
``next_attempt_at`` by ``delivery.backoff_seconds``; given up after ``max_attempts``, or at once for a permanent
refusal — an unknown mailbox, an HTTP 4xx), other channels and other endpoints carry on, and the sweep never waits:
it only writes rows, in its own transaction. Times: ``created_at`` / ``sent_at`` / ``next_attempt_at`` are on the
caller's clock (``now``, simulated in demos); leases are wall-clock (``stages.ground.clock.now``), since they are about
processes being alive.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, case, func, literal, or_, update
from sqlmodel import Session, select

from stages.ground.clock import as_datetime
from stages.ground.clock import now as wall_now
from stages.ground.paths import CONFIG_DIR, TEMPLATES_DIR
from stages.ground.errors import ConfigError, NotFound, PlancycleError
from stages.store.models import AuditEvent, CycleRun, Item, Message, Milestone, Reminder, UserAccount

log = logging.getLogger("plancycle.messages")

CONFIG = CONFIG_DIR / "messages.yaml"
TEMPLATES = TEMPLATES_DIR / "messages"
CHANNELS = ("console", "email", "webhook")
SENDABLE = ("email", "webhook")
RUNGS = ("advance", "urge")
RUNG_ZH = {"advance": "提前提醒", "urge": "催办"}
CHANNEL_ZH = {"console": "站内", "email": "邮件", "webhook": "群机器人"}
STATUS_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已送达", "failed": "发送失败"}
WEEKDAY_ZH = "一二三四五六日"
COUNT = {"preserve_rowcount": True}


# -- settings ------------------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmailSettings(_Strict):
    host: Optional[str] = None
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: Optional[str] = None
    password_env: Optional[str] = None
    sender: str = Field("plancycle <noreply@localhost>", alias="from")
    timeout_seconds: float = Field(10, gt=0, le=300)
    message_id_domain: Optional[str] = None  # default: the From address's domain


class Endpoint(_Strict):
    kind: Literal["generic", "wecom", "dingtalk"] = "generic"
    url: Optional[str] = None
    url_env: Optional[str] = None
    secret_env: Optional[str] = None  # dingtalk: the robot's 加签 secret; generic: HMAC-SHA256 of the body
    token_env: Optional[str] = None  # generic: sent as "Authorization: Bearer …"
    timeout_seconds: float = Field(10, gt=0, le=300)

    def resolved_url(self) -> str:
        url = self.url or (os.environ.get(self.url_env) if self.url_env else None)
        if not url:
            raise PlancycleError(f"webhook URL not set (environment variable {self.url_env})" if self.url_env
                                 else "webhook has neither url nor url_env")
        if not url.startswith(("http://", "https://")):
            raise PlancycleError("webhook URL must start with http:// or https://")
        return url

    def secret(self, name: Optional[str]) -> Optional[str]:
        if not name:
            return None
        value = os.environ.get(name)
        if not value:
            raise PlancycleError(f"environment variable {name} is not set")
        return value


class Webhooks(_Strict):
    default: Optional[Endpoint] = None
    departments: dict[str, Endpoint] = Field(default_factory=dict)


class DeliverySettings(_Strict):
    batch: int = Field(500, ge=1, le=100_000)
    lease_seconds: float = Field(600, gt=0)
    max_attempts: int = Field(8, ge=1, le=1000)
    backoff_seconds: list[float] = Field(default_factory=lambda: [60, 300, 1800, 7200, 21600], min_length=1)
    task_retries: int = Field(2, ge=0, le=20)
    task_retry_delay_seconds: list[float] = Field(default_factory=lambda: [5, 30])


class MessagesConfig(_Strict):
    base_url: str = ""
    sender: str = ""  # empty: the coordinator of the reminder's cycle
    email: Optional[EmailSettings] = None
    webhooks: Webhooks = Field(default_factory=Webhooks)
    contacts: dict[str, list[str]] = Field(default_factory=dict)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    path: Optional[str] = Field(None, exclude=True)

    def enabled(self, channel: str) -> bool:
        if channel == "console":
            return True
        if channel == "email":
            return bool(self.email and self.email.host)
        if channel == "webhook":
            return self.webhooks.default is not None or bool(self.webhooks.departments)
        return False

    def endpoint_for(self, dept: str) -> tuple[str, Endpoint] | None:
        """The group robot a department's messages go to: its own, else the default one."""
        if dept in self.webhooks.departments:
            return f"dept:{dept}", self.webhooks.departments[dept]
        if self.webhooks.default is not None:
            return "default", self.webhooks.default
        return None

    def endpoint(self, name: str | None) -> Endpoint | None:
        if name == "default":
            return self.webhooks.default
        if name and name.startswith("dept:"):
            return self.webhooks.departments.get(name[5:])
        return None


def config_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get("PLANCYCLE_MESSAGES_CONFIG") or CONFIG)


def load_config(path: str | os.PathLike | None = None) -> MessagesConfig:
    """The channel settings; the shipped file (or none at all) means console only."""
    p = config_path(path)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        if path is None and not os.environ.get("PLANCYCLE_MESSAGES_CONFIG"):
            return MessagesConfig()
        raise ConfigError("cannot read the messages settings", file=str(p)) from None
    return _load(str(p), stamp)


@lru_cache(maxsize=8)
def _load(path: str, _stamp: int) -> MessagesConfig:
    from stages.definition.yamlio import load_yaml

    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError("must be a mapping", file=doc.file, line=1)
    try:
        cfg = MessagesConfig.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        raise ConfigError(err.get("msg", "invalid value"), file=doc.file, line=doc.line(*loc),
                          path=".".join(str(x) for x in loc) or None) from None
    cfg.path = path
    return cfg


# -- keys ------------------------------------------------------------------------------------------------------------
def reminder_key(milestone_id: int, due_version: int, rung: str, recipient: str, channel: str) -> str:
    return f"reminder:{milestone_id}:{due_version}:{rung}:{recipient}:{channel}"


def external_id(key: str) -> str:
    """The id the receiver sees (Message-ID, Idempotency-Key): a function of the key, the same on every resend."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


# -- texts ------------------------------------------------------------------------------------------------------------
def _cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def item_names(kind: str, no: int | None, title: str) -> tuple[str, str]:
    """(full, short) as people say it: 课题7《…》 / 课题7, 专项规划《…》 / 《…》, 《纲要》, a task's title."""
    if kind == "topic" and no:
        return f"课题{no}《{title}》", f"课题{no}"
    if kind == "special_plan":
        short = title if len(title) <= 16 else title[:15] + "…"
        return f"专项规划《{title}》", f"《{short}》"
    if kind == "outline":
        return "《纲要》", "《纲要》"
    return title, title if len(title) <= 16 else title[:15] + "…"


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False,
                       keep_trailing_newline=False)


def render_reminder(context: dict) -> tuple[str, str]:
    """(subject, text) of a reminder message from ``templates/messages/reminder.j2`` (first line: the subject)."""
    out = _env().get_template("reminder.j2").render(**context).strip("\n")
    subject, _, text = out.partition("\n")
    return subject.strip(), text.strip("\n")


def _link(item_key: str) -> str:
    return "/items/" + urllib.parse.quote(item_key)


# -- enqueue ---------------------------------------------------------------------------------------------------------
def _insert_ignore(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _coordinators(session: Session, run_ids: Iterable[int]) -> dict[int, str]:
    """Each run's coordinator, who signs its messages when the settings name no sender."""
    from stages.definition.loader import load_cycle

    return {run.id: load_cycle(run.spec_path).coordinator.short
            for run in session.exec(select(CycleRun).where(CycleRun.id.in_(list(run_ids))))}


def _calendars(session: Session, run_ids: Iterable[int]) -> dict[int, object]:
    from stages.definition.loader import load_cycle
    from stages.engine import calendar_for

    out = {}
    for run in session.exec(select(CycleRun).where(CycleRun.id.in_(list(run_ids)))):
        out[run.id] = calendar_for(load_cycle(run.spec_path))
    return out


def enqueue_reminders(session: Session, as_of=None, *, cal=None, config: MessagesConfig | None = None) -> int:
    """Turn every 提前提醒 / 催办 reminder not yet messaged into outbox rows; returns the rows added. Does not commit.

    Set-based: one query finds the reminders that still matter and have no message yet — the milestone open
    (``open``/``returned``), at the reminder's due version, of an active run; a 提前提醒 only while it is still the
    latest rung (after a catch-up sweep fired 催办 the same day, only 催办 goes out) — one reads the recipients, and
    one ``INSERT … ON CONFLICT (key) DO NOTHING`` per 500 rows writes them. Recipients: the department's liaisons
    (``role = department``, ``dept`` = the owner, not disabled) in the console and, with an address and SMTP set,
    by e-mail; the department's extra ``contacts`` by e-mail; its group robot (or the default one) by webhook.
    ``cal``: the working-day calendar (the sweep passes its own); by default each run's.
    """
    cfg = config or load_config()
    when = as_datetime(as_of)
    day = when.date()
    R, M, I, C, Msg = Reminder, Milestone, Item, CycleRun, Message
    done = select(Msg.id).where(Msg.reminder_id == R.id).exists()
    rows = session.exec(
        select(R.id, R.run_id, R.milestone_id, R.due_version, R.rung, R.owner, R.due_date, M.item_key, M.ms_id,
               M.name, M.status, I.kind, I.no, I.title)
        .join(M, M.id == R.milestone_id).join(I, I.id == M.item_id).join(C, C.id == R.run_id)
        .where(R.rung.in_(RUNGS), C.status == "active", M.status.in_(("open", "returned")),
               M.due_version == R.due_version, or_(R.rung == "urge", M.ladder <= 1), ~done)
        .order_by(R.id)).all()
    if not rows:
        return 0
    owners = {r.owner for r in rows}
    people: dict[str, list[UserAccount]] = {}
    for u in session.exec(select(UserAccount).where(UserAccount.role == "department", UserAccount.dept.in_(owners),
                                                    UserAccount.disabled == False)  # noqa: E712
                          .order_by(UserAccount.username)):
        people.setdefault(u.dept, []).append(u)
    cals = {} if cal is not None else _calendars(session, {r.run_id for r in rows})
    email_on, base = cfg.enabled("email"), cfg.base_url.rstrip("/")
    senders = {} if cfg.sender else _coordinators(session, {r.run_id for r in rows})
    out: list[dict] = []
    for r in rows:
        liaisons = people.get(r.owner, [])
        ep = cfg.endpoint_for(r.owner)
        if not liaisons and ep is None and not (email_on and cfg.contacts.get(r.owner)):
            continue  # nobody to tell yet: looked at again next time (a liaison may have been added)
        c = cal if cal is not None else cals[r.run_id]
        full, short = item_names(r.kind, r.no, r.title)
        link = _link(r.item_key)
        ctx = {"rung": r.rung, "dept": r.owner, "item": full, "item_short": short, "milestone": r.name,
               "due_cn": _cn_date(r.due_date), "due_md": f"{r.due_date.month}月{r.due_date.day}日",
               "due_weekday": "星期" + WEEKDAY_ZH[r.due_date.weekday()],
               "days_left": max((r.due_date - day).days, 0),
               "workdays_left": max(c.workdays_ahead(day, r.due_date), 0) if r.due_date > day else 0,
               "workdays_late": max(c.workdays_between(r.due_date, day), 1) if r.rung == "urge" else 0,
               "as_of_cn": _cn_date(day), "returned": r.status == "returned", "url": (base + link) if base else link,
               "sender": cfg.sender or senders.get(r.run_id, "")}
        subject, text = render_reminder(ctx)
        data = {"due_date": r.due_date.isoformat(), "milestone_name": r.name, "item_title": r.title,
                "days_left": ctx["days_left"], "workdays_late": ctx["workdays_late"], "url": ctx["url"]}
        common = {"run_id": r.run_id, "kind": "reminder", "rung": r.rung, "reminder_id": r.id,
                  "milestone_id": r.milestone_id, "item_key": r.item_key, "ms_id": r.ms_id, "dept": r.owner,
                  "subject": subject, "text": text, "link": link, "created_at": when}

        def add(recipient: str, channel: str, address: str | None, extra: dict | None = None):
            key = reminder_key(r.milestone_id, r.due_version, r.rung, recipient, channel)
            row = {**common, "key": key, "ext_id": external_id(key), "recipient": recipient, "channel": channel,
                   "address": address, "data": {**data, **(extra or {})}, "status": "pending", "attempts": 0}
            if channel == "console":
                row.update(status="sent", sent_at=when)
            out.append(row)

        for u in liaisons:
            add(u.username, "console", None)
            if email_on and u.email:
                add(u.username, "email", u.email)
        if email_on:
            for addr in cfg.contacts.get(r.owner, []):
                add(addr, "email", addr)
        if ep is not None:
            add(r.owner, "webhook", ep[0], {"mentions": [u.phone for u in liaisons if u.phone]})
    insert = _insert_ignore(session)
    made = 0
    cols = Message.__table__.c.keys()
    for i in range(0, len(out), 500):
        chunk = [{c: row.get(c) for c in cols if c != "id"} for row in out[i:i + 500]]
        stmt = insert(Message.__table__).values(chunk).on_conflict_do_nothing(index_elements=["key"])
        made += session.execute(stmt, execution_options=COUNT).rowcount or 0
    session.flush()
    return made


# -- delivery --------------------------------------------------------------------------------------------------------
class ChannelUnavailable(PlancycleError):
    """Some claimed rows could not be sent for a reason that may pass (connection refused, 5xx, 429, timeout)."""

    def __init__(self, channel: str, stats: dict, error: str):
        self.channel, self.stats, self.error = channel, stats, error
        super().__init__(f"{channel}: {stats.get('unsent', 0)} message(s) not sent: {error}")

    def __reduce__(self):  # pickled by Prefect with a failed task's state
        return (self.__class__, (self.channel, self.stats, self.error))


@dataclass
class Claim:
    channel: str
    token: str
    ids: list[int] = field(default_factory=list)


SessionFactory = Callable[[], Session]


def _due(at: dt.datetime, lease: float):
    m = Message
    stale = wall_now() - dt.timedelta(seconds=lease)
    return or_(m.status == "pending",
               and_(m.status == "failed", m.next_attempt_at.is_not(None), m.next_attempt_at <= at),
               and_(m.status == "sending", m.claimed_at <= stale))


def claim(session_factory: SessionFactory, channel: str, *, now=None, limit: int | None = None,
          config: MessagesConfig | None = None) -> Claim:
    """Take up to ``limit`` due rows of ``channel`` for this sender and commit, before anything is sent.

    Due: ``pending``; ``failed`` whose ``next_attempt_at`` has come; ``sending`` whose claim was not renewed for
    ``lease_seconds`` (its sender died). On PostgreSQL concurrent senders skip each other's rows (SKIP LOCKED);
    on SQLite the write transaction (BEGIN IMMEDIATE) orders them.
    """
    cfg = config or load_config()
    at = as_datetime(now)
    c = Claim(channel=channel, token=uuid.uuid4().hex)
    n = limit or cfg.delivery.batch
    with session_factory() as s:
        due = and_(Message.channel == channel, _due(at, cfg.delivery.lease_seconds))
        q = select(Message.id).where(due).order_by(Message.id).limit(n)
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = list(s.exec(q).all())
        if ids:
            s.execute(update(Message).where(Message.id.in_(ids), due)
                      .values(status="sending", claim_token=c.token, claimed_at=wall_now()))
        s.commit()
        c.ids = list(s.exec(select(Message.id).where(Message.claim_token == c.token, Message.status == "sending")
                            .order_by(Message.id)).all()) if ids else []
    return c


def _record_sent(session_factory: SessionFactory, row_id: int, token: str, at: dt.datetime) -> bool:
    """The row is sent — if this claim still holds it. Committed at once: the crash window is one row wide."""
    with session_factory() as s:
        n = s.execute(update(Message).where(Message.id == row_id, Message.claim_token == token,
                                            Message.status == "sending")
                      .values(status="sent", sent_at=at, last_error=None, next_attempt_at=None),
                      execution_options=COUNT).rowcount
        s.commit()
    return bool(n)


def _record_given_up(session_factory: SessionFactory, row_id: int, token: str, error: str) -> None:
    with session_factory() as s:
        s.execute(update(Message).where(Message.id == row_id, Message.claim_token == token,
                                        Message.status == "sending")
                  .values(status="failed", last_error=error[:500], next_attempt_at=None))
        s.commit()


def _note_errors(session_factory: SessionFactory, token: str, errors: dict[int, str]) -> None:
    if not errors:
        return
    by_error: dict[str, list[int]] = {}
    for rid, err in errors.items():
        by_error.setdefault(err[:500], []).append(rid)
    with session_factory() as s:
        for err, ids in by_error.items():
            s.execute(update(Message).where(Message.id.in_(ids), Message.claim_token == token,
                                            Message.status == "sending").values(last_error=err))
        s.commit()


def _renew(session_factory: SessionFactory, token: str) -> int:
    with session_factory() as s:
        n = s.execute(update(Message).where(Message.claim_token == token, Message.status == "sending")
                      .values(claimed_at=wall_now()), execution_options=COUNT).rowcount
        s.commit()
    return n or 0


def send_claimed(session_factory: SessionFactory, c: Claim, *, now=None,
                 config: MessagesConfig | None = None) -> dict:
    """Send the rows this claim still holds (status ``sending``) and record each as it goes.

    Returns ``{"sent", "given_up", "unsent"}``. A permanent refusal is recorded at once (given up); rows that failed
    for a reason that may pass stay ``sending`` with their ``last_error`` and :class:`ChannelUnavailable` is raised,
    so a caller may retry (Prefect's task retries do, in ``flows.delivery``) before :func:`release` records them
    failed with backoff. Calling it again for the same claim sends only what is still unsent.
    """
    cfg = config or load_config()
    at = as_datetime(now)
    with session_factory() as s:
        mine = and_(Message.claim_token == c.token, Message.status == "sending")
        if s.execute(update(Message).where(mine).values(attempts=Message.attempts + 1),
                     execution_options=COUNT).rowcount:
            s.commit()
        rows = list(s.exec(select(Message).where(mine).order_by(Message.id)).all())
        s.expunge_all()
        s.rollback()
    stats = {"sent": 0, "given_up": 0, "unsent": 0, "lost": 0}
    transient: dict[int, str] = {}
    renew_every = cfg.delivery.lease_seconds / 3
    last_renew = time.monotonic()
    state = {"lost": False}

    def alive() -> bool:
        """Renew the lease now and then; a claim taken over (we stalled past it) stops this sender."""
        nonlocal last_renew
        if time.monotonic() - last_renew >= renew_every:
            last_renew = time.monotonic()
            if _renew(session_factory, c.token) == 0:
                state["lost"] = True
        return not state["lost"]

    def ok(r: Message) -> None:
        if _record_sent(session_factory, r.id, c.token, at):
            stats["sent"] += 1
        else:
            stats["lost"] += 1

    def fail(r: Message, error: str, permanent: bool) -> None:
        if permanent:
            _record_given_up(session_factory, r.id, c.token, error)
            stats["given_up"] += 1
        else:
            transient[r.id] = error

    if rows:
        if c.channel == "email":
            _send_email(rows, cfg, ok, fail, alive)
        elif c.channel == "webhook":
            _send_webhooks(rows, cfg, ok, fail, alive)
        else:
            for r in rows:
                fail(r, f"unknown channel {c.channel}", True)
    _note_errors(session_factory, c.token, transient)
    stats["unsent"] = len(transient)
    if transient:
        raise ChannelUnavailable(c.channel, stats, next(iter(transient.values())))
    return stats


def release(session_factory: SessionFactory, c: Claim, *, now=None, config: MessagesConfig | None = None,
            error: str | None = None) -> int:
    """After the last try of a claim: its rows still ``sending`` become ``failed`` with the next attempt set by
    ``backoff_seconds`` (none after ``max_attempts``: given up). Returns how many."""
    cfg = config or load_config()
    at = as_datetime(now)
    d = cfg.delivery
    with session_factory() as s:
        left = s.exec(select(Message.id, Message.attempts).where(Message.claim_token == c.token,
                                                                 Message.status == "sending")).all()
        by_attempts: dict[int, list[int]] = {}
        for rid, attempts in left:
            by_attempts.setdefault(attempts, []).append(rid)
        for attempts, ids in by_attempts.items():
            nxt = None
            if attempts < d.max_attempts:
                delay = d.backoff_seconds[min(max(attempts, 1), len(d.backoff_seconds)) - 1]
                nxt = at + dt.timedelta(seconds=delay)
            s.execute(update(Message).where(Message.id.in_(ids), Message.claim_token == c.token,
                                            Message.status == "sending")
                      .values(status="failed", next_attempt_at=nxt,
                              last_error=error[:500] if error else
                              func.coalesce(Message.last_error, "not sent (sender stopped)")))
        s.commit()
    return len(left)


def tally(session_factory: SessionFactory, c: Claim) -> dict:
    """What became of a claim's rows, read back from the table (a retried send counts only its own try)."""
    with session_factory() as s:
        got = dict(s.exec(select(Message.status, func.count()).where(Message.claim_token == c.token)
                          .group_by(Message.status)).all())
        given_up = s.exec(select(func.count()).select_from(Message).where(
            Message.claim_token == c.token, Message.status == "failed", Message.next_attempt_at.is_(None))).one()
    return {"claimed": len(c.ids), "sent": got.get("sent", 0), "failed": got.get("failed", 0) - given_up,
            "given_up": given_up}


def deliver_pending(session_factory: SessionFactory, *, now=None, channels: Iterable[str] = SENDABLE,
                    limit: int | None = None, config: MessagesConfig | None = None) -> dict:
    """Claim, send and record what is due on each channel, one channel after the other, without retrying within the
    call (the next call retries what is due again; ``flows.delivery`` adds Prefect's task retries). A channel that
    is not configured is skipped and its rows wait. Returns per channel ``{claimed, sent, failed, given_up}``."""
    cfg = config or load_config()
    out: dict[str, dict] = {}
    for ch in channels:
        if ch not in SENDABLE:
            continue
        if not cfg.enabled(ch):
            out[ch] = {"skipped": "not configured"}
            continue
        c = claim(session_factory, ch, now=now, limit=limit, config=cfg)
        if not c.ids:
            out[ch] = {"claimed": 0, "sent": 0, "failed": 0, "given_up": 0}
            continue
        error = None
        try:
            send_claimed(session_factory, c, now=now, config=cfg)
        except ChannelUnavailable as exc:
            log.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - a fault in one channel must not stop the others
            log.exception("delivery on %s stopped", ch)
            error = f"{ch}: {_err(exc)}"
        release(session_factory, c, now=now, config=cfg, error=error)
        out[ch] = tally(session_factory, c)
    return out


def due_count(session: Session, channels: Iterable[str] = SENDABLE, *, now=None,
              config: MessagesConfig | None = None) -> int:
    """How many rows a delivery run would claim now (one indexed count; nothing is changed)."""
    cfg = config or load_config()
    chans = [c for c in channels if c in SENDABLE and cfg.enabled(c)]
    if not chans:
        return 0
    return session.exec(select(func.count()).select_from(Message).where(
        Message.channel.in_(chans), _due(as_datetime(now), cfg.delivery.lease_seconds))).one()


def retry_given_up(session: Session, *, channel: str | None = None) -> int:
    """Rows given up (failed, no next attempt) back to pending, attempts reset. Does not commit."""
    q = update(Message).where(Message.status == "failed", Message.next_attempt_at.is_(None))
    if channel:
        q = q.where(Message.channel == channel)
    return session.execute(q.values(status="pending", attempts=0), execution_options=COUNT).rowcount or 0


# -- senders ----------------------------------------------------------------------------------------------------------
def _addr(text: str) -> tuple[str, str]:
    from email.utils import parseaddr

    name, addr = parseaddr(text)
    return name, addr


def email_message(r: Message, e: EmailSettings):
    """The mail for one row: UTF-8, Message-ID from the key (a resend carries the same id), auto-generated."""
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate

    name, sender = _addr(e.sender)
    domain = e.message_id_domain or (sender.rpartition("@")[2] or "plancycle.local")
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender)) if name else sender
    msg["To"] = r.address
    msg["Subject"] = r.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<{r.ext_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg["X-Plancycle-Message-Id"] = r.ext_id
    msg.set_content(r.text + "\n", charset="utf-8")
    return msg, sender


def _smtp_connect(e: EmailSettings):
    import smtplib

    if e.security == "ssl":
        smtp = smtplib.SMTP_SSL(e.host, e.port, timeout=e.timeout_seconds)
    else:
        smtp = smtplib.SMTP(e.host, e.port, timeout=e.timeout_seconds)
    smtp.ehlo()
    if e.security == "starttls":
        smtp.starttls()
        smtp.ehlo()
    if e.username:
        pw = os.environ.get(e.password_env or "")
        if not pw:
            smtp.close()
            raise PlancycleError(f"SMTP password not set (environment variable {e.password_env})")
        smtp.login(e.username, pw)
    return smtp


def _send_email(rows, cfg: MessagesConfig, ok, fail, alive) -> None:
    import smtplib

    e = cfg.email
    where = f"SMTP {e.host}:{e.port}"
    try:
        smtp = _smtp_connect(e)
    except (OSError, smtplib.SMTPException, PlancycleError) as exc:  # down, or its settings wrong: all wait
        for r in rows:
            fail(r, f"{where}: {_err(exc)}", False)
        return
    try:
        for i, r in enumerate(rows):
            if not alive():
                return
            msg, sender = email_message(r, e)
            try:
                refused = smtp.send_message(msg, from_addr=sender, to_addrs=[r.address])
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()), (550, b""))[0]
                fail(r, f"{where}: recipient refused ({code})", 500 <= code < 600)
                continue
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                for rest in rows[i:]:
                    fail(rest, f"{where}: {_err(exc)}", False)
                return
            except smtplib.SMTPResponseException as exc:
                fail(r, f"{where}: {exc.smtp_code} {_err(exc)}", 500 <= exc.smtp_code < 600)
                if exc.smtp_code == 421:  # the server is closing the connection
                    for rest in rows[i + 1:]:
                        fail(rest, f"{where}: 421 service not available", False)
                    return
                continue
            except smtplib.SMTPException as exc:
                fail(r, f"{where}: {_err(exc)}", False)
                continue
            if refused:
                fail(r, f"{where}: recipient refused", True)
            else:
                ok(r)
    finally:
        try:
            smtp.quit()
        except Exception:  # noqa: BLE001 - the messages are recorded already
            pass


def _err(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def webhook_body(kind: str, r: Message, base_url: str = "") -> dict:
    """What a webhook receives: 企业微信/政务微信 and 钉钉 robots' text message; generic: the message as JSON."""
    mentions = list((r.data or {}).get("mentions") or [])
    if kind == "wecom":
        text = {"content": r.text}
        if mentions:
            text["mentioned_mobile_list"] = mentions
        return {"msgtype": "text", "text": text}
    if kind == "dingtalk":
        content = r.text + ("\n" + " ".join(f"@{m}" for m in mentions) if mentions else "")
        return {"msgtype": "text", "text": {"content": content}, "at": {"atMobiles": mentions, "isAtAll": False}}
    return {"id": r.ext_id, "key": r.key, "kind": r.kind, "rung": r.rung, "dept": r.dept, "recipient": r.recipient,
            "subject": r.subject, "text": r.text, "link": r.link, "url": (r.data or {}).get("url"),
            "item": r.item_key, "milestone": r.ms_id, "due_date": (r.data or {}).get("due_date"),
            "created_at": r.created_at.isoformat() if r.created_at else None}


def dingtalk_signed(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """钉钉加签: ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    ts = str(timestamp_ms if timestamp_ms is not None else _epoch_ms())
    digest = hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def _epoch_ms() -> int:
    from stages.ground.clock import epoch_seconds

    return epoch_seconds() * 1000


def webhook_request(ep: Endpoint, r: Message) -> tuple[str, bytes, dict]:
    """(url, body, headers) for one row: the idempotency headers on every kind; 钉钉 signed; generic HMAC-signed."""
    url = ep.resolved_url()
    body = json.dumps(webhook_body(ep.kind, r), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": r.ext_id,
               "X-Plancycle-Message-Id": r.ext_id, "User-Agent": "plancycle"}
    if ep.kind == "dingtalk" and ep.secret_env:
        url = dingtalk_signed(url, ep.secret(ep.secret_env))
    elif ep.kind == "generic":
        if ep.secret_env:
            ts = str(_epoch_ms() // 1000)
            mac = hmac.new(ep.secret(ep.secret_env).encode("utf-8"), ts.encode() + b"." + body, hashlib.sha256)
            headers.update({"X-Plancycle-Timestamp": ts, "X-Plancycle-Signature": "sha256=" + mac.hexdigest()})
        if ep.token_env:
            headers["Authorization"] = "Bearer " + ep.secret(ep.token_env)
    return url, body, headers


def _scrub(text: str, url: str) -> str:
    """An error line without the URL's secret parts (a robot's key is in its query)."""
    for part in (url, url.split("?")[0]):
        if part:
            text = text.replace(part, "<url>")
    return re.sub(r"(key|access_token|sign)=[^&\s]+", r"\1=…", text)


def _send_webhooks(rows, cfg: MessagesConfig, ok, fail, alive) -> None:
    import httpx

    down: dict[str, str] = {}  # endpoint name → why: the rest of its rows wait for the next try
    with httpx.Client(follow_redirects=False) as client:
        for r in rows:
            name = r.address or ""
            if name in down:
                fail(r, down[name], False)
                continue
            if not alive():
                return
            ep = cfg.endpoint(name)
            if ep is None:
                fail(r, f"webhook {name}: no longer in the messages settings", False)
                continue
            try:
                url, body, headers = webhook_request(ep, r)
            except PlancycleError as exc:
                down[name] = f"webhook {name}: {exc}"
                fail(r, down[name], False)
                continue
            where = f"webhook {name} ({ep.kind})"
            try:
                resp = client.post(url, content=body, headers=headers, timeout=ep.timeout_seconds)
            except httpx.HTTPError as exc:
                down[name] = f"{where}: {_scrub(_err(exc), url)}"
                fail(r, down[name], False)
                continue
            code = resp.status_code
            if 200 <= code < 300:
                if ep.kind in ("wecom", "dingtalk"):
                    try:
                        answer = resp.json()
                    except ValueError:
                        answer = {}
                    errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
                    if errcode not in (0, "0"):
                        fail(r, f"{where}: errcode {errcode} {str(answer.get('errmsg', ''))[:120]}", False)
                        continue
                ok(r)
            elif code in (408, 425, 429) or code >= 500:
                fail(r, f"{where}: HTTP {code}", False)
                if code >= 500 or code == 429:
                    down[name] = f"{where}: HTTP {code}"
            else:
                fail(r, f"{where}: HTTP {code} (refused)", True)


# -- reading ------------------------------------------------------------------------------------------------------------
def as_dict(m: Message) -> dict:
    return {"id": m.id, "kind": m.kind, "rung": m.rung, "recipient": m.recipient, "channel": m.channel,
            "address": m.address if m.channel == "email" else None, "status": m.status, "subject": m.subject,
            "text": m.text, "link": m.link, "dept": m.dept,
            "created_at": m.created_at.isoformat() if m.created_at else None,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "read_at": m.read_at.isoformat() if m.read_at else None,
            "item": m.item_key, "milestone": m.ms_id, "attempts": m.attempts, "last_error": m.last_error,
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None}


def messages_for(session: Session, user: UserAccount | str, unread_only: bool = False, *,
                 limit: int | None = 200) -> list[Message]:
    """A user's console messages, newest first."""
    name = user if isinstance(user, str) else user.username
    q = select(Message).where(Message.recipient == name, Message.channel == "console")
    if unread_only:
        q = q.where(Message.read_at.is_(None))
    q = q.order_by(Message.created_at.desc(), Message.id.desc())
    if limit:
        q = q.limit(limit)
    return list(session.exec(q).all())


def unread_count(session: Session, user: UserAccount | str) -> int:
    name = user if isinstance(user, str) else user.username
    return session.exec(select(func.count()).select_from(Message).where(
        Message.recipient == name, Message.channel == "console", Message.read_at.is_(None))).one()


def mark_read(session: Session, user: UserAccount | str, message_id: int | None = None, *, at=None) -> int:
    """Mark one of the user's console messages read (``message_id``), or all of them; returns how many changed.
    Someone else's message is NotFound, as if it did not exist. Does not commit."""
    name = user if isinstance(user, str) else user.username
    when = as_datetime(at)
    mine = and_(Message.recipient == name, Message.channel == "console")
    if message_id is not None:
        m = session.get(Message, message_id)
        if m is None or m.recipient != name or m.channel != "console":
            raise NotFound(f"no message {message_id}")
        if m.read_at is not None:
            return 0
        q = update(Message).where(Message.id == message_id, mine, Message.read_at.is_(None))
    else:
        q = update(Message).where(mine, Message.read_at.is_(None))
    return session.execute(q.values(read_at=when), execution_options=COUNT).rowcount or 0


def query(session: Session, *, user: str | None = None, dept: str | None = None, unread: bool = False,
          channel: str | None = None, status: str | None = None, limit: int = 200) -> list[Message]:
    """The outbox for an operator (CLI): by recipient, department, channel, status; newest first."""
    q = select(Message)
    if user:
        q = q.where(Message.recipient == user)
    if dept:
        q = q.where(Message.dept == dept)
    if unread:
        q = q.where(Message.channel == "console", Message.read_at.is_(None))
    if channel:
        q = q.where(Message.channel == channel)
    if status:
        q = q.where(Message.status == status)
    return list(session.exec(q.order_by(Message.created_at.desc(), Message.id.desc()).limit(max(1, limit))).all())


def summary(session: Session) -> dict:
    """The planning office's view of delivery: rows per channel and status, and the failures grouped by channel,
    endpoint and error (a mail server that is down is one line, not a page of rows)."""
    counts: dict[str, dict[str, int]] = {}
    for ch, st, n in session.exec(select(Message.channel, Message.status, func.count())
                                  .group_by(Message.channel, Message.status)):
        counts.setdefault(ch, {})[st] = n
    endpoint = case((Message.channel == "email", literal("")), else_=func.coalesce(Message.address, ""))
    groups = session.exec(
        select(Message.channel, endpoint, Message.last_error, func.count(), func.max(Message.attempts),
               func.min(Message.next_attempt_at), func.sum(case((Message.next_attempt_at.is_(None), 1), else_=0)),
               func.min(Message.subject), func.count(func.distinct(Message.recipient)))
        .where(Message.status == "failed")
        .group_by(Message.channel, endpoint, Message.last_error)
        .order_by(func.count().desc()).limit(20)).all()
    failed = [{"channel": ch, "endpoint": ep or None, "error": err, "count": n, "attempts": att,
               "next_attempt_at": nxt.isoformat() if nxt else None, "given_up": int(gone or 0), "example": subj,
               "recipients": who}
              for ch, ep, err, n, att, nxt, gone, subj, who in groups]
    return {"counts": counts, "failed": failed}


# -- where a person gets messages --------------------------------------------------------------------------------------
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9-]{5,19}$")


def set_contact(session: Session, username: str, *, email: str | None = None, phone: str | None = None,
                by: str = "admin", at=None) -> UserAccount:
    """Set (or, with "", clear) a user's e-mail and mobile; audited in every run. Does not commit."""
    u = session.exec(select(UserAccount).where(UserAccount.username == username)).first()
    if u is None:
        raise NotFound(f"no user {username!r}")
    changes = {}
    if email is not None:
        email = email.strip()
        if email and not _EMAIL.match(email):
            raise PlancycleError(f"not an e-mail address: {email!r}")
        changes["email"] = (u.email, email or None)
        u.email = email or None
    if phone is not None:
        phone = phone.strip().replace(" ", "")
        if phone and not _PHONE.match(phone):
            raise PlancycleError(f"not a phone number: {phone!r}")
        changes["phone"] = (u.phone, phone or None)
        u.phone = phone or None
    session.add(u)
    when = as_datetime(at)
    for run_id in session.exec(select(CycleRun.id)).all():
        session.add(AuditEvent(run_id=run_id, at=when, recorded_at=wall_now(), actor=by, action="user.contact_set",
                               target=username, data={k: {"old": a, "new": b} for k, (a, b) in changes.items()}))
    session.flush()
    return u
