"""opslib: the tested library behind the runbook notebooks of the User Behavior Data Pipeline.

The public names: the profile (:class:`Profile`, :func:`load_profile`), the handle every runbook works through
(:func:`connect` -> :class:`Ops`) and the one exception tree (:mod:`opslib.errors`, base :class:`OpsError`).
Settings read from the environment are named in :mod:`opslib.settings`, exit codes in :mod:`opslib.exitcodes`."""
from . import jsonschema_formats  # noqa: F401  (first: see that module)
from .config import Profile, load_profile  # noqa: E402
from .connection import Ops, connect  # noqa: E402
from .errors import (  # noqa: E402
                     ActionError, ActionFailed, ActionRefused, CertificateError, EvidenceError, OpsError,
                     ParameterError, PreflightError, ProfileError, QueryError, QueueFull, RunError, SandboxError,
                     WebhookRejected)

__version__ = "0.1.0"

__all__ = [
    "Profile", "load_profile", "Ops", "connect", "OpsError", "ProfileError", "ParameterError", "SandboxError",
    "ActionError", "ActionRefused", "ActionFailed", "QueryError", "RunError", "CertificateError", "EvidenceError",
    "WebhookRejected", "QueueFull", "PreflightError", "__version__",
]
