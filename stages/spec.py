"""The cycle *spec*: every path the cycle could take, as frozen pydantic models.

Owns: the shape of ``config/cycles/*.yaml`` and ``config/departments.yaml``. Does not own: reading files or
checking references (``stages.loader``), or where a run stands (``stages.models``). A spec never changes after it
is loaded; runs point at it by id, version and checksum.

Vocabulary (GLOSSARY.md): a *cycle* has three *stages*; its *items* are topics, special plans, the outline and
other tasks; each item walks through *milestones*; *gates* are named predicates over milestones and approvals.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

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
    """Every item of ``track`` (at least one) has ``milestone`` accepted or waived."""

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


class GateSpec(GatePredicate):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    automatic: bool = False  # when it turns true inside an action, what it guards happens in that same action


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
    note: str | None = None
    # filled by the loader:
    due_date: dt.date | None = None
    due_time: dt.time | None = None
    start_date: dt.date | None = None
    deps: tuple[str, ...] = ()  # resolved: "ms" within the item or "item:ms" across items


class LifecycleSpec(Frozen):
    name: str
    stage: str
    milestones: tuple[MilestoneSpec, ...]


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
    note: str | None = None


class TaskSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    ref: str
    stage: str
    title: str
    text: str | None = None
    lead: tuple[str, ...] = Field(min_length=1)
    cooperating: tuple[str, ...] = ()
    milestones: tuple[MilestoneSpec, ...] = Field(min_length=1)


class OutlineSpec(Frozen):
    title: str
    lead: tuple[str, ...] = Field(min_length=1)
    cooperating: tuple[str, ...] = ()
    lifecycle: str = "outline"


class StageSpec(Frozen):
    id: Literal["research", "drafting", "adoption"] | str
    name: str
    ref: str | None = None
    window: str
    exit_gate: str | None = None
    # filled by the loader:
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class TimelineRow(Frozen):
    """One row of the 主要工作节点 table: its seed text and the items whose dates place it in quarters."""

    stage: str
    text: str
    covers: tuple[str, ...] = Field(min_length=1)  # item keys, "item:milestone", or a track name


class Reminders(Frozen):
    yellow_within_workdays: int = Field(default=5, ge=0)
    escalate_after_workdays: int = Field(default=5, ge=1)


class CycleFile(Frozen):
    """The YAML file's shape, as written by a person."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: int = Field(ge=1)
    title: str
    district: str
    issuer: str
    source: str | None = None
    departments: str = "../departments.yaml"
    calendar: str | None = None
    opening_request: RequestSpec | None = None  # the 请示 that opens the cycle (seed 000: 长发改〔2019〕24号)
    period: str | None = None  # the plan period documents name: 十四五, 十五五, 2027年度; default from the title
    notices: str | None = None  # the notice config (organ, contacts, 抄送 …); default config/notices.yaml
    coordinator: str
    lead_may_review: bool = False  # True: a topic's lead unit may accept or return its own deliverables
    approval_bodies: dict[str, str]
    reminders: Reminders = Reminders()
    stages: tuple[StageSpec, ...] = Field(min_length=1)
    gates: tuple[GateSpec, ...] = ()
    lifecycles: dict[str, LifecycleSpec]
    funding: tuple[Funding, ...] = ()
    topics: tuple[TopicSpec, ...] = ()
    tasks: tuple[TaskSpec, ...] = ()
    outline: OutlineSpec | None = None
    timeline: tuple[TimelineRow, ...] = ()


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

    def milestone(self, mid: str) -> MilestoneSpec:
        for ms in self.milestones:
            if ms.id == mid:
                return ms
        raise KeyError(mid)


class CycleSpec(Frozen):
    """The loaded, checked cycle: what the engine runs."""

    file: CycleFile
    path: str
    checksum: str
    departments: tuple[DepartmentSpec, ...]
    groups: dict[str, tuple[str, ...]]
    stages: tuple[StageSpec, ...]  # with resolved windows
    items: tuple[ItemSpec, ...]
    lifecycles: dict[str, LifecycleSpec]  # with resolved dates

    # convenience ------------------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.file.id

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
        for it in self.items:
            if it.key == key:
                return it
        raise KeyError(key)

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
        if kind == "special_plan" and "special_plan" in self.lifecycles:
            ms = self.lifecycles["special_plan"].milestones
        else:
            ms = self.item(item_key).milestones
        for m in ms:
            if m.id == ms_id:
                return m
        raise KeyError((item_key, ms_id))

    @property
    def notices_path(self) -> str:
        """The notice settings (organ, register, contacts, recipients): the cycle's ``notices:`` or the default."""
        from pathlib import Path

        if self.file.notices:
            return str((Path(self.path).parent / self.file.notices).resolve())
        return str(Path(__file__).resolve().parent.parent / "config" / "notices.yaml")
