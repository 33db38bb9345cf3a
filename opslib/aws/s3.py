"""S3 reads: object listings (``list_objects_v2``, paginated: at most 1,000 keys a call) and a bucket's
lifecycle tiers. Clients are passed in."""
from __future__ import annotations

from typing import Any, Iterator


def object_pages(s3: Any, bucket: str, prefix: str = "", *, page_size: int | None = None) -> Iterator[list[dict]]:
    """The objects under ``prefix``, one list per ``list_objects_v2`` page (an empty list for an empty page)."""
    config = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **config):
        yield page.get("Contents", [])


def objects(s3: Any, bucket: str, prefix: str = "", *, page_size: int | None = None) -> Iterator[dict]:
    """Every object under ``prefix`` (``Key``, ``Size``, ``LastModified``...), read page by page as consumed."""
    for page in object_pages(s3, bucket, prefix, page_size=page_size):
        yield from page


def lifecycle_tiers(s3: Any, bucket: str) -> dict[str, int | None]:
    """The bucket's enabled lifecycle rules as tiers: days until warm (STANDARD_IA or INTELLIGENT_TIERING),
    until cold (GLACIER, DEEP_ARCHIVE, GLACIER_IR) and until expiry (None where no rule says). A bucket
    without a lifecycle configuration raises the client's ClientError."""
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    enabled = [rule for rule in rules if rule.get("Status") == "Enabled"]
    transitions = {t["StorageClass"]: t["Days"] for rule in enabled for t in rule.get("Transitions", [])}
    expiration = next((rule["Expiration"]["Days"] for rule in enabled if "Days" in rule.get("Expiration", {})), None)
    warm = transitions.get("STANDARD_IA") or transitions.get("INTELLIGENT_TIERING")
    cold = transitions.get("GLACIER") or transitions.get("DEEP_ARCHIVE") or transitions.get("GLACIER_IR")
    return {"warm_after_days": warm, "cold_after_days": cold, "expire_after_days": expiration}
