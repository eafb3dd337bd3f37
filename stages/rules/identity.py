"""Who is acting: the identity every service takes, and what each role may do.

Owns: :class:`Actor` (user, display name, role, department, and the agent when someone acts on another's
behalf), the four roles, and :func:`resolve_actor` which turns what an adapter knows (a signed-in user, or a
CLI operator with ``--by``) into an Actor checked against the cycle's departments. Does not own: passwords and
sign-in (``stages.store.users``), or the rules of each move (``stages.engine``, which call :meth:`Actor.require`).

Roles:
- ``department``: a unit's liaison (联络员). Sees and acts only on what its department owes, leads or
  cooperates on; submits, proposes special plans for its own department.
- ``coordinator``: the planning office (规划科) of the cycle's coordinating department. Reviews, advances,
  extends, waives, schedules meetings, records contractors, approvals and 立项确认, signs off documents; may
  submit on a department's behalf (recorded as 代).
- ``leader``: reads everything, changes nothing.
- ``admin``: manages users; acts as a coordinator.

A coordinator or admin acting for a department (the CLI's ``--by 区虹桥办``) acts with that department's
rights, not its own, and is recorded as "张三 代 区虹桥办": representing a unit never grants more than the unit has.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from stages.ground.errors import PlancycleError

Role = Literal["department", "coordinator", "leader", "admin", "system"]
ROLES: tuple[str, ...] = ("department", "coordinator", "leader", "admin")
ROLE_NAMES = {"department": "部门联络员", "coordinator": "规划科（协调）", "leader": "领导", "admin": "管理员",
              "system": "系统"}


class Forbidden(PlancycleError):
    """The acting identity may not do this (HTTP 403). The message is one line, in Chinese where shown on the web."""


class Actor(BaseModel):
    """The acting identity of one request."""

    model_config = ConfigDict(frozen=True)

    user: str  # username, "cli:<os user>" for the command line, "system" for the sweep
    name: str = ""  # display name
    role: Role
    dept: Optional[str] = None  # the department it acts for (short name); the coordinator's for coordinators
    agent: Optional[str] = None  # who really typed it, when acting on another's behalf ("admin 代 区虹桥办")

    @property
    def label(self) -> str:
        """What the audit log's actor column shows: the department acted for and who acted."""
        who = self.name or self.user
        if self.role == "system":
            return "system"
        if self.agent:
            return f"{self.agent} 代 {self.dept}"
        return f"{who}（{self.dept}）" if self.dept else who

    @property
    def can_coordinate(self) -> bool:
        return self.role in ("coordinator", "admin", "system")

    @property
    def reads_all(self) -> bool:
        return self.role in ("coordinator", "admin", "leader", "system")

    def as_record(self) -> dict:
        return {"user": self.user, "name": self.name, "role": self.role, "dept": self.dept, "agent": self.agent}


SYSTEM = Actor(user="system", name="系统", role="system")


def resolve_actor(spec, by: "Actor | str | None", *, operator: str = "cli") -> Actor:
    """The Actor for a request.

    - an :class:`Actor` (the web's signed-in user) is checked: a department user's department must exist;
    - a string names the department a local operator acts for (the CLI's ``--by``): the coordinator's own
      department makes a coordinator, any other a department acting through ``operator`` (recorded as 代);
    - ``None`` is the coordinator acting through the operator.
    """
    coord = spec.coordinator.short
    if isinstance(by, Actor):
        if by.role == "system":
            return by
        if by.role in ("coordinator", "admin", "leader"):  # the office's people act as the office, never as a unit
            return by.model_copy(update={"dept": coord})
        if by.dept is None:
            if by.role in ("coordinator", "admin", "leader"):
                return by.model_copy(update={"dept": coord})
            raise Forbidden("rules.no_department", user=by.user)
        return by.model_copy(update={"dept": department_short(spec, by.dept)})
    if by in (None, ""):
        return Actor(user=operator, name=operator, role="coordinator", dept=coord)
    if by == "system":
        raise Forbidden("rules.not_system")
    short = department_short(spec, by)
    if short == coord:
        return Actor(user=operator, name=operator, role="coordinator", dept=coord)
    return Actor(user=operator, name=operator, role="department", dept=short, agent=operator)


def department_short(spec, name: str) -> str:
    """A department's short name from its id, short name, full name or alias; one line naming examples if unknown."""
    from stages.ground.errors import NotFound

    try:
        return spec.department(name).short
    except KeyError:
        raise NotFound("rules.unknown_department", dept=name, short=spec.coordinator.short,
                       id=spec.coordinator.id) from None
