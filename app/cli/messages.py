"""The ``plancycle messages …`` commands: the outbox of messages to people (reminders), and delivering it.

    plancycle messages [--json] [--user U | --dept D] [--unread] [--channel C] [--status S] [--limit N]
    plancycle messages deliver [--as-of DAY] [--channel email|webhook] [--limit N] [--json]
    plancycle messages enqueue [--as-of DAY]         # reminders not yet messaged → outbox (the sweep does this)
    plancycle messages contact USER [--email ADDR] [--phone NUMBER]
    plancycle messages retry [--channel C]           # given-up rows back to pending

Listing never imports Prefect; ``deliver``
runs the ``deliver-messages`` flow when a Prefect API is there (as every CLI action does, ``flows.runner``) and
the same steps in this process otherwise.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from app.cli.common import H, _database_url, _engine
from app.lines import print_json as _print_json
from stages.ground.errors import PlancycleError

messages_app = typer.Typer(help=H("cli.help.messages_app"),
                           invoke_without_command=True)

def _session(write: bool = False):
    from sqlmodel import Session

    return Session(_engine(write=write))


def _dept_short(session, dept: str) -> str:
    """A department as the user typed it (short name, full name, id, alias) → its short name."""
    from sqlmodel import select

    from stages.definition.loader import load_cycle
    from stages.store.models import CycleRun

    for run in session.exec(select(CycleRun)).all():
        for d in load_cycle(run.spec_path).departments:
            if dept in (d.id, d.short, d.name) or dept in d.aliases:
                return d.short
    raise PlancycleError("cli.messages.unknown_dept", dept=dept)


def _line(m: dict, names: dict[str, str]) -> str:
    from stages.paperwork.messages import CHANNEL_ZH, RUNG_ZH, STATUS_ZH

    who = names.get(m["recipient"], m["recipient"])
    if m["channel"] == "email" and m.get("address") and m["address"] != m["recipient"]:
        who += f" <{m['address']}>"
    if m["channel"] == "console":
        state = "已读" if m["read_at"] else "未读"
    elif m["status"] == "sent":
        state = f"已送达 {m['sent_at'][:16].replace('T', ' ')}"
    elif m["status"] == "failed":
        nxt = m["next_attempt_at"]
        state = (f"发送失败（第{m['attempts']}次，" + (f"{nxt[:16].replace('T', ' ')} 重试）" if nxt else "已放弃）")
                 + (f"：{m['last_error']}" if m["last_error"] else ""))
    else:
        state = STATUS_ZH.get(m["status"], m["status"])
    return (f"#{m['id']:<5} {m['created_at'][:10]}  {RUNG_ZH.get(m['rung'], m['kind'])}  "
            f"{CHANNEL_ZH.get(m['channel'], m['channel'])}  {who}  {state}  {m['subject']}")


@messages_app.callback(help=H("cli.help.cmd_messages"))
def messages(ctx: typer.Context,
             as_json: bool = typer.Option(False, "--json"),
             user: Optional[str] = typer.Option(None, "--user", help=H("cli.help.messages_user")),
             dept: Optional[str] = typer.Option(None, "--dept", help=H("cli.help.messages_dept")),
             unread: bool = typer.Option(False, "--unread", help=H("cli.help.messages_unread")),
             channel: Optional[str] = typer.Option(None, "--channel", help=H("cli.help.messages_channel")),
             status: Optional[str] = typer.Option(None, "--status", help=H("cli.help.messages_status")),
             limit: int = typer.Option(200, "--limit", help=H("cli.help.messages_limit"))):
    """List messages (newest first); `messages deliver` sends what is due."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlmodel import select

    from stages.paperwork import messages as mg
    from stages.store.models import UserAccount

    if user and dept:
        raise PlancycleError("cli.messages.user_or_dept")
    if channel and channel not in mg.CHANNELS:
        raise PlancycleError(f"--channel must be one of {' / '.join(mg.CHANNELS)}, not {channel!r}")
    if status and status not in mg.STATUS_ZH:
        raise PlancycleError(f"--status must be one of {' / '.join(mg.STATUS_ZH)}, not {status!r}")
    with _session() as s:
        if user and s.exec(select(UserAccount.id).where(UserAccount.username == user)).first() is None:
            raise PlancycleError("cli.messages.no_user", user=user)
        short = _dept_short(s, dept) if dept else None
        rows = [mg.as_dict(m) for m in mg.query(s, user=user, dept=short, unread=unread, channel=channel,
                                                   status=status, limit=limit)]
        names = {u.username: u.display_name for u in s.exec(select(UserAccount))}
    if as_json:
        _print_json(rows)
        return
    unread_n = sum(1 for m in rows if m["channel"] == "console" and not m["read_at"])
    scope = f"{names.get(user, user)}（{user}）的" if user else f"{short}的" if short else ""
    typer.echo(f"{scope}消息 {len(rows)} 条" + (f"，其中站内未读 {unread_n} 条" if unread_n else "")
               + ("（仅显示最近的，--limit 可调）" if len(rows) >= limit else ""))
    for m in rows:
        typer.echo(_line(m, names))


@messages_app.command("deliver", help=H("cli.help.cmd_deliver"))
def deliver_cmd(as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.deliver_cmd_as_of")),
                channel: Optional[List[str]] = typer.Option(None, "--channel", help=H("cli.help.deliver_cmd_channel")),
                limit: Optional[int] = typer.Option(None, "--limit", help=H("cli.help.deliver_cmd_limit")),
                as_json: bool = typer.Option(False, "--json")):
    """Send the e-mail and webhook messages that are due; a channel that is down is recorded and retried later."""
    from stages.paperwork import messages as mg
    from stages.ground.clock import as_datetime

    chans = list(channel or mg.SENDABLE)
    for c in chans:
        if c not in mg.SENDABLE:
            raise PlancycleError(f"--channel must be email or webhook, not {c!r}")
    when = as_datetime(as_of) if as_of else None
    cfg = mg.load_config()
    eng = _engine(write=True)
    from flows.runner import api_for, mode

    how = mode()
    if how == "always" or (how == "auto" and api_for(_database_url())):
        from flows.delivery import deliver_messages
        from flows.runner import run_through_prefect

        out = run_through_prefect(deliver_messages, db=_database_url(), as_of=when, channels=chans, limit=limit,
                                  config_path=cfg.path, api_url=api_for(_database_url()))
    else:
        from sqlmodel import Session

        out = mg.deliver_pending(lambda: Session(eng), now=when, channels=chans, limit=limit, config=cfg)
    if as_json:
        _print_json(out)
        return
    for ch in chans:
        r = out.get(ch, {})
        name = mg.CHANNEL_ZH[ch]
        if "skipped" in r:
            typer.echo(f"{name}：未配置，跳过（见 config/messages.yaml）")
        else:
            typer.echo(f"{name}：取出 {r['claimed']} 条，送达 {r['sent']} 条，失败 {r['failed']} 条"
                       + (f"，放弃 {r['given_up']} 条" if r.get("given_up") else ""))


@messages_app.command("enqueue", help=H("cli.help.cmd_enqueue"))
def enqueue_cmd(as_of: Optional[str] = typer.Option(None, "--as-of")):
    """Turn the sweep's 提前提醒 / 催办 not yet messaged into messages (the sweep does it; this catches up)."""
    from stages.paperwork.messages import enqueue_reminders

    with _session(write=True) as s:
        n = enqueue_reminders(s, as_of)
        s.commit()
    typer.echo(f"新增消息 {n} 条")


@messages_app.command("contact", help=H("cli.help.cmd_contact"))
def contact_cmd(username: str,
                email: Optional[str] = typer.Option(None, "--email", help=H("cli.help.contact_cmd_email")),
                phone: Optional[str] = typer.Option(None, "--phone", help=H("cli.help.contact_cmd_phone"))):
    """Where a user gets messages: e-mail address and mobile number."""
    from stages.paperwork.messages import set_contact

    if email is None and phone is None:
        raise PlancycleError("cli.messages.email_or_phone")
    with _session(write=True) as s:
        u = set_contact(s, username, email=email, phone=phone, by="cli")
        s.commit()
        typer.echo(f"{u.display_name}（{u.username}）：邮箱 {u.email or '无'}，手机 {u.phone or '无'}")


@messages_app.command("retry", help=H("cli.help.cmd_retry"))
def retry_cmd(channel: Optional[str] = typer.Option(None, "--channel")):
    """Messages given up after their last attempt: back to pending, for the next delivery."""
    from stages.paperwork.messages import retry_given_up

    with _session(write=True) as s:
        n = retry_given_up(s, channel=channel)
        s.commit()
    typer.echo(f"{n} 条消息将重新发送")

