"""Incidents from a real archive: the toy notebooks of tests/notebooks run through the runner
(``run_notebook``, with a given clock so the times are known), tagged with incident ids; then the
incident's status, the three filled templates, the timeline, the post-mortem draft with verified
hashes, and the ``runbook incident`` commands."""
from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opslib.sections import postmortem
from opslib.cli import run
from opslib.errors import ParameterError
from opslib.runner.archive import LocalArchive
from opslib.runner.catalog import notebook_info
from opslib.runner.execute import run_notebook

TOYS = Path(__file__).parent / "notebooks"
pytestmark = pytest.mark.slow


def t(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, 25, hh, mm, ss, tzinfo=timezone.utc)


def _run(path: Path, archive_root: Path, incident: str, start: datetime, end: datetime) -> dict:
    """One real run through the runner, its start and end times given (a forked worker calls it)."""
    times = iter([start, end])
    return run_notebook(notebook_info(path), profile="sandbox", archive=LocalArchive(archive_root),
                        clock=lambda: next(times), incident_id=incident, operator={"user": "tester"}).to_dict()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """INC-7: ``svc`` fails at 10:00 (the toy fail notebook), then ``svc`` is ok at 10:40 (the toy ok
    notebook under the same name); INC-8: one unrelated warn run at 10:05. The three run at once."""
    root = tmp_path_factory.mktemp("pm")
    for folder, toy in (("first", "fail"), ("second", "ok"), ("third", "warn")):
        (root / folder).mkdir()
        shutil.copy(TOYS / f"{toy}.ipynb", root / folder / ("other.ipynb" if toy == "warn" else "svc.ipynb"))
    plan = [("first/svc.ipynb", "INC-7", t(10, 0), t(10, 0, 30)),
            ("third/other.ipynb", "INC-8", t(10, 5), t(10, 5, 20)),
            ("second/svc.ipynb", "INC-7", t(10, 40), t(10, 40, 30))]
    with ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run, root / path, root / "runs", incident, start, end)
                   for path, incident, start, end in plan]
        entries = [f.result() for f in futures]
    assert [e["status"] for e in entries] == ["fail", "warn", "ok"]
    return LocalArchive(root / "runs")


def _partial(incident: postmortem.Incident, runs: int) -> postmortem.Incident:
    """The incident as it stood after its first ``runs`` runs."""
    return postmortem.Incident(incident.id, incident.entries[:runs], incident.actions, incident.archive)


def test_an_incident_is_its_tagged_runs_and_its_status_follows_them(archive):
    incident = postmortem.load_incident("INC-7", archive)
    assert [e["notebook"] for e in incident.entries] == ["svc", "svc"]
    assert {e["incident_id"] for e in incident.entries} == {"INC-7"}
    early = _partial(incident, 1)
    assert early.status == "Investigating" and early.still_failing == ["svc"] and early.resolved_at is None
    assert early.current_impact() == ["completeness: hour 11:00 dropped 62% (svc)"]
    assert incident.status == "Resolved" and incident.resolved_at == t(10, 40, 30)
    assert incident.current_impact() == [] and incident.failed_notebooks == ["svc"]
    assert postmortem.known_incidents(archive) == ["INC-7", "INC-8"]
    assert postmortem.load_incident("INC-404", archive).entries == []
    with pytest.raises(ParameterError):
        postmortem.load_incident("  ", archive)


def test_incident_start_and_status_update_filled_from_the_runs(archive):
    incident = _partial(postmortem.load_incident("INC-7", archive), 1)
    messages = postmortem.communications(incident, now=t(10, 12), severity="SEV2")
    start = messages["incident-start"]
    assert "Subject: [SEV2] Data Pipeline Incident - completeness failing" in start
    assert "Status: Investigating" in start and "Start Time: 2026-11-25 10:00 UTC" in start
    assert "Impact: completeness: hour 11:00 dropped 62% (svc)" in start
    assert "Actions: ran svc at 10:00 UTC: fail" in start
    assert "Updates will be provided every 15 minutes." in start
    update = messages["status-update"]
    assert "Status: Investigating" in update and "Duration: 12 min" in update
    assert "Next Steps: [to fill in]" in update and "ETA: [to fill in]" in update
    post = messages["post-mortem"]
    assert "[NOT RESOLVED]" in post and "Incident Duration: 2026-11-25 10:00 UTC - [to fill in]" in post


def test_post_mortem_message_of_the_resolved_incident(archive):
    incident = postmortem.load_incident("INC-7", archive)
    messages = postmortem.communications(incident, now=t(12, 0), severity="SEV1")
    post = messages["post-mortem"]
    assert "Subject: [RESOLVED] Post-Mortem - completeness failing" in post
    assert "Incident Duration: 2026-11-25 10:00 UTC - 2026-11-25 10:40 UTC" in post
    assert "completeness: hour 11:00 dropped 62% (svc; seen 10:00-10:00 UTC)" in post
    assert "Root Cause: [to fill in]" in post and "Action Items: [to fill in]" in post
    assert "svc ok again at 2026-11-25 10:40 UTC" in post
    update = messages["status-update"]
    assert "Status: Resolved" in update and "Duration: 40 min" in update     # start to resolution, not to now
    assert "  - ran svc at 10:00 UTC: fail\n  - ran svc at 10:40 UTC: ok" in update


def test_no_incident_gives_placeholders_not_inventions(archive):
    incident = postmortem.load_incident(None, archive)
    messages = postmortem.communications(incident, now=t(12, 0))
    for text in messages.values():
        assert "None" not in text and "[to fill in]" in text
    assert "Subject: [[to fill in]] Data Pipeline Incident - [to fill in]" in messages["incident-start"]
    assert "Start Time: [to fill in]" in messages["incident-start"]
    assert postmortem.incident_check(incident).status == "ok"
    with pytest.raises(ParameterError):
        postmortem.render("no-such-template")


def test_timeline_and_checks(archive):
    incident = postmortem.load_incident("INC-7", archive)
    rows = postmortem.timeline(incident)
    assert [(r.time, r.kind, r.what, r.status) for r in rows] == [(t(10, 0), "run", "svc", "fail"),
                                                                   (t(10, 40), "run", "svc", "ok")]
    assert rows[0].detail == "completeness: hour 11:00 dropped 62%" and rows[1].detail == ""
    for row, entry in zip(rows, incident.entries):
        assert row.run_id == entry["id"] and row.files["ipynb"]["sha256"] == entry["files"]["ipynb"]["sha256"]
        assert Path(row.files["html"]["path"]).is_file()
    frame = postmortem.timeline_frame(rows)
    assert list(frame["status"]) == ["fail", "ok"]
    html = postmortem.timeline_table(rows).to_html()
    assert all(f'<a href="{r.files["html"]["path"]}">' in html for r in rows)    # links, not truncated
    assert postmortem.incident_check(incident).status == "ok"
    early = postmortem.incident_check(_partial(incident, 1))
    assert early.status == "warn" and "still failing: svc" in early.detail
    missing = postmortem.incident_check(postmortem.load_incident("INC-404", archive))
    assert missing.status == "warn" and "no runs tagged INC-404" in missing.detail


def test_draft_links_the_evidence_and_says_whether_it_verified(archive, tmp_path):
    incident = postmortem.load_incident("INC-7", archive)
    text = postmortem.draft(incident, now=t(12, 0), severity="SEV2")
    assert text.startswith("# Post-mortem draft: INC-7")
    assert "| Evidence verified | yes: all 6 files match their recorded sha256 |" in text
    for entry in incident.entries:
        for f in entry["files"].values():
            assert f"]({f['path']})" in text and f["sha256"] in text
    assert "| Status | Resolved |" in text and "Subject: [RESOLVED]" in text
    assert postmortem.evidence_check(postmortem.verify(incident)).status == "ok"

    copy = tmp_path / "runs"                       # tamper with a copy of the archive
    shutil.copytree(archive.root, copy)
    html = Path(copy / incident.entries[0]["files"]["html"]["rel"])
    html.chmod(0o644)
    html.write_text(html.read_text() + "<!-- edited -->")
    tampered = postmortem.load_incident("INC-7", LocalArchive(copy))
    text = postmortem.draft(tampered, now=t(12, 0))
    assert "| Evidence verified | NO: 1 of 6 files changed or missing (html of run " in text
    check = postmortem.evidence_check(postmortem.verify(tampered))
    assert check.status == "fail" and check.figures["changed_or_missing"] == 1
    with pytest.raises(ParameterError):
        postmortem.draft(postmortem.load_incident("INC-404", archive), now=t(12, 0))


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``runbook ARGS`` in-process (the CLI's real entry point, exit code included)."""
    monkeypatch.setattr(sys, "argv", ["runbook", *args])
    with pytest.raises(SystemExit) as exc:
        run()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_incident_commands(archive, tmp_path, monkeypatch, capsys):
    where = ["--archive", str(archive.root)]
    out_file = tmp_path / "pm.md"

    rc, out, err = _cli(monkeypatch, capsys, "incident", "timeline", "INC-7", *where, "--json")
    data = json.loads(out)
    assert rc == 0 and data["incident_id"] == "INC-7" and data["status"] == "Resolved"
    incident = postmortem.load_incident("INC-7", archive)
    assert [r["run_id"] for r in data["timeline"]] == [e["id"] for e in incident.entries]
    rc, out, err = _cli(monkeypatch, capsys, "incident", "timeline", "INC-7", *where)
    assert rc == 0 and "incident INC-7: Resolved, 2 runs" in out and "completeness: hour 11:00 dropped 62%" in out
    rc, out, err = _cli(monkeypatch, capsys, "incident", "postmortem", "INC-7", *where, "--out", str(out_file))
    assert rc == 0, err
    assert "Evidence verified | yes: all 6 files" in out_file.read_text()
    rc, out, err = _cli(monkeypatch, capsys, "incident", "timeline", "INC-9", *where)
    assert rc == 2 and "INC-9" in err and "INC-7, INC-8" in err
    rc, out, err = _cli(monkeypatch, capsys, "incident", "escalation", "INC-7", "--severity", "SEV1", *where)
    assert rc == 0 and "resolved at 2026-11-25 10:40Z: no further escalation" in out, err
    rc, out, err = _cli(monkeypatch, capsys, "incident", "escalation", "--severity", "SEV9", *where)
    assert rc == 2 and "SEV1, SEV2, SEV3, SEV4" in err

    out_file.write_text("my notes")
    rc, out, err = _cli(monkeypatch, capsys, "incident", "postmortem", "INC-7", *where, "--out", str(out_file))
    assert rc == 2 and "--force" in err and out_file.read_text() == "my notes"
    rc, out, err = _cli(monkeypatch, capsys, "incident", "postmortem", "INC-7", *where, "--out", str(out_file),
                        "--force", "--severity", "SEV3")
    assert rc == 0 and "| Severity | SEV3 |" in out_file.read_text()


def test_incident_command_errors_name_the_option(archive, monkeypatch, capsys):
    """The library raises with its parameter names; the CLI's errors name what the user typed."""
    where = ["--archive", str(archive.root)]
    rc, _, err = _cli(monkeypatch, capsys, "incident", "escalation", "--started-at", "yesterday", *where)
    assert rc == 2 and "'--started-at'" in err and "'started_at'" not in err
    rc, _, err = _cli(monkeypatch, capsys, "incident", "escalation", "--started-at", "2999-01-01T00:00", *where)
    assert rc == 2 and "'--started-at'" in err
    rc, _, err = _cli(monkeypatch, capsys, "incident", "escalation", "INC-9", *where)
    assert rc == 2 and "'INCIDENT_ID'" in err and "INC-7, INC-8" in err
    rc, _, err = _cli(monkeypatch, capsys, "incident", "postmortem", "INC-7", "--severity", "SEV9", *where)
    assert rc == 2 and "'--severity'" in err and "SEV1, SEV2, SEV3, SEV4" in err
    with pytest.raises(ParameterError) as raised:              # the library's own name, called from Python
        postmortem.require_incident("INC-9", archive)
    assert raised.value.name == "incident_id" and "INC-7, INC-8" in raised.value.allowed
