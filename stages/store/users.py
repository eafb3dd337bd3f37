"""People who sign in: accounts, passwords (argon2), lock-out, and the Actor a signed-in user acts as.

Owns: ``add_user``, ``list_users``, ``disable_user``, ``set_password``, ``import_users`` (one CSV line per
liaison), ``authenticate`` (with lock-out after repeated failures) and ``actor_for``. Passwords are hashed with
argon2id (argon2-cffi's defaults); nothing else about a password is stored. Does not own: sessions and cookies
(the web adapter) or what a role may do (``stages.rules.identity`` and the services).

Every change to an account is written to the audit log of each run in the database (action ``user.*``), so
"who made 张三 a coordinator" has an answer. Services here take a Session and do not commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlmodel import Session, select

from stages.ground.clock import now
from stages.ground.errors import NotFound, PlancycleError
from stages.rules.identity import ROLES, Actor
from stages.store.models import AuditEvent, CycleRun, UserAccount

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")


class LoginRefused(PlancycleError):
    """Wrong name or password, a disabled account, or one locked after repeated failures."""


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise PlancycleError("store.password_too_short", least=MIN_PASSWORD)
    if len(password) > 256:
        raise PlancycleError("store.password_too_long", most=256)
    return _hasher().hash(password)


def _check_dept(departments, dept: str | None) -> str | None:
    """A department's short name, checked against the departments every run in the database knows."""
    if dept is None:
        return None
    for d in departments:
        if dept in (d.id, d.short, d.name) or dept in d.aliases:
            return d.short
    raise NotFound("store.unknown_department", dept=dept)


def _audit_all(session: Session, action: str, target: str, by: str, why: str | None = None, data: dict | None = None):
    """An account change is recorded in every run of the database (accounts are per database, runs per cycle)."""
    when = now()
    for run in session.exec(select(CycleRun)).all():
        session.add(AuditEvent(run_id=run.id, at=when, recorded_at=when, actor=by, action=action, target=target,
                               why=why, data=data or {}, actor_user=by))


def add_user(session: Session, departments, *, username: str, role: str, password: str, name: str | None = None,
             dept: str | None = None, by: str = "admin") -> UserAccount:
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise PlancycleError("store.bad_username", username=username)
    if role not in ROLES:
        raise PlancycleError("store.bad_role", roles=" | ".join(ROLES), role=role)
    short = _check_dept(departments, dept)
    if role == "department" and short is None:
        raise PlancycleError("store.needs_dept", username=username)
    if session.exec(select(UserAccount).where(UserAccount.username == username)).first() is not None:
        raise PlancycleError("store.user_exists", username=username)
    display = (name or "").strip() or username
    if any(ord(c) < 32 for c in display) or len(display) > 40:
        raise PlancycleError("store.bad_display_name", most=40)
    u = UserAccount(username=username, display_name=display, role=role, dept=short,
                    password_hash=hash_password(password), created_at=now(), password_changed_at=now())
    session.add(u)
    session.flush()
    _audit_all(session, "user.added", username, by, data={"role": role, "dept": short})
    return u


def get_user(session: Session, username: str) -> UserAccount:
    u = session.exec(select(UserAccount).where(UserAccount.username == username)).first()
    if u is None:
        raise NotFound("store.no_user", username=username)
    return u


def list_users(session: Session) -> list[dict]:
    return [{"username": u.username, "name": u.display_name, "role": u.role, "dept": u.dept, "disabled": u.disabled,
             "locked_until": u.locked_until.isoformat() if u.locked_until else None,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in session.exec(select(UserAccount).order_by(UserAccount.role, UserAccount.dept, UserAccount.username))]


def disable_user(session: Session, username: str, *, by: str = "admin", enable: bool = False) -> UserAccount:
    u = get_user(session, username)
    u.disabled = not enable
    session.add(u)
    _audit_all(session, "user.enabled" if enable else "user.disabled", username, by)
    return u


def set_password(session: Session, username: str, password: str, *, by: str = "admin") -> UserAccount:
    u = get_user(session, username)
    u.password_hash = hash_password(password)
    u.password_changed_at = now()
    u.failed_logins, u.locked_until = 0, None
    session.add(u)
    _audit_all(session, "user.password_set", username, by)
    return u


def import_users(session: Session, departments, text: str, *, by: str = "admin") -> list[UserAccount]:
    """Bulk accounts from CSV with a header: ``username,name,role,dept,password`` (role defaults to department).

    All or nothing: the first bad line is refused with its line number and nothing is added.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    need = {"username", "password"}
    if not reader.fieldnames or not need <= {f.strip() for f in reader.fieldnames}:
        raise PlancycleError("store.csv_header")
    made = []
    for n, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            made.append(add_user(session, departments, username=row["username"], role=row.get("role") or "department",
                                 password=row["password"], name=row.get("name") or None, dept=row.get("dept") or None,
                                 by=by))
        except PlancycleError as exc:
            raise PlancycleError("store.csv_line", line=n, problem=exc.msg or str(exc)) from None
    return made


def authenticate(session: Session, username: str, password: str, *, at: dt.datetime | None = None) -> UserAccount:
    """The account for a correct name and password; refuses (one line, in Chinese) otherwise.

    After ``MAX_FAILURES`` wrong passwords in a row the account is locked for ``LOCK_MINUTES``; the caller commits
    either way, so failures are counted even though the sign-in is refused.
    """
    when = at or now()
    ok = verify_password(session, username, password)  # the slow hash, before this session writes anything
    u = session.exec(select(UserAccount).where(UserAccount.username == (username or "").strip())
                     .with_for_update()).first()  # concurrent wrong guesses each count (PostgreSQL)
    if u is None or u.disabled:
        raise LoginRefused("store.login_refused")  # a disabled account is not told apart from a wrong password
    if u.locked_until and u.locked_until > when:
        raise LoginRefused("store.login_locked", until=f"{u.locked_until:%H:%M}")
    if not ok:
        u.failed_logins += 1
        if u.failed_logins >= MAX_FAILURES:
            u.locked_until = when + dt.timedelta(minutes=LOCK_MINUTES)
            u.failed_logins = 0
        session.add(u)
        raise LoginRefused("store.login_refused")
    u.failed_logins, u.locked_until, u.last_login_at = 0, None, when
    session.add(u)
    return u


def verify_password(session: Session, username: str, password: str) -> bool:
    """The argon2 check alone, on a read of its own: done before the sign-in's write transaction begins, so the
    tens of milliseconds of hashing never hold the database's write lock (fifty people signing in at nine o'clock
    would otherwise queue every action behind them)."""
    from argon2.exceptions import InvalidHashError, VerificationError
    from sqlmodel import Session as _S

    with _S(_read_engine(session)) as s:
        h = s.exec(select(UserAccount.password_hash).where(UserAccount.username == (username or "").strip())).first()
    if h is None:
        _hasher().hash("timing-equaliser")  # the same work as a real check: names cannot be probed by timing
        return False
    try:
        return _hasher().verify(h, password or "")
    except (VerificationError, InvalidHashError):
        return False


_READ: dict = {}


def _read_engine(session: Session):
    """A deferred-transaction engine on the session's database (a SQLite write engine would take the lock)."""
    from stages.store.models import make_engine

    bind = session.get_bind()
    url = bind.url.render_as_string(hide_password=False)
    if url in ("sqlite://", "sqlite:///:memory:"):
        return bind
    if url not in _READ:
        _READ[url] = make_engine(url, write=False)
    return _READ[url]


def actor_for(u: UserAccount) -> Actor:
    return Actor(user=u.username, name=u.display_name, role=u.role, dept=u.dept)
