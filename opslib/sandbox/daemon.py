"""The sandbox as a background process: ``runbook sandbox up`` starts ``python -m opslib.sandbox.daemon``,
which runs :class:`Sandbox` plus a small loopback control server (status, inject, reset, shutdown)
and writes the state file the notebooks read."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import OpsError
from .core import Sandbox, SandboxConfig


def start_control(sb: Sandbox) -> ThreadingHTTPServer:
    """The loopback control server of ``sb`` on a free port, serving in a thread; its ``stop_requested``
    event is set by ``POST /shutdown``."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the sandbox log records what matters
            return

        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/status":
                self._reply(200, sb.status())
            else:
                self._reply(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:
            try:
                if self.path.startswith("/inject/"):
                    self._reply(200, {"injected": self.path.split("/", 2)[2],
                                      "details": sb.inject(self.path.split("/", 2)[2])})
                elif self.path == "/reset":
                    sb.reset()
                    self._reply(200, {"reset": True})
                elif self.path == "/shutdown":
                    self._reply(200, {"stopping": True})
                    stop.set()
                else:
                    self._reply(404, {"error": f"no such path {self.path}"})
            except OpsError as exc:
                self._reply(400, {"error": str(exc)})
            except Exception as exc:  # reported to the caller; the sandbox keeps running
                logging.exception("control request %s failed", self.path)
                self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.stop_requested = stop
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                     name="sandbox-control").start()
    return server


def serve(sb: Sandbox) -> None:
    """Run until ``POST /shutdown``: control server, state file, then stop everything."""
    server = start_control(sb)
    sb.write_state(control_url=server.url)
    logging.info("sandbox ready: %s", sb.status())
    server.stop_requested.wait()
    server.shutdown()
    sb.stop()
    # Everything is stopped and cleaned up; what is left is the interpreter's teardown, whose garbage collections
    # walk the whole heap again and again (moto's models, ~700k objects: 1.5 s of CPU while `runbook sandbox down`
    # waits for this process to exit). Frozen objects are skipped by those collections; exit handlers still run.
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="opslib.sandbox.daemon")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--profile", default="sandbox")
    args = parser.parse_args(argv)
    logging.basicConfig(filename=str(Path(args.dir) / "sandbox.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = SandboxConfig(dir=Path(args.dir), seed=args.seed, now=datetime.fromisoformat(args.now),
                           events=args.events, profile=args.profile)
    logging.info("starting sandbox pid=%s %s", os.getpid(), config)
    serve(Sandbox.start(config))


if __name__ == "__main__":
    main()
