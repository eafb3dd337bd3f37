"""Texts of the store area (see ``stages.ground.catalogue``): code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
}
