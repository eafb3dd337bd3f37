"""Benchmark: notices per second for a typical two-page 通知, against python-docx writing the same content
with no templating.

    python benchmarks/notices.py [--n 200]

ours:     ``stages.paperwork.notices.render("supervision", context)`` — Jinja2 template (StrictUndefined, escaping) → markup →
          GB/T 9704 .docx (page, fonts in four slots, grid, 版头, 版记, odd/even footers) → deterministic zip.
baseline: python-docx ``Document()``, one ``add_paragraph`` per line of the same text, ``save``.
Target: ours within 1.5× of the baseline. Also prints the page count LibreOffice gives, when it is installed.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def context() -> dict:
    """A typical 督办通知: seven overdue items of three units, signed and numbered."""
    from stages.paperwork.notices import load_config

    cfg = load_config()
    units = [{"unit": u, "rows": [{"what": f"课题{i}“‘十四五’期间第{i}项重大问题研究”：中期", "due_cn": "2019年8月31日",
                                   "workdays_late": 5 + i} for i in range(n)]} for u, n in
             (("区商务委", 3), ("区教育局", 2), ("区虹桥办", 2))]
    return {"organ": cfg["organ"], "contact": {"person": "陈明", "phone": "021-22050000"}, "cc": None,
            "cycle_title": "《长宁区“十四五”规划研究和编制工作方案》", "cycle_name": "“十四五”规划研究和编制工作",
            "coordinator": "区发改委", "to": "区商务委、区教育局、区虹桥办", "via": None, "units": units, "rank": True,
            "escalate_after": 5, "reply_due_cn": "2019年9月17日", "genre": "督办通知", "numbered": True,
            "doc_number": "长发改〔2019〕88号", "signer": "", "extra": "", "date_cn": "2019年9月12日",
            "issued_at": "2019-09-12T09:00:00"}


def baseline(lines: list[str]) -> bytes:
    from docx import Document

    d = Document()
    for line in lines:
        d.add_paragraph(line)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()

    from stages.paperwork import documents
    from stages.paperwork.notices import markup, render

    ctx = context()
    doc = documents.parse(markup("supervision", ctx))
    lines = [x for x in documents.to_markdown(doc).splitlines() if x.strip()]
    render("supervision", ctx)  # warm: template compiled, modules imported
    baseline(lines)

    t = time.perf_counter()
    for _ in range(args.n):
        ours = render("supervision", ctx)
    t_ours = (time.perf_counter() - t) / args.n
    t = time.perf_counter()
    for _ in range(args.n):
        baseline(lines)
    t_base = (time.perf_counter() - t) / args.n

    pages = "n/a (LibreOffice not installed)"
    if shutil.which("soffice"):
        tmp = Path(tempfile.mkdtemp())
        (tmp / "n.docx").write_bytes(ours)
        env = {"FONTCONFIG_FILE": str(ROOT / "config" / "fonts" / "fonts.conf"), "HOME": str(tmp),
               "PATH": "/usr/bin:/bin"}
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp), str(tmp / "n.docx")],
                       capture_output=True, env=env, timeout=120)
        if (tmp / "n.pdf").exists() and shutil.which("pdfinfo"):
            info = subprocess.run(["pdfinfo", str(tmp / "n.pdf")], capture_output=True, text=True).stdout
            pages = next((ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")), "?")
    print(f"typical 通知 (督办通知, {sum(len(u['rows']) for u in ctx['units'])} items, {pages} pages in LibreOffice), {args.n} renders each:")
    print(f"  ours (template → GB/T 9704 .docx): {1 / t_ours:7.1f} notices/s  ({t_ours * 1000:.1f} ms each)")
    print(f"  python-docx, same text, no format: {1 / t_base:7.1f} notices/s  ({t_base * 1000:.1f} ms each)")
    print(f"  ratio ours / baseline: {t_ours / t_base:.2f}x  (target within 1.5x)")


if __name__ == "__main__":
    main()
