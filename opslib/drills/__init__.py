"""Fault drills: each sandbox fault scenario, the runbook(s) written for it and the finding expected
to fail (:mod:`.catalog`); judging a run (:mod:`.check`); rehearsing on a sandbox (:mod:`.rehearse`);
the archived scorecard (:mod:`.scorecard`) and when each runbook last passed one (:mod:`.freshness`)."""
from .catalog import DRILLS, Drill, Expect, for_notebook, select
from .check import RunbookResult, judge, unexpected_failures
from .freshness import Rehearsal, last_rehearsed
from .rehearse import ControlledSandbox, DrillResult, job_name, rehearse, rehearse_one, subprocess_runner
from .scorecard import archive_scorecard

__all__ = ["DRILLS", "Drill", "Expect", "for_notebook", "select", "RunbookResult", "judge", "unexpected_failures",
           "Rehearsal", "last_rehearsed", "ControlledSandbox", "DrillResult", "job_name", "rehearse", "rehearse_one",
           "subprocess_runner", "archive_scorecard"]
