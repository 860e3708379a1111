"""The Mermaid diagram is generated from the definition, so every step the engine can take is
drawn and nothing else is (workflow/contrib/mermaid.py)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from click.testing import CliRunner

from definitions import bundled_directory
from workflow.cli.main import main
from workflow.contrib.mermaid import to_mermaid
from workflow.definition.loader import load_definition_file
from workflow.definition.model import Definition

STATE = re.compile(r'^state "(?P<label>[^"]*)" as (?P<name>\w+)$')
EDGE = re.compile(r"^(?P<source>\[\*\]|\w+) --> (?P<dest>\[\*\]|\w+)(?: : (?P<label>.+))?$")


@pytest.fixture(scope="module")
def definition() -> Definition:
    return load_definition_file(bundled_directory() / "honor_convalescence.yaml")


def parse(text: str) -> tuple[dict[str, str], set[tuple[str, str, str | None]]]:
    """States (name → label) and edges (source, dest, label); fails on any line it cannot read."""
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "stateDiagram-v2"
    states: dict[str, str] = {}
    edges: set[tuple[str, str, str | None]] = set()
    for line in lines[1:]:
        if not line or line.startswith("%%"):
            continue
        if match := STATE.match(line):
            states[match["name"]] = match["label"]
        elif match := EDGE.match(line):
            edges.add((match["source"], match["dest"], match["label"]))
        else:
            pytest.fail(f"not a state or an edge: {line!r}")
    return states, edges


def test_every_state_is_declared_with_its_chinese_label(definition: Definition) -> None:
    states, _ = parse(to_mermaid(definition))
    assert states == {s.name: s.label for s in definition.states}
    assert states["registered"] == "已报名"


def test_every_transition_from_every_source_is_an_edge(definition: Definition) -> None:
    _, edges = parse(to_mermaid(definition))
    expected = {
        (source, t.dest, f"{t.trigger} {t.label}")
        for t in definition.transitions
        for source in t.sources
    }
    assert expected <= edges
    assert ("family_consented", "agency_approved", "approve 军休机构批准") in edges
    drawn_steps = {e for e in edges if e[0] != "[*]" and e[1] != "[*]"}
    assert drawn_steps == expected, "the diagram draws a step the definition does not have"


def test_the_initial_state_comes_from_start_and_terminal_states_lead_to_end(
    definition: Definition,
) -> None:
    _, edges = parse(to_mermaid(definition))
    assert {e for e in edges if e[0] == "[*]"} == {("[*]", "registered", "open 个人报名")}
    ends = {e[0] for e in edges if e[1] == "[*]"}
    assert ends == {s.name for s in definition.states if s.terminal}
    assert "evaluated" in ends
    assert "insured" not in ends


def test_the_comment_names_the_policy_document(definition: Definition) -> None:
    comment = to_mermaid(definition).splitlines()[1].strip()
    assert comment.startswith("%%")
    assert "聊退役军人发〔2023〕2号" in comment
    assert "2025-12-31" in comment


def test_labels_cannot_break_the_diagram(definition: Definition) -> None:
    """A quote, colon or semicolon in a label would end it early in Mermaid; they become
    entity codes, and the rest of the diagram still parses line by line."""
    tricky = 'a "b": c; #d'
    states = tuple(
        dataclasses.replace(s, label=tricky) if s.name == "insured" else s
        for s in definition.states
    )
    transitions = tuple(
        dataclasses.replace(t, label=tricky) if t.trigger == "attend" else t
        for t in definition.transitions
    )
    changed = dataclasses.replace(definition, states=states, transitions=transitions)
    parsed_states, edges = parse(to_mermaid(changed))
    escaped = "a #quot;b#quot;#58; c#59; #35;d"
    assert parsed_states["insured"] == escaped
    assert ("insured", "attended", f"attend {escaped}") in edges


def test_the_diagram_command_prints_json_too() -> None:
    result = CliRunner().invoke(main, ["definitions", "diagram", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["name"] == "honor_convalescence"
    assert body["mermaid"].startswith("stateDiagram-v2")
