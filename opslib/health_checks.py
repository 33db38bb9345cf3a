"""HTTP health checks with a timeout and the measured latency (the runbook's `/health` column)."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class HealthResult:
    url: str
    ok: bool
    status: int | None
    latency_ms: float
    error: str = ""


def check(url: str, timeout: float = 3.0) -> HealthResult:
    """GET ``url``; ok on a 2xx within ``timeout`` seconds."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "opslib-runbook"}),
                                    timeout=timeout) as resp:
            resp.read(4096)
            return HealthResult(url, 200 <= resp.status < 300, resp.status, (time.perf_counter() - start) * 1000)
    except urllib.error.HTTPError as exc:
        return HealthResult(url, False, exc.code, (time.perf_counter() - start) * 1000, f"HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return HealthResult(url, False, None, (time.perf_counter() - start) * 1000,
                            f"{type(reason).__name__}: {reason}")
