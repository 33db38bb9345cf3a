"""Environment variables the runner sets for the kernels it starts, read by :mod:`opslib.actions.audit`.
Kept apart so the runner names them without importing the actions package (every planner, pandas)."""

AUDIT_DIR_ENV = "OPSLIB_AUDIT_DIR"   # where the kernel's actions append their audit records
RUN_ID_ENV = "OPSLIB_RUN_ID"         # the run the kernel's actions belong to
