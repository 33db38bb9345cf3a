"""The ``runbook`` command: thin, every subcommand calls into opslib. Each module of this package
adds its commands to the group with ``register(main)``."""
from __future__ import annotations

import sys

# jsonschema (imported by nbformat for every run) loads rfc3987-syntax when installed, which compiles a
# Lark grammar at import: about 3 s of CPU per `runbook` process, for an IRI format check no notebook
# schema uses. jsonschema skips that format checker when the import fails.
sys.modules.setdefault("rfc3987_syntax", None)

import click  # noqa: E402

from ..errors import OpsError, ParameterError, PreflightError, ProfileError

EXIT_BAD_INPUT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opslib")
def main() -> None:
    """Executable runbooks for the User Behavior Data Pipeline."""


def _register() -> None:
    from . import actions_cmd, drill_cmd, incident_cmd, init_cmd, lab_cmd, run_cmd, sandbox_cmd, serve_cmd
    for module in (sandbox_cmd, run_cmd, drill_cmd, lab_cmd, actions_cmd, incident_cmd, serve_cmd, init_cmd):
        module.register(main)


_register()


def run() -> None:
    """Entry point with opslib errors turned into one clear line and exit code 2 for bad input."""
    try:
        rc = main(standalone_mode=False)   # a command's exit code: return it or call ctx.exit(code)
    except (click.exceptions.Abort, KeyboardInterrupt):     # Ctrl-C outside a run: no traceback
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except (ProfileError, ParameterError, PreflightError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except OpsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)
