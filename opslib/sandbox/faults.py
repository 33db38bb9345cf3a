"""PLACEHOLDER (being written): fault scenarios."""


def inject(sb, scenario):
    raise NotImplementedError(scenario)
