"""The ``runbook`` command: thin, every subcommand calls into opslib. Each module of this package
adds its commands to the group with ``register(main)``."""
from __future__ import annotations

import sys

import click

from ..errors import OpsError, ParameterError, PreflightError, ProfileError
from ..exitcodes import EXIT_BAD_INPUT, EXIT_FAILED


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opslib")
def main() -> None:
    """Executable runbooks for the User Behavior Data Pipeline."""


def _register() -> None:
    from . import actions_cmd, drill_cmd, incident_cmd, init_cmd, lab_cmd, run_cmd, sandbox_cmd, serve_cmd
    for module in (sandbox_cmd, run_cmd, drill_cmd, lab_cmd, actions_cmd, incident_cmd, serve_cmd, init_cmd):
        module.register(main)


_register()

__all__ = ["main", "run"]


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
        sys.exit(EXIT_FAILED)
    sys.exit(rc if isinstance(rc, int) else 0)
