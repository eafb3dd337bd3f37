"""``plancycle indicators``: the 纲要 indicators (being written)."""


def register(app, **_kw) -> None:
    pass
