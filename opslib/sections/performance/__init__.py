"""Performance tuning (runbook "Performance Tuning"), one module per concern:

* :mod:`.api`: API latency percentiles and throughput against the p99 target;
* :mod:`.settings`: the runbook's pool and cache settings against the live task definitions;
* :mod:`.connections`: database connections against ``max_connections`` (live and the RDS metric), pool capacity;
* :mod:`.stream`: the stream processor's batch size and worker count measured on real records;
* :mod:`.redshift`: Redshift distribution/sort key advice as reviewed SQL;
* :mod:`.tiering`: S3 intelligent tiering as an action.

The notebook uses the names re-exported here (``from opslib.sections import performance; performance.X``)."""
from __future__ import annotations

from .api import PERCENTILES, api_performance, latency_check
from .connections import ConnectionUsage, connection_check, connection_usage, db_connections_metric, pool_capacity
from .redshift import KeyAdvice, key_advice, plan_redshift_keys
from .settings import RUNBOOK_SETTINGS, Setting, service_environments, settings_check, settings_checklist
from .stream import (REQUIRED, BatchRecommendation, BatchResult, batch_check, measure_batch_settings, process_batch,
                     process_records, read_stream_records, recommend_batch_setting)
from .tiering import plan_tiering

__all__ = ["PERCENTILES", "REQUIRED", "RUNBOOK_SETTINGS", "BatchRecommendation", "BatchResult", "ConnectionUsage",
           "KeyAdvice", "Setting", "api_performance", "batch_check", "connection_check", "connection_usage",
           "db_connections_metric", "key_advice", "latency_check", "measure_batch_settings", "plan_redshift_keys",
           "plan_tiering", "pool_capacity", "process_batch", "process_records", "read_stream_records",
           "recommend_batch_setting", "service_environments", "settings_check", "settings_checklist"]
