"""ARN and resource-id names: the one place that takes an ARN (or a path-like id) apart.

``arn:aws:ecs:us-east-1:123456789012:task-definition/my-family:24`` -> ``my-family:24``;
``/hostedzone/Z123`` -> ``Z123``. A name without a ``/`` is returned as it is, so a caller may pass either."""
from __future__ import annotations


def short_name(arn: str | None) -> str:
    """The resource's own name: what follows the last ``/`` of an ARN or id (``""`` for None)."""
    return (arn or "").rsplit("/", 1)[-1]


def task_definition(arn: str | None) -> str:
    """``arn:...:task-definition/<family>:<revision>`` (or ``family:revision``) -> ``family:revision``."""
    return short_name(arn)


def family_revision(task_definition_arn: str) -> tuple[str, int]:
    """``arn:...:task-definition/<family>:<revision>`` (or ``family:revision``) -> (family, revision)."""
    family, rev = short_name(task_definition_arn).rsplit(":", 1)
    return family, int(rev)

