"""YAML reading that remembers where every value came from.

Owns: turning a YAML file into plain Python data plus a ``path → line`` index, and turning every way a file can
be unreadable (missing, empty, not UTF-8, broken syntax, duplicate keys) into one-line :class:`ConfigError`s.
Does not own: what the data means (``stages.loader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass
class YamlDoc:
    file: str
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *path) -> int | None:
        """1-based line of ``path`` (keys and list indexes), or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def _plain(node, path: tuple, lines: dict) -> Any:
    """Convert ruamel's round-trip containers to dicts/lists, recording each key's and item's line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        out = {}
        for key in node:
            try:
                ln, _col = node.lc.key(key)
                lines[path + (key,)] = ln + 1
            except (KeyError, TypeError, AttributeError):
                pass
            out[key] = _plain(node[key], path + (key,), lines)
        return out
    if isinstance(node, CommentedSeq):
        out = []
        for i, item in enumerate(node):
            try:
                ln, _col = node.lc.item(i)
                lines[path + (i,)] = ln + 1
            except (KeyError, TypeError, AttributeError):
                pass
            out.append(_plain(item, path + (i,), lines))
        return out
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar-string subclasses
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_yaml(path: str | Path) -> YamlDoc:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    file = str(path)
    p = Path(path)
    if not p.exists():
        raise ConfigError("no such file", file=file)
    if p.is_dir():
        raise ConfigError("is a directory, not a YAML file", file=file)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", file=file) from None
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ConfigError("the file is empty", file=file, line=1, expected="a YAML mapping")
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = (exc.problem or exc.context or "broken YAML").strip()
        raise ConfigError(f"broken YAML: {what}", file=file, line=line) from None
    except YAMLError as exc:  # pragma: no cover - ruamel raises marked errors for syntax problems
        raise ConfigError(f"broken YAML: {str(exc).splitlines()[0]}", file=file) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an unquoted impossible date 2027-13-01
        raise ConfigError(f"cannot read a value: {exc}", file=file, expected="a real date as YYYY-MM-DD") from None
    lines: dict[tuple, int] = {(): 1}
    return YamlDoc(file=file, data=_plain(raw, (), lines), lines=lines)
