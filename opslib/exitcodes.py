"""Exit codes of ``runbook`` and of every run, defined once (the same for the CLI, the runner and schedulers)::

    0  every check ok or warn          3  the notebook raised
    1  at least one check failed       4  the kernel died or a cell timed out
    2  bad input, nothing ran          5  could not see: a check is unknown (credentials, access,
                                          connectivity) and none failed
    130/143  stopped by SIGINT/SIGTERM (status interrupted, archived)
"""
from __future__ import annotations

from typing import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_RAISED = 3
EXIT_KERNEL = 4
EXIT_BLIND = 5
EXIT_INTERRUPTED = 130                          # 128 + SIGINT; SIGTERM gives 143

#: run status -> exit code
EXIT_CODES = {"ok": EXIT_OK, "warn": EXIT_OK, "unknown": EXIT_BLIND, "fail": EXIT_FAILED, "error": EXIT_RAISED,
              "died": EXIT_KERNEL, "timeout": EXIT_KERNEL, "interrupted": EXIT_INTERRUPTED}

#: ``runbook run --all`` exits with the worst code, worst last: bad input outranks a kernel problem outranks a
#: raise outranks a failed check outranks blind
_SEVERITY = (EXIT_OK, EXIT_BLIND, EXIT_FAILED, EXIT_RAISED, EXIT_KERNEL, EXIT_BAD_INPUT)

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "EXIT_RAISED", "EXIT_KERNEL", "EXIT_BLIND",
           "EXIT_INTERRUPTED", "EXIT_CODES", "exit_code", "worst"]


def exit_code(status: str, signum: int | None = None) -> int:
    """The exit code of a run that ended with ``status`` (an interrupted run: 128 + the signal)."""
    return 128 + signum if status == "interrupted" and signum else EXIT_CODES[status]


def worst(codes: Iterable[int]) -> int:
    """The worst of several runs' exit codes (2 > 4 > 3 > 1 > 5 > 0; any other code outranks them all)."""
    return max(codes, key=lambda c: _SEVERITY.index(c) if c in _SEVERITY else len(_SEVERITY))
