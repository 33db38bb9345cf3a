"""opslib: the tested library behind the runbook notebooks of the User Behavior Data Pipeline."""
from .config import Profile, load_profile
from .connection import Ops, connect
from .errors import (ActionError, ActionFailed, ActionRefused, EvidenceError, OpsError, ParameterError,
                     ProfileError, QueryError, RunError, SandboxError)

__version__ = "0.1.0"

__all__ = [
    "Profile", "load_profile", "Ops", "connect", "OpsError", "ProfileError", "ParameterError", "SandboxError",
    "ActionError", "ActionRefused", "ActionFailed", "QueryError", "RunError", "EvidenceError", "__version__",
]
