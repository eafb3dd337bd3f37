"""Texts of the config area (see ``stages.ground.catalogue``): what the checks of a cycle file say, code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
}
