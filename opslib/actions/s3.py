"""S3 changes: a bucket's intelligent-tiering configuration (undo: the previous one, or its removal)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..errors import ActionError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def _value(cfg: dict | None) -> dict | None:
    if cfg is None:
        return None
    return {"status": cfg["Status"], "prefix": (cfg.get("Filter") or {}).get("Prefix", ""),
            "tierings": sorted(({"AccessTier": t["AccessTier"], "Days": t["Days"]} for t in cfg.get("Tierings", [])),
                               key=lambda t: t["Days"])}


def _config(config_id: str, value: dict) -> dict:
    cfg = {"Id": config_id, "Status": value["status"], "Tierings": value["tierings"]}
    if value.get("prefix"):
        cfg["Filter"] = {"Prefix": value["prefix"]}
    return cfg


def _read(ops: "Ops", change: Change) -> dict | None:
    try:
        resp = ops.client("s3", change.region).get_bucket_intelligent_tiering_configuration(
            Bucket=change.params["Bucket"], Id=change.params["Id"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchConfiguration", "404"):
            return None
        raise
    cfg = resp.get("IntelligentTieringConfiguration") or {}
    if "Status" not in cfg:
        raise ActionError(f"the S3 endpoint returned no intelligent-tiering configuration for "
                          f"{change.params['Bucket']}/{change.params['Id']} (an endpoint without this API?)")
    return _value(cfg)


def _change(ops: "Ops", bucket: str, config_id: str, current: dict | None, new: dict | None, region: str,
            undo: Change | None = None) -> Change:
    reg = ops.region(region)
    if new is None:
        op, params = "delete_bucket_intelligent_tiering_configuration", {"Bucket": bucket, "Id": config_id}
        cli = aws("s3api", "delete-bucket-intelligent-tiering-configuration", reg, bucket=bucket, id=config_id)
    else:
        cfg = _config(config_id, new)
        op, params = "put_bucket_intelligent_tiering_configuration", {
            "Bucket": bucket, "Id": config_id, "IntelligentTieringConfiguration": cfg}
        cli = aws("s3api", "put-bucket-intelligent-tiering-configuration", reg, bucket=bucket, id=config_id,
                  intelligent_tiering_configuration=cfg)
    return Change(kind="s3.intelligent_tiering", resource=f"s3 bucket {bucket} ({reg})",
                  attribute=f"intelligent-tiering configuration {config_id}", current=current, new=new, service="s3",
                  operation=op, params=params, cli=cli, target=bucket, region=region, undo=undo)


def plan_intelligent_tiering(ops: "Ops", *, bucket: str | None = None, config_id: str = "archive-old-data",
                             archive_days: int = 90, deep_archive_days: int = 180, prefix: str = "",
                             region: str = "primary") -> Plan:
    """Archive objects not accessed for ``archive_days`` / ``deep_archive_days`` (the runbook's
    ``file://tiering-config.json`` spelled out)."""
    bucket = bucket or ops.profile.s3.events_bucket
    new = _value({"Status": "Enabled", "Filter": {"Prefix": prefix},
                  "Tierings": [{"AccessTier": "ARCHIVE_ACCESS", "Days": archive_days},
                               {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": deep_archive_days}]})
    current = _read(ops, _change(ops, bucket, config_id, None, new, region))
    if current == new:
        return Plan(f"intelligent tiering on {bucket}", [], ops, [f"{bucket} already has this configuration"])
    undo = _change(ops, bucket, config_id, new, current, region)
    return Plan(f"intelligent tiering on {bucket}", [_change(ops, bucket, config_id, current, new, region, undo)], ops)


kinds.register("s3.intelligent_tiering", read=_read)
