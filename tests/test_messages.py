"""Reminders as messages: the outbox, delivery to a real SMTP server and a real HTTP receiver, crashes, dead channels.

A local SMTP server (aiosmtpd on 127.0.0.1) and a local HTTP receiver (http.server in a thread) stand in for the
office's mail server and the group robots. The Changning cycle is swept on 2019-06-03 (提前提醒 for the 形成方案
due 06-10) and 2019-06-11 (催办), enqueuing in the sweep's transaction as the sweep flow does.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from stages.ground.errors import NotFound, PlancycleError
from stages.paperwork import messages as mg
from stages.store.models import Message, Reminder, UserAccount, create_schema, make_engine

from .conftest import CHANGNING, ROOT

PASSWORD = "test-pass-2019"
T1 = dt.datetime(2019, 6, 11, 9, 30)


# -- the other side: a mail server and a webhook receiver ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    def __init__(self):
        self.got: list[dict] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.got.append({"to": list(envelope.rcpt_tos), "id": msg["Message-ID"], "subject": str(msg["Subject"]),
                             "body": msg.get_body(("plain",)).get_content(), "auto": msg["Auto-Submitted"]})
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = MailSink()
    port = _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    sink.port = port
    yield sink
    ctl.stop()


class Receiver:
    def __init__(self):
        self.got: list[dict] = []
        self.fail_next = 0
        self.lock = threading.Lock()


@pytest.fixture
def hooks():
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                failing = rec.fail_next > 0
                rec.fail_next -= failing
                rec.got.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body),
                                "status": 503 if failing else 200})
            out = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
            self.send_response(503 if failing else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    rec.port = server.server_address[1]
    yield rec
    server.shutdown()
    server.server_close()


def write_config(path: Path, smtp_port: int, http_port: int, *, lease: float = 600, max_attempts: int = 3,
                 retries: int = 2) -> str:
    path.write_text(f"""
base_url: http://console.example
sender: 长宁区发改委规划科
email: {{host: 127.0.0.1, port: {smtp_port}, from: "规划科 <plan@changning.example>", timeout_seconds: 5}}
webhooks:
  default: {{kind: generic, url: "http://127.0.0.1:{http_port}/default"}}
  departments:
    区虹桥办: {{kind: generic, url: "http://127.0.0.1:{http_port}/hqb"}}
contacts:
  区商务委: [swj-office@changning.example]
delivery: {{lease_seconds: {lease}, backoff_seconds: [60, 300], max_attempts: {max_attempts},
           task_retries: {retries}, task_retry_delay_seconds: [0]}}
""", encoding="utf-8")
    return str(path)


# -- a database with a run, liaisons, two sweeps ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def spec():
    from .conftest import cycle

    return cycle(CHANGNING)


@pytest.fixture
def world(tmp_path, spec):
    from stages.engine import init_run
    from stages.store.users import add_user, disable_user

    url = f"sqlite:///{tmp_path / 'messages.db'}"
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        init_run(s, spec, as_of="2019-06-01")
        for username, role, dept, name, mail, phone in (
                ("hqb", "department", "区虹桥办", "虹桥办李", "li@hqb.example", "13800000001"),
                ("hqb2", "department", "区虹桥办", "虹桥办王", "wang@hqb.example", None),
                ("hqbx", "department", "区虹桥办", "虹桥办离职", "gone@hqb.example", None),
                ("swj", "department", "区商务委", "商务委赵", "zhao@swj.example", None),
                ("coord", "coordinator", None, "规划科王科长", "coord@fgw.example", None)):
            add_user(s, spec.departments, username=username, role=role, dept=dept, name=name, password=PASSWORD)
            mg.set_contact(s, username, email=mail, phone=phone)
        disable_user(s, "hqbx")
        s.commit()
    yield url, eng
    eng.dispose()


def sweep_and_enqueue(eng, spec, day: str, cfg) -> int:
    """What the sweep flow does: sweep, then enqueue in the same transaction, commit."""
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep

    cal = calendar_for(spec)
    with Session(eng) as s:
        sweep(s, {spec.id: spec}, cal, day)
        n = mg.enqueue_reminders(s, day, cal=cal, config=cfg)
        s.commit()
    return n


def rows(eng, **where) -> list[Message]:
    with Session(eng) as s:
        q = select(Message)
        for k, v in where.items():
            q = q.where(getattr(Message, k) == v)
        out = list(s.exec(q.order_by(Message.id)).all())
        s.expunge_all()
        return out


def factory(eng):
    return lambda: Session(eng)


@pytest.fixture
def swept(world, spec, smtp, hooks, tmp_path):
    url, eng = world
    cfg = mg.load_config(write_config(tmp_path / "messages.yaml", smtp.port, hooks.port))
    assert sweep_and_enqueue(eng, spec, "2019-06-03", cfg) > 0
    assert sweep_and_enqueue(eng, spec, "2019-06-11", cfg) > 0
    return url, eng, cfg


# -- enqueue --------------------------------------------------------------------------------------------------------------
def test_enqueue_writes_one_row_per_recipient_channel_and_rung_and_twice_adds_nothing(swept, spec):
    url, eng, cfg = swept
    mine = [m for m in rows(eng) if m.dept in ("区虹桥办", "区商务委")]
    got = Counter((m.dept, m.rung, m.channel, m.recipient) for m in mine)
    for rung in ("advance", "urge"):
        for who in ("hqb", "hqb2"):
            assert got[("区虹桥办", rung, "console", who)] == 1 and got[("区虹桥办", rung, "email", who)] == 1
        assert got[("区商务委", rung, "console", "swj")] == 1 and got[("区商务委", rung, "email", "swj")] == 1
        assert got[("区商务委", rung, "email", "swj-office@changning.example")] == 1  # a contact from the config
        assert got[("区虹桥办", rung, "webhook", "区虹桥办")] == 1 and got[("区商务委", rung, "webhook", "区商务委")] == 1
    assert not [m for m in mine if m.recipient in ("hqbx", "coord")]  # disabled; not a liaison
    assert len(got) == 18 and set(got.values()) == {1}  # per rung: 虹桥办 2+2+1, 商务委 1+2+1
    # every reminder of the two rungs reached its department's group robot (the default one for the others)
    with Session(eng) as s:
        reminders = s.exec(select(func.count()).select_from(Reminder).where(Reminder.rung.in_(mg.RUNGS))).one()
    assert len(rows(eng, channel="webhook")) == reminders
    # console rows are delivered by being written; e-mail and webhook rows wait for a sender
    assert {m.status for m in rows(eng, channel="console")} == {"sent"}
    assert {m.status for m in rows(eng, channel="email")} == {"pending"}
    # the text: the item as people say it, the milestone, the due date, days left / working days late, the link
    adv = next(m for m in mine if m.recipient == "hqb" and m.rung == "advance" and m.channel == "console")
    assert adv.subject == "【提前提醒】课题7“形成方案”6月10日到期"
    assert "课题7《“十四五”期间深入实施城市更新战略的目标、思路和举措研究》的“形成方案”应于2019年6月10日（星期一）前报送" in adv.text
    assert "距截止还有7天（4个工作日）" in adv.text and "http://console.example/items/topic-07" in adv.text
    assert "topic-07" not in adv.subject and adv.link == "/items/topic-07"
    urge = next(m for m in mine if m.recipient == "hqb" and m.rung == "urge" and m.channel == "console")
    assert urge.subject == "【催办】课题7“形成方案”已逾期1个工作日" and "截至2019年6月11日已逾期1个工作日，尚未报送" in urge.text
    # running it again — or the sweep again the same day — adds nothing
    before = len(rows(eng))
    with Session(eng) as s:
        assert mg.enqueue_reminders(s, "2019-06-11", config=cfg) == 0
        s.commit()
    assert sweep_and_enqueue(eng, spec, "2019-06-11", cfg) == 0
    assert len(rows(eng)) == before


# -- delivery --------------------------------------------------------------------------------------------------------------
def by_person(mails) -> dict:
    ids = defaultdict(set)
    for m in mails:
        rung = "advance" if m["subject"].startswith("【提前提醒】") else "urge"
        ids[(tuple(m["to"]), rung, m["subject"])].add(m["id"])
    return ids


def test_each_recipient_and_rung_is_delivered_exactly_once_by_email_and_webhook(swept, smtp, hooks):
    url, eng, cfg = swept
    n_mail, n_hook = len(rows(eng, channel="email")), len(rows(eng, channel="webhook"))
    t = time.perf_counter()
    out = mg.deliver_pending(factory(eng), now=T1, config=cfg)
    took = time.perf_counter() - t
    assert out["email"] == {"claimed": n_mail, "sent": n_mail, "failed": 0, "given_up": 0}
    assert out["webhook"] == {"claimed": n_hook, "sent": n_hook, "failed": 0, "given_up": 0}
    assert len(smtp.got) == n_mail and len(hooks.got) == n_hook
    mails = by_person(smtp.got)
    for who in ("li@hqb.example", "wang@hqb.example", "zhao@swj.example", "swj-office@changning.example"):
        for rung in ("advance", "urge"):
            hits = [ids for (to, r, _), ids in mails.items() if to == (who,) and r == rung]
            assert len(hits) == 1 and len(hits[0]) == 1, (who, rung, hits)
    assert not any("gone@hqb.example" in m["to"] or "coord@fgw.example" in m["to"] for m in smtp.got)
    one = next(m for m in smtp.got if m["to"] == ["li@hqb.example"] and "提前提醒" in m["subject"])
    assert one["subject"] == "【提前提醒】课题7“形成方案”6月10日到期" and one["auto"] == "auto-generated"
    assert "http://console.example/items/topic-07" in one["body"]
    # Message-ID and the webhooks' idempotency key are the row's ext_id, derived from the key
    sent = {m.ext_id: m for m in rows(eng, channel="email")}
    assert {m["id"] for m in smtp.got} == {f"<{x}@changning.example>" for x in sent}
    keys = [h["headers"]["Idempotency-Key"] for h in hooks.got]
    assert len(set(keys)) == n_hook and all(h["headers"]["X-Plancycle-Message-Id"] == h["headers"]["Idempotency-Key"]
                                            for h in hooks.got)
    hqb = [h for h in hooks.got if h["path"] == "/hqb"]
    assert len(hqb) == 2 and {h["json"]["rung"] for h in hqb} == {"advance", "urge"}
    assert {h["json"]["dept"] for h in hooks.got if h["path"] == "/default"} >= {"区商务委"}
    assert all(h["json"]["id"] == h["headers"]["Idempotency-Key"] for h in hooks.got)
    # recorded: every row sent once, at the caller's clock; a second run sends nothing
    assert {(m.status, m.attempts, m.sent_at) for m in rows(eng, channel="email")} == {("sent", 1, T1)}
    again = mg.deliver_pending(factory(eng), now=T1 + dt.timedelta(hours=1), config=cfg)
    assert again["email"]["claimed"] == 0 and again["webhook"]["claimed"] == 0
    assert len(smtp.got) == n_mail and len(hooks.got) == n_hook
    print(f"\n{n_mail} mails + {n_hook} webhook posts in {took:.2f} s "
          f"({(n_mail + n_hook) / took:.0f} deliveries/s, each recorded and committed)")


CHILD = r"""
import sys, time
from sqlmodel import Session
from stages.paperwork import delivery, messages as mg
from stages.store.models import make_engine

url, cfg_path, marker, channel = sys.argv[1:5]
eng = make_engine(url)
real, calls = delivery._record_sent, []  # where send_claimed looks it up

def record(factory, row_id, token, at):
    calls.append(row_id)
    if len(calls) == 2:  # the 2nd message has reached the server: stop here, before it is recorded
        open(marker, "w").write(str(row_id))
        time.sleep(600)
    return real(factory, row_id, token, at)

delivery._record_sent = record
mg.deliver_pending(lambda: Session(eng), now="2019-06-11T09:30", channels=[channel], config=mg.load_config(cfg_path))
"""


@pytest.mark.parametrize("channel", ["email", "webhook"])
def test_a_sender_killed_between_send_and_record_resends_once_with_the_same_id(swept, smtp, hooks, tmp_path, channel):
    url, eng, cfg = swept
    total = len(rows(eng, channel=channel))
    marker = tmp_path / "sent-not-recorded"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, cfg.path, str(marker), channel], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), child.stderr.read().decode()[-2000:] if child.poll() is not None else "timeout"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    received = smtp.got if channel == "email" else hooks.got
    assert len(received) == 2  # two reached the other side; the first was recorded, the second was not
    state = Counter(m.status for m in rows(eng, channel=channel))
    assert state == {"sent": 1, "sending": total - 1}

    # while the dead sender's lease runs, nobody takes its rows
    assert mg.deliver_pending(factory(eng), now=T1, channels=[channel], config=cfg)[channel]["claimed"] == 0
    # once it has run out (a config whose lease is already over: no waiting in a test), the next run resends
    expired = mg.load_config(write_config(tmp_path / "expired.yaml", smtp.port, hooks.port, lease=0.001))
    time.sleep(1.05)  # claim times are whole seconds (stages.ground.clock)
    out = mg.deliver_pending(factory(eng), now=T1, channels=[channel], config=expired)
    assert out[channel] == {"claimed": total - 1, "sent": total - 1, "failed": 0, "given_up": 0}

    # the other side got one message more than there are rows: the unrecorded one, again, under the same id
    assert len(received) == total + 1
    if channel == "email":
        ids = [m["id"] for m in received]
        per_person = by_person(received)
        assert all(len(v) == 1 for v in per_person.values())  # one distinct id per (recipient, rung)
    else:
        ids = [h["headers"]["Idempotency-Key"] for h in received]
        per_dept = defaultdict(set)
        for h in received:
            per_dept[(h["json"]["dept"], h["json"]["rung"], h["json"]["item"])].add(h["headers"]["Idempotency-Key"])
        assert all(len(v) == 1 for v in per_dept.values())
    assert len(set(ids)) == total and max(Counter(ids).values()) == 2 and sorted(Counter(ids).values()).count(2) == 1
    # locally: exactly one successful record per key
    done = rows(eng, channel=channel)
    assert {m.status for m in done} == {"sent"} and len({m.key for m in done}) == total
    resent = next(m for m in done if m.id == int(marker.read_text()))
    dup = next(i for i, n in Counter(ids).items() if n == 2)
    assert resent.ext_id in dup and resent.attempts == 2  # the row the dead sender had sent, not recorded


def test_a_dead_channel_fails_with_backoff_and_the_other_channel_delivers(world, spec, hooks, tmp_path, smtp):
    url, eng = world
    dead = _free_port()  # nothing listens here
    cfg = mg.load_config(write_config(tmp_path / "dead.yaml", dead, hooks.port))
    sweep_and_enqueue(eng, spec, "2019-06-03", cfg)
    n_mail, n_hook = len(rows(eng, channel="email")), len(rows(eng, channel="webhook"))
    t = time.perf_counter()
    out = mg.deliver_pending(factory(eng), now=T1, config=cfg)
    assert time.perf_counter() - t < 10  # refused at once, not a timeout per message
    assert out["email"] == {"claimed": n_mail, "sent": 0, "failed": n_mail, "given_up": 0}
    assert out["webhook"]["sent"] == n_hook and len(hooks.got) == n_hook
    mails = rows(eng, channel="email")
    assert {(m.status, m.attempts, m.next_attempt_at) for m in mails} == {("failed", 1, T1 + dt.timedelta(seconds=60))}
    assert all(f"SMTP 127.0.0.1:{dead}" in m.last_error and "refused" in m.last_error.lower() for m in mails)
    # not due before its backoff; due after it, and the next backoff is longer
    assert mg.deliver_pending(factory(eng), now=T1 + dt.timedelta(seconds=30), config=cfg)["email"]["claimed"] == 0
    t2 = T1 + dt.timedelta(seconds=61)
    assert mg.deliver_pending(factory(eng), now=t2, config=cfg)["email"]["failed"] == n_mail
    assert {(m.attempts, m.next_attempt_at) for m in rows(eng, channel="email")} == {(2, t2 + dt.timedelta(seconds=300))}
    # after max_attempts (3) the rows are given up: failed with no next attempt
    t3 = t2 + dt.timedelta(seconds=301)
    mg.deliver_pending(factory(eng), now=t3, config=cfg)
    assert {(m.status, m.attempts, m.next_attempt_at) for m in rows(eng, channel="email")} == {("failed", 3, None)}
    assert mg.deliver_pending(factory(eng), now=t3 + dt.timedelta(days=1), config=cfg)["email"]["claimed"] == 0
    # the mail server is back: `plancycle messages retry` puts them back, and they go out once each
    with Session(eng) as s:
        assert mg.retry_given_up(s, channel="email") == n_mail
        s.commit()
    live = mg.load_config(write_config(tmp_path / "live.yaml", smtp.port, hooks.port))
    assert mg.deliver_pending(factory(eng), now=t3, config=live)["email"]["sent"] == n_mail
    assert len(smtp.got) == n_mail and len({m["id"] for m in smtp.got}) == n_mail
    assert len(hooks.got) == n_hook  # the webhooks were not sent again


def test_a_refused_recipient_is_given_up_at_once_and_the_others_go_out(world, spec, hooks, tmp_path):
    from aiosmtpd.controller import Controller

    class Picky(MailSink):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("wang@"):
                return "550 5.1.1 no such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    sink, port = Picky(), _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        url, eng = world
        cfg = mg.load_config(write_config(tmp_path / "picky.yaml", port, hooks.port))
        sweep_and_enqueue(eng, spec, "2019-06-03", cfg)
        out = mg.deliver_pending(factory(eng), now=T1, channels=["email"], config=cfg)
    finally:
        ctl.stop()
    n = len(rows(eng, channel="email"))
    assert out["email"] == {"claimed": n, "sent": n - 1, "failed": 0, "given_up": 1}
    wang = next(m for m in rows(eng, channel="email") if m.recipient == "hqb2")
    assert (wang.status, wang.next_attempt_at) == ("failed", None) and "550" in wang.last_error
    assert len(sink.got) == n - 1


# -- webhook shapes --------------------------------------------------------------------------------------------------------
def _row(**kw) -> Message:
    base = dict(id=1, run_id=1, key="reminder:1:1:urge:区虹桥办:webhook", ext_id=mg.external_id("k"), kind="reminder",
                rung="urge", dept="区虹桥办", recipient="区虹桥办", channel="webhook", address="default",
                item_key="topic-07", ms_id="kickoff", subject="【催办】课题7“开题”已逾期2个工作日", text="区虹桥办：\n课题7…",
                link="/items/topic-07",
                data={"mentions": ["13800000001"], "url": "http://console.example/items/topic-07"},
                created_at=dt.datetime(2019, 7, 23, 9))
    base.update(kw)
    return Message(**base)


def test_webhook_bodies_wecom_dingtalk_with_sign_and_generic(monkeypatch):
    import base64
    import hashlib
    import hmac
    import urllib.parse

    r = _row()
    assert mg.webhook_body("wecom", r) == {"msgtype": "text", "text": {"content": r.text,
                                                                      "mentioned_mobile_list": ["13800000001"]}}
    ding = mg.webhook_body("dingtalk", r)
    assert ding["msgtype"] == "text" and ding["text"]["content"] == r.text + "\n@13800000001"
    assert ding["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
    assert mg.webhook_body("wecom", _row(data={}))["text"] == {"content": r.text}
    generic = mg.webhook_body("generic", r)
    assert generic["id"] == r.ext_id and generic["item"] == "topic-07" and generic["rung"] == "urge"

    # 钉钉加签: sign = urlencode(base64(HMAC-SHA256(secret, "{timestamp}\n{secret}"))), timestamp in ms
    secret = "SEC0123456789abcdef"
    url = mg.dingtalk_signed("https://oapi.dingtalk.com/robot/send?access_token=T", secret, 1563843600000)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    want = base64.b64encode(hmac.new(secret.encode(), f"1563843600000\n{secret}".encode(), hashlib.sha256).digest())
    assert q["timestamp"] == ["1563843600000"] and q["sign"] == [want.decode()] and q["access_token"] == ["T"]

    monkeypatch.setenv("HOOK_URL", "https://oapi.dingtalk.com/robot/send?access_token=T")
    monkeypatch.setenv("HOOK_SECRET", secret)
    ep = mg.Endpoint(kind="dingtalk", url_env="HOOK_URL", secret_env="HOOK_SECRET")
    url, body, headers = mg.webhook_request(ep, r)
    assert "timestamp=" in url and "&sign=" in url and json.loads(body) == ding
    assert headers["Idempotency-Key"] == headers["X-Plancycle-Message-Id"] == r.ext_id
    # a generic receiver can check an HMAC of the body
    monkeypatch.setenv("GEN_SECRET", "s3")
    url, body, headers = mg.webhook_request(mg.Endpoint(kind="generic", url="http://10.0.0.8/h",
                                                        secret_env="GEN_SECRET"), r)
    mac = hmac.new(b"s3", headers["X-Plancycle-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Plancycle-Signature"] == "sha256=" + mac
    # a URL whose variable is not set is a clear error, not a request
    with pytest.raises(PlancycleError, match=r"^未设置 webhook 地址（环境变量 PLANCYCLE_NOPE）$"):
        mg.webhook_request(mg.Endpoint(kind="wecom", url_env="PLANCYCLE_NOPE"), r)


def test_a_wecom_robot_gets_the_text_and_mentions_the_liaisons_phone(world, spec, hooks, tmp_path, smtp):
    url, eng = world
    p = tmp_path / "wecom.yaml"
    p.write_text(f"webhooks:\n  departments:\n    区虹桥办: {{kind: wecom, url: 'http://127.0.0.1:{hooks.port}/cgi-bin/webhook/send?key=SECRET'}}\n",
                 encoding="utf-8")
    cfg = mg.load_config(p)
    sweep_and_enqueue(eng, spec, "2019-06-03", cfg)
    assert mg.deliver_pending(factory(eng), now=T1, config=cfg)["webhook"]["sent"] == 1
    got = hooks.got[0]
    assert got["json"]["msgtype"] == "text" and got["json"]["text"]["mentioned_mobile_list"] == ["13800000001"]
    assert got["json"]["text"]["content"].startswith("区虹桥办：\n课题7《")  # the text; the subject line is e-mail's
    assert got["headers"]["Idempotency-Key"] == got["headers"]["X-Plancycle-Message-Id"]


# -- reading ---------------------------------------------------------------------------------------------------------------
def test_messages_for_and_mark_read_are_per_user(swept):
    url, eng, cfg = swept
    with Session(eng) as s:
        mine = mg.messages_for(s, "hqb")
        assert [m.rung for m in mine] == ["urge", "advance"] and mg.unread_count(s, "hqb") == 2
        assert mg.mark_read(s, "hqb", mine[0].id, at=T1) == 1
        assert mg.mark_read(s, "hqb", mine[0].id, at=T1) == 0
        with pytest.raises(NotFound, match=f"^没有消息 {mine[1].id}$"):
            mg.mark_read(s, "hqb2", mine[1].id)  # someone else's: as if it did not exist
        s.commit()
        assert [m.id for m in mg.messages_for(s, "hqb", unread_only=True)] == [mine[1].id]
        assert mg.unread_count(s, "hqb2") == 2  # read state is per user
        assert mg.mark_read(s, "hqb2") == 2 and mg.unread_count(s, "hqb2") == 0


# -- schema 2 → 3 --------------------------------------------------------------------------------------------------------------
def test_a_schema_2_database_upgrades_to_the_current_schema_keeping_its_data(tmp_path, spec):
    import sqlite3

    from sqlalchemy import inspect

    from stages.store.models import SCHEMA_VERSION, check_schema, schema_version
    from stages.engine import init_run
    from stages.store.users import add_user

    path = tmp_path / "v2.db"
    url = f"sqlite:///{path}"
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        init_run(s, spec, as_of="2019-06-01")
        add_user(s, spec.departments, username="hqb", role="department", dept="区虹桥办", password=PASSWORD)
        s.commit()
    eng.dispose()
    # make it what schema 2 wrote: no message or figure table, no e-mail / phone on accounts, no report on
    # submissions, version 2
    con = sqlite3.connect(path)
    con.execute("DROP TABLE message")
    con.execute("DROP TABLE figure")
    con.execute("ALTER TABLE submission DROP COLUMN report")
    con.execute("ALTER TABLE user_account DROP COLUMN email")
    con.execute("ALTER TABLE user_account DROP COLUMN phone")
    con.execute("UPDATE schema_info SET version = 2")
    con.commit()
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("milestone", "item", "audit_event", "user_account", "notice")}
    con.close()

    eng = make_engine(url)
    assert schema_version(eng) == 2
    assert check_schema(eng) == SCHEMA_VERSION == 4
    assert schema_version(eng) == 4
    insp = inspect(eng)
    assert {"message", "figure"} <= set(insp.get_table_names())
    assert "report" in {c["name"] for c in insp.get_columns("submission")}
    assert {"email", "phone"} <= {c["name"] for c in insp.get_columns("user_account")}
    with Session(eng) as s:
        for t, n in counts.items():
            assert s.exec(select(func.count()).select_from(__import__("sqlalchemy").table(t))).one() == n, t
        u = s.exec(select(UserAccount).where(UserAccount.username == "hqb")).one()
        assert u.email is None and u.password_hash  # the account is intact
        mg.set_contact(s, "hqb", email="li@hqb.example")
        s.commit()
    assert sweep_and_enqueue(eng, spec, "2019-06-03", mg.MessagesConfig()) > 0  # and the new table works
    assert check_schema(eng) == 4  # a current database: nothing to do
    eng.dispose()


# -- the CLI ---------------------------------------------------------------------------------------------------------------
def test_cli_lists_and_delivers(swept, smtp, hooks, capsys, monkeypatch):
    from app.cli import main

    url, eng, cfg = swept
    monkeypatch.setenv("PLANCYCLE_MESSAGES_CONFIG", cfg.path)
    monkeypatch.setenv("PLANCYCLE_FLOWS", "never")
    main(["--db", url, "messages", "--user", "hqb", "--unread"])
    out = capsys.readouterr().out
    assert "虹桥办李（hqb）的消息" in out and "站内未读 2 条" in out and "【催办】课题7“形成方案”已逾期1个工作日" in out
    main(["--db", url, "messages", "--json", "--dept", "区商务委", "--channel", "email"])
    data = json.loads(capsys.readouterr().out)
    assert {m["recipient"] for m in data} == {"swj", "swj-office@changning.example"}
    assert set(data[0]) >= {"id", "kind", "recipient", "channel", "status", "subject", "text", "created_at", "sent_at",
                            "read_at", "item", "milestone"}
    main(["--db", url, "messages", "deliver", "--as-of", "2019-06-11T09:30"])
    out = capsys.readouterr().out
    n_mail = len(rows(eng, channel="email"))
    assert f"邮件：取出 {n_mail} 条，送达 {n_mail} 条，失败 0 条" in out and len(smtp.got) == n_mail
    main(["--db", url, "messages", "--status", "pending"])
    assert "消息 0 条" in capsys.readouterr().out
    main(["--db", url, "messages", "contact", "swj", "--phone", "13900000000"])
    assert "手机 13900000000" in capsys.readouterr().out


def test_deliver_without_a_flow_run_or_an_api_runs_in_process(swept, smtp, hooks, monkeypatch):
    from flows.delivery import deliver

    url, eng, cfg = swept
    monkeypatch.setenv("PLANCYCLE_FLOWS", "never")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    out = deliver(url, T1, config_path=cfg.path)
    assert out["email"]["sent"] == len(rows(eng, channel="email")) and out["webhook"]["failed"] == 0
    assert deliver(url, T1, config_path=cfg.path) == {"due": 0}  # nothing due: no flow run at all


# -- the console -------------------------------------------------------------------------------------------------------------
def test_console_lists_a_users_messages_marks_them_read_and_counts_unread(swept):
    import re

    from fastapi.testclient import TestClient

    from app.web.server import create_app

    url, eng, cfg = swept
    app = create_app(url, as_of="2019-06-11", flows="direct")

    def client(user):
        c = TestClient(app, raise_server_exceptions=False)
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]
        assert c.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": tok},
                      follow_redirects=False).status_code == 303
        return c, c.get("/api/me").json()["csrf_token"]

    c, tok = client("hqb")
    page = c.get("/messages").text
    assert "已逾期1个工作日" in page and "查看事项" in page and 'href="/items/topic-07"' in page
    assert re.search(r'href="/messages"[^>]*>消息<b class="badge"[^>]*>2</b>', page)
    api = c.get("/api/messages").json()
    assert api["unread"] == 2 and "delivery" not in api  # a liaison does not see the delivery status
    first = api["messages"][0]["id"]
    assert c.post(f"/messages/{first}/read", follow_redirects=False).status_code == 403  # no CSRF token
    r = c.post(f"/messages/{first}/read", data={"csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303 and c.get("/api/messages").json()["unread"] == 1
    assert re.search(r'>消息<b class="badge"[^>]*>1</b>', c.get("/inbox").text)

    other, other_tok = client("swj")
    assert other.post(f"/api/messages/{first}/read", headers={"X-CSRF-Token": other_tok}).status_code == 404
    assert all(m["recipient"] == "swj" for m in other.get("/api/messages").json()["messages"])

    coord, _ = client("coord")
    d = coord.get("/api/messages").json()
    assert d["messages"] == [] and d["delivery"]["counts"]["email"]["pending"] == len(rows(eng, channel="email"))
    assert "发送情况" in coord.get("/messages").text and 'class="badge" title="未读消息"' not in coord.get("/").text


# -- Prefect: the flow, its task retries ---------------------------------------------------------------------------------------
@pytest.mark.integration
def test_the_flow_retries_a_failed_send_with_prefects_task_retries(harness, swept, hooks):
    from flows.delivery import deliver_messages

    url, eng, cfg = swept
    n_hook = len(rows(eng, channel="webhook"))
    hooks.fail_next = 1  # the first POST is answered 503: the task fails, Prefect runs it again
    state = deliver_messages(db=url, as_of=T1, channels=["webhook"], config_path=cfg.path, return_state=True)
    assert state.is_completed(), state.message
    out = state.result()
    assert out["webhook"] == {"claimed": n_hook, "sent": n_hook, "failed": 0, "given_up": 0}
    ok = [h for h in hooks.got if h["status"] == 200]
    assert len(hooks.got) == n_hook + 1 and len(ok) == n_hook
    assert len({h["headers"]["Idempotency-Key"] for h in ok}) == n_hook  # each delivered once
    first = hooks.got[0]["headers"]["Idempotency-Key"]
    assert [h["status"] for h in hooks.got if h["headers"]["Idempotency-Key"] == first] == [503, 200]
    assert max(m.attempts for m in rows(eng, channel="webhook")) == 2


# -- PostgreSQL -------------------------------------------------------------------------------------------------------------
from .test_postgres import pg_url  # noqa: E402,F401  (the throwaway cluster, started once per module)


@pytest.mark.slow  # a PostgreSQL cluster made and started
def test_on_postgresql_enqueue_claim_deliver_and_read(pg_url, spec, smtp, hooks, tmp_path):
    from stages.engine import init_run
    from stages.store.users import add_user

    eng = make_engine(pg_url)
    create_schema(eng)
    with Session(eng) as s:
        init_run(s, spec, as_of="2019-06-01")
        add_user(s, spec.departments, username="hqb", role="department", dept="区虹桥办", password=PASSWORD)
        mg.set_contact(s, "hqb", email="li@hqb.example")
        s.commit()
    cfg = mg.load_config(write_config(tmp_path / "pg.yaml", smtp.port, hooks.port))
    n = sweep_and_enqueue(eng, spec, "2019-06-03", cfg)
    assert n > 0 and sweep_and_enqueue(eng, spec, "2019-06-03", cfg) == 0
    # two senders take disjoint rows (FOR UPDATE SKIP LOCKED; here one after the other)
    a = mg.claim(factory(eng), "webhook", now=T1, limit=5, config=cfg)
    b = mg.claim(factory(eng), "webhook", now=T1, limit=5, config=cfg)
    assert len(a.ids) == len(b.ids) == 5 and not set(a.ids) & set(b.ids)
    for c in (a, b):
        mg.send_claimed(factory(eng), c, now=T1, config=cfg)
    out = mg.deliver_pending(factory(eng), now=T1, config=cfg)
    webhooks = len(rows(eng, channel="webhook"))
    assert out["webhook"]["sent"] == webhooks - 10 and len(hooks.got) == webhooks
    mails = len(rows(eng, channel="email"))  # hqb, and 区商务委's contact from the config
    assert mails == 2 and out["email"]["sent"] == mails and len(smtp.got) == mails
    with Session(eng) as s:
        assert mg.summary(s)["counts"]["webhook"] == {"sent": webhooks}
        (m,) = mg.messages_for(s, "hqb")
        assert mg.mark_read(s, "hqb", m.id, at=T1) == 1
        s.commit()
        assert mg.unread_count(s, "hqb") == 0
    eng.dispose()
