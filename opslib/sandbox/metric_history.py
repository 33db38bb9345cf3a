"""PLACEHOLDER (being written): CloudWatch metric history of the sandbox."""


def seed(sb) -> None:
    return None
