"""stages: the domain of plancycle, pure Python (no Prefect). One subpackage a layer; imports only go down
(``tests/test_layers.py`` holds the rule; ``docs/architecture.md`` draws it):

- ``stages.ground``      the one clock, the one family of errors, where the shipped files live.
- ``stages.definition``  a cycle as data: the schema (spec), loading and checking YAML, phrases, upgrades, the
                         working-day calendar.
- ``stages.rules``       pure rules: statuses and their moves, gate predicates over facts, who may act, request
                         models.
- ``stages.store``       tables and rows: models, a run's rows, users, the files store.
- ``stages.engine``      the moves (submit, review, advance, …), the daily sweep, indicators; ``stages.engine`` is
                         the door the layers above call.
- ``stages.views``       read models: the board, the timeline, an inbox, an item's history, the audit, the 台账 rows.
- ``stages.paperwork``   what a move calls for: 公文 drafts and their layout, numbering and sign-off, messages.

Above them: ``flows/`` (thin Prefect flows and schedules) and ``app/`` (the CLI and the web console).
"""
