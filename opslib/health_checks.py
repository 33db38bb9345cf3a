"""HTTP health checks with a timeout and the measured latency (the runbook's `/health` column)."""
from __future__ import annotations

import socket
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
    seen: bool = True       # False: no answer from the service (DNS failed, or timed out): nothing observed



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
        # A refused connection is an answer (nothing listens there); a name that does not resolve or a
        # silence until the timeout may be this host's network (VPN, DNS), so nothing was observed.
        seen = not isinstance(reason, (socket.gaierror, TimeoutError, socket.timeout))
        return HealthResult(url, False, None, (time.perf_counter() - start) * 1000,
                            f"{type(reason).__name__}: {reason}", seen=seen)
