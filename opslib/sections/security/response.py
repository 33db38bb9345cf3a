"""Data breach response: the runbook's Contain / Investigate / Remediate steps.

Containment and remediation are one :class:`~opslib.actions.Plan` (deactivate keys, block IPs, rotate
secrets, force password resets), planned from what the scan found (``respond="auto"``) plus anything
named explicitly, and applied only by :func:`opslib.actions.apply` with ``dry_run=False``. Investigation
reads: the calls each key made and from where, the API access logs and ``audit_logs`` rows of the IPs."""
from __future__ import annotations

import json
import re
import secrets as _random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from ...actions import Plan
from ...actions.cognito import plan_reset_password
from ...actions.iam import plan_deactivate_key
from ...actions.secrets import plan_update_secret
from ...actions.waf import plan_block_ip
from ...aws import s3 as s3_reads
from ...errors import ParameterError
from . import activity
from .credentials import Exposures

RESPOND = ("auto", "manual")
_KEY = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")


@dataclass
class ResponseTargets:
    """What the response acts on, each with why."""
    keys: dict[str, str] = field(default_factory=dict)       # access key id -> reason
    ips: dict[str, str] = field(default_factory=dict)        # address -> reason
    secrets: dict[str, str] = field(default_factory=dict)    # secret id -> reason
    users: dict[str, str] = field(default_factory=dict)      # Cognito username -> reason

    def frame(self) -> pd.DataFrame:
        rows = [{"action": action, "target": t, "why": why} for action, items in (
            ("deactivate access key", self.keys), ("block IP", self.ips), ("rotate secret", self.secrets),
            ("force password reset", self.users)) for t, why in items.items()]
        return pd.DataFrame(rows, columns=["action", "target", "why"])


def _strings(name: str, value: Any, allowed: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ParameterError(name, value, allowed)
    return list(value)


def check_response(*, respond: str = "auto", deactivate_keys: Any = None, block_ips: Any = None,
                     rotate_secrets: Any = None, reset_users: Any = None) -> dict[str, list[str]]:
    """The response parameters, validated (before any call); returns the lists normalized."""
    if respond not in RESPOND:
        raise ParameterError("respond", respond, "'auto' (respond to what the scan finds, plus the lists) or "
                             "'manual' (only the lists)")
    keys = _strings("deactivate_keys", deactivate_keys, "a list of access key ids (AKIA.../ASIA...)")
    for k in keys:
        if not _KEY.match(k):
            raise ParameterError("deactivate_keys", k, "access key ids: AKIA or ASIA and 16 letters/digits")
    ips = _strings("block_ips", block_ips, "a list of IP addresses or CIDRs, e.g. ['192.0.2.1']")
    activity.parse_networks(ips, "block_ips")
    return {"deactivate_keys": keys, "block_ips": ips,
            "rotate_secrets": _strings("rotate_secrets", rotate_secrets, "a list of Secrets Manager secret ids"),
            "reset_users": _strings("reset_users", reset_users, "a list of Cognito usernames")}


def _read_secrets(classified: pd.DataFrame, keys: Iterable[str], ips: Iterable[str]) -> dict[str, str]:
    """Secrets whose value the offending keys or IPs read (``GetSecretValue``): they must be rotated."""
    keys, ips = set(keys), set(ips)
    hit = classified[(classified["event_name"] == "GetSecretValue")
                     & (classified["access_key_id"].isin(keys) | classified["source_ip"].isin(ips))]
    out = {}
    for r in hit.itertuples():
        params = json.loads(r.request_parameters) if r.request_parameters else {}
        secret = params.get("secretId") or r.resources
        if secret:
            out[secret] = f"read by {r.access_key_id or r.source_ip} at {r.time:%H:%M}"
    return out


def targets(*, respond: str, exposures: Exposures | None, classified: pd.DataFrame | None,
            explicit: dict[str, list[str]]) -> ResponseTargets:
    """The response's targets: with ``auto``, the account's exposed active keys, keys and untrusted IPs behind
    failing calls, and the secrets those read; always the explicit lists."""
    t = ResponseTargets()
    if respond == "auto":
        if exposures is not None:
            f = exposures.frame
            for k in exposures.account_keys():
                t.keys[k] = f"exposed in {', '.join(f.loc[f['access_key_id'] == k, 'location'])}"
        if classified is not None and not classified.empty:
            for k in activity.suspicious_keys(classified):
                t.keys.setdefault(k, "made suspicious calls from an untrusted IP")
            for ip in activity.suspicious_ips(classified):
                names = classified.loc[classified["source_ip"] == ip, "event_name"]
                t.ips[ip] = "untrusted source of " + ", ".join(dict.fromkeys(names))
            t.secrets.update(_read_secrets(classified, t.keys, t.ips))
    for k in explicit.get("deactivate_keys", []):
        t.keys.setdefault(k, "named in deactivate_keys")
    for ip in explicit.get("block_ips", []):
        t.ips.setdefault(ip, "named in block_ips")
    for s in explicit.get("rotate_secrets", []):
        t.secrets.setdefault(s, "named in rotate_secrets")
    for u in explicit.get("reset_users", []):
        t.users.setdefault(u, "named in reset_users")
    return t


def _owned_keys(ops: Any, keys: Iterable[str]) -> dict[str, str]:
    from .credentials import iam_keys
    owners = dict(zip(*(iam_keys(ops.client("iam"))[c] for c in ("access_key_id", "user"))))
    return {k: owners.get(k, "") for k in keys}


def plan_response(ops: Any, t: ResponseTargets) -> Plan:
    """One plan: deactivate (not delete: it can be undone) each key of this account, block each IP in the
    profile's WAF IP set, store a new password in each secret, force a reset of each Cognito user."""
    plan = Plan("breach response", [], ops)
    notes = []
    for key, owner in _owned_keys(ops, t.keys).items():
        if not owner:
            notes.append(f"{key} is not an access key of this account: revoke it where it belongs")
            continue
        plan = plan + plan_deactivate_key(ops, key, user=owner)
    for ip in t.ips:
        plan = plan + plan_block_ip(ops, ip)
    for secret in t.secrets:
        plan = plan + plan_update_secret(ops, secret, {"password": _random.token_urlsafe(24)})
        notes.append(f"{secret}: a new password is stored; change it on the server that checks it too "
                     "(e.g. ALTER ROLE ... PASSWORD), or use the secret's rotation Lambda")
    for user in t.users:
        plan = plan + plan_reset_password(ops, user)
    plan.title = "breach response: " + (", ".join(c.target for c in plan.changes) or "nothing to contain")
    plan.notes = notes + plan.notes
    return plan


# -- investigation -------------------------------------------------------------------------------
def key_activity(ops: Any, keys: Sequence[str], *, now: datetime, hours: float = 24,
                 regions: Sequence[str] | None = None) -> pd.DataFrame:
    """Every call each key made in the window (LookupEvents by AccessKeyId), with where from."""
    frames = [activity.events(ops, now=now, hours=hours, regions=regions, attribute=("AccessKeyId", k)) for k in keys]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=activity.COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values("time").reset_index(drop=True)


def by_source(frame: pd.DataFrame) -> pd.DataFrame:
    """Per key and source IP: calls, first and last time, the event names."""
    if frame.empty:
        return pd.DataFrame(columns=["access_key_id", "source_ip", "calls", "first", "last", "events"])
    g = frame.groupby(["access_key_id", "source_ip"])
    return pd.DataFrame({"calls": g.size(), "first": g["time"].min(), "last": g["time"].max(),
                         "events": g["event_name"].agg(lambda s: ", ".join(dict.fromkeys(s)))}).reset_index()


@dataclass
class Investigation:
    """What the contained keys and IPs did: CloudTrail calls per key and source, API access-log lines and
    ``audit_logs`` rows of the untrusted IPs involved."""
    calls: pd.DataFrame
    sources: pd.DataFrame
    ips: list[str]
    access_logs: pd.DataFrame
    audit_logs: pd.DataFrame


def investigate(ops: Any, t: ResponseTargets, *, trusted_cidrs: Sequence[str], now: datetime, hours: float = 24) -> Investigation:
    """The runbook's step 2 for the response's keys and IPs (plus the untrusted IPs the keys were used from)."""
    calls = key_activity(ops, list(t.keys), now=now, hours=hours)
    networks = activity.parse_networks(trusted_cidrs)
    used_from = {ip for ip in calls["source_ip"] if not activity.ip_trusted(ip, networks)} if networks else set()
    ips = sorted(set(t.ips) | used_from)
    return Investigation(calls, by_source(calls), ips,
                         _access_log_requests(ops.client("s3"), ops.profile.s3.access_logs_bucket, ips, now=now),
                         _audit_rows(ops.database, ips, now=now))


def _access_line(line: str) -> dict | None:
    line = line.strip()
    if not line:
        return None
    try:
        rec = json.loads(line)
        return {"time": rec.get("timestamp"), "ip": rec.get("ip_address") or rec.get("client_ip"),
                "request": f"{rec.get('method', '')} {rec.get('path', '')}".strip(), "status": rec.get("status")}
    except ValueError:
        parts = line.split(" ")     # ALB access log: type time elb client:port target:port ...
        if len(parts) > 12:
            return {"time": parts[1], "ip": parts[3].rsplit(":", 1)[0], "request": parts[12].strip('"') + " " +
                    (parts[13] if len(parts) > 13 else ""), "status": parts[8]}
        return None


def _access_log_requests(s3: Any, bucket: str, ips: Iterable[str], *, now: datetime, days: int = 1,
                        max_bytes: int = 50_000_000) -> pd.DataFrame:
    """The API access-log lines (``<bucket>/YYYY/MM/DD/``) of the last ``days`` days from ``ips``: the
    runbook's ``aws s3 sync`` + Athena query, read directly (Athena needs a table and a result location)."""
    ips = set(ips)
    rows = []
    if not ips:
        return pd.DataFrame(columns=["time", "ip", "request", "status", "object"])
    for d in range(days):
        prefix = f"{now - timedelta(days=d):%Y/%m/%d}/"
        for obj in s3_reads.objects(s3, bucket, prefix):
            if obj["Size"] > max_bytes:
                continue
            text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8", "replace")
            for line in text.splitlines():
                rec = _access_line(line)
                if rec and rec["ip"] in ips:
                    rows.append({**rec, "object": obj["Key"]})
    return pd.DataFrame(rows, columns=["time", "ip", "request", "status", "object"])


def _audit_rows(engine: sa.Engine, ips: Iterable[str], *, now: datetime, days: int = 90, limit: int = 200) -> pd.DataFrame:
    """``audit_logs`` rows of the IPs in the last ``days`` days (bound time, not NOW())."""
    ips = [ip for ip in ips if activity.is_ip(ip)]
    cols = ["action", "user_id", "timestamp", "ip_address"]
    if not ips:
        return pd.DataFrame(columns=cols)
    t = sa.table("audit_logs", *(sa.column(c) for c in cols))
    since = pd.Timestamp(now).tz_convert("UTC").tz_localize(None).to_pydatetime() - timedelta(days=days)
    q = (sa.select(*t.c).where(t.c.ip_address.in_(ips), t.c["timestamp"] > since)
         .order_by(t.c["timestamp"].desc()).limit(limit))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=cols)



def split_confirm(confirm: "str | list[str] | None", plans: Sequence[Plan | None]) -> list[list[str]]:
    """Share one ``confirm`` parameter among the notebook's plans (the response and the GDPR erasure): each
    gets the names of its own targets. In production :func:`~opslib.actions.apply` still refuses a plan whose
    targets are not all named; a name that is no plan's target is a ParameterError here."""
    given = confirm if isinstance(confirm, (list, tuple, set)) else str(confirm or "").split(",")
    names = [str(n).strip() for n in given if str(n).strip()]
    targets = [set(p.targets) if p is not None else set() for p in plans]
    unknown = [n for n in names if not any(n in t for t in targets)]
    if unknown:
        allowed = ", ".join(sorted(set().union(*targets))) or "None (nothing is planned)"
        raise ParameterError("confirm", confirm, f"the resources the plans change: {allowed}")
    return [[n for n in names if n in t] for t in targets]
