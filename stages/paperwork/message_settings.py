"""The channel settings of messages to people, and the outbox's fixed words.

Owns: ``config/messages.yaml`` (or the file ``PLANCYCLE_MESSAGES_CONFIG`` names) as a checked model
(:class:`MessagesConfig`: e-mail, webhooks, contacts, delivery), the channels, rungs and statuses with their Chinese
labels, and an outbox row's key and the id the receiver sees (``reminder_key``, ``external_id``). Read by
``stages.paperwork.messages`` (enqueueing, reading), ``stages.paperwork.delivery`` and ``stages.paperwork.channels``.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stages.definition.yamlio import load_yaml
from stages.ground.errors import ConfigError, PlancycleError
from stages.ground.paths import CONFIG_DIR

CONFIG = CONFIG_DIR / "messages.yaml"
CHANNELS = ("console", "email", "webhook")
SENDABLE = ("email", "webhook")
RUNGS = ("advance", "urge")
RUNG_ZH = {"advance": "提前提醒", "urge": "催办"}
CHANNEL_ZH = {"console": "站内", "email": "邮件", "webhook": "群机器人"}
STATUS_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已送达", "failed": "发送失败"}
COUNT = {"preserve_rowcount": True}


# -- settings ------------------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmailSettings(_Strict):
    host: Optional[str] = None
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: Optional[str] = None
    password_env: Optional[str] = None
    sender: str = Field("plancycle <noreply@localhost>", alias="from")
    timeout_seconds: float = Field(10, gt=0, le=300)
    message_id_domain: Optional[str] = None  # default: the From address's domain


class Endpoint(_Strict):
    kind: Literal["generic", "wecom", "dingtalk"] = "generic"
    url: Optional[str] = None
    url_env: Optional[str] = None
    secret_env: Optional[str] = None  # dingtalk: the robot's 加签 secret; generic: HMAC-SHA256 of the body
    token_env: Optional[str] = None  # generic: sent as "Authorization: Bearer …"
    timeout_seconds: float = Field(10, gt=0, le=300)

    def resolved_url(self) -> str:
        url = self.url or (os.environ.get(self.url_env) if self.url_env else None)
        if not url:
            raise (PlancycleError("paperwork.webhook_url_unset", env=self.url_env) if self.url_env
                   else PlancycleError("paperwork.webhook_no_url"))
        if not url.startswith(("http://", "https://")):
            raise PlancycleError("paperwork.webhook_url_scheme")
        return url

    def secret(self, name: Optional[str]) -> Optional[str]:
        if not name:
            return None
        value = os.environ.get(name)
        if not value:
            raise PlancycleError("paperwork.env_unset", name=name)
        return value


class Webhooks(_Strict):
    default: Optional[Endpoint] = None
    departments: dict[str, Endpoint] = Field(default_factory=dict)


class DeliverySettings(_Strict):
    batch: int = Field(500, ge=1, le=100_000)
    lease_seconds: float = Field(600, gt=0)
    max_attempts: int = Field(8, ge=1, le=1000)
    backoff_seconds: list[float] = Field(default_factory=lambda: [60, 300, 1800, 7200, 21600], min_length=1)
    task_retries: int = Field(2, ge=0, le=20)
    task_retry_delay_seconds: list[float] = Field(default_factory=lambda: [5, 30])


class MessagesConfig(_Strict):
    base_url: str = ""
    sender: str = ""  # empty: the coordinator of the reminder's cycle
    email: Optional[EmailSettings] = None
    webhooks: Webhooks = Field(default_factory=Webhooks)
    contacts: dict[str, list[str]] = Field(default_factory=dict)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    path: Optional[str] = Field(None, exclude=True)

    def enabled(self, channel: str) -> bool:
        if channel == "console":
            return True
        if channel == "email":
            return bool(self.email and self.email.host)
        if channel == "webhook":
            return self.webhooks.default is not None or bool(self.webhooks.departments)
        return False

    def endpoint_for(self, dept: str) -> tuple[str, Endpoint] | None:
        """The group robot a department's messages go to: its own, else the default one."""
        if dept in self.webhooks.departments:
            return f"dept:{dept}", self.webhooks.departments[dept]
        if self.webhooks.default is not None:
            return "default", self.webhooks.default
        return None

    def endpoint(self, name: str | None) -> Endpoint | None:
        if name == "default":
            return self.webhooks.default
        if name and name.startswith("dept:"):
            return self.webhooks.departments.get(name[5:])
        return None


def config_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get("PLANCYCLE_MESSAGES_CONFIG") or CONFIG)


def load_config(path: str | os.PathLike | None = None) -> MessagesConfig:
    """The channel settings; the shipped file (or none at all) means console only."""
    p = config_path(path)
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        if path is None and not os.environ.get("PLANCYCLE_MESSAGES_CONFIG"):
            return MessagesConfig()
        raise ConfigError("paperwork.messages_settings_unreadable", file=str(p)) from None
    return _load(str(p), stamp)


@lru_cache(maxsize=8)
def _load(path: str, _stamp: int) -> MessagesConfig:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError("paperwork.settings.not_mapping", file=doc.file, line=1)
    try:
        cfg = MessagesConfig.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        raise ConfigError(err.get("msg", "invalid value"), file=doc.file, line=doc.line(*loc),
                          path=".".join(str(x) for x in loc) or None) from None
    cfg.path = path
    return cfg


# -- keys ------------------------------------------------------------------------------------------------------------
def reminder_key(milestone_id: int, due_version: int, rung: str, recipient: str, channel: str) -> str:
    return f"reminder:{milestone_id}:{due_version}:{rung}:{recipient}:{channel}"


def external_id(key: str) -> str:
    """The id the receiver sees (Message-ID, Idempotency-Key): a function of the key, the same on every resend."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

