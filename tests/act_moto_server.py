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
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    from moto.server import ThreadedMotoServer

    from opslib.sandbox import moto_gaps, seed_aws, snapshot
    from opslib.sandbox.core import MOTO_DEFAULT_ACCOUNT, Sandbox, SandboxConfig

    sb = Sandbox(SandboxConfig(dir=Path(directory), seed=seed, now=datetime.fromisoformat(now), profile=profile))
    if sb.account_id != MOTO_DEFAULT_ACCOUNT:          # as Sandbox._start: every request in the profile's account
        os.environ["MOTO_ACCOUNT_ID"] = sb.account_id
    moto_gaps.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sb.endpoint = f"http://{host}:{port}"
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
    server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:3])
