"""Rules over the aggregates the queries return (a few hundred rows): pure functions, no I/O.

* :func:`runbook_rule` - the runbook's "50% drop vs the previous hour" (what its SQL computes).
* :func:`seasonal` - each hour against the best history there is: the same hour of the previous weeks
  (``min_weeks`` of them), else of the previous days (weekdays against weekdays, weekends against
  weekends), and only with less than ``min_days`` days the runbook's 50% rule. The expected count is
  the history's median, the scale the largest of its spread (1.4826 x MAD), ``min_relative`` of the
  expected count and its Poisson noise (sqrt); an hour is ``low``/``high`` when it lies more than
  ``sensitivity`` scales away. A nightly trough is expected (it was there yesterday and last week
  too); a slow decline is caught once it leaves the band, which the hour-over-hour rule never sees.
  The ``method`` column says which rule judged each hour.
* :func:`freshness`, :func:`validity`, duplicate and completeness checks, and :func:`quality_score`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from ...errors import ParameterError
from ...findings import Check

RUNBOOK_ANOMALY = "ANOMALY: 50% drop"
MISSING = "MISSING"                 # an hour without rows: absent from the runbook's result
MAD_TO_SIGMA = 1.4826
WEIGHTS = {"completeness": 0.4, "uniqueness": 0.2, "freshness": 0.2, "validity": 0.2}


def _hours(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="h", inclusive="left").astype("datetime64[us]")


def hourly_series(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    """``event_count`` by hour over every hour of ``[start, end)``; hours without rows are 0."""
    s = frame.set_index("hour")["event_count"] if len(frame) else pd.Series(dtype="int64")
    s.index = pd.DatetimeIndex(s.index).astype("datetime64[us]")
    return s.reindex(_hours(start, end), fill_value=0).astype("int64").rename_axis("hour")


def runbook_rule(counts: pd.Series) -> pd.DataFrame:
    """The runbook's rule on hourly counts (oldest first): prev_hour_count and status."""
    prev = counts.shift(1)
    status = np.where(counts < prev * 0.5, RUNBOOK_ANOMALY, "OK")
    return pd.DataFrame({"event_count": counts, "prev_hour_count": prev, "runbook_status": status})


def _check_params(sensitivity: float, min_weeks: int, history_weeks: int, min_days: int = 3,
                  history_days: int = 14) -> None:
    if not sensitivity > 0:
        raise ParameterError("sensitivity", sensitivity, "a number > 0 (robust standard deviations)")
    if not 1 <= min_weeks <= history_weeks:
        raise ParameterError("min_weeks", min_weeks, f"1 <= min_weeks <= history_weeks ({history_weeks})")
    if not isinstance(history_days, int) or not 1 <= history_days <= 60:
        raise ParameterError("history_days", history_days, "an integer from 1 to 60 (previous days compared)")
    if not isinstance(min_days, int) or not 2 <= min_days <= history_days:
        raise ParameterError("min_days", min_days, f"an integer, 2 <= min_days <= history_days ({history_days})")


#: Which rule judged an hour (the ``method`` column), best first.
WEEKS = "same hour, previous weeks"
WEEKDAYS = "same hour, previous weekdays"
WEEKEND_DAYS = "same hour, previous weekend days"
DAYS = "same hour, previous days"
RUNBOOK_ONLY = "runbook 50% rule (no history)"
METHODS = (WEEKS, WEEKDAYS, WEEKEND_DAYS, DAYS, RUNBOOK_ONLY)


def _past(history: pd.Series, index: pd.DatetimeIndex, step: pd.Timedelta, n: int) -> np.ndarray:
    out = np.full((len(index), n), np.nan)
    for k in range(1, n + 1):
        out[:, k - 1] = history.reindex(index - k * step).to_numpy(dtype="float64")
    return out


def _band(past: np.ndarray, min_relative: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values found, median, robust scale) per row of ``past`` (NaN = no data)."""
    found = np.sum(~np.isnan(past), axis=1)
    with warnings.catch_warnings():          # all-NaN rows (no history) give NaN, which is what we want
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(past, axis=1)
        mad = np.nanmedian(np.abs(past - expected[:, None]), axis=1)
    scale = np.fmax.reduce([MAD_TO_SIGMA * mad, min_relative * expected, np.sqrt(expected), np.ones(len(past))])
    return found, expected, scale


def seasonal(counts: pd.Series, history: pd.Series, *, sensitivity: float = 4.0, min_weeks: int = 3,
             history_weeks: int = 4, min_relative: float = 0.05, runbook_status: pd.Series | None = None,
             min_days: int = 3, history_days: int = 14) -> pd.DataFrame:
    """Each hour of ``counts`` (hourly, complete) against the best history ``history`` holds (hourly
    counts, hours absent = no data), in this order:

    1. the same hour of the ``history_weeks`` previous weeks, when ``min_weeks`` of them have data;
    2. else the same hour of the ``history_days`` previous days of the same kind (weekdays against
       weekdays, Saturdays and Sundays against weekend days), when ``min_days`` of them have data;
    3. else the same hour of all previous days, when ``min_days`` have data - weekdays and weekends
       mixed, so an hour is low only when it is also below half the lowest of those days;
    4. else the runbook's 50% rule alone (``no_history``).

    The expected count is the median of the history, the scale the largest of its spread (1.4826 x
    MAD), ``min_relative`` of the expected count and its Poisson noise; an hour is ``low``/``high`` more
    than ``sensitivity`` scales away. Columns: event_count, weeks (weeks of history found), compared (the
    previous weeks or days the rule compared with), expected, scale, low, high, z, seasonal (ok/low/high/no_history),
    runbook_status, anomaly (``low``, or a runbook drop or missing hour where there is no history) and
    method (which rule judged the hour, one of :data:`METHODS`)."""
    _check_params(sensitivity, min_weeks, history_weeks, min_days, history_days)
    history = history.copy()
    history.index = pd.DatetimeIndex(history.index).astype("datetime64[us]")
    index = pd.DatetimeIndex(counts.index)
    n = len(counts)
    weeks, w_exp, w_scale = _band(_past(history, index, pd.Timedelta(weeks=1), history_weeks), min_relative)
    daily = _past(history, index, pd.Timedelta(days=1), history_days)
    weekend = np.asarray(index.day_of_week >= 5)
    lag_weekend = np.stack([np.asarray((index - pd.Timedelta(days=k)).day_of_week >= 5)
                            for k in range(1, history_days + 1)], axis=1) if n else np.zeros((0, history_days), bool)
    same = np.where(lag_weekend == weekend[:, None], daily, np.nan)
    s_days, s_exp, s_scale = _band(same, min_relative)
    a_days, a_exp, a_scale = _band(daily, min_relative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a_floor = 0.5 * np.nanmin(np.where(np.isnan(daily), np.inf, daily), axis=1) if n else np.zeros(0)

    use_w = weeks >= min_weeks
    use_s = ~use_w & (s_days >= min_days)
    use_a = ~use_w & ~use_s & (a_days >= min_days)
    enough = use_w | use_s | use_a
    expected = np.select([use_w, use_s, use_a], [w_exp, s_exp, a_exp], np.nan)
    scale = np.select([use_w, use_s, use_a], [w_scale, s_scale, a_scale], np.nan)
    compared = np.select([use_w, use_s, use_a], [weeks, s_days, a_days], 0)
    low = np.maximum(expected - sensitivity * scale, 0)
    low = np.where(use_a, np.minimum(low, a_floor), low)
    high = expected + sensitivity * scale
    observed = counts.to_numpy(dtype="float64")
    z = np.where(enough, (observed - expected) / scale, np.nan)
    state = np.where(~enough, "no_history", np.where(observed < low, "low", np.where(observed > high, "high", "ok")))
    method = np.select([use_w, use_s & weekend, use_s, use_a], [WEEKS, WEEKEND_DAYS, WEEKDAYS, DAYS], RUNBOOK_ONLY)
    if runbook_status is None:
        runbook_status = runbook_rule(counts)["runbook_status"]
    rb = runbook_status.reindex(counts.index)
    fallback = ~enough & rb.isin([RUNBOOK_ANOMALY, MISSING]).to_numpy()
    out = pd.DataFrame({
        "event_count": counts.astype("int64"), "weeks": weeks, "compared": compared.astype("int64"), "expected": expected,
        "scale": scale, "low": np.where(enough, low, np.nan), "high": np.where(enough, high, np.nan), "z": z,
        "seasonal": state, "runbook_status": rb.to_numpy()}, index=counts.index)
    out["anomaly"] = (state == "low") | fallback
    out["method"] = method
    return out


def _hour_list(index) -> list[str]:
    return [f"{h:%Y-%m-%d %H:00}" for h in index]


def not_measurable(name: str, reason: str, missing: list[str], **figures) -> Check:
    """A check the table cannot answer (a column or the table is absent): warn, naming what is missing."""
    return Check.warn(name, f"not measurable: {reason}", not_measurable=True, missing_columns=list(missing),
                      **figures)


def _describe(frame: pd.DataFrame, hour) -> str:
    row = frame.loc[hour]
    if row["seasonal"] == "low":
        return (f"{hour:%Y-%m-%d %H:00} {int(row['event_count'])} events "
                f"(expected {row['expected']:.0f}, z {row['z']:.1f}; {row.get('method', WEEKS)})")
    prev = row.get("prev_hour_count")
    return (f"{hour:%Y-%m-%d %H:00} {int(row['event_count'])} events"
            + ("" if prev is None or pd.isna(prev) else f" (previous hour {prev:.0f})")
            + ", runbook's 50% rule: too little history for any other")


def _rules_used(frame: pd.DataFrame) -> dict[str, int]:
    if "method" not in frame:
        return {}
    counts = frame["method"].value_counts()
    return {m: int(counts[m]) for m in METHODS if m in counts}


def completeness_check(frame: pd.DataFrame, *, min_weeks: int, min_days: int = 3) -> Check:
    """fail: an anomalous (low) hour; warn: a spike, hours checked with the runbook's rule alone, or a
    table without an event_timestamp (not measurable). The figure ``rules`` counts the hours each rule
    judged."""
    missing = frame.attrs.get("missing")
    if missing:
        return not_measurable("completeness", frame.attrs.get("reason", ", ".join(missing)), missing)
    bad = frame.index[frame["anomaly"]]
    high = frame.index[frame["seasonal"] == "high"]
    thin = int((frame["seasonal"] == "no_history").sum())
    used = _rules_used(frame)
    figures = dict(anomalous_hours=_hour_list(bad), hours=len(frame), high_hours=_hour_list(high),
                   hours_without_history=thin, rules=used,
                   peak_events=int(frame["event_count"].max()) if len(frame) else 0)
    if len(frame):
        trough = frame["event_count"].idxmin()
        figures.update(trough_hour=_hour_list([trough])[0], trough_events=int(frame.at[trough, "event_count"]),
                       trough_status=str(frame.at[trough, "seasonal"]),
                       trough_method=str(frame.at[trough, "method"]) if "method" in frame else None)
    judged = "; judged by " + ", ".join(f"{m} ({n} h)" for m, n in used.items()) if used else ""
    if len(bad):
        listed = "; ".join(_describe(frame, h) for h in bad[:5]) + ("; ..." if len(bad) > 5 else "")
        return Check.fail("completeness", f"{len(bad)} of {len(frame)} hours below the expected volume: {listed}"
                          + judged, **figures)
    notes = []
    if len(high):
        notes.append(f"{len(high)} hours above the expected band ({', '.join(_hour_list(high))})")
    if thin:
        notes.append(f"{thin} hours have neither {min_weeks} weeks nor {min_days} days of history: "
                     "checked with the runbook's 50% rule only")
    if notes:
        return Check.warn("completeness", "; ".join(notes) + judged, **figures)
    return Check.ok("completeness", f"all {len(frame)} hours within the expected band" + judged, **figures)


def runbook_rule_check(frame: pd.DataFrame) -> Check:
    """The runbook's own rule, reported alongside: warn when it flags an hour (it misfires on troughs
    and misses slow declines, so on its own it never fails the run)."""
    missing = frame.attrs.get("missing")
    if missing:
        return not_measurable("completeness_runbook_rule", frame.attrs.get("reason", ", ".join(missing)), missing)
    flagged = frame.index[frame["runbook_status"].isin([RUNBOOK_ANOMALY, MISSING])]
    agree = [h for h in flagged if frame.at[h, "seasonal"] == "low"]
    figures = dict(flagged_hours=_hour_list(flagged), confirmed_by_seasonal=_hour_list(agree))
    if not len(flagged):
        return Check.ok("completeness_runbook_rule", "no hour dropped 50% below the previous hour", **figures)
    unchecked = sum(1 for h in flagged if frame.at[h, "seasonal"] == "no_history")
    return Check.warn("completeness_runbook_rule",
                      f"runbook's 50% rule flags {', '.join(_hour_list(flagged))}: {len(agree)} confirmed by the "
                      f"seasonal check, {len(flagged) - len(agree) - unchecked} within the expected band"
                      + (f", {unchecked} without history to compare" if unchecked else ""), **figures)


@dataclass(frozen=True)
class Freshness:
    as_of: datetime
    newest_event: datetime | None
    newest_received: datetime | None
    max_minutes: float
    missing: tuple = ()             # runbook columns the table lacks (event_timestamp: not measurable)
    reason: str = ""

    @property
    def age_minutes(self) -> float | None:
        if self.newest_event is None:
            return None
        return (self.as_of - self.newest_event).total_seconds() / 60

    @property
    def ok(self) -> bool:
        return self.age_minutes is not None and self.age_minutes <= self.max_minutes

    def to_check(self) -> Check:
        if self.missing:
            return not_measurable("freshness", self.reason or ", ".join(self.missing), list(self.missing),
                                  max_minutes=self.max_minutes)
        age = self.age_minutes
        figures = dict(age_minutes=None if age is None else round(age, 2), max_minutes=self.max_minutes,
                       newest_event=self.newest_event)
        if age is None:
            return Check.fail("freshness", "no event in the lookback window", **figures)
        return Check.when("freshness", self.ok, f"newest event {age:.1f} min old (limit {self.max_minutes:g} min)",
                          **figures)


def freshness(newest_event, newest_received, *, as_of: datetime, max_minutes: float) -> Freshness:
    to_dt = lambda v: None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()   # noqa: E731
    return Freshness(as_of=as_of, newest_event=to_dt(newest_event), newest_received=to_dt(newest_received),
                     max_minutes=float(max_minutes))


def staleness(hourly: pd.DataFrame, end: datetime) -> pd.Series:
    """Age of the newest event (minutes) at the end of each hour of ``hourly`` (index hour, column
    ``newest``): how stale a reader at that moment would have found the table."""
    newest = pd.to_datetime(hourly["newest"]).cummax().ffill()
    ends = hourly.index + pd.Timedelta(hours=1)
    ends = ends.where(ends <= pd.Timestamp(end), pd.Timestamp(end))
    return pd.Series((ends - newest).dt.total_seconds().to_numpy() / 60, index=hourly.index, name="age_minutes")


def validity(row: dict) -> pd.DataFrame:
    """The column_quality row as a table: check, rows, rate."""
    total = int(row.get("rows") or 0)
    items = [(k[len("null_"):] + " is null" if k.startswith("null_") else k.replace("_", " "), int(v or 0))
             for k, v in row.items() if k != "rows"]
    frame = pd.DataFrame(items, columns=["check", "rows"])
    frame["rate"] = frame["rows"] / total if total else 0.0
    return frame


def validity_check(frame: pd.DataFrame, *, max_rate: float) -> Check:
    """fail: a measured rate over ``max_rate``; warn: some checks not measurable (``frame.attrs``
    ``not_measurable``: check -> the columns the table lacks), naming the columns; else ok."""
    unmeasured = frame.attrs.get("not_measurable") or {}
    missing = sorted({c for cols in unmeasured.values() for c in cols})
    note = (f"; not measurable: {', '.join(unmeasured)} ({frame.attrs.get('table', 'the table')} has no "
            f"{', '.join(missing)})") if unmeasured else ""
    extra = dict(not_measurable=sorted(unmeasured), missing_columns=missing) if unmeasured else {}
    worst = frame.sort_values("rate", ascending=False).iloc[0] if len(frame) else None
    rates = {r.check: round(float(r.rate), 6) for r in frame.itertuples()}
    if worst is None or worst["rate"] <= max_rate:
        top = "" if worst is None else f"; highest {worst['check']} {worst['rate']:.3%}"
        return Check.when("validity", not unmeasured, f"null/invalid rates within {max_rate:.2%}{top}{note}",
                          otherwise="warn", rates=rates, **extra)
    over = frame[frame["rate"] > max_rate]
    return Check.fail("validity", ", ".join(f"{r.check} {r.rate:.2%}" for r in over.itertuples())
                      + f" (limit {max_rate:.2%}){note}", rates=rates, **extra)


@dataclass(frozen=True)
class Duplicates:
    start: datetime
    end: datetime
    ids: pd.DataFrame               # event_id, duplicate_count (up to the query's limit)
    duplicate_ids: int              # all duplicated ids in the hour
    extra_rows: int
    rows: int                       # rows in the hour
    threshold: int
    shown: int = 100
    missing: tuple = ()             # runbook columns the table lacks (event_id, event_timestamp)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.duplicate_ids <= self.threshold

    def to_check(self) -> Check:
        if self.missing:
            return not_measurable("duplicates", self.reason or ", ".join(self.missing), list(self.missing),
                                  threshold=self.threshold)
        figures = dict(duplicate_ids=self.duplicate_ids, extra_rows=self.extra_rows, threshold=self.threshold,
                       event_ids=sorted(self.ids["event_id"].astype(str))[: self.shown])
        detail = (f"{self.duplicate_ids} duplicated event_ids ({self.extra_rows} extra rows) in "
                  f"{self.start:%H:%M}-{self.end:%H:%M}; threshold {self.threshold}")
        return Check.when("duplicates", self.ok, detail, **figures)


def _part(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


@dataclass(frozen=True)
class QualityScore:
    score: float                     # 0..100
    components: dict = field(default_factory=dict)

    def to_check(self, *, warn_below: float = 90.0) -> Check:
        if not self.components:
            return not_measurable("quality_score", "no part of the score is measurable", [])
        parts = ", ".join(f"{k} {v:.1%}" for k, v in self.components.items())
        return Check.when("quality_score", self.score >= warn_below, f"{self.score:.1f}/100 ({parts})",
                          otherwise="warn", quality_score=round(self.score, 2),
                          **{k: round(v, 4) for k, v in self.components.items()})


def quality_score(completeness: pd.DataFrame, duplicates: Duplicates, fresh: Freshness,
                  valid: pd.DataFrame) -> QualityScore:
    """100 x weighted mean (WEIGHTS) of: share of hours not anomalous; 1 - duplicate rows / rows in the
    last hour; 1 within the freshness limit, falling linearly to 0 at four times it; 1 - the worst
    null/invalid rate. A part that is not measurable is left out (the weights of the others rescaled)."""
    parts = {
        "completeness": _part(1 - completeness["anomaly"].mean()) if len(completeness) else 1.0,
        "uniqueness": _part(1 - duplicates.extra_rows / duplicates.rows) if duplicates.rows else 1.0,
        "freshness": 0.0 if fresh.age_minutes is None else _part(
            1 - max(0.0, fresh.age_minutes - fresh.max_minutes) / (3 * fresh.max_minutes)),
        "validity": _part(1 - (valid["rate"].max() if len(valid) else 0.0)),
    }
    unmeasured = {"completeness": bool(completeness.attrs.get("missing")), "uniqueness": bool(duplicates.missing),
                  "freshness": bool(fresh.missing), "validity": not len(valid)}
    parts = {k: v for k, v in parts.items() if not unmeasured[k]}
    total = sum(WEIGHTS[k] for k in parts)
    if not total:
        return QualityScore(0.0, {})
    return QualityScore(100 * sum(WEIGHTS[k] * v for k, v in parts.items()) / total, parts)
