"""PLACEHOLDER (being written)."""


def register(group) -> None:
    return None
