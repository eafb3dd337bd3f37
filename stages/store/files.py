"""The attachment store: every file a department hands in, kept by its content.

Owns: where attachments live (``PLANCYCLE_FILES``, default a folder beside the SQLite database), how they are
named (``ab/cdef…`` by SHA-256), what is accepted (size limit, allowed types checked by extension *and* by the
file's first bytes) and how an original name is cleaned. The original name is data only: nothing a user sends
ever becomes a path. Does not own: who may read a file (``stages.views.reads``) or the submission that cites it.

A stored file is written to a temporary file in the store, hashed while it is written, checked, then renamed into
place: an interrupted upload leaves no half file under a digest name, and the same bytes stored twice are one file.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from stages.ground.errors import PlancycleError

DEFAULT_MAX_MB = 50
DEFAULT_TYPES = ("doc", "docx", "wps", "pdf", "ofd", "xls", "xlsx", "et", "zip", "jpg", "jpeg", "png")

# first bytes by extension: an OLE2 compound file (doc, xls, wps, et), a zip package (docx, xlsx, ofd, zip), …
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
MAGIC = {"doc": (_OLE,), "xls": (_OLE,), "wps": (_OLE, *_ZIP), "et": (_OLE, *_ZIP), "docx": _ZIP, "xlsx": _ZIP,
         "ofd": _ZIP, "zip": _ZIP, "pdf": (b"%PDF-",), "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",),
         "jpeg": (b"\xff\xd8\xff",)}
MIME = {"doc": "application/msword", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf", "ofd": "application/ofd", "zip": "application/zip", "png": "image/png",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "wps": "application/vnd.ms-works", "et": "application/vnd.ms-excel"}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class FileRefused(PlancycleError):
    """An attachment that is not accepted: too large, of a type not allowed, empty, or not a regular file."""


def clean_name(name: str) -> str:
    """A file's original name as data: its last path component, no control characters, at most 120 characters."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".") or "附件"
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 120 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:120]
    return name


def default_root(db_url: str | None) -> Path:
    """``PLANCYCLE_FILES``, else ``<database>-files`` beside a SQLite file, else ``./plancycle-files``."""
    env = os.environ.get("PLANCYCLE_FILES")
    if env:
        return Path(env)
    if db_url and db_url.startswith("sqlite:///") and db_url not in ("sqlite:///:memory:",):
        p = Path(db_url[len("sqlite:///"):])
        return p.with_name(p.stem + "-files")
    return Path("plancycle-files")


@dataclass
class FileStore:
    root: Path
    max_bytes: int = DEFAULT_MAX_MB * 1024 * 1024
    allowed: tuple[str, ...] = field(default=DEFAULT_TYPES)

    @classmethod
    def for_url(cls, db_url: str | None) -> "FileStore":
        mb = os.environ.get("PLANCYCLE_MAX_UPLOAD_MB")
        types = os.environ.get("PLANCYCLE_UPLOAD_TYPES")
        try:
            max_bytes = int(float(mb) * 1024 * 1024) if mb else DEFAULT_MAX_MB * 1024 * 1024
        except ValueError:
            raise PlancycleError("store.bad_max_upload", value=mb) from None
        allowed = tuple(t.strip().lower().lstrip(".") for t in types.split(",") if t.strip()) if types else DEFAULT_TYPES
        return cls(default_root(db_url), max_bytes, allowed)

    # -- writing ---------------------------------------------------------------------------------------------------
    def check_name(self, name: str) -> tuple[str, str]:
        clean = clean_name(name)
        ext = clean.rpartition(".")[2].lower() if "." in clean else ""
        if ext not in self.allowed:
            raise FileRefused("store.file_type", name=clean, types=list(self.allowed))
        return clean, ext

    def put(self, name: str, stream: BinaryIO) -> dict:
        """Store the bytes of ``stream`` under their digest; return ``{name, sha256, size, type}``."""
        clean, ext = self.check_name(name)
        tmpdir = self.root / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        digest, size, head = hashlib.sha256(), 0, b""
        fd, tmp = tempfile.mkstemp(dir=tmpdir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(1 << 20)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileRefused("store.file_too_large", name=clean, mb=self.max_bytes // (1024 * 1024))
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise FileRefused("store.file_empty", name=clean)
            magic = MAGIC.get(ext)
            if magic and not any(head.startswith(m) for m in magic):
                raise FileRefused("store.file_mismatch", name=clean, ext=ext)
            sha = digest.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                os.unlink(tmp)
            else:
                os.replace(tmp, final)
            tmp = None
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
        return {"name": clean, "sha256": sha, "size": size, "type": ext}

    def put_path(self, path: str | os.PathLike) -> dict:
        """Store a local file (the CLI's ``--file``): only a regular, readable file within the size limit."""
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise FileRefused("store.no_file", path=str(path)) from None
        except OSError as exc:
            raise FileRefused("store.cannot_read", path=str(path), why=exc.strerror or type(exc).__name__) from None
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused("store.not_regular", path=str(path))
        if st.st_size > self.max_bytes:
            raise FileRefused("store.path_too_large", path=str(path), size=st.st_size // (1024 * 1024),
                              mb=self.max_bytes // (1024 * 1024))
        self.check_name(p.name)
        try:
            with p.open("rb") as fh:
                return self.put(p.name, fh)
        except PermissionError:
            raise FileRefused("store.permission_denied", path=str(path)) from None

    # -- reading ---------------------------------------------------------------------------------------------------
    def path(self, sha: str) -> Path:
        if not _DIGEST.match(sha or ""):
            raise FileRefused("store.not_a_digest", sha=sha)
        return self.root / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def read(self, sha: str) -> bytes:
        p = self.path(sha)
        if not p.is_file():
            raise FileRefused("store.not_in_store", sha=sha[:12], root=str(self.root))
        return p.read_bytes()
