"""What the patches share: one lock (moto serves requests on threads) and epoch seconds of naive-UTC times."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

LOCK = threading.RLock()             # guards every index and event store (moto serves on threads)
EPOCH = datetime(1970, 1, 1)


def _epoch(ts: datetime) -> float:
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return (ts - EPOCH).total_seconds()


def _naive_utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo is not None else ts
