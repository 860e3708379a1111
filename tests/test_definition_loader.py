"""Definition files: every shipped one is valid; every kind of mistake is reported with
file:line:col, and all mistakes of a file at once (issue: engine foundation, item 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from definitions import bundled_directory
from notifications.shipped import ShippedTemplates, template_names
from workflow import DefinitionError, Engine
from workflow.cli.main import main
from workflow.definition.loader import load_definition_file, load_definition_text
from workflow.definition.model import Definition
from workflow.definition.validated import CACHE_VAR
from workflow.i18n import set_language

SHIPPED = sorted(bundled_directory().glob("*.yaml"))
VALID = (bundled_directory() / "honor_convalescence.yaml").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The problems in English (the catalogue's translation, workflow.i18n): the expectations
    below were written in English, and running them so checks the translations too; the
    Chinese default is checked on its own below."""
    set_language("en")
    yield
    set_language(None)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_definition_is_valid(path: Path) -> None:
    definition = load_definition_file(path, templates=ShippedTemplates())
    assert definition.policy.document
    assert not any(s.terminal for s in definition.states if s.name == definition.initial)


def test_the_convalescence_states_follow_article_7_in_order() -> None:
    """A7.1: registered → family consented → agency approved → agreement signed → insured →
    attended → evaluated, plus the exits a real case needs."""
    definition = load_definition_text(VALID, "honor_convalescence.yaml")
    names = [s.name for s in definition.states]
    assert names[:7] == [
        "registered",
        "family_consented",
        "agency_approved",
        "agreement_signed",
        "insured",
        "attended",
        "evaluated",
    ]
    assert {"withdrawn", "consent_refused", "rejected", "unable_to_attend"} <= set(names)
    path = [definition.initial]
    for trigger in ("consent", "approve", "sign_agreement", "insure", "attend", "evaluate"):
        spec = definition.transition(trigger, path[-1])
        assert spec is not None, trigger
        path.append(spec.dest)
    assert path == names[:7]
    assert definition.policy.effective_until is not None
    assert definition.policy.effective_until.isoformat() == "2025-12-31"  # art. 21


def _problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_definition_text(text, "broken.yaml", templates=ShippedTemplates())
    return [str(p) for p in err.value.problems]


# (id, how to break the valid file, the line that must be named, text the message must contain)
BREAKAGES = [
    (
        "unknown-key",
        ("  label: 已报名\n", "  label: 已报名\n    colour: red\n"),
        "colour: red",
        "unknown key 'colour'",
    ),
    (
        "unknown-dest",
        ("dest: agency_approved\n", "dest: agency_aproved\n"),
        "dest: agency_aproved",
        "unknown state 'agency_aproved'",
    ),
    (
        "unknown-guard",
        ("guards: [insurance_covers_stay]", "guards: [insurance_cover_stay]"),
        "insurance_cover_stay",
        "unknown guard 'insurance_cover_stay'",
    ),
    (
        "unknown-role",
        ("roles: [contractor_staff, agency_officer]\n", "roles: [contractor, agency_officer]\n"),
        "roles: [contractor, agency_officer]",
        "unknown role 'contractor'",
    ),
    (
        "bad-date",
        ("effective_until: 2025-12-31", "effective_until: 2025-02-30"),
        "effective_until: 2025-02-30",
        "'2025-02-30' is not a real date",
    ),
    (
        "window-reversed",
        ("effective_until: 2025-12-31", "effective_until: 2022-12-31"),
        "effective_until: 2022-12-31",
        "is before effective_from",
    ),
    ("wrong-type", ("version: 1", "version: one"), "version: one", "expected integer"),
    (
        "missing-key",
        ("    dest: evaluated\n", "\n"),
        "trigger: evaluate",
        "missing required key(s) dest",
    ),
    (
        "duplicate-key",
        ("  label: 已报名\n", "  label: 已报名\n    label: 又一个\n"),
        "label: 又一个",
        "duplicate key 'label'",
    ),
    (
        "bad-field-type",
        ("checked_in_on: {type: date,", "checked_in_on: {type: datetime,"),
        "checked_in_on",
        "is not one of",
    ),
    (
        "terminal-with-exit",
        (
            "    source: [registered, family_consented]\n    dest: rejected",
            "    source: [registered, evaluated]\n    dest: rejected",
        ),
        "source: [registered, evaluated]",
        "terminal state 'evaluated' cannot have exits",
    ),
    (
        "unknown-template",
        ("{template: refusal_notice, to: cadre}", "{template: refusal_notise, to: cadre}"),
        "refusal_notise",
        "unknown template 'refusal_notise'",
    ),
    (
        "notice-to-unknown-role",
        ("{template: refusal_notice, to: cadre}", "{template: refusal_notice, to: cadres}"),
        "to: cadres",
        "unknown role 'cadres'",
    ),
    (
        "timer-unknown-template",
        ("template: consent_reminder}", "template: consent_remind}"),
        "consent_remind}",
        "unknown template 'consent_remind'",
    ),
    (
        "permission-for-unknown-role",
        ("    contractors:write: {city_officer: all}", "    contractors:write: {city_offcer: all}"),
        "contractors:write: {city_offcer: all}",
        "unknown role 'city_offcer'",
    ),
    (
        "cycle-longer-than-the-limit",  # A9.1: the definition's own cycle_max_years decides
        ("    cycle_max_years: 2", "    cycle_max_years: 1"),
        "{id: 2024-2025, start: 2024-01-01, end: 2025-12-31}",
        "a cycle lasts at most 1 years (A9.1): from 2024-01-01 it must end by 2024-12-31",
    ),
    (
        "limits-without-a-figure",
        ("    home_province: 山东", "    home_provinc: 山东"),
        "home_provinc: 山东",
        "home_provinc",
    ),
    (
        "timer-unknown-trigger",
        ("action: remind, role: family,", "action: fire, trigger: nudge, role: family,"),
        "trigger: nudge",
        "timer fires 'nudge'",
    ),
]


@pytest.mark.parametrize(
    ("change", "line_text", "expected"),
    [pytest.param(b[1], b[2], b[3], id=b[0]) for b in BREAKAGES],
)
def test_each_mistake_is_located(change: tuple[str, str], line_text: str, expected: str) -> None:
    old, new = change
    assert old in VALID, f"test fixture out of date: {old!r} not in the definition"
    broken = VALID.replace(old, new, 1)
    problems = _problems(broken)
    matching = [p for p in problems if expected in p]
    assert matching, problems
    line = line_of(broken, line_text)
    assert any(p.startswith(f"broken.yaml:{line}:") for p in matching), (line, matching)


def test_duplicate_trigger_from_the_same_state_names_both_lines() -> None:
    extra = (
        "  - trigger: consent\n    label: 再次同意\n    source: registered\n"
        "    dest: withdrawn\n    roles: [family]\n"
    )
    broken = VALID + extra
    problems = _problems(broken)
    first = line_of(broken, "source: registered", 0)
    assert any(
        "duplicate transition: trigger 'consent' from state 'registered'" in p
        and f"line {first}" in p
        for p in problems
    ), problems


def test_unreachable_and_stuck_states_are_reported() -> None:
    broken = VALID.replace(
        "  - name: withdrawn\n",
        "  - name: limbo\n    label: 悬而未决\n  - name: withdrawn\n",
    )
    problems = _problems(broken)
    limbo = line_of(broken, "name: limbo")
    assert f"broken.yaml:{limbo}:11: state 'limbo' is unreachable from initial 'registered'" in (
        problems
    )
    assert any(
        p.startswith(f"broken.yaml:{limbo}:") and "no transition any role may fire" in p
        for p in problems
    )


def test_a_state_that_cannot_reach_an_end_is_reported() -> None:
    loop = (
        "  - trigger: pause\n    label: 暂停\n    source: attended\n    dest: paused\n"
        "    roles: [agency_officer]\n"
        "  - trigger: resume\n    label: 继续\n    source: paused\n    dest: paused_again\n"
        "    roles: [agency_officer]\n"
        "  - trigger: again\n    label: 再来\n    source: paused_again\n    dest: paused\n"
        "    roles: [agency_officer]\n"
    )
    states = "  - name: paused\n    label: 暂停\n  - name: paused_again\n    label: 再暂停\n"
    broken = VALID.replace("  - name: withdrawn\n", states + "  - name: withdrawn\n") + loop
    problems = _problems(broken)
    assert any("'paused' has no path to a terminal state" in p for p in problems), problems
    assert any("'paused_again' has no path to a terminal state" in p for p in problems)


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    broken = (
        VALID.replace("version: 1", "version: zero")
        .replace("dest: agency_approved\n", "dest: nowhere\n")
        .replace("guards: [insurance_covers_stay]", "guards: [magic]")
    )
    problems = _problems(broken)
    assert len(problems) >= 3
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_yaml_syntax_errors_are_located() -> None:
    problems = _problems("name: x\nstates: [a, b\n")
    assert problems[0].startswith("broken.yaml:3:1: YAML syntax error")


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "just text\n"])
def test_files_that_are_not_a_mapping_are_refused(text: str) -> None:
    assert _problems(text)


def test_yaml_tags_cannot_construct_python_objects() -> None:
    """PITFALLS: definitions are parsed with the safe loader only."""
    problems = _problems("!!python/object/apply:os.system ['true']\n")
    assert problems


def test_summary_is_json_ready() -> None:
    definition: Definition = load_definition_text(VALID, "x.yaml")
    summary = definition.summary()
    assert json.loads(json.dumps(summary, ensure_ascii=False))["policy"]["effective_until"] == (
        "2025-12-31"
    )


class _BrokenTemplates:
    """A template port whose one template fails to render, as a typo in it would."""

    def names(self) -> frozenset[str]:
        return template_names()

    def problems(self, name: str) -> list[str]:
        if name == "approval_notice":
            return ["notifications/templates/approval_notice.txt.j2:7: 'evidnce' is undefined"]
        return []

    def fingerprint(self) -> str:
        return "broken"


def test_without_a_template_check_template_names_are_not_checked() -> None:
    """The loader takes the check as a port (workflow.ports.TemplateCheck): a stored text,
    checked when it was first loaded, is read again without rendering anything."""
    text = VALID.replace(
        "{template: refusal_notice, to: cadre}", "{template: refusal_notise, to: cadre}"
    )
    assert load_definition_text(text, "x.yaml").name == "honor_convalescence"
    assert any("unknown template 'refusal_notise'" in p for p in _problems(text))


def test_a_template_that_fails_to_render_is_reported_where_it_is_used() -> None:
    with pytest.raises(DefinitionError) as err:
        load_definition_text(VALID, "broken.yaml", templates=_BrokenTemplates())
    problems = [str(p) for p in err.value.problems]
    line = line_of(VALID, "{template: approval_notice, to: cadre}")
    assert any(
        p.startswith(f"broken.yaml:{line}:") and "'evidnce' is undefined" in p for p in problems
    ), problems


def _misspelt_successor(tmp_path: Path) -> Path:
    """The bundled policy as a later version whose refusal notice names no shipped template."""
    text = VALID.replace(
        "{template: refusal_notice, to: cadre}", "{template: refusal_notise, to: cadre}"
    )
    path = tmp_path / "misspelt.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_definitions_validate_wires_the_shipped_templates_in(tmp_path: Path) -> None:
    """The command passes the real template check (the loader no longer imports one)."""
    path = _misspelt_successor(tmp_path)
    result = CliRunner().invoke(main, ["definitions", "validate", str(path)])
    assert result.exit_code == 2
    line = line_of(VALID, "{template: refusal_notice, to: cadre}")
    assert f"{path}:{line}:" in result.stdout
    assert "未知模板 'refusal_notise'" in result.stdout  # the command speaks Chinese


def test_the_engine_wires_the_shipped_templates_in(tmp_path: Path) -> None:
    """An engine refuses a definition directory naming a notice that does not exist, when it
    loads it, not when a case first reaches the step that would send it."""
    _misspelt_successor(tmp_path)
    with pytest.raises(DefinitionError, match="unknown template 'refusal_notise'"):
        Engine("sqlite://", definition_dirs=[tmp_path])


class _CountingTemplates:
    """The shipped templates, counting how often a definition asks for their problems."""

    def __init__(self) -> None:
        self.shipped = ShippedTemplates()
        self.asked = 0

    def names(self) -> frozenset[str]:
        return self.shipped.names()

    def problems(self, name: str) -> list[str]:
        self.asked += 1
        return self.shipped.problems(name)

    def fingerprint(self) -> str:
        return self.shipped.fingerprint()


def test_a_validated_text_is_not_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: each command loads the definitions; a text that passed these very checks is
    parsed and built, not checked against the schema and rendered again."""
    monkeypatch.setenv(CACHE_VAR, str(tmp_path / "cache"))
    first, second = _CountingTemplates(), _CountingTemplates()
    built = load_definition_text(VALID, "x.yaml", templates=first)
    assert first.asked > 0
    assert load_definition_text(VALID, "x.yaml", templates=second) == built
    assert second.asked == 0
    assert len(list((tmp_path / "cache" / "validated").iterdir())) == 1
    # another text, other templates or no cache at all: checked again
    third = _CountingTemplates()
    load_definition_text(
        VALID.replace("title: 军休干部荣誉疗养", "title: 荣誉疗养"), "x.yaml", templates=third
    )
    assert third.asked > 0
    with pytest.raises(DefinitionError):
        load_definition_text(VALID, "broken.yaml", templates=_BrokenTemplates())
    monkeypatch.setenv(CACHE_VAR, str(tmp_path / "other"))
    fourth = _CountingTemplates()
    load_definition_text(VALID, "x.yaml", templates=fourth)
    assert fourth.asked > 0


def test_problems_speak_chinese_by_default() -> None:
    """Without --lang en or an English locale an officer reads the problem in Chinese."""
    set_language(None)
    text = "name: x\nversion: 1\nstates: [{name: a}]\ninitial: b\ntransitions: []\n"
    with pytest.raises(DefinitionError, match="未知状态 'b'"):
        load_definition_text(text, "x.yaml")


def test_without_a_home_directory_definitions_load_unremembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container with no $HOME and no passwd entry: the cache is simply not used."""
    monkeypatch.delenv(CACHE_VAR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert load_definition_text(VALID, "x.yaml", templates=ShippedTemplates()).version == 1


def test_validate_always_checks_even_a_remembered_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_VAR, str(tmp_path / "cache"))
    load_definition_text(VALID, "x.yaml", templates=_CountingTemplates())
    again = _CountingTemplates()
    load_definition_text(VALID, "x.yaml", templates=again, trust_cache=False)
    assert again.asked > 0
