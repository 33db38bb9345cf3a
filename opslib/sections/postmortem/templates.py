"""The runbook's three communication templates (and the post-mortem draft's) as Jinja2 files under
``opslib/templates``, filled from an incident."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ...errors import ParameterError
from .loader import TO_FILL, Incident, _duration, _hm

#: the package's templates folder (``opslib/templates``)
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
TEMPLATES = {"incident-start": "incident-start.txt.j2", "status-update": "status-update.txt.j2",
             "post-mortem": "post-mortem.txt.j2"}
DRAFT_TEMPLATE = "post-mortem-draft.md.j2"


def _bullets(value: Any) -> str:
    if isinstance(value, str):
        return value
    items = [str(v) for v in value or []]
    if not items:
        return TO_FILL
    if len(items) == 1:
        return items[0]
    return "".join(f"\n  - {item}" for item in items)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", "<br>")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      keep_trailing_newline=True, autoescape=False)
    env.filters["bullets"] = _bullets
    env.filters["cell"] = _cell
    return env


def render(template: str, **context: Any) -> str:
    """Render one of :data:`TEMPLATES` (by key) or a template file name; a missing value is an error."""
    name = TEMPLATES.get(template, template)
    if not (TEMPLATES_DIR / name).is_file():
        raise ParameterError("template", template, ", ".join([*TEMPLATES, DRAFT_TEMPLATE]))
    return _environment().get_template(name).render(**context)


def _context(incident: Incident, *, severity: str | None, now: datetime, started_at: datetime | None,
             description: str | None) -> dict:
    start = started_at or incident.first_run_at
    end = incident.resolved_at
    return {
        "severity": severity or incident.severity or TO_FILL,
        "description": description or incident.description(),
        "status": incident.status,
        "resolved": end is not None,
        "start_time": _hm(start),
        "end_time": _hm(end),
        "duration": _duration(((end or now) - start) if start else None),
        "impact": incident.current_impact(),
        "initial_impact": incident.initial_impact(),
        "detailed_impact": incident.detailed_impact(),
        "actions": incident.progress(),
        "progress": incident.progress(),
        "next_steps": incident.next_steps(),
        "eta": TO_FILL if end is None else "resolved",
        "root_cause": TO_FILL,
        "resolution": incident.resolution(),
        "action_items": TO_FILL,
    }


def communications(incident: Incident, *, now: datetime, severity: str | None = None,
                   started_at: datetime | None = None, description: str | None = None) -> dict[str, str]:
    """The runbook's three messages (incident-start, status-update, post-mortem) filled from ``incident``."""
    context = _context(incident, severity=severity, now=now, started_at=started_at, description=description)
    start_context = dict(context, impact=context["initial_impact"])
    return {"incident-start": render("incident-start", **start_context),
            "status-update": render("status-update", **context),
            "post-mortem": render("post-mortem", **context)}
