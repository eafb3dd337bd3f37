"""YAML reading that remembers where every value came from, and refuses hostile files in one line.

Owns: turning a YAML file into plain Python data plus a ``path → line`` index, and turning every way a file can
be unreadable (missing, not a regular file, too large, not UTF-8, broken syntax, duplicate keys, too deep, too
many nodes once aliases are expanded) into one-line :class:`ConfigError`s. Does not own: what the data means
(``stages.definition.loader``).

Limits (each one a refusal with the file and line, never a MemoryError, RecursionError or a hang):

``MAX_BYTES`` = 2 MiB
    The shipped cycle is 28 KB and its departments file 5 KB: 2 MiB is 70 times the largest real file, and the
    same limit ``plancycle validate`` checks before loading. ruamel's pure-Python parser reads 0.5–1 MB of long
    values a second here, and ``MAX_NODES`` stops a file of many small ones early, so a file at the limit is
    still read in seconds. Only regular files are read (``os.stat`` first, so a FIFO, a socket or ``/dev/zero``
    is never opened), and never more than the limit, even if the file grows while it is read.
``MAX_DEPTH`` = 64 levels of nesting
    The deepest real path (``lifecycles.topic.milestones[0].deliverables[0]``) is 6 levels. ruamel's composer
    recurses once per level (a note nested 5,000 deep was a RecursionError); 64 stays far below Python's
    recursion limit in every step that walks the tree (ruamel, :func:`_plain`, pydantic, the gate walk).
``MAX_NODES`` = 20,000 nodes, counted as if every alias were expanded
    The shipped cycle has about 1,000. Every scalar, list and mapping counts once; an alias counts as many nodes
    as the value it names. This bounds the memory and time of everything after parsing (at about 100 µs a node
    for ruamel's round-trip loader, 20,000 nodes is about two seconds).

Aliases and anchors: bounded, not refused. They are ordinary YAML and harmless when small (a ``cooperating``
list written once and reused), and what makes a "billion laughs" file dangerous is not the alias but its
expansion: nine anchors of nine aliases each name 9⁹ ≈ 387 million nodes in 28 KB. So expansion is what is
measured. The count is taken in the composer (:class:`_BoundedComposer`) as each node or alias is read, before
anything is expanded: ruamel's round-trip loader shares one object per anchor, and only :func:`_plain` (and
pydantic after it) would copy it once per alias, which is where the bomb used to go off. The file is refused
as soon as the running count passes ``MAX_NODES``, so a bomb costs a few milliseconds. An alias used inside its
own anchor (``&a [*a]``, a structure containing itself) is refused too: no config value is infinite. Values
reached through an alias report the line of the anchor they were written at.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.ground.errors import ConfigError
from stages.ground.catalogue import CATALOGUE
from stages.ground.i18n import Msg

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 20_000
MAX_INT = 2**63 - 1  # what a database integer column holds


class FileError(ConfigError):
    """The file itself cannot be read (missing, not a regular file, unreadable, too large): raised before any of
    its content is looked at, so a file that *names* it (``departments:`` in a cycle) can say which of its lines
    did."""


@dataclass
class YamlDoc:
    file: str  # the file's name as shown in messages (control characters and undecodable bytes escaped)
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    path: str = ""  # the name to open it by
    raw: bytes = b""  # the bytes that were parsed (for checksums: the file is read once)

    def line(self, *path) -> int | None:
        """1-based line of ``path`` (keys and list indexes), or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def clean(text: str, limit: int | None = None) -> str:
    """``text`` safe on one terminal line: control characters escaped, bytes a file name could not decode shown
    as ``\\xNN``, and at most ``limit`` characters (a 1 MB value echoed in a message helps nobody)."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # os.fsdecode's surrogateescape of an undecodable byte
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    s = "".join(out)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def display_name(path: str | bytes | os.PathLike) -> str:
    """How a file is named in a message: a non-UTF-8 name (``b'\\xff.yaml'``) or a newline in it stays readable."""
    return clean(os.fsdecode(path))


# the reasons a reader meets most often, in the reader's language (any other is the system's own words)
_ERRNO = {errno.ELOOP: "definition.why.symlink_loop", errno.ENAMETOOLONG: "definition.why.name_too_long",
          errno.EIO: "definition.why.io_error"}
_KIND = {stat.S_IFIFO: "fifo", stat.S_IFCHR: "char_device", stat.S_IFBLK: "block_device", stat.S_IFSOCK: "socket"}


def read_bytes(path: str | bytes | os.PathLike, limit: int = MAX_BYTES) -> tuple[str, bytes]:
    """``(display name, content)`` of a regular file of at most ``limit`` bytes, or one-line :class:`FileError`.

    ``os.stat`` comes first, so a FIFO (which would block ``open``), a device (``/dev/zero`` never ends; opening
    some devices has side effects) or a directory is refused without being opened. The file is then opened
    non-blocking and checked again on the open descriptor, so swapping a FIFO in between changes nothing.
    """
    name = os.fsdecode(path)
    file = display_name(name)

    def refuse(code: str, expected: "str | Msg | None" = None, **params):
        raise FileError(Msg(code, **params), file=file or "''", expected=expected)

    def unreadable(exc: OSError):
        code = _ERRNO.get(exc.errno)
        refuse("definition.file_unreadable", why=Msg(code) if code else (exc.strerror or str(exc)).lower())

    if not name:
        refuse("definition.no_file_name", expected=Msg("definition.expect.yaml_path"))
    try:
        st = os.stat(name)
    except FileNotFoundError:
        refuse("definition.no_such_file")
    except NotADirectoryError:
        refuse("definition.no_such_file_folder")
    except PermissionError:
        refuse("definition.permission_denied")
    except ValueError:  # an embedded NUL
        refuse("definition.nul_in_name")
    except OSError as exc:  # ELOOP, ENAMETOOLONG, EIO …
        unreadable(exc)

    def check(st):
        if stat.S_ISDIR(st.st_mode):
            refuse("definition.is_directory")
        if not stat.S_ISREG(st.st_mode):
            kind = _KIND.get(stat.S_IFMT(st.st_mode), "other")
            refuse("definition.not_regular", kind=Msg(f"definition.file_kind.{kind}"),
                   expected=Msg("definition.expect.regular_file"))
        if st.st_size > limit:
            refuse("definition.too_large", size=f"{st.st_size:,}", expected=Msg("definition.expect.at_most_bytes",
                                                                                 limit=f"{limit:,}"))

    check(st)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        refuse("definition.permission_denied")
    except OSError as exc:
        unreadable(exc)
    with os.fdopen(fd, "rb") as fh:
        check(os.fstat(fh.fileno()))
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            unreadable(exc)
    if len(data) > limit:
        refuse("definition.too_large_grew", limit=f"{limit:,}",
               expected=Msg("definition.expect.at_most_bytes", limit=f"{limit:,}"))
    return file, data


def decode(data: bytes, file: str) -> str:
    """UTF-8 text (a leading BOM dropped), or one line naming the first bad byte and its line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("definition.utf16", file=file, line=1, expected=Msg("definition.expect.utf8"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("definition.not_utf8", offset=exc.start, byte=f"{data[exc.start]:02x}", file=file, line=line,
                          expected=Msg("definition.expect.utf8_not_gbk")) from None
    return text[1:] if text.startswith("\ufeff") else text


# -- parsing with limits ---------------------------------------------------------------------------------------------
class _Refused(Exception):
    """A limit or an unreadable value found while parsing; load_yaml adds the file name."""

    def __init__(self, message: Msg, line: int | None, expected: "str | Msg | None" = None):
        super().__init__(message)
        self.message, self.line, self.expected = message, line, expected


def _line_of(mark) -> int | None:
    return mark.line + 1 if mark is not None else None


_classes: tuple | None = None


def _loader_classes():
    """The composer and constructor subclasses (built on first use: ruamel is imported lazily)."""
    global _classes
    if _classes is not None:
        return _classes
    import warnings

    from ruamel.yaml import error as yaml_error
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.events import AliasEvent

    # ruamel warns on stderr, in many lines, about things that either load or fail anyway (a reused anchor, a
    # YAML 1.1 float without a dot): that would break the one-line promise of every message.
    for name in ("YAMLWarning", "YAMLFutureWarning", "MarkedYAMLWarning", "MarkedYAMLFutureWarning"):
        category = getattr(yaml_error, name, None)
        if isinstance(category, type) and issubclass(category, Warning):
            warnings.filterwarnings("ignore", category=category)

    class BoundedComposer(Composer):
        """Counts nesting depth and expanded nodes while composing, before ruamel recurses any deeper and before
        anything is expanded. ``_sizes[id(node)]`` is the expanded size of each finished anchored node; an alias
        to an anchor still open is a structure that contains itself."""

        def __init__(self, loader=None):
            super().__init__(loader)
            self.warn_double_anchors = False  # re-defining an anchor is valid YAML; ruamel would warn on stderr
            self._sizes: dict[int, int] = {}
            self._nodes = 0
            self._level = 0

        def _count(self, n: int, mark, what: Msg):
            self._nodes += n
            if self._nodes > MAX_NODES:
                raise _Refused(Msg("definition.too_many_values", most=f"{MAX_NODES:,}", what=what), _line_of(mark),
                               expected=Msg("definition.expect.at_most_values", most=f"{MAX_NODES:,}"))

        def compose_node(self, parent, index):
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent):
                node = super().compose_node(parent, index)  # an undefined alias is ruamel's ComposerError
                size = self._sizes.get(id(node))
                if size is None:
                    raise _Refused(Msg("definition.alias_in_itself", alias=clean(event.anchor, 40)),
                                   _line_of(event.start_mark), expected=Msg("definition.expect.alias_after"))
                self._count(size, event.start_mark, Msg("definition.count.alias", alias=clean(event.anchor, 40)))
                return node
            if self._level >= MAX_DEPTH:
                raise _Refused(Msg("definition.too_deep", most=MAX_DEPTH), _line_of(event.start_mark),
                               expected=Msg("definition.expect.at_most_levels", most=MAX_DEPTH))
            before = self._nodes
            self._count(1, event.start_mark, Msg("definition.count.nodes"))
            self._level += 1
            try:
                node = super().compose_node(parent, index)
            finally:
                self._level -= 1
            if getattr(event, "anchor", None) is not None:
                self._sizes[id(node)] = self._nodes - before
            return node

    class CheckedConstructor(RoundTripConstructor):
        """A value ruamel cannot build (2019-13-45 as a date, an int of 5,000 digits, ``!!bool maybe``) is refused
        with the line it is on, instead of a bare ValueError."""

        def construct_object(self, node, deep=False):
            try:
                return super().construct_object(node, deep=deep)
            except (_Refused, MarkedYAMLError):
                raise
            except (ValueError, TypeError, OverflowError, KeyError, AttributeError, IndexError) as exc:
                value = node.value if isinstance(node.value, str) else ""
                tag = str(getattr(node, "tag", "") or "")
                kind = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else ""
                expected = Msg("definition.expect.real_date" if kind == "timestamp" else "definition.expect.of_its_type")
                as_kind = Msg("definition.as_kind", kind=Msg(f"definition.kind.{kind}")
                              if f"definition.kind.{kind}" in CATALOGUE else kind) if kind else ""
                why = "" if isinstance(exc, KeyError) else Msg("definition.because", why=clean(str(exc), 120))
                if "integer string conversion" in str(exc):  # Python's 4,300-digit guard, worded for programmers
                    why = Msg("definition.because", why=Msg("definition.too_many_digits", digits=f"{len(value):,}"))
                    expected = Msg("definition.expect.whole_number")
                what = (Msg("definition.cannot_read_value", value=clean(value, 40), as_kind=as_kind, why=why) if value
                        else Msg("definition.cannot_read_this_value", as_kind=as_kind, why=why))
                raise _Refused(what, _line_of(node.start_mark), expected) from None

    _classes = (BoundedComposer, CheckedConstructor)
    return _classes


def _plain(node, path: tuple, lines: dict) -> Any:
    """Convert ruamel's round-trip containers to dicts/lists, recording each key's and item's line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        out = {}
        own = getattr(getattr(node, "lc", None), "line", None)
        for key in node:
            ln = None
            try:
                ln = node.lc.key(key)[0] + 1
            except (KeyError, TypeError, AttributeError, IndexError):
                ln = own + 1 if isinstance(own, int) else None  # a key merged in with <<: the mapping's line
            if ln is not None:
                lines[path + (key,)] = ln
            if key is None:
                raise _Refused(Msg("definition.empty_key"), ln, expected=Msg("definition.expect.key_name"))
            if isinstance(key, (tuple, list, Mapping, Set)):
                raise _Refused(Msg("definition.key_is_mapping" if isinstance(key, Mapping) else "definition.key_is_list"),
                               ln, expected=Msg("definition.expect.key_name"))
            out[key] = _plain(node[key], path + (key,), lines)
        return out
    if isinstance(node, CommentedSeq):
        out = []
        for i, item in enumerate(node):
            try:
                ln, _col = node.lc.item(i)
                lines[path + (i,)] = ln + 1
            except (KeyError, TypeError, AttributeError, IndexError):
                pass
            out.append(_plain(item, path + (i,), lines))
        return out
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar-string subclasses
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        if not -MAX_INT - 1 <= node <= MAX_INT:
            line = next((lines[p] for p in (path[:n] for n in range(len(path), -1, -1)) if p in lines), None)
            raise _Refused(Msg("definition.too_many_bits", bits=node.bit_length()), line,
                           expected=Msg("definition.expect.int_between", low=-MAX_INT - 1, high=MAX_INT))
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_yaml(path: str | bytes | os.PathLike, limit: int = MAX_BYTES) -> YamlDoc:
    file, data = read_bytes(path, limit)
    text = decode(data, file)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ConfigError("definition.empty_file", file=file, line=1, expected=Msg("definition.expect.yaml_mapping"))

    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    composer, constructor = _loader_classes()
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Composer = composer
    yaml.Constructor = constructor
    try:
        raw = yaml.load(text)
        lines: dict[tuple, int] = {(): 1}
        plain = _plain(raw, (), lines)
    except _Refused as exc:
        raise ConfigError(exc.message, file=file, line=exc.line, expected=exc.expected) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or exc.context or "broken YAML").strip()
        if exc.problem and exc.context and exc.context.startswith("expected"):  # "expected a single document …"
            what = f"{exc.context.strip()} {what}"
        raise ConfigError("definition.broken_yaml", what=clean(what, 200), file=file, line=_line_of(mark)) from None
    except ReaderError as exc:  # a control character (NUL, ESC …) in the text
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        ch = exc.character
        ch = f"U+{ch:04X}" if isinstance(ch, int) else f"U+{ord(ch):04X}" if isinstance(ch, str) and len(ch) == 1 else repr(ch)
        raise ConfigError("definition.bad_character", char=ch, file=file,
                          line=line, expected=Msg("definition.expect.printable")) from None
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for syntax problems
        raise ConfigError("definition.broken_yaml",
                          what=clean(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 200),
                          file=file) from None
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError, IndexError) as exc:
        # ruamel building a value outside construct_object (a mapping's second step); no line to give
        raise ConfigError("definition.cannot_read_a_value", kind=type(exc).__name__, why=clean(str(exc), 160),
                          file=file, expected=Msg("definition.expect.key_types")) from None
    return YamlDoc(file=file, data=plain, lines=lines, path=os.fsdecode(path), raw=data)
