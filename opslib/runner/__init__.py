"""Notebook runs and their evidence: papermill execution, the write-once archive (local or S3),
the manifest, offline HTML, credential scrubbing and verification. See :mod:`.catalog` for the
conventions a runbook notebook follows, :mod:`.launch` for what ``runbook run``/``doctor`` do and
:mod:`opslib.exitcodes` for the exit codes."""
from .archive import Archive, LocalArchive, S3Archive, default_archive, open_archive, run_stem
from .catalog import NotebookInfo, discover, notebook_info, notebooks_dir, resolve
from .manifest import EXIT_CODES, RunEntry, filter_entries, find_entry
from .params import notebook_parameters, validate_parameters
from .scrub import Scrubber, scrubber
from .verify import ArchiveReport, FileCheck, verify_archive, verify_entries

__all__ = ["Archive", "LocalArchive", "S3Archive", "default_archive", "open_archive", "run_stem", "ArchiveReport",
           "verify_archive", "NotebookInfo", "discover",
           "notebook_info", "notebooks_dir", "resolve", "run_notebook", "archive_notebook", "EXIT_CODES", "RunEntry", "filter_entries",
           "find_entry", "notebook_parameters", "validate_parameters", "Scrubber", "scrubber", "FileCheck",
           "verify_entries"]


def __getattr__(name: str):
    """``run_notebook`` imports papermill and nbconvert: only when it is used, so reading the archive
    (``runbook runs``, ``runbook incident``) starts fast."""
    if name in ("run_notebook", "archive_notebook"):
        from . import execute
        return getattr(execute, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
