"""opslib: the tested library behind the runbook notebooks of the User Behavior Data Pipeline.

The public names: the profile (:class:`Profile`, :func:`load_profile`), the handle every runbook works through
(:func:`connect` -> :class:`Ops`) and the one exception tree (:mod:`opslib.errors`, base :class:`OpsError`).
Settings read from the environment are named in :mod:`opslib.settings`, exit codes in :mod:`opslib.exitcodes`."""
import sys

# jsonschema (imported by nbformat: in every `runbook` process, and in a runbook's kernel by plotly's renderers
# when opslib.notebook.setup() sets one, and by the archive readers) imports the optional libraries of its string
# format checkers when installed: rfc3987-syntax compiles a Lark grammar (about 3 s of CPU per process),
# rfc3986-validator a large regex, isoduration arrow, ... (another ~0.2 s). nbformat validates notebooks without a
# format checker and nothing in opslib checks formats, so jsonschema is told they are absent (it skips a format
# whose library does not import; only jsonschema imports them). Here, so the kernel skips them as well.
for _name in ("rfc3987_syntax", "rfc3986_validator", "rfc3339_validator", "isoduration", "webcolors",
              "uri_template", "fqdn"):
    sys.modules.setdefault(_name, None)
del _name

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
