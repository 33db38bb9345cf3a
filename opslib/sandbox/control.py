"""Client side of the background sandbox: start it, talk to its control server, stop it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from ..errors import ParameterError, SandboxError
from .core import DEFAULT_EVENTS, DEFAULT_SEED, default_now
from .state import SandboxState, clear_state, default_dir, pid_alive, read_state

MAX_EVENTS = 100_000_000


def _call(state: SandboxState, method: str, path: str, timeout: float = 120) -> dict:
    req = urllib.request.Request(state.control_url + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        if exc.code == 400:
            raise ParameterError("scenario", path.rsplit("/", 1)[-1], body.get("error", "")) from exc
        raise SandboxError(f"sandbox {path} failed: {body.get('error', exc)}; see {state.dir}/sandbox.log") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"the sandbox at {state.control_url} does not answer ({exc}); "
                           f"run `runbook sandbox down` then `runbook sandbox up`") from exc


def running(directory: Path | None = None) -> SandboxState | None:
    """The state of a sandbox that answers, or None."""
    try:
        state = read_state(directory)
        _call(state, "GET", "/status", timeout=5)
        return state
    except SandboxError:
        return None


def up(directory: Path | None = None, *, seed: int = DEFAULT_SEED, now: datetime | None = None,
       events: int = DEFAULT_EVENTS, profile: "str | os.PathLike" = "sandbox",
       timeout: float | None = None) -> SandboxState:
    """Start the sandbox in the background (or return the running one) and wait until it is ready
    (by default 5 minutes plus 1 s per 100,000 events: 100 million take many minutes to build).

    ``profile`` (a name of parameters/ or a path to a profile file) names what is seeded: regions,
    resources, the services' roles, the checkpoint layout, the warehouse's events table. A running
    sandbox of another profile is an error: stop it first."""
    from ..config import load_profile
    if not 1_000 <= events <= MAX_EVENTS:
        raise ParameterError("events", events, f"an integer from 1000 to {MAX_EVENTS:,}")
    text = os.fspath(profile)
    load_profile(text)                      # a bad profile fails here, before anything starts
    profile = str(Path(text).resolve()) if text.endswith((".yaml", ".yml")) or os.sep in text else text
    directory = Path(directory or default_dir())
    current = running(directory)
    if current:
        if current.profile != profile:
            raise SandboxError(f"a sandbox of profile {current.profile!r} is running in {directory}; "
                               f"`runbook sandbox down` first to start one of {profile!r}")
        return current
    clear_state(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = now or default_now()
    log = open(directory / "sandbox.out", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "opslib.sandbox.daemon", "--dir", str(directory), "--seed", str(seed),
         "--now", now.isoformat(), "--events", str(events), "--profile", profile],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    timeout = timeout if timeout is not None else 300 + events / 100_000
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join((directory / "sandbox.out").read_text(errors="replace").splitlines()[-15:])
            raise SandboxError(f"the sandbox exited with code {proc.returncode} while starting:\n{tail}")
        state = running(directory)
        if state:
            return state
        time.sleep(0.2)
    proc.terminate()
    raise SandboxError(f"the sandbox did not become ready within {timeout:.0f}s; see {directory}/sandbox.log")


def down(directory: Path | None = None, timeout: float = 30) -> bool:
    """Stop the background sandbox; True if one was running."""
    try:
        state = read_state(directory)
    except SandboxError:
        return False
    try:
        _call(state, "POST", "/shutdown", timeout=10)
    except SandboxError:
        pass   # not answering: fall through to the signal
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(state.pid):
        time.sleep(0.2)
    if pid_alive(state.pid):
        os.kill(state.pid, signal.SIGTERM)
    clear_state(directory)
    return True


def status(directory: Path | None = None) -> dict:
    return _call(read_state(directory), "GET", "/status", timeout=10)


def inject(scenario: str, directory: Path | None = None) -> dict:
    from .faults import SCENARIOS
    if scenario not in SCENARIOS:   # checked here too, before any call
        raise ParameterError("scenario", scenario, ", ".join(SCENARIOS))
    state = read_state(directory)
    return _call(state, "POST", f"/inject/{scenario}", timeout=_slow(state))


def reset(directory: Path | None = None) -> dict:
    state = read_state(directory)
    return _call(state, "POST", "/reset", timeout=_slow(state))


def _slow(state: SandboxState) -> float:
    """How long a reset or a data fault may take: the warehouse is rebuilt or rewritten."""
    return 120 + state.size / 100_000
