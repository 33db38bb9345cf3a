"""The action tests' moto server, run in a process of its own (``python tests/act_moto_server.py DIR NOW``):
a moto server seeded once by the sandbox's own AWS seeder (:func:`opslib.sandbox.seed_aws.seed`, the one
``runbook sandbox up`` runs, names from the sandbox profile), snapshotted right after seeding with the
sandbox's snapshot mechanism (:mod:`opslib.sandbox.snapshot`), and a control endpoint that restores it:

* ``POST {control}/restore`` puts moto's backends back to the freshly seeded state (a few tens of ms);
* ``GET {control}/health`` answers when ready.

A process of its own because moto's backends are per process: the session sandbox of the test worker
must never see these resources nor a reset of them. The endpoints are printed as one JSON line on stdout;
the process ends when its stdin closes (the test process ended or closed the pipe)."""
from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main(directory: str, now: str, profile: str = "sandbox", seed: int = 42) -> None:
    from opslib.sandbox import seed_aws, snapshot
    from opslib.sandbox.core import Sandbox, SandboxConfig

    sb = Sandbox(SandboxConfig(dir=Path(directory), seed=seed, now=datetime.fromisoformat(now), profile=profile))
    sb.start_aws()
    seed_aws.seed(sb)
    state, containers = snapshot._take_moto()
    snap = snapshot.Snapshot(moto=state, containers=containers, warehouse=Path(os.devnull))
    lock = threading.Lock()

    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:                 # noqa: N802 (http.server's name)
            if self.path != "/restore":
                self.send_error(404)
                return
            with lock:
                snapshot._restore_moto(snap)
            self._ok()

        def do_GET(self) -> None:                  # noqa: N802
            self._ok()

        def _ok(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(json.dumps({"endpoint": sb.endpoint, "control": f"http://127.0.0.1:{control.server_port}"}), flush=True)
    sys.stdin.read()                                # until the test process closes the pipe (or ends)
    control.shutdown()
    sb.stop_aws()


if __name__ == "__main__":
    main(*sys.argv[1:3])
