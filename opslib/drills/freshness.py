"""Rehearsal freshness: when each runbook last passed a drill, and on which profile, read from the
archive's drill scorecards."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .scorecard import NOTEBOOK


@dataclass(frozen=True)
class Rehearsal:
    notebook: str
    when: str                 # the scorecard's end time (ISO, UTC)
    profile: str
    scenario: str
    run_id: str               # the runbook's run during the drill
    scorecard_id: str

    def to_dict(self) -> dict:
        return {"when": self.when, "profile": self.profile, "scenario": self.scenario, "run_id": self.run_id,
                "scorecard_id": self.scorecard_id}


def last_rehearsed(entries: Iterable[dict]) -> dict[str, Rehearsal]:
    """notebook -> its latest passed drill, from the scorecards in manifest ``entries``."""
    out: dict[str, Rehearsal] = {}
    cards = sorted((e for e in entries if e.get("notebook") == NOTEBOOK), key=lambda e: e.get("end") or "")
    for card in cards:
        for check in card.get("findings", []):
            scenario = check["name"].removeprefix("drill ")
            for notebook, run in (check.get("figures", {}).get("runbooks") or {}).items():
                if run.get("detected"):
                    out[notebook] = Rehearsal(notebook, card["end"], card.get("profile", "?"), scenario,
                                              run.get("run_id") or "", card["id"])
    return out
