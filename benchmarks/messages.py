"""Delivery throughput: N e-mail rows to a local SMTP server and N webhook rows to a local HTTP receiver.

    python benchmarks/messages.py [--n 500]

Both receivers run in their own processes (aiosmtpd's sink; http.server), so what is measured is the sender:
build the message, send it, record it ``sent`` and commit — one commit per message, the price of the crash rule
(a crash between send and record resends one message, not a batch). Prints messages per second per channel.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RECEIVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write: no Nagle / delayed-ACK stall per response on a kept-alive connection
    def setup(self):
        super().setup()
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = b'{"errcode":0}'
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out); self.wfile.flush()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listening on {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    n = ap.parse_args().n
    from sqlmodel import Session

    from stages.paperwork import messages as mg
    from stages.ground.clock import now
    from stages.store.models import CycleRun, Message, create_schema, make_engine

    smtp_port, http_port = _port(), _port()
    procs = [subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
                               "-c", "aiosmtpd.handlers.Sink"]),
             subprocess.Popen([sys.executable, "-c", RECEIVER, str(http_port)])]
    try:
        _wait(smtp_port)
        _wait(http_port)
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "messages.yaml"
            cfg_path.write_text(f"email: {{host: 127.0.0.1, port: {smtp_port}, from: 'bench <b@x.example>'}}\n"
                                f"webhooks: {{default: {{kind: wecom, url: 'http://127.0.0.1:{http_port}/send?key=K'}}}}\n"
                                f"delivery: {{batch: {n}}}\n", encoding="utf-8")
            cfg = mg.load_config(cfg_path)
            eng = make_engine(f"sqlite:///{tmp}/bench.db")
            create_schema(eng)
            with Session(eng) as s:
                s.add(CycleRun(spec_id="bench", spec_version=1, spec_path="-", spec_checksum="-", title="bench",
                               current_stage="-", created_at=now()))
                s.commit()
                text = "区虹桥办：\n课题7《“十四五”期间深入实施城市更新战略的目标、思路和举措研究》的“开题”应于2019年7月20日前报送……"
                for i in range(n):
                    for ch, addr in (("email", f"u{i}@x.example"), ("webhook", "default")):
                        key = f"bench:{i}:{ch}"
                        s.add(Message(run_id=1, key=key, ext_id=mg.external_id(key), kind="reminder", rung="urge",
                                      recipient=f"u{i}", channel=ch, address=addr, dept="区虹桥办",
                                      subject="【催办】课题7“开题”已逾期2个工作日", text=text, created_at=now()))
                s.commit()
            for ch in ("email", "webhook"):
                t = time.perf_counter()
                out = mg.deliver_pending(lambda: Session(eng), channels=[ch], config=cfg)
                took = time.perf_counter() - t
                print(f"{ch:8} {out[ch]['sent']:5d} sent in {took:6.2f} s  {out[ch]['sent'] / took:6.0f} /s")
            eng.dispose()
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
