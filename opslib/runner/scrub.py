"""Credential scrubbing of everything a run writes: the output notebook (injected parameters,
printed environments, tracebacks, boto3 errors), its HTML, the manifest entry and terminal output.

Two nets: patterns (AWS secret access keys, ``secret=...``-style assignments, passwords in URLs, Slack
webhook paths) and the literal values of credential-like environment variables and profile
settings, so a secret printed bare is caught too.

An access key id (``AKIA...``) is an identifier, not a secret: it names the key in IAM, CloudTrail and
a breach response (the operator must see which key will be deactivated), so it is shown. Its secret
access key is what authenticates, and is scrubbed wherever it appears."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

REDACTED = "***"
MIN_SECRET_LENGTH = 8
# Well-known non-secrets (moto's and the sandbox's dummy credentials) are not hunted as literals.
NOT_SECRET = frozenset({"testing", "test", "foobar", "foobar_key", "foobar_secret", "dummy"})
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|ACCESS_KEY(?!_?ID)|API_KEY|PRIVATE_KEY|ROUTING_KEY|"
                         r"WEBHOOK|CREDENTIAL", re.I)
_PATTERNS: tuple[tuple[re.Pattern, str], ...] = (
    # AWS secret access keys printed bare: 40 characters of base64 with upper and lower case letters and
    # a digit (a git revision, 40 hex digits in lower case, is not one)
    (re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
                r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), REDACTED),
    # name = value / "name": "value" for credential-like names
    (re.compile(r"(?i)((?:aws_)?(?:secret_access_key|secretaccesskey|session_token|sessiontoken|security_token|"
                r"secret|password|passwd|pwd|api_?key|routing_key|private_key|token)[\"']?\s*[:=]\s*[\"']?)"
                r"(?!\*\*\*)([^\s\"',;&}<>]+)"), r"\1" + REDACTED),
    # user:password@ in URLs
    (re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^/\s:@\"']*):([^@\s/\"']+)@"), r"\1:" + REDACTED + "@"),
    # Slack incoming webhooks carry their secret in the path
    (re.compile(r"(https://hooks\.slack\.com/(?:services|workflows)/)[A-Za-z0-9/_\-]+"), r"\1" + REDACTED),
)


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        return urlsplit(value.strip()).password
    except ValueError:
        return None


def secrets_in(environ: Mapping[str, str]) -> set[str]:
    """Literal secret values among ``environ``: credential-named variables and URL passwords."""
    found: set[str] = set()
    for name, value in environ.items():
        if not isinstance(value, str):
            continue
        if SECRET_NAME.search(name):
            found.add(value)
        password = _url_password(value)
        if password:
            found.add(password)
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH and v.lower() not in NOT_SECRET}


def _strings(obj: Any, key: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _strings(v, str(k))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v, key)
    elif isinstance(obj, str):
        yield key, obj


def _secrets_in_profile(profile: Any, environ: Mapping[str, str] | None = None) -> set[str]:
    """Secrets a profile holds or references: URL passwords and credential-named keys, env refs expanded."""
    from ..config import expand_env
    from ..errors import ProfileError
    data = profile.model_dump(mode="json") if hasattr(profile, "model_dump") else profile
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for key, value in _strings(data):
        try:
            values[key + ":" + value] = expand_env(value, key=key, environ=env)
        except ProfileError:
            values[key + ":" + value] = value
    return secrets_in(values)


@dataclass(frozen=True)
class Scrubber:
    """Replaces credentials with ``***`` in text and in nested JSON-like objects."""

    secrets: tuple[str, ...] = ()

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    __call__ = text

    def literals(self, value: str) -> str:
        """Only the known secret values (for authored code, where patterns would mangle e.g. ``token=next``)."""
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return value

    def notebook(self, nb: Any) -> Any:
        """A scrubbed copy of a notebook: outputs, metadata and injected parameters fully, authored code
        for literal secrets only."""
        out = self.obj(nb)
        for cell, original in zip(out["cells"], nb["cells"]):
            tags = (original.get("metadata") or {}).get("tags") or []
            if original.get("cell_type") == "code" and "injected-parameters" not in tags:
                source = original.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                cell["source"] = self.literals(source)
        return out

    def obj(self, value: Any, key: str = "") -> Any:
        """A scrubbed copy of a JSON-like object; binary payloads (images, plotly ``bdata``) are kept."""
        if isinstance(value, str):
            return value if key.startswith("image/") or key == "bdata" else self.text(value)
        if isinstance(value, Mapping):
            return type(value)({k: self.obj(v, str(k)) for k, v in value.items()})
        if isinstance(value, list):
            return [self.obj(v, key) for v in value]
        if isinstance(value, tuple):
            return tuple(self.obj(v, key) for v in value)
        return value


def scrubber(*, environ: Mapping[str, str] | None = None, profile: Any = None, extra: Iterable[str] = ()) -> Scrubber:
    """A scrubber for this process: the environment's and the profile's secrets plus ``extra``."""
    env = os.environ if environ is None else environ
    found = secrets_in(env) | set(extra)
    if profile is not None:
        found |= _secrets_in_profile(profile, env)
    return Scrubber(tuple(sorted((s for s in found if s), key=len, reverse=True)))
