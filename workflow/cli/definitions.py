"""``convalescence definitions``: check, read, draw, draft and compare workflow definitions.

``validate``, ``show`` and ``diagram`` read files only: an officer editing a successor policy
file can validate and review it on any machine before it is published. ``draft`` and ``diff``
also read the versions published into the database when one is named (``--db``,
$CONVALESCENCE_DB) or the default file exists, since the current version may be one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import click
from rich.table import Table

from definitions import DEFAULT_DEFINITION, bundled_directory
from notifications.shipped import ShippedTemplates
from workflow.cli import output
from workflow.cli.settings import Settings
from workflow.clock import shanghai_date
from workflow.contrib.mermaid import to_mermaid
from workflow.definition.catalog import Catalog
from workflow.definition.diff import (
    SECTIONS,
    Change,
    diff_definitions,
    diff_report,
    parse_reference,
)
from workflow.definition.draft import SuccessorTerms, draft_successor
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


# -- draft and diff (issue 13 item 2) -----------------------------------------------------


def engine_catalog() -> Catalog:
    """Every version the engine knows: the definition files and the versions published into
    the database (A21.1). With no database named and no default file, the files alone: a
    database that does not exist holds nothing published."""
    from workflow.cli.db import open_engine  # noqa: PLC0415 (loads the engine and SQLAlchemy)
    from workflow.store.database import DEFAULT_URL  # noqa: PLC0415

    settings = click.get_current_context().ensure_object(Settings)
    if settings.url == DEFAULT_URL and not Path(DEFAULT_URL.removeprefix("sqlite:///")).exists():
        return Catalog.from_directories([bundled_directory()], templates=ShippedTemplates())
    return open_engine().catalog


@definitions.command(
    help=_(
        "由 NAME 的现行版本（目录中最高的版本）起草后继版本文件，供人工修改后校验、发布。\n\n"
        "草稿保留原文件的注释和排版，只改动：版本号、政策文号、印发日期（默认为生效日期）、"
        "生效和失效日期、按新有效期重排的疗养周期（每个周期不超过 cycle_max_years 年，A9.1），"
        "并写入 migrates_from：现行版本的每个非终态都对应到同名状态（A21.1）。"
        "新有效期须在现行版本失效之后开始（A21.1），否则不写文件、退出状态为 2。"
    ),
    short_help=_("起草后继版本（新文号、新有效期、新周期）"),
    epilog=output.examples(
        "convalescence definitions draft honor_convalescence "
        "--document 聊退役军人发〔2028〕1号 --effective-from 2028-01-01 "
        "--effective-until 2029-12-31 -o honor_convalescence-next.yaml",
    ),
)
@click.argument("name")
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help=_("新版本号；默认为现行版本号加一。"),
)
@click.option("--document", required=True, metavar="TEXT", help=_("新政策文件的文号。"))
@click.option(
    "--effective-from",
    "effective_from",
    required=True,
    metavar="DATE",
    callback=output.iso_date,
    help=_("新版本的生效日期。"),
)
@click.option(
    "--effective-until",
    "effective_until",
    required=True,
    metavar="DATE",
    callback=output.iso_date,
    help=_("新版本的失效日期（含当日）。"),
)
@click.option(
    "--issued-on",
    "issued_on",
    metavar="DATE",
    callback=output.iso_date,
    help=_("新政策文件的印发日期；默认为生效日期。"),
)
@click.option(
    "-o",
    "--output",
    "target",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_("写出的草稿文件。"),
)
@click.option("--force", is_flag=True, help=_("覆盖已存在的文件。"))
@output.json_option
def draft(
    *,
    name: str,
    version: int | None,
    document: str,
    effective_from: date,
    effective_until: date,
    issued_on: date | None,
    target: Path,
    force: bool,
    as_json: bool,
) -> None:
    """The draft is loaded before it is written; on any refusal nothing is written."""
    if target.exists() and not force:
        raise InputError(_("{file} 已存在；要覆盖请加 --force").format(file=target), field="output")
    if not document.strip():
        raise InputError(_("--document 不能为空"), field="document")
    current = engine_catalog().get(name)
    terms = SuccessorTerms(
        version=version or current.version + 1,
        document=document.strip(),
        effective_from=effective_from,
        effective_until=effective_until,
        issued_on=issued_on,
    )
    settings = click.get_current_context().ensure_object(Settings)
    drafted = draft_successor(
        current,
        terms,
        today=shanghai_date(settings.clock().now()),
        source_name=str(target),
        templates=ShippedTemplates(),
    )
    _write_whole(target, drafted.text)
    report = {
        "file": str(target),
        "name": current.name,
        "version": terms.version,
        "from_version": current.version,
        "document": terms.document,
        "effective_from": effective_from.isoformat(),
        "effective_until": effective_until.isoformat(),
        "cycles": [
            {"id": c.id, "start": c.start.isoformat(), "end": c.end.isoformat()}
            for c in drafted.cycles
        ],
        "migrates_from": {"version": current.version, "states": drafted.migrates},
    }
    if as_json:
        output.print_json(report)
        return
    output.say(
        _(
            "已写出草稿 {file}：{name} 第 {version} 版（起草自第 {previous} 版），{document}，"
            "有效期 {start} – {until}，周期 {cycles}"
        ).format(
            file=target,
            name=current.name,
            version=terms.version,
            previous=current.version,
            document=terms.document,
            start=effective_from.isoformat(),
            until=effective_until.isoformat(),
            cycles="、".join(c.id for c in drafted.cycles) or _("无"),
        )
    )
    output.say(_("请逐项审阅后运行 convalescence definitions validate {file}").format(file=target))


def _write_whole(target: Path, text: str) -> None:
    """Written beside the target and renamed over it: never half a file."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InputError(
            _("无法写入 {file}：{reason}").format(file=target, reason=error.strerror or error),
            field="output",
        ) from None


def resolve_reference(reference: str, catalog: Callable[[], Catalog]) -> Definition:
    """A YAML file by its path, else NAME@VERSION (or NAME: its latest) from the catalog."""
    if reference.endswith(DEFINITION_SUFFIXES) or Path(reference).is_file():
        return load_definition_file(reference)
    name, version = parse_reference(reference)
    return catalog().get(name, version)


@definitions.command(
    help=_(
        "比较两个流程定义在政策上的差别：政策文件与有效期、资格层级与条件、限额（天数、人数、"
        "年龄、人员配备比例、周期年数、退出分数）、周期、例外、权限、步骤（角色、规则、计时、"
        "通知模板、条款）、角色和状态。\n\n"
        "A 和 B 各是一个 YAML 文件，或 NAME@VERSION（在内置和已发布的版本中查找；只写 NAME "
        "即最高版本）。没有差别时如实说明，退出状态为 0。"
    ),
    short_help=_("比较两个版本在政策上的差别"),
    epilog=output.examples(
        "convalescence definitions diff honor_convalescence@1 definitions/honor_convalescence.yaml",
        "convalescence definitions diff definitions/honor_convalescence.yaml "
        "definitions/condolence_visit.yaml --json",
    ),
)
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@output.json_option
def diff(a: str, b: str, as_json: bool) -> None:
    """Each change is one row, grouped by section (the sections of `workflow.definition.diff`)."""
    loaded: list[Catalog] = []

    def catalog() -> Catalog:
        if not loaded:
            loaded.append(engine_catalog())
        return loaded[0]

    before, after = resolve_reference(a, catalog), resolve_reference(b, catalog)
    report = diff_report(before, after)
    if as_json:
        output.print_json(report)
        return
    console = output.stdout()
    for side, definition in (("A", before), ("B", after)):
        output.say(f"{side}  {_side(definition)}")
    changes = diff_definitions(before, after)
    if not changes:
        output.say(_("两者在政策上没有差别。"), style="green")
        return
    for section, label in SECTIONS.items():
        rows = [_change_row(c) for c in changes if c.section == section]
        if rows:
            title = _("{section}（{count}）").format(section=_(label), count=len(rows))
            columns = [_("项目"), _("原"), _("新"), _("变化")]
            console.print(output.table(title, columns, rows))
    output.say(
        ngettext("共 {count} 处差别", "共 {count} 处差别", len(changes)).format(count=len(changes))
    )


def _side(definition: Definition) -> str:
    return _("{name} 第 {version} 版（{document}，{source}）").format(
        name=definition.name,
        version=definition.version,
        document=definition.policy.document,
        source=definition.source_name,
    )


def _change_row(change: Change) -> tuple[str, str, str, str]:
    return (change.item, _shown(change.before), _shown(change.after), _what(change))


def _shown(value: object) -> str:
    """A value as an officer reads it: lists joined, mappings as key: value, nothing empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return str(value)


def _what(change: Change) -> str:
    if change.before is None:
        return _("新增")
    if change.after is None:
        return _("删除")
    if isinstance(change.before, list) and isinstance(change.after, list):
        added = [f"+{_shown(v)}" for v in change.after if v not in change.before]
        removed = [f"−{_shown(v)}" for v in change.before if v not in change.after]
        if added or removed:
            return " ".join(added + removed)
        return _("顺序改变")
    return _("修改")


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


# -- publishing (uses the database; workflow.cli.publishing) ---------------------------------
from workflow.cli.publishing import list_versions, publish  # noqa: E402

definitions.add_command(publish)
definitions.add_command(list_versions)
