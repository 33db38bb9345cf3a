"""opslib: the tested library behind the runbook notebooks of the User Behavior Data Pipeline.

The public names: the profile (:class:`Profile`, :func:`load_profile`), the handle every runbook works through
(:func:`connect` -> :class:`Ops`) and the one exception tree (:mod:`opslib.errors`, base :class:`OpsError`).
Settings read from the environment are named in :mod:`opslib.settings`, exit codes in :mod:`opslib.exitcodes`."""
from .config import Profile, load_profile
from .connection import Ops, connect
from .errors import (ActionError, ActionFailed, ActionRefused, CertificateError, EvidenceError, OpsError,
                     ParameterError, PreflightError, ProfileError, QueryError, QueueFull, RunError, SandboxError,
                     WebhookRejected)

__version__ = "0.1.0"

__all__ = [
    "Profile", "load_profile", "Ops", "connect", "OpsError", "ProfileError", "ParameterError", "SandboxError",
    "ActionError", "ActionRefused", "ActionFailed", "QueryError", "RunError", "CertificateError", "EvidenceError",
    "WebhookRejected", "QueueFull", "PreflightError", "__version__",
]
