"""Extensions of moto's in-process backends that close the gaps of moto 5.2 the runbooks run into (each
module's docstring says which gap, and what moto 5.2 does instead), one module per service, as moto lays
out its own:

- :mod:`.cloudwatch`: percentiles, an index behind the metric reads, metric math arithmetic;
- :mod:`.cloudtrail`: ``LookupEvents`` over an event store fed by :func:`add_events`;
- :mod:`.secretsmanager`: ``GetSecretValue`` reads ``AWSCURRENT`` by default;
- :mod:`.rds`: ``PromoteReadReplica`` detaches the replica from its source;
- :mod:`.s3`: bucket intelligent-tiering configurations.

The sandbox runs moto's server in its own process, so patching moto's classes here changes what
boto3 sees over HTTP. :func:`install` (idempotent) patches them all.
"""
from __future__ import annotations

from . import cloudtrail, cloudwatch, rds, s3, secretsmanager
from ._common import LOCK
from .cloudtrail import add_events, lookup, stored_events
from .cloudwatch import (after_restore, is_percentile, make_datums, percentile, replace_datums, series_datums,
                         update_datums)

__all__ = ["add_events", "after_restore", "install", "is_percentile", "lookup", "make_datums", "percentile",
           "replace_datums", "series_datums", "stored_events", "update_datums"]

_INSTALLED = False


def install() -> None:
    """Patch moto's CloudWatch, CloudTrail, Secrets Manager, RDS and S3 classes once per process."""
    global _INSTALLED
    with LOCK:
        if _INSTALLED:
            return
        for service in (cloudwatch, cloudtrail, secretsmanager, rds, s3):
            service.install()
        _INSTALLED = True
