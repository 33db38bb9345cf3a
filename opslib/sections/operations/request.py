"""The notebook's parameters, checked before any call: one :class:`Request` or a ParameterError naming the
parameter and what is allowed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ...errors import ParameterError

if TYPE_CHECKING:
    from ...config import Profile

OPERATIONS = ("status", "scale-service", "scaling-policy", "reshard", "deploy-service", "deploy-lambda", "backfill")
MAX_BACKFILL_DAYS = 31


@dataclass(frozen=True)
class Request:
    """One operation with its checked parameters (only those the operation uses are set)."""
    operation: str
    service: str | None = None
    desired_count: int | None = None
    target_cpu: float | None = None
    min_capacity: int | None = None
    max_capacity: int | None = None
    target_shards: int | None = None
    task_definition: str | None = None
    image: str | None = None
    function: str | None = None
    lambda_version: str | None = None
    artifact_key: str | None = None
    canary_weight: float | None = None
    start_date: date | None = None
    end_date: date | None = None
    watch_seconds: float = 300.0
    watch_interval: float = 5.0
    max_failed_tasks: int = 1
    max_error_rate: float = 0.05

    @property
    def days(self) -> list[date]:
        if self.start_date is None or self.end_date is None:
            return []
        return [self.start_date + timedelta(days=i) for i in range((self.end_date - self.start_date).days + 1)]


def _names(profile: "Profile", kind: str) -> list[str]:
    return [s.name for s in profile.services if s.type == kind]


# Defaults by role: ``service=None`` is the profile's ingest service, ``function=None`` its validate function.
DEFAULT_ROLES = {"service": ("ingest", "ecs"), "function": ("validate", "lambda")}


def _by_role(profile: "Profile", name: str, value: str | None) -> str | None:
    """``value``, or (None) the first service of the parameter's default role and type; None if there is none."""
    if value is not None:
        return value
    role, kind = DEFAULT_ROLES[name]
    return next((s.name for s in profile.services_with_role(role) if s.type == kind), None)


def _role_hint(name: str) -> str:
    role, kind = DEFAULT_ROLES[name]
    return f" (None: the {kind} service with role {role!r}, which this profile does not declare)"


def _int(name: str, value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(name, value, f"{what}: an integer in [{lo}, {hi}]")
    return value


def _number(name: str, value: object, lo: float, hi: float, what: str, *, low_open: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (lo < value if low_open else lo <= value) \
        and value <= hi
    if not ok:
        raise ParameterError(name, value, f"{what}: a number in {'(' if low_open else '['}{lo:g}, {hi:g}]")
    return float(value)


def _date(name: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ParameterError(name, value, "a date YYYY-MM-DD") from exc


def validate(profile: "Profile", operation: str, *, now: datetime, service: str | None = None,
             desired_count: int | None = None, target_cpu: float = 70.0, min_capacity: int | None = None,
             max_capacity: int | None = None, target_shards: int | None = None, task_definition: str | None = None,
             image: str | None = None, function: str | None = None, lambda_version: "str | int | None" = None,
             artifact_key: str | None = None, canary_weight: float = 0.1, start_date: "str | date | None" = None,
             end_date: "str | date | None" = None, watch_seconds: float = 300.0, watch_interval: float = 5.0,
             max_failed_tasks: int = 1, max_error_rate: float = 0.05) -> Request:
    """Check the parameters ``operation`` uses against the profile and the clock (no AWS call)."""
    if operation not in OPERATIONS:
        raise ParameterError("operation", operation, ", ".join(OPERATIONS))
    watch = {"watch_seconds": _number("watch_seconds", watch_seconds, 0, 3600, "seconds to watch"),
             "watch_interval": _number("watch_interval", watch_interval, 0, 300, "seconds between samples"),
             "max_failed_tasks": _int("max_failed_tasks", max_failed_tasks, 1, 1000, "failed tasks that end a deploy"),
             "max_error_rate": _number("max_error_rate", max_error_rate, 0, 1, "error share that ends a deploy")}
    ecs_names = _names(profile, "ecs")
    lo, hi = profile.ecs.min_desired_count, profile.ecs.max_desired_count

    def ecs_service() -> str:
        chosen = _by_role(profile, "service", service)
        if chosen not in ecs_names:
            raise ParameterError("service", service, "an ECS service of the profile: " + ", ".join(ecs_names)
                                 + (_role_hint("service") if chosen is None else ""))
        return chosen

    if operation == "status":
        return Request(operation, **watch)
    if operation == "scale-service":
        return Request(operation, service=ecs_service(),
                       desired_count=_int("desired_count", desired_count, lo, hi,
                                          "the profile's guard rails ecs.min_desired_count/max_desired_count"), **watch)
    if operation == "scaling-policy":
        svc = ecs_service()
        cpu = _number("target_cpu", target_cpu, 0, 100, "target CPU utilization in percent")
        low = _int("min_capacity", min_capacity, lo, hi, "the profile's guard rails")
        high = _int("max_capacity", max_capacity, low, hi, f"at least min_capacity ({low}) and within the guard rails")
        return Request(operation, service=svc, target_cpu=cpu, min_capacity=low, max_capacity=high, **watch)
    if operation == "reshard":
        return Request(operation, target_shards=_int("target_shards", target_shards, 1, profile.kinesis.max_shards,
                                                     "open shards (kinesis.max_shards of the profile)"), **watch)
    if operation == "deploy-service":
        svc = ecs_service()
        if (task_definition is None) == (image is None):
            raise ParameterError("task_definition", task_definition,
                                 "exactly one of task_definition (an existing family:revision) or image (a new "
                                 "revision of the running task definition with this container image)")
        if task_definition is not None:
            family, _, rev = str(task_definition).partition(":")
            if not family or not rev.isdigit():
                raise ParameterError("task_definition", task_definition, f"family:revision, e.g. {svc}:24")
        if image is not None and (":" not in str(image) or str(image).endswith(":")):
            raise ParameterError("image", image, f"a container image with a tag, e.g. <repo>/{svc}:1.25.0")
        return Request(operation, service=svc, task_definition=task_definition, image=image, **watch)
    if operation == "deploy-lambda":
        names = _names(profile, "lambda")
        chosen = _by_role(profile, "function", function)
        if chosen not in names:
            raise ParameterError("function", function, "a Lambda function of the profile: " + ", ".join(names)
                                 + (_role_hint("function") if chosen is None else ""))
        function = chosen
        if (lambda_version is None) == (artifact_key is None):
            raise ParameterError("lambda_version", lambda_version,
                                 "exactly one of lambda_version (a published version) or artifact_key (a zip in "
                                 f"s3://{profile.s3.lambda_artifacts_bucket}/ to publish as a new version)")
        if lambda_version is not None and not str(lambda_version).isdigit():
            raise ParameterError("lambda_version", lambda_version, "a published version number, e.g. 15")
        weight = _number("canary_weight", canary_weight, 0, 0.5, "share of invocations sent to the new version")
        return Request(operation, function=function, lambda_version=None if lambda_version is None else str(lambda_version),
                       artifact_key=artifact_key, canary_weight=weight, **watch)
    # backfill
    today = now.date()
    end = _date("end_date", end_date) if end_date not in (None, "") else today
    start = _date("start_date", start_date) if start_date not in (None, "") else end - timedelta(days=6)
    if end > today:
        raise ParameterError("end_date", end.isoformat(), f"a day up to today ({today.isoformat()}); it is in the future")
    if start > end:
        raise ParameterError("start_date", start.isoformat(), f"a day on or before end_date ({end.isoformat()})")
    if (end - start).days + 1 > MAX_BACKFILL_DAYS:
        raise ParameterError("start_date", start.isoformat(),
                             f"at most {MAX_BACKFILL_DAYS} days before end_date per run (run longer ranges in parts)")
    return Request(operation, start_date=start, end_date=end, **watch)
