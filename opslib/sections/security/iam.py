"""IAM review: who holds administrator rights, and which access keys are old or unused.

The runbook filters ``get-account-authorization-details`` on policy *names* containing "Admin"; names
prove nothing (``PowerUsers`` may allow ``*``, ``AdminReadOnly`` may not). This reads the policy documents:
an ``Allow`` of ``Action: "*"`` (or ``*:*``), or the AWS ``AdministratorAccess`` policy."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pandas as pd

from ...aws import iam as iam_reads
from ...errors import ParameterError
from ...findings import Check


def authorization_details(ops: Any) -> dict[str, list]:
    """The account's users, groups, roles and managed policies (all pages merged)."""
    return iam_reads.authorization_details(ops.client("iam"))


def key_ages(ops: Any, *, now: datetime | None = None, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every access key with its age and last use (days, ``None`` when never used); ``now``: the clock of ``ops``."""
    return iam_reads.key_ages(ops.client("iam"), now=now or ops.now(), keys=keys)


ADMIN_POLICY = "AdministratorAccess"


def _document(doc: Any) -> dict:
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    return doc or {}


def _grants_everything(doc: Any) -> bool:
    """True when a statement allows every action (``*`` or ``*:*``)."""
    statements = _document(doc).get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") == "Allow" and any(a in ("*", "*:*") for a in actions):
            return True
    return False


def admin_grants(details: dict[str, list]) -> pd.DataFrame:
    """One row per principal (user, group, role; users also through their groups) holding admin rights."""
    managed = {}
    for p in details["Policies"]:
        doc = next((v["Document"] for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        managed[p["Arn"]] = _grants_everything(doc) if doc is not None else False

    def reasons(entity: dict, inline_key: str) -> list[tuple[str, str]]:
        found = []
        for att in entity.get("AttachedManagedPolicies", []):
            if att["PolicyName"] == ADMIN_POLICY or att["PolicyArn"].endswith(f"policy/{ADMIN_POLICY}"):
                found.append((att["PolicyName"], "AWS AdministratorAccess"))
            elif managed.get(att["PolicyArn"]):
                found.append((att["PolicyName"], 'managed policy allows Action "*"'))
        for inline in entity.get(inline_key, []):
            if _grants_everything(inline.get("PolicyDocument")):
                found.append((inline["PolicyName"], 'inline policy allows Action "*"'))
        return found

    rows = []
    group_admin = {}
    for g in details["GroupDetailList"]:
        found = reasons(g, "GroupPolicyList")
        group_admin[g["GroupName"]] = found
        rows += [{"type": "group", "principal": g["GroupName"], "policy": p, "reason": r} for p, r in found]
    for u in details["UserDetailList"]:
        rows += [{"type": "user", "principal": u["UserName"], "policy": p, "reason": r}
                 for p, r in reasons(u, "UserPolicyList")]
        for g in u.get("GroupList", []):
            rows += [{"type": "user", "principal": u["UserName"], "policy": p, "reason": f"{r} (via group {g})"}
                     for p, r in group_admin.get(g, [])]
    for role in details["RoleDetailList"]:
        rows += [{"type": "role", "principal": role["RoleName"], "policy": p, "reason": r}
                 for p, r in reasons(role, "RolePolicyList")]
    return pd.DataFrame(rows, columns=["type", "principal", "policy", "reason"])


def admin_check(grants: pd.DataFrame) -> Check:
    if grants.empty:
        return Check.ok("iam-admin-policies", "no user, group or role allows every action")
    names = sorted({f"{r.type} {r.principal} ({r.policy})" for r in grants.itertuples()})
    return Check.warn("iam-admin-policies", "administrator rights: " + ", ".join(names) + "; confirm each is needed",
                      principals=sorted(set(grants["principal"])), count=len(names))


def positive_days(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ParameterError(name, value, "a positive number of days")


def old_keys_check(keys: pd.DataFrame, max_age_days: float = 90) -> Check:
    positive_days("key_max_age_days", max_age_days)
    old = keys[(keys["status"] == "Active") & (keys["age_days"] > max_age_days)]
    if old.empty:
        return Check.ok("old-access-keys", f"{int((keys['status'] == 'Active').sum())} active keys, none older than "
                        f"{max_age_days:g} days", max_age_days=max_age_days)
    return Check.warn("old-access-keys", f"{len(old)} active key(s) older than {max_age_days:g} days: " + ", ".join(
        f"{r.access_key_id} ({r.user}, {r.age_days:.0f} d)" for r in old.itertuples()) + "; rotate them",
        keys=list(old["access_key_id"]), max_age_days=max_age_days)


def unused_keys_check(keys: pd.DataFrame, unused_days: float = 90) -> Check:
    """Active keys not used for ``unused_days`` (never used counts from their creation)."""
    positive_days("unused_days", unused_days)
    idle = [(r.access_key_id, r.user, r.age_days if pd.isna(r.days_since_use) else r.days_since_use,
             bool(pd.isna(r.days_since_use))) for r in keys[keys["status"] == "Active"].itertuples()]
    idle = [i for i in idle if i[2] > unused_days]
    if not idle:
        return Check.ok("unused-access-keys", f"every active key was used (or created) in the last {unused_days:g} days",
                        unused_days=unused_days)
    return Check.warn("unused-access-keys", f"{len(idle)} active key(s) unused for over {unused_days:g} days: " +
                      ", ".join(f"{k} ({u}, {'never used, ' if never else ''}{d:.0f} d)" for k, u, d, never in idle)
                      + "; deactivate them", keys=[i[0] for i in idle], unused_days=unused_days)
