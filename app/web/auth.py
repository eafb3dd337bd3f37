"""Sign-in, sessions and CSRF for the web console.

The session is Starlette's signed cookie (itsdangerous), HttpOnly, SameSite=Lax, ``Secure`` when
``PLANCYCLE_SECURE_COOKIES=1`` (behind the office's TLS reverse proxy), and holds only the username, the time the
password was last set (a password change or a disabled account ends every session) and the CSRF token. Every
POST carries that token (form field ``csrf_token`` or header ``X-CSRF-Token``); a request without it is refused
with 403 before anything is read.

The signing secret is ``PLANCYCLE_SECRET`` or, by default, a random one kept in the database (``app_setting``),
so sessions survive a restart and several web processes over one database agree.

Sign-in, the one POST anyone may send, is bounded twice before a password is checked:

- its body is at most :data:`LOGIN_MAX_BYTES` (8 KB; a real one is ~200 bytes): a larger ``Content-Length`` is
  refused (413) before any of the body is read, and a body sent without one (chunked) is read only until it
  passes the limit (:func:`login_form`);
- :class:`LoginThrottle`: after :data:`IP_FAILURES` failed sign-ins from one client address within
  :data:`IP_WINDOW` seconds, further attempts from it are refused (429, ``Retry-After``) until the oldest of them
  is that old — on top of the per-account lock-out (``stages.store.users``), so one address cannot try a password on
  every account in turn. Kept in this process's memory (``plancycle web`` is one process): a restart forgets it,
  and several processes would count apart. The address is the connection's (:func:`client_ip`), or, when that
  connection comes from a proxy named in ``PLANCYCLE_TRUSTED_PROXIES`` (addresses or networks, comma-separated;
  none by default), the last address in ``X-Forwarded-For`` that is not itself such a proxy.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import deque

from sqlmodel import Session, select

from stages.store.models import AppSetting, UserAccount

SESSION_COOKIE = "plancycle_session"
SESSION_HOURS = 10


class NeedLogin(Exception):
    """No signed-in user: pages redirect to /login, /api/ answers 401."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


LOGIN_MAX_BYTES = 8 * 1024
IP_FAILURES = 20
IP_WINDOW = 600  # seconds
TOO_LARGE = "登录请求过大（超过 8 KB），已拒绝"
TOO_MANY = "登录尝试过于频繁，请稍后再试"


class BodyTooLarge(Exception):
    """An anonymous POST larger than its limit: refused (413) without reading the rest of it."""


async def login_form(request, limit: int = LOGIN_MAX_BYTES):
    """The sign-in form, read only if it is at most ``limit`` bytes, and its CSRF token checked."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(TOO_LARGE)
    form = await _replayed(request, bytes(body)).form()
    check_csrf(request, form.get("csrf_token"))
    return form


def _replayed(request, body: bytes):
    """A request over the same scope (session included) whose body is ``body``, already read."""
    from starlette.requests import Request

    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def _networks(text: str | None) -> list:
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                pass  # not an address: trusts nothing
    return out


def _within(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks if n.version == ip.version)


def client_ip(request) -> str:
    """The client's address: the connection's, or, behind a proxy named in ``PLANCYCLE_TRUSTED_PROXIES``, the last
    ``X-Forwarded-For`` hop that is not a trusted proxy (the ones before it are the client's to write)."""
    peer = request.client.host if request.client else ""
    trusted = _networks(os.environ.get("PLANCYCLE_TRUSTED_PROXIES"))
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop
    return hops[0] if hops else peer


class LoginThrottle:
    """Failed sign-ins per client address in a sliding window (this process's memory, bounded)."""

    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int = IP_FAILURES, window: float = IP_WINDOW, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque:
        q = self._failures.get(address)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[address]
        return q

    def wait(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: now)."""
        with self._lock:
            now = self.clock()
            q = self._recent(address, now)
            if len(q) < self.limit:
                return 0
            return max(1, int(q[-self.limit] + self.window - now + 0.999))

    def failed(self, address: str) -> None:
        with self._lock:
            now = self.clock()
            q = self._recent(address, now)
            if not q:
                if len(self._failures) >= self.MAX_ADDRESSES:
                    for stale in [a for a, f in self._failures.items() if f[-1] <= now - self.window]:
                        del self._failures[stale]
                    while len(self._failures) >= self.MAX_ADDRESSES:  # the longest quiet goes first
                        del self._failures[min(self._failures, key=lambda a: self._failures[a][-1])]
                q = self._failures[address] = deque()
            q.append(now)


def login_throttle(app) -> LoginThrottle:
    """The app's throttle (one per app, made on first use)."""
    found = getattr(app.state, "login_throttle", None)
    if found is None:
        found = app.state.login_throttle = LoginThrottle()
    return found


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
    from stages.ground.clock import epoch_seconds

    request.session.clear()
    request.session["uid"] = username
    request.session["iat"] = epoch_seconds()  # issued at: an absolute limit, and signing out ends older cookies
    request.session["pwd"] = password_changed_at.isoformat() if password_changed_at else ""
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request, engine=None) -> None:
    """Clear the browser's session and, server-side, refuse every cookie issued to this user before now (a copied
    cookie does not outlive the sign-out)."""
    from stages.ground.clock import epoch_seconds

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
    from stages.ground.clock import epoch_seconds

    iat = int(request.session.get("iat") or 0)
    out = session.get(AppSetting, f"signed_out:{uid}")
    if (u is None or u.disabled or request.session.get("pwd") != pwd or epoch_seconds() - iat > SESSION_HOURS * 3600
            or (out is not None and int(out.value) >= iat)):
        request.session.clear()
        raise NeedLogin()
    return u
