"""Notebook runs and their evidence: papermill execution, the write-once archive (local or S3),
the manifest, offline HTML, credential scrubbing and verification. See :mod:`.catalog` for the
conventions a runbook notebook follows and :mod:`.manifest` for the exit codes."""
from .archive import Archive, LocalArchive, S3Archive, open_archive, run_stem
from .catalog import NotebookInfo, discover, notebook_info, notebooks_dir, resolve
from .manifest import EXIT_CODES, RunEntry, filter_entries, find_entry
from .params import notebook_parameters, validate_parameters
from .scrub import Scrubber, scrubber
from .verify import FileCheck, verify_entries

__all__ = ["Archive", "LocalArchive", "S3Archive", "open_archive", "run_stem", "NotebookInfo", "discover",
           "notebook_info", "notebooks_dir", "resolve", "run_notebook", "EXIT_CODES", "RunEntry", "filter_entries",
           "find_entry", "notebook_parameters", "validate_parameters", "Scrubber", "scrubber", "FileCheck",
           "verify_entries"]


def __getattr__(name: str):
    """``run_notebook`` imports papermill and nbconvert: only when it is used, so reading the archive
    (``runbook runs``, ``runbook incident``) starts fast."""
    if name == "run_notebook":
        from .execute import run_notebook
        return run_notebook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
