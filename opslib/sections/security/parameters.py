"""The notebook's parameters, checked together before any AWS or SQL call: a bad value is a
:class:`~opslib.errors.ParameterError` naming what is allowed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ...errors import ParameterError
from . import activity
from .compliance import GDPR_TABLES, check_gdpr
from .credentials import check_limits
from .iam import positive_days
from .response import check_response


@dataclass(frozen=True)
class Parameters:
    hours: float = 24
    trusted_cidrs: list[str] | None = None          # None: the profile's security.trusted_cidrs
    scan_buckets: list[str] | None = None           # None: the profile's buckets but the CloudTrail logs
    max_object_bytes: int = 1_000_000
    key_max_age_days: float = 90
    unused_key_days: float = 90
    respond: str = "auto"
    explicit: dict = field(default_factory=dict)    # deactivate_keys, block_ips, rotate_secrets, reset_users
    gdpr_user_id: str | None = None
    gdpr_tables: list[str] = field(default_factory=lambda: list(GDPR_TABLES))

    def trusted(self, ops: Any) -> list[str]:
        return list(ops.profile.security.trusted_cidrs if self.trusted_cidrs is None else self.trusted_cidrs)


def _days(name: str, value: Any) -> float:
    positive_days(name, value)
    return value


def check_parameters(*, hours: Any = 24, trusted_cidrs: Any = None, scan_buckets: Any = None,
                     max_object_bytes: Any = 1_000_000, key_max_age_days: Any = 90, unused_key_days: Any = 90,
                     respond: Any = "auto", deactivate_keys: Any = None, block_ips: Any = None,
                     rotate_secrets: Any = None, reset_users: Any = None, gdpr_user_id: Any = None,
                     gdpr_tables: Sequence[str] = GDPR_TABLES) -> Parameters:
    """Every parameter of the Security Operations notebook, validated; returns them normalized."""
    activity.window_hours(hours)
    if trusted_cidrs is not None:
        activity.parse_networks(trusted_cidrs)
    if scan_buckets is not None and (isinstance(scan_buckets, str) or not isinstance(scan_buckets, (list, tuple))
                                     or not all(isinstance(b, str) and b for b in scan_buckets)):
        raise ParameterError("scan_buckets", scan_buckets, "None (the profile's buckets) or a list of bucket names")
    check_limits(max_object_bytes, 500)
    explicit = check_response(respond=respond, deactivate_keys=deactivate_keys, block_ips=block_ips,
                              rotate_secrets=rotate_secrets, reset_users=reset_users)
    user, tables = check_gdpr(gdpr_user_id, list(gdpr_tables) if isinstance(gdpr_tables, tuple) else gdpr_tables)
    return Parameters(hours=hours, trusted_cidrs=None if trusted_cidrs is None else list(trusted_cidrs),
                      scan_buckets=None if scan_buckets is None else list(scan_buckets),
                      max_object_bytes=max_object_bytes, key_max_age_days=_days("key_max_age_days", key_max_age_days),
                      unused_key_days=_days("unused_key_days", unused_key_days), respond=respond, explicit=explicit,
                      gdpr_user_id=user, gdpr_tables=tables)
