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

from definitions import bundled_directory
from workflow.cli import output
from workflow.definition.catalog import Catalog
from workflow.definition.model import Definition
from workflow.definition.policy_rules import PolicyRules
from workflow.eligibility import explain as evaluate
from workflow.engine import DEFAULT_DEFINITION
from workflow.errors import InputError
from workflow.profile_check import profile_problems


def parse_day(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    """``--on``: a calendar date; the age limit of art. 8 is counted on it in full years."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2024-06-03") from None


@click.group()
def eligibility() -> None:
    """Explain who may join honorary convalescence and why (art. 4, 8, 21); no database used."""


@eligibility.command("explain")
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path), metavar="PROFILE.json")
@click.option(
    "--level",
    required=True,
    metavar="city|county",
    help="The level of the plan the cadre would join (A4.4): city admits the city tier only, "
    "county admits both tiers.",
)
@click.option(
    "--on",
    "on",
    required=True,
    metavar="DATE",
    callback=parse_day,
    help="The day to judge on, normally the batch's first day (age in full years, A8.1).",
)
@click.option(
    "--definition",
    default=DEFAULT_DEFINITION,
    show_default=True,
    metavar="NAME",
    help="The bundled definition whose rules apply; the version in force on DATE is used.",
)
@output.json_option
def explain_command(*, profile: Path, level: str, on: date, definition: str, as_json: bool) -> None:
    """Explain whether the cadre in PROFILE.json may join a LEVEL plan on DATE, and why (A4.2).

    PROFILE.json holds one cadre record in the roster format (a JSON object, or an array of
    exactly one). Nothing is read from or written to the database. The rules are those of the
    definition version in force on DATE; when none is (the policy expired), its latest version
    is used, so the art. 21 reason shows the expiry.

    Prints the verdict and one Chinese sentence per check, each citing its article, to be read
    aloud. With --json: {"eligible": bool, "tier": "city"|"county"|"none", "reasons": [{"article",
    "clause", "rule", "passed", "message"}, ...]} plus level, on and the definition used.

    Exit status 0 whether the cadre is eligible or not: this answers a question, it refuses
    nothing; read the verdict, or "eligible" in the JSON. Exit status 2 when the file cannot be
    read, is not JSON, or lacks a key the rules need (the message names the file and the key).
    """
    chosen = definition_on(definition, on)
    rules = chosen.rules
    assert rules is not None  # definition_on refuses a definition without rules
    if level not in rules.plan_admits:
        levels = ", ".join(rules.plan_admits)
        raise InputError(
            f"--level {level!r} is not a plan level of {chosen.name} v{chosen.version} "
            f"(levels: {levels})",
            field="level",
        )
    record = load_profile(profile, rules)
    explanation = evaluate(record, rules=rules, policy=chosen.policy, level=level, on=on)
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
            f"{chosen.name} v{chosen.version} declares no rules: block (art. 4 tiers), so "
            "eligibility cannot be explained under it",
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
        raise InputError(f"{shown}: no such file", field="profile") from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{shown}: not UTF-8 text (byte {error.start}); save the profile as UTF-8",
            field="profile",
        ) from None
    except OSError as error:
        raise InputError(
            f"{shown}: cannot be read ({error.strerror or error})", field="profile"
        ) from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{shown}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            field="profile",
        ) from None
    except _BadJson as error:
        raise InputError(
            f"{shown}: not valid JSON for a profile: {error}", field="profile"
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
            raise _BadJson(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(constant: str) -> Any:
    raise _BadJson(f"{constant} is not a JSON value")


def _single_record(value: Any, shown: str) -> dict[str, Any]:
    """An object, or a roster array holding just that one object."""
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError(
                f"{shown}: holds {len(value)} records; explain takes exactly one cadre",
                field="profile",
            )
        value = value[0]
    if not isinstance(value, dict):
        raise InputError(
            f"{shown}: must hold one cadre record, a JSON object such as "
            '{"birth_date": "1946-03-12", ...}',
            field="profile",
        )
    return value
