"""The engine: the moves of a run, and the daily sweep. What the adapters (``app/``) and the flows call.

Every move takes a ``Session``, the acting identity (``by``) and ``as_of``, checks who may act, changes the rows it
moves, writes one audit event and returns an :class:`Outcome` that says what the paperwork should draft. This
package's ``__init__`` is the one door the layers above use (``from stages import engine``; ``engine.submit``);
the modules behind it are the engine's own business.
"""

from stages.engine.services import (  # noqa: F401  (the engine's public surface)
    Ctx,
    Outcome,
    _approval_subjects,
    _audit,
    _ctx,
    _finish,
    _fingerprint,
    _replayed,
    _require_coordinator,
    advance,
    approve,
    assign_contractor,
    calendar_for,
    correct,
    extend_deadline,
    extension_plan,
    facts_for,
    figure_subjects,
    find_run,
    funding_due,
    init_run,
    ms_spec,
    notices_config_path,
    open_milestone,
    propose,
    register,
    review,
    schedule_meeting,
    submit,
    trigger,
    waive,
)
