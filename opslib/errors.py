"""One exception tree for opslib. Every error carries named fields and a message that says what
to do next; callers catch :class:`OpsError` to handle any of them::

    OpsError
     ├── ProfileError, ParameterError, PreflightError   bad input, nothing ran (``runbook`` exit 2)
     ├── SandboxError
     ├── ActionError                                    plan/apply; ``result``: the attempt, when apply raised
     │    ├── ActionRefused                             a guard rail or the confirmation refused, nothing sent
     │    └── ActionFailed                              a change failed; earlier ones stay applied
     ├── QueryError, CertificateError                   a read failed
     ├── RunError, EvidenceError                        a run could not start / the archive does not verify
     └── WebhookRejected, QueueFull                     ``runbook serve`` refused a request
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actions.apply import ApplyResult

__all__ = ["OpsError", "ProfileError", "ParameterError", "SandboxError", "ActionError", "ActionRefused",
           "ActionFailed", "QueryError", "RunError", "CertificateError", "EvidenceError", "WebhookRejected",
           "QueueFull", "PreflightError"]


class OpsError(Exception):
    """Base of every error raised by opslib."""


class ProfileError(OpsError):
    """A profile could not be found or does not match the schema."""

    def __init__(self, message: str, *, key: str | None = None, allowed: str | None = None, source: str | None = None):
        self.key, self.allowed, self.source = key, allowed, source
        super().__init__(message)


class ParameterError(OpsError):
    """A parameter given to a notebook, command or function is not allowed. Raised before any call."""

    def __init__(self, name: str, value: object, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"parameter {name!r}: got {value!r}; allowed: {allowed}")


class SandboxError(OpsError):
    """The embedded sandbox is not running or could not be started/changed."""


class ActionError(OpsError):
    """Base for errors of the plan/apply mechanism. ``result``: when :func:`opslib.actions.apply` raises it,
    the :class:`opslib.actions.ApplyResult` of the attempt (what was refused, applied or failed, the audit id)."""

    result: "ApplyResult | None" = None

    def __init__(self, *args: object, result: "ApplyResult | None" = None):
        self.result = result
        super().__init__(*args)


class ActionRefused(ActionError):
    """A guard rail or the confirmation rule refused a plan before any call was made."""

    def __init__(self, reason: str, *, change: str | None = None, result: "ApplyResult | None" = None):
        self.reason, self.change = reason, change
        super().__init__(f"refused{f' ({change})' if change else ''}: {reason}", result=result)


class ActionFailed(ActionError):
    """A change failed while a plan was being applied; earlier changes stay applied (see the audit record)."""

    def __init__(self, message: str, *, applied: list | None = None, failed: str | None = None,
                 result: "ApplyResult | None" = None):
        self.applied, self.failed = applied or [], failed
        super().__init__(message, result=result)


class QueryError(OpsError):
    """A SQL query against the warehouse or database failed."""


class RunError(OpsError):
    """A notebook run could not be started or its output could not be read (``runbook serve``'s triage runs)."""


class CertificateError(OpsError):
    """A certificate could not be read (missing file, bad PEM, endpoint unreachable). ``unknown``: nothing is
    known about the certificate (unreadable source), else what was read is not a usable certificate."""

    def __init__(self, message: str, *, source: str, unknown: bool = True):
        self.source, self.unknown = source, unknown
        super().__init__(message)


class EvidenceError(OpsError):
    """The evidence archive is missing a file or a file does not match its recorded hash."""


class WebhookRejected(OpsError):
    """A webhook request was refused before anything ran: unsigned, badly signed, oversized or malformed.
    ``status`` is the HTTP status the receiver answers (4xx), ``source`` the webhook kind."""

    def __init__(self, reason: str, *, status: int = 400, source: str | None = None):
        self.reason, self.status, self.source = reason, status, source
        super().__init__(f"{source or 'webhook'} rejected ({status}): {reason}")


class QueueFull(OpsError):
    """The triage queue holds its capacity of accepted runs; the request is dropped (HTTP 503)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        super().__init__(f"the triage queue is full ({capacity} waiting); retry later")


class PreflightError(OpsError):
    """What a notebook needs (credentials, endpoint, databases, archive, notify targets) is not there.
    Raised before any kernel starts; ``report`` is the :class:`opslib.runner.preflight.Preflight`."""

    def __init__(self, report: object):
        self.report = report
        super().__init__(str(getattr(report, "message", lambda: report)()))
