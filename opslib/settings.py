"""Every ``OPSLIB_*`` environment variable, named once, and the ``resolve_*`` helpers that read them.

An explicit argument beats the environment variable, which beats the default: resolved here and nowhere
else (as Powertools for AWS Lambda resolves its ``POWERTOOLS_*`` settings). Every resolver takes
``environ`` (default :data:`os.environ`) so a caller or a test can pass its own mapping. Nothing here
writes the environment: a child process (a kernel, JupyterLab) gets its variables through an explicit
``env`` built by :func:`kernel_environment` or :func:`child_environment`.

This module imports nothing from opslib, so every layer can use it.

=================================  =====================================================================
variable                           meaning (default)
=================================  =====================================================================
``OPSLIB_PROFILE``                 the profile name or YAML path (``sandbox``)
``OPSLIB_PARAMETERS``              the folder of the named profiles (``parameters/`` of the checkout)
``OPSLIB_NOTEBOOKS``               the runbook notebooks (``notebooks/`` beside ``parameters/``)
``OPSLIB_ARCHIVE``                 the run archive, a folder or ``s3://`` prefix (``runs/`` beside ``parameters/``)
``OPSLIB_AUDIT_DIR``               the actions' audit log folder (the default archive's ``audit/``)
``OPSLIB_RUN_ID``                  the run a kernel's actions belong to (set for kernels by ``runbook run``)
``OPSLIB_SANDBOX_DIR``             the sandbox's state folder (``.sandbox/`` beside ``parameters/``)
``OPSLIB_LAB_PROFILE``             the profile kernels follow inside ``runbook lab`` (unset)
``OPSLIB_KERNEL_FORK``             ``0``: ``runbook run`` starts each kernel as a new Python, not forked (``1``)
``OPSLIB_SLACK_WEBHOOK``           read by profiles: ``notify.slack: ${OPSLIB_SLACK_WEBHOOK}``
``OPSLIB_PAGERDUTY_URL``           read by profiles: ``notify.pagerduty: ${OPSLIB_PAGERDUTY_URL}``
``OPSLIB_PAGERDUTY_ROUTING_KEY``   the PagerDuty Events API routing key of ``--notify pagerduty``
``OPSLIB_PAGERDUTY_WEBHOOK_SECRET``  ``runbook serve``: PagerDuty V3 webhook secrets, comma-separated
``OPSLIB_ALERTMANAGER_TOKEN``      ``runbook serve``: the Alertmanager bearer token (unset: not required)
``OPSLIB_PAGERDUTY_API_URL``       ``runbook serve``: the PagerDuty REST API (``https://api.pagerduty.com``)
``OPSLIB_PAGERDUTY_API_TOKEN``     ``runbook serve``: a REST API key, for notes on incidents
``OPSLIB_PAGERDUTY_FROM``          ``runbook serve``: the e-mail the notes are from
=================================  =====================================================================
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

PROFILE_ENV = "OPSLIB_PROFILE"
PARAMETERS_DIR_ENV = "OPSLIB_PARAMETERS"
NOTEBOOKS_ENV = "OPSLIB_NOTEBOOKS"
ARCHIVE_ENV = "OPSLIB_ARCHIVE"
AUDIT_DIR_ENV = "OPSLIB_AUDIT_DIR"
RUN_ID_ENV = "OPSLIB_RUN_ID"
SANDBOX_DIR_ENV = "OPSLIB_SANDBOX_DIR"
LAB_PROFILE_ENV = "OPSLIB_LAB_PROFILE"
KERNEL_FORK_ENV = "OPSLIB_KERNEL_FORK"
SLACK_WEBHOOK_ENV = "OPSLIB_SLACK_WEBHOOK"
PAGERDUTY_URL_ENV = "OPSLIB_PAGERDUTY_URL"
PAGERDUTY_ROUTING_KEY_ENV = "OPSLIB_PAGERDUTY_ROUTING_KEY"
PAGERDUTY_WEBHOOK_SECRET_ENV = "OPSLIB_PAGERDUTY_WEBHOOK_SECRET"
ALERTMANAGER_TOKEN_ENV = "OPSLIB_ALERTMANAGER_TOKEN"
PAGERDUTY_API_URL_ENV = "OPSLIB_PAGERDUTY_API_URL"
PAGERDUTY_API_TOKEN_ENV = "OPSLIB_PAGERDUTY_API_TOKEN"
PAGERDUTY_FROM_ENV = "OPSLIB_PAGERDUTY_FROM"

DEFAULT_PROFILE = "sandbox"
DEFAULT_ARCHIVE = "runs"                      # beside parameters/
DEFAULT_NOTEBOOKS = "notebooks"               # beside parameters/
DEFAULT_SANDBOX_DIR = ".sandbox"              # beside parameters/
AUDIT_FOLDER = "audit"                        # an archive's audit log folder
DEFAULT_PAGERDUTY_API_URL = "https://api.pagerduty.com"

__all__ = [
    "PROFILE_ENV", "PARAMETERS_DIR_ENV", "NOTEBOOKS_ENV", "ARCHIVE_ENV", "AUDIT_DIR_ENV", "RUN_ID_ENV",
    "SANDBOX_DIR_ENV", "LAB_PROFILE_ENV", "KERNEL_FORK_ENV", "SLACK_WEBHOOK_ENV", "PAGERDUTY_URL_ENV",
    "PAGERDUTY_ROUTING_KEY_ENV", "PAGERDUTY_WEBHOOK_SECRET_ENV", "ALERTMANAGER_TOKEN_ENV", "PAGERDUTY_API_URL_ENV", "PAGERDUTY_API_TOKEN_ENV",
    "PAGERDUTY_FROM_ENV", "DEFAULT_PROFILE", "DEFAULT_ARCHIVE",
    "resolve_profile", "resolve_parameters_dir", "project_root", "resolve_notebooks_dir", "resolve_archive",
    "resolve_audit_dir", "resolve_run_id", "resolve_sandbox_dir", "resolve_lab_profile", "resolve_kernel_fork",
    "resolve_routing_key", "resolve_pagerduty_webhook_secrets", "resolve_alertmanager_token",
    "resolve_pagerduty_api", "kernel_environment", "child_environment",
]


def _env(environ: "Mapping[str, str] | None") -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _first(explicit: "str | os.PathLike | None", name: str, environ: "Mapping[str, str] | None") -> str | None:
    """``explicit`` if given (not None or empty), else the variable if set and not empty, else None."""
    if explicit:
        return os.fspath(explicit)
    return _env(environ).get(name) or None


def resolve_profile(explicit: "str | os.PathLike | None" = None, environ: "Mapping[str, str] | None" = None) -> str:
    """The profile name or path: ``explicit``, else $OPSLIB_PROFILE, else ``sandbox``."""
    return _first(explicit, PROFILE_ENV, environ) or DEFAULT_PROFILE


def resolve_parameters_dir(explicit: "str | os.PathLike | None" = None,
                           environ: "Mapping[str, str] | None" = None) -> Path:
    """The folder holding the named profiles: ``explicit``, else $OPSLIB_PARAMETERS, else ``parameters/`` of
    the checkout (or of the working directory when opslib is installed without one)."""
    given = _first(explicit, PARAMETERS_DIR_ENV, environ)
    if given:
        return Path(given)
    here = Path(__file__).resolve().parent.parent / "parameters"
    return here if here.is_dir() else Path.cwd() / "parameters"


def project_root(environ: "Mapping[str, str] | None" = None) -> Path:
    """The folder holding ``parameters/``: where ``notebooks/``, ``runs/`` and ``.sandbox/`` live by default."""
    return resolve_parameters_dir(environ=environ).resolve().parent


def resolve_notebooks_dir(explicit: "str | os.PathLike | None" = None,
                          environ: "Mapping[str, str] | None" = None) -> Path:
    """``explicit``, else $OPSLIB_NOTEBOOKS, else ``notebooks/`` beside ``parameters/``."""
    given = _first(explicit, NOTEBOOKS_ENV, environ)
    return Path(given) if given else project_root(environ) / DEFAULT_NOTEBOOKS


def resolve_archive(explicit: "str | os.PathLike | None" = None, environ: "Mapping[str, str] | None" = None) -> str:
    """The run archive (a folder or an ``s3://`` prefix): ``explicit``, else $OPSLIB_ARCHIVE, else ``runs/``
    beside ``parameters/``. The one default of the CLI, the audit log, the incident timeline and the post-mortem."""
    return _first(explicit, ARCHIVE_ENV, environ) or str(project_root(environ) / DEFAULT_ARCHIVE)


def resolve_audit_dir(explicit: "str | os.PathLike | None" = None, environ: "Mapping[str, str] | None" = None) -> Path:
    """The actions' audit log folder: ``explicit``, else $OPSLIB_AUDIT_DIR, else the default archive's
    ``audit/`` (an ``s3://`` default archive keeps its audit log in ``runs/audit/`` beside ``parameters/``:
    S3 has no append)."""
    given = _first(explicit, AUDIT_DIR_ENV, environ)
    if given:
        return Path(given)
    archive = resolve_archive(environ=environ)
    if archive.startswith("s3://"):
        return project_root(environ) / DEFAULT_ARCHIVE / AUDIT_FOLDER
    return Path(archive) / AUDIT_FOLDER


def resolve_run_id(explicit: str | None = None, environ: "Mapping[str, str] | None" = None) -> str | None:
    """The run an action belongs to: ``explicit``, else $OPSLIB_RUN_ID (set for its kernels by
    ``runbook run``), else None."""
    return _first(explicit, RUN_ID_ENV, environ)


def resolve_sandbox_dir(explicit: "str | os.PathLike | None" = None,
                        environ: "Mapping[str, str] | None" = None) -> Path:
    """The sandbox's state folder: ``explicit``, else $OPSLIB_SANDBOX_DIR (resolved), else ``.sandbox/``
    beside ``parameters/``."""
    given = _first(explicit, SANDBOX_DIR_ENV, environ)
    return Path(given).resolve() if given else project_root(environ) / DEFAULT_SANDBOX_DIR


def resolve_lab_profile(environ: "Mapping[str, str] | None" = None) -> str | None:
    """The profile ``runbook lab`` started its kernels on ($OPSLIB_LAB_PROFILE), or None outside a lab."""
    return _env(environ).get(LAB_PROFILE_ENV) or None


def resolve_kernel_fork(environ: "Mapping[str, str] | None" = None) -> bool:
    """Whether ``runbook run`` forks its kernels from itself (:mod:`opslib.runner.forked_kernel`): unless
    $OPSLIB_KERNEL_FORK is ``0``, ``false``, ``no`` or ``off``."""
    return _env(environ).get(KERNEL_FORK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def resolve_routing_key(explicit: str | None = None, environ: "Mapping[str, str] | None" = None) -> str | None:
    """The PagerDuty Events API routing key: ``explicit``, else $OPSLIB_PAGERDUTY_ROUTING_KEY."""
    return _first(explicit, PAGERDUTY_ROUTING_KEY_ENV, environ)


def resolve_pagerduty_webhook_secrets(explicit: "list[str] | None" = None,
                                      environ: "Mapping[str, str] | None" = None) -> list[str]:
    """The PagerDuty V3 webhook secrets: ``explicit``, else $OPSLIB_PAGERDUTY_WEBHOOK_SECRET split at commas
    (several while a secret rotates); empty: every PagerDuty webhook is refused."""
    if explicit:
        return list(explicit)
    return [s for s in _env(environ).get(PAGERDUTY_WEBHOOK_SECRET_ENV, "").split(",") if s]


def resolve_alertmanager_token(explicit: str | None = None, environ: "Mapping[str, str] | None" = None) -> str | None:
    """The Alertmanager bearer token: ``explicit``, else $OPSLIB_ALERTMANAGER_TOKEN; None: not required."""
    return _first(explicit, ALERTMANAGER_TOKEN_ENV, environ)


def resolve_pagerduty_api(environ: "Mapping[str, str] | None" = None) -> tuple[str, str | None, str | None]:
    """The PagerDuty REST API as ``(url, token, from)``: $OPSLIB_PAGERDUTY_API_URL (default the public API),
    $OPSLIB_PAGERDUTY_API_TOKEN and $OPSLIB_PAGERDUTY_FROM (None when unset)."""
    env = _env(environ)
    return (env.get(PAGERDUTY_API_URL_ENV) or DEFAULT_PAGERDUTY_API_URL, env.get(PAGERDUTY_API_TOKEN_ENV) or None,
            env.get(PAGERDUTY_FROM_ENV) or None)


def kernel_environment(*, run_id: str, audit_dir: "str | os.PathLike | None" = None,
                       environ: "Mapping[str, str] | None" = None) -> dict[str, str]:
    """The environment of a kernel started by ``runbook run``: this process's (or ``environ``) with
    $OPSLIB_RUN_ID and, for a folder archive, $OPSLIB_AUDIT_DIR set, so the kernel's actions audit into the
    run's archive tagged with its id; without $OPSLIB_LAB_PROFILE (a kernel follows its injected profile,
    not a lab session's). A new dict: this process's environment is not changed."""
    env = dict(_env(environ))
    env.pop(LAB_PROFILE_ENV, None)
    env[RUN_ID_ENV] = run_id
    if audit_dir is not None:
        env[AUDIT_DIR_ENV] = os.fspath(audit_dir)
    return env


def child_environment(environ: "Mapping[str, str] | None" = None, **values: "str | None") -> dict[str, str]:
    """A copy of this process's environment (or ``environ``) for a child process, with ``values`` set by
    the settings' short names (``profile=``, ``archive=``, ``lab_profile=`` ...: the constant's name without
    ``_ENV``, lower case); a value of None leaves the variable as it is."""
    env = dict(_env(environ))
    for key, value in values.items():
        name = globals().get(f"{key.upper()}_ENV")
        if not isinstance(name, str):
            raise TypeError(f"child_environment: unknown setting {key!r}")
        if value is not None:
            env[name] = os.fspath(value)
    return env
