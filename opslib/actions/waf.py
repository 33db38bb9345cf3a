"""WAF changes: add an address to (or remove it from) an IP set. ``UpdateIPSet`` replaces the whole list and
needs the current lock token, so both are read again right before the call."""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..errors import ParameterError
from . import kinds
from ._cli import aws
from .plan import Change, Plan

if TYPE_CHECKING:
    from ..connection import Ops


def ip_set_id(ops: "Ops", name: str, scope: str, region: str = "primary") -> str:
    waf = ops.client("wafv2", region)
    marker = None
    while True:
        kwargs = {"Scope": scope, **({"NextMarker": marker} if marker else {})}
        resp = waf.list_ip_sets(**kwargs)
        for s in resp.get("IPSets", []):
            if s["Name"] == name:
                return s["Id"]
        marker = resp.get("NextMarker")
        if not marker or not resp.get("IPSets"):
            raise ParameterError("ip_set", name, f"a WAF IP set of scope {scope} in {ops.region(region)}")


def _get(ops: "Ops", change: Change) -> dict:
    p = change.params
    return ops.client("wafv2", change.region).get_ip_set(Name=p["Name"], Scope=p["Scope"], Id=p["Id"])


def _read(ops: "Ops", change: Change) -> str:
    return "present" if change.params["Address"] in _get(ops, change)["IPSet"]["Addresses"] else "absent"


def _execute(ops: "Ops", change: Change) -> None:
    p = change.params
    resp = _get(ops, change)
    addresses = [a for a in resp["IPSet"]["Addresses"] if a != p["Address"]]
    if p["Action"] == "add":
        addresses.append(p["Address"])
    ops.client("wafv2", change.region).update_ip_set(Name=p["Name"], Scope=p["Scope"], Id=p["Id"], Addresses=addresses,
                                                     LockToken=resp["LockToken"])


def _change(ops: "Ops", name: str, scope: str, set_id: str, address: str, action: str, region: str,
            undo: Change | None = None) -> Change:
    reg = ops.region(region)
    current, new = ("absent", "present") if action == "add" else ("present", "absent")
    return Change(kind="waf.ip_set_address", resource=f"waf ip set {name} ({scope}, {reg})",
                  attribute=f"Addresses contains {address}", current=current, new=new, service="wafv2",
                  operation="update_ip_set",
                  params={"Name": name, "Scope": scope, "Id": set_id, "Address": address, "Action": action},
                  cli=aws("wafv2", "update-ip-set", reg, name=name, scope=scope, id=set_id,
                          addresses=f"<the current addresses {'plus' if action == 'add' else 'minus'} {address}>",
                          lock_token="<from aws wafv2 get-ip-set>"),
                  target=name, region=region, undo=undo,
                  note="update-ip-set replaces the whole list: the runbook's command without the existing "
                       "addresses and lock token would unblock every other address")


def plan_block_ip(ops: "Ops", address: str, *, ip_set: str | None = None, scope: str | None = None,
                  region: str = "primary") -> Plan:
    """Add ``address`` (an IP or CIDR; a bare IP becomes /32) to the blocked-IP set."""
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError as exc:
        raise ParameterError("address", address, "an IPv4/IPv6 address or CIDR, e.g. 192.0.2.1/32") from exc
    address = str(net)
    name = ip_set or ops.profile.security.waf_ip_set
    scope = scope or ops.profile.security.waf_scope
    set_id = ip_set_id(ops, name, scope, region)
    probe = _change(ops, name, scope, set_id, address, "add", region)
    if _read(ops, probe) == "present":
        return Plan(f"block {address}", [], ops, [f"{address} is already in {name}"])
    undo = _change(ops, name, scope, set_id, address, "remove", region)
    return Plan(f"block {address} in {name}", [_change(ops, name, scope, set_id, address, "add", region, undo)], ops)


kinds.register("waf.ip_set_address", read=_read, execute=_execute)
