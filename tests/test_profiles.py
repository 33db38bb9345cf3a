"""Profiles: every shipped profile loads; each kind of mistake fails with one message naming the key."""
from __future__ import annotations

import textwrap

import pytest
import yaml

from opslib.config import _merge, available_profiles, expand_env, load_profile, parameters_dir
from opslib.errors import ProfileError


def test_every_shipped_profile_loads_with_the_runbook_values():
    assert {"sandbox", "prod", "dr", "staging"} <= set(available_profiles())
    for name in ("sandbox", "prod", "dr", "staging"):
        p = load_profile(name)
        assert p.name == name
        assert p.targets.availability_sla == 0.999 and p.targets.p99_latency_ms == 100
        assert p.targets.stream_lag_seconds == 30 and p.targets.error_rate == 0.001
        assert (p.targets.rto_minutes, p.targets.rpo_minutes) == (15, 5)
        assert (p.targets.retention.hot_days, p.targets.retention.warm_days, p.targets.retention.cold_days) == (7, 90, 730)
        assert {a.name for a in p.alerts} == {"API Down", "High Error Rate", "Stream Backup", "Data Loss",
                                              "High Latency", "Disk Usage", "Cost Spike"}
        assert [s.level for s in p.severity_levels] == ["SEV1", "SEV2", "SEV3", "SEV4"]
        assert len(p.escalation) == 6
    prod = load_profile("prod")
    assert prod.production and prod.aws.primary_region == "us-east-1" and prod.aws.dr_region == "us-west-2"
    assert {s.name for s in prod.services} == {"ingestion-api", "stream-processor", "event-validator",
                                              "real-time-aggregator", "batch-processor", "data-api"}
    dr = load_profile("dr")
    assert dr.aws.primary_region == "us-west-2" and dr.kinesis.stream == "user-events-dr"
    # metrics merged over the common catalog read the DR side's resources
    assert dr.metrics["iterator_age_ms"].dimensions == {"StreamName": "user-events-dr"}
    assert dr.metrics["ecs_cpu"].dimensions == {"ClusterName": "dr-cluster", "ServiceName": "ingestion-api"}
    assert dr.metrics["iterator_age_ms"].name == "GetRecords.IteratorAgeMilliseconds"


def _write(tmp_path, data: dict, name: str = "custom.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _sandbox_data() -> dict:
    data = yaml.safe_load((parameters_dir() / "sandbox.yaml").read_text())
    data.pop("extends")
    base = yaml.safe_load((parameters_dir() / "_common.yaml").read_text())
    return _merge(base, data)                # as `extends:` merges: nested sections key by key


def test_a_path_to_any_yaml_of_the_schema_loads(tmp_path):
    data = _sandbox_data()
    data["name"] = "laptop"
    assert load_profile(_write(tmp_path, data)).name == "laptop"


def test_unknown_profile_name_lists_the_allowed_ones():
    with pytest.raises(ProfileError) as err:
        load_profile("prdo")
    assert "unknown profile 'prdo'" in str(err.value)
    assert "sandbox" in str(err.value) and "prod" in str(err.value)
    assert err.value.key == "profile"


def test_unknown_key_is_named_with_the_allowed_keys(tmp_path):
    data = _sandbox_data()
    data["aws"]["regoin"] = "us-east-1"
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert "'aws.regoin' is not allowed" in str(err.value)
    assert "primary_region" in str(err.value)
    assert err.value.key == "aws.regoin"


def test_missing_required_key_is_named(tmp_path):
    data = _sandbox_data()
    del data["kinesis"]["stream"]
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert "'kinesis.stream' is required" in str(err.value)


def test_every_problem_is_named_at_once(tmp_path):
    """A profile written for a new pipeline lists all it lacks or gets wrong in one error, not one per run."""
    data = _sandbox_data()
    del data["kinesis"]["stream"], data["dns"]
    data["aws"]["regoin"] = "us-east-1"
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    message = str(err.value)
    assert "3 problems" in message and "'dns' is required" in message and "'kinesis.stream' is required" in message
    assert "'aws.regoin' is not allowed; allowed:" in message and "runbook init" in message


def test_wrong_type_is_named_with_the_value(tmp_path):
    data = _sandbox_data()
    data["targets"]["p99_latency_ms"] = "fast"
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert "targets.p99_latency_ms" in str(err.value) and "'fast'" in str(err.value)


def test_literal_values_list_what_is_allowed(tmp_path):
    data = _sandbox_data()
    data["services"][0]["criticality"] = "urgent"
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert "services.0.criticality" in str(err.value) and "'critical'" in str(err.value)


def test_alert_rule_must_name_a_known_metric(tmp_path):
    data = _sandbox_data()
    data["alerts"][0]["metric"] = "heath_check_failures"
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert "alerts.0.metric" in str(err.value) and "health_check_failures" in str(err.value)


def test_a_pipeline_without_a_dr_region_is_single_region(tmp_path):
    data = _sandbox_data()
    data["aws"].pop("dr_region")             # the DR names _common gives are then unused
    prof = load_profile(_write(tmp_path, data))
    assert not prof.has_dr and prof.sides == ("primary",)
    assert load_profile("sandbox").sides == ("primary", "dr")


@pytest.mark.parametrize("change, named", [
    (lambda d: d["aws"].update(dr_region=d["aws"]["primary_region"]),
     "aws.dr_region: 'us-east-1' is the primary region"),
    (lambda d: d["ecs"].pop("dr_cluster"), "key 'ecs.dr_cluster' is required with aws.dr_region (us-west-2)"),
    (lambda d: d["kinesis"].pop("dr_stream"), "key 'kinesis.dr_stream' is required with aws.dr_region"),
    (lambda d: d["dns"].pop("dr_alb_dns"), "key 'dns.dr_alb_dns' is required with aws.dr_region"),
    (lambda d: (d["aws"].pop("dr_region"), d["metrics"]["events_dropped"].update(region="dr")),
     "metrics.events_dropped.region: 'dr', but the profile has no aws.dr_region"),
])
def test_a_dr_side_is_whole_or_absent(tmp_path, change, named):
    data = _sandbox_data()
    change(data)
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, data))
    assert named in str(err.value)


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent("""\
        name: x
          environment: [
    """))
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(path)


def test_environment_references_expand_only_when_used():
    assert expand_env("${A:-fallback}", key="k", environ={}) == "fallback"
    assert expand_env("postgresql://${U}@h/db", key="k", environ={"U": "ops"}) == "postgresql://ops@h/db"
    with pytest.raises(ProfileError) as err:
        expand_env("${ANALYTICS_DB_URL}", key="databases.database.url", environ={})
    assert "ANALYTICS_DB_URL is not set" in str(err.value) and err.value.key == "databases.database.url"


def test_connect_reads_the_database_url_from_the_environment(monkeypatch):
    from opslib import connect
    monkeypatch.setenv("ANALYTICS_DB_URL", "postgresql://ops@db.example:5432/analytics")
    monkeypatch.setenv("WAREHOUSE_DB_URL", "postgresql://ops@wh.example:5439/dev")
    ops = connect("prod")
    assert ops.database.url.drivername == "postgresql+psycopg"
    assert ops.database.url.host == "db.example"
    assert ops.endpoint_url is None   # real AWS: no override
    cfg = ops.client("kinesis").meta.config
    assert cfg.retries["mode"] == "adaptive" and cfg.connect_timeout == 5 and cfg.read_timeout == 30
    assert ops.client("kinesis", "dr").meta.region_name == "us-west-2"
