"""One voice (workflow.i18n): every message the code marks has an English translation, the
shipped ``.mo`` says what the ``.po`` says, Chinese is the default and English is one switch away.

Messages are extracted here with Babel's own Python extractor (``_``, ``N_``, ``ngettext``), the
same one ``pybabel extract`` runs, so a message added without a translation fails this file
rather than reaching an English-speaking user in Chinese.
"""

from __future__ import annotations

import gettext
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from click.testing import CliRunner

import workflow
from workflow import i18n
from workflow.cadres import cadre_row
from workflow.cli.main import language_in, main
from workflow.errors import ConflictError, InputError, NotFoundError, TransitionNotAllowed

PACKAGE = Path(workflow.__file__).parent
# the packages whose messages the catalogue carries (notifications speaks to officers too)
SOURCES = (PACKAGE, PACKAGE.parent / "notifications")
CATALOGUE = i18n.LOCALE_DIRECTORY / "en" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


@pytest.fixture
def restore_language() -> Iterator[None]:
    yield
    i18n.set_language(None)


def _marked() -> dict[str | tuple[str, ...], str]:
    """Every message marked in the packages, with where it is (for the failure message)."""
    found: dict[str | tuple[str, ...], str] = {}
    for source in SOURCES:
        for filename, line, message, _comments, _context in extract_from_dir(
            str(source), keywords=KEYWORDS, comment_tags=()
        ):
            found.setdefault(message, f"{source.name}/{filename}:{line}")
    return found


def _catalogue() -> dict[str | tuple[str, ...], Message]:
    with CATALOGUE.open("rb") as file:
        catalog = read_po(file, locale="en")
    return {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalog if m.id}


def _strings(message: Message) -> tuple[str, ...]:
    """A message's translation(s): one string, or one per plural form."""
    value = message.string
    if isinstance(value, str):
        return (value,)
    return tuple(text or "" for text in value or ())


def test_some_messages_are_marked() -> None:
    # the extractor finds the marks at all (a wrong keyword table would make the next test pass
    # on nothing)
    marked = _marked()
    assert len(marked) > 200
    assert "找不到{kind}：{key}" in marked


def test_every_marked_message_has_an_english_translation() -> None:
    catalogue = _catalogue()
    missing = [
        f"{where}: {msgid!r}" for msgid, where in _marked().items() if msgid not in catalogue
    ]
    assert not missing, "no English in workflow/locale for:\n" + "\n".join(missing)
    untranslated = []
    for msgid, message in catalogue.items():
        texts = _strings(message)
        if message.fuzzy or not texts or not all(texts):
            untranslated.append(repr(msgid))
    assert not untranslated, untranslated


def test_the_translations_keep_every_placeholder() -> None:
    """A translation that drops or renames a {field} would raise KeyError at run time."""
    import string  # noqa: PLC0415

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}

    for msgid, message in _catalogue().items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(fields(i) for i in ids))
        for text in _strings(message):
            assert fields(text) == wanted, (msgid, text)


def test_the_shipped_mo_matches_the_po() -> None:
    """The program reads the compiled .mo; run ``pybabel compile`` after editing the .po."""
    with (CATALOGUE.with_suffix(".mo")).open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    for msgid, message in _catalogue().items():
        strings = _strings(message)
        if isinstance(msgid, tuple):
            assert compiled.ngettext(msgid[0], msgid[1], 1) == strings[0], msgid
            assert compiled.ngettext(msgid[0], msgid[1], 2) == strings[1], msgid
        else:
            assert (compiled.gettext(msgid),) == strings, msgid
    # and nothing more: a message removed from the .po is gone from the .mo too
    assert len(getattr(compiled, "_catalog")) - 1 <= sum(  # noqa: B009  # minus the header
        2 if isinstance(m, tuple) else 1 for m in _catalogue()
    )


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "zh"),
        ({"LANG": "C.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}, "zh"),
        ({"LANGUAGE": "en:zh", "LANG": "C"}, "en"),
        ({"LANGUAGE": "", "LC_MESSAGES": "en_US"}, "en"),
    ],
)
def test_the_environment_chooses_english_only_when_it_names_english(
    environ: dict[str, str], language: str
) -> None:
    assert i18n.language_from_environment(environ) == language


def test_chinese_is_the_default_and_english_is_one_call_away(restore_language: None) -> None:
    i18n.set_language("zh")
    assert str(NotFoundError("案件", 7)) == "找不到案件：7"
    i18n.set_language("en")
    assert str(NotFoundError("案件", 7)) == "case not found: 7"
    conflict = ConflictError(case_id=3, expected_version=1, actual_version=2)
    assert str(conflict) == (
        "case 3 was changed by someone else (expected version 1, now 2): "
        "nothing of this request was written; reload and try again."
    )
    refused = TransitionNotAllowed(case_id=3, trigger="approve", state="closed", allowed=())
    assert "(A7.1, rule step_order)" in str(refused)
    assert i18n.ngettext("{count} 项任务", "{count} 项任务", 2).format(count=2) == "2 tasks"
    assert i18n.ngettext("{count} 项任务", "{count} 项任务", 1).format(count=1) == "1 task"
    with pytest.raises(ValueError, match="fr"):
        i18n.set_language("fr")


def test_a_cadre_record_the_engine_cannot_file_is_explained_in_either_language(
    restore_language: None,
) -> None:
    """The engine validates as the roster import does (workflow.cadres, issue 17): every
    problem named, the first as the field."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    example = json.loads((examples / "roster.json").read_text(encoding="utf-8"))[0]
    record = {**example, "id": "LC-1", "county": " ", "birth_date": "1950/1/1"}
    i18n.set_language("zh")
    with pytest.raises(InputError) as caught:
        cadre_row(record, today=date(2024, 5, 6))
    assert str(caught.value) == (
        "军休干部 LC-1：county: 不能为空；birth_date: 应为日期 YYYY-MM-DD，实际为文本 '1950/1/1'"
    )
    assert caught.value.field == "county"
    i18n.set_language("en")
    with pytest.raises(InputError) as caught:
        cadre_row(record, today=date(2024, 5, 6))
    assert str(caught.value) == (
        "cadre LC-1: county: must not be empty; birth_date: must be a date YYYY-MM-DD, "
        "got the text '1950/1/1'"
    )


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["cases", "list"], None),
        (["--lang", "en", "cases", "list"], "en"),
        (["cases", "list", "--lang=zh"], "zh"),
        (["cases", "list", "--lang", "fr"], None),  # click refuses it, naming the choices
        (["cases", "fire", "1", "x", "--", "--lang", "en"], None),
    ],
)
def test_lang_is_read_before_click_parses(args: list[str], found: str | None) -> None:
    assert language_in(args) == found


def test_lang_en_switches_messages_and_help_in_process(restore_language: None) -> None:
    chinese = CliRunner().invoke(main, ["cases", "list", "--now", "yesterday"])
    assert "不是日期时间" in chinese.stderr
    english = CliRunner().invoke(main, ["cases", "list", "--now", "yesterday", "--lang", "en"])
    assert english.exit_code == 2
    assert "'yesterday' is not a date-time such as 2024-05-01T09:00" in english.stderr
    top = CliRunner().invoke(main, ["--lang", "en", "--help"]).stdout
    assert "calendar data missing" in top
    assert "create or migrate the schema" in top
    # the next run without --lang is Chinese again: the language is settled per invocation
    assert "退出状态" in CliRunner().invoke(main, ["--help"]).stdout


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LANG")}
    environ |= env
    code = "from workflow.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        env=environ,
    )


def test_a_command_help_follows_lang_and_the_locale() -> None:
    """Command modules load after ``--lang`` is read, so their help is in the chosen language
    (a fresh process, as every real invocation is)."""
    chinese = _run("calendar", "show", "--help")
    assert "按日历所读列出 YEAR 年的放假日和调休上班日" in chinese.stdout, chinese.stderr
    assert "示例：" in chinese.stdout
    english = _run("calendar", "show", "--help", "--lang", "en")
    assert "YEAR's rest days and make-up working days" in english.stdout, english.stderr
    assert "Examples:" in english.stdout
    assert "Print JSON on stdout instead of tables" in english.stdout  # output's --json too
    from_locale = _run("tasks", "list", "--help", LANG="en_US.UTF-8")
    assert "Only open tasks past their due date." in from_locale.stdout, from_locale.stderr
    overruled = _run("--lang", "zh", "tasks", "list", "--help", LANG="en_US.UTF-8")
    assert "只列已过期仍未办结的任务。" in overruled.stdout, overruled.stderr
