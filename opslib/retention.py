"""The events bucket's lifecycle rules against the runbook's retention tiers (7 days hot, 90 days warm,
2 years cold; ``targets.retention`` of the profile). Checked by System Overview and by Security
Operations' compliance, so it lives below both."""
from __future__ import annotations

from typing import Any

from .aws.access import blind_reason, describe
from .aws.s3 import lifecycle_tiers
from .findings import Check


def retention_checks(ops: Any) -> list[Check]:
    """The events buckets' lifecycle rules against 7 days hot / 90 days warm / 2 years cold."""
    r = ops.profile.targets.retention
    s3 = ops.client("s3")
    bucket = ops.profile.s3.events_bucket
    try:
        found = lifecycle_tiers(s3, bucket)
    except Exception as exc:  # noqa: BLE001 - sorted below: could not see, or the bucket's answer
        if blind_reason(exc):
            return [Check.unknown("retention", f"{bucket}: {describe(exc)}")]
        if not isinstance(exc, s3.exceptions.ClientError):
            raise
        return [Check.fail("retention", f"{bucket}: no lifecycle configuration ({exc.response['Error']['Code']}); "
                           f"objects are never tiered or expired")]
    expected = {"warm_after_days": r.hot_days, "cold_after_days": r.warm_days, "expire_after_days": r.cold_days}
    wrong = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
    if wrong:
        text = ", ".join(f"{k} is {f} (expected {e})" for k, (f, e) in wrong.items())
        return [Check.warn("retention", f"{bucket}: {text}", **found)]
    return [Check.ok("retention", f"{bucket}: hot {r.hot_days} d, warm until {r.warm_days} d, "
                     f"cold until {r.cold_days} d", **found)]
