"""The daily backups (the runbook's "Daily backup verification"): the age of the newest S3 and DynamoDB
backup against the daily schedule, and a read-only read-back of the newest ones.

The runbook's ``list-backups ... || alert`` never alerts: ``list-backups`` succeeds with an empty list when
there is no backup. The age of the newest backup is what tells."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pandas as pd

from ...actions import dynamodb as dynamodb_actions
from ...aws import s3 as s3_reads
from ...findings import Check

if TYPE_CHECKING:
    from ...connection import Ops

DAILY_BACKUP_MAX_AGE_HOURS = 26.0     # a daily job: yesterday's backup plus 2 h for the job to run


def s3_backups(ops: "Ops", *, now: datetime, bucket: str | None = None, prefix: str = "daily/",
               days: int = 7) -> pd.DataFrame:
    """The runbook's ``aws s3 ls s3://<backups bucket>/daily/YYYY/MM/DD/`` for the last ``days`` days:
    one row per day with its objects, bytes and age (hours since the start of that day)."""
    bucket = bucket or ops.profile.s3.backups_bucket
    s3 = ops.client("s3")
    rows = []
    for back in range(days):
        day = (now - timedelta(days=back)).date()
        folder = f"{prefix}{day:%Y/%m/%d}/"
        objects = list(s3_reads.objects(s3, bucket, folder))
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        rows.append({"day": day, "prefix": f"s3://{bucket}/{folder}", "objects": len(objects),
                     "bytes": sum(o["Size"] for o in objects), "keys": [o["Key"] for o in objects],
                     "age_hours": round((now - start).total_seconds() / 3600, 1)})
    return pd.DataFrame(rows, columns=["day", "prefix", "objects", "bytes", "keys", "age_hours"])


def dynamodb_backups(ops: "Ops", *, now: datetime, table: str | None = None) -> pd.DataFrame:
    """On-demand backups of ``table`` (default: the profile's events table), newest first, with their age."""
    table = table or ops.profile.dynamodb.events_table
    rows = [{"name": b["BackupName"], "arn": b["BackupArn"], "created": b["BackupCreationDateTime"],
             "status": b["BackupStatus"], "type": b.get("BackupType"),
             "age_hours": round((now - b["BackupCreationDateTime"]).total_seconds() / 3600, 1)}
            for b in dynamodb_actions.list_backups(ops, table)]
    frame = pd.DataFrame(rows, columns=["name", "arn", "created", "status", "type", "age_hours"])
    return frame.sort_values("created", ascending=False, ignore_index=True)


@dataclass
class BackupStatus:
    s3: pd.DataFrame
    dynamodb: pd.DataFrame
    max_age_hours: float

    def ages(self) -> pd.DataFrame:
        """The newest backup of each kind with its age against the daily limit."""
        s3 = self.s3[self.s3["objects"] > 0]
        ddb = self.dynamodb[self.dynamodb["status"] == "AVAILABLE"]
        rows = [{"backup": "S3 daily", "newest": s3.iloc[0]["prefix"] if len(s3) else None,
                 "age_hours": float(s3.iloc[0]["age_hours"]) if len(s3) else None},
                {"backup": "DynamoDB", "newest": ddb.iloc[0]["name"] if len(ddb) else None,
                 "age_hours": float(ddb.iloc[0]["age_hours"]) if len(ddb) else None}]
        for r in rows:
            r["limit_hours"] = self.max_age_hours
            r["ok"] = r["age_hours"] is not None and r["age_hours"] <= self.max_age_hours
        return pd.DataFrame(rows)

    def check(self) -> Check:
        ages = self.ages()
        parts = [f"{r['backup']}: " + (f"newest {r['age_hours']:.1f} h old" if r["age_hours"] is not None
                                       else "none found") for r in ages.to_dict("records")]
        figures = {r["backup"]: r["age_hours"] for r in ages.to_dict("records")}
        if ages["ok"].all():
            return Check.ok("backup-age", "; ".join(parts) + f" (daily, limit {self.max_age_hours:g} h)", **figures)
        return Check.fail("backup-age", "; ".join(parts) + f": older than the daily limit of "
                          f"{self.max_age_hours:g} h, the last backups did not run", **figures)


def backup_status(ops: "Ops", *, now: datetime, max_age_hours: float = DAILY_BACKUP_MAX_AGE_HOURS,
                  days: int = 7) -> BackupStatus:
    return BackupStatus(s3_backups(ops, now=now, days=days), dynamodb_backups(ops, now=now), max_age_hours)


def verify_backups(ops: "Ops", status: BackupStatus, *, max_objects: int = 5) -> pd.DataFrame:
    """Read back the newest S3 backup objects (size, and MD5 against the ETag of single-part uploads) and
    describe the newest DynamoDB backup. Read-only."""
    s3 = ops.client("s3")
    rows = []
    newest = status.s3[status.s3["objects"] > 0]
    if len(newest):
        bucket = status.s3.iloc[0]["prefix"].split("/")[2]
        for key in newest.iloc[0]["keys"][:max_objects]:
            obj = s3.get_object(Bucket=bucket, Key=key)
            body = obj["Body"].read()
            etag = obj.get("ETag", "").strip('"')
            md5_ok = "-" in etag or hashlib.md5(body).hexdigest() == etag   # noqa: S324 (ETag is MD5)
            ok = len(body) > 0 and len(body) == obj["ContentLength"] and md5_ok
            rows.append({"backup": f"s3://{bucket}/{key}", "ok": ok,
                         "detail": f"{len(body)} bytes read, " + ("MD5 matches the ETag" if "-" not in etag
                                                                   else "multipart ETag (size checked)")
                         + ("" if ok else ": CORRUPT or empty")})
    ddb = status.dynamodb[status.dynamodb["status"] == "AVAILABLE"]
    if len(ddb):
        desc = dynamodb_actions.describe_backup(ops, ddb.iloc[0]["arn"])
        items = desc.get("SourceTableDetails", {}).get("ItemCount")
        state = desc["BackupDetails"]["BackupStatus"]
        rows.append({"backup": f"dynamodb {ddb.iloc[0]['name']}", "ok": state == "AVAILABLE",
                     "detail": f"{state}, {items} items at backup time"})
    return pd.DataFrame(rows, columns=["backup", "ok", "detail"])


def verification_check(verified: pd.DataFrame) -> Check:
    if verified.empty:
        return Check.fail("backup-verification", "no backup found to read back")
    bad = verified[~verified["ok"]]
    if len(bad):
        return Check.fail("backup-verification", "; ".join(f"{r['backup']}: {r['detail']}"
                                                           for r in bad.to_dict("records")), failed=len(bad))
    return Check.ok("backup-verification", f"{len(verified)} newest backup(s) read back intact", read=len(verified))
