"""What notice settings must hold (``notices:``, default config/notices.yaml), checked without importing
``stages.paperwork.notices``: ``NOTICE_KINDS`` and ``_notices_problem``. The loader reads the file and reports
the problem (``stages.definition.loader._check_notices``)."""

from __future__ import annotations

from stages.definition.checker import _kind_of
from stages.ground.i18n import Msg

_NOTICE_SECTIONS = ("organ", "contact", "numbering", "cc", "call_for_tender", "meetings")
# the document kinds the notice settings may configure: stages.paperwork.notices.DEFAULT_DOCUMENTS' keys (a test holds the two
# equal; this module does not import stages.paperwork.notices, which pulls in SQLAlchemy)
NOTICE_KINDS = ("request", "stage_notice", "meeting", "meeting_letter", "call_for_tender", "tender_result",
                "special_plan_registration", "supervision", "monthly_report", "indicator_report")


def _notices_problem(data) -> tuple[tuple, Msg, "str | Msg | None"] | None:
    """The first thing wrong with notice settings, as (path, what, expected), ``what`` a ``config.…`` message and
    ``expected`` one too or a plain example: stages.paperwork.notices.load_config's rules
    (a mapping with the six sections, organ's name, prefix, masthead and office filled in), then the types of the
    values issuing a notice reads, so a bad file fails ``validate`` rather than the first notice."""
    if not isinstance(data, dict):
        return (), Msg("config.must_be_mapping"), Msg("config.expect_the_keys", keys=_NOTICE_SECTIONS)
    for key in _NOTICE_SECTIONS:
        if key not in data:
            return (), Msg("config.missing_key", key=key), None
    for key in ("organ", "contact", "meetings", "call_for_tender", "numbering"):
        if not isinstance(data[key], dict):
            return (key,), Msg("config.must_be_mapping_not", kind=_kind_of(data[key])), Msg("config.expect_key_value_lines")
    if data["cc"] is not None and not isinstance(data["cc"], dict):
        return ("cc",), Msg("config.cc_not_mapping"), "default: …, monthly_report: …"
    for key in ("name", "prefix", "masthead", "office"):
        if not data["organ"].get(key):
            return ("organ",), Msg("config.missing_key", key=key), None
        if not isinstance(data["organ"][key], str):
            return ("organ", key), Msg("config.must_be_text"), Msg("config.expect_prefix_example")
    first = data["numbering"].get("first")
    if first is not None:
        if not isinstance(first, dict):
            return ("numbering", "first"), Msg("config.first_not_mapping"), "2019: 25"
        for year, n in first.items():
            if not isinstance(year, int) or isinstance(n, bool) or not isinstance(n, int) or n < 1:
                return ("numbering", "first", year), Msg("config.first_number"), "2019: 25"
    mode = data["numbering"].get("mode", "sequence")
    if mode not in ("sequence", "manual"):
        return ("numbering", "mode"), Msg("config.numbering_mode", mode=mode), Msg("config.expect_numbering_mode")
    docs = data.get("documents")
    if docs is not None:
        if not isinstance(docs, dict):
            return ("documents",), Msg("config.documents_not_mapping"), "request: {genre: 请示}"
        for kind, settings in docs.items():
            if kind not in NOTICE_KINDS:
                return ("documents", kind), Msg("config.unknown_document_kind", kind=kind), ", ".join(NOTICE_KINDS)
            if settings is not None and not isinstance(settings, dict):
                return ("documents", kind), Msg("config.settings_not_mapping"), "{genre: 通知, to: …}"
            to = (settings or {}).get("to")
            if to is not None and not isinstance(to, str):
                return ("documents", kind, "to"), Msg("config.to_not_text"), "to: 各有关部门"
            day = (settings or {}).get("day")
            if kind == "monthly_report" and day is not None and (isinstance(day, bool) or not isinstance(day, int)
                                                                 or not 1 <= day <= 28):
                return ("documents", kind, "day"), Msg("config.bad_day"), "day: 25"
    unnumbered = data["numbering"].get("unnumbered")
    if unnumbered is not None and not isinstance(unnumbered, list):
        return ("numbering", "unnumbered"), Msg("config.unnumbered_not_list"), "[call_for_tender]"
    if not isinstance(data["meetings"].get("place"), str):
        return ("meetings", "place"), Msg("config.no_meeting_place"), "place: 第一会议室"
    days = data["meetings"].get("materials_days_before", 3)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        return ("meetings", "materials_days_before"), Msg("config.working_days"), Msg("config.expect_whole_number", min=0)
    cft = data["call_for_tender"]
    days = cft.get("apply_within_workdays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        return ("call_for_tender", "apply_within_workdays"), Msg("config.working_days"), Msg("config.expect_whole_number", min=1)
    until = cft.get("apply_until")
    if not (isinstance(until, str) and len(until) <= 5 and until.count(":") == 1
            and all(p.isdigit() for p in until.split(":"))):
        return ("call_for_tender", "apply_until"), Msg("config.time_of_day"), Msg("config.expect_quoted_time")
    return None
