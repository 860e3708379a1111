"""Property: whatever a roster file holds, the importer raises `RosterError` or imports, and a
`RosterError` leaves the database exactly as it was.

Bad files are made the way real ones go bad: good records (the examples) mutated by dropping
and adding keys, swapping values for values of the wrong type, broken dates and ID numbers,
garbage text (control characters, unpaired surrogates, very long strings) and nested junk; CSV
files get garbage cells, lost and unknown columns and ragged rows. Runs on SQLite and PostgreSQL
(PostgreSQL refuses NUL characters that SQLite stores, so both must be tried).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow import Engine
from workflow.roster import RosterError, check_roster, flat_columns, flatten, import_roster
from workflow.store.schema import cadre_changes, cadres

# generated rosters imported into real databases: 6-11 s per test
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE: list[dict[str, Any]] = json.loads(
    (ROOT / "examples" / "roster.json").read_text(encoding="utf-8")
)
FUZZ = settings(
    max_examples=int(os.environ.get("ROSTER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

garbage_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
    st.sampled_from(["", " ", "\x00", "\ud800", "男\x00", "NaN", "null", "X" * 300, "张" * 120]),
)
bad_dates = st.one_of(
    st.sampled_from(
        [
            "1946-02-30",
            "0000-01-01",
            "9999-12-31",
            "19460312",
            "1946/3/12",
            "1946-3-12",
            "1946-03-12T00:00",
            "２０２０-01-01",
            "2024-W01-1",
            "-1946-03-12",
        ]
    ),
    st.dates().map(lambda day: day.isoformat()),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    garbage_text,
    bad_dates,
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(garbage_text, inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and list position inside a record, so a mutation can reach nested fields."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def mutated_roster(draw: st.DrawFn) -> list[Any]:
    records: list[Any] = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(records) - 1))
        record = records[index]
        operation = draw(
            st.sampled_from(
                ["replace", "drop", "add", "date", "id_card", "duplicate", "whole", "nest"]
            )
        )
        if operation == "duplicate":
            records.append(copy.deepcopy(record))
            continue
        if operation == "whole":
            records[index] = draw(junk)
            continue
        if not isinstance(record, dict):
            continue
        if operation == "id_card":
            number = str(record.get("id_card", "371502194603120013"))
            position = draw(st.integers(0, max(0, len(number) - 1)))
            digit = draw(st.sampled_from("0123456789Xx "))
            record["id_card"] = number[:position] + digit + number[position + 1 :]
            continue
        if operation == "date":
            record[draw(st.sampled_from(["birth_date", "placed_on"]))] = draw(bad_dates)
            continue
        reachable = paths(record)
        if not reachable:
            continue
        path = draw(st.sampled_from(reachable))
        *parents, last = path
        target: Any = record
        for part in parents:
            target = target[part]
        if operation == "add":
            target = target if isinstance(target, dict) else record
            target[draw(garbage_text)] = draw(junk)
        elif operation == "drop":
            del target[last]
        elif operation == "nest":
            target[last] = {"value": target[last], "extra": draw(junk)}
        else:
            target[last] = draw(junk)
    return records


@st.composite
def mutated_csv(draw: st.DrawFn) -> list[list[str]]:
    columns = flat_columns()
    grid: list[list[str]] = [list(columns)]
    for record in EXAMPLE:
        grid.append(["" if c is None else str(c) for c in flatten(record, columns)])
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["cell", "cell", "drop_column", "add_column", "ragged"]))
        row = draw(st.integers(0 if operation != "cell" else 1, len(grid) - 1))
        if operation == "cell":
            column = draw(st.integers(0, len(grid[row]) - 1))
            grid[row][column] = draw(st.one_of(garbage_text, bad_dates))
        elif operation == "drop_column":
            column = draw(st.integers(0, len(grid[0]) - 1))
            for cells in grid:
                del cells[column : column + 1]
        elif operation == "add_column":
            grid[0].append(draw(garbage_text))
        else:
            grid[row] = grid[row] + [draw(garbage_text)] * draw(st.integers(1, 3))
    return grid


def snapshot(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.transaction() as connection:
        people = connection.execute(sa.select(cadres).order_by(cadres.c.id)).all()
        log = connection.execute(sa.select(cadre_changes).order_by(cadre_changes.c.id)).all()
    return [tuple(row) for row in people], [tuple(row) for row in log]


def attempt(engine: Engine, path: Path) -> None:
    """The property, for both modes: only RosterError escapes, and it writes nothing."""
    for skip_invalid in (False, True):
        before = snapshot(engine)
        try:
            report = import_roster(engine, path, skip_invalid=skip_invalid)
        except RosterError as error:
            problems, refused = error.problems, True
        else:
            problems, refused = report.problems, False
        if refused:
            assert problems, "a RosterError always says what is wrong"
            assert snapshot(engine) == before
        else:
            assert skip_invalid or not problems
        for problem in problems:
            assert problem.field.strip()
            assert problem.reason.strip()
            str(problem).encode("utf-8")  # printable on a terminal and in a log


@FUZZ
@given(roster=mutated_roster())
def test_json_rosters_fail_only_with_roster_error(
    engine: Engine, tmp_path: Path, roster: list[Any]
) -> None:
    path = tmp_path / "fuzz.json"
    # ensure_ascii: unpaired surrogates and NUL reach the reader as \\u escapes, as from a
    # broken export
    path.write_text(json.dumps(roster, ensure_ascii=True), encoding="utf-8")
    attempt(engine, path)


@FUZZ
@given(grid=mutated_csv())
def test_csv_rosters_fail_only_with_roster_error(
    engine: Engine, tmp_path: Path, grid: list[list[str]]
) -> None:
    path = tmp_path / "fuzz.csv"
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as handle:
        csv.writer(handle).writerows(grid)
    attempt(engine, path)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".json", ".csv", ".xlsx"]))
def test_arbitrary_bytes_are_a_roster_error(
    tmp_path_factory: Any, data: bytes, suffix: str
) -> None:
    """No database needed: a file that is not a roster at all never gets past the reader."""
    path = tmp_path_factory.mktemp("bytes") / f"junk{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(RosterError):
        check_roster(path, today=date(2024, 5, 6))
