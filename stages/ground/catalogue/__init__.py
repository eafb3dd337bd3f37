"""The catalogue: every code's text in Chinese and in English, one module an area, one dictionary in all.

Each area's module holds ``TEXTS = {"area.code": ("中文", "English"), …}``; placeholders are ``str.format`` names
(``{item}``) and must be the same in both languages. A code belongs to one area; two areas defining one code is an
error at import. ``stages.ground.i18n.Msg`` renders them.
"""

from __future__ import annotations

from importlib import import_module

AREAS = ("common", "config", "definition", "rules", "store", "engine", "views", "paperwork", "flows", "cli", "web")


def _merge() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for area in AREAS:
        texts = import_module(f"stages.ground.catalogue.{area}").TEXTS
        for code, pair in texts.items():
            if code in out:
                raise ValueError(f"message code {code!r} is defined twice (area {area})")
            out[code] = pair
    return out


CATALOGUE = _merge()
