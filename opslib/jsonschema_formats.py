"""Imported first by ``opslib`` (and by pytest before its plugins, ``-p opslib.jsonschema_formats`` in
pyproject.toml): jsonschema's optional string-format libraries are marked absent.

jsonschema (imported by nbformat: in every `runbook` process, in a runbook's kernel by plotly's renderers when
opslib.notebook.setup() sets one and by the archive readers, and in pytest by pytest-notebook's plugin) imports the
optional libraries of its string format checkers when installed: rfc3987-syntax compiles a Lark grammar (about 3 s of
CPU per process), rfc3986-validator a large regex, isoduration arrow, ... (another ~0.2 s). nbformat validates
notebooks without a format checker and nothing in opslib checks formats, so jsonschema is told they are absent (it
skips a format whose library does not import; only jsonschema imports them)."""
import sys

SKIPPED = ("rfc3987_syntax", "rfc3986_validator", "rfc3339_validator", "isoduration", "webcolors", "uri_template",
           "fqdn")

for _name in SKIPPED:
    sys.modules.setdefault(_name, None)
del _name
