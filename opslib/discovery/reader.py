"""Read-only calls for ``runbook init``: paginated where botocore has a paginator, with the profile schema's
timeouts, and a refused call recorded as a :class:`Gap` instead of raised (init goes on without it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from ..aws.access import blind_reason
from ..config import AwsSettings

#: The calls init may make: every one reads (Describe/List/Get/Lookup). A call not listed is refused here.
READ_PREFIXES = ("describe_", "list_", "get_", "lookup_", "scan")


@dataclass(frozen=True)
class Gap:
    """A call the account refused (or that never reached it): the draft says what it could not see."""
    api: str            # "ecs:ListClusters"
    region: str
    reason: str         # access, credentials, connectivity, error
    error: str

    def line(self) -> str:
        return f"{self.api} in {self.region}: {self.reason} ({self.error})"


def _api_name(client: Any, operation: str) -> str:
    model = client.meta.service_model
    op = client.meta.method_to_api_mapping.get(operation, operation)
    prefix = {"monitoring": "cloudwatch"}.get(model.endpoint_prefix, model.endpoint_prefix)   # IAM's action prefix
    return f"{prefix}:{op}"


@dataclass
class Reader:
    """boto3 clients of one session for any region, every call read-only and failure-tolerant."""
    session: Any
    endpoint_url: str | None = None
    settings: AwsSettings | None = None
    gaps: list[Gap] = field(default_factory=list)
    _clients: dict = field(default_factory=dict, repr=False)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            a = self.settings or AwsSettings(primary_region=region, dr_region=region)
            config = Config(connect_timeout=a.connect_timeout, read_timeout=a.read_timeout,
                            retries={"mode": "adaptive", "max_attempts": a.max_attempts})
            self._clients[key] = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                                     config=config)
        return self._clients[key]

    def _gap(self, client: Any, operation: str, region: str, exc: BaseException) -> None:
        reason = blind_reason(exc) or "error"
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        gap = Gap(_api_name(client, operation), region, reason, code or type(exc).__name__)
        if gap not in self.gaps:
            self.gaps.append(gap)

    def call(self, service: str, region: str, operation: str, /, *, quiet: tuple[str, ...] = (), **kwargs) -> dict | None:
        """One call; None when refused (a gap) or when it answered with an error code in ``quiet``
        (e.g. NoSuchLifecycleConfiguration: an answer about the resource, not a gap)."""
        if not operation.startswith(READ_PREFIXES):
            raise ValueError(f"runbook init reads only; {operation} is not a read")
        client = self.client(service, region)
        try:
            return getattr(client, operation)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - sorted below: quiet answers, gaps
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
            if code and code in quiet:
                return None
            self._gap(client, operation, region, exc)
            return None

    def pages(self, service: str, region: str, operation: str, key: str, /, *, max_items: int | None = None,
              **kwargs) -> list:
        """Every item under ``key`` of every page (botocore's paginator where there is one; else one call)."""
        if not operation.startswith(READ_PREFIXES):
            raise ValueError(f"runbook init reads only; {operation} is not a read")
        client = self.client(service, region)
        if not client.can_paginate(operation):
            answer = self.call(service, region, operation, **kwargs)
            return list((answer or {}).get(key, []))[:max_items]
        items: list = []
        config = {"MaxItems": max_items} if max_items else {}
        try:
            for page in client.get_paginator(operation).paginate(**kwargs, PaginationConfig=config):
                items.extend(page.get(key, []))
        except Exception as exc:  # noqa: BLE001 - a refused page: a gap, keep what was read
            self._gap(client, operation, region, exc)
        return items

