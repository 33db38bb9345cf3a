"""Options shared by the ``runbook`` commands; their defaults come from :mod:`opslib.settings`."""
from __future__ import annotations

import click

from ..settings import DEFAULT_PROFILE, resolve_profile


def profile_option(help_text: str = "profile whose S3 client reads an s3:// archive", *, show_default: bool = False):
    """``--profile``: default $OPSLIB_PROFILE, else ``sandbox``."""
    return click.option("--profile", default=lambda: resolve_profile(),
                        show_default=DEFAULT_PROFILE if show_default else False, help=help_text)


def archive_option(help_text: str = "archive folder or s3://bucket/prefix"):
    return click.option("--archive", "archive_target", help=help_text)


def archive_for(target: str | None, profile: str):
    """The archive of ``--archive`` (default $OPSLIB_ARCHIVE, else ``runs/``), ``s3://`` read with ``profile``."""
    from ..runner.archive import archive_for as open_for
    return open_for(target, profile)
