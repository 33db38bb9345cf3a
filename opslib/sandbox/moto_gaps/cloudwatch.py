"""CloudWatch: what moto 5.2 lacks and the runbooks need.

- percentiles (any ``pNN``) for ``GetMetricStatistics`` (``ExtendedStatistics``; moto returns datapoints
  without the value) and ``GetMetricData`` (``Stat``; moto answers HTTP 500), computed from the raw values
  stored in each period;
- an index per (namespace, name, dimensions), sorted by timestamp, behind ``GetMetricData``,
  ``GetMetricStatistics`` and ``ListMetrics`` (moto scans every datapoint for every period);
- metric math arithmetic (``m1/m2*100``) in ``GetMetricData`` expressions.

Moto's semantics are otherwise kept: dimension matching, the ``Unit`` filter, ``ScanBy``, period
alignment. Percentiles interpolate linearly between the closest ranks (numpy's default)."""
from __future__ import annotations

import ast
import bisect
import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._common import LOCK, _epoch, _naive_utc

_PERCENTILE = re.compile(r"^[pP](100(\.0+)?|\d{1,2}(\.\d+)?)$")
_BASIC_STATS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")


def install() -> None:
    """Patch moto's CloudWatch backend and responses (called once by :func:`opslib.sandbox.moto_gaps.install`)."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    CloudWatchBackend._moto_get_metric_data = CloudWatchBackend.get_metric_data
    CloudWatchBackend.get_metric_data = _get_metric_data
    CloudWatchBackend.get_metric_statistics = _get_metric_statistics
    CloudWatchBackend.get_filtered_metrics = _get_filtered_metrics
    CloudWatchResponse.get_metric_statistics = _response_get_metric_statistics


# -- percentiles and statistics ---------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values``, interpolating linearly (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def is_percentile(stat: str) -> bool:
    return bool(_PERCENTILE.match(stat or ""))


def _check_stat(stat: str) -> None:
    from moto.cloudwatch.exceptions import InvalidParameterValue
    if stat not in _BASIC_STATS and not is_percentile(stat):
        raise InvalidParameterValue(
            f"The value {stat} for parameter Stat is not supported by this sandbox; "
            f"allowed: {', '.join(_BASIC_STATS)}, pNN (for example p99 or p99.9).")


def _period(value: Any) -> int:
    from moto.cloudwatch.exceptions import InvalidParameterValue
    period = int(value or 0)
    if period < 1:
        raise InvalidParameterValue(f"The parameter Period must be a positive number of seconds, got {value}.")
    return period


def _statistic(data: list, stat: str) -> float | None:
    """One statistic over the datums of a period (single values and aggregated sets)."""
    from moto.cloudwatch.models import MetricAggregatedDatum
    singles = [d.value for d in data if not isinstance(d, MetricAggregatedDatum)]
    aggs = [d for d in data if isinstance(d, MetricAggregatedDatum)]
    if is_percentile(stat):
        return percentile(singles, float(stat[1:])) if singles else None
    count = len(singles) + sum(a.sample_count for a in aggs)
    if stat == "SampleCount":
        return float(count)
    if not count:
        return None
    if stat == "Sum":
        return float(sum(singles) + sum(a.sum for a in aggs))
    if stat == "Average":
        return float(sum(singles) + sum(a.sum for a in aggs)) / count
    if stat == "Minimum":
        return float(min(singles + [a.min for a in aggs]))
    if stat == "Maximum":
        return float(max(singles + [a.max for a in aggs]))
    return None


# -- the index ----------------------------------------------------------------------------------
def _dims_key(dimensions: Iterable) -> frozenset:
    """Dimensions (moto Dimension objects or {'Name','Value'} dicts) as a hashable set."""
    out = []
    for d in dimensions:
        if isinstance(d, dict):
            out.append((d["Name"], d.get("Value")))
        else:
            out.append((d.name, d.value))
    return frozenset(out)


@dataclass
class _Series:
    namespace: str
    name: str
    dims: frozenset
    times: list[float] = field(default_factory=list)
    data: list = field(default_factory=list)

    def add(self, t: float, datum: Any) -> None:
        if not self.times or t >= self.times[-1]:
            self.times.append(t)
            self.data.append(datum)
        else:
            i = bisect.bisect_right(self.times, t)
            self.times.insert(i, t)
            self.data.insert(i, datum)

    def between(self, start: float, end: float) -> tuple[list[float], list]:
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_left(self.times, end)
        return self.times[lo:hi], self.data[lo:hi]


class _Index:
    """Series of one backend's ``metric_data``, kept in step with the list (appends are cheap)."""

    def __init__(self, source: list):
        self.source = source
        self.count = 0
        self.series: dict[tuple, _Series] = {}
        self.by_name: dict[tuple, list[_Series]] = defaultdict(list)
        # datums made by make_datums share one dimension list per series; the index keeps every
        # datum it saw alive, so id() of those lists cannot be reused while this cache lives
        self._dims: dict[int, frozenset] = {}

    def add(self, datum: Any) -> None:
        dims = self._dims.get(id(datum.dimensions))
        if dims is None:
            dims = self._dims[id(datum.dimensions)] = _dims_key(datum.dimensions)
        key = (datum.namespace, datum.name, dims)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series(*key)
            self.by_name[key[:2]].append(series)
        series.add(_epoch(datum.timestamp), datum)


def _index(backend: Any) -> _Index:
    """The backend's index, synced with ``backend.metric_data`` (call with LOCK held)."""
    idx: _Index | None = backend.__dict__.get("_opslib_index")
    source = backend.metric_data
    if idx is None or idx.source is not source or len(source) < idx.count:
        idx = _Index(source)
        backend.__dict__["_opslib_index"] = idx
    if len(source) > idx.count:
        for datum in source[idx.count:]:
            idx.add(datum)
        idx.count = len(source)
    return idx


def after_restore(backend: Any) -> None:
    """A CloudWatch backend just unpickled from a snapshot: its index is still valid (the datums came
    along), but its dimension cache is keyed by id() of the lists before pickling; drop that cache."""
    idx = backend.__dict__.get("_opslib_index")
    if idx is not None:
        with LOCK:
            idx._dims = {}


def _provider_series(backend: Any) -> list[_Series]:
    """Metrics moto computes on the fly (S3 bucket sizes...), as throwaway series."""
    tmp = _Index([])
    for datum in backend.aws_metric_data:
        tmp.add(datum)
    return list(tmp.series.values())


def make_datums(namespace: str, name: str, dimensions: dict[str, str], unit: str | None,
                points: Iterable[tuple[datetime, float]]) -> list:
    """moto MetricDatum objects for (timestamp, value) pairs; cheap (one shared dimension list)."""
    from moto.cloudwatch.models import Dimension, MetricDatum
    dims = [Dimension(k, v) for k, v in dimensions.items()]
    out = []
    for ts, value in points:
        d = MetricDatum.__new__(MetricDatum)
        d.namespace, d.name, d.dimensions, d.unit = namespace, name, dims, unit
        d.timestamp, d.value = _naive_utc(ts), float(value)
        out.append(d)
    return out


def series_datums(backend: Any, namespace: str, name: str, dimensions: dict[str, str],
                  start: datetime, end: datetime) -> list:
    """The stored datums of one series (exact dimensions) with start <= timestamp < end."""
    with LOCK:
        series = _index(backend).series.get((namespace, name, _dims_key(
            [{"Name": k, "Value": v} for k, v in dimensions.items()])))
        if series is None:
            return []
        return series.between(_epoch(start), _epoch(end))[1]


def replace_datums(backend: Any, namespace: str, name: str, dimensions: dict[str, str],
                   start: datetime, end: datetime, new: list) -> int:
    """Drop one series' datums in [start, end) and add ``new``; returns how many were dropped."""
    with LOCK:
        idx = _index(backend)
        series = idx.series.get((namespace, name, _dims_key(
            [{"Name": k, "Value": v} for k, v in dimensions.items()])))
        dropped = 0
        if series is not None:
            lo = bisect.bisect_left(series.times, _epoch(start))
            hi = bisect.bisect_left(series.times, _epoch(end))
            old = {id(d) for d in series.data[lo:hi]}
            if old:
                backend.metric_data[:] = [d for d in backend.metric_data if id(d) not in old]
                del series.times[lo:hi], series.data[lo:hi]
                idx.count = len(backend.metric_data)      # what is left is all indexed
                dropped = len(old)
        backend.metric_data.extend(new)
        return dropped


def update_datums(backend: Any, namespace: str, name: str, dimensions: dict[str, str],
                  start: datetime, end: datetime, update: Callable[[Any], None]) -> int:
    """Call ``update(datum)`` on one series' datums in [start, end) (values only); returns the count."""
    with LOCK:
        found = series_datums(backend, namespace, name, dimensions, start, end)
        for datum in found:
            update(datum)
        return len(found)


def _select(idx: _Index, extra: list[_Series], namespace: str, name: str,
            match: Callable[[_Series], bool]) -> list[_Series]:
    found = [s for s in idx.by_name.get((namespace, name), ()) if match(s)]
    return found + [s for s in extra if s.namespace == namespace and s.name == name and match(s)]


# -- GetMetricData ------------------------------------------------------------------------------
def _stat_query(idx: _Index, extra: list[_Series], query: dict, start: datetime, end: datetime
                ) -> tuple[list[datetime], list[float]]:
    stat_def = query["MetricStat"]
    metric = stat_def["Metric"]
    stat = stat_def["Stat"]
    _check_stat(stat)
    period = _period(stat_def["Period"])
    unit = stat_def.get("Unit")
    wanted = _dims_key(metric.get("Dimensions", []))
    # moto: with dimensions, the exact set; without, every series of the metric
    series = _select(idx, extra, metric["Namespace"], metric["MetricName"],
                     (lambda s: s.dims == wanted) if wanted else (lambda s: True))
    t0, t1 = _epoch(start), _epoch(end)
    buckets: dict[int, list] = defaultdict(list)
    for s in series:
        times, data = s.between(t0, t1)
        for t, d in zip(times, data):
            if unit and d.unit != unit:
                continue
            buckets[int((t - t0) // period)].append(d)
    timestamps, values = [], []
    for b in sorted(buckets):
        value = _statistic(buckets[b], stat)
        if value is not None:
            timestamps.append(start + timedelta(seconds=b * period))
            values.append(value)
    return timestamps, values


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(expression: str, results: dict[str, dict]) -> tuple[list[datetime], list[float]] | None:
    """Arithmetic metric math over earlier results; None when the expression is not arithmetic."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        ok = (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
              or isinstance(node, ast.Name) and node.id in results
              or isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
              or isinstance(node, ast.BinOp) and type(node.op) in _BINOPS
              or isinstance(node, (ast.Load, ast.operator, ast.unaryop)))
        if not ok:
            return None

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            r = results[node.id]
            return dict(zip(r["timestamps"], r["values"]))
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            if isinstance(v, dict):
                return {t: sign * x for t, x in v.items()}
            return None if v is None else sign * v
        return _combine(_BINOPS[type(node.op)], ev(node.left), ev(node.right))

    out = ev(tree)
    if not isinstance(out, dict):
        return None
    ordered = sorted(out)
    return ordered, [out[t] for t in ordered]


def _combine(op: Callable, a: Any, b: Any) -> Any:
    """``op`` over series (dicts by timestamp, matched on timestamps) and scalars."""
    def apply(x: float | None, y: float | None) -> float | None:
        if x is None or y is None:
            return None
        try:
            return op(x, y)
        except ZeroDivisionError:
            return None          # CloudWatch drops points that divide by zero
    if isinstance(a, dict) and isinstance(b, dict):
        pairs = {t: apply(a[t], b[t]) for t in a if t in b}
    elif isinstance(a, dict):
        pairs = {t: apply(x, b) for t, x in a.items()}
    elif isinstance(b, dict):
        pairs = {t: apply(a, y) for t, y in b.items()}
    else:
        return apply(a, b)
    return {t: v for t, v in pairs.items() if v is not None}


def _get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                     scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.metric_data_expression_parser import parse_expression

    start_time = _naive_utc(start_time).replace(microsecond=0)
    end_time = _naive_utc(end_time).replace(microsecond=0)
    if start_time > end_time:
        raise ValidationError("The parameter EndTime must be greater than StartTime.")
    if start_time == end_time:
        raise ValidationError("The parameter StartTime must not equal parameter EndTime.")

    descending = scan_by == "TimestampDescending"
    results: dict[str, dict] = {}
    returned: list[dict] = []

    def emit(query: dict, label: str, timestamps: list, values: list) -> None:
        results[query["Id"]] = {"timestamps": timestamps, "values": values}
        if query.get("ReturnData", True) in (True, "true", "True"):
            if descending:
                timestamps, values = timestamps[::-1], values[::-1]
            returned.append({"id": query["Id"], "label": label, "values": values,
                             "timestamps": timestamps, "status_code": "Complete"})

    with LOCK:
        idx = _index(self)
        extra = _provider_series(self)
        for query in (q for q in queries if "MetricStat" in q):
            timestamps, values = _stat_query(idx, extra, query, start_time, end_time)
            stat_def = query["MetricStat"]
            emit(query, query.get("Label") or f"{stat_def['Metric']['MetricName']} {stat_def['Stat']}",
                 timestamps, values)
    for query in (q for q in queries if "Expression" in q and not q["Expression"].startswith("SELECT")):
        evaluated = _evaluate(query["Expression"], results)
        if evaluated is None:        # moto's own (an expression naming one query)
            pairs = sorted(zip(*parse_expression(query["Expression"], [
                {"id": k, **v} for k, v in results.items()])))
            evaluated = ([t for t, _ in pairs], [v for _, v in pairs])
        emit(query, query.get("Label") or query["Id"], *evaluated)
    insights = [q for q in queries if "Expression" in q and q["Expression"].startswith("SELECT")]
    if insights:
        returned.extend(self._moto_get_metric_data(insights, start_time, end_time, scan_by))
    return returned


# -- GetMetricStatistics ------------------------------------------------------------------------
def _get_metric_statistics(self: Any, namespace: str, metric_name: str, start_time: datetime,
                           end_time: datetime, period: int, stats: list[str],
                           dimensions: list[dict[str, str]], unit: str | None = None,
                           extended_statistics: list[str] | None = None) -> list[dict[str, Any]]:
    """Datapoints as dicts in the API's shape; periods start at the first datapoint (as moto)."""
    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import Dimension

    start_time = _naive_utc(start_time).replace(microsecond=0)
    end_time = _naive_utc(end_time).replace(microsecond=0)
    if start_time >= end_time:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    period = _period(period)
    extended = list(extended_statistics or [])
    for p in extended:
        if not is_percentile(p):
            raise InvalidParameterValue(f"The value {p} for parameter ExtendedStatistics is not supported; "
                                        f"allowed: pNN (for example p99 or p99.9).")
    wanted = [Dimension(d["Name"], d.get("Value")) for d in dimensions or []]

    def match(s: _Series) -> bool:      # moto: every requested dimension present (subset)
        have = [Dimension(n, v) for n, v in s.dims]
        return all(w in have for w in wanted)

    t0, t1 = _epoch(start_time), _epoch(end_time)
    with LOCK:
        selected = _select(_index(self), _provider_series(self), namespace, metric_name, match)
        points = []
        for s in selected:
            times, data = s.between(t0, t1)
            points.extend(p for p in zip(times, data) if not unit or p[1].unit == unit)
    if not points:
        return []
    points.sort(key=lambda p: p[0])
    first = points[0][0]
    buckets: dict[int, list] = defaultdict(list)
    for t, d in points:
        buckets[int((t - first) // period)].append(d)
    out = []
    for b in sorted(buckets):
        data = buckets[b]
        dp: dict[str, Any] = {"Timestamp": points[0][1].timestamp + timedelta(seconds=b * period)}
        for stat in stats:
            value = _statistic(data, stat)
            if value is not None:
                dp[stat] = value
        ext = {p: v for p in extended if (v := _statistic(data, p)) is not None}
        if ext:
            dp["ExtendedStatistics"] = ext
        if data[-1].unit:
            dp["Unit"] = data[-1].unit
        out.append(dp)
    return out


def _response_get_metric_statistics(self: Any) -> Any:
    from moto.cloudwatch.exceptions import InvalidParameterCombination
    from moto.core.responses import ActionResult

    statistics = self._get_param("Statistics", [])
    extended = self._get_param("ExtendedStatistics", [])
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    metric_name = self._get_param("MetricName")
    datapoints = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"), metric_name, self._get_param("StartTime"), self._get_param("EndTime"),
        self._get_int_param("Period"), statistics, unit=self._get_param("Unit"),
        dimensions=self._get_param("Dimensions", []), extended_statistics=extended)
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _get_filtered_metrics(self: Any, metric_name: str, namespace: str,
                          dimensions: list[dict[str, str]]) -> list:
    """ListMetrics through the index: one datum per distinct series."""
    with LOCK:
        series = list(_index(self).series.values()) + _provider_series(self)
    return [s.data[0] for s in series if s.data and s.data[0].filter(namespace, metric_name, dimensions)]
