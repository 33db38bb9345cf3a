"""The handle's AWS session: every timestamp AWS returns is an aware UTC datetime (``utc_timestamp``, botocore's
timestamp parser for our sessions)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opslib.connection import utc_timestamp

INSTANT = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", [
    INSTANT.timestamp(), int(INSTANT.timestamp()),               # epoch numbers (JSON and CBOR protocols)
    "2026-11-25T12:00:00Z", "2026-11-25T12:00:00.000Z",           # ISO 8601 (query and REST-XML protocols)
    "2026-11-25T13:00:00+01:00", "2026-11-25T12:00:00",           # an offset; no zone (UTC)
    "Wed, 25 Nov 2026 12:00:00 GMT",                              # RFC 822 (S3 headers): botocore's own parser
])
def test_every_form_is_the_same_utc_instant(value):
    parsed = utc_timestamp(value)
    assert parsed == INSTANT
    assert parsed.tzinfo is timezone.utc


def test_unreadable_timestamp_is_botocores_error():
    with pytest.raises(ValueError):
        utc_timestamp("not a time")


def test_clients_of_the_handle_parse_cloudwatch_times_as_utc(ops):
    metric = ops.profile.metrics["incoming_records"]
    end = ops.now().replace(minute=0, second=0, microsecond=0)
    out = ops.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
            "Namespace": metric.namespace, "MetricName": metric.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()]},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=end - timedelta(minutes=10), EndTime=end, ScanBy="TimestampAscending")
    times = out["MetricDataResults"][0]["Timestamps"]
    assert times[0] == end - timedelta(minutes=10) and times[-1] == end - timedelta(minutes=1)
    assert {t.tzinfo for t in times} == {timezone.utc}
