"""One exception hierarchy for everything a user can get wrong.

Every message is a single line a person can act on: it names the file, the YAML path and line, or the item
and the state it is in. The CLI prints ``str(error)`` and exits non-zero; no traceback reaches a user for
bad input. Programming errors are *not* PlancycleError and are allowed to crash loudly.
"""

from __future__ import annotations

from stages.ground.i18n import CODE, Msg, render


class PlancycleError(Exception):
    """Base of every error caused by input (config, command, upload, calendar range).

    Raised with a message code and its parameters (``NotFound("engine.no_item", item="topic-99")``) or a
    :class:`~stages.ground.i18n.Msg`; ``str(error)`` renders it in the reader's language from the one catalogue,
    and ``error.msg`` keeps the code for an adapter that renders it otherwise (the console, ``--json``). A plain
    sentence is still accepted while the last of them move into the catalogue.
    """

    def __init__(self, message: "str | Msg" = "", /, **params):
        if params or (isinstance(message, str) and CODE.match(message)):
            message = Msg(message, **params)
        self.msg: Msg | None = message if isinstance(message, Msg) else None
        super().__init__(message)

    def __str__(self) -> str:
        if self.msg is not None:
            return self.msg.render()
        return super().__str__()

    @property
    def code(self) -> str | None:
        return self.msg.code if self.msg is not None else None

    def __reduce__(self):
        return (type(self), self.args, self.__dict__)


class ConfigError(PlancycleError):
    """A cycle definition (or another config file) is wrong.

    Rendered as ``file:line: yaml.path: what is wrong (expected …)`` so editors can jump to it.
    """

    def __init__(self, message: "str | Msg", *, file: str | None = None, line: int | None = None,
                 path: str | None = None, expected: "str | Msg | None" = None, **params):
        if params or (isinstance(message, str) and CODE.match(message)):
            message = Msg(message, **params)
        self.msg = message if isinstance(message, Msg) else None
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.expected = expected
        Exception.__init__(self, message)

    def __str__(self) -> str:  # one line, always
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.path:
            parts.append(self.path)
        text = ": ".join(parts) + ": " + render(self.message)
        if self.expected and (self.msg is not None or isinstance(self.expected, Msg)):
            text += str(Msg("common.expected", what=self.expected))
        elif self.expected:  # a sentence not yet in the catalogue keeps its English frame
            text += f" (expected {self.expected})"
        return " ".join(text.split("\n"))


class DeadlinePhraseError(PlancycleError):
    """A deadline phrase (2019年6月上旬, 开题 + 10 个工作日 …) cannot be understood."""


class CalendarError(PlancycleError):
    """A date outside every year the working-day calendar knows: never guessed."""


class NotFound(PlancycleError):
    """An item, milestone, department or run that does not exist."""


class TransitionError(PlancycleError):
    """A move the status machine or a gate refuses ("cannot accept topic-07 开题: it is returned …")."""


class IdempotencyConflict(PlancycleError):
    """The same idempotency key was used for a different request."""
