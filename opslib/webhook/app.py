"""The HTTP face of the receiver (a WSGI app on werkzeug): ``POST /sns``, ``POST /pagerduty``,
``POST /alertmanager``, ``GET /healthz``. Reading the request is separate from the decisions
(:mod:`.receiver`); every refusal is a 4xx with a JSON reason, and is audited."""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from ..errors import WebhookRejected
from . import alertmanager, pagerduty, sns
from .receiver import Receiver

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024          # SNS messages are at most 256 KB


@dataclass
class Settings:
    """What the receiver trusts: SNS certificate/subscription origins, PagerDuty secrets, Alertmanager token."""
    sns_policy: sns.TrustPolicy
    certificates: sns.CertificateCache = field(default_factory=sns.CertificateCache)
    pagerduty_secrets: list[str] = field(default_factory=list)
    alertmanager_token: str | None = None
    max_body: int = MAX_BODY
    confirm: Callable[[str], bytes] = sns.fetch_url


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


class WebhookApp:
    def __init__(self, receiver: Receiver, settings: Settings, clock: Callable[[], datetime]):
        self.receiver, self.settings, self.clock = receiver, settings, clock

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.settings.max_body
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        remote = request.remote_addr
        route = {"/sns": self._sns, "/pagerduty": self._pagerduty, "/alertmanager": self._alertmanager}
        if request.path == "/healthz" and request.method == "GET":
            return _json(200, {"status": "ok", "queue": self.receiver.queue.counts()})
        handler = route.get(request.path.rstrip("/"))
        source = request.path.strip("/") or "request"
        try:
            if handler is None:
                raise WebhookRejected(f"no route {request.method} {request.path}", status=404, source=source)
            if request.method != "POST":
                raise WebhookRejected(f"{request.method} not allowed", status=405, source=source)
            if request.content_length is None and "chunked" not in request.headers.get("Transfer-Encoding", ""):
                raise WebhookRejected("no Content-Length", status=411, source=source)
            try:
                body = request.get_data(cache=False)
            except RequestEntityTooLarge as exc:
                raise WebhookRejected(f"body larger than {self.settings.max_body} bytes", status=413,
                                      source=source) from exc
            return handler(request, body, remote)
        except WebhookRejected as exc:
            self.receiver.reject(exc, remote=remote, size=request.content_length)
            log.warning("rejected %s from %s: %s", request.path, remote, exc.reason)
            return _json(exc.status, {"status": "rejected", "reason": exc.reason})

    def _answer(self, decisions: list) -> Response:
        status = max(d.http_status for d in decisions)
        return _json(status, {"decisions": [d.to_dict() for d in decisions]})

    def _sns(self, request: Request, body: bytes, remote: str | None) -> Response:
        message = sns.parse_body(body)
        header = request.headers.get("x-amz-sns-message-type")
        if header and header != message["Type"]:
            raise WebhookRejected(f"x-amz-sns-message-type {header!r} does not match Type {message['Type']!r}",
                                  source="sns")
        sns.verify(message, self.settings.sns_policy, self.settings.certificates, now=self.clock())
        if message["Type"] == "SubscriptionConfirmation":
            url = sns.confirm_subscription(message, self.settings.sns_policy, self.settings.confirm)
            self.receiver.note("subscribed", f"sns subscription to {message['TopicArn']} confirmed", remote=remote,
                               topic=message["TopicArn"], url=url.split("&Token=")[0])
            return _json(200, {"status": "confirmed", "topic": message["TopicArn"]})
        if message["Type"] == "UnsubscribeConfirmation":
            self.receiver.note("ignored", f"sns unsubscribed from {message['TopicArn']}", remote=remote,
                               topic=message["TopicArn"])
            return _json(200, {"status": "ignored"})
        return self._answer([self.receiver.handle(sns.alarm_event(message), remote=remote)])

    def _pagerduty(self, request: Request, body: bytes, remote: str | None) -> Response:
        pagerduty.verify(body, request.headers.get("X-PagerDuty-Signature"), self.settings.pagerduty_secrets)
        return self._answer([self.receiver.handle(e, remote=remote) for e in pagerduty.events(body)])

    def _alertmanager(self, request: Request, body: bytes, remote: str | None) -> Response:
        alertmanager.verify(request.headers.get("Authorization"), self.settings.alertmanager_token)
        return self._answer([self.receiver.handle(e, remote=remote) for e in alertmanager.events(body)])


class Server:
    """The app on a threaded werkzeug server; ``with Server(...) as s: s.url``. Stops the receiver too."""

    def __init__(self, app: WebhookApp, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> "Server":
        self.app.receiver.start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="webhook-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.app.receiver.start()
        try:
            self._server.serve_forever()
        finally:
            self.app.receiver.stop()
            self._server.server_close()

    def stop(self, timeout: float = 10) -> None:
        """Stop listening, then the workers (a run still going after ``timeout`` stays ``running`` in the
        queue and is queued again at the next start)."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)
        self.app.receiver.stop(timeout)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
