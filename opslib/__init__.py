"""opslib: the tested library behind the runbook notebooks of the User Behavior Data Pipeline."""
import sys

# jsonschema (imported by nbformat: in every `runbook` process, and in a runbook's kernel by plotly's renderers
# when opslib.notebook.setup() sets one, and by the archive readers) loads rfc3987-syntax when installed, which
# compiles a Lark grammar at import: about 3 s of CPU per process, for an IRI format check no notebook schema
# uses. jsonschema skips that format checker when the import fails. Here, so the kernel skips it as well.
sys.modules.setdefault("rfc3987_syntax", None)

from .config import Profile, load_profile  # noqa: E402
from .connection import Ops, connect  # noqa: E402
from .errors import (ActionError, ActionFailed, ActionRefused, EvidenceError, OpsError,  # noqa: E402
                     ParameterError, ProfileError, QueryError, RunError, SandboxError)

__version__ = "0.1.0"

__all__ = [
    "Profile", "load_profile", "Ops", "connect", "OpsError", "ProfileError", "ParameterError", "SandboxError",
    "ActionError", "ActionRefused", "ActionFailed", "QueryError", "RunError", "EvidenceError", "__version__",
]
