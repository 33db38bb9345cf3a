"""``runbook init``: draft a profile from the live account (read-only), prove it loads, run the preflight on
it and print what to review."""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import click

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


def _region(ctx, param, value):
    if value is not None and not REGION.match(value):
        raise click.BadParameter(f"{value!r} is not an AWS region name (like eu-west-1)", ctx=ctx, param=param)
    return value


def _endpoint(ctx, param, value):
    if value is None or value == "sandbox":
        return value
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL (or 'sandbox' for the running sandbox)",
                                 ctx=ctx, param=param)
    return value.rstrip("/")


def _same_endpoint(a: str, b: str) -> bool:
    def norm(u: str) -> tuple:
        p = urlparse(u)
        host = {"localhost": "127.0.0.1"}.get(p.hostname or "", p.hostname)
        return p.scheme, host, p.port
    return norm(a) == norm(b)


def _sandbox_for(endpoint: str | None):
    """The running sandbox's state when ``endpoint`` is its moto server ('sandbox': whichever is running)."""
    from ..errors import OpsError
    from ..sandbox.state import read_state
    if endpoint is None:
        return None
    try:
        state = read_state()
    except (OpsError, OSError, ValueError):
        if endpoint == "sandbox":
            raise click.BadParameter("no sandbox is running (start it with `runbook sandbox up`)",
                                     param_hint="'--endpoint'")
        return None
    if endpoint == "sandbox" or _same_endpoint(endpoint, state.aws_endpoint):
        return state
    return None


def _warehouse_engine(sandbox):
    """An engine on the warehouse to find the events table: the sandbox's, else $WAREHOUSE_DB_URL if set."""
    import sqlalchemy as sa
    if sandbox is not None:
        return sa.create_engine("duckdb:///" + sandbox.warehouse_path, connect_args={"read_only": True},
                                poolclass=sa.pool.NullPool)
    url = os.environ.get("WAREHOUSE_DB_URL")
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot use: the draft says the table is TODO
        return None


def register(group: click.Group) -> None:
    @group.command("init")
    @click.option("--region", callback=_region, help="primary region [default: where the pipeline's ECS clusters "
                                                     "and streams are]")
    @click.option("--dr-region", callback=_region, help="DR region [default: the region whose names are most like "
                                                        "the primary's]")
    @click.option("--endpoint", callback=_endpoint, help="AWS endpoint URL (a sandbox or a test server); "
                                                         "'sandbox' for the running sandbox [default: AWS]")
    @click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                  help="profile file to write [default: parameters/draft.yaml]")
    @click.option("--name", help="the profile's name [default: the output file's name]")
    @click.option("--force", is_flag=True, help="overwrite the output file")
    @click.option("--aws-profile", help="boto3 named profile for the credentials [default: AWS_PROFILE/the chain]")
    @click.option("--no-preflight", is_flag=True, help="do not run the preflight on the draft")
    def init_command(region, dr_region, endpoint, output, name, force, aws_profile, no_preflight):
        """Draft a profile from the live account (read-only calls), prove it loads, run the preflight."""
        import boto3

        from ..config import AwsSettings, load_profile, parameters_dir
        from ..connection import SANDBOX_CREDENTIALS
        from ..discovery import Reader, discover, find_regions
        from ..runner.preflight import preflight

        out = Path(output) if output else parameters_dir() / "draft.yaml"
        if out.suffix not in (".yaml", ".yml"):
            raise click.BadParameter(f"{str(out)!r} must end with .yaml or .yml", param_hint="'-o' / '--output'")
        if out.exists() and not force:
            raise click.BadParameter(f"{str(out)!r} exists; pass --force to overwrite it", param_hint="'-o' / '--output'")
        if not out.parent.is_dir():
            raise click.BadParameter(f"folder {str(out.parent)!r} does not exist", param_hint="'-o' / '--output'")
        if region and dr_region and region == dr_region:
            raise click.BadParameter(f"the DR region must differ from --region ({region})", param_hint="'--dr-region'")
        name = name or out.stem
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise click.BadParameter(f"{name!r}: letters, digits, '.', '_' and '-' only", param_hint="'--name'")
        sandbox = _sandbox_for(endpoint)
        endpoint_url = sandbox.aws_endpoint if sandbox is not None else endpoint
        kwargs = {"profile_name": aws_profile} if aws_profile else {}
        session = boto3.Session(**kwargs)
        if session.get_credentials() is None:
            if sandbox is None and endpoint is None:
                raise click.ClickException("no AWS credentials: set AWS_PROFILE or run `aws sso login`, or export "
                                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            session = boto3.Session(**SANDBOX_CREDENTIALS)
        home = region or session.region_name or "us-east-1"
        settings = AwsSettings(primary_region=home, dr_region=dr_region)
        reader = Reader(session, endpoint_url=endpoint_url, settings=settings)
        if not region or not dr_region:
            found_primary, found_dr, why = find_regions(reader, home)
            region = region or found_primary
            dr_region = dr_region or (found_dr if found_dr != region else None)
            click.echo("regions holding ECS clusters or Kinesis streams: " + ("; ".join(why) or "none"), err=True)
            if not region:
                raise click.UsageError("could not find the pipeline's region: pass --region")
        where = f"{region} (primary) and {dr_region} (DR)" if dr_region else \
            f"{region} (single region: no other region holds a pipeline like it; --dr-region names one)"
        click.echo(f"reading {where} at {endpoint_url or 'AWS'} ...", err=True)
        engine = _warehouse_engine(sandbox)
        try:
            result = discover(reader, primary=region, dr=dr_region, name=name, endpoint_url=endpoint_url,
                              sandbox=sandbox, warehouse_engine=engine,
                              command="runbook init " + " ".join(f"{k} {v}" for k, v in
                                                                 (("--region", region), ("--dr-region", dr_region),
                                                                  ("--endpoint", endpoint)) if v))
        finally:
            if engine is not None:
                engine.dispose()
        out.write_text(result.text)
        profile = load_profile(str(out))          # proves the draft parses and validates
        click.echo(f"wrote {out} ({len(result.draft.values['services'])} services, "
                   f"{len(result.draft.values['metrics'])} metrics); it loads as profile {profile.name!r}")
        rc = 0
        if not no_preflight:
            report = preflight(profile, needs=["aws", "warehouse", "database"])
            click.echo(report.table())
        todos = result.draft.todos()
        if todos:
            click.echo(f"\nto review ({len(todos)} TODO in {out}):")
            for path, text in todos:
                click.echo(f"  {path}: {' '.join(text.split())}")
        if result.draft.gaps:
            click.echo(f"\ncalls refused ({len(result.draft.gaps)}): the draft lacks what they would have shown")
            for gap in result.draft.gaps:
                click.echo(f"  {gap.line()}")
        click.echo(f"\nnext: review {out}, then `runbook run --all --profile {out}`")
        return rc
