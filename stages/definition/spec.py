"""The cycle *spec*: every path the cycle could take, as frozen pydantic models.

Owns: the shape of ``config/cycles/*.yaml`` and ``config/departments.yaml``. Does not own: reading files or
checking references (``stages.definition.loader``), or where a run stands (``stages.store.models``). A spec never changes after it
is loaded; runs point at it by id, version and checksum.

Vocabulary (GLOSSARY.md): a *cycle* has three *stages*; its *items* are topics, special plans, the outline and
other tasks; each item walks through *milestones*; *gates* are named predicates over milestones and approvals.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from stages.ground.paths import NOTICES_DEFAULT

Track = Literal["topics", "special_plans", "outline", "tasks"]
KIND_OF_TRACK = {"topics": "topic", "special_plans": "special_plan", "outline": "outline", "tasks": "task"}
TRACK_OF_KIND = {v: k for k, v in KIND_OF_TRACK.items()}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- departments ------------------------------------------------------------------------------------------------
class DepartmentSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    short: str
    name: str
    kind: Literal["department", "street", "body", "external"] = "department"
    aliases: tuple[str, ...] = ()


class DepartmentsFile(Frozen):
    departments: tuple[DepartmentSpec, ...]
    groups: dict[str, tuple[str, ...]] = {}


# -- gates ------------------------------------------------------------------------------------------------------
class AllDone(Frozen):
    """Every live item of ``track`` that has ``milestone`` (at least one) has it accepted or waived."""

    track: Track
    milestone: str


class AtLeast(Frozen):
    """N of M: at least ``n`` items of ``track`` have ``milestone`` accepted or waived."""

    n: int = Field(ge=1)
    track: Track
    milestone: str


class ApprovalRef(Frozen):
    """An approval by ``body`` (e.g. leading_group) on ``subject`` has been recorded."""

    body: str
    subject: str


class GatePredicate(Frozen):
    """Exactly one of the fields: a small fixed vocabulary of named predicates, never an eval string."""

    milestone: str | None = None  # "item:milestone" done
    all: AllDone | None = None
    at_least: AtLeast | None = None
    approval: ApprovalRef | None = None
    all_of: tuple[Union[str, "GatePredicate"], ...] | None = None
    any_of: tuple[Union[str, "GatePredicate"], ...] | None = None

    def kind(self) -> str:
        set_ = [k for k in ("milestone", "all", "at_least", "approval", "all_of", "any_of") if getattr(self, k) is not None]
        return set_[0] if len(set_) == 1 else ""


def predicates(pred: GatePredicate):
    """A predicate and every inline predicate nested in it (named sub-gates are not followed)."""
    yield pred
    for sub in (pred.all_of or ()) + (pred.any_of or ()):
        if isinstance(sub, GatePredicate):
            yield from predicates(sub)


class GateSpec(GatePredicate):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    automatic: bool = False  # when it turns true inside an action, what it guards happens in that same action
    # the office may force this gate (``advance --override-reason``) when its stage's window has ended and it is
    # still closed; the demo forces only such gates, and says so. Services accept an override with a reason on any
    # stage exit gate: this flag is the cycle file's statement of intent, not a lock.
    may_force: bool = False


# -- milestones, lifecycles, items ------------------------------------------------------------------------------
class MeetingSpec(Frozen):
    """The meeting a milestone is held at (开题 → 课题启动会): what its 通知 calls it and what is sent before it."""

    name: str  # 课题启动会
    materials: str | None = None  # 开题报告; default: the milestone's deliverables


class RequestSpec(Frozen):
    """The 请示 a milestone's acceptance sends upward (the cycle's opening 请示, 《纲要》（送审稿）to 区政府)."""

    to: str  # an approval body's key or a unit's name
    title: str  # 关于……的请示
    text: tuple[str, ...] = ()  # body paragraphs; "特此请示。" is added
    attachments: tuple[str, ...] | None = None  # default: the milestone's deliverables


# Roles: what a milestone is for, when the engine has a move of its own for it (rather than submit → review).
#   contractor_choice          a topic's 确定承接单位: completed by ``plancycle contractor`` (record the 承接单位)
#   registration               a special plan's 立项确认: decided by ``plancycle register`` (confirm or reject)
#   special_plan_confirmation  the task milestone that closes 立项: once done, no more 专项规划 can be proposed
# Each role appears at most once in its place (a lifecycle, or the whole cycle for the task role); validate says
# where a role is missing that a move needs.
ROLES: dict[str, str] = {
    "contractor_choice": "topic",
    "registration": "special_plan",
    "special_plan_confirmation": "task",
}


class TargetSpec(Frozen):
    """A figure a milestone is to reach (schema 2): 区级一般公共预算收入完成年度目标的25% → value 25, unit %, of
    区级一般公共预算收入完成年度目标; 累计 78家 → value 78, unit 家. ``cumulative``: counted from the year's start."""

    value: float
    unit: str = ""
    of: str | None = None  # what is measured
    cumulative: bool = True
    direction: Literal["up", "down"] = "up"  # up: reaching at least the value is on schedule; down: at most


class IndicatorSpec(Frozen):
    """A 主要指标 of an adopted 纲要 (schema 2), monitored every year (seed 003: 约束性指标……确保到期末完成目标;
    预期性指标……加强跟踪监测). Actual figures are reported against it by its lead unit (a yearly report's
    ``--figure ID=VALUE``, or ``plancycle indicator record``); ``stages.engine.indicators`` judges them.

    ``measure``: ``level`` — a value moving from ``base`` (in ``base_year``) to ``target`` (in ``target_year``),
    judged against the straight path between them; ``yearly`` — each year's own figure held against ``target``
    (年均增长 6%左右, 单位GDP能耗下降 a year)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    category: str | None = None  # 经济发展, 创新驱动, 民生福祉, 绿色生态 …
    kind: Literal["约束性", "预期性"]
    unit: str = ""
    measure: Literal["level", "yearly"] = "level"
    base: float | None = None
    base_year: int | None = None
    target: float | None = None
    target_year: int | None = None
    direction: Literal["up", "down"] = "up"  # up: more is better; down: less is better (能耗, PM2.5)
    tolerance: float = Field(default=0, ge=0)  # how far short of the path still counts as on track, in ``unit``
    lead: tuple[str, ...] = ()  # who reports it (区统计局 …)
    source: str | None = None  # 数据来源 as documents print it
    note: str | None = None


class MilestoneSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    due: str | dt.date | dt.datetime
    start: str | dt.date | None = None
    owner: str = "lead"  # lead | coordinator | a department's short name
    deliverables: tuple[str, ...] = ()
    after: tuple[str, ...] | None = None  # None: the previous milestone of the list
    stage: str | None = None  # None: the item's stage
    only_for: Literal["open_call", "direct_commission"] | None = None
    opens_when: str | None = None  # gate id
    accept_requires: str | None = None  # gate id
    completes_when: str | None = None  # gate id: accepted by the system when it turns true
    notices: tuple[str, ...] = ()
    meeting: MeetingSpec | None = None  # reviewed at a meeting the coordinator schedules (开题、中期、结题评审)
    request: RequestSpec | None = None  # a 请示 goes upward when it is accepted
    role: Literal["contractor_choice", "registration", "special_plan_confirmation"] | None = None  # see ROLES
    targets: tuple[TargetSpec, ...] = ()  # schema 2: the figures to reach by the deadline
    # schema 2: a milestone that happens only when the office says so (修改调整 only if the 中期评估 calls for it):
    # it waits, never late, until ``plancycle trigger``; a cycle may end with it never triggered
    optional: bool = False
    condition: str | None = None  # when it is triggered, in words (根据中期评估结果确有必要时)
    note: str | None = None
    # filled by the loader:
    due_date: dt.date | None = None
    due_time: dt.time | None = None
    start_date: dt.date | None = None
    deps: tuple[str, ...] = ()  # resolved: "ms" within the item or "item:ms" across items
    period: str | None = None  # a reporting milestone's period: 2019-03, 2019-Q1, 2021 (what its figures stand for)


class LifecycleSpec(Frozen):
    name: str
    stage: str
    milestones: tuple[MilestoneSpec, ...]
    # how the items of this lifecycle's track are keyed: topics "<key_prefix><no, two digits>", proposed special
    # plans "<key_prefix><n, two digits>"; default: the lifecycle's own key with "-" (topic-01, special-plan-01)
    key_prefix: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*-$")
    ref: str | None = None  # topics: where the source lists each one, "{no}" standing for its number (附件1 三、{no})

    def role(self, role: str) -> "MilestoneSpec | None":
        return next((m for m in self.milestones if m.role == role), None)


class Funding(Frozen):
    """分期拨付: a share of a topic's fee becomes payable when a milestone is accepted."""

    milestone: str
    share: float = Field(gt=0, le=1)
    name: str


class TopicSpec(Frozen):
    no: int = Field(ge=1)
    title: str
    focus: str
    lead: tuple[str, ...] = Field(min_length=1)
    cooperating: tuple[str, ...] = ()
    open_call: bool = True
    ref: str | None = None  # default: the topic lifecycle's ``ref`` with the number filled in
    note: str | None = None


class TaskSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    ref: str
    stage: str
    title: str
    text: str | None = None
    domain: str | None = None  # schema 2: 领域 (经济发展, 城区建设管理 …), shown on the board
    lead: tuple[str, ...] = Field(min_length=1)
    # schema 2: ``first`` — the first lead unit owes every milestone for all of them; ``each`` — every lead unit
    # (a group's every member) owes its own part: the task becomes one item per unit, keyed ``<id>.<unit id>``
    lead_mode: Literal["first", "each"] = "first"
    cooperating: tuple[str, ...] = ()
    milestones: tuple[MilestoneSpec, ...] = Field(min_length=1)


class SpecialPlanSpec(Frozen):
    """A 专项规划 the cycle file lists (schema 2), besides those departments propose at run time: it enters the run
    at ``init`` as if proposed by its first lead unit, and goes to 立项确认 with the others."""

    title: str
    lead: tuple[str, ...] = Field(min_length=1)
    cooperating: tuple[str, ...] = ()
    ref: str | None = None
    note: str | None = None


class OutlineSpec(Frozen):
    title: str
    lead: tuple[str, ...] = Field(min_length=1)
    cooperating: tuple[str, ...] = ()
    lifecycle: str = "outline"


class StageSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    ref: str | None = None
    window: str | None = None  # a period phrase (2019年, 2021年上半年); or explicit dates:
    start: dt.date | None = None  # the first day, with ``end`` (a window crossing years: 2024-06-01 … 2025-05-31)
    end: dt.date | None = None
    exit_gate: str | None = None
    # filled by the loader:
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class TimelineRow(Frozen):
    """One row of the 主要工作节点 table: its seed text and the items whose dates place it in quarters."""

    stage: str
    text: str
    covers: tuple[str, ...] = Field(min_length=1)  # item keys, "item:milestone", or a track name


class ReportingSpec(Frozen):
    """A reporting rhythm (schema 2): every lead unit of the cycle's tasks reports by ``day`` of each month (or of
    each quarter's last month) from ``start`` to ``end`` — seed 004: 于每月25日前将重点工作目标完成情况报送.
    Each unit gets an item of its own (``key_prefix`` + its id) with one milestone per period; a period's report
    opens when the previous one is accepted."""

    every: Literal["month", "quarter", "year"] = "month"
    day: int = Field(default=25, ge=1, le=31)  # by this day (a shorter month: its last day)
    due_month: int = Field(default=1, ge=1, le=12)  # every: year — the report on year Y is due in this month of Y+1
    reporters: Literal["task_leads", "indicator_leads"] = "task_leads"  # who reports: the tasks' or the indicators' leads
    start: str = Field(pattern=r"^\d{4}-\d{2}$")  # the first period reported, YYYY-MM
    end: str = Field(pattern=r"^\d{4}-\d{2}$")  # the last
    title: str = "{unit}工作进展报送"  # the item's title; {unit} is the unit's short name
    name: str = "{month}月工作进展"  # a milestone's name; {year}, {month}, {quarter} filled in
    deliverables: tuple[str, ...] = ("本期进展、存在问题和下步安排",)
    key_prefix: str = Field(default="report-", pattern=r"^[a-z][a-z0-9-]*-$")
    to: str | None = None  # who receives the reports (text for documents)


class Reminders(Frozen):
    yellow_within_workdays: int = Field(default=5, ge=0)
    escalate_after_workdays: int = Field(default=5, ge=1)


SCHEMA = 2  # the newest cycle-file schema this code reads; a file without ``schema:`` is schema 1
# schema 2 adds: tasks' ``domain`` and ``lead_mode``, milestones' ``targets``, ``optional`` and ``condition``, the
# cycle's ``reporting`` rhythm, ``indicators`` and ``special_plans``


class CycleFile(Frozen):
    """The YAML file's shape, as written by a person."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    schema_: int = Field(default=1, alias="schema", ge=1, le=SCHEMA)  # the shape of the file (docs/cycle-schema.md)
    version: int = Field(ge=1)
    title: str
    district: str
    issuer: str
    source: str | None = None
    departments: str = "../departments.yaml"
    calendar: str | None = None
    plan_document: str | None = None  # the work plan documents cite (《…工作方案》); default: the title + 方案
    opening_request: RequestSpec | None = None  # the 请示 that opens the cycle (seed 000: 长发改〔2019〕24号)
    period: str | None = None  # the plan period documents name: 十四五, 十五五, 2027年度; default from the title
    notices: str | None = None  # the notice config (organ, contacts, 抄送 …); default config/notices.yaml
    coordinator: str
    lead_may_review: bool = False  # True: a topic's lead unit may accept or return its own deliverables
    approval_bodies: dict[str, str]
    reminders: Reminders = Reminders()
    stages: tuple[StageSpec, ...] = Field(min_length=1)
    gates: tuple[GateSpec, ...] = ()
    lifecycles: dict[str, LifecycleSpec] = {}  # topic, special_plan, the outline's: each only where it has a track
    funding: tuple[Funding, ...] = ()
    topics: tuple[TopicSpec, ...] = ()
    tasks: tuple[TaskSpec, ...] = ()
    outline: OutlineSpec | None = None
    timeline: tuple[TimelineRow, ...] = ()
    reporting: ReportingSpec | None = None  # schema 2
    indicators: tuple[IndicatorSpec, ...] = ()  # schema 2: the 纲要's 主要指标, monitored yearly
    special_plans: tuple[SpecialPlanSpec, ...] = ()  # schema 2: 专项规划 listed in the file (more may be proposed)


class ItemSpec(Frozen):
    """A resolved item: a topic, the outline or a task (special plans are instantiated at run time)."""

    key: str
    kind: Literal["topic", "special_plan", "outline", "task"]
    title: str
    stage: str
    lead: tuple[str, ...]
    cooperating: tuple[str, ...] = ()
    milestones: tuple[MilestoneSpec, ...]
    ref: str | None = None
    no: int | None = None
    focus: str | None = None
    open_call: bool | None = None
    text: str | None = None
    domain: str | None = None
    part_of: str | None = None  # a ``lead_mode: each`` task's part: the task's id

    def milestone(self, mid: str) -> MilestoneSpec:
        for ms in self.milestones:
            if ms.id == mid:
                return ms
        raise KeyError(mid)


class CycleSpec(Frozen):
    """The loaded, checked cycle: what the engine runs."""

    file: CycleFile
    path: str
    checksum: str  # of the cycle file's and the departments file's contents (stages.definition.loader.checksums)
    legacy_checksums: tuple[str, ...] = ()  # what earlier versions computed for the same files: runs they made
    departments: tuple[DepartmentSpec, ...]
    groups: dict[str, tuple[str, ...]]
    stages: tuple[StageSpec, ...]  # with resolved windows
    items: tuple[ItemSpec, ...]
    lifecycles: dict[str, LifecycleSpec]  # with resolved dates

    # convenience ------------------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.file.id

    def made(self, checksum: str) -> bool:
        """True when a run recorded with ``checksum`` was made from these very files."""
        return checksum == self.checksum or checksum in self.legacy_checksums

    @property
    def version(self) -> int:
        return self.file.version

    def stage(self, sid: str) -> StageSpec:
        for st in self.stages:
            if st.id == sid:
                return st
        raise KeyError(sid)

    def stage_index(self, sid: str) -> int:
        return [s.id for s in self.stages].index(sid)

    def gate(self, gid: str) -> GateSpec:
        for g in self.file.gates:
            if g.id == gid:
                return g
        raise KeyError(gid)

    def item(self, key: str) -> ItemSpec:
        return self._items_by_key[key]

    @functools.cached_property
    def _items_by_key(self) -> dict[str, ItemSpec]:
        return {it.key: it for it in self.items}

    def department(self, name: str) -> DepartmentSpec:
        """By id, short name, full name or alias."""
        for d in self.departments:
            if name in (d.id, d.short, d.name) or name in d.aliases:
                return d
        raise KeyError(name)

    @property
    def coordinator(self) -> DepartmentSpec:
        return self.department(self.file.coordinator)

    # words documents use ---------------------------------------------------------------------------------------
    @property
    def period(self) -> str:
        """十四五 / 十五五 / 2027年度: the cycle file's ``period``, else the quoted period in its title."""
        import re

        if self.file.period:
            return self.file.period
        m = re.search(r"“([^”]+)”", self.file.title)
        return m.group(1) if m else ""

    @property
    def cycle_name(self) -> str:
        """The work's name without the district: “十四五”规划研究和编制工作."""
        t = self.file.title
        return t[len(self.file.district):] if self.file.district and t.startswith(self.file.district) else t

    def milestone_spec(self, kind: str, item_key: str, ms_id: str) -> MilestoneSpec:
        """A milestone's spec: an item's own, or its lifecycle's for items made at run time (proposed plans)."""
        found = self._milestones_by_key.get(("special_plans" if kind == "special_plan" else item_key, ms_id))
        if found is None:
            raise KeyError((item_key, ms_id))
        return found

    @functools.cached_property
    def _milestones_by_key(self) -> dict[tuple[str, str], MilestoneSpec]:
        out = {(it.key, m.id): m for it in self.items for m in it.milestones}
        if "special_plan" in self.lifecycles:
            out.update({("special_plans", m.id): m for m in self.lifecycles["special_plan"].milestones})
        return out

    # roles: what the engine's own moves act on, named in the file (MilestoneSpec.role) ---------------------------
    def role_milestone(self, lifecycle: str, role: str) -> MilestoneSpec | None:
        """The milestone of ``lifecycle`` (topic, special_plan) that plays ``role``, if the file names one."""
        lc = self.lifecycles.get(lifecycle)
        return lc.role(role) if lc is not None else None

    def task_role(self, role: str) -> tuple[str, str] | None:
        """(item key, milestone id) of the task milestone that plays ``role`` (special_plan_confirmation)."""
        for it in self.items:
            for m in it.milestones:
                if m.role == role:
                    return it.key, m.id
        return None

    def key_prefix(self, lifecycle: str) -> str:
        """How items of a lifecycle's track are keyed: its ``key_prefix``, else its key with '-' (topic-01)."""
        lc = self.lifecycles.get(lifecycle)
        if lc is not None and lc.key_prefix:
            return lc.key_prefix
        return lifecycle.replace("_", "-") + "-"

    def approvers(self, gate_id: str | None) -> list[str]:
        """The approval bodies (their names) a gate waits for, following the gates it names: who approves what a
        milestone's ``accept_requires`` guards (the 领导小组 approving the 专项规划 list)."""

        out: list[str] = []
        todo, seen = ([gate_id] if gate_id else []), set()
        while todo:
            gid = todo.pop(0)
            if gid in seen:
                continue
            seen.add(gid)
            try:
                g = self.gate(gid)
            except KeyError:
                continue
            for p in predicates(g):
                if p.approval:
                    name = self.file.approval_bodies.get(p.approval.body, p.approval.body)
                    if name not in out:
                        out.append(name)
                todo.extend(x for x in (p.all_of or ()) + (p.any_of or ()) if isinstance(x, str))
        return out

    def indicator(self, name: str) -> IndicatorSpec:
        """By id or name."""
        for ind in self.file.indicators:
            if name in (ind.id, ind.name):
                return ind
        raise KeyError(name)

    @property
    def has_special_plans(self) -> bool:
        return "special_plan" in self.lifecycles

    @property
    def last_day(self):
        return self.stages[-1].end_date

    @property
    def first_day(self):
        return self.stages[0].start_date

    @property
    def notices_path(self) -> str:
        """The notice settings (organ, register, contacts, recipients): the cycle's ``notices:`` or the default."""
        from pathlib import Path

        if self.file.notices:
            return str((Path(self.path).parent / self.file.notices).resolve())
        return str(NOTICES_DEFAULT)
