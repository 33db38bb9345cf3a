"""Small synthetic event records for streams and S3 partitions (the warehouse builds its own at scale)."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

EVENT_TYPES = ["page_view"] * 6 + ["click"] * 3 + ["add_to_cart", "purchase", "signup"]
PLATFORMS = ["web", "ios", "android"]


def events(rng: random.Random, end: datetime, count: int, *, minutes: int = 60) -> list[dict]:
    """``count`` well-formed events with timestamps in the ``minutes`` before ``end``."""
    out = []
    for _ in range(count):
        ts = end - timedelta(seconds=rng.randrange(0, minutes * 60))
        etype = rng.choice(EVENT_TYPES)
        out.append({
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": f"user-{rng.randrange(5000):05d}",
            "event_type": etype,
            "event_timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "platform": rng.choice(PLATFORMS),
            "properties": {"revenue": round(rng.uniform(5, 200), 2)} if etype == "purchase" else {},
        })
    return out
