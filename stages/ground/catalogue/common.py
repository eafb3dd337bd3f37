"""Texts of the common area (see ``stages.ground.catalogue``): code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
    "common.expected": ("（应为{what}）", " (expected {what})"),
}
