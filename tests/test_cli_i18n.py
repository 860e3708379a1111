"""One voice below the top group: click's own words ("Usage:", "Options", "Show this message and
exit.", "Error: Missing option", "No such command" …) are Chinese by default and English with
``--lang en``, in every command (workflow.i18n.speak_for_click).

Click marks them with the standard library's gettext; our Chinese for them lives in
``workflow/locale/zh/LC_MESSAGES/click.po``. The messages are extracted here from the installed
click with Babel, so a click upgrade that adds one fails this file instead of printing English to
an officer.
"""

from __future__ import annotations

import gettext
import os
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from click.testing import CliRunner

from workflow import i18n
from workflow.cli.main import main

CLICK = Path(click.__file__).parent
CLICK_PO = i18n.LOCALE_DIRECTORY / "zh" / "LC_MESSAGES" / f"{i18n.CLICK_DOMAIN}.po"
# the locale variables cleared, so that "by default" means Chinese whatever LANG the run has
NO_LOCALE = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}


@pytest.fixture
def restore_language() -> Iterator[None]:
    yield
    i18n.set_language(None)


def _click_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(CLICK), keywords={"_": None, "ngettext": (1, 2)}, comment_tags=()
    ):
        found.add(message)
    return found


def _catalogue() -> dict[str | tuple[str, ...], Message]:
    with CLICK_PO.open("rb") as file:
        catalog = read_po(file, locale="zh")
    return {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalog if m.id}


def _strings(message: Message) -> tuple[str, ...]:
    value = message.string
    if isinstance(value, str):
        return (value,)
    return tuple(text or "" for text in value or ())


def _fields(text: str) -> set[str]:
    """``{name}`` fields (conversions such as ``!r`` kept) and ``%(name)s`` ones."""
    braces = {
        f"{name}!{conversion}" if conversion else name
        for _, name, _, conversion in string.Formatter().parse(text)
        if name is not None
    }
    return braces | set(re.findall(r"%\(\w+\)s", text))


def test_click_marks_its_messages_the_way_the_catalogue_expects() -> None:
    # the extractor finds click's marks at all (else the next test would pass on nothing)
    messages = _click_messages()
    assert len(messages) > 50
    assert "Usage:" in messages
    assert "Missing option" in messages


def test_every_click_message_has_a_chinese_translation() -> None:
    catalogue = _catalogue()
    missing = sorted(map(repr, _click_messages() - set(catalogue)))
    assert not missing, "no Chinese in workflow/locale/zh for click's:\n" + "\n".join(missing)
    for msgid, message in catalogue.items():
        texts = _strings(message)
        assert texts, msgid
        assert all(texts), msgid
        assert not message.fuzzy, msgid


def test_the_click_translations_keep_every_placeholder() -> None:
    """Chinese has one plural form, formatted with the fields of both English forms."""
    for msgid, message in _catalogue().items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(_fields(i) for i in ids))
        for text in _strings(message):
            assert _fields(text) <= wanted, (msgid, text)
            if not isinstance(msgid, tuple):
                assert _fields(text) == wanted, (msgid, text)


def test_the_shipped_click_mo_matches_the_po() -> None:
    with CLICK_PO.with_suffix(".mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    for msgid, message in _catalogue().items():
        (text,) = _strings(message)
        if isinstance(msgid, tuple):
            assert compiled.ngettext(msgid[0], msgid[1], 1) == text, msgid
            assert compiled.ngettext(msgid[0], msgid[1], 2) == text, msgid
        else:
            assert compiled.gettext(msgid) == text, msgid


def test_every_click_module_that_speaks_is_rebound() -> None:
    """A click release that marks messages in a new module must be added to CLICK_MODULES
    (the editor/pager and Windows console modules are left out on purpose)."""
    marking = {
        f"click.{path.stem}"
        for path in CLICK.glob("*.py")
        if re.search(r"^from gettext import", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert marking - set(i18n.CLICK_MODULES) == {"click._termui_impl", "click._winconsole"}
    i18n.speak_for_click()  # again: changes nothing
    for name in i18n.CLICK_MODULES:
        module = sys.modules[name]
        assert getattr(module, "_", i18n.click_gettext) is i18n.click_gettext, name
        assert getattr(module, "ngettext", i18n.click_ngettext) is i18n.click_ngettext, name
    # the standard library's own gettext state is not touched
    assert gettext.textdomain() == "messages"


def test_click_words_follow_the_language(restore_language: None) -> None:
    i18n.set_language("zh")
    assert i18n.click_gettext("Usage:") == "用法:"
    assert i18n.click_ngettext("Option {name!r} requires an argument.", "x", 1).format(
        name="--db", nargs=1
    ) == ("选项 '--db' 需要 1 个值。")
    i18n.set_language("en")
    assert i18n.click_gettext("Usage:") == "Usage:"
    assert i18n.click_ngettext("{n} value", "{n} values", 2) == "{n} values"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in NO_LOCALE}
    environ |= env
    code = 'from workflow.cli.main import main; main(prog_name="convalescence")'
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        env=environ,
    )


def test_a_command_group_help_is_chinese_by_default_and_english_with_lang_en() -> None:
    """A fresh process, as every real invocation is (help option texts are built once)."""
    chinese = _run("cases", "--help")
    assert chinese.returncode == 0, chinese.stderr
    assert chinese.stdout.startswith("用法: convalescence cases [OPTIONS] COMMAND [ARGS]...")
    assert "\n选项:\n" in chinese.stdout
    assert "显示本帮助并退出。" in chinese.stdout
    assert "\n命令:\n" in chinese.stdout
    for english_word in ("Usage:", "Options:", "Show this message and exit.", "Commands:"):
        assert english_word not in chinese.stdout
    english = _run("cases", "--help", "--lang", "en")
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith("Usage: convalescence cases [OPTIONS] COMMAND [ARGS]...")
    assert "\nOptions:\n" in english.stdout
    assert "Show this message and exit." in english.stdout
    assert "\nCommands:\n" in english.stdout
    from_locale = _run("cases", "show", "--help", LANG="en_US.UTF-8")
    assert from_locale.stdout.startswith("Usage: convalescence cases show"), from_locale.stderr


def test_a_subcommand_help_shows_required_and_defaults_in_chinese() -> None:
    shown = _run("cases", "open", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "必填" in shown.stdout  # click's "required" beside --cadre
    assert "[required]" not in shown.stdout


@pytest.mark.parametrize(
    ("args", "chinese", "english"),
    [
        pytest.param(
            ["cases", "open"],
            "错误：缺少选项 '--cadre'.",
            "Error: Missing option '--cadre'.",
            id="missing-option",
        ),
        pytest.param(
            ["cases", "show"],
            "错误：缺少参数 'CASE_ID'.",
            "Error: Missing argument 'CASE_ID'.",
            id="missing-argument",
        ),
        pytest.param(
            ["casez"],
            "错误：没有命令 'casez'。",
            "Error: No such command 'casez'.",
            id="top-command",
        ),
        pytest.param(
            ["cases", "shw", "1"],
            "错误：没有命令 'shw'。",
            "Error: No such command 'shw'.",
            id="sub-command",
        ),
        pytest.param(
            ["cases", "list", "--bogus"],
            "错误：没有选项 '--bogus'。",
            "Error: No such option '--bogus'.",
            id="no-such-option",
        ),
        pytest.param(
            ["cases", "show", "x"],
            "错误：'CASE_ID' 的值无效：'x' 不是有效的数（integer",
            "Error: Invalid value for 'CASE_ID': 'x' is not a valid integer",
            id="invalid-value",
        ),
    ],
)
def test_a_usage_error_is_chinese_by_default_and_english_with_lang_en(
    args: list[str], chinese: str, english: str, restore_language: None
) -> None:
    runner = CliRunner(env=NO_LOCALE)
    result = runner.invoke(main, args, prog_name="convalescence")
    assert result.exit_code == 2  # input or usage wrong (README exit codes)
    assert chinese in result.stderr, result.stderr
    assert result.stderr.startswith("用法: convalescence")
    assert "查看帮助" in result.stderr or "没有命令 'casez'" in result.stderr
    assert "Error:" not in result.stderr
    result = runner.invoke(main, [*args, "--lang", "en"], prog_name="convalescence")
    assert result.exit_code == 2
    assert english in result.stderr, result.stderr
    assert result.stderr.startswith("Usage: convalescence")
