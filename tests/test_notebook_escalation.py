"""Escalation drill on the sandbox: with ``api-down`` injected, ``critical-services`` and ``alarm-sync``
(applied) run tagged ``--incident INC-1``; then the escalation notebook for INC-1 fills the Incident
Start template with the failing service and shows the incident's timeline (the run and the action).
Without an incident the notebook still runs: matrix, placeholders, no fail."""
from __future__ import annotations


import pytest

import golden
from opslib.sections import postmortem
from runbook_cli import Runbook, figures, findings, finish, output_notebook

pytestmark = pytest.mark.slow


def start(notebook: str, archive, *params: str, incident: str | None = None) -> Runbook:
    return Runbook("run", notebook, "--archive", str(archive), "--json", *[x for p in params for x in ("-p", p)],
                   *(["--incident", incident] if incident else []))


def text_of(entry: dict) -> str:
    """Everything the output notebook printed or displayed as text/plain or HTML."""
    parts = []
    for cell in output_notebook(entry).cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", ""))
            data = o.get("data", {})
            parts.extend(str(data.get(k, "")) for k in ("text/plain", "text/html"))
    return "\n".join(parts)


def message(text: str, name: str) -> str:
    """One filled template as the notebook printed it."""
    body = text.split(f"----- {name} -----\n", 1)[1]
    return body.split("----- ", 1)[0]


@pytest.fixture(scope="module")
def drill(sandbox, tmp_path_factory):
    archive = tmp_path_factory.mktemp("archive")
    sandbox.inject("api-down")
    try:
        first = {"services": start("critical-services", archive, incident="INC-1"),
                 "alarms": start("alarm-sync", archive, "dry_run=False", incident="INC-1")}
        runs = {name: finish(p) for name, p in first.items()}
        second = {"escalation": start("escalation", archive, "severity=SEV1", incident="INC-1"),
                  "quiet": start("escalation", archive)}
        runs.update({name: finish(p) for name, p in second.items()})
    finally:
        sandbox.reset()
    return archive, runs


def test_the_incident_start_names_the_failing_service_and_the_timeline_holds_the_run(drill):
    archive, runs = drill
    rc, services = runs["services"]
    assert rc == 1 and services["incident_id"] == "INC-1"
    assert findings(services)["service-ingestion-api"]["status"] == "fail"
    assert {n for n, c in findings(services).items() if c["status"] == "fail"} == {"service-ingestion-api"}  # no other
    rc, alarms = runs["alarms"]
    assert alarms["incident_id"] == "INC-1" and alarms["status"] in ("ok", "warn"), alarms["findings"]

    rc, entry = runs["escalation"]
    assert entry["status"] != "error", entry.get("error")
    text = text_of(entry)
    start_msg = message(text, "incident-start")
    assert "Subject: [SEV1] Data Pipeline Incident - service-ingestion-api" in start_msg
    impact = next(line for line in start_msg.splitlines() if line.startswith("Impact:"))
    assert "ingestion-api" in impact and "(critical-services)" in impact
    assert "Status: Investigating" in start_msg and f"Start Time: {services['start'][:10]}" in start_msg
    assert "ran critical-services at" in start_msg
    update = message(text, "status-update")
    assert "Status: Mitigating" in update                    # alarm sync applied, service still down
    assert "sync CloudWatch alarms with the alert rules [applied]" in update
    assert "ETA: [to fill in]" in update
    # the timeline shown holds the failing run (linked to its HTML) and the audited action
    assert services["id"] in text and services["files"]["html"]["path"] in text
    assert "sync CloudWatch alarms with the alert rules" in text

    checks = findings(entry)
    assert checks["escalation"]["status"] == "warn"           # SEV1: Team Lead + Sr. Engineer immediately
    assert checks["escalation"]["figures"]["engaged"] == ["On-call Engineer", "Team Lead", "Sr. Engineer"]
    assert checks["incident-runs"]["status"] == "warn" and "critical-services" in checks["incident-runs"]["detail"]
    shared = {f["rel"] for e in (services, alarms) for k, f in e["files"].items() if k.startswith("asset:")}
    assert shared and checks["evidence"]["status"] == "ok"
    assert checks["evidence"]["figures"]["files"] == 4 + len(shared)     # 2 runs' ipynb + html, the assets once
    assert rc == 0 and entry["incident_id"] == "INC-1"
    chart = next(f for f in figures(entry) if "escalation" in f["layout"]["title"]["text"])
    now_line = str(chart["layout"]["shapes"][0]["x0"]).replace(" ", "T")
    assert now_line[:19] >= max(services["end"], alarms["end"])[:19]     # now: never before the latest run
    assert "evaluated at the latest run" in text                            # the sandbox clock is fixed


def test_the_archive_timeline_orders_runs_and_actions(drill):
    archive, runs = drill
    incident = postmortem.load_incident("INC-1", archive)
    rows = postmortem.timeline(incident)
    kinds = [(r.kind, r.what) for r in rows]
    assert ("run", "critical-services") in kinds and ("run", "alarm-sync") in kinds and ("run", "escalation") in kinds
    action = next(r for r in rows if r.kind == "action")
    assert action.run_id == runs["alarms"][1]["id"] and action.status == "applied"
    assert kinds.index(("action", action.what)) == kinds.index(("run", "alarm-sync")) + 1   # right after its run
    # the escalation run is about the process: it does not change the incident's status
    assert incident.status == "Mitigating" and incident.still_failing == ["critical-services"]


@pytest.mark.golden
def test_without_an_incident_the_matrix_and_placeholders_and_no_fail(drill, nb_regression):
    archive, runs = drill
    rc, entry = runs["quiet"]
    golden.check(nb_regression, entry)
    checks = findings(entry)
    assert rc == 0 and entry["status"] == "ok", checks
    assert {n: c["status"] for n, c in checks.items()} == {"escalation": "ok", "incident-runs": "ok", "evidence": "ok"}
    text = text_of(entry)
    start_msg = message(text, "incident-start")
    assert "Subject: [SEV2] Data Pipeline Incident - [to fill in]" in start_msg
    assert "Impact: [to fill in]" in start_msg
    assert "Engineering Manager, CTO" in text and "John Smith" in text     # the matrix and the contacts
