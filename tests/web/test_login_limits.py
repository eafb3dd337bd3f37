"""Sign-in hardening: the anonymous POST /login is bounded in size before it is read (413), and failed sign-ins
are throttled per client address (429) on top of the per-account lock-out."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
from sqlmodel import Session, select

from app.web import auth

from .conftest import PASSWORD, make_console_db


@pytest.fixture
def app(tmp_path):
    from app.web.server import create_app

    return create_app(make_console_db(tmp_path / "limits.db"), as_of="2019-06-05", flows="direct")


def client(app, ip="10.1.1.1"):
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False, client=(ip, 50000), follow_redirects=False)


def token(c) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)


def sign_in(c, username, password, **extra):
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token(c), **extra})


def failures(app, username) -> int:
    from stages.store.models import UserAccount

    with Session(app.state.pc.read_engine) as s:
        return s.exec(select(UserAccount.failed_logins).where(UserAccount.username == username)).one()


# -- size -----------------------------------------------------------------------------------------------------------
def test_a_large_sign_in_body_is_refused_unread(app):
    c = client(app)
    r = sign_in(c, "hqb", "wrong", padding="x" * 9000)
    assert r.status_code == 413
    assert auth.TOO_LARGE in r.text and "Traceback" not in r.text
    assert failures(app, "hqb") == 0  # nothing was read, so nothing was counted
    assert sign_in(c, "hqb", PASSWORD, padding="x" * 7000).status_code == 303  # under the limit: as before


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(app):
    c = client(app)
    tok = token(c)

    def body():
        yield f"csrf_token={tok}&username=hqb&password={PASSWORD}&pad=".encode()
        for _ in range(64):
            yield b"y" * 1024

    r = c.post("/login", content=body(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and auth.TOO_LARGE in r.text


def test_the_reader_stops_at_the_limit():
    """Streamed in 1 KB pieces, a 1 MB body is read only until it passes 8 KB."""
    from starlette.requests import Request

    asked = []

    async def receive():
        asked.append(1)
        return {"type": "http.request", "body": b"z" * 1024, "more_body": len(asked) < 1024}

    scope = {"type": "http", "method": "POST", "path": "/login", "headers": [], "query_string": b"", "session": {}}
    with pytest.raises(auth.BodyTooLarge):
        asyncio.run(auth.login_form(Request(scope, receive)))
    assert len(asked) == 9


def test_a_declared_length_is_refused_before_the_body_is_sent(tmp_path):
    """A real server: `Content-Length: 50 MB` and no body at all yet — the answer is 413 at once."""
    import threading

    import uvicorn

    from app.web.server import create_app

    app = create_app(make_console_db(tmp_path / "real.db"), as_of="2019-06-05", flows="direct")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 52428800\r\n\r\nusername=a")
            head = s.recv(4096).decode("utf-8", "replace")
        assert head.startswith("HTTP/1.1 413"), head[:200]
    finally:
        server.should_exit = True
        t.join(timeout=10)


# -- failures per address ---------------------------------------------------------------------------------------------
def test_twenty_failures_from_one_address_hold_it_off(app):
    now = [1000.0]
    app.state.login_throttle = auth.LoginThrottle(clock=lambda: now[0])
    c = client(app, "10.2.2.2")
    for n in range(20):  # twenty different names: no single account's lock-out is reached
        assert sign_in(c, f"nobody{n}", "guess").status_code == 401
    r = sign_in(c, "hqb", PASSWORD)  # even the right password is not checked now
    assert r.status_code == 429 and auth.TOO_MANY in r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 600
    assert failures(app, "hqb") == 0
    assert sign_in(client(app, "10.3.3.3"), "hqb", PASSWORD).status_code == 303  # another address: as before
    now[0] += 601  # ten minutes on
    assert sign_in(c, "hqb", PASSWORD).status_code == 303


def test_successes_do_not_count_and_the_window_slides(app):
    now = [0.0]
    app.state.login_throttle = auth.LoginThrottle(limit=3, window=600, clock=lambda: now[0])
    c = client(app)
    for _ in range(5):
        assert sign_in(c, "swj", PASSWORD).status_code == 303
    for step in (0, 100, 200):
        now[0] = step
        assert sign_in(c, "nobody", "x").status_code == 401
    now[0] = 599
    assert sign_in(c, "swj", PASSWORD).status_code == 429
    now[0] = 601  # the first failure is older than the window: one more try
    assert sign_in(c, "nobody", "x").status_code == 401
    assert sign_in(c, "swj", PASSWORD).status_code == 429


def test_a_forged_forwarded_for_does_not_change_the_address(app, monkeypatch):
    monkeypatch.delenv("PLANCYCLE_TRUSTED_PROXIES", raising=False)
    app.state.login_throttle = auth.LoginThrottle(limit=3)
    c = client(app, "10.4.4.4")
    for n in range(3):
        c.headers["X-Forwarded-For"] = f"192.0.2.{n}"
        assert sign_in(c, "nobody", "x").status_code == 401
    c.headers["X-Forwarded-For"] = "192.0.2.99"
    assert sign_in(c, "hqb", PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app, monkeypatch):
    monkeypatch.setenv("PLANCYCLE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    app.state.login_throttle = auth.LoginThrottle(limit=3)
    proxy = client(app, "10.0.0.5")
    for _ in range(3):  # the client writes its own XFF entry; the proxy appends the address it saw
        proxy.headers["X-Forwarded-For"] = "6.6.6.6, 198.51.100.7"
        assert sign_in(proxy, "nobody", "x").status_code == 401
    proxy.headers["X-Forwarded-For"] = "198.51.100.7"
    assert sign_in(proxy, "hqb", PASSWORD).status_code == 429
    proxy.headers["X-Forwarded-For"] = "198.51.100.8"  # someone else behind the same proxy
    assert sign_in(proxy, "hqb", PASSWORD).status_code == 303


def test_the_throttle_forgets_old_addresses_and_stays_bounded():
    now = [0.0]
    t = auth.LoginThrottle(limit=2, window=10, clock=lambda: now[0])
    t.MAX_ADDRESSES = 100
    for n in range(250):
        now[0] = n * 0.01
        t.failed(f"a{n}")
    assert len(t._failures) <= 100
    now[0] = 100
    t.failed("b")
    assert list(t._failures) == ["b"]
    assert t.wait("b") == 0
    t.failed("b")
    assert t.wait("b") == 10
