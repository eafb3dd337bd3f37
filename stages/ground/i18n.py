"""One message catalogue: every sentence a user reads is a code with parameters, rendered in Chinese by default.

The layers below the adapters never build a user's sentence out of words: they raise and return :class:`Msg`
values (``Msg("engine.not_open", item=…, milestone=…)``), and whoever shows one (the CLI, the console, the API, a
document, the audit page) renders it in the reader's language from ``stages.ground.catalogue``:

- zh (简体中文) by default; English with ``PLANCYCLE_LANG=en`` or the CLI's ``--lang en``, for IT staff;
- a parameter may itself be a :class:`Msg` (rendered in the same language) or a list (joined with 、 or ", ");
- a code without a text in both languages is a programming error, caught by ``tests/test_catalogue.py``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import string

LANGS = ("zh", "en")
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar("plancycle_lang", default=None)


def normalise(value: str | None) -> str | None:
    """``en``, ``en_US.UTF-8``, ``EN`` → ``en``; ``zh``, ``zh-CN``, ``zh_CN`` → ``zh``; anything else → None."""
    v = (value or "").strip().lower().replace("_", "-")
    for lang in LANGS:
        if v == lang or v.startswith(lang + "-") or v.startswith(lang + "."):
            return lang
    return None


def current() -> str:
    """The reader's language: the one set for this context (``--lang``, a console user), else ``PLANCYCLE_LANG``,
    else Chinese."""
    return _LANG.get() or normalise(os.environ.get("PLANCYCLE_LANG")) or "zh"


def set_lang(lang: str | None) -> None:
    """Set the language for the rest of this context (the CLI's ``--lang``)."""
    _LANG.set(normalise(lang))


@contextlib.contextmanager
def using(lang: str | None):
    token = _LANG.set(normalise(lang))
    try:
        yield
    finally:
        _LANG.reset(token)


def _texts() -> dict[str, tuple[str, str]]:
    from stages.ground.catalogue import CATALOGUE

    return CATALOGUE


class Msg:
    """A message code and its parameters; ``str(msg)`` renders it in the current language."""

    __slots__ = ("code", "params")

    def __init__(self, code: str, /, **params):
        if code not in _texts():
            raise KeyError(f"no text for message code {code!r} in stages.ground.catalogue")
        self.code = code
        self.params = params

    def render(self, lang: str | None = None) -> str:
        lang = normalise(lang) or current()
        zh, en = _texts()[self.code]
        text = zh if lang == "zh" else en
        return text.format_map({k: _render(v, lang) for k, v in self.params.items()})

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Msg({self.code!r}, **{self.params!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Msg) and (self.code, self.params) == (other.code, other.params)

    def __hash__(self) -> int:
        return hash(self.code)

    def __add__(self, other) -> str:  # "…" + msg, as old code joined sentences
        return self.render() + str(other)

    def __radd__(self, other) -> str:
        return str(other) + self.render()

    def __reduce__(self):
        return (_rebuild, (self.code, self.params))

    def as_dict(self) -> dict:
        return {"code": self.code, "params": {k: _plain(v) for k, v in self.params.items()}}


def _rebuild(code: str, params: dict) -> Msg:
    return Msg(code, **params)


def _render(value, lang: str):
    if isinstance(value, Msg):
        return value.render(lang)
    if isinstance(value, (list, tuple)):
        return ("、" if lang == "zh" else ", ").join(str(_render(v, lang)) for v in value)
    return value


def _plain(value):
    if isinstance(value, Msg):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def render(value, lang: str | None = None) -> str:
    """A :class:`Msg`, or a plain string (a user's own words, or text not yet in the catalogue), as text."""
    return value.render(lang) if isinstance(value, Msg) else str(value)


def placeholders(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}
