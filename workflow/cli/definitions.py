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

from definitions import DEFAULT_DEFINITION, bundled_directory
from notifications.shipped import ShippedTemplates
from workflow.cli import output
from workflow.contrib.mermaid import to_mermaid
from workflow.definition.catalog import Catalog
from workflow.definition.loader import load_definition_file
from workflow.definition.model import Definition, StepSpec
from workflow.errors import DefinitionError, InputError, Problem, problem_json
from workflow.i18n import _, ngettext

DEFINITION_SUFFIXES = (".yaml", ".yml")


@click.group(help=_("校验、查看和绘制流程定义（YAML）。"))
def definitions() -> None:
    """The definition commands (help above, through the catalogue)."""


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


@definitions.command(
    help=_(
        "校验流程定义文件：结构、引用、状态图、日期，以及版本的有效期是否重叠。\n\n"
        "PATH 是一个 YAML 文件或含 *.yaml 文件的目录；不给出时校验内置的流程定义。"
        "各文件还会合在一起作为一个目录校验，因此同一流程定义的两个版本有效期重叠时也会报告"
        "（A21.1）。\n\n"
        '问题打印在标准输出，每条一行，格式为 "文件:行:列: 消息"，可交给编辑器或 grep；'
        "全部有效时退出状态为 0，否则为 2。"
    ),
    epilog=output.examples(
        "convalescence definitions validate",
        "convalescence definitions validate definitions/ --json",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@output.json_option
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Each file alone, then all together as the engine's catalog would read them."""
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
        raise InputError(_("所给目录中没有 *.yaml 流程定义文件"))
    return files


def check_files(files: Sequence[Path]) -> list[FileReport]:
    """Every file on its own, then the loaded ones together, so one run reports everything."""
    reports = {str(path): FileReport(path) for path in files}
    for report in reports.values():
        try:
            # every notice a definition names must exist and render (issue 11: the loader
            # takes the check as a port; the command wires the shipped templates in)
            report.definition = load_definition_file(
                report.path, templates=ShippedTemplates(), trust_cache=False
            )
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
            click.echo(
                _("{file}：通过（{description}）").format(
                    file=report.path, description=_describe(report.definition)
                )
            )
            continue
        failed += 1
        for problem in report.problems:
            click.echo(str(problem))
    if failed:
        invalid = ngettext("{count} 个文件无效", "{count} 个文件无效", failed).format(count=failed)
        output.stderr().print(invalid, style="red", markup=False)


def _describe(definition: Definition) -> str:
    policy = definition.policy
    until = policy.effective_until.isoformat() if policy.effective_until else _("长期")
    return _("{name} v{version}，{document}，有效期 {start} – {until}").format(
        name=definition.name,
        version=definition.version,
        document=policy.document,
        start=policy.effective_from.isoformat(),
        until=until,
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
                _("{name} 是第 {held} 版，不是第 {version} 版").format(
                    name=name, held=loaded.version, version=version
                ),
                field="version",
            )
        return loaded
    catalog = Catalog.from_directories([bundled_directory()])
    return catalog.get(name or DEFAULT_DEFINITION, version)


name_argument = click.argument("name", required=False, metavar="[NAME|FILE]")
version_option = click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help=_("指定版本；默认为最高版本。"),
)


@definitions.command(
    help=_("查看流程定义：政策、角色、状态和步骤（默认 honor_convalescence）。"),
    epilog=output.examples(
        "convalescence definitions show",
        "convalescence definitions show honor_convalescence --version 1 --json",
    ),
)
@name_argument
@version_option
@output.json_option
def show(name: str | None, version: int | None, as_json: bool) -> None:
    """A path works too, so a draft successor policy can be reviewed before it is bundled."""
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


@definitions.command(
    help=_("以 Mermaid stateDiagram-v2 打印流程定义（可粘贴到任一 Mermaid 查看器）。"),
    epilog=output.examples("convalescence definitions diagram > honor.mmd"),
)
@name_argument
@version_option
@output.json_option
def diagram(name: str | None, version: int | None, as_json: bool) -> None:
    """The diagram is drawn from the same loaded definition the engine runs."""
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
        (_("流程定义"), f"{definition.name} v{definition.version}"),
        (_("标题"), definition.title),
        (_("政策"), policy.title),
        (_("文号"), policy.document),
        (_("印发"), policy.issued_on),
        (_("生效"), policy.effective_from),
        (_("失效"), policy.effective_until or _("长期")),
        (_("文件"), definition.source_name),
        ("sha256", definition.content_hash[:16]),
    ]
    return output.table(definition.title, ["", ""], rows, header=False)


def _roles_table(definition: Definition) -> Table:
    columns = [_("角色"), _("说明")]
    return output.table(_("角色（A5.1）"), columns, definition.roles.items())


def _states_table(definition: Definition) -> Table:
    rows = [
        (
            s.name,
            s.label,
            _("终态") if s.terminal else (_("初态") if s.name == definition.initial else ""),
            "\n".join(
                f"{t.after} {t.unit} {t.action} {t.role or ''} {t.trigger or t.template or ''}"
                for t in s.timers
            ),
        )
        for s in definition.states
    ]
    columns = [_("状态"), _("说明"), _("类别"), _("计时")]
    return output.table(_("状态"), columns, rows)


def _steps_table(definition: Definition) -> Table:
    rows = [_step_row("open", "—", definition.initial, definition.open)]
    rows += [_step_row(t.trigger, ", ".join(t.sources), t.dest, t) for t in definition.transitions]
    columns = [_("操作"), _("说明"), _("从"), _("到"), _("角色"), _("规则"), _("字段"), _("条款")]
    return output.table(_("步骤"), columns, rows)


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
