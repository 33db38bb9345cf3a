"""``runbook sandbox up | status | inject SCENARIO | reset | down | scenarios`` and ``runbook demo``."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from ..sandbox import control
from ..sandbox.core import DEFAULT_EVENTS, DEFAULT_SEED


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO time like 2026-11-25T12:00:00Z") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@click.group()
def sandbox() -> None:
    """The embedded sandbox: a local, seeded, fault-injectable copy of the pipeline."""


@sandbox.command()
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="random seed of the data")
@click.option("--now", help="frozen clock, ISO time (default: the current UTC hour)")
@click.option("--events", type=int, default=DEFAULT_EVENTS, show_default=True,
              help="warehouse size in events (up to 100,000,000 for benchmarks)")
@click.option("--profile", "profile", default="sandbox", show_default=True,
              help="the profile whose resources are seeded: a name of parameters/ or a path to a YAML file")
def up(seed: int, now: str | None, events: int, profile: str) -> None:
    """Start the sandbox in the background (or show the running one)."""
    state = control.up(seed=seed, now=_parse_now(now), events=events, profile=profile)
    click.echo(f"sandbox up: AWS {state.aws_endpoint}  health {state.health_url}  now {state.now}  seed {state.seed}"
               f"  profile {state.profile}")


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def status(as_json: bool) -> None:
    """Endpoints, clock, seed and active faults of the running sandbox."""
    info = control.status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:>10}: {', '.join(value) if isinstance(value, list) else value}")


@sandbox.command()
@click.argument("scenario")
def inject(scenario: str) -> None:
    """Inject a fault scenario (see `runbook sandbox scenarios`)."""
    result = control.inject(scenario)
    click.echo(f"injected {scenario}: {json.dumps(result['details'], default=str)}")


@sandbox.command()
def reset() -> None:
    """Remove every fault: rebuild the healthy pipeline with the same seed and clock."""
    control.reset()
    click.echo("sandbox reset: healthy")


@sandbox.command()
def down() -> None:
    """Stop the background sandbox."""
    click.echo("sandbox stopped" if control.down() else "no sandbox was running")


@sandbox.command()
def scenarios() -> None:
    """List the fault scenarios, one line each."""
    from ..sandbox.faults import SCENARIOS
    for s in SCENARIOS.values():
        click.echo(f"{s.name:<22} {s.summary}")


def register(group: click.Group) -> None:
    group.add_command(sandbox)
