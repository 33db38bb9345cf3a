"""Security monitoring: CloudTrail management events of a window, read with ``LookupEvents`` (paginated,
both regions), each one classified against the rules of a security review, and charted per source IP.

The runbook's ``aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=
DeleteBucket`` looks for one event name; LookupEvents takes one attribute per request, so this reads the
whole window once and classifies every event instead."""
from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from ...aws.cloudtrail import COLUMNS, lookup_events  # noqa: F401 - COLUMNS: the frame's columns
from ...errors import ParameterError
from ...findings import Check

# Changes an attacker makes with a stolen key (persistence, privilege, covering tracks, destruction).
SENSITIVE_EVENTS = frozenset({
    "CreateAccessKey", "UpdateAccessKey", "CreateUser", "CreateLoginProfile", "UpdateLoginProfile",
    "DeleteUserPermissionsBoundary", "PutUserPolicy", "AttachUserPolicy", "PutRolePolicy", "AttachRolePolicy",
    "PutGroupPolicy", "AttachGroupPolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "AddUserToGroup",
    "UpdateAssumeRolePolicy", "CreateRole", "DeactivateMFADevice", "DeleteVirtualMFADevice",
    "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
    "DeleteBucket", "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutPublicAccessBlock",
    "DeletePublicAccessBlock", "DisableKey", "ScheduleKeyDeletion", "DeleteDBInstance", "DeleteStream",
    "AuthorizeSecurityGroupIngress", "CreateKeyPair", "ImportKeyPair",
})
DENIED_CODES = ("AccessDenied", "UnauthorizedOperation", "Client.UnauthorizedOperation", "UnauthorizedAccess")
SEVERITY = {"ok": 0, "warn": 1, "fail": 2}
MAX_LOOKUP_DAYS = 90          # LookupEvents keeps 90 days of management events


def parse_networks(cidrs: Iterable[str], name: str = "trusted_cidrs") -> list:
    """IP networks from strings (a bare address is a /32); a bad one is a ParameterError."""
    if isinstance(cidrs, str):
        raise ParameterError(name, cidrs, "a list of IP addresses or CIDRs, e.g. ['10.0.0.0/8']")
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError as exc:
            raise ParameterError(name, cidr, "IP addresses or CIDRs, e.g. 10.0.0.0/8 or 192.0.2.1") from exc
    return nets


def window_hours(hours: Any) -> float:
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 < hours <= MAX_LOOKUP_DAYS * 24:
        raise ParameterError("hours", hours, f"a number of hours in (0, {MAX_LOOKUP_DAYS * 24}] (LookupEvents keeps "
                                             f"{MAX_LOOKUP_DAYS} days)")
    return hours


def window(now: datetime, hours: float) -> tuple[datetime, datetime]:
    return now - timedelta(hours=window_hours(hours)), now


def events(ops: Any, *, now: datetime, hours: float = 24, regions: Sequence[str] | None = None,
           attribute: tuple[str, str] | None = None) -> pd.DataFrame:
    """The window's events of ``regions`` (default: every region of the pipeline; LookupEvents is regional, a
    multi-region trail's S3 logs hold all)."""
    start, end = window(now, hours)
    regions = ops.sides if regions is None else regions
    frames = [lookup_events(ops.client("cloudtrail", r), start=start, end=end, region=ops.region(r), attribute=attribute)
              for r in regions]
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def ip_trusted(source: str, networks: Sequence) -> bool:
    """An address inside a trusted network, or an AWS service calling on the account's behalf."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return source == "AWS Internal" or source.endswith(".amazonaws.com")
    return any(address in net for net in networks)


def _reasons(row: pd.Series, networks: Sequence, check_ips: bool) -> tuple[str, list[str]]:
    level, reasons = "ok", []

    def flag(lvl: str, text: str) -> None:
        nonlocal level
        reasons.append(text)
        level = lvl if SEVERITY[lvl] > SEVERITY[level] else level

    untrusted = check_ips and not ip_trusted(row["source_ip"], networks)
    if row["user_type"] == "Root":
        flag("fail", "root account used")
    if row["event_name"] == "ConsoleLogin" and (row["login_result"] == "Failure" or row["error_code"]):
        flag("warn", "failed console login")
    if any(row["error_code"].startswith(c) or row["error_code"].endswith(c) for c in DENIED_CODES if row["error_code"]):
        flag("warn", f"{row['error_code']}")
    if row["event_name"] in SENSITIVE_EVENTS:
        flag("fail" if untrusted else "warn", "key/policy/logging/bucket change")
    if untrusted:
        flag("warn" if row["read_only"] else "fail", f"source IP {row['source_ip']} outside the trusted ranges")
    return level, reasons


def classify(frame: pd.DataFrame, trusted_cidrs: Iterable[str]) -> pd.DataFrame:
    """Each event with ``trusted_ip``, ``severity`` (ok/warn/fail) and ``reasons``.

    Rules: root use fails; a failed console login or an AccessDenied/UnauthorizedOperation error warns; a
    sensitive change (keys, policies, trail, bucket deletion...) warns, and fails from an untrusted IP; any
    call from outside the trusted ranges warns (read-only) or fails (a change). With no trusted ranges the
    IP rule is off."""
    networks = parse_networks(trusted_cidrs)
    out = frame.copy()
    levels = [_reasons(row, networks, bool(networks)) for _, row in out.iterrows()]
    out["trusted_ip"] = [ip_trusted(ip, networks) if networks else True for ip in out["source_ip"]]
    out["severity"] = [lv for lv, _ in levels]
    out["reasons"] = ["; ".join(rs) for _, rs in levels]
    return out


def suspicious(classified: pd.DataFrame) -> pd.DataFrame:
    cols = ["time", "region", "event_name", "username", "access_key_id", "source_ip", "severity", "reasons"]
    return classified.loc[classified["severity"] != "ok", cols].reset_index(drop=True)


def suspicious_ips(classified: pd.DataFrame) -> list[str]:
    """Untrusted source IPs that made a failing (not merely odd) call: the ones to block."""
    hit = classified[(classified["severity"] == "fail") & ~classified["trusted_ip"]]
    return sorted(ip for ip in hit["source_ip"].unique() if is_ip(ip))


def suspicious_keys(classified: pd.DataFrame) -> list[str]:
    """Access keys that made a failing call from an untrusted IP (the keys to deactivate)."""
    hit = classified[(classified["severity"] == "fail") & ~classified["trusted_ip"]]
    return sorted(k for k in hit["access_key_id"].unique() if k)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def activity_check(classified: pd.DataFrame, trusted_cidrs: Sequence[str], hours: float) -> Check:
    bad = classified[classified["severity"] != "ok"]
    figures = {"events": len(classified), "suspicious": len(bad), "hours": hours,
               "fail": int((bad["severity"] == "fail").sum()), "source_ips": sorted(bad["source_ip"].unique())}
    if bad.empty:
        if not trusted_cidrs:
            return Check.warn("suspicious-activity", f"{len(classified)} events in {hours:g} h; source IPs not "
                              "checked: security.trusted_cidrs is empty in this profile", **figures)
        return Check.ok("suspicious-activity", f"{len(classified)} CloudTrail events in {hours:g} h, none suspicious",
                        **figures)
    level = "fail" if figures["fail"] else "warn"
    summary = (bad.groupby("source_ip")["event_name"].agg(lambda s: ", ".join(dict.fromkeys(s)))
               .head(5).items())
    detail = f"{len(bad)} of {len(classified)} events in {hours:g} h suspicious: " + "; ".join(
        f"{ip}: {names}" for ip, names in summary)
    return Check(name="suspicious-activity", status=level, detail=detail, figures=figures)


def _hourly_by_ip(classified: pd.DataFrame) -> pd.DataFrame:
    """Events per hour (rows) and source IP (columns)."""
    if classified.empty:
        return pd.DataFrame()
    hours = classified["time"].dt.floor("h")
    return classified.groupby([hours, "source_ip"]).size().unstack(fill_value=0).sort_index()


def activity_chart(classified: pd.DataFrame, *, title: str = "CloudTrail events per hour by source IP") -> go.Figure:
    """Stacked bars per source IP; IPs with suspicious events in red shades, marked in the legend."""
    table = _hourly_by_ip(classified)
    bad = set(classified.loc[classified["severity"] != "ok", "source_ip"]) if not classified.empty else set()
    reds = ["#d62728", "#ff7f0e", "#8c1c13", "#e377c2"]
    greys = ["#1f77b4", "#aec7e8", "#7f7f7f", "#c7c7c7", "#17becf", "#9edae5", "#2ca02c", "#98df8a"]
    fig = go.Figure()
    for i, ip in enumerate(table.columns):
        flagged = ip in bad
        color = reds[i % len(reds)] if flagged else greys[i % len(greys)]
        fig.add_trace(go.Bar(x=table.index, y=table[ip], name=f"{ip} (suspicious)" if flagged else ip,
                             marker={"color": color, "line": {"color": "black", "width": 1.5 if flagged else 0}}))
    fig.update_layout(title=title, barmode="stack", yaxis_title="events per hour", height=360,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig
