"""Help examples work as written (issue 11, item 8): an officer copies them from ``--help``.

Every example line a command shows (its epilog, built by `workflow.cli.output.examples`) is run
in a scratch directory with the files it names, or, when it would serve forever, reach a
server that is not there or take minutes (``serve``, ``scheduler run`` as a service,
``demo``), parsed by click exactly as the shell would hand it over, so an unknown option, a
bad value or a missing argument fails here. Every actor written in help text (``--as
ROLE:NAME@SCOPE``) is read by the engine's own parser and checked for the scope its role needs
(A5.2), so ``agency_officer:王芳`` without ``@…`` cannot reappear.

CHECKED lists the command groups converted so far; add a group here when its module uses
`output.examples`. Examples that name a plan, contractor or batch by id (``plans show 1``) run
against a database already holding plan 1 (a county plan of 东昌府区), contractor 1 (qualified,
with an agreement for plan 1) and batch 1 (with both A13.1 plans), as an office's would.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from factories import cadre

from definitions import bundled_directory
from workflow.access import missing_scope
from workflow.cli.main import COMMANDS, main
from workflow.definition.catalog import Catalog
from workflow.engine import DEFAULT_DEFINITION
from workflow.machine import Actor

CHECKED = (
    "db",
    "definitions",
    "eligibility",
    "tasks",
    "scheduler",
    "calendar",
    "serve",
    "tokens",
    "demo",
    "plans",
    "contractors",
    "batches",
    "notifications",
    "report",
    "audit",
    "cadres",
    "cases",
    "policy",
    "cycles",
)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PARSE_ONLY = ("postgresql://", " serve ", "scheduler run\n", " demo ")
YEAR_2027 = """\
years:
  2027:
    holidays: [2027-01-01, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10]
    workdays: [2027-02-14]
"""


def _commands() -> Iterator[tuple[str, click.Command]]:
    """Every command under the checked groups, with its path (``calendar show``)."""
    ctx = click.Context(main)
    for name in CHECKED:
        stack: list[tuple[str, click.Command]] = [(name, main.get_command(ctx, name))]  # type: ignore[list-item]
        while stack:
            path, command = stack.pop()
            yield path, command
            if isinstance(command, click.Group):
                stack += [(f"{path} {n}", c) for n, c in command.commands.items()]


def _examples() -> list[str]:
    found = []
    for _path, command in _commands():
        for line in (command.epilog or "").splitlines():
            if line.strip().startswith("convalescence "):
                found.append(line.strip())
    return found


def _help_texts() -> Iterator[str]:
    for _path, command in _commands():
        yield command.help or ""
        yield command.epilog or ""
        for param in command.params:
            yield getattr(param, "help", None) or ""


def test_the_checked_groups_are_commands_and_show_examples() -> None:
    assert set(CHECKED) <= set(COMMANDS)
    examples = _examples()
    assert len(examples) >= 15, examples
    for group in CHECKED:
        assert any(e.startswith("convalescence ") and f" {group} " in f"{e} " for e in examples), (
            group
        )


def _parse(args: list[str]) -> click.Context:
    """What click makes of ``args`` down to the command, running no command: every option,
    argument, type and callback is checked as in a real run."""
    ctx = main.make_context("convalescence", list(args))
    command: click.Command = main
    rest = [*ctx._protected_args, *ctx.args]
    while isinstance(command, click.Group):
        name, found, rest = command.resolve_command(ctx, rest)
        assert name is not None, args
        assert found is not None, args
        command = found
        ctx = command.make_context(name, rest, parent=ctx)
        rest = [*ctx._protected_args, *ctx.args] if isinstance(command, click.Group) else []
    return ctx


SEED = (
    "plans create --year 2024 --level county --county 东昌府区 --budget 500000 --cycle 2024-2025",
    "contractors create --name 威海荣成疗养院 --kind own_resource",
    "contractors qualify 1 --name 医疗机构执业许可证 --from 2024-01-01 --until 2026-12-31",
    "contractors agree 1 --plan 1 --no XY-1 --signed 2024-03-01 --from 2024-03-01 "
    "--until 2024-12-31",
    "batches add --plan 1 --contractor 1 --place 威海市荣成 --start 2024-06-03 --end 2024-06-09 "
    "--capacity 40 --staff 4 --safety-plan AQ-1 --emergency-plan YJ-1",
    f"definitions publish {Path(__file__).resolve().parents[1] / 'examples'}/{{successor}}",
)
SUCCESSOR = "honor_convalescence-v2.yaml"  # the sample successor (A21.1) the examples publish


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database the examples find (see the module's note), made once and copied."""
    path = tmp_path_factory.mktemp("seed") / "convalescence.db"
    upgraded = CliRunner().invoke(main, ["--db", f"sqlite:///{path}", "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output  # only db upgrade and demo create one
    for line in SEED:
        # the plans commands take a checked --as (issue 17, A5.2): the city officer seeds
        command = line.format(successor=SUCCESSOR)
        args = ["--db", f"sqlite:///{path}", "--now", "2024-05-06T09:30", *shlex.split(command)]
        args += ["--as", "city_officer:赵敏"]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
    return path


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeded: Path) -> Path:
    """A directory holding what the examples name: a cadre, a holidays file, definitions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVALESCENCE_DB", raising=False)
    monkeypatch.delenv("CONVALESCENCE_HOLIDAYS", raising=False)
    (tmp_path / "cadre.json").write_text(json.dumps(cadre(), ensure_ascii=False), encoding="utf-8")
    (tmp_path / "2027.yaml").write_text(YEAR_2027, encoding="utf-8")
    (tmp_path / "tokens.yaml").write_text("{}\n", encoding="utf-8")
    shutil.copytree(bundled_directory(), tmp_path / "definitions")
    shutil.copyfile(EXAMPLES / SUCCESSOR, tmp_path / SUCCESSOR)  # published in `seeded` too
    shutil.copyfile(seeded, tmp_path / "convalescence.db")  # the default --db
    for suffix in ("csv", "xlsx"):
        shutil.copyfile(EXAMPLES / f"roster.{suffix}", tmp_path / f"roster.{suffix}")
    return tmp_path


@pytest.mark.parametrize("example", _examples())
def test_every_help_example_works_as_written(example: str, scratch: Path) -> None:
    words = shlex.split(example)
    if ">" in words:  # a shell redirection is the shell's business
        words = words[: words.index(">")]
    assert words[0] == "convalescence"
    args = words[1:]
    if any(mark in f" {example}\n" for mark in PARSE_ONLY):
        _parse(args)
        return
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, (example, result.output)


def test_every_actor_in_the_help_is_read_by_the_engine_and_has_its_scope() -> None:
    definition = Catalog.from_directories([bundled_directory()]).get(DEFAULT_DEFINITION)
    actors = [
        actor
        for text in _help_texts()
        for actor in re.findall(r"--as\s+([a-z_]+:[^\s,;，；）)]+)", text)
    ]
    assert actors, "no --as example left to check"
    for text in actors:
        actor = Actor.parse(text)
        assert actor.role in definition.roles, text
        assert missing_scope(actor, definition.scopes, definition.roles) is None, text


def test_an_actor_without_its_scope_is_what_the_check_catches() -> None:
    """The check above can fail: the example the issue found is refused by it."""
    definition = Catalog.from_directories([bundled_directory()]).get(DEFAULT_DEFINITION)
    refusal = missing_scope(Actor.parse("agency_officer:王芳"), definition.scopes, definition.roles)
    assert refusal is not None
    assert refusal.article == "A5.2"
