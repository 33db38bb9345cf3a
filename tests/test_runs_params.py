"""Parameter validation against the parameters cell, before any kernel starts."""
from __future__ import annotations

from pathlib import Path

import pytest

from opslib.errors import ParameterError
from opslib.runner.catalog import discover, resolve
from opslib.runner.params import load_parameter_file, parse_assignments, validate_parameters

TOYS = Path(__file__).parent / "notebooks"


@pytest.fixture(scope="module")
def params():
    return resolve(str(TOYS / "ok.ipynb")).parameters


def test_types_come_from_annotation_or_default(params):
    kinds = {p.name: p.type_name for p in params.values()}
    assert kinds == {"profile": "str", "run_id": "any", "incident_id": "any", "threshold": "int", "ratio": "float",
                     "label": "str", "flag": "bool", "hours": "list"}
    assert params["threshold"].help == "checks fail above this"


def test_text_values_are_converted(params):
    raw = {"threshold": "5", "ratio": "2", "flag": "yes", "hours": "[3, 4]", "label": "12"}
    assert validate_parameters(params, raw, from_text=raw) == {
        "threshold": 5, "ratio": 2.0, "flag": True, "hours": [3, 4], "label": "12"}


@pytest.mark.parametrize("values, text, name", [
    ({"thresold": "5"}, True, "thresold"),          # unknown (typo)
    ({"threshold": "five"}, True, "threshold"),
    ({"flag": "maybe"}, True, "flag"),
    ({"hours": "{a: 1}"}, True, "hours"),
    ({"threshold": 1.5}, False, "threshold"),       # from a YAML file: already typed
    ({"threshold": True}, False, "threshold"),
    ({"label": 3}, False, "label"),
    ({"profile": "prod"}, True, "profile"),         # only --profile sets it
])
def test_errors_name_the_parameter(params, values, text, name):
    with pytest.raises(ParameterError) as info:
        validate_parameters(params, values, from_text=values if text else ())
    assert info.value.name == name and name in str(info.value)


def test_assignments_and_files(tmp_path):
    assert parse_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignments(["novalue"])
    f = tmp_path / "p.yaml"
    f.write_text("threshold: 7\nhours: [1]\n")
    assert load_parameter_file(f) == {"threshold": 7, "hours": [1]}
    f.write_text("- 1\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_parameter_file(f)


def test_catalog_reads_metadata_and_resolves_short_names():
    by_name = {n.name: n for n in discover(TOYS)}
    assert by_name["ok"].read_only and not by_name["die"].read_only
    assert by_name["chart"].purpose == "Two plotly charts."
    assert resolve("warn", TOYS).path == (TOYS / "warn.ipynb").resolve()
    with pytest.raises(ParameterError, match="chart, die"):
        resolve("nope", TOYS)


def test_dates_stay_text_as_typed(params, tmp_path):
    """YAML would read 2026-11-23 as a date, which a notebook cannot receive (nbformat cannot store it)."""
    raw = {"hours": "[2026-11-23, 3]"}
    assert validate_parameters(params, raw, from_text=raw) == {"hours": ["2026-11-23", 3]}
    f = tmp_path / "p.yaml"
    f.write_text("label: 2026-11-23T10:00:00\nhours: [2026-11-23]\n")
    values = load_parameter_file(f)
    assert values == {"label": "2026-11-23T10:00:00", "hours": ["2026-11-23"]}
    assert validate_parameters(params, values) == values
