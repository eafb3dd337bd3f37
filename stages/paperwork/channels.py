"""The channels a message leaves by: e-mail over SMTP, and webhooks (generic JSON, 企业微信/政务微信 and 钉钉 group
robots). Each sends a claim's rows and reports each one ``ok`` or ``fail`` (permanent or not) to
``stages.paperwork.delivery``, which records them; a channel that is down fails its rows for a later try, never
blocking the others. The ids a receiver dedupes on (Message-ID, ``Idempotency-Key``) are the row's ``ext_id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import urllib.parse

from stages.ground.clock import epoch_seconds
from stages.ground.errors import PlancycleError
from stages.paperwork.message_settings import EmailSettings, Endpoint, MessagesConfig
from stages.store.models import Message


def _addr(text: str) -> tuple[str, str]:
    from email.utils import parseaddr

    name, addr = parseaddr(text)
    return name, addr


def email_message(r: Message, e: EmailSettings):
    """The mail for one row: UTF-8, Message-ID from the key (a resend carries the same id), auto-generated."""
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate

    name, sender = _addr(e.sender)
    domain = e.message_id_domain or (sender.rpartition("@")[2] or "plancycle.local")
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender)) if name else sender
    msg["To"] = r.address
    msg["Subject"] = r.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<{r.ext_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg["X-Plancycle-Message-Id"] = r.ext_id
    msg.set_content(r.text + "\n", charset="utf-8")
    return msg, sender


def _smtp_connect(e: EmailSettings):
    import smtplib

    if e.security == "ssl":
        smtp = smtplib.SMTP_SSL(e.host, e.port, timeout=e.timeout_seconds)
    else:
        smtp = smtplib.SMTP(e.host, e.port, timeout=e.timeout_seconds)
    smtp.ehlo()
    if e.security == "starttls":
        smtp.starttls()
        smtp.ehlo()
    if e.username:
        pw = os.environ.get(e.password_env or "")
        if not pw:
            smtp.close()
            raise PlancycleError("paperwork.smtp_password_unset", env=e.password_env)
        smtp.login(e.username, pw)
    return smtp


def _send_email(rows, cfg: MessagesConfig, ok, fail, alive) -> None:
    import smtplib

    e = cfg.email
    where = f"SMTP {e.host}:{e.port}"
    try:
        smtp = _smtp_connect(e)
    except (OSError, smtplib.SMTPException, PlancycleError) as exc:  # down, or its settings wrong: all wait
        for r in rows:
            fail(r, f"{where}: {_err(exc)}", False)
        return
    try:
        for i, r in enumerate(rows):
            if not alive():
                return
            msg, sender = email_message(r, e)
            try:
                refused = smtp.send_message(msg, from_addr=sender, to_addrs=[r.address])
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()), (550, b""))[0]
                fail(r, f"{where}: recipient refused ({code})", 500 <= code < 600)
                continue
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                for rest in rows[i:]:
                    fail(rest, f"{where}: {_err(exc)}", False)
                return
            except smtplib.SMTPResponseException as exc:
                fail(r, f"{where}: {exc.smtp_code} {_err(exc)}", 500 <= exc.smtp_code < 600)
                if exc.smtp_code == 421:  # the server is closing the connection
                    for rest in rows[i + 1:]:
                        fail(rest, f"{where}: 421 service not available", False)
                    return
                continue
            except smtplib.SMTPException as exc:
                fail(r, f"{where}: {_err(exc)}", False)
                continue
            if refused:
                fail(r, f"{where}: recipient refused", True)
            else:
                ok(r)
    finally:
        try:
            smtp.quit()
        except Exception:  # noqa: BLE001 - the messages are recorded already
            pass


def _err(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def webhook_body(kind: str, r: Message, base_url: str = "") -> dict:
    """What a webhook receives: 企业微信/政务微信 and 钉钉 robots' text message; generic: the message as JSON."""
    mentions = list((r.data or {}).get("mentions") or [])
    if kind == "wecom":
        text = {"content": r.text}
        if mentions:
            text["mentioned_mobile_list"] = mentions
        return {"msgtype": "text", "text": text}
    if kind == "dingtalk":
        content = r.text + ("\n" + " ".join(f"@{m}" for m in mentions) if mentions else "")
        return {"msgtype": "text", "text": {"content": content}, "at": {"atMobiles": mentions, "isAtAll": False}}
    return {"id": r.ext_id, "key": r.key, "kind": r.kind, "rung": r.rung, "dept": r.dept, "recipient": r.recipient,
            "subject": r.subject, "text": r.text, "link": r.link, "url": (r.data or {}).get("url"),
            "item": r.item_key, "milestone": r.ms_id, "due_date": (r.data or {}).get("due_date"),
            "created_at": r.created_at.isoformat() if r.created_at else None}


def dingtalk_signed(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """钉钉加签: ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    ts = str(timestamp_ms if timestamp_ms is not None else _epoch_ms())
    digest = hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def _epoch_ms() -> int:
    return epoch_seconds() * 1000


def webhook_request(ep: Endpoint, r: Message) -> tuple[str, bytes, dict]:
    """(url, body, headers) for one row: the idempotency headers on every kind; 钉钉 signed; generic HMAC-signed."""
    url = ep.resolved_url()
    body = json.dumps(webhook_body(ep.kind, r), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": r.ext_id,
               "X-Plancycle-Message-Id": r.ext_id, "User-Agent": "plancycle"}
    if ep.kind == "dingtalk" and ep.secret_env:
        url = dingtalk_signed(url, ep.secret(ep.secret_env))
    elif ep.kind == "generic":
        if ep.secret_env:
            ts = str(_epoch_ms() // 1000)
            mac = hmac.new(ep.secret(ep.secret_env).encode("utf-8"), ts.encode() + b"." + body, hashlib.sha256)
            headers.update({"X-Plancycle-Timestamp": ts, "X-Plancycle-Signature": "sha256=" + mac.hexdigest()})
        if ep.token_env:
            headers["Authorization"] = "Bearer " + ep.secret(ep.token_env)
    return url, body, headers


def _scrub(text: str, url: str) -> str:
    """An error line without the URL's secret parts (a robot's key is in its query)."""
    for part in (url, url.split("?")[0]):
        if part:
            text = text.replace(part, "<url>")
    return re.sub(r"(key|access_token|sign)=[^&\s]+", r"\1=…", text)


def _send_webhooks(rows, cfg: MessagesConfig, ok, fail, alive) -> None:
    import httpx

    down: dict[str, str] = {}  # endpoint name → why: the rest of its rows wait for the next try
    with httpx.Client(follow_redirects=False) as client:
        for r in rows:
            name = r.address or ""
            if name in down:
                fail(r, down[name], False)
                continue
            if not alive():
                return
            ep = cfg.endpoint(name)
            if ep is None:
                fail(r, f"webhook {name}: no longer in the messages settings", False)
                continue
            try:
                url, body, headers = webhook_request(ep, r)
            except PlancycleError as exc:
                down[name] = f"webhook {name}: {exc}"
                fail(r, down[name], False)
                continue
            where = f"webhook {name} ({ep.kind})"
            try:
                resp = client.post(url, content=body, headers=headers, timeout=ep.timeout_seconds)
            except httpx.HTTPError as exc:
                down[name] = f"{where}: {_scrub(_err(exc), url)}"
                fail(r, down[name], False)
                continue
            code = resp.status_code
            if 200 <= code < 300:
                if ep.kind in ("wecom", "dingtalk"):
                    try:
                        answer = resp.json()
                    except ValueError:
                        answer = {}
                    errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
                    if errcode not in (0, "0"):
                        fail(r, f"{where}: errcode {errcode} {str(answer.get('errmsg', ''))[:120]}", False)
                        continue
                ok(r)
            elif code in (408, 425, 429) or code >= 500:
                fail(r, f"{where}: HTTP {code}", False)
                if code >= 500 or code == 429:
                    down[name] = f"{where}: HTTP {code}"
            else:
                fail(r, f"{where}: HTTP {code} (refused)", True)

