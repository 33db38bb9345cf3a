"""Notebook runs and their evidence: papermill execution, the write-once archive (local or S3),
the manifest, offline HTML, credential scrubbing and verification. See :mod:`.catalog` for the
conventions a runbook notebook follows, :mod:`.launch` for what ``runbook run``/``doctor`` do and
:mod:`opslib.exitcodes` for the exit codes."""
from __future__ import annotations

import importlib

# name -> submodule. Imported when first used: the archive readers a kernel uses (manifest, archive, verify:
# monitoring-alerts' latest quality score, escalation's incident) then skip nbformat and papermill (catalog,
# params), and `runbook runs`/`incident` skip papermill and nbconvert (execute).
_EXPORTS = {
    "Archive": "archive", "LocalArchive": "archive", "S3Archive": "archive", "default_archive": "archive",
    "open_archive": "archive", "run_stem": "archive",
    "NotebookInfo": "catalog", "discover": "catalog", "notebook_info": "catalog", "notebooks_dir": "catalog",
    "resolve": "catalog",
    "EXIT_CODES": "manifest", "RunEntry": "manifest", "filter_entries": "manifest", "find_entry": "manifest",
    "notebook_parameters": "params", "validate_parameters": "params",
    "Scrubber": "scrub", "scrubber": "scrub",
    "ArchiveReport": "verify", "FileCheck": "verify", "verify_archive": "verify", "verify_entries": "verify",
    "run_notebook": "execute", "archive_notebook": "execute",
}

__all__ = ["Archive", "LocalArchive", "S3Archive", "default_archive", "open_archive", "run_stem", "ArchiveReport",
           "verify_archive", "NotebookInfo", "discover",
           "notebook_info", "notebooks_dir", "resolve", "run_notebook", "archive_notebook", "EXIT_CODES", "RunEntry", "filter_entries",
           "find_entry", "notebook_parameters", "validate_parameters", "Scrubber", "scrubber", "FileCheck",
           "verify_entries"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
