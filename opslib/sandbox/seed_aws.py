"""PLACEHOLDER (being written): seed the runbook's AWS resources."""


def seed(sb) -> None:
    return None
