"""One roster vocabulary (issue 11, item 4): the record validator, the eligibility profile check
and the demo generator all read `workflow.roster.vocabulary`, and no module keeps its own copy.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_roster_record import GOOD, TODAY

from workflow.definition.catalog import Catalog
from workflow.demo.roster import COUNTIES as DEMO_COUNTIES
from workflow.demo.roster import generate_roster
from workflow.idcard import id_card_problem
from workflow.profile_check import profile_problems
from workflow.roster import InvalidRecord, parse_record, vocabulary

ROOT = Path(__file__).resolve().parent.parent
ENUMERATIONS = {
    "CATEGORIES": vocabulary.CATEGORIES,
    "HONOUR_KINDS": vocabulary.HONOUR_KINDS,
    "HONOUR_LEVELS": vocabulary.HONOUR_LEVELS,
    "RECOMMENDERS": vocabulary.RECOMMENDERS,
    "HEALTH_KEYS": vocabulary.HEALTH_KEYS,
}
RULES = Catalog.from_directories([ROOT / "definitions"]).get("honor_convalescence").rules


def _literal_tuples(path: Path) -> set[tuple[Any, ...]]:
    """Every tuple of two or more constants written in ``path``."""
    found: set[tuple[Any, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        elements = node.elts if isinstance(node, ast.Tuple) else []
        if len(elements) > 1 and all(isinstance(e, ast.Constant) for e in elements):
            found.add(tuple(e.value for e in elements if isinstance(e, ast.Constant)))
    return found


SOURCES = sorted(p for p in (ROOT / "workflow").rglob("*.py") if p.name != "vocabulary.py")


@pytest.mark.parametrize("name", sorted(ENUMERATIONS))
def test_no_module_keeps_its_own_copy(name: str) -> None:
    values = tuple(ENUMERATIONS[name])
    copies = [str(p.relative_to(ROOT)) for p in SOURCES if values in _literal_tuples(p)]
    assert copies == [], f"{name} written again in {copies}"


def test_the_health_defaults_cover_exactly_the_health_facts() -> None:
    assert tuple(vocabulary.HEALTH_DEFAULTS) == vocabulary.HEALTH_KEYS  # A8.1


@pytest.mark.parametrize("category", vocabulary.CATEGORIES)
def test_every_category_of_the_vocabulary_is_accepted(category: str) -> None:
    branch = vocabulary.CATEGORY_BRANCH.get(category, "PLA")  # A2.1 / A20.1
    record = parse_record({**GOOD, "category": category, "branch": branch}, today=TODAY)
    assert record.category == category


def test_a_category_outside_the_vocabulary_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_record({**GOOD, "category": "退伍军人"}, today=TODAY)
    assert [p.field for p in info.value.problems] == ["category"]


@pytest.mark.parametrize("kind", [*vocabulary.HONOUR_KINDS, "medal"])
def test_the_profile_check_reads_the_same_honour_kinds(kind: str) -> None:
    assert RULES is not None
    honours = [{"kind": kind, "level": "city", "year": 2021}]
    problems = profile_problems({**GOOD, "honours": honours}, RULES)
    assert any("kind" in key for key, _ in problems) == (kind not in vocabulary.HONOUR_KINDS)


def test_the_demo_draws_its_counties_and_categories_from_the_vocabulary() -> None:
    assert {c: region for c, (region, _) in DEMO_COUNTIES.items()} == dict(vocabulary.COUNTIES)
    records = generate_roster(200, seed=7, as_of=TODAY)
    assert {r["county"] for r in records} == set(vocabulary.COUNTIES)
    assert {r["category"] for r in records} <= set(vocabulary.CATEGORIES)
    for record in (r for r in records if r.get("id_card")):
        assert record["id_card"][:6] == vocabulary.COUNTIES[record["county"]]
        assert id_card_problem(record["id_card"], None) is None


def test_the_vocabulary_and_the_record_checks_load_no_database_layer() -> None:
    statement = (
        "import sys, workflow.roster.vocabulary, workflow.roster.record\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy loaded'\n"
        "assert 'workflow.roster.importer' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", statement], check=True, timeout=60, cwd=ROOT)
