"""Delivering the outbox's e-mail and webhook rows: claim, send, record, release (``flows.delivery`` runs the steps
under Prefect's task retries; :func:`deliver_pending` runs them in one call). The senders themselves are
``stages.paperwork.channels``; the rows are written by ``stages.paperwork.messages``.

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

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, select

from stages.ground.clock import as_datetime
from stages.ground.clock import now as wall_now
from stages.ground.errors import PlancycleError
from stages.paperwork.channels import _err, _send_email, _send_webhooks
from stages.paperwork.message_settings import COUNT, SENDABLE, MessagesConfig, load_config
from stages.store.models import Message

log = logging.getLogger("plancycle.messages")


class ChannelUnavailable(PlancycleError):
    """Some claimed rows could not be sent for a reason that may pass (connection refused, 5xx, 429, timeout)."""

    def __init__(self, channel: str, stats: dict, error: str):
        self.channel, self.stats, self.error = channel, stats, error
        super().__init__("paperwork.channel_unavailable", channel=channel, unsent=stats.get("unsent", 0), error=error)

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

