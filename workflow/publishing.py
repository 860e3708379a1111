"""Publishing a definition version (A21.1, 第二十一条): a successor policy is data an office puts
into the database, not a release of this software.

`publish` checks a text the way `definitions validate` does (every problem with file:line:col),
then against the versions already known: the same number with other content is refused, a window
overlapping another version's is refused unless the earlier one is explicitly cut short (who and
why go to the admin log), and a ``migrates_from`` map must name the earlier version's real
states and leave no running case in a state the successor neither maps nor has. Only then is the
text stored, in one transaction with its admin log entry; every node reads it within seconds
(`workflow.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from workflow.clock import shanghai_date
from workflow.definition.model import Definition
from workflow.errors import DefinitionError, Problem, RuleRefused
from workflow.i18n import _
from workflow.machine import Actor
from workflow.plans import service as plans_service
from workflow.registry import definition_row
from workflow.store.admin_log import Author
from workflow.store.definitions import StoredVersion, definition_store

if TYPE_CHECKING:
    from workflow.definition.yaml_source import Located
    from workflow.engine import Engine

PUBLISH = "definitions:publish"  # the permission in the definition's rules.permissions (A5.2)
READ = "definitions:read"


@dataclass(frozen=True)
class Published:
    """What a publication came to."""

    name: str
    version: int
    definition_id: int
    content_hash: str
    effective_from: date
    effective_until: date | None
    already: bool = False  # the very same text was published before: nothing written
    cut_short: tuple[int, date] | None = None  # (earlier version, its new last day)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "definition_id": self.definition_id,
            "content_hash": self.content_hash,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": _iso(self.effective_until),
            "already_published": self.already,
            "cut_short": None
            if self.cut_short is None
            else {"version": self.cut_short[0], "last_day": self.cut_short[1].isoformat()},
        }


@dataclass(frozen=True)
class VersionListing:
    """One line of `definitions list`: a version, its window and how many cases run on it."""

    name: str
    version: int
    title: str
    document: str
    effective_from: date
    effective_until: date | None  # as cut short, if it was
    cut_short: bool
    in_force: bool
    source: str  # the file, or "published"
    published_by: str | None
    published_at: datetime | None
    open_cases: int
    cases: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "document": self.document,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": _iso(self.effective_until),
            "cut_short": self.cut_short,
            "in_force": self.in_force,
            "source": self.source,
            "published_by": self.published_by,
            "published_at": None if self.published_at is None else self.published_at.isoformat(),
            "open_cases": self.open_cases,
            "cases": self.cases,
        }


def publish(
    engine: Engine,
    text: str,
    source_name: str,
    *,
    actor: Actor,
    cut_short_reason: str | None = None,
) -> Published:
    """Store ``text`` as a published version, or refuse with every problem found (nothing
    written). ``cut_short_reason`` allows ending the earlier version the day before this one
    starts, when their windows would overlap (A21.1); without it an overlap is refused."""
    refusal = plans_service.permission_refusal(engine, actor, PUBLISH)
    if refusal is not None:
        raise RuleRefused([refusal])
    # the loader and the real template check only when something is published
    from notifications.shipped import ShippedTemplates  # noqa: PLC0415
    from workflow.definition.loader import load_definition_text  # noqa: PLC0415
    from workflow.definition.yaml_source import parse_yaml  # noqa: PLC0415

    definition = load_definition_text(
        text, source_name, templates=ShippedTemplates(), trust_cache=False
    )
    located = parse_yaml(text, source_name)
    engine.published_changed()
    catalog = engine.catalog
    others = catalog.versions(definition.name) if definition.name in catalog.names() else []
    same = next((d for d in others if d.version == definition.version), None)
    now = engine.clock.now()
    if same is not None:
        if same.content_hash != definition.content_hash:
            raise DefinitionError([located.problem(("version",), _different(definition, same))])
        # the very same text, published before or shipped as a file: nothing to write
        return _outcome(definition, engine.stored_definition_id(same), already=True)
    earlier = _overlapping_earlier(definition, others, located, cut_short_reason)
    problems = _migration_problems(engine, definition, others, located)
    if problems:
        raise DefinitionError(problems)
    author = Author(actor.role, actor.name, actor.scope)
    with definition_store(engine.transaction, write=True, author=author, now=now) as store:
        cut: tuple[int, date] | None = None
        if earlier is not None:
            last_day = definition.policy.effective_from - timedelta(days=1)
            earlier_id = store.store_file_version(definition_row(earlier, now))
            store.cut_short(
                earlier_id,
                last_day,
                {"name": earlier.name, "version": earlier.version, "last_day": last_day},
                str(cut_short_reason),
            )
            cut = (earlier.version, last_day)
        definition_id = store.publish(
            definition_row(definition, now) | {"published_by": _who(actor), "published_at": now},
            {
                "name": definition.name,
                "version": definition.version,
                "content_hash": definition.content_hash,
                "effective_from": definition.policy.effective_from,
                "effective_until": definition.policy.effective_until,
                "document": definition.policy.document,
            },
        )
    engine.published_changed()
    return _outcome(definition, definition_id, cut=cut)


def versions(engine: Engine, *, actor: Actor | None = None) -> list[VersionListing]:
    """Every version known (files and published), oldest first per name, with its window as in
    force and its case counts."""
    if actor is not None:
        refusal = plans_service.permission_refusal(engine, actor, READ)
        if refusal is not None:
            raise RuleRefused([refusal])
    engine.published_changed()
    catalog = engine.catalog
    today = shanghai_date(engine.clock.now())
    with definition_store(engine.transaction) as store:
        stored = {(row.name, row.version): row for row in store.versions()}
        finished = {
            row.id: _terminal(catalog.get(row.name, row.version))
            for row in stored.values()
            if row.name in catalog.names() and row.version in _numbers(catalog.versions(row.name))
        }
        counts = store.case_counts(finished)
    listing = []
    for name in catalog.names():
        for definition in catalog.versions(name):
            row = stored.get((name, definition.version))
            open_cases, total = counts.get(row.id, (0, 0)) if row else (0, 0)
            listing.append(
                VersionListing(
                    name=name,
                    version=definition.version,
                    title=definition.title,
                    document=definition.policy.document,
                    effective_from=definition.policy.effective_from,
                    effective_until=definition.policy.effective_until,
                    cut_short=row is not None and row.ends_early_on is not None,
                    in_force=definition.policy.in_force_on(today),
                    source="published" if row and row.published else definition.source_name,
                    published_by=row.published_by if row else None,
                    published_at=row.published_at if row else None,
                    open_cases=open_cases,
                    cases=total,
                )
            )
    return listing


# -- the checks ------------------------------------------------------------------------------


def _overlapping_earlier(
    definition: Definition,
    others: Sequence[Definition],
    located: Located,
    cut_short_reason: str | None,
) -> Definition | None:
    """The earlier version to cut short, if the windows overlap and the officer said to; any
    other overlap is refused (A21.1): on a day two versions are in force the day would not say
    which rules apply."""
    start, end = definition.policy.effective_from, definition.policy.effective_until
    to_cut: Definition | None = None
    for other in others:
        if other.version == definition.version:
            continue
        other_end = other.policy.effective_until
        overlaps = (other_end is None or other_end >= start) and (
            end is None or other.policy.effective_from <= end
        )
        if not overlaps:
            continue
        can_cut = other.policy.effective_from < start and other.version < definition.version
        if can_cut and cut_short_reason and cut_short_reason.strip():
            to_cut = other
            continue
        hint = (
            _("；如确需提前终止第 {earlier} 版，请加 --cut-short-previous 并用 --reason 说明理由")
            if can_cut
            else ""
        ).format(earlier=other.version)
        raise DefinitionError(
            [
                located.problem(
                    ("policy", "effective_from"),
                    _(
                        "{name} 第 {version} 版的有效期（{start} 至 {end}）与第 {other} 版"
                        "（{other_start} 至 {other_end}）重叠（A21.1）"
                    ).format(
                        name=definition.name,
                        version=definition.version,
                        start=start.isoformat(),
                        end=_iso(end) or _("另行通知"),
                        other=other.version,
                        other_start=other.policy.effective_from.isoformat(),
                        other_end=_iso(other_end) or _("另行通知"),
                    )
                    + hint,
                )
            ]
        )
    return to_cut


def _migration_problems(
    engine: Engine, definition: Definition, others: Sequence[Definition], located: Located
) -> list[Problem]:
    """A ``migrates_from`` map names an earlier version that exists, states it really has, and
    leaves no running case of it stranded in a state the successor neither maps nor has."""
    mapping = definition.migrates_from
    if mapping is None:
        return []
    earlier = next((d for d in others if d.version == mapping.version), None)
    if earlier is None:
        return [
            located.problem(
                ("migrates_from", "version"),
                _("迁入自的第 {version} 版不存在（已知版本：{known}）").format(
                    version=mapping.version,
                    known="、".join(str(d.version) for d in others) or _("无"),
                ),
            )
        ]
    problems = []
    old_states = {s.name for s in earlier.states}
    for old in mapping.states:
        if old not in old_states:
            problems.append(
                located.problem(
                    ("migrates_from", "states", old),
                    _("第 {version} 版没有状态 '{state}'（可用：{known}）").format(
                        version=earlier.version, state=old, known=", ".join(sorted(old_states))
                    ),
                    key=True,
                )
            )
    new_states = {s.name for s in definition.states}
    with definition_store(engine.transaction) as store:
        stored = store.find(earlier.name, earlier.version)
        running = [] if stored is None else store.open_cases(stored.id, _terminal(earlier))
    stranded = [
        (case_id, state)
        for case_id, state in running
        if state not in mapping.states and state not in new_states
    ]
    if stranded:
        states = sorted({state for _case, state in stranded})
        problems.append(
            located.problem(
                ("migrates_from", "states"),
                _(
                    "第 {version} 版的案件 {cases} 处于本版已删除且未映射的状态 {states}："
                    "发布后它们将无处可去（A21.1）；请在 migrates_from.states 中为这些状态指定去处"
                ).format(
                    version=earlier.version,
                    cases="、".join(str(case_id) for case_id, _state in stranded[:20])
                    + ("…" if len(stranded) > 20 else ""),
                    states="、".join(states),
                ),
            )
        )
    return problems


# -- helpers ---------------------------------------------------------------------------------


def _different(definition: Definition, same: Definition) -> str:
    return _(
        "{name} 第 {version} 版已存在（{source}），内容不同：修改后的文件请另编版本号（A21.1）"
    ).format(name=definition.name, version=definition.version, source=same.source_name)


def _outcome(
    definition: Definition,
    definition_id: int,
    *,
    already: bool = False,
    cut: tuple[int, date] | None = None,
) -> Published:
    return Published(
        name=definition.name,
        version=definition.version,
        definition_id=definition_id,
        content_hash=definition.content_hash,
        effective_from=definition.policy.effective_from,
        effective_until=definition.policy.effective_until,
        already=already,
        cut_short=cut,
    )


def _who(actor: Actor) -> str:
    scope = f"@{actor.scope}" if actor.scope else ""
    return f"{actor.role}:{actor.name}{scope}"[:200]


def _terminal(definition: Definition) -> frozenset[str]:
    return frozenset(s.name for s in definition.states if s.terminal)


def _numbers(found: Sequence[Definition]) -> set[int]:
    return {d.version for d in found}


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


__all__ = ["Published", "StoredVersion", "VersionListing", "publish", "versions"]
