"""``convalescence definitions draft``: a successor file from the current version (issue 13 item 2).

The draft is the current file's text with the new version, document, window, cycles (A9.1) and
``migrates_from`` map (A21.1) put in, every other line as it was; it passes ``definitions
validate`` alone and beside the bundled files; refused terms write nothing. The pure text
edits are also tried on layouts the bundled file does not use (a flow-style ``policy:``, block
cycles, no final newline). One test drafts from a version published into the database, on both
databases, since the catalog then comes from there.
"""

from __future__ import annotations

import difflib
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from definitions import bundled_directory
from workflow import Engine
from workflow.cli.main import main
from workflow.definition.catalog import Catalog
from workflow.definition.draft import SuccessorTerms, draft_successor, successor_cycles
from workflow.definition.loader import load_definition_file, load_definition_text
from workflow.errors import InputError
from workflow.machine import Actor
from workflow.publishing import publish

BUNDLED = bundled_directory() / "honor_convalescence.yaml"
DOCUMENT = "聊退役军人发〔2026〕1号"
WINDOW = ["--effective-from", "2026-01-01", "--effective-until", "2027-12-31"]


def window(start: str, until: str = "2027-12-31") -> list[str]:
    return ["--effective-from", start, "--effective-until", until]


TERMS = SuccessorTerms(2, DOCUMENT, date(2026, 1, 1), date(2027, 12, 31))


@pytest.fixture(autouse=True)
def no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working directory with no default database: the catalog is the bundled files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVALESCENCE_DB", raising=False)


def draft_cli(*args: str, now: str = "2026-01-05T09:00") -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--now", now, "definitions", "draft", *args])
    return result.exit_code, result.output


# -- cycles (A9.1) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "years", "expected"),
    [
        ("2026-01-01", "2027-12-31", 2, [("2026-2027", "2026-01-01", "2027-12-31")]),
        (
            "2026-03-15",
            "2029-06-30",
            2,
            [("2026-2027", "2026-03-15", "2027-12-31"), ("2028-2029", "2028-01-01", "2029-06-30")],
        ),
        (
            "2026-01-01",
            "2027-12-31",
            1,
            [("2026", "2026-01-01", "2026-12-31"), ("2027", "2027-01-01", "2027-12-31")],
        ),
        ("2026-07-01", "2026-07-01", 2, [("2026", "2026-07-01", "2026-07-01")]),
    ],
)
def test_cycles_cover_the_window_in_calendar_years_of_at_most_the_limit(
    start: str, end: str, years: int, expected: list[tuple[str, str, str]]
) -> None:
    cycles = successor_cycles(date.fromisoformat(start), date.fromisoformat(end), years)
    assert [(c.id, c.start.isoformat(), c.end.isoformat()) for c in cycles] == expected


# -- the command ------------------------------------------------------------------------------


def test_the_draft_changes_only_what_the_new_document_decides(tmp_path: Path) -> None:
    code, out = draft_cli("honor_convalescence", "--document", DOCUMENT, *WINDOW, "-o", "v2.yaml")
    assert code == 0, out
    assert "v2.yaml" in out
    assert "2026-2027" in out
    original = BUNDLED.read_text(encoding="utf-8")
    drafted = (tmp_path / "v2.yaml").read_text(encoding="utf-8")
    lines = list(difflib.ndiff(original.splitlines(), drafted.splitlines()))
    removed = [line[2:].strip() for line in lines if line.startswith("- ")]
    assert removed == [
        "version: 1",
        "document: 聊退役军人发〔2023〕2号",
        "issued_on: 2023-03-23",
        "effective_from: 2023-03-23",
        "effective_until: 2025-12-31",
        '- {id: "2023", start: 2023-03-23, end: 2023-12-31}',
        "- {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}",
    ]  # every comment and every other line stays as the officer knows it
    assert drafted.startswith(
        "# 草稿：2026-01-05 由 honor_convalescence 第 1 版（聊退役军人发〔2023〕2号）"
    )
    assert "migrates_from:                    # A21.1: open cases of version 1" in drafted

    loaded = load_definition_file(tmp_path / "v2.yaml")
    assert (loaded.name, loaded.version, loaded.policy.document) == (
        "honor_convalescence",
        2,
        DOCUMENT,
    )
    assert loaded.policy.issued_on == date(2026, 1, 1)  # by default the first day in force
    assert (loaded.policy.effective_from, loaded.policy.effective_until) == (
        date(2026, 1, 1),
        date(2027, 12, 31),
    )
    assert loaded.rules is not None
    assert [(c.id, c.start, c.end) for c in loaded.rules.cycles] == [
        ("2026-2027", date(2026, 1, 1), date(2027, 12, 31))
    ]
    assert loaded.migrates_from is not None
    assert loaded.migrates_from.version == 1
    open_states = [s.name for s in load_definition_file(BUNDLED).states if not s.terminal]
    assert loaded.migrates_from.states == {name: name for name in open_states}
    assert "attended" in open_states
    assert "evaluated" not in open_states

    alone = CliRunner().invoke(main, ["definitions", "validate", "v2.yaml"])
    assert alone.exit_code == 0, alone.output
    beside = CliRunner().invoke(
        main, ["definitions", "validate", "v2.yaml", str(bundled_directory())]
    )
    assert beside.exit_code == 0, beside.output  # the windows do not overlap (A21.1)


@pytest.mark.parametrize("name", ["honor_convalescence", "condolence_visit"])
def test_every_bundled_definition_drafts_a_valid_successor(name: str, tmp_path: Path) -> None:
    code, out = draft_cli(name, "--document", DOCUMENT, *WINDOW, "--json", "-o", "next.yaml")
    assert code == 0, out
    report = json.loads(out)
    current = Catalog.from_directories([bundled_directory()]).get(name)
    assert report["version"] == report["from_version"] + 1 == current.version + 1
    loaded = load_definition_file(tmp_path / "next.yaml")
    assert loaded.version == current.version + 1
    assert report["migrates_from"] == {
        "version": current.version,
        "states": {s.name: s.name for s in current.states if not s.terminal},
    }
    alone = CliRunner().invoke(main, ["definitions", "validate", "next.yaml"])
    assert alone.exit_code == 0, alone.output


def test_version_and_issue_day_may_be_given_and_the_label_follows_the_language(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        main,
        [
            *("--lang", "en", "--now", "2026-01-05T09:00", "definitions", "draft"),
            *("honor_convalescence", "--version", "5", "--document", DOCUMENT),
            *("--issued-on", "2025-12-20", *WINDOW, "-o", "v5.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    drafted = (tmp_path / "v5.yaml").read_text(encoding="utf-8")
    assert drafted.startswith("# DRAFT generated on 2026-01-05 from honor_convalescence version 1")
    loaded = load_definition_file(tmp_path / "v5.yaml")
    assert (loaded.version, loaded.policy.issued_on) == (5, date(2025, 12, 20))


# -- refusals: nothing written ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["nope", "--document", DOCUMENT, *WINDOW], 4, "nope"),
        (["honor_convalescence", "--document", DOCUMENT, *window("2025-07-01")], 2, "A21.1"),
        (
            ["honor_convalescence", "--document", DOCUMENT, *window("2028-01-01")],
            2,
            "2028-01-01",
        ),
        (["honor_convalescence", "--version", "1", "--document", DOCUMENT, *WINDOW], 2, "1"),
        (["honor_convalescence", "--document", " ", *WINDOW], 2, "--document"),
        (
            ["honor_convalescence", "--document", DOCUMENT, *window("2026-02-30")],
            2,
            "2026-02-30",
        ),
    ],
    ids=["unknown-name", "overlap", "ends-before-start", "old-version", "no-document", "bad-date"],
)
def test_refused_terms_write_nothing(
    args: list[str], code: int, words: str, tmp_path: Path
) -> None:
    exit_code, out = draft_cli(*args, "-o", "draft.yaml")
    assert exit_code == code, out
    assert words in out
    assert not (tmp_path / "draft.yaml").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no partial file either


def test_the_overlap_refusal_names_the_day_the_successor_may_start() -> None:
    code, out = draft_cli(
        "honor_convalescence", "--document", DOCUMENT, "--effective-from", "2025-12-31",
        "--effective-until", "2027-12-31", "-o", "v2.yaml",
    )  # fmt: skip
    assert code == 2
    assert "2025-12-31" in out
    assert "2026-01-01" in out
    assert "A21.1" in out


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "v2.yaml"
    target.write_text("mine\n", encoding="utf-8")
    code, out = draft_cli("honor_convalescence", "--document", DOCUMENT, *WINDOW, "-o", "v2.yaml")
    assert code == 2
    assert "--force" in out
    assert target.read_text(encoding="utf-8") == "mine\n"
    forced, out = draft_cli(
        "honor_convalescence", "--document", DOCUMENT, *WINDOW, "-o", "v2.yaml", "--force"
    )
    assert forced == 0, out
    assert load_definition_file(target).version == 2


# -- the text edits on other layouts ------------------------------------------------------------


def _bundled_text() -> str:
    return BUNDLED.read_text(encoding="utf-8")


def _with_policy(policy: str) -> str:
    text = _bundled_text()
    return text.replace(text[text.index("policy:") : text.index("\nroles:")], policy)


FLOW_POLICY = (
    "policy: {title: 聊城市军队离休退休干部荣誉疗养实施细则, document: '聊退役军人发〔2023〕2号', "
    "effective_from: 2023-03-23, effective_until: 2025-12-31}  # A21.1\n"
)


def test_a_flow_policy_keeps_its_quotes_and_comment_and_gains_an_issue_day() -> None:
    current = load_definition_text(_with_policy(FLOW_POLICY), "flow.yaml")
    assert current.policy.issued_on is None
    drafted = draft_successor(current, TERMS, today=date(2026, 1, 5)).text
    assert (
        "policy: {title: 聊城市军队离休退休干部荣誉疗养实施细则, issued_on: 2026-01-01, "
        "document: '聊退役军人发〔2026〕1号', effective_from: 2026-01-01, "
        "effective_until: 2027-12-31}  # A21.1\n"
    ) in drafted
    loaded = load_definition_text(drafted, "v2.yaml")
    assert loaded.policy.issued_on == date(2026, 1, 1)


def test_a_block_policy_without_an_issue_day_gains_one_after_its_title() -> None:
    policy = (
        "policy:                                   # A1.1, A21.1\n"
        "  title: 聊城市军队离休退休干部荣誉疗养实施细则\n"
        "  document: 聊退役军人发〔2023〕2号\n"
        "  effective_from: 2023-03-23\n"
        "  effective_until: 2025-12-31\n"
    )
    current = load_definition_text(_with_policy(policy), "block.yaml")
    drafted = draft_successor(current, TERMS, today=date(2026, 1, 5)).text
    assert (
        "  title: 聊城市军队离休退休干部荣誉疗养实施细则\n"
        "  issued_on: 2026-01-01\n"
        "  document: 聊退役军人发〔2026〕1号\n"
    ) in drafted


def test_a_policy_in_force_until_further_notice_is_overlapped_by_any_successor() -> None:
    open_ended = FLOW_POLICY.replace(", effective_until: 2025-12-31", "")
    current = load_definition_text(_with_policy(open_ended), "flow.yaml")
    with pytest.raises(InputError, match=r"A21\.1"):
        draft_successor(current, TERMS, today=date(2026, 1, 5))


def test_block_cycles_and_a_missing_final_newline_keep_their_shape() -> None:
    text = _bundled_text()
    text = text.replace(
        '    - {id: "2023", start: 2023-03-23, end: 2023-12-31}\n'
        "    - {id: 2024-2025, start: 2024-01-01, end: 2025-12-31}\n",
        '    - id: "2023"          # the first, short cycle\n'
        "      start: 2023-03-23\n"
        "      end: 2023-12-31\n"
        "    - id: 2024-2025\n"
        "      start: 2024-01-01\n"
        "      end: 2025-12-31\n"
        "    # cycles end here\n",
    ).rstrip("\n")
    current = load_definition_text(text, "block.yaml")
    terms = SuccessorTerms(3, "X〔2026〕9号", date(2026, 3, 1), date(2029, 12, 31))
    drafted = draft_successor(current, terms, today=date(2026, 1, 5)).text
    assert (
        "    - id: 2026-2027\n      start: 2026-03-01\n      end: 2027-12-31\n"
        "    - id: 2028-2029\n      start: 2028-01-01\n      end: 2029-12-31\n"
        "    # cycles end here\n"
    ) in drafted
    loaded = load_definition_text(drafted, "v3.yaml")
    assert loaded.rules is not None
    assert [c.id for c in loaded.rules.cycles] == ["2026-2027", "2028-2029"]
    assert loaded.migrates_from is not None
    assert loaded.migrates_from.version == 1


def test_a_draft_of_a_draft_replaces_its_migration_map() -> None:
    first = draft_successor(load_definition_file(BUNDLED), TERMS, today=date(2026, 1, 5)).definition
    terms = SuccessorTerms(3, "X〔2027〕1号", date(2028, 1, 1), date(2029, 12, 31))
    second = draft_successor(first, terms, today=date(2027, 6, 1))
    assert second.text.count("migrates_from:") == 1
    assert second.definition.migrates_from is not None
    assert second.definition.migrates_from.version == 2


# -- from a version published into the database ---------------------------------------------------


def test_the_current_version_may_be_one_published_into_the_database(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    v2 = draft_successor(load_definition_file(BUNDLED), TERMS, today=date(2024, 5, 6))
    publish(engine, v2.text, "v2.yaml", actor=Actor.parse("city_officer:赵敏"))
    code, out = draft_cli(
        "honor_convalescence", "--document", "X〔2027〕1号", "--effective-from", "2028-01-01",
        "--effective-until", "2029-12-31", "--db", db_url, "-o", "v3.yaml",
    )  # fmt: skip
    assert code == 0, out
    drafted = (tmp_path / "v3.yaml").read_text(encoding="utf-8")
    assert "第 2 版（聊退役军人发〔2026〕1号）" in drafted.splitlines()[0]
    loaded = load_definition_file(tmp_path / "v3.yaml")
    assert loaded.version == 3
    assert loaded.migrates_from is not None
    assert loaded.migrates_from.version == 2
