"""Security Operations library: the rules on constructed inputs, and the sandbox read live (healthy, old keys and a
stopped trail, a GDPR erasure planned). The leaked-credential fault is in test_notebook_security_operations.py,
library and notebook on one injection (a sandbox reset costs 10-20 s)."""
from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from opslib.sections import security
from opslib.actions import apply
from opslib.errors import ParameterError
from opslib.sections.security import activity, compliance, credentials, response

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
TRUSTED = ["10.0.0.0/8", "198.51.100.23/32"]


def _event(name="DescribeServices", ip="10.0.1.2", **kw) -> dict:
    row = {c: "" for c in activity.COLUMNS}
    row.update(time=pd.Timestamp(NOW), region="us-east-1", event_name=name, source_ip=ip, user_type="IAMUser",
               username="alice", read_only=name.startswith(("Describe", "Get", "List")))
    row.update(kw)
    return row


# -- rules ---------------------------------------------------------------------------------------------
def test_classify_applies_each_rule():
    frame = pd.DataFrame([
        _event(),                                                         # ordinary
        _event("ListBuckets", ip="ecs.amazonaws.com"),                   # an AWS service: trusted
        _event("ListBuckets", user_type="Root"),                         # root
        _event("ConsoleLogin", ip="198.51.100.23", login_result="Failure"),
        _event("PutObject", error_code="AccessDenied"),
        _event("CreateAccessKey", ip="198.51.100.23"),                   # sensitive, trusted IP
        _event("ListUsers", ip="203.0.113.9", access_key_id="AKIAAAAAAAAAAAAAAAAA"),   # read from outside
        _event("PutUserPolicy", ip="203.0.113.9", access_key_id="AKIAAAAAAAAAAAAAAAAA"),
    ])
    out = activity.classify(frame, TRUSTED)
    assert list(out["severity"]) == ["ok", "ok", "fail", "warn", "warn", "warn", "warn", "fail"]
    assert "root account used" in out.loc[2, "reasons"] and "AccessDenied" in out.loc[4, "reasons"]
    assert activity.suspicious_ips(out) == ["203.0.113.9"]
    assert activity.suspicious_keys(out) == ["AKIAAAAAAAAAAAAAAAAA"]
    check = activity.activity_check(out, TRUSTED, 24)
    assert check.status == "fail" and check.figures["suspicious"] == 6 and check.figures["fail"] == 2


def test_without_trusted_ranges_the_ip_rule_is_off_and_says_so():
    out = activity.classify(pd.DataFrame([_event("ListUsers", ip="203.0.113.9")]), [])
    assert list(out["severity"]) == ["ok"]
    check = activity.activity_check(out, [], 24)
    assert check.status == "warn" and "trusted_cidrs is empty" in check.detail


def test_credentials_are_found_and_masked():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    hits = credentials.find(f"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {secret}\n"
                            "event_id=AKIAIOSFODNN7EXAMPLEXX")     # longer: not a key id
    assert [h[0] for h in hits] == ["access key id", "secret access key"]
    assert hits[0][2] == "AKIAIOSFODNN7EXAMPLE" and secret not in hits[1][1] and hits[1][1].startswith("wJal")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "KEY = 'ASIAIOSFODNN7EXAMPLE'")
    texts = dict(credentials._texts("a.zip", buf.getvalue(), 10_000))
    assert "ASIAIOSFODNN7EXAMPLE" in texts["a.zip!handler.py"]
    assert "x" in dict(credentials._texts("b.gz", gzip.compress(b"x"), 100))["b.gz"]
    assert dict(credentials._texts("c.gz", b"plain text named .gz", 100))["c.gz"] == "plain text named .gz"
    rows = credentials._variables("lambda", "fn", {"DB_PASSWORD": "hunter2hunter2", "LOG_LEVEL": "INFO",
                                                   "API_TOKEN": "arn:aws:secretsmanager:x"})
    assert [(r["location"], r["kind"]) for r in rows] == [("fn DB_PASSWORD", "plaintext secret variable")]


def test_admin_rights_are_read_from_documents_not_names():
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    details = {
        "Policies": [{"Arn": "arn:p/AdminReadOnly", "PolicyVersionList": [{"IsDefaultVersion": True, "Document": {
            "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]}}]},
                     {"Arn": "arn:p/PowerUsers", "PolicyVersionList": [{"IsDefaultVersion": True,
                                                                         "Document": allow_all}]}],
        "GroupDetailList": [{"GroupName": "ops", "AttachedManagedPolicies": [], "GroupPolicyList": [
            {"PolicyName": "all", "PolicyDocument": json.dumps(allow_all)}]}],
        "UserDetailList": [
            {"UserName": "bob", "GroupList": ["ops"], "UserPolicyList": [], "AttachedManagedPolicies": [
                {"PolicyName": "AdminReadOnly", "PolicyArn": "arn:p/AdminReadOnly"}]},
            {"UserName": "carol", "GroupList": [], "UserPolicyList": [], "AttachedManagedPolicies": [
                {"PolicyName": "PowerUsers", "PolicyArn": "arn:p/PowerUsers"}]}],
        "RoleDetailList": [{"RoleName": "break-glass", "RolePolicyList": [], "AttachedManagedPolicies": [
            {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}],
    }
    grants = security.admin_grants(details)
    assert sorted(zip(grants["type"], grants["principal"], grants["policy"])) == [
        ("group", "ops", "all"), ("role", "break-glass", "AdministratorAccess"), ("user", "bob", "all"),
        ("user", "carol", "PowerUsers")]
    assert "via group ops" in grants.loc[grants["principal"] == "bob", "reason"].iloc[0]


def test_key_age_rules():
    keys = pd.DataFrame([
        {"user": "a", "access_key_id": "K1", "status": "Active", "age_days": 120.0, "days_since_use": 1.0},
        {"user": "b", "access_key_id": "K2", "status": "Active", "age_days": 100.0, "days_since_use": None},
        {"user": "c", "access_key_id": "K3", "status": "Inactive", "age_days": 400.0, "days_since_use": None},
        {"user": "d", "access_key_id": "K4", "status": "Active", "age_days": 10.0, "days_since_use": None}])
    old = security.old_keys_check(keys, 90)
    unused = security.unused_keys_check(keys, 90)
    assert old.status == "warn" and old.figures["keys"] == ["K1", "K2"]
    assert unused.status == "warn" and unused.figures["keys"] == ["K2"] and "never used" in unused.detail
    assert security.old_keys_check(keys, 150).status == "ok"
    with pytest.raises(ParameterError):
        security.old_keys_check(keys, 0)


def test_retention_counts_rows_beyond_the_cold_tier(ops, tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    old = NOW.replace(tzinfo=None) - timedelta(days=731)
    with engine.begin() as conn:
        for table, col in compliance.TIME_COLUMNS.items():
            conn.exec_driver_sql(f'CREATE TABLE {table} ("{col}" timestamp)')
            conn.execute(sa.text(f'INSERT INTO {table} VALUES (:t)'), [{"t": old}, {"t": NOW.replace(tzinfo=None)}])
    ages = security.data_ages(ops, now=NOW, engines={"warehouse": engine})
    assert list(ages["older_than_retention"]) == [1, 1, 1]
    checks = {c.name: c for c in security.retention_compliance(ops, ages)}
    assert checks["retention-data"].status == "warn" and checks["retention-data"].figures["rows"] == {
        "warehouse.events": 1, "warehouse.error_logs": 1, "warehouse.audit_logs": 1}
    assert checks["retention"].status == "ok"


class _NoCalls:
    """An ops whose every AWS/SQL use fails the test: parameters must be refused first."""
    profile = None

    def client(self, *a, **k):
        raise AssertionError("an AWS call was made before the parameters were checked")


@pytest.mark.parametrize("call", [
    lambda: security.check_parameters(respond="yes"),
    lambda: security.check_parameters(deactivate_keys="AKIAIOSFODNN7EXAMPLE"),
    lambda: security.check_parameters(deactivate_keys=["not-a-key"]),
    lambda: security.check_parameters(block_ips=["300.1.1.1"]),
    lambda: security.check_parameters(reset_users=[""]),
    lambda: security.check_parameters(hours="24"),
    lambda: security.check_parameters(trusted_cidrs="10.0.0.0/8"),
    lambda: security.check_parameters(scan_buckets="company-backups"),
    lambda: security.check_parameters(max_object_bytes=0),
    lambda: security.check_parameters(key_max_age_days=-1),
    lambda: security.check_parameters(gdpr_user_id=42),
    lambda: security.check_parameters(gdpr_tables=[]),
    lambda: compliance.check_gdpr("bad id; DROP", ["events"]),
    lambda: compliance.check_gdpr("u_1", ["error_logs"]),
    lambda: security.events(_NoCalls(), now=NOW, hours=0),
    lambda: security.events(_NoCalls(), now=NOW, hours=24 * 91),
    lambda: security.scan(_NoCalls(), max_bytes=-1),
    lambda: security.classify(pd.DataFrame(columns=activity.COLUMNS), ["10.0.0.0/33"]),
])
def test_bad_parameters_are_refused_before_any_call(call):
    with pytest.raises(ParameterError) as err:
        call()
    assert err.value.allowed


# -- the sandbox ---------------------------------------------------------------------------------------
def test_healthy_sandbox_is_clean(ops):
    trusted = ops.profile.security.trusted_cidrs
    classified = security.classify(security.events(ops, now=ops.now(), hours=24), trusted)
    assert len(classified) >= 150 and set(classified["severity"]) == {"ok"}
    assert security.activity_check(classified, trusted, 24).status == "ok"
    exposures = security.scan(ops)
    assert exposures.frame.empty and exposures.scanned["lambda functions (us-east-1)"] == 2
    assert exposures.scanned[f"s3://{ops.profile.s3.lambda_artifacts_bucket} objects"] >= 2
    assert security.exposure_check(exposures).status == "ok"
    grants = security.admin_grants(security.authorization_details(ops))
    # the seeded ops-admin user holds PipelineAdmin ("Action": "*"): a genuine finding
    assert list(zip(grants["principal"], grants["policy"])) == [("ops-admin", "PipelineAdmin")]
    keys = security.key_ages(ops)
    assert len(keys) == 4 and security.old_keys_check(keys).status == "ok"
    assert security.unused_keys_check(keys).status == "ok"
    trail = security.trail_status(ops)
    assert security.audit_trail_check(trail).status == "ok"
    t = security.targets(respond="auto", exposures=exposures, classified=classified,
                         explicit=security.check_parameters().explicit)
    assert t.frame().empty and len(security.plan_response(ops, t)) == 0


def test_old_keys_and_a_stopped_trail_are_found(ops, sandbox):
    iam = sandbox.backend("iam", "global")
    key = iam.users["analyst-jane"].access_keys[0]
    created = key.create_date
    trail = ops.profile.security.cloudtrail_trail
    try:
        key.create_date = NOW.replace(tzinfo=None) - timedelta(days=200)
        ops.client("cloudtrail").stop_logging(Name=trail)
        keys = security.key_ages(ops)
        old = security.old_keys_check(keys)
        assert old.status == "warn" and old.figures["keys"] == [key.access_key_id]
        assert security.unused_keys_check(keys).figures["keys"] == [key.access_key_id]
        check = security.audit_trail_check(security.trail_status(ops, trail))
        assert check.status == "fail" and "not logging" in check.detail
    finally:
        key.create_date = created
        ops.client("cloudtrail").start_logging(Name=trail)


def test_gdpr_erasure_is_counted_and_changes_nothing_by_default(ops, sandbox, tmp_path):
    with ops.database.connect() as conn:
        user = conn.execute(sa.text("SELECT user_id FROM events WHERE user_id IS NOT NULL "
                                    "GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")).scalar()

    def counts():
        out = {}
        for store, engine in (("database", ops.database), ("warehouse", ops.warehouse)):
            with engine.connect() as conn:
                for table in compliance.GDPR_TABLES:
                    out[(store, table)] = conn.execute(
                        sa.text(f"SELECT count(*) FROM {table} WHERE user_id = :u"), {"u": user}).scalar()
        return out

    before = counts()
    assert before[("database", "events")] > 0 and before[("warehouse", "events")] > 0
    plan = security.plan_gdpr_deletion(ops, user)
    table = security.deletion_counts(plan)
    assert {(r.store, r.table): r.rows for r in table.itertuples()} == {k: v for k, v in before.items() if v}
    assert all("user_id = " in c for c in table["command"])
    result = apply(plan, ops=ops, audit_dir=str(tmp_path), audit_database=False)
    assert result.status == "planned" and counts() == before
    with pytest.raises(ParameterError):
        security.plan_gdpr_deletion(ops, None)


def test_a_secret_read_from_an_untrusted_ip_is_rotated():
    frame = pd.DataFrame([
        _event("GetSecretValue", ip="203.0.113.9", access_key_id="AKIAAAAAAAAAAAAAAAAA",
               request_parameters=json.dumps({"secretId": "prod/database/connection"})),
        _event("GetSecretValue", request_parameters=json.dumps({"secretId": "prod/other"})),   # trusted caller
        _event("DeleteBucket", ip="203.0.113.9", access_key_id="AKIAAAAAAAAAAAAAAAAA")])
    t = security.targets(respond="auto", exposures=None, classified=activity.classify(frame, TRUSTED),
                         explicit=security.check_parameters(reset_users=["affected-user"]).explicit)
    assert list(t.keys) == ["AKIAAAAAAAAAAAAAAAAA"] and list(t.ips) == ["203.0.113.9"]
    assert list(t.secrets) == ["prod/database/connection"] and list(t.users) == ["affected-user"]


def test_the_plan_rotates_secrets_resets_users_and_skips_foreign_keys(ops):
    secret = ops.profile.secrets.database_connection
    t = response.ResponseTargets(keys={"AKIAIOSFODNN7EXAMPLE": "named"}, secrets={secret: "named"},
                         users={"affected-user": "named"})
    plan = security.plan_response(ops, t)
    assert [c.kind for c in plan.changes] == ["secrets.value", "cognito.reset_password"]
    assert plan.changes[0].undo is not None and "password" in plan.changes[0].attribute
    assert "SecretString" in plan.changes[0].secret_params                # the new value is never shown
    assert any("AKIAIOSFODNN7EXAMPLE is not an access key of this account" in n for n in plan.notes)
    # an API client IP of today's access log, and a user IP of audit_logs: both found, nothing else
    log = ops.client("s3").get_object(Bucket=ops.profile.s3.access_logs_bucket,
                                      Key=f"{ops.now():%Y/%m/%d}/alb-access.log")["Body"].read().decode()
    lines = [json.loads(line) for line in log.splitlines()]
    client = lines[0]["ip_address"]
    with ops.database.connect() as conn:
        user_ip = conn.execute(sa.text("SELECT ip_address FROM audit_logs ORDER BY \"timestamp\" DESC LIMIT 1")).scalar()
    found = security.investigate(ops, response.ResponseTargets(ips={client: "named", user_ip: "named"}),
                                 trusted_cidrs=ops.profile.security.trusted_cidrs, now=ops.now())
    assert found.calls.empty and found.ips == sorted({client, user_ip})
    assert len(found.access_logs) == sum(line["ip_address"] in (client, user_ip) for line in lines) >= 1
    assert user_ip in set(found.audit_logs["ip_address"]) and set(found.audit_logs["ip_address"]) <= {client, user_ip}


def test_one_confirm_is_shared_between_the_plans():
    from opslib.actions import Change, Plan

    def plan(*targets):
        return Plan("p", [Change(kind="k", resource=t, attribute="a", current=1, new=2, service="s", operation="o",
                                 params={}, cli="", target=t) for t in targets])
    response_plan, gdpr_plan = plan("AKIAIOSFODNN7EXAMPLE", "blocked-ips"), plan("events", "audit_logs")
    assert response.split_confirm("blocked-ips, events,AKIAIOSFODNN7EXAMPLE", [response_plan, gdpr_plan]) == [
        ["blocked-ips", "AKIAIOSFODNN7EXAMPLE"], ["events"]]
    assert response.split_confirm(None, [plan(), None]) == [[], []]
    with pytest.raises(ParameterError) as err:
        response.split_confirm(["blocked-ips", "prod-cluster"], [response_plan, None])
    assert "AKIAIOSFODNN7EXAMPLE, blocked-ips" in err.value.allowed
