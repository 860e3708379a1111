"""``convalescence definitions``: check, read and draw workflow definition files.

None of these commands touches the database: an officer editing a successor policy file can
validate and review it on any machine before it is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.table import Table

from definitions import bundled_directory
from notifications.render import ShippedTemplates
from workflow.cli import output
from workflow.contrib.mermaid import to_mermaid
from workflow.definition.catalog import Catalog
from workflow.definition.loader import load_definition_file
from workflow.definition.model import Definition, StepSpec
from workflow.engine import DEFAULT_DEFINITION
from workflow.errors import DefinitionError, InputError, Problem, problem_json

DEFINITION_SUFFIXES = (".yaml", ".yml")


@click.group()
def definitions() -> None:
    """Validate, show and draw workflow definitions (YAML)."""


# -- validate -----------------------------------------------------------------------------


@dataclass
class FileReport:
    """What one file came to: a definition, or the problems that kept it from being one."""

    path: Path
    definition: Definition | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.definition is not None and not self.problems

    def to_json(self) -> dict[str, object]:
        loaded = self.definition
        return {
            "file": str(self.path),
            "valid": self.valid,
            "name": loaded.name if loaded else None,
            "version": loaded.version if loaded else None,
        }


@definitions.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@output.json_option
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files: schema, references, graph, dates, and overlapping versions.

    PATH is a YAML file or a directory of *.yaml files; with none, the bundled definitions are
    checked. Files are also checked together as one catalog, so two versions of the same
    definition whose effective windows overlap are reported (A21.1).

    Problems are printed to stdout, one "file:line:col: message" line each, so they can be piped
    into an editor or grep; exit status 0 when every file is valid, 2 when not.
    """
    files = _expand(paths or (bundled_directory(),))
    reports = check_files(files)
    valid = all(r.valid for r in reports)
    if as_json:
        problems = [problem_json(p) for r in reports for p in r.problems]
        output.print_json(
            {"valid": valid, "files": [r.to_json() for r in reports], "problems": problems}
        )
    else:
        _print_reports(reports)
    if not valid:
        ctx.exit(2)


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Directories become their *.yaml files, in name order, as the engine's catalog reads them."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise InputError("no *.yaml definition files found in the given directories")
    return files


def check_files(files: Sequence[Path]) -> list[FileReport]:
    """Every file on its own, then the loaded ones together, so one run reports everything."""
    reports = {str(path): FileReport(path) for path in files}
    for report in reports.values():
        try:
            # every notice a definition names must exist and render (issue 11: the loader
            # takes the check as a port; the command wires the shipped templates in)
            report.definition = load_definition_file(report.path, templates=ShippedTemplates())
        except DefinitionError as error:
            report.problems += error.problems
    loaded = [r.definition for r in reports.values() if r.definition is not None]
    try:
        Catalog(loaded)
    except DefinitionError as error:
        for problem in error.problems:
            reports.setdefault(problem.file, FileReport(Path(problem.file))).problems.append(
                problem
            )
    for report in reports.values():
        report.problems.sort(key=lambda p: (p.line, p.column, p.message))
    return list(reports.values())


def _print_reports(reports: Iterable[FileReport]) -> None:
    failed = 0
    for report in reports:
        if report.definition is not None and report.valid:
            click.echo(f"{report.path}: OK ({_describe(report.definition)})")
            continue
        failed += 1
        for problem in report.problems:
            click.echo(str(problem))
    if failed:
        output.stderr().print(f"{failed} file(s) invalid", style="red", markup=False)


def _describe(definition: Definition) -> str:
    policy = definition.policy
    until = policy.effective_until.isoformat() if policy.effective_until else "长期"
    return (
        f"{definition.name} v{definition.version}, {policy.document}, "
        f"in force {policy.effective_from.isoformat()} – {until}"
    )


# -- show and diagram ---------------------------------------------------------------------


def lookup(name: str | None, version: int | None) -> Definition:
    """A bundled definition by name (and version), or a YAML file named by its path.

    A path lets an officer review or draw a draft successor policy before it is bundled.
    """
    if name is not None and (name.endswith(DEFINITION_SUFFIXES) or Path(name).is_file()):
        loaded = load_definition_file(name)
        if version is not None and version != loaded.version:
            raise InputError(
                f"{name} holds version {loaded.version}, not {version}", field="version"
            )
        return loaded
    catalog = Catalog.from_directories([bundled_directory()])
    return catalog.get(name or DEFAULT_DEFINITION, version)


name_argument = click.argument("name", required=False, metavar="[NAME|FILE]")
version_option = click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help="A particular version; default the highest.",
)


@definitions.command()
@name_argument
@version_option
@output.json_option
def show(name: str | None, version: int | None, as_json: bool) -> None:
    """Show a definition: its policy, roles, states and steps (default honor_convalescence)."""
    definition = lookup(name, version)
    if as_json:
        output.print_json(definition.summary())
        return
    console = output.stdout()
    for rendered in (
        _policy_table(definition),
        _roles_table(definition),
        _states_table(definition),
        _steps_table(definition),
    ):
        console.print(rendered)


@definitions.command()
@name_argument
@version_option
@output.json_option
def diagram(name: str | None, version: int | None, as_json: bool) -> None:
    """Print the definition as a Mermaid stateDiagram-v2 (paste into any Mermaid viewer)."""
    definition = lookup(name, version)
    mermaid = to_mermaid(definition)
    if as_json:
        output.print_json(
            {"name": definition.name, "version": definition.version, "mermaid": mermaid}
        )
    else:
        click.echo(mermaid, nl=False)


def _policy_table(definition: Definition) -> Table:
    policy = definition.policy
    rows = [
        ("definition", f"{definition.name} v{definition.version}"),
        ("标题 title", definition.title),
        ("政策 policy", policy.title),
        ("文号 document", policy.document),
        ("印发 issued on", policy.issued_on),
        ("生效 in force from", policy.effective_from),
        ("失效 in force until", policy.effective_until or "长期"),
        ("文件 source", definition.source_name),
        ("sha256", definition.content_hash[:16]),
    ]
    return output.table(definition.title, ["", ""], rows, header=False)


def _roles_table(definition: Definition) -> Table:
    return output.table("角色 roles (A5.1)", ["role", "说明 label"], definition.roles.items())


def _states_table(definition: Definition) -> Table:
    rows = [
        (
            s.name,
            s.label,
            "terminal" if s.terminal else ("initial" if s.name == definition.initial else ""),
            "\n".join(
                f"{t.after} {t.unit} {t.action} {t.role or ''} {t.trigger or t.template or ''}"
                for t in s.timers
            ),
        )
        for s in definition.states
    ]
    return output.table("状态 states", ["state", "说明 label", "kind", "timers"], rows)


def _steps_table(definition: Definition) -> Table:
    rows = [_step_row("open", "—", definition.initial, definition.open)]
    rows += [_step_row(t.trigger, ", ".join(t.sources), t.dest, t) for t in definition.transitions]
    columns = ["trigger", "说明 label", "from", "to", "roles", "guards", "fields", "article"]
    return output.table("步骤 transitions", columns, rows)


def _step_row(trigger: str, sources: str, dest: str, step: StepSpec) -> tuple[str, ...]:
    fields = ", ".join(f"{f.name}:{f.type}{'' if f.required else '?'}" for f in step.fields)
    return (
        trigger,
        step.label,
        sources,
        dest,
        ", ".join(step.roles),
        ", ".join(step.guards),
        fields,
        step.article or "",
    )
