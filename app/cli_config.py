"""``plancycle config …``: commands on cycle files (being written)."""


def register(app, **_kw) -> None:
    pass
