"""Disaster recovery (runbook section "Disaster Recovery"): RTO/RPO status, DR-region readiness, the
regional failover timed against the RTO, the database failover, and backup verification with a test
restore that cleans up after itself.

The 5-minute RPO for event data is held by replication (the RDS replica, the DR stream, DynamoDB
point-in-time recovery); the daily backups are the fallback for corruption and are checked against
their daily schedule. Everything here reads live state; changes are :class:`~opslib.actions.Plan` s
applied by :func:`opslib.actions.apply` (audited, dry-run by default).

Modules: ``backups`` (backup age and read-back), ``rpo`` (replica lag, DR stream, PITR), ``readiness``
(primary health, DR pre-flight, where DNS points), ``failover`` (regional failover timed against the
RTO), ``database`` (promote the replica, repoint the secret, verify), ``restore`` (the test-restore
drill; its changes are planned by :mod:`opslib.actions.dynamodb`), ``charts``, and ``operation`` (the
notebook's ``operation`` parameter: validate, plan, run).
"""
from ...actions.dynamodb import SCRATCH_PREFIX, plan_test_restore
from .backups import (DAILY_BACKUP_MAX_AGE_HOURS, BackupStatus, backup_status, dynamodb_backups, s3_backups,
                      verification_check, verify_backups)
from .charts import backup_age_chart, failover_timing_chart, replica_lag_chart, replication_chart
from .database import plan_database_failover, verify_database
from .failover import (FailoverRun, TimedStep, plan_regional_failover, run_regional_failover, verify_dr_serving,
                       wait_for_dr_capacity)
from .operation import OPERATIONS, Outcome, plan_operation, run_operation, validate_parameters
from .readiness import Readiness, readiness
from .restore import RestoreDrill, run_test_restore
from .rpo import RpoStatus, pitr_status, replica_lag_metric, rpo_status

__all__ = [
    "OPERATIONS", "validate_parameters", "plan_operation", "run_operation", "Outcome",
    "DAILY_BACKUP_MAX_AGE_HOURS", "BackupStatus", "backup_status", "s3_backups", "dynamodb_backups",
    "verify_backups", "verification_check",
    "RpoStatus", "rpo_status", "replica_lag_metric", "pitr_status",
    "Readiness", "readiness",
    "TimedStep", "FailoverRun", "plan_regional_failover", "run_regional_failover", "wait_for_dr_capacity",
    "verify_dr_serving", "plan_database_failover", "verify_database",
    "SCRATCH_PREFIX", "plan_test_restore", "RestoreDrill", "run_test_restore",
    "backup_age_chart", "replica_lag_chart", "replication_chart", "failover_timing_chart",
]
