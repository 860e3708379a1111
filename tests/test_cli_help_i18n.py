"""One voice in every ``--help`` (issue 11, item 8): the help of every command and subcommand
is Chinese by default and English with ``--lang en``.

The whole click tree is walked in two fresh processes, one per language, as a real invocation
runs: help texts are translated when a command module is imported, and the CLI settles the
language before it imports one. Each process prints every command's rendered ``--help`` and the
texts the command carries (its help, short help, and each option's help).

Chinese by default means: no English sentence in a help page (outside the usage line and the
example lines, which are commands to copy), every text a command carries holds Chinese, and
every row of a group's command list holds Chinese (a long Chinese first paragraph is cut by
click to a bare "..." unless the command gives a short help). English means: no Chinese left
but proper names and examples (``agency_officer:王芳@东昌府区军休所``, ``e.g. 医疗机构执业许可证``,
a Chinese term glossed in parentheses, a default value, an example line).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

# the locale variables cleared, so that "by default" means Chinese whatever LANG the run has
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

DUMP = """
import json, sys
import click
from click.testing import CliRunner
from workflow.cli.main import main

args = sys.argv[1:]
runner = CliRunner()
top = runner.invoke(main, [*args, "--help"], prog_name="convalescence")  # settles the language
found = {"": {"output": top.stdout, "code": top.exit_code, "texts": []}}
ctx = click.Context(main, info_name="convalescence")
stack = [((name,), main.get_command(ctx, name)) for name in main.list_commands(ctx)]
while stack:
    path, command = stack.pop()
    result = runner.invoke(main, [*args, *path, "--help"], prog_name="convalescence")
    texts = [command.help or "", command.short_help or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    found[" ".join(path)] = {"output": result.stdout, "code": result.exit_code, "texts": texts}
    if isinstance(command, click.Group):
        stack += [((*path, name), sub) for name, sub in command.commands.items()]
print(json.dumps(found, ensure_ascii=False))
"""

Pages = dict[str, dict[str, Any]]

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”]")
# three or more English words in a row: a sentence (or most of one) left untranslated
ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z]+(?:'[a-z]+)?(?:[ ,]+[a-z]+(?:'[a-z]+)?){2,}\b")
# Chinese an English page may keep: an actor or data example (agency_officer:王芳@东昌府区军休所,
# relation=女儿), a term glossed in parentheses, a name after "e.g.", a default value
PROPER_NAMES = (
    re.compile(r"\[default: [^\]]*\]"),
    re.compile(r"\S*[A-Za-z_]+[:=@]\S*"),
    re.compile(r"\([^()A-Za-z]*\)"),
    re.compile(r"\be\.g\. \S+"),
)


def _dump(*args: str, **env: str) -> Pages:
    environ = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES} | env
    done = subprocess.run(
        [sys.executable, "-c", DUMP, *args],
        check=False,
        capture_output=True,
        text=True,
        env=environ,
    )
    assert done.returncode == 0, done.stderr
    pages: Pages = json.loads(done.stdout)
    return pages


@pytest.fixture(scope="module")
def chinese() -> Pages:
    return _dump()


@pytest.fixture(scope="module")
def english() -> Pages:
    return _dump("--lang", "en")


def _prose(output: str) -> list[str]:
    """The lines of a help page an officer reads as text: not the usage line, not an example."""
    return [
        line
        for line in output.splitlines()
        if not line.strip().startswith("convalescence ")
        and not line.startswith(("用法:", "Usage:"))
    ]


def english_sentences(output: str) -> list[str]:
    return [m for line in _prose(output) for m in ENGLISH_SENTENCE.findall(line)]


def chinese_left(output: str) -> list[str]:
    """Chinese in an English page once proper names and examples are taken out; the page is
    read as one text, so a name wrapped onto the next line is still seen as one."""
    text = " ".join(" ".join(_prose(output)).split())
    for allowed in PROPER_NAMES:
        text = allowed.sub(" ", text)
    return CJK.findall(text)


def command_rows(output: str, title: str) -> list[str]:
    """The rows of a group's command list (``title`` is 命令: or Commands:), one per command."""
    lines = output.splitlines()
    if title not in lines:
        return []
    rows: list[str] = []
    for line in lines[lines.index(title) + 1 :]:
        if not line.strip():
            break
        if re.match(r"  \S", line):
            rows.append(line)
        else:
            rows[-1] += " " + line.strip()
    return rows


def test_the_walk_reaches_every_command(chinese: Pages, english: Pages) -> None:
    """Every group and subcommand is there in both languages and shows its help (exit 0)."""
    assert set(chinese) == set(english)
    assert len(chinese) > 50
    for group in ("cases", "plans", "batches", "notifications", "tokens", "db", "demo"):
        assert group in chinese
    for path in ("cases open", "cases grant-exception", "batches add", "cadres import"):
        assert path in chinese
    for pages in (chinese, english):
        for path, page in pages.items():
            assert page["code"] == 0, (path, page["output"])


def test_every_help_page_is_chinese_by_default(chinese: Pages) -> None:
    for path, page in chinese.items():
        output = page["output"]
        assert output.startswith("用法: convalescence"), path
        assert not english_sentences(output), (path, english_sentences(output))
        for text in page["texts"]:
            assert not text or CJK.search(text), (path, text)
        for row in command_rows(output, "命令:"):
            assert CJK.search(row), (path, row)


def test_every_help_page_is_english_with_lang_en(english: Pages) -> None:
    for path, page in english.items():
        output = page["output"]
        assert output.startswith("Usage: convalescence"), path
        assert not chinese_left(output), (path, chinese_left(output))
        for row in command_rows(output, "Commands:"):
            assert not row.rstrip().endswith(" ..."), (path, row)


def test_the_checks_catch_the_other_language(chinese: Pages, english: Pages) -> None:
    """The detectors above can fail: each finds the other language on nearly every page."""
    for path in chinese:
        assert english_sentences(english[path]["output"]), path
    assert sum(bool(chinese_left(page["output"])) for page in chinese.values()) == len(chinese)
    assert command_rows(chinese["cases"]["output"], "命令:")
    assert command_rows(english["cases"]["output"], "Commands:")


def test_an_english_locale_gives_english_help_and_lang_zh_overrules_it() -> None:
    pages = _dump(LANG="en_US.UTF-8")
    assert pages["cases open"]["output"].startswith("Usage: convalescence cases open")
    assert "Register a cadre for convalescence (A7.1)" in pages["cases open"]["output"]
    overruled = _dump("--lang", "zh", LANG="en_US.UTF-8")
    assert "为军休干部报名参加疗养（A7.1）" in overruled["cases open"]["output"]
    assert not english_sentences(overruled["cases grant-exception"]["output"])
