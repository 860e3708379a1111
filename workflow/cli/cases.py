"""``convalescence cases``: open a case, move it one step, grant an exception, and read cases
and their history.

Each command is a thin shell over one `Engine` call; the engine decides and explains, the command
only turns text options into arguments and the result into a table or JSON. Every command that
prints a case prints the same shape (state, evidence, cycle and tier, the eligibility explanation
stored at registration, the exceptions granted), so a script reads one shape whichever command
produced it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import click
from rich.table import Table

from definitions import DEFAULT_DEFINITION
from workflow.cli import output
from workflow.cli.db import open_engine
from workflow.cli.paging import print_page_end
from workflow.eligibility import Explanation, Reason
from workflow.errors import InputError
from workflow.fields import INT_MAX
from workflow.i18n import N_, _, ngettext
from workflow.machine import Actor
from workflow.paging import Page
from workflow.views import CaseView, HistoryEntry

# a case id is a database INTEGER: 2147483648 is bad input (exit 2), not a driver error
CASE_ID = click.IntRange(1, INT_MAX)


def parse_actor(_ctx: click.Context, _param: click.Parameter, value: str) -> Actor:
    """``--as ROLE:NAME``, refused at the edge with the engine's own explanation."""
    try:
        return Actor.parse(value)
    except InputError as error:
        raise click.BadParameter(error.message) from None


def parse_data(
    _ctx: click.Context, _param: click.Parameter, items: tuple[str, ...]
) -> dict[str, str]:
    """``--data KEY=VALUE`` items as the step's evidence (A7.2).

    Values stay text: the step's declared field types coerce them. A key given twice is a typo,
    not an override, so it is refused rather than one value picked silently.
    """
    data: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(
                _("{item!r} 应形如 KEY=VALUE，如 relation=女儿").format(item=item)
            )
        if key in data:
            raise click.BadParameter(_("{key!r} 给出了不止一次").format(key=key))
        data[key] = value
    return data


actor_option = click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME@SCOPE",
    callback=parse_actor,
    help=_(
        "办理人，格式为 ROLE:NAME@SCOPE（如 agency_officer:王芳@东昌府区军休所；市级经办人员"
        "和审计人员不写范围）；角色与范围须为规则所允许（A5.2）。"
    ),
)
data_option = click.option(
    "--data",
    "data",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_data,
    help=_("本步骤记录的证据（A7.2），每个选项写一项 KEY=VALUE，可重复给出。"),
)
reason_option = click.option("--reason", help=_("理由，记入案件历史（A19.1）。"))
expect_version_option = click.option(
    "--expect-version",
    type=click.IntRange(min=1),
    metavar="N",
    help=_("案件已不是第 N 版（他人已先行办理）时不予办理（退出状态 3）。"),
)


def parse_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A blank name would record "on behalf of nobody" and silently skip the A7.2 paper check."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter(_("须写明一个人的姓名，如 张丽"))
    return value.strip()


open_on_behalf_option = click.option(
    "--on-behalf-of",
    "on_behalf_of",
    metavar="NAME",
    callback=parse_name,
    help=_(
        "代谁办理，如军休所经办人代为录入纸质报名表的军休干部本人；历史同时记下双方姓名（A19.1）。"
    ),
)
fire_on_behalf_option = click.option(
    "--on-behalf-of",
    "on_behalf_of",
    metavar="NAME",
    callback=parse_name,
    help=_(
        "代谁办理，如军休所经办人代为录入纸质同意书的家属，此时同意步骤还须给出 "
        "--data consent_form_ref=...（同意书编号，A7.2）；历史同时记下双方姓名（A19.1）。"
    ),
)


@click.group(help=_("案件：报名登记，按政策规定的步骤办理，查看案件及其办理记录。"))
def cases() -> None:
    """The case commands (help above, through the catalogue)."""


@cases.command(
    "open",
    help=_(
        "为军休干部报名参加疗养（A7.1），按当日施行的政策版本办理。\n\n"
        "当日的资格说明（A4.2）随案件保存并打印，经办人可当即看到由哪些条款作出决定；"
        "不开案件而先作同样的判断，请用 eligibility explain。"
    ),
)
@click.option(
    "--cadre", "cadre_id", required=True, metavar="ID", help=_("军休干部在名册中的编号。")
)
@actor_option
@open_on_behalf_option
@click.option(
    "--definition",
    default=DEFAULT_DEFINITION,
    show_default=True,
    metavar="NAME",
    help=_("所用流程定义的名称。"),
)
@data_option
@reason_option
@output.json_option
def open_case(
    *,
    cadre_id: str,
    actor: Actor,
    on_behalf_of: str | None,
    definition: str,
    data: dict[str, str],
    reason: str | None,
    as_json: bool,
) -> None:
    """Registers the cadre; the day's eligibility explanation is stored and printed (help
    above, through the catalogue)."""
    engine = open_engine()
    view = engine.open_case(
        cadre_id,
        actor=actor,
        definition=definition,
        data=data,
        reason=reason,
        on_behalf_of=on_behalf_of,
    )
    _print_case(view, as_json)


@cases.command(help=_("按 TRIGGER 将案件 CASE_ID 推进一步（可走的步骤见 cases show）。"))
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@click.argument("trigger", metavar="TRIGGER")
@actor_option
@fire_on_behalf_option
@data_option
@reason_option
@expect_version_option
@output.json_option
def fire(
    *,
    case_id: int,
    trigger: str,
    actor: Actor,
    on_behalf_of: str | None,
    data: dict[str, str],
    reason: str | None,
    expect_version: int | None,
    as_json: bool,
) -> None:
    """One step of the case, printed as every command prints a case (help above)."""
    engine = open_engine()
    # the step checks the scope first (A5.2) and who acts against the roster (A5.2, A19.1)
    view = engine.fire(
        case_id,
        trigger,
        actor=actor,
        data=data,
        reason=reason,
        on_behalf_of=on_behalf_of,
        expected_version=expect_version,
    )
    _print_case(view, as_json, explain=False)


@cases.command(
    "grant-exception",
    help=_(
        "为案件 CASE_ID 记录一项“原则上”规则的例外（第八条、第九条）。\n\n"
        "RULE 是政策允许经记录后不予适用的规则，如 under_age_limit_on_first_day"
        "（A8.2，批次首日已满 80 周岁）或 once_per_cycle（A9.2）。批准单独记为一条历史；"
        "此后原本会被该规则拒绝的步骤即可通过，并在其历史的 _exceptions_applied 中列出该例外。"
        "不允许例外的规则属输入有误（退出状态 2），消息会列出允许例外的规则。"
    ),
)
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@click.argument("rule", metavar="RULE")
@click.option(
    "--as",
    "actor",
    required=True,
    metavar="ROLE:NAME@SCOPE",
    callback=parse_actor,
    help=_(
        "批准人，格式为 ROLE:NAME@SCOPE（如 city_officer:赵敏）；只有政策为 RULE 列明的批准角色"
        "可以批准（其他角色退出状态为 1，并引用 A5.2）。"
    ),
)
@click.option(
    "--reason",
    required=True,
    help=_("准予例外的理由；必填，记入案件历史（A19.1）。"),
)
@expect_version_option
@output.json_option
def grant_exception(
    *,
    case_id: int,
    rule: str,
    actor: Actor,
    reason: str,
    expect_version: int | None,
    as_json: bool,
) -> None:
    """The grant, a history row of its own (help above, through the catalogue)."""
    engine = open_engine()
    view = engine.grant_exception(
        case_id, rule, actor=actor, reason=reason, expected_version=expect_version
    )
    _print_case(view, as_json, explain=False)


@cases.command(
    help=_(
        "查看案件：状态、证据、周期与层级、报名时保存的资格说明（A4.2）、已批准的例外，"
        "以及可走的下一步和可以办理的角色。"
    ),
    short_help=_("查看案件的状态、证据、资格说明和下一步。"),
)
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@output.json_option
def show(case_id: int, as_json: bool) -> None:
    """The case as every command prints it (help above, through the catalogue)."""
    _print_case(open_engine().case(case_id), as_json)


@cases.command(
    help=_("案件走过的每一步：谁办理（代谁办理）、何时、从何状态到何状态、记录了什么、理由。")
)
@click.argument("case_id", type=CASE_ID, metavar="CASE_ID")
@output.json_option
def history(case_id: int, as_json: bool) -> None:
    """The case's history rows, oldest first (help above, through the catalogue)."""
    entries = open_engine().history(case_id)
    if as_json:
        output.print_json([entry.to_json() for entry in entries])
        return
    output.stdout().print(_history_table(case_id, entries))


@cases.command(
    "list",
    help=_(
        "按案件编号顺序列出案件，由数据库筛选。一页列完时末尾提示下一页的 --after ID；"
        "用 --json 时提示写在标准错误上，也可取最后一件的编号作 --after。"
    ),
    epilog=output.examples(
        "convalescence cases list --open",
        "convalescence cases list --county 东昌府区 --state registered --json",
        "convalescence cases list --limit 50 --after 50",
    ),
)
@click.option("--state", metavar="STATE", help=_("只列处于此状态的案件。"))
@click.option("--county", metavar="COUNTY", help=_("只列归属此县（市、区）的案件。"))
@click.option("--agency", metavar="AGENCY", help=_("只列归属此军休服务管理机构的案件。"))
@click.option("--cadre", "cadre_id", metavar="ID", help=_("只列此军休干部的案件。"))
@click.option("--open", "open_only", is_flag=True, help=_("只列尚未结案的案件。"))
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help=_("最多列出的件数。"),
)
@click.option(
    "--after",
    type=click.IntRange(0, INT_MAX),
    metavar="ID",
    help=_("从编号大于 ID 的案件列起（上一页末尾提示的下一页；任何一页都一样快）。"),
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help=_("先跳过的件数（跳得越多越慢；翻页请用 --after）。"),
)
@output.json_option
def list_cases(
    *,
    state: str | None,
    county: str | None,
    agency: str | None,
    cadre_id: str | None,
    open_only: bool,
    limit: int,
    after: int | None,
    offset: int,
    as_json: bool,
) -> None:
    """One page of cases and the cursor to the next (help above, through the catalogue)."""
    rows = open_engine().cases(
        state=state,
        county=county,
        agency=agency,
        cadre_id=cadre_id,
        open_only=open_only,
        limit=limit + 1,  # one more says whether another page exists
        offset=offset,
        after=after,
    )
    page = Page.of(rows, limit, key=lambda view: view.id)
    if as_json:
        output.print_json([view.to_json() for view in page.items])
    elif page.items:
        output.stdout().print(_list_table(page.items))
    count = len(page.items)
    listed = ngettext("{count} 件案件", "{count} 件案件", count).format(count=count)
    print_page_end(listed, page.next_after, as_json=as_json)


# -- rendering ----------------------------------------------------------------------------


def case_json(view: CaseView) -> dict[str, Any]:
    """A case as every command prints it: the view, the eligibility explanation stored when it
    was opened (A4.2) and the exceptions granted on it (A19.1), all carried by the view the
    engine returned, so printing a case reads nothing more."""
    return view.to_json() | {
        "eligibility": None if view.eligibility is None else dict(view.eligibility),
        "exceptions": [exception.to_json() for exception in view.exceptions],
    }


def stored_sentences(stored: Mapping[str, Any]) -> list[str]:
    """The stored explanation read back as the sentences `Explanation.sentences()` gives, so an
    officer hears the same words at registration, in `eligibility explain` and in `cases show`.

    A stored value of another shape (written by some other version) is shown raw rather than
    failing: the record must stay readable for an audit.
    """
    try:
        explanation = Explanation(
            eligible=bool(stored["eligible"]),
            tier=str(stored["tier"]),
            level=str(stored["level"]),
            on=date.fromisoformat(stored["on"]),
            reasons=tuple(
                Reason(
                    article=int(r["article"]),
                    clause=str(r["clause"]),
                    rule=str(r["rule"]),
                    passed=bool(r["passed"]),
                    message=str(r["message"]),
                )
                for r in stored["reasons"]
            ),
        )
    except (KeyError, TypeError, ValueError):
        return [json.dumps(stored, ensure_ascii=False, default=str)]
    return explanation.sentences()


def _print_case(view: CaseView, as_json: bool, *, explain: bool = True) -> None:
    """``explain=False`` leaves the eligibility sentences out of the text (a step does not change
    them); JSON always carries everything, so every command prints one shape."""
    if as_json:
        output.print_json(case_json(view))
        return
    console = output.stdout()
    output.say(
        _(
            "案件 {case_id} · {definition} v{definition_version} · 军休干部 {cadre_id} · "
            "{county} / {agency}"
        ).format(
            case_id=view.id,
            definition=view.definition,
            definition_version=view.definition_version,
            cadre_id=_cadre(view),
            county=view.county,
            agency=view.agency,
        )
    )
    output.say(
        _("状态：{state}（{label}） · 第 {version} 版").format(
            state=view.state, label=view.state_label, version=view.version
        )
        + (_(" · 已结案") if view.terminal else ""),
        style="bold",
    )
    tier_name = _(_TIER_NAMES.get(view.tier or "", N_("未记录")))
    output.say(
        _("周期：{cycle} · 层级：{tier}（{tier_name}）").format(
            cycle=view.cycle or "—", tier=view.tier or "—", tier_name=tier_name
        )
    )
    if explain:
        output.say(_("资格（报名时记录，A4.2）："), style="bold")
        stored = view.eligibility
        for sentence in stored_sentences(stored) if stored else [_("未记录")]:
            output.say(sentence)
    if view.evidence:
        columns = [_("字段"), _("值")]
        console.print(output.table(_("证据"), columns, view.evidence.items()))
    if view.exceptions:
        granted = [
            (e["rule"], e["article"], e["approver"], e["reason"], e["at"])
            for e in (exception.to_json() for exception in view.exceptions)
        ]
        columns = [_("规则"), _("条款"), _("批准人"), _("理由"), _("时间")]
        console.print(output.table(_("已批准的例外（A19.1）"), columns, granted))
    if view.next_steps:
        rows = [(s.trigger, s.label, s.dest, ", ".join(s.roles)) for s in view.next_steps]
        columns = [
            _("步骤（TRIGGER）"),
            _("说明"),
            _("到达状态"),
            _("可办理的角色（--as ROLE:NAME@SCOPE）"),
        ]
        console.print(output.table(_("下一步"), columns, rows))


def _history_table(case_id: int, entries: Sequence[HistoryEntry]) -> Table:
    rows = [
        (
            e.seq,
            e.at.isoformat(timespec="minutes"),
            e.trigger,
            f"{e.from_state or '—'} → {e.to_state}",
            f"{e.role}:{e.actor}",
            e.on_behalf_of,
            "\n".join(f"{key}={_text(value)}" for key, value in e.data.items()),
            e.reason,
        )
        for e in entries
    ]
    columns = [
        "#",
        _("时间"),
        _("步骤（TRIGGER）"),
        _("状态"),
        _("办理人"),
        _("代谁办理"),
        _("记录"),
        _("理由"),
    ]
    return output.table(_("案件 {case_id} 历史（A19.1）").format(case_id=case_id), columns, rows)


_TIER_NAMES = {"city": N_("市级"), "county": N_("县级"), "none": N_("无层级")}


def _cadre(view: CaseView) -> str:
    """The cadre as a case names him: id and roster name (issue 19 item 5), when read."""
    return f"{view.cadre_id} {view.cadre_name}" if view.cadre_name else view.cadre_id


def _text(value: Any) -> str:
    """Recorded values as an officer reads them: text as is, anything structured (such as the
    exceptions a step relied on) as JSON rather than a Python repr."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _list_table(views: Sequence[CaseView]) -> Table:
    rows = [
        (
            v.id,
            v.cadre_id,
            v.cadre_name or "—",
            v.county,
            v.agency,
            v.state,
            v.state_label,
            v.version,
            v.updated_at.isoformat(timespec="minutes"),
        )
        for v in views
    ]
    columns = [
        _("案件"),
        _("军休干部"),
        _("姓名"),
        _("县（市、区）"),
        _("机构"),
        _("状态"),
        _("说明"),
        _("版本"),
        _("更新时间"),
    ]
    return output.table(_("案件列表"), columns, rows)


import workflow.cli.bulk  # noqa: E402  (registers cases fire-many, issue 13)
import workflow.cli.carry_over  # noqa: E402  (registers cases migrate, issue 13)
import workflow.cli.corrections  # noqa: E402, F401  (registers cases rebook, cases correct)
