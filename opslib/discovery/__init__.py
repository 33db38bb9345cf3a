"""``runbook init``: a draft profile from the live account, read-only.

:func:`discover` reads the account (:mod:`.scan`, through :class:`.reader.Reader`: paginated, timeouts, refused
calls kept as gaps), guesses what it cannot read directly (:mod:`.guess`: roles, DR side, buckets, metrics,
with their evidence), inspects the warehouse's events table when reachable (:mod:`.warehouse`) and returns the
YAML text (:mod:`.render`) with its :class:`~.guess.Draft`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .guess import Draft, build, checkpoint_layout, similarity
from .reader import Gap, Reader
from .scan import Region, caller, checkpoint_items, scan_region

__all__ = ["Draft", "Gap", "Reader", "Result", "discover", "find_regions"]


@dataclass
class Result:
    text: str
    draft: Draft
    primary: Region
    dr: Region
    account: str | None


def find_regions(reader: Reader, home: str) -> tuple[str | None, str | None, list[str]]:
    """(primary, dr, why) from where the ECS clusters and Kinesis streams are: the region with the most
    running capacity is the primary, the one whose names are most like it the DR side."""
    regions = [r["RegionName"] for r in reader.pages("ec2", home, "describe_regions", "Regions")] or [home]
    holdings: dict[str, dict] = {}
    for region in regions:
        before = len(reader.gaps)
        clusters = [a.rsplit("/", 1)[-1] for a in reader.pages("ecs", region, "list_clusters", "clusterArns")]
        streams = reader.pages("kinesis", region, "list_streams", "StreamNames")
        del reader.gaps[before:]          # a region not enabled for this account is not a gap of the draft
        if clusters or streams:
            holdings[region] = {"names": clusters + streams}
    if not holdings:
        return None, None, ["no ECS cluster or Kinesis stream in any region"]
    primary = max(holdings, key=lambda r: (len(holdings[r]["names"]), r == home, r))
    others = [r for r in holdings if r != primary]

    def likeness(region: str) -> float:
        return sum(max((similarity(a, b) for b in holdings[region]["names"]), default=0)
                   for a in holdings[primary]["names"])
    dr = max(others, key=lambda r: (likeness(r), r)) if others else None
    why = [f"{r}: {', '.join(holdings[r]['names'])}" for r in sorted(holdings)]
    return primary, dr, why


def discover(reader: Reader, *, primary: str, dr: str | None, name: str, endpoint_url: str | None, sandbox: Any = None,
             warehouse_engine: Any = None, now: datetime | None = None, command: str = "runbook init") -> Result:
    """Read ``primary`` and ``dr`` and draft the profile (``dr`` None: a single-region pipeline). ``sandbox``: the
    running sandbox's state when the endpoint is the sandbox's (then ``endpoint_url: sandbox``, the sandbox's
    databases and health server); ``warehouse_engine``: a SQLAlchemy engine on the warehouse, to find the events
    table."""
    from ..config import AwsSettings
    from . import render, warehouse
    when = now or datetime.now(timezone.utc)
    account = caller(reader, primary).get("Account")
    clock = sandbox.now_dt if sandbox is not None else when
    p = scan_region(reader, primary, primary=True, now=clock)
    d = scan_region(reader, dr, primary=False, now=clock) if dr else Region("")
    items = {t: checkpoint_items(reader, primary, t) for t, info in p.tables.items() if checkpoint_layout(info["keys"])}
    found = warehouse.inspect(warehouse_engine) if warehouse_engine is not None else None
    a = reader.settings or AwsSettings(primary_region=primary, dr_region=dr)
    timeouts = {"connect_timeout": a.connect_timeout, "read_timeout": a.read_timeout, "max_attempts": a.max_attempts}
    try:
        from ..config import _read, parameters_dir
        base_metrics = _read(parameters_dir() / "_common.yaml").get("metrics", {})
    except Exception:  # noqa: BLE001 - no packaged _common: nothing merged in
        base_metrics = {}
    draft = build(p, d, account=account, name=name, endpoint_url="sandbox" if sandbox is not None else endpoint_url,
                  sandbox=sandbox is not None, items=items, warehouse=found, gaps=reader.gaps, timeouts=timeouts,
                  base_metrics=base_metrics)
    text = render.render(draft, command=command, when=when.strftime("%Y-%m-%d %H:%M UTC"), account=account,
                         primary=primary, dr=dr)
    return Result(text, draft, p, d, account)
