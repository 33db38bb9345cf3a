"""The sandbox's loopback ``/health`` endpoints for the profile's ECS services.

``GET /<service>/health`` answers for the primary region's cluster, ``GET /dr/<service>/health``
for the DR cluster: 200 ``{"status": "ok", ...}`` while the scheduler sees running tasks, 503
with a ``reason`` when it sees none or a fault lists the service, 404 for anything else.

Fault details read here (service names; ``"dr/<name>"`` for the DR side):
``health_down: [names]`` (with the details' ``reason`` if any), ``unhealthy: {name: reason | {"reason": .., "status": code}}`` and
``health_delay_seconds: {name: seconds}`` (the answer is delayed, so client timeouts can be tested).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import SandboxError


@dataclass(frozen=True)
class HealthProblem:
    """Why a fault makes a service's health check fail."""
    fault: str
    reason: str
    status: int = HTTPStatus.SERVICE_UNAVAILABLE


def _key(service: str, side: str) -> str:
    return service if side == "primary" else f"{side}/{service}"


def _active(faults: Any) -> list[tuple[str, dict]]:
    with faults.lock:
        return list(faults.active.items())


def health_fault(faults: Any, service: str, side: str = "primary") -> HealthProblem | None:
    """The first active fault that fails ``service``'s health check on ``side`` ("primary"/"dr")."""
    key = _key(service, side)
    for name, details in _active(faults):
        if key in details.get("health_down", ()):
            return HealthProblem(name, str(details.get("reason") or f"health check failing ({name})"))
        unhealthy = details.get("unhealthy", {})
        if key in unhealthy:
            value = unhealthy[key]
            if isinstance(value, dict):
                return HealthProblem(name, value.get("reason", f"unhealthy ({name})"),
                                     int(value.get("status", HTTPStatus.SERVICE_UNAVAILABLE)))
            return HealthProblem(name, str(value))
    return None


def health_delay(faults: Any, service: str, side: str = "primary") -> float:
    """Seconds the faults add before ``service``'s health check answers."""
    key = _key(service, side)
    return max((float(details.get("health_delay_seconds", {}).get(key, 0)) for _, details in _active(faults)),
               default=0.0)


@dataclass(frozen=True)
class Endpoint:
    service: str
    side: str        # "primary" or "dr"
    cluster: str


def endpoints(profile: Any) -> dict[str, Endpoint]:
    """Path -> endpoint for every ECS service of the profile, both sides."""
    paths: dict[str, Endpoint] = {}
    for s in profile.services:
        if s.type != "ecs":
            continue
        path = s.health_url if s.health_url and s.health_url.startswith("/") else f"/{s.name}/health"
        paths[path] = Endpoint(s.name, "primary", profile.ecs.cluster)
        if profile.has_dr:
            paths[f"/dr/{s.name}/health"] = Endpoint(s.name, "dr", profile.ecs.dr_cluster)
    return paths


def check(sb: Any, endpoint: Endpoint) -> tuple[int, dict]:
    """The status code and JSON body of one health check, from the scheduler's view and the faults."""
    body: dict[str, Any] = {"service": endpoint.service, "region": sb.region(endpoint.side),
                            "cluster": endpoint.cluster}
    scheduler = sb.scheduler
    view = scheduler.view(endpoint.side, endpoint.cluster, endpoint.service) if scheduler is not None else None
    running = view.running if view is not None else 0
    body["running_tasks"] = running
    problem = health_fault(sb.faults, endpoint.service, endpoint.side)
    if problem is not None:
        return problem.status, {**body, "status": "unhealthy", "reason": problem.reason, "fault": problem.fault}
    if view is None or view.status != "ACTIVE":
        reason = f"service {endpoint.service} does not exist in {endpoint.cluster} ({body['region']})"
        return HTTPStatus.SERVICE_UNAVAILABLE, {**body, "status": "unavailable", "reason": reason}
    if running == 0:
        reason = "no running tasks" + (f" ({view.outage})" if view.outage else "")
        return HTTPStatus.SERVICE_UNAVAILABLE, {**body, "status": "unavailable", "reason": reason}
    return HTTPStatus.OK, {**body, "status": "ok", "desired_tasks": view.desired}


class HealthServer:
    """A threaded HTTP server on 127.0.0.1 (a free port); ``url`` ends with "/"."""

    def __init__(self, sb: Any, host: str = "127.0.0.1", port: int = 0):
        self.sb = sb
        self.dropped = 0             # answers the client no longer waited for
        self._stopping = threading.Event()
        self._paths = endpoints(sb.profile)
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:          # noqa: N802 (http.server's naming)
                endpoint = server._paths.get(self.path.split("?", 1)[0].rstrip("/") or "/")
                if endpoint is None:
                    self._answer(HTTPStatus.NOT_FOUND, {"status": "not_found", "path": self.path,
                                                        "known": sorted(server._paths)})
                    return
                delay = health_delay(server.sb.faults, endpoint.service, endpoint.side)
                if delay and server._stopping.wait(delay):
                    return
                status, body = check(server.sb, endpoint)
                self._answer(status, body)

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    server.dropped += 1        # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:   # quiet: no request log on stderr
                return None

        return Handler

    def start(self) -> None:
        if self._thread is not None:
            raise SandboxError("health server already started")
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sandbox-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
