"""Amazon SNS over HTTP(S): message signature verification and CloudWatch alarm notifications.

A message is trusted only when its signature verifies against the certificate at ``SigningCertURL``
and that URL is on a trusted host: by default ``https://sns.<region>.amazonaws.com/...pem`` (``.com.cn`` in China; the
sandbox trusts its own loopback certificate server instead, see :mod:`opslib.sandbox.sns_signing`).
SignatureVersion 1 is RSA PKCS#1 v1.5 with SHA1, version 2 with SHA256, over the canonical string of
the message's fields (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
"""
from __future__ import annotations

import base64
import binascii
import json
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..errors import WebhookRejected
from .events import AlarmEvent, parse_time

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
ALGORITHMS = {"1": hashes.SHA1, "2": hashes.SHA256}
CERT_MAX_BYTES = 64 * 1024
Fetch = Callable[[str], bytes]


def _reject(reason: str, status: int = 400) -> WebhookRejected:
    return WebhookRejected(reason, status=status, source="sns")


@dataclass(frozen=True)
class TrustPolicy:
    """Which URLs a message may point at for its certificate and subscription confirmation:
    ``scheme://host[:port]`` origins. :meth:`for_region` is AWS's; the sandbox adds its loopback origin."""
    origins: tuple[str, ...]
    topics: tuple[str, ...] = ()         # allowed TopicArns; empty: any

    @classmethod
    def for_region(cls, region: str, *, extra_origins: tuple[str, ...] = (), topics: tuple[str, ...] = ()) -> "TrustPolicy":
        from ..aws.partitions import dns_suffix
        return cls((f"https://sns.{region}.{dns_suffix(region)}", *extra_origins), tuple(topics))

    def check_url(self, url: str, what: str) -> str:
        parts = urlsplit(str(url or ""))
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        if not parts.scheme or origin not in {o.lower().rstrip("/") for o in self.origins}:
            raise _reject(f"{what} {url!r} is not on a trusted SNS host ({', '.join(self.origins)})", 403)
        return url

    def check_topic(self, arn: str) -> None:
        if self.topics and arn not in self.topics:
            raise _reject(f"topic {arn!r} is not one this receiver serves", 403)


def fetch_url(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:     # noqa: S310 (origin checked first)
        data = response.read(CERT_MAX_BYTES + 1)
    if len(data) > CERT_MAX_BYTES:
        raise _reject(f"certificate at {url} is larger than {CERT_MAX_BYTES} bytes")
    return data


@dataclass
class CertificateCache:
    """Signing certificates by URL, fetched once through ``fetch`` (swapped in tests)."""
    fetch: Fetch = fetch_url
    _certs: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, url: str) -> x509.Certificate:
        with self._lock:
            cert = self._certs.get(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self.fetch(url))
            except WebhookRejected:
                raise
            except (OSError, ValueError) as exc:
                raise _reject(f"signing certificate {url} could not be read: {exc}", 403) from exc
            with self._lock:
                self._certs[url] = cert
        return cert


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise _reject(f"unknown SNS message type {kind!r}")
    return "".join(f"{k}\n{message[k]}\n" for k in SIGNED_FIELDS[kind] if k in message).encode()


def verify(message: Mapping[str, Any], policy: TrustPolicy, certs: CertificateCache, *, now: datetime) -> None:
    """Raise :class:`WebhookRejected` (403) unless ``message`` is signed by a trusted SNS certificate."""
    version = str(message.get("SignatureVersion", ""))
    if version not in ALGORITHMS:
        raise _reject(f"SignatureVersion {version!r} is not supported (1, 2)", 403)
    if not message.get("Signature") or not message.get("SigningCertURL"):
        raise _reject("unsigned message (no Signature or SigningCertURL)", 403)
    url = policy.check_url(message["SigningCertURL"], "SigningCertURL")
    if not urlsplit(url).path.endswith(".pem"):
        raise _reject(f"SigningCertURL {url!r} is not a .pem certificate", 403)
    policy.check_topic(str(message.get("TopicArn", "")))
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _reject("Signature is not base64", 403) from exc
    cert = certs.get(url)
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise _reject(f"signing certificate {url} is not valid at {now:%Y-%m-%dT%H:%M:%SZ}", 403)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise _reject("signing certificate does not hold an RSA key", 403)
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), ALGORITHMS[version]())
    except InvalidSignature as exc:
        raise _reject("signature does not match the message", 403) from exc


def parse_body(body: bytes) -> dict:
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _reject(f"body is not JSON: {exc}") from exc
    if not isinstance(message, dict) or "Type" not in message:
        raise _reject("body is not an SNS message (no Type)")
    for key in ("Message", "MessageId", "Timestamp", "TopicArn"):
        if not isinstance(message.get(key), str):
            raise _reject(f"SNS message without {key}")
    return message


def confirm_subscription(message: Mapping[str, Any], policy: TrustPolicy, fetch: Fetch = fetch_url) -> str:
    """Visit ``SubscribeURL`` (after the origin check) to confirm; returns the URL visited."""
    url = policy.check_url(message.get("SubscribeURL", ""), "SubscribeURL")
    try:
        fetch(url)
    except OSError as exc:
        raise WebhookRejected(f"subscription confirmation at {url} failed: {exc}", status=502, source="sns") from exc
    return url


def alarm_event(message: Mapping[str, Any]) -> AlarmEvent:
    """The CloudWatch alarm state change carried by a Notification."""
    try:
        alarm = json.loads(message["Message"])
    except ValueError as exc:
        raise _reject("Notification's Message is not a CloudWatch alarm (not JSON)") from exc
    if not isinstance(alarm, dict) or not alarm.get("AlarmName") or not alarm.get("NewStateValue"):
        raise _reject("Notification's Message is not a CloudWatch alarm (no AlarmName/NewStateValue)")
    changed = parse_time(alarm.get("StateChangeTime") or message.get("Timestamp"), "StateChangeTime", source="sns")
    state = str(alarm["NewStateValue"])
    return AlarmEvent(source="sns", name=str(alarm["AlarmName"]), state=state, firing=state == "ALARM",
                      changed_at=changed, message_id=str(message["MessageId"]),
                      detail={"reason": str(alarm.get("NewStateReason", ""))[:500], "topic": message["TopicArn"],
                              "region": alarm.get("Region"), "old_state": alarm.get("OldStateValue")})


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)
