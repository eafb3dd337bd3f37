"""Persistence: the run's state as SQLModel tables, and the engine that holds them.

Owns: the tables (cycle run, stages, items, milestones, submissions, decisions, the append-only audit log), the
database URL setting (``PLANCYCLE_DATABASE_URL``, default a SQLite file ``plancycle.db``) and schema creation.
Does not own: rules (``stages.engine``). Our database is the system of record; Prefect never stores state.

Times are naive Asia/Shanghai wall-clock times (see ``stages.ground.clock``). List-valued columns (lead units, files,
event data) are JSON. ``SCHEMA_VERSION`` is stored per run so later releases can upgrade old data by named
migrations.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Optional

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, UniqueConstraint, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, Session, SQLModel, create_engine

SCHEMA_VERSION = 4  # 2: users, settings, audit_event.actor_user, schema_info; 3: message, user_account.email/phone;
# 4: figure (actuals against targets and indicators), submission.report (进展 / 问题 / 下步)
DEFAULT_URL = "sqlite:///plancycle.db"


class SchemaInfo(SQLModel, table=True):
    """One row: the schema version of this database. Read by every process; written only by ``ensure_schema``."""

    __tablename__ = "schema_info"
    id: int = Field(default=1, primary_key=True)
    version: int
    upgraded_at: NaiveDatetime


class CycleRun(SQLModel, table=True):
    __tablename__ = "cycle_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    spec_id: str = Field(index=True, unique=True)
    spec_version: int
    spec_path: str
    spec_checksum: str
    schema_version: int = SCHEMA_VERSION
    title: str
    current_stage: str
    status: str = "active"  # active | complete
    created_at: NaiveDatetime


class StageState(SQLModel, table=True):
    __tablename__ = "stage_state"
    __table_args__ = (UniqueConstraint("run_id", "stage_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    stage_id: str
    seq: int
    status: str = "pending"  # pending | open | closed
    opened_at: Optional[NaiveDatetime] = None
    closed_at: Optional[NaiveDatetime] = None
    override_reason: Optional[str] = None


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("run_id", "key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id", index=True)
    key: str
    kind: str  # topic | special_plan | outline | task
    title: str
    stage: str
    lead: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cooperating: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = "active"  # active | rejected (a special plan not confirmed at 立项确认)
    no: Optional[int] = None
    open_call: Optional[bool] = None
    contractor: Optional[str] = None
    contractor_contact: Optional[str] = None
    contractor_how: Optional[str] = None  # open_call | direct_commission
    created_at: NaiveDatetime


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (
        UniqueConstraint("run_id", "item_key", "ms_id"),
        Index("ix_milestone_sweep", "run_id", "status", "due_date"),
        Index("ix_milestone_ladder", "status", "ladder", "due_date"),
        Index("ix_milestone_owner", "run_id", "owner"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    item_id: int = Field(foreign_key="item.id", index=True)
    item_key: str
    ms_id: str
    name: str
    stage: str
    seq: int
    owner: str  # a department's short name
    status: str = "pending"
    due_date: dt.date
    original_due: dt.date
    due_version: int = 1  # bumped by every extension: reminders fire once per milestone and due version
    ladder: int = 0  # highest reminder rung fired for this due version (0 none, 1 advance, 2 urge, 3 escalate)
    opened_at: Optional[NaiveDatetime] = None
    submitted_at: Optional[NaiveDatetime] = None
    decided_at: Optional[NaiveDatetime] = None
    returns: int = 0


class Submission(SQLModel, table=True):
    __tablename__ = "submission"
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    milestone_id: int = Field(foreign_key="milestone.id", index=True)
    round: int  # 1 for the first submission, 2 after one return …
    submitted_by: str
    submitted_at: NaiveDatetime
    note: Optional[str] = None
    files: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [{path, sha256, size}]
    fingerprint: str
    # a report's parts, when the submission is one: {"progress", "problems", "next"} (进展, 存在问题, 下步安排)
    report: Optional[dict] = Field(default=None, sa_column=Column(JSON, nullable=True))


class Figure(SQLModel, table=True):
    """An actual figure reported against a milestone's target or an indicator (schema 4). Rows are added, never
    changed: a correction is a later row, and the latest row for (subject, of, period) is the figure."""

    __tablename__ = "figure"
    __table_args__ = (Index("ix_figure_subject", "run_id", "subject", "of"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    subject: str  # "item:milestone" a target's milestone, or "indicator:<id>"
    of: str  # what is measured: the target's ``of`` or the indicator's id
    period: str  # what the figure stands for: 2019-03, 2019-Q1, 2021, or the milestone's due date
    value: float
    unit: str = ""
    source: Optional[str] = None  # 数据来源
    submission_id: Optional[int] = Field(default=None, foreign_key="submission.id")
    by: str  # the reporting unit
    at: NaiveDatetime


class Decision(SQLModel, table=True):
    __tablename__ = "decision"
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id", index=True)
    milestone_id: Optional[int] = Field(default=None, foreign_key="milestone.id", index=True)
    kind: str  # accept | return | waive | complete | approve | override | extend | register | reject
    by: str
    at: NaiveDatetime
    comments: Optional[str] = None
    body: Optional[str] = None  # approvals: the approving body (leading_group …)
    subject: Optional[str] = None  # approvals: what was approved; overrides: the gate


class AuditEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted (enforced below, in the ORM and the database)."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("run_id", "idem_key"), Index("ix_audit_at", "run_id", "at"),
                      Index("ix_audit_action", "action", "target"))
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    at: NaiveDatetime  # the as_of of the action
    recorded_at: NaiveDatetime  # wall clock when it was written
    actor: str
    action: str
    target: str
    why: Optional[str] = None
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    flow_run_id: Optional[str] = None
    idem_key: Optional[str] = None
    actor_user: Optional[str] = Field(default=None, index=True)  # the signed-in user or CLI operator


class Notice(SQLModel, table=True):
    """A 公文 the cycle owes or has issued: recorded in the same transaction as the step that calls for it."""

    __tablename__ = "notice"
    __table_args__ = (UniqueConstraint("run_id", "idem_key"), Index("ix_notice_kind", "run_id", "kind"))
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    kind: str  # stage_notice | call_for_tender | reminder | escalation | monthly_report | … | gate_ready (record)
    status: str = "due"  # record (nothing to send) | due (a document to issue) | issued
    recipients: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    about: str
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime  # the as_of of the step
    flow_run_id: Optional[str] = None
    idem_key: Optional[str] = None
    # an issued document:
    title: Optional[str] = None
    doc_number: Optional[str] = None  # 长发改〔2019〕25号; None for a 公告
    organ: Optional[str] = None
    year: Optional[int] = None
    seq: Optional[int] = None
    template: Optional[str] = None
    template_sha: Optional[str] = None
    checksum: Optional[str] = None  # SHA-256 of the .docx
    issued_at: Optional[NaiveDatetime] = None
    corrects_id: Optional[int] = Field(default=None, foreign_key="notice.id")


class DocSequence(SQLModel, table=True):
    """发文字号 per issuing organ and year: the last number used."""

    __tablename__ = "doc_sequence"
    __table_args__ = (UniqueConstraint("organ", "year"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    organ: str
    year: int
    last: int


class Reminder(SQLModel, table=True):
    """One rung of the reminder ladder fired for one milestone and one version of its deadline: at most once."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("milestone_id", "due_version", "rung"), Index("ix_reminder_notice", "notice_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    milestone_id: int = Field(foreign_key="milestone.id")
    due_version: int
    rung: str  # advance (提前提醒) | urge (催办) | escalate (督办)
    owner: str
    due_date: dt.date
    sweep_day: dt.date
    notice_id: Optional[int] = Field(default=None, foreign_key="notice.id")


class UserAccount(SQLModel, table=True):
    """A person who signs in to the web console: a department's liaison, the planning office, a leader, an admin."""

    __tablename__ = "user_account"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    display_name: str
    role: str  # department | coordinator | leader | admin
    dept: Optional[str] = None  # a department's short name (department users; optional for others)
    password_hash: str
    disabled: bool = False
    failed_logins: int = 0
    locked_until: Optional[NaiveDatetime] = None
    created_at: NaiveDatetime
    password_changed_at: Optional[NaiveDatetime] = None
    last_login_at: Optional[NaiveDatetime] = None
    email: Optional[str] = None  # where messages (reminders) reach this person by e-mail (schema 3)
    phone: Optional[str] = None  # mobile number: @-mentioned by the department's group robot (schema 3)


class Message(SQLModel, table=True):
    """A message to a person (not a 公文): one row per (message, recipient, channel) and its delivery state.

    Written by ``stages.paperwork.messages.enqueue_reminders`` under a unique idempotency ``key``; delivered by
    ``stages.paperwork.messages`` (``flows.delivery``). ``ext_id`` is what the receiver sees (SMTP Message-ID, webhook
    Idempotency-Key): derived from ``key``, so a resend after a crash carries the same id.
    """

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("key"), Index("ix_message_due", "channel", "status", "next_attempt_at"),
                      Index("ix_message_inbox", "recipient", "channel", "read_at"),
                      Index("ix_message_reminder", "reminder_id"), Index("ix_message_claim", "claim_token"))
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="cycle_run.id")
    key: str  # reminder:<milestone id>:<due version>:<rung>:<recipient>:<channel>
    ext_id: str
    kind: str  # reminder
    rung: Optional[str] = None  # advance (提前提醒) | urge (催办)
    reminder_id: Optional[int] = Field(default=None, foreign_key="reminder.id")
    milestone_id: Optional[int] = Field(default=None, foreign_key="milestone.id")
    item_key: Optional[str] = None
    ms_id: Optional[str] = None
    dept: Optional[str] = None  # the responsible department's short name
    recipient: str  # a username; a department (its group robot); an address from the config's contacts
    channel: str  # console | email | webhook
    address: Optional[str] = None  # the e-mail address, or the webhook endpoint's name in config/messages.yaml
    subject: str
    text: str
    link: Optional[str] = None  # the console path, e.g. /items/topic-07
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "pending"  # pending | sending | sent | failed
    attempts: int = 0
    last_error: Optional[str] = None
    next_attempt_at: Optional[NaiveDatetime] = None  # failed: when to try again (None: given up)
    claim_token: Optional[str] = None
    claimed_at: Optional[NaiveDatetime] = None
    sent_at: Optional[NaiveDatetime] = None
    read_at: Optional[NaiveDatetime] = None  # console: when its recipient read it
    created_at: NaiveDatetime


class AppSetting(SQLModel, table=True):
    """Small per-database settings, e.g. the web console's session-signing secret."""

    __tablename__ = "app_setting"
    key: str = Field(primary_key=True)
    value: str


# -- append-only guard -------------------------------------------------------------------------------------------
class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _guard_audit(session, _ctx, _instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("the audit log is append-only")


_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql",
        "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event",
        "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    ],
}


# -- engine ------------------------------------------------------------------------------------------------------
def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("PLANCYCLE_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, *, echo: bool = False, write: bool = True) -> Engine:
    """An engine for ``url``.

    On SQLite every transaction starts with an explicit ``BEGIN IMMEDIATE`` (``write=True``, the default) or
    ``BEGIN`` (``write=False``, for pages that only read): a move reads, decides, then writes, and under WAL a
    deferred transaction that read before another writer committed cannot upgrade to a write (SQLITE_BUSY at once,
    no busy wait). Taking the write lock at BEGIN makes moves queue behind each other for up to the busy timeout.
    """
    url = database_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        if memory:
            kwargs["poolclass"] = StaticPool
    elif url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        begin = "BEGIN IMMEDIATE" if write and not memory else "BEGIN"

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _rec):  # foreign keys on; WAL so the board reads while a flow writes
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below), before the first read
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql(begin)
    return engine


BUSY_TIMEOUT_MS = 10_000


def schema_version(engine: Engine) -> int | None:
    """The version recorded in the database: None for an empty database, 1 for one made before versions were kept."""
    from sqlalchemy import inspect

    insp = inspect(engine)
    names = set(insp.get_table_names())
    if "schema_info" in names:
        with engine.connect() as conn:
            v = conn.execute(text("SELECT version FROM schema_info WHERE id = 1")).scalar()
        if v is not None:
            return int(v)
    return 1 if "cycle_run" in names else None


def check_schema(engine: Engine) -> int:
    """Every process: one read, no DDL. Refuses a database from a newer plancycle; migrates an older one once."""
    from stages.ground.errors import PlancycleError

    where = engine.url.render_as_string(hide_password=True)
    v = schema_version(engine)
    if v == SCHEMA_VERSION:
        return v
    if v is not None and v > SCHEMA_VERSION:
        raise PlancycleError("store.newer_database", where=where, schema=v, known=SCHEMA_VERSION)
    ensure_schema(engine)
    return SCHEMA_VERSION


def create_schema(engine: Engine) -> None:
    """Make the database current: create it when empty, migrate it when older, refuse it when newer.

    The DDL runs only when the recorded version differs from this release's (at ``init``, or the first command
    after an upgrade); a current database costs one SELECT, so processes starting together never race on DDL.
    """
    check_schema(engine)


def ensure_schema(engine: Engine) -> None:
    """Create missing tables, apply the named migrations, install the append-only triggers, record the version.

    Runs in one transaction on PostgreSQL under an advisory lock, so two first processes cannot interleave DDL.
    """
    from sqlalchemy import inspect

    from stages.ground.errors import PlancycleError

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7262011)"))
        insp = inspect(conn)
        names = set(insp.get_table_names())
        old = None
        if "schema_info" in names:
            old = conn.execute(text("SELECT version FROM schema_info WHERE id = 1")).scalar()
        elif "cycle_run" in names:
            old = 1
        if old == SCHEMA_VERSION:
            return
        if old is not None and old > SCHEMA_VERSION:
            raise PlancycleError("store.newer_database_unchanged", schema=old)
        SQLModel.metadata.create_all(conn)
        if old == 1:  # 1 → 2: who acted, as a column the audit search can use
            have = {c["name"] for c in inspect(conn).get_columns("audit_event")}
            if "actor_user" not in have:
                conn.execute(text("ALTER TABLE audit_event ADD COLUMN actor_user VARCHAR"))
        if old is not None and old < 3:  # 2 → 3: the message table (made above); where a person gets messages
            have = {c["name"] for c in inspect(conn).get_columns("user_account")}
            for col in ("email", "phone"):
                if col not in have:
                    conn.execute(text(f"ALTER TABLE user_account ADD COLUMN {col} VARCHAR"))
        if old is not None and old < 4:  # 3 → 4: the figure table (made above); a report's parts on a submission
            have = {c["name"] for c in inspect(conn).get_columns("submission")}
            if "report" not in have:
                conn.execute(text("ALTER TABLE submission ADD COLUMN report JSON"))
        insp = inspect(conn)
        for table in SQLModel.metadata.sorted_tables:
            have = {c["name"] for c in insp.get_columns(table.name)}
            missing = [c.name for c in table.columns if c.name not in have]
            if missing:
                raise PlancycleError("store.older_database", where=engine.url.render_as_string(hide_password=True),
                                     table=table.name, missing=missing)
        for stmt in _TRIGGERS.get(engine.dialect.name, []):
            conn.execute(text(stmt))
        from stages.ground.clock import now

        stamp = now()
        if old is None or "schema_info" not in names:
            conn.execute(SchemaInfo.__table__.insert().values(id=1, version=SCHEMA_VERSION, upgraded_at=stamp))
        else:
            conn.execute(SchemaInfo.__table__.update().where(SchemaInfo.__table__.c.id == 1)
                         .values(version=SCHEMA_VERSION, upgraded_at=stamp))
