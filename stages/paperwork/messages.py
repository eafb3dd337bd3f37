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

The steps of delivery and the guarantee they give are ``stages.paperwork.delivery``; the senders (SMTP, webhooks)
``stages.paperwork.channels``; the settings and the outbox's fixed words ``stages.paperwork.message_settings``. Their
names stay importable from here (``mg.deliver_pending``, ``mg.load_config``, ``mg.webhook_body`` …).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from functools import lru_cache
from typing import Iterable

from sqlalchemy import and_, case, func, literal, or_, update
from sqlmodel import Session, select

from stages.definition.calendar import calendar_for
from stages.definition.loader import load_cycle
from stages.ground.clock import as_datetime
from stages.ground.clock import now as wall_now
from stages.ground.errors import NotFound, PlancycleError
from stages.ground.paths import TEMPLATES_DIR
from stages.paperwork.channels import (  # noqa: F401  (importable from here as before)
    _err,
    _scrub,
    _send_email,
    _send_webhooks,
    _smtp_connect,
    dingtalk_signed,
    email_message,
    webhook_body,
    webhook_request,
)
from stages.paperwork.delivery import (  # noqa: F401  (importable from here as before)
    ChannelUnavailable,
    Claim,
    SessionFactory,
    _due,
    _record_given_up,
    _record_sent,
    claim,
    deliver_pending,
    due_count,
    release,
    retry_given_up,
    send_claimed,
    tally,
)
from stages.paperwork.message_settings import (  # noqa: F401  (importable from here as before)
    CHANNEL_ZH,
    CHANNELS,
    CONFIG,
    COUNT,
    RUNG_ZH,
    RUNGS,
    SENDABLE,
    STATUS_ZH,
    DeliverySettings,
    EmailSettings,
    Endpoint,
    MessagesConfig,
    Webhooks,
    config_path,
    external_id,
    load_config,
    reminder_key,
)
from stages.store.models import AuditEvent, CycleRun, Item, Message, Milestone, Reminder, UserAccount

TEMPLATES = TEMPLATES_DIR / "messages"
WEEKDAY_ZH = "一二三四五六日"


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
    return {run.id: load_cycle(run.spec_path).coordinator.short
            for run in session.exec(select(CycleRun).where(CycleRun.id.in_(list(run_ids))))}


def _calendars(session: Session, run_ids: Iterable[int]) -> dict[int, object]:
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
            raise NotFound("paperwork.no_message", id=message_id)
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
        raise NotFound("paperwork.no_user", user=username)
    changes = {}
    if email is not None:
        email = email.strip()
        if email and not _EMAIL.match(email):
            raise PlancycleError("paperwork.bad_email", email=email)
        changes["email"] = (u.email, email or None)
        u.email = email or None
    if phone is not None:
        phone = phone.strip().replace(" ", "")
        if phone and not _PHONE.match(phone):
            raise PlancycleError("paperwork.bad_phone", phone=phone)
        changes["phone"] = (u.phone, phone or None)
        u.phone = phone or None
    session.add(u)
    when = as_datetime(at)
    for run_id in session.exec(select(CycleRun.id)).all():
        session.add(AuditEvent(run_id=run_id, at=when, recorded_at=wall_now(), actor=by, action="user.contact_set",
                               target=username, data={k: {"old": a, "new": b} for k, (a, b) in changes.items()}))
    session.flush()
    return u
