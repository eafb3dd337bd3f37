"""The engine: the moves of a run, and the daily sweep. What the adapters (``app/``) and the flows call.

Every move takes a ``Session``, the acting identity (``by``) and ``as_of``, checks who may act, changes the rows it
moves, writes one audit event and returns an :class:`Outcome` that says what the paperwork should draft. This
package's ``__init__`` is the one door the layers above use (``from stages import engine``; ``engine.submit``);
the modules behind it are the engine's own business, one a kind of move:

- ``context``       what every move shares: ``Outcome``, ``Ctx`` and ``_ctx``, the audit and idempotency
                    (``_audit``, ``_replayed``, ``_fingerprint``), lookups, a milestone's status;
- ``propagation``   what a move sets in motion (``_propagate``, ``_finish``): milestones that open, gates that
                    complete them, stages an automatic gate advances;
- ``creation``      ``init_run``;
- ``deliverables``  ``submit`` (with its figures), ``review``, ``waive``;
- ``progression``   ``approve``, ``advance``, ``open_milestone``, ``trigger``;
- ``plans``         ``propose``, ``register`` (立项确认), ``assign_contractor``, ``funding_due``;
- ``meetings``      ``schedule_meeting``;
- ``corrections``   ``extend_deadline`` (and its preview ``extension_plan``), ``correct``;
- ``indicators``    the 主要指标: judged, and ``record``;
- ``sweep``         the daily deadline sweep and the monthly report.
"""

from stages.definition.calendar import calendar_for  # noqa: F401  (engine.calendar_for: the adapters' lookup)
from stages.engine.context import (  # noqa: F401  (the engine's public surface)
    Ctx,
    Outcome,
    _audit,
    _ctx,
    _fingerprint,
    _replayed,
    _require_coordinator,
    facts_for,
    ms_spec,
    notices_config_path,
)
from stages.engine.corrections import correct, extend_deadline, extension_plan  # noqa: F401
from stages.engine.creation import init_run  # noqa: F401
from stages.engine.deliverables import figure_subjects, review, submit, waive  # noqa: F401
from stages.engine.meetings import schedule_meeting  # noqa: F401
from stages.engine.plans import assign_contractor, funding_due, propose, register  # noqa: F401
from stages.engine.progression import _approval_subjects, advance, approve, open_milestone, trigger  # noqa: F401
from stages.engine.propagation import _finish  # noqa: F401
from stages.store.runs import find_run  # noqa: F401  (engine.find_run: the adapters' lookup)
