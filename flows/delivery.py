"""The ``deliver-messages`` flow: send the outbox's e-mail and webhook rows (``stages.paperwork.messages``).

One Prefect task per channel sends what the flow claimed for it; a failure that may pass (connection refused,
HTTP 5xx/429, a timeout) makes the task fail and **Prefect's task retries** (``retries`` /
``retry_delay_seconds``, from ``delivery.task_retries`` / ``task_retry_delay_seconds`` in
``config/messages.yaml``) send the rows still unsent, under the same claim and with the same message ids. After
the last try the flow records what is left ``failed`` with its next attempt (backoff); a later run picks it up.
Channels run side by side (``.submit``), so a dead channel does not hold up the other. No loop of our own.

Call :func:`deliver` after the sweep has committed (the sweep writes the rows with
``stages.paperwork.messages.enqueue_reminders`` in its own transaction and never waits on a channel), or deploy
``deliver_messages`` on a schedule of its own. Reading messages (the CLI's list, the console) never imports
this module: Prefect stays off read-only paths.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Optional

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session

from stages.paperwork import messages as mg
from stages.ground.clock import as_datetime
from stages.ground.i18n import Msg

from .common import engine_for

log = logging.getLogger("plancycle.flows.delivery")


def _factory(db: Optional[str]):
    eng = engine_for(db)
    return lambda: Session(eng)


@task(name="send-messages", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def send_channel(db: Optional[str], channel: str, token: str, now: Optional[dt.datetime],
                 config_path: Optional[str]) -> dict:
    """Send the rows claim ``token`` holds on ``channel``; raises (so Prefect retries) while some remain unsent."""
    cfg = mg.load_config(config_path)
    return mg.send_claimed(_factory(db), mg.Claim(channel=channel, token=token), now=now, config=cfg)


@flow(name="deliver-messages")
def deliver_messages(db: Optional[str] = None, as_of: Optional[dt.datetime] = None,
                     channels: Optional[list[str]] = None, limit: Optional[int] = None,
                     config_path: Optional[str] = None) -> dict:
    """Deliver the due e-mail and webhook messages: claim (committed) → send (a task per channel, with Prefect's
    retries) → record what is left failed with backoff. Returns per channel {claimed, sent, failed, given_up}."""
    cfg = mg.load_config(config_path)
    path = cfg.path
    now = as_datetime(as_of) if as_of is not None else None
    factory = _factory(db)
    out: dict[str, dict] = {}
    running = {}
    for ch in channels or mg.SENDABLE:
        if ch not in mg.SENDABLE:
            out[ch] = {"skipped": str(Msg("flows.not_a_sending_channel")), "skipped_code": "flows.not_a_sending_channel"}
            continue
        if not cfg.enabled(ch):
            out[ch] = {"skipped": str(Msg("flows.not_configured")), "skipped_code": "flows.not_configured"}
            continue
        c = mg.claim(factory, ch, now=now, limit=limit, config=cfg)
        if not c.ids:
            out[ch] = {"claimed": 0, "sent": 0, "failed": 0, "given_up": 0}
            continue
        delays = cfg.delivery.task_retry_delay_seconds or [0]
        sender = send_channel.with_options(retries=cfg.delivery.task_retries, retry_delay_seconds=delays)
        running[ch] = (c, sender.submit(db, ch, c.token, now, path))
    for ch, (c, future) in running.items():
        future.wait()
        result = future.result(raise_on_failure=False)  # after Prefect's last retry
        error = None
        if isinstance(result, BaseException) and not isinstance(result, mg.ChannelUnavailable):
            error = f"{ch}: {type(result).__name__}: {result}"[:300]
        mg.release(factory, c, now=now, config=cfg, error=error)
        out[ch] = mg.tally(factory, c)
    return out


def deliver(db: Optional[str] = None, as_of=None, *, channels: Optional[list[str]] = None,
            limit: Optional[int] = None, config_path: Optional[str] = None) -> dict:
    """Deliver what is due, after the caller's commit (the sweep flow calls it last). Never raises.

    Nothing due (or no channel configured): returns at once without a flow run — one indexed count, so a daily
    sweep in a demo costs nothing. Inside a flow run (the sweep) or with a Prefect API reachable, it runs the
    ``deliver-messages`` flow (a subflow of the sweep); otherwise the same steps in this process without Prefect's
    retries (``stages.paperwork.messages.deliver_pending``), never starting Prefect's embedded server.
    """
    try:
        cfg = mg.load_config(config_path)
        factory = _factory(db)
        with factory() as s:
            due = mg.due_count(s, channels or mg.SENDABLE, now=as_of, config=cfg)
        if not due:
            return {"due": 0}
        from prefect.context import FlowRunContext

        from .runner import api_for, mode

        if FlowRunContext.get() is not None or mode() == "always" or (mode() == "auto" and api_for(db)):
            return deliver_messages(db=db, as_of=as_datetime(as_of) if as_of else None,
                                    channels=list(channels) if channels else None, limit=limit,
                                    config_path=cfg.path)
        return mg.deliver_pending(factory, now=as_of, channels=channels or mg.SENDABLE, limit=limit, config=cfg)
    except Exception as exc:  # noqa: BLE001 - delivery must never fail the sweep that called it
        log.warning("message delivery failed: %s: %s", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
