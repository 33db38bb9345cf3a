"""S3 intelligent tiering of the events bucket, as an action."""
from __future__ import annotations

from typing import Any


def plan_tiering(ops: Any, **kwargs: Any):
    """:func:`opslib.actions.s3.plan_intelligent_tiering`; where the current configuration cannot be read
    (an S3 endpoint without the API, e.g. moto 5.2) an empty plan whose note says why, so the rest of the
    notebook still runs. Other errors propagate."""
    from ...actions.plan import Plan
    from ...actions.s3 import plan_intelligent_tiering
    from ...errors import ActionError
    try:
        return plan_intelligent_tiering(ops, **kwargs)
    except ActionError as exc:
        bucket = kwargs.get("bucket") or ops.profile.s3.events_bucket
        return Plan(f"intelligent tiering on {bucket}", [], ops,
                    [f"not planned: {exc}. Nothing will be changed; on AWS this plans "
                     "put-bucket-intelligent-tiering-configuration"])
