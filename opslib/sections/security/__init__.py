"""Security Operations (runbook section 9): monitoring (CloudTrail, exposed credentials, IAM), the data
breach response as actions, and compliance (GDPR erasure, retention, audit trail).

One module per concern: :mod:`.activity` (CloudTrail events, rules, chart), :mod:`.credentials` (the
exposed-credential scan), :mod:`.iam` (admin rights, key ages), :mod:`.response` (containment plan and
investigation), :mod:`.compliance` (GDPR, retention, audit trail)."""
from . import activity, compliance, credentials, iam, parameters, response
from .activity import activity_chart, activity_check, classify, events, suspicious
from .compliance import (audit_trail_check, data_ages, deletion_counts, plan_gdpr_deletion, recent_audit_logs,
                         retention_compliance, trail_status)
from .credentials import Exposures, exposure_check, scan
from .iam import admin_check, admin_grants, authorization_details, key_ages, old_keys_check, unused_keys_check
from .parameters import Parameters, check_parameters
from .response import Investigation, ResponseTargets, investigate, plan_response, targets

__all__ = [
    "activity", "compliance", "credentials", "iam", "parameters", "response",
    "events", "classify", "suspicious", "activity_check", "activity_chart",
    "scan", "Exposures", "exposure_check",
    "authorization_details", "admin_grants", "admin_check", "key_ages", "old_keys_check", "unused_keys_check",
    "check_parameters", "Parameters", "targets", "ResponseTargets", "plan_response", "investigate", "Investigation",
    "plan_gdpr_deletion", "deletion_counts", "data_ages", "retention_compliance", "trail_status",
    "audit_trail_check", "recent_audit_logs",
]
