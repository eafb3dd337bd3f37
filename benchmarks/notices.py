"""Benchmark: notices per second for a typical two-page 通知, against python-docx writing the same content
with no templating.

    python benchmarks/notices.py [--n 200]

ours:     ``stages.notices.render("reminder", context)`` — Jinja2 template (StrictUndefined, escaping) → markup →
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
    from stages.notices import load_config

    cfg = load_config()
    entries = [{"item_title": f"课题{i}", "name": "中期", "due_cn": "2019年8月31日", "days_late": i, "days_left": 0,
                "owner": "区发改委", "item": f"topic-{i:02d}", "milestone": "midterm", "due": "2019-08-31",
                "rung": "urge"} for i in range(1, 8)]
    return {"organ": cfg["organ"], "contact": cfg["contact"], "cc": cfg["cc"]["default"],
            "cycle_title": "《长宁区“十四五”规划研究和编制工作方案》", "to": "区发改委", "entries": entries,
            "escalation": False, "escalate_after": 5, "doc_number": "长发改〔2019〕88号",
            "date_cn": "2019年9月12日", "issued_at": "2019-09-12T09:00:00"}


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

    from stages import documents
    from stages.notices import markup, render

    ctx = context()
    doc = documents.parse(markup("reminder", ctx))
    lines = [x for x in documents.to_markdown(doc).splitlines() if x.strip()]
    render("reminder", ctx)  # warm: template compiled, modules imported
    baseline(lines)

    t = time.perf_counter()
    for _ in range(args.n):
        ours = render("reminder", ctx)
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
    print(f"typical 通知 (催办通知, {len(ctx['entries'])} items, {pages} pages in LibreOffice), {args.n} renders each:")
    print(f"  ours (template → GB/T 9704 .docx): {1 / t_ours:7.1f} notices/s  ({t_ours * 1000:.1f} ms each)")
    print(f"  python-docx, same text, no format: {1 / t_base:7.1f} notices/s  ({t_base * 1000:.1f} ms each)")
    print(f"  ratio ours / baseline: {t_ours / t_base:.2f}x  (target within 1.5x)")


if __name__ == "__main__":
    main()
