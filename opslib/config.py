"""Environment profiles: ``parameters/<name>.yaml`` (or any YAML path) -> one validated ``Profile``.

Explicit argument beats environment variable beats default, resolved in :mod:`opslib.settings`.
Secrets never live in a profile: URLs may reference environment variables (``${ANALYTICS_DB_URL}``),
which are expanded only when a connection is made (:func:`expand_env`).
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ProfileError

from .settings import DEFAULT_PROFILE, project_root, resolve_parameters_dir, resolve_profile


def parameters_dir() -> Path:
    """The folder holding the named profiles: $OPSLIB_PARAMETERS, else ``parameters/`` of the checkout."""
    return resolve_parameters_dir()


#: Environments whose profiles are production unless they say otherwise (the DR side serves production).
PRODUCTION_ENVIRONMENTS = ("production", "dr")


class ProfileWarning(UserWarning):
    """A profile loads, but something in it is probably not what was meant."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsSettings(_Strict):
    primary_region: str
    dr_region: str | None = Field(
        None, description="the disaster-recovery region; leave it out for a single-region pipeline (the DR "
                          "runbook then has nothing to check, the other runbooks read the primary region only)")
    account_id: str | None = None
    profile_name: str | None = Field(None, description="boto3 named profile (SSO, assume-role...)")
    endpoint_url: str | None = Field(
        None, description="'sandbox' for the running sandbox, a URL for another endpoint, empty for AWS")
    connect_timeout: float = 5
    read_timeout: float = 30
    max_attempts: int = 5


# What a service does in the pipeline. Runbooks find services by role, never by name; a role the profile
# does not declare makes the steps that need it "not measurable".
ROLES = ("ingest", "process", "query", "validate", "aggregate", "batch")
Role = Literal["ingest", "process", "query", "validate", "aggregate", "batch"]
#: What ``runbook init`` writes where it could not decide: a service with it has no role (its steps are
#: not measurable) and the preflight reports it until a person fills it in.
TODO = "TODO"

# The events table's columns as the runbook's queries name them; ``databases.*.columns`` maps them to a
# table's own names. The runbook's two queries need only ``event_id`` and ``event_timestamp``.
EVENT_COLUMNS = ("event_id", "user_id", "session_id", "event_type", "event_timestamp", "received_at",
                 "platform", "country", "page", "revenue")


class Service(_Strict):
    name: str
    role: Role | Literal["TODO"] | None = Field(
        None, description="TODO: not decided yet (runbook init); ingest: the API receiving events; process: the stream consumer; query: the data API; "
                          "validate/aggregate: the Lambda functions; batch: the batch job")
    dr_desired_count: int | None = Field(None, ge=0, description="tasks in the DR cluster after a regional failover")
    type: Literal["ecs", "lambda", "emr"]
    criticality: Literal["critical", "high", "medium", "low"]
    dependencies: list[str] = []
    health_check: str = Field(description="'/health' for an HTTP check, 'cloudwatch' or 'emr-console'")
    health_url: str | None = None
    log_group: str | None = None
    target_group: str | None = None
    alias: str | None = None


class EcsSettings(_Strict):
    cluster: str
    dr_cluster: str | None = Field(None, description="the DR region's cluster (required with aws.dr_region)")
    min_desired_count: int = 1
    max_desired_count: int = 100


class KinesisSettings(_Strict):
    stream: str
    dr_stream: str | None = Field(None, description="the DR region's stream (required with aws.dr_region)")
    consumer: str
    max_shards: int = 500
    checkpoint_layout: Literal["seed", "kcl"] = Field(
        "seed", description="seed: ShardId/SequenceNumber items; kcl: a Kinesis Client Library lease table "
                            "(leaseKey, checkpoint, leaseOwner, leaseCounter)")


class DynamoSettings(_Strict):
    checkpoint_table: str
    events_table: str


class S3Settings(_Strict):
    events_bucket: str
    archive_bucket: str
    backups_bucket: str
    lambda_artifacts_bucket: str
    access_logs_bucket: str
    cloudtrail_bucket: str


class DnsSettings(_Strict):
    hosted_zone: str
    record: str
    primary_alb_dns: str
    dr_alb_dns: str | None = None
    dr_health_url: str | None = None


class RdsSettings(_Strict):
    instance: str
    replica: str | None = Field(None, description="the in-region read replica (its lag is the database's RPO; the "
                                                  "database failover promotes it); leave it out when there is none")
    dr_replica: str | None = None


class SecretsSettings(_Strict):
    database_connection: str


class SecuritySettings(_Strict):
    waf_ip_set: str
    waf_scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"
    cognito_user_pool: str
    cloudtrail_trail: str
    trusted_cidrs: list[str] = Field(
        [], description="source IP ranges expected in CloudTrail (offices, CI, VPCs); other IPs are suspicious")

    @field_validator("trusted_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        import ipaddress
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"security.trusted_cidrs: {cidr!r} is not an IP address or CIDR") from exc
        return v


class Database(_Strict):
    url: str = Field(description="SQLAlchemy URL; may reference ${ENV_VARS}; 'sandbox' for the sandbox's own")
    dialect_hint: Literal["duckdb", "postgresql", "redshift", "athena"] | None = None
    events_table: str = Field("events", description="the events table, schema-qualified allowed (analytics.user_events)")
    columns: dict[str, str] = Field(
        {}, description="runbook column name -> the table's column, e.g. {event_id: id, event_timestamp: occurred_at}")
    timestamps: Literal["native", "iso_text", "epoch_s", "epoch_ms", "epoch_us"] = Field(
        "native", description="how event_timestamp and received_at are stored: TIMESTAMP columns (native), ISO 8601 "
                              "text in UTC, or numbers since 1970-01-01 UTC in seconds, milliseconds or microseconds")

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key not in EVENT_COLUMNS:
                raise ValueError(f"databases.*.columns: {key!r} is not a runbook column; allowed: {', '.join(EVENT_COLUMNS)}")
        return v


class Databases(_Strict):
    warehouse: Database
    database: Database


class CertificateSettings(_Strict):
    """Certificate expiry: read from ACM (the load balancers' listeners) and TLS handshakes with the https
    health URLs; local PEM files only when named here or by a parameter."""
    warn_days: int = Field(30, ge=0)
    fail_days: int = Field(14, ge=0)
    pem_paths: list[str] = []


class Retention(_Strict):
    hot_days: int = 7
    warm_days: int = 90
    cold_days: int = 730


class Targets(_Strict):
    availability_sla: float = 0.999
    api_success_rate: float = 0.999
    p99_latency_ms: float = 100
    stream_lag_seconds: float = 30
    error_rate: float = 0.001
    rto_minutes: float = 15
    rpo_minutes: float = 5
    average_events_per_second: float = 50_000
    peak_events_per_second: float = 200_000
    retention: Retention = Retention()


class Metric(_Strict):
    """Where a named metric lives in CloudWatch."""
    namespace: str
    name: str
    dimensions: dict[str, str] = {}
    stat: str = "Sum"
    unit: str | None = None
    region: Literal["primary", "dr"] = "primary"


class AlertRule(_Strict):
    """One row of the runbook's alert tables, as data."""
    name: str
    level: Literal["page", "warn"]
    channel: str
    condition: str = Field(description="the runbook's wording")
    metric: str = Field(description="a key of the profile's metrics; a ratio is 'a/b'")
    statistic: str = "Sum"
    comparison: Literal[">", ">=", "<", "<="]
    threshold: float
    period_minutes: int = 1
    window_minutes: int = 5
    datapoints_to_alarm: int | None = None
    relative_to_average_days: int | None = Field(
        None, description="threshold is a multiple of the trailing average over this many days")
    action: str = ""
    runbook: str = ""


class SeverityLevel(_Strict):
    level: str
    description: str
    response_minutes: int | None
    examples: list[str] = []


class Escalation(_Strict):
    severity: str
    initial: str
    after_minutes: int | None
    to: list[str]


class Contact(_Strict):
    """One entry of the runbook's Contact Information (how to reach a person, rota, vendor or team)."""
    name: str
    role: str | None = None
    via: str | None = Field(None, description="where to look them up, e.g. 'PagerDuty'")
    phone: str | None = None
    email: str | None = None
    url: str | None = None


class Contacts(_Strict):
    on_call: list[Contact] = []
    manager: list[Contact] = []
    vendors: list[Contact] = []
    teams: list[Contact] = []


class Profile(_Strict):
    name: str
    environment: Literal["sandbox", "staging", "production", "dr"]
    production: bool = Field(False, description="changes need a confirmation naming the resource; follows "
                                                "`environment: production` (or dr) unless set (overriding it warns)")
    now: datetime | None = Field(None, description="fixed clock (sandbox, reproducible runs); empty = real time")
    aws: AwsSettings
    ecs: EcsSettings
    services: list[Service]
    kinesis: KinesisSettings
    dynamodb: DynamoSettings
    s3: S3Settings
    dns: DnsSettings
    rds: RdsSettings
    secrets: SecretsSettings
    security: SecuritySettings
    log_groups: list[str]
    databases: Databases
    targets: Targets = Targets()
    metrics: dict[str, Metric]
    alerts: list[AlertRule]
    severity_levels: list[SeverityLevel]
    escalation: list[Escalation]
    contacts: Contacts = Contacts()
    certificates: CertificateSettings = CertificateSettings()
    notify: dict[str, str] = Field({}, description="target name -> URL (may be ${ENV_VAR})")
    source: str | None = Field(None, description="where this profile was loaded from (set by the loader)")

    @model_validator(mode="before")
    @classmethod
    def _production_follows_environment(cls, data):
        if isinstance(data, dict) and "environment" in data:
            by_environment = data["environment"] in PRODUCTION_ENVIRONMENTS
            if data.get("production") is None:
                data = {**data, "production": by_environment}
            elif bool(data["production"]) != by_environment:
                import warnings
                warnings.warn(f"profile {data.get('name')!r}: production: {str(data['production']).lower()} overrides "
                              f"environment: {data['environment']} ("
                              + ("changes will NOT need a confirmation" if by_environment else
                                 "changes will need a confirmation") + ")", ProfileWarning, stacklevel=2)
        return data

    @field_validator("now")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v

    @model_validator(mode="after")
    def _references(self) -> "Profile":
        a = self.aws
        if a.dr_region is not None:
            if a.dr_region == a.primary_region:
                raise ValueError(f"aws.dr_region: {a.dr_region!r} is the primary region; name another region, or leave "
                                 f"aws.dr_region out for a single-region pipeline")
            for key, value in (("ecs.dr_cluster", self.ecs.dr_cluster), ("kinesis.dr_stream", self.kinesis.dr_stream),
                               ("dns.dr_alb_dns", self.dns.dr_alb_dns), ("dns.dr_health_url", self.dns.dr_health_url)):
                if not value:
                    raise ValueError(f"key {key!r} is required with aws.dr_region ({a.dr_region}); leave aws.dr_region "
                                     f"out for a single-region pipeline")
        else:
            for name, metric in self.metrics.items():
                if metric.region == "dr":
                    raise ValueError(f"metrics.{name}.region: 'dr', but the profile has no aws.dr_region; "
                                     f"allowed: primary")
        for i, rule in enumerate(self.alerts):
            for part in rule.metric.split("/"):
                if part not in self.metrics:
                    raise ValueError(
                        f"alerts.{i}.metric: {part!r} is not a metric of this profile; "
                        f"allowed: {', '.join(sorted(self.metrics))}")
        return self

    @property
    def has_dr(self) -> bool:
        """Whether the pipeline has a disaster-recovery region (``aws.dr_region``). Without one, the DR-side names
        (``ecs.dr_cluster``, ``kinesis.dr_stream``, ``dns.dr_*``) are not used, even where an extended profile sets
        them."""
        return self.aws.dr_region is not None

    @property
    def sides(self) -> tuple[str, ...]:
        """The regions the pipeline runs in, as the runbooks name them: ``("primary", "dr")``, or ``("primary",)``."""
        return ("primary", "dr") if self.has_dr else ("primary",)

    def region(self, which: str = "primary") -> str:
        """The region name of ``"primary"``, ``"dr"`` or a region name (as it is). ``"dr"`` without a DR region
        raises ProfileError naming ``aws.dr_region``."""
        if which == "dr" and not self.has_dr:
            raise ProfileError(f"profile {self.name!r} has no DR region (aws.dr_region): this pipeline runs in "
                               f"{self.aws.primary_region} only", key="aws.dr_region", source=self.source)
        return {"primary": self.aws.primary_region, "dr": self.aws.dr_region}.get(which, which)

    def services_with_role(self, role: str) -> list[Service]:
        """Every service the profile declares with ``role`` (in profile order; empty when none)."""
        return [s for s in self.services if s.role == role]

    def service_for(self, role: str) -> Service | None:
        """The first service with ``role``, or None: the caller reports the steps needing it as not measurable."""
        found = self.services_with_role(role)
        return found[0] if found else None

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise ProfileError(f"profile {self.name!r} has no service {name!r}; allowed: "
                           f"{', '.join(s.name for s in self.services)}", key="services", allowed="service names")

    def clock(self) -> datetime:
        """The profile's notion of now: the fixed ``now`` if set, else the real UTC time."""
        return self.now or datetime.now(timezone.utc)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in parameters_dir().glob("*.yaml") if not p.stem.startswith("_") and p.stem != "schedules")


def _locate(profile: str | os.PathLike) -> Path:
    text = os.fspath(profile)
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        if not path.is_file():
            raise ProfileError(f"profile file {text!r} does not exist", key="profile", source=text)
        return path
    candidate = parameters_dir() / f"{text}.yaml"
    if not candidate.is_file():
        raise ProfileError(
            f"unknown profile {text!r}; allowed: {', '.join(available_profiles())} or a path to a YAML file",
            key="profile", allowed=", ".join(available_profiles()), source=text)
    return candidate


def _describe(err: dict) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"key {key!r} is not allowed"
    if kind == "missing":
        return f"key {key!r} is required"
    if kind == "literal_error":
        return f"key {key!r}: got {err.get('input')!r}; allowed: {err['ctx']['expected']}"
    if kind == "value_error":
        return err["msg"].removeprefix("Value error, ")
    return f"key {key!r}: {err['msg'].lower()}, got {err.get('input')!r}"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> str:
    """The keys the schema allows at the parent of ``loc`` (for unknown-key errors)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return ""
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or (ann,)
        current = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return ", ".join(current.model_fields) if current else ""


# libyaml's safe loader when PyYAML has it: the same data, ~8x less CPU than the pure-Python one (parameters/_common.yaml
# took ~50 ms, read in the runner and again in the kernel of every run)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path, seen: tuple = ()) -> dict:
    """Read a profile file, merging the file named by its ``extends`` key underneath it."""
    try:
        data = yaml.load(path.read_text(), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {str(path)!r} is not valid YAML: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ProfileError(f"profile {str(path)!r} must be a mapping of keys", source=str(path))
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base_path = path.parent / f"{base_name}.yaml"
    if not base_path.is_file():          # a copied profile still extends the packaged ones (_common, sandbox...)
        base_path = parameters_dir() / f"{base_name}.yaml"
    if not base_path.is_file() or base_path.resolve() in {p.resolve() for p in seen + (path,)}:
        raise ProfileError(f"profile {str(path)!r}: key 'extends': {base_name!r} is not a profile beside it nor in "
                           f"{parameters_dir()} (or extends itself); allowed: "
                           f"{', '.join(sorted(p.stem for p in parameters_dir().glob('*.yaml')))}",
                           key="extends", source=str(path))
    return _merge(_read(base_path, seen + (path,)), data)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def profile_reference(profile: str) -> str:
    """How to name ``profile`` to another process or a kernel (which runs in ``notebooks/``): a YAML file or
    a path made absolute, a profile name as it is."""
    return str(Path(profile).resolve()) if profile.endswith((".yaml", ".yml")) or os.sep in profile else profile


def load_profile(profile: "str | os.PathLike | Profile | None" = None) -> Profile:
    """Load and validate a profile by name (``parameters/NAME.yaml``) or path.

    ``None`` means $OPSLIB_PROFILE, else ``sandbox``. Raises :class:`ProfileError` naming the key."""
    if isinstance(profile, Profile):
        return profile
    profile = resolve_profile(profile)
    path = _locate(profile)
    data = _read(path)
    data.setdefault("source", str(path))
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_describe(e) + (f"; allowed: {_allowed_keys(Profile, e['loc'])}"
                                    if e["type"] == "extra_forbidden" else "") for e in errors]
        # every problem at once: a profile written for a new pipeline should not take one run per missing key
        message = problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  " + "\n  ".join(problems)
        if any(e["type"] == "missing" for e in errors):
            message += ("\n(`runbook init` drafts a whole profile from the account; `extends: _common` takes the "
                        "shared keys)")
        raise ProfileError(f"profile {str(path)!r}: {message}",
                           key=".".join(map(str, errors[0]["loc"])), source=str(path)) from exc


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str, *, key: str, environ: "dict[str, str] | None" = None) -> str:
    """Expand ``${VAR}`` / ``${VAR:-default}`` references; a missing variable is a ProfileError naming it."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ProfileError(f"{key}: environment variable {name} is not set (the profile reads it with ${{{name}}})",
                           key=key, allowed=f"set {name} in the environment")
    return _ENV_REF.sub(sub, value)
