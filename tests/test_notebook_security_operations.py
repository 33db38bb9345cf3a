"""Drills: the Security Operations notebook run headless (``runbook run``) against the sandbox. Healthy:
nothing suspicious, nothing exposed, only the seeded admin user, and a GDPR erasure planned for a seeded
user that changes nothing. Leaked credential: found by the library and the notebook, and contained by the
notebook with ``dry_run=False`` (key inactive, IP blocked, the undo in the audit record)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

import golden
from runbook_cli import findings, output_notebook, run

from opslib.sections import security
from opslib.drills import DRILLS, judge
from opslib.actions import AuditLog
from opslib.actions.iam import key_status
from opslib.actions.waf import ip_set_id
from opslib.sandbox.faults import LEAKED_IP
from opslib.sections.security import compliance, response

pytestmark = pytest.mark.slow


def _records(archive, run_id: str):
    return [r for r in AuditLog(archive / "audit").records() if r.run_id == run_id]


def _gdpr_counts(ops, user: str) -> dict[str, int]:
    out = {}
    for store, engine in (("database", ops.database), ("warehouse", ops.warehouse)):
        with engine.connect() as conn:
            for table in compliance.GDPR_TABLES:
                out[f"{store}.{table}"] = conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE user_id = :u"), {"u": user}).scalar()
    return out


def _blocked(ops) -> list[str]:
    name, scope = ops.profile.security.waf_ip_set, ops.profile.security.waf_scope
    return ops.client("wafv2").get_ip_set(Name=name, Scope=scope, Id=ip_set_id(ops, name, scope))["IPSet"]["Addresses"]


@pytest.mark.golden
def test_healthy_sandbox_and_a_planned_gdpr_erasure(ops, sandbox, tmp_path, nb_regression):
    with ops.database.connect() as conn:
        user = conn.execute(sa.text("SELECT user_id FROM audit_logs WHERE user_id LIKE 'u_%' GROUP BY user_id "
                                    "ORDER BY count(*) DESC LIMIT 1")).scalar()
    before = _gdpr_counts(ops, user)
    assert before["database.events"] + before["warehouse.events"] > 0
    blocked = _blocked(ops)
    rc, entry = run("security-operations", tmp_path, f'gdpr_user_id="{user}"')
    assert rc == 0 and entry["status"] == "warn", entry.get("error")
    found = findings(entry)
    assert {n: c["status"] for n, c in found.items() if c["status"] != "ok"} == {
        "iam-admin-policies": "warn", "gdpr-deletion": "warn"}
    assert found["iam-admin-policies"]["figures"]["principals"] == ["ops-admin"]    # seeded PipelineAdmin ("*")
    assert found["suspicious-activity"]["figures"]["events"] >= 150
    assert found["exposed-credentials"]["figures"]["found"] == 0
    assert "nothing to change" in found["breach-response"]["detail"]
    for name in ("old-access-keys", "unused-access-keys", "retention", "retention-data", "audit-trail"):
        assert found[name]["status"] == "ok", found[name]
    # the erasure: the counts it would delete, nothing deleted
    detail = found["gdpr-deletion"]["detail"]
    for where, n in before.items():
        assert (f"{where}: {n}" in detail) if n else (f"{where}: 0" in detail), (where, n, detail)
    assert "not applied (dry run)" in detail
    assert _gdpr_counts(ops, user) == before and _blocked(ops) == blocked
    records = _records(tmp_path, entry["id"])
    assert sorted(r.title.split(" ")[0] for r in records) == ["GDPR", "breach"]
    assert all(r.dry_run and r.status == "planned" for r in records)
    gdpr = next(r for r in records if r.title.startswith("GDPR"))
    assert sum(s.change["meta"]["count"] for s in gdpr.steps) == sum(before.values())
    golden.check(nb_regression, entry)


def test_drill_leaked_credential_found_and_contained(ops, healthy_sandbox, tmp_path):
    injected = healthy_sandbox.inject("leaked-credential")
    leaked = injected["access_key_id"]
    # the library on the fault: what a reviewer would see before applying anything
    classified = security.classify(security.events(ops, now=ops.now(), hours=24), ops.profile.security.trusted_cidrs)
    bad = security.suspicious(classified)
    assert set(bad["source_ip"]) == {LEAKED_IP} and len(bad) == len(injected["events"])
    exposures = security.scan(ops)
    assert exposures.account_keys() == [leaked] and set(exposures.frame["where"]) == {"lambda", "s3"}
    auto = security.targets(respond="auto", exposures=exposures, classified=classified,
                            explicit=security.check_parameters().explicit)
    assert list(auto.keys) == [leaked] and list(auto.ips) == [LEAKED_IP] and not auto.secrets and not auto.users
    manual = security.targets(respond="manual", exposures=exposures, classified=classified,
                              explicit=security.check_parameters(respond="manual").explicit)
    assert manual.frame().empty
    calls = response.by_source(response.key_activity(ops, [leaked], now=ops.now()))
    assert list(calls["source_ip"]) == [LEAKED_IP] and calls["calls"].iloc[0] == len(injected["events"])
    assert key_status(ops, "etl-service", leaked) == "Active" and f"{LEAKED_IP}/32" not in _blocked(ops)

    # the notebook, applying its response
    rc, entry = run("security-operations", tmp_path, "dry_run=False")
    assert rc == 1 and entry["status"] == "fail", entry.get("error")
    verdict = judge(DRILLS["leaked-credential"].expect("security-operations"), entry, injected)
    assert verdict.detected, verdict.problem          # loud, and the key id is shown, not masked
    found = findings(entry)
    assert found["suspicious-activity"]["status"] == "fail"
    assert found["suspicious-activity"]["figures"]["source_ips"] == [LEAKED_IP]
    assert found["exposed-credentials"]["status"] == "fail" and found["exposed-credentials"]["figures"]["found"] == 2
    assert found["breach-response"]["status"] == "ok" and "applied 2 change(s)" in found["breach-response"]["detail"]
    assert key_status(ops, "etl-service", leaked) == "Inactive"
    assert f"{LEAKED_IP}/32" in _blocked(ops) and "192.0.2.10/32" in _blocked(ops)     # the others stay
    [record] = _records(tmp_path, entry["id"])
    assert not record.dry_run and record.status == "applied"
    steps = {s.change["kind"]: s for s in record.steps}
    assert set(steps) == {"iam.access_key_status", "waf.ip_set_address"}
    key_step = steps["iam.access_key_status"]
    assert (key_step.before, key_step.after) == ("Active", "Inactive")
    assert key_step.change["params"]["AccessKeyId"] == leaked
    assert key_step.change["undo"]["params"]["Status"] == "Active"
    assert steps["waf.ip_set_address"].change["undo"]["params"]["Action"] == "remove"
    text = str([c.get("outputs") for c in output_notebook(entry).cells])
    assert "real-time-aggregator" in text and "config/etl.env" in text      # where it leaked
    assert leaked in found["exposed-credentials"]["detail"] and leaked in text   # which key: shown, not ***
    assert "CreateAccessKey" in text and "application/vnd.plotly.v1+json" in text
