"""``convalescence eligibility explain``: may this cadre join, and why, before any case exists.

An officer answering a cadre's call, or checking a roster row before registering anyone, needs
the art. 4 tier and every reason behind the verdict (A4.2) without a database, a case or a
login. So this command reads one record from a file, takes the rules from the bundled
definitions (as ``definitions show`` does) and runs the same pure evaluator the engine stores
with each case: what the officer hears here is what registration will decide.

Whether the cadre is eligible is the answer, not a failure: the exit status is 0 either way, and
only a file that cannot be read or a record that cannot be evaluated exits 2.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from definitions import DEFAULT_DEFINITION, bundled_directory
from workflow.cli import output
from workflow.cli.settings import Settings
from workflow.clock import shanghai_date
from workflow.definition.catalog import Catalog
from workflow.definition.model import Definition
from workflow.definition.policy_rules import PolicyRules
from workflow.eligibility import explain as evaluate
from workflow.errors import InputError
from workflow.i18n import _
from workflow.profile_check import profile_problems


def parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date:
    """``--on``: a calendar date; the age limit of art. 8 (A8.2) is counted on it in full
    years. Left out, it is the day of the global ``--now``, else today in Asia/Shanghai: an
    officer on the telephone asks about today far more often than about a batch's first day."""
    if value is None:
        return shanghai_date(ctx.ensure_object(Settings).clock().now())
    day = output.iso_date(ctx, param, value)
    assert day is not None
    return day


@click.group(help=_("说明谁可以参加荣誉疗养及理由（第四、八、二十一条）；不使用数据库。"))
def eligibility() -> None:
    """The group of the eligibility commands (help above, through the catalogue)."""


@eligibility.command(
    "explain",
    help=_(
        "说明 PROFILE.json 中的军休干部能否在 DATE 参加 LEVEL 级计划，以及理由（A4.2）。\n\n"
        "PROFILE.json 是名册格式的一条干部记录（一个 JSON 对象，或只含一个对象的数组）。"
        "不读写数据库。适用 DATE 当日有效的流程定义版本的规则；若当日无有效版本（政策已到期），"
        "则用最新版本，第二十一条的理由会说明到期。\n\n"
        "打印结论，并对每项检查给出一句引用条款的中文说明，可直接向干部宣读。加 --json 时输出 "
        '{"eligible": bool, "tier": "city"|"county"|"none", "reasons": [{"article", '
        '"clause", "rule", "passed", "message"}, ...]}，另含 level、on 及所用的流程定义。\n\n'
        "无论是否符合条件，退出状态均为 0：这是回答问题，不是拒绝；请看结论或 JSON 中的 "
        '"eligible"。文件无法读取、不是 JSON 或缺少规则所需的键时，退出状态为 2'
        "（消息指出文件和键）。"
    ),
    epilog=output.examples(
        "convalescence eligibility explain cadre.json --level city",
        "convalescence eligibility explain cadre.json --level county --on 2024-06-03",
    ),
)
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path), metavar="PROFILE.json")
@click.option(
    "--level",
    required=True,
    metavar="city|county",
    help=_("干部拟参加的计划级别（A4.4）：city 只接收市级层级，county 接收两个层级。"),
)
@click.option(
    "--on",
    "on",
    metavar="DATE",
    callback=parse_day,
    help=_(
        "判断所依据的日期，通常是批次首日（年龄按周岁计，A8.2）；默认取全局 --now 的日期，"
        "否则为今天（北京时间）。"
    ),
)
@click.option(
    "--recommender-body",
    metavar="NAME",
    help=_("A4.3 推荐单位名称（县级退役军人事务部门或军休机构），与报名时登记的相同。"),
)
@click.option("--recommender-officer", metavar="NAME", help=_("A4.3 推荐人姓名。"))
@click.option(
    "--recommended-on", metavar="DATE", callback=output.iso_date, help=_("A4.3 推荐日期。")
)
@click.option(
    "--definition",
    default=DEFAULT_DEFINITION,
    show_default=True,
    metavar="NAME",
    help=_("适用其规则的内置流程定义；使用 DATE 当日有效的版本。"),
)
@output.json_option
def explain_command(
    *,
    profile: Path,
    level: str,
    on: date,
    recommender_body: str | None,
    recommender_officer: str | None,
    recommended_on: date | None,
    definition: str,
    as_json: bool,
) -> None:
    """Runs the engine's own pure evaluator, so what the officer hears is what registration
    will decide; the verdict is the answer, so eligible or not both exit 0. The A4.3
    recommender options are the registration's fields of the same names."""
    chosen = definition_on(definition, on)
    rules = chosen.rules
    assert rules is not None  # definition_on refuses a definition without rules
    if level not in rules.plan_admits:
        levels = ", ".join(rules.plan_admits)
        raise InputError(
            _("--level {level!r} 不是 {name} v{version} 的计划级别（可选：{levels}）").format(
                level=level, name=chosen.name, version=chosen.version, levels=levels
            ),
            field="level",
        )
    record = load_profile(profile, rules)
    evidence = {
        "recommender_body": recommender_body,
        "recommender_officer": recommender_officer,
        "recommended_on": recommended_on,
    }
    explanation = evaluate(
        record, rules=rules, policy=chosen.policy, level=level, on=on, evidence=evidence
    )
    if as_json:
        body = explanation.to_json()
        reasons = body.pop("reasons")
        body |= {
            "definition": chosen.name,
            "definition_version": chosen.version,
            "cadre_id": record.get("id"),
            "reasons": reasons,
        }
        output.print_json(body)
        return
    for sentence in explanation.sentences():
        output.say(sentence)


def definition_on(name: str, on: date) -> Definition:
    """The version of ``name`` in force on ``on``, else the latest (A21.1 then explains why
    the day is outside the policy's window, which is more use to an officer than an error)."""
    catalog = Catalog.from_directories([bundled_directory()])
    chosen = catalog.in_force(name, on) or catalog.get(name)
    if chosen.rules is None:
        raise InputError(
            _("{name} v{version} 没有 rules: 部分（第四条的层级），无法据此说明资格").format(
                name=chosen.name, version=chosen.version
            ),
            field="definition",
        )
    return chosen


# -- reading the profile ------------------------------------------------------------------


class _BadJson(ValueError):
    """JSON the standard parser accepts but a roster must not hold (duplicate keys, NaN)."""


def load_profile(path: Path, rules: PolicyRules) -> dict[str, Any]:
    """The one record in ``path``; every problem is an `InputError` naming the file and key,
    so the error boundary turns it into exit 2 and no traceback reaches the officer."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad writes a BOM
    except FileNotFoundError:
        raise InputError(_("{file}：文件不存在").format(file=shown), field="profile") from None
    except UnicodeDecodeError as error:
        raise InputError(
            _("{file}：不是 UTF-8 文本（第 {byte} 字节）；请以 UTF-8 保存").format(
                file=shown, byte=error.start
            ),
            field="profile",
        ) from None
    except OSError as error:
        raise InputError(
            _("{file}：无法读取（{reason}）").format(file=shown, reason=error.strerror or error),
            field="profile",
        ) from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            _("{file}：不是有效的 JSON：{reason}（第 {line} 行第 {column} 列）").format(
                file=shown, reason=error.msg, line=error.lineno, column=error.colno
            ),
            field="profile",
        ) from None
    except _BadJson as error:
        raise InputError(
            _("{file}：不是有效的干部记录 JSON：{reason}").format(file=shown, reason=error),
            field="profile",
        ) from None
    record = _single_record(value, shown)
    problems = profile_problems(record, rules)
    if problems:
        raise InputError(
            f"{shown}: " + "; ".join(f"{key}: {reason}" for key, reason in problems),
            field=problems[0][0],
        )
    return record


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key written twice is a typo; the parser would silently keep the last one."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _BadJson(_("键 {key!r} 在同一对象中出现了两次").format(key=key))
        result[key] = value
    return result


def _no_constant(constant: str) -> Any:
    raise _BadJson(_("{constant} 不是 JSON 值").format(constant=constant))


def _single_record(value: Any, shown: str) -> dict[str, Any]:
    """An object, or a roster array holding just that one object."""
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError(
                _("{file}：含 {count} 条记录；explain 只接受一名干部").format(
                    file=shown, count=len(value)
                ),
                field="profile",
            )
        value = value[0]
    if not isinstance(value, dict):
        raise InputError(
            _("{file}：须为一条干部记录，即形如 {example} 的 JSON 对象").format(
                file=shown, example='{"birth_date": "1946-03-12", ...}'
            ),
            field="profile",
        )
    return value
