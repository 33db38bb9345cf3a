"""SNS message signatures the receiver can verify, in the sandbox.

moto 5.2 signs HTTP notifications with a key of its own (SignatureVersion 2) but names the certificate
``https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem``, which is not reachable from the
sandbox. The sandbox closes that gap here, in the sandbox process, never by loosening the receiver:

- :class:`CertServer` serves signing certificates on a loopback port (moto's, read from its SNS backends,
  and those of any :class:`SigningAuthority`);
- :func:`install` makes moto's HTTP deliveries name that server in ``SigningCertURL``; the receiver is
  started trusting that origin (``runbook serve --trust-sns-origin``, found in the sandbox state file).
  It also re-signs them over AWS's canonical string: moto leaves ``Subject`` out of what it signs, so
  every notification published with a subject (CloudWatch's always have one) fails verification;
- :class:`SigningAuthority` signs messages itself (SignatureVersion 1 or 2, and subscription
  confirmations, which moto does not send), for tests and drills.
"""
from __future__ import annotations

import base64
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

_LOCK = threading.Lock()
_STACK: list = []                          # installed servers, latest last
_SERVER: "CertServer | None" = None        # the sandbox process's certificate server (moto's deliveries name it)
_INSTALLED = False


class CertServer:
    """``GET /<name>.pem`` on 127.0.0.1: registered certificates, else moto's SNS message keys."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.certs: dict[str, bytes] = {}
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.origin = f"http://{bound_host}:{bound_port}"
        self._thread: threading.Thread | None = None

    def lookup(self, name: str) -> bytes | None:
        if name in self.certs:
            return self.certs[name]
        try:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.sns.models import sns_backends
        except ImportError:
            return None
        for region in list(sns_backends[DEFAULT_ACCOUNT_ID].keys()):
            found = sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys.get(name)
            if found:
                return found if isinstance(found, bytes) else str(found).encode()
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:        # noqa: N802
                name = self.path.split("?", 1)[0].lstrip("/")
                pem = server.lookup(name) if name.endswith(".pem") else None
                status = HTTPStatus.OK if pem else HTTPStatus.NOT_FOUND
                body = pem or b"not found\n"
                self.send_response(status)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> "CertServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sns-certs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def install(server: CertServer) -> None:
    """moto's HTTP(S) deliveries name ``server`` in ``SigningCertURL`` (idempotent; the latest server wins
    until :func:`uninstall` hands the deliveries back to the one before it)."""
    global _SERVER, _INSTALLED
    with _LOCK:
        _STACK.append(server)
        _SERVER = server
        if _INSTALLED:
            return
        from moto.sns.models import Subscription
        original = Subscription.get_post_data

        def get_post_data(self: Any, *args: Any, **kwargs: Any) -> dict:
            from opslib.webhook.sns import string_to_sign
            data = original(self, *args, **kwargs)
            current = _SERVER
            if current is not None and data.get("SigningCertURL"):
                data["SigningCertURL"] = f"{current.origin}/{data['SigningCertURL'].rsplit('/', 1)[-1]}"
            if data.get("Signature"):        # the same key moto's certificate holds (cached per subscription)
                signature = self.private_key().sign(string_to_sign(data), padding.PKCS1v15(), hashes.SHA256())
                data["Signature"] = base64.b64encode(signature).decode()
            return data

        Subscription.get_post_data = get_post_data
        _INSTALLED = True


def uninstall(server: CertServer) -> None:
    """``server`` stops: deliveries name the server installed before it (or none)."""
    global _SERVER
    with _LOCK:
        if server in _STACK:
            _STACK.remove(server)
        _SERVER = _STACK[-1] if _STACK else None


class SigningAuthority:
    """A key and a self-signed certificate registered on ``server``: signs SNS messages like AWS does."""

    def __init__(self, server: CertServer, *, now: datetime | None = None, days: int = 365):
        now = now or datetime.now(timezone.utc)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=days)).sign(self.key, hashes.SHA256()))
        self.name = f"SimpleNotificationService-{uuid.uuid4().hex}.pem"
        server.certs[self.name] = cert.public_bytes(serialization.Encoding.PEM)
        self.url = f"{server.origin}/{self.name}"

    def sign(self, message: dict, version: str = "2") -> dict:
        from opslib.webhook.sns import string_to_sign
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
        return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                "SigningCertURL": self.url}
