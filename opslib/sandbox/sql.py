"""PLACEHOLDER (being written): the sandbox's DuckDB warehouse and PostgreSQL analytics database."""


def start_database(sb) -> str:
    return ""


def seed(sb) -> None:
    return None


def stop_database(sb) -> None:
    return None
