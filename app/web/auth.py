"""Sign-in, sessions and CSRF for the web console.

The session is Starlette's signed cookie (itsdangerous), HttpOnly, SameSite=Lax, ``Secure`` when
``PLANCYCLE_SECURE_COOKIES=1`` (behind the office's TLS reverse proxy), and holds only the username, the time the
password was last set (a password change or a disabled account ends every session) and the CSRF token. Every
POST carries that token (form field ``csrf_token`` or header ``X-CSRF-Token``); a request without it is refused
with 403 before anything is read.

The signing secret is ``PLANCYCLE_SECRET`` or, by default, a random one kept in the database (``app_setting``),
so sessions survive a restart and several web processes over one database agree.
"""

from __future__ import annotations

import hmac
import os
import secrets

from sqlmodel import Session, select

from stages.models import AppSetting, UserAccount

SESSION_COOKIE = "plancycle_session"
SESSION_HOURS = 10


class NeedLogin(Exception):
    """No signed-in user: pages redirect to /login, /api/ answers 401."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


def session_secret(engine) -> str:
    env = os.environ.get("PLANCYCLE_SECRET")
    if env:
        return env
    with Session(engine) as s:
        row = s.get(AppSetting, "session_secret")
        if row is None:
            row = AppSetting(key="session_secret", value=secrets.token_urlsafe(48))
            s.add(row)
            try:
                s.commit()
            except Exception:  # another process made it first
                s.rollback()
                row = s.get(AppSetting, "session_secret")
        return row.value


def csrf_token(request) -> str:
    tok = request.session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        request.session["csrf"] = tok
    return tok


def check_csrf(request, form_value: str | None) -> None:
    expected = request.session.get("csrf")
    given = form_value or request.headers.get("x-csrf-token")
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CsrfRefused("请求缺少有效的安全令牌（CSRF），请刷新页面后重试")


def sign_in(request, username: str, password_changed_at) -> None:
    from stages.clock import epoch_seconds

    request.session.clear()
    request.session["uid"] = username
    request.session["iat"] = epoch_seconds()  # issued at: an absolute limit, and signing out ends older cookies
    request.session["pwd"] = password_changed_at.isoformat() if password_changed_at else ""
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request, engine=None) -> None:
    """Clear the browser's session and, server-side, refuse every cookie issued to this user before now (a copied
    cookie does not outlive the sign-out)."""
    from stages.clock import epoch_seconds

    uid = request.session.get("uid")
    request.session.clear()
    if uid and engine is not None:
        with Session(engine) as s:
            key = f"signed_out:{uid}"
            row = s.get(AppSetting, key) or AppSetting(key=key, value="0")
            row.value = str(epoch_seconds())
            s.add(row)
            s.commit()


def current_user(request, session: Session) -> UserAccount:
    uid = request.session.get("uid")
    if not uid:
        raise NeedLogin()
    u = session.exec(select(UserAccount).where(UserAccount.username == uid)).first()
    pwd = u.password_changed_at.isoformat() if u and u.password_changed_at else ""
    from stages.clock import epoch_seconds

    iat = int(request.session.get("iat") or 0)
    out = session.get(AppSetting, f"signed_out:{uid}")
    if (u is None or u.disabled or request.session.get("pwd") != pwd or epoch_seconds() - iat > SESSION_HOURS * 3600
            or (out is not None and int(out.value) >= iat)):
        request.session.clear()
        raise NeedLogin()
    return u
