"""``audit invariants``: the cross-table invariants that no interleaving of steps, retries or
killed processes may break (issue 18), checked on a database as it stands.

`audit verify` proves the history was not rewritten; these say the rest of the database agrees
with it: a case's version is the number of its history rows and its state is the last one's
``to_state`` (A19.1), a batch's seat counter is its seat rows and within capacity (A6.2), a case
holds a seat and a cycle participation exactly while it takes part, one participation claim
per cadre and cycle (A9.2), one condolence visit per cadre and cycle (A9.3), and every notice a
step declares is in the outbox under the step's key (the outbox commits with the step). Which
states take part and which steps send what is read from the stored definitions themselves, so
a case on an older version is judged by its own text.

``benchmarks/soak.py`` runs this after SIGKILLing its nodes; an office may run it any time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflow.audit import verify_database
from workflow.engine import Engine
from workflow.store import invariants as store

VISIT_DEFINITION = "condolence_visit"


@dataclass(frozen=True)
class InvariantResult:
    """One invariant: its name, the article it guards, how many subjects it looked at, how many
    break it, and the first of those (enough to reproduce)."""

    name: str
    article: str
    checked: int
    violations: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "article": self.article,
            "checked": self.checked,
            "violations": self.violations,
            "examples": self.examples,
        }


@dataclass(frozen=True)
class InvariantReport:
    results: list[InvariantResult]

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": self.violations,
            "invariants": [r.to_json() for r in self.results],
        }


@dataclass(frozen=True)
class _Policy:
    """What the stored definitions say the invariants depend on."""

    participating: dict[int, tuple[str, ...]]
    visits: list[int]
    notices: dict[tuple[int, str, str | None], tuple[tuple[str, str], ...]]


def _policy(engine: Engine) -> _Policy:
    # the loader (YAML, JSON schema) only when invariants are checked
    from workflow.definition.loader import load_definition_text  # noqa: PLC0415

    with engine.transaction() as connection:
        stored = store.stored_definitions(connection)
    participating: dict[int, tuple[str, ...]] = {}
    visits: list[int] = []
    notices: dict[tuple[int, str, str | None], tuple[tuple[str, str], ...]] = {}
    for definition_id, name, source_name, text in stored:
        definition = load_definition_text(text, source_name)
        if definition.rules is not None and definition.rules.participation_states:
            participating[definition_id] = tuple(definition.rules.participation_states)
        if name == VISIT_DEFINITION:
            visits.append(definition_id)
        if definition.open.notify:
            notices[(definition_id, "open", None)] = tuple(
                (n.template, n.to) for n in definition.open.notify
            )
        for transition in definition.transitions:
            for source in transition.sources:
                if transition.notify:
                    notices[(definition_id, transition.trigger, source)] = tuple(
                        (n.template, n.to) for n in transition.notify
                    )
    return _Policy(participating, visits, notices)


def check_invariants(engine: Engine) -> InvariantReport:
    """Every invariant, each on its own read; the audit chains last (`verify_database`)."""
    policy = _policy(engine)
    checks: list[tuple[str, str, Callable[[Any], store.Found]]] = [
        ("version_is_history_length", "A19.1", store.version_is_history_length),
        ("state_is_last_history_row", "A19.1", store.state_is_last_history_row),
        ("seats_match_their_rows", "A6.2", store.seats_match_their_rows),
        (
            "seats_are_participations",
            "A9.2",
            lambda c: store.seats_are_participations(c, policy.participating),
        ),
        (
            "one_participation_per_cadre_and_cycle",
            "A9.2",
            store.one_participation_per_cadre_and_cycle,
        ),
        (
            "one_visit_per_cadre_and_cycle",
            "A9.3",
            lambda c: store.one_visit_per_cadre_and_cycle(c, policy.visits),
        ),
        (
            "step_notices_in_outbox",
            "A7.1",
            lambda c: store.step_notices_in_outbox(c, policy.notices),
        ),
    ]
    results = []
    for name, article, check in checks:
        with engine.transaction() as connection:
            found = check(connection)
        results.append(
            InvariantResult(name, article, found.checked, found.broken_count, found.broken)
        )
    audit = verify_database(engine.db)
    broken = audit.broken
    results.append(
        InvariantResult(
            "audit_verify",
            "A19.1",
            audit.records,
            0 if broken is None else 1,
            [] if broken is None else [{"error": str(broken.error())}],
        )
    )
    return InvariantReport(results)
