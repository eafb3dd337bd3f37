"""PDF of a generated .docx, for a preview or for filing: LibreOffice headless, one private profile a call.

Owns: finding ``soffice``, the conversion (``soffice --headless --convert-to pdf``) in a temporary directory with a
user profile of its own (parallel calls do not share LibreOffice's profile lock), the fontconfig aliases
(``config/fonts/fonts.conf``: 仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体 mapped to the installed free
fonts, so a preview does not fall back silently to whatever fontconfig picks), a time limit, and one-line errors.
Does not own: the document (``stages.paperwork.documents``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.ground.paths import CONFIG_DIR

FONTS_CONF = CONFIG_DIR / "fonts" / "fonts.conf"
TIMEOUT = 120.0  # seconds; a first start of LibreOffice with a fresh profile takes a few
MISSING = "paperwork.pdf_missing"  # the refusal's code: LibreOffice (soffice) is not installed


def soffice() -> str | None:
    """The LibreOffice binary on PATH (``soffice``, or ``libreoffice`` as some distributions name it)."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx_bytes: bytes, *, timeout: float = TIMEOUT) -> bytes:
    """The PDF of a .docx, rendered by LibreOffice with the preview fonts; raises PlancycleError with one line
    when LibreOffice is missing, fails or takes longer than ``timeout`` seconds."""
    exe = soffice()
    if exe is None:
        raise PlancycleError(MISSING)
    with tempfile.TemporaryDirectory(prefix="plancycle-pdf-") as tmp:
        work = Path(tmp)
        src = work / "document.docx"
        src.write_bytes(docx_bytes)
        out = work / "out"
        out.mkdir()
        env = dict(os.environ)  # HOME kept: fontconfig reads ~/.fonts (where FandolFang may have been put)
        if FONTS_CONF.is_file():
            env["FONTCONFIG_FILE"] = str(FONTS_CONF)
        cmd = [exe, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--invisible",
               "--nologo", "--nodefault", "--nolockcheck", "--norestore",
               "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(out), str(src)]
        # its own process group: on a timeout the wrapper script and soffice.bin are ended together
        proc = subprocess.Popen(cmd, env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise PlancycleError("paperwork.pdf_timeout", seconds=f"{timeout:g}") from None
        finally:
            _kill_group(proc)  # nothing of this call's LibreOffice outlives it
        pdf = out / "document.pdf"
        if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            said = " ".join((output or b"").decode("utf-8", "replace").split())[-200:]
            raise PlancycleError("paperwork.pdf_failed", code=proc.returncode, said=Msg("paperwork.pdf_said", said=said) if said else "")
        return pdf.read_bytes()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
