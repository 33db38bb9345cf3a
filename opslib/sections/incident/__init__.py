"""Incident Response (runbook section "Incident Response"): severity levels; the API Down, High Error
Rate and Stream Backup procedures as symptoms judged on live data; their immediate actions as
diagnostics; root-cause hints backed by data; remedies planned through :mod:`opslib.actions`.

Modules: :mod:`.procedures` (parameters, severity, signals, symptoms), :mod:`.diagnostics` (ECS,
targets, logs, error_logs, checkpoints, poison scan), :mod:`.hints`, :mod:`.remedies`, :mod:`.figures`."""
from .diagnostics import (PoisonScan, checkpoints, ecs_status, error_events, error_logs_summary, error_patterns,
                          health_checks, recent_deployments, scan_poison, stopped_tasks, target_health, validate_record)
from .figures import error_chart, lag_chart, memory_chart
from .hints import (SuspectDeployment, aws_issue_hint, db_connections_hint, deployment_hint, error_log_check,
                    hint_table, memory_hint, memory_hints, onset, poison_hint)
from .procedures import (API_ROLE, PROCEDURES, PROCESSOR_ROLE, REMEDIES, Symptom, check_parameters, check_positive,
                         check_procedure, check_remedy, memory_column, memory_metric, procedure_checks, role_checks,
                         role_services, rule_states, select_procedures, service_roles, severity_table, signals,
                         symptom_table, symptoms, thresholds, Thresholds)
from .remedies import choose_remedies, plan_remedies, plan_skip_poison

__all__ = ["API_ROLE", "PROCESSOR_ROLE", "memory_column", "memory_hints", "memory_metric", "role_checks",
           "role_services", "service_roles", "aws_issue_hint", "check_parameters", "check_positive",
           "check_procedure", "check_remedy", "checkpoints", "choose_remedies",
           "db_connections_hint", "deployment_hint", "ecs_status", "error_chart", "error_events",
           "error_log_check", "error_logs_summary", "error_patterns", "health_checks", "hint_table",
           "lag_chart", "memory_chart", "memory_hint", "onset", "plan_remedies", "plan_skip_poison",
           "poison_hint", "PoisonScan", "procedure_checks", "PROCEDURES", "recent_deployments", "REMEDIES",
           "rule_states", "scan_poison", "select_procedures", "severity_table", "signals", "stopped_tasks",
           "SuspectDeployment", "Symptom", "symptom_table", "symptoms", "target_health", "thresholds",
           "Thresholds", "validate_record"]
