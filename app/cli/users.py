"""The ``plancycle user …`` commands: accounts for the web console (``plancycle web`` serves it:
``app.cli.serving``).

Passwords are read from standard input (``--password-stdin``), never from an argument: arguments are visible to
every user of the machine in the process list.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from app.cli.common import H, _engine
from stages.ground.errors import PlancycleError

user_app = typer.Typer(help=H("cli.help.user_app"),
                       no_args_is_help=True)


def _read_password(stdin: bool) -> str:
    if not stdin:
        raise PlancycleError("cli.user.password_stdin")
    pw = sys.stdin.readline().rstrip("\r\n")
    if not pw:
        raise PlancycleError("cli.user.no_password")
    return pw


def _departments(session):
    """Every department any run in the database knows (accounts are per database)."""
    from stages.definition.loader import load_cycle
    from stages.store.models import CycleRun
    from sqlmodel import select

    runs = session.exec(select(CycleRun)).all()
    if not runs:
        raise PlancycleError("cli.user.no_run")
    seen, out = set(), []
    for r in runs:
        for d in load_cycle(r.spec_path).departments:
            if d.short not in seen:
                seen.add(d.short)
                out.append(d)
    return out


def _session():
    from sqlmodel import Session

    return Session(_engine(write=True))


@user_app.command("add", help=H("cli.help.cmd_user_add"))
def user_add(username: str, role: str = typer.Option(..., "--role", help=H("cli.help.user_add_role")),
             dept: Optional[str] = typer.Option(None, "--dept", help=H("cli.help.user_add_dept")),
             name: Optional[str] = typer.Option(None, "--name", help=H("cli.help.user_add_name")),
             password_stdin: bool = typer.Option(False, "--password-stdin", help=H("cli.help.user_add_password_stdin"))):
    """Create an account."""
    from stages.store.users import add_user

    pw = _read_password(password_stdin)
    with _session() as s:
        u = add_user(s, _departments(s), username=username, role=role, password=pw, name=name, dept=dept)
        s.commit()
        typer.echo(f"user {u.username} added: {u.display_name}, {u.role}" + (f", {u.dept}" if u.dept else ""))


@user_app.command("list", help=H("cli.help.cmd_user_list"))
def user_list(as_json: bool = typer.Option(False, "--json")):
    """Every account, by role and department."""
    from stages.store.users import list_users

    with _session() as s:
        rows = list_users(s)
    if as_json:
        import json

        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for r in rows:
        typer.echo(f"{r['username']:<16} {r['name']:<10} {r['role']:<12} {r['dept'] or '':<12}"
                   + (" disabled" if r["disabled"] else "") + (f" locked until {r['locked_until']}" if r["locked_until"] else ""))


@user_app.command("disable", help=H("cli.help.cmd_user_disable"))
def user_disable(username: str, enable: bool = typer.Option(False, "--enable", help=H("cli.help.user_disable_enable"))):
    """Disable an account (its sessions end at once); --enable to undo."""
    from stages.store.users import disable_user

    with _session() as s:
        disable_user(s, username, enable=enable)
        s.commit()
    typer.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("passwd", help=H("cli.help.cmd_user_passwd"))
def user_passwd(username: str, password_stdin: bool = typer.Option(False, "--password-stdin")):
    """Set a new password (ends the user's sessions and clears a lock-out)."""
    from stages.store.users import set_password

    pw = _read_password(password_stdin)
    with _session() as s:
        set_password(s, username, pw)
        s.commit()
    typer.echo(f"password of {username} set")


@user_app.command("import", help=H("cli.help.cmd_user_import"))
def user_import(path: Path = typer.Argument(..., help=H("cli.help.user_import_arg"))):
    """Create many accounts at once, one CSV line per liaison; all or nothing."""
    from stages.store.users import import_users

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlancycleError("cli.user.cannot_read", path=str(path), reason=exc.strerror) from None
    if len(data) > 2 * 1024 * 1024:
        raise PlancycleError(f"{path}: over 2 MB; a users file is a few KB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # saved from Excel/WPS on a Chinese desktop
        except UnicodeDecodeError:
            raise PlancycleError(f"{path}: neither UTF-8 nor GB18030 text") from None
    with _session() as s:
        made = import_users(s, _departments(s), text)
        s.commit()
    typer.echo(f"{len(made)} users added from {path}")

