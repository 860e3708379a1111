"""Draft a successor policy file from the version in force, for an officer to edit by hand.

When a policy expires (A21.1) the office writes the next version: the same name, a higher
version, a new document number, a new effective window and new cycles (A9.1); everything else
starts as the current text says and is changed by hand where the new document differs. The
draft is therefore made by editing the current file's *text*, not by dumping its data: the
comments citing each article and the layout an officer knows stay where they were. The values
to change are found by their YAML nodes' exact positions (PyYAML's composer records where every
node starts and ends), so a flow mapping, a quoted value or a trailing comment is kept intact.

The successor also says which open cases of the current version may move onto it
(``migrates_from:``, A21.1): every state that is not final maps onto itself, for the officer to
prune. The result is loaded like any definition before it is handed back, so a draft that would
not validate is never written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import yaml

from workflow.definition.loader import load_definition_text
from workflow.definition.model import Definition
from workflow.definition.policy_rules import Cycle
from workflow.errors import InputError
from workflow.i18n import _
from workflow.ports import TemplateCheck

DEFAULT_CYCLE_YEARS = 2  # A9.1 原则上每两年为一个周期, when a definition states no limit
_COMMENT_COLUMN = 34  # where the comments of the added migrates_from: block start


@dataclass(frozen=True)
class SuccessorTerms:
    """What the new document decides: its number, its window, and the version it will be."""

    version: int
    document: str
    effective_from: date
    effective_until: date
    issued_on: date | None = None  # None: the day it takes effect


@dataclass(frozen=True)
class Draft:
    """The successor's text, and what was put in it (for the command's report)."""

    text: str
    definition: Definition
    cycles: tuple[Cycle, ...]
    migrates: dict[str, str]


def successor_cycles(start: date, end: date, max_years: int) -> tuple[Cycle, ...]:
    """Cycles covering ``start``–``end``, each at most ``max_years`` calendar years (A9.1).

    Cycles follow calendar years, as the 2023 text does (2024-2025): the first begins on the
    first day in force and ends on 31 December of its last year, so a window opening mid-year
    gives a first cycle a little short of ``max_years``, never over it. The id names its years:
    "2026-2027", or "2026" for a one-year cycle."""
    cycles: list[Cycle] = []
    first = start
    while first <= end:
        last = min(end, date(first.year + max_years - 1, 12, 31))
        years = str(first.year) if last.year == first.year else f"{first.year}-{last.year}"
        cycles.append(Cycle(id=years, start=first, end=last))
        first = last + timedelta(days=1)
    return tuple(cycles)


def draft_successor(
    current: Definition,
    terms: SuccessorTerms,
    *,
    today: date,
    source_name: str = "draft.yaml",
    templates: TemplateCheck | None = None,
) -> Draft:
    """The successor's text, or an `InputError` naming why the terms cannot follow ``current``.

    Refused: a window that ends before it starts, a window that does not begin after the
    current version's ends (A21.1: one version in force on any day), a version number that
    does not follow the current one. The text is loaded before it is returned (with
    ``templates``, the notices it names are checked as ``definitions validate`` checks them);
    its problems are reported against ``source_name``, the file it is meant for."""
    _check_terms(current, terms)
    rules = current.rules
    years = rules.limits.cycle_max_years if rules and rules.limits else DEFAULT_CYCLE_YEARS
    cycles = successor_cycles(terms.effective_from, terms.effective_until, years)
    migrates = {s.name: s.name for s in current.states if not s.terminal}
    text = _TextEditor(current.source_text, current.source_name)
    text.set_scalar(("version",), terms.version)
    text.set_scalar(("policy", "document"), terms.document)
    text.set_scalar(("policy", "issued_on"), terms.issued_on or terms.effective_from, after="title")
    text.set_scalar(("policy", "effective_from"), terms.effective_from, after="issued_on")
    text.set_scalar(("policy", "effective_until"), terms.effective_until, after="effective_from")
    if rules is not None:
        text.set_cycles(cycles)
    text.set_migration(current.version, migrates)
    header = _header(current, today)
    drafted = header + text.result()
    definition = load_definition_text(drafted, source_name, templates=templates, trust_cache=False)
    return Draft(
        text=drafted,
        definition=definition,
        cycles=cycles if rules is not None else (),
        migrates=migrates,
    )


def _check_terms(current: Definition, terms: SuccessorTerms) -> None:
    if terms.effective_from > terms.effective_until:
        raise InputError(
            _("生效日期 {start} 晚于失效日期 {until}").format(
                start=terms.effective_from.isoformat(), until=terms.effective_until.isoformat()
            ),
            field="effective_from",
        )
    if terms.version <= current.version:
        raise InputError(
            _("新版本号须大于当前的第 {current} 版（{name}），得到第 {version} 版").format(
                current=current.version, name=current.name, version=terms.version
            ),
            field="version",
        )
    until = current.policy.effective_until
    if until is None or terms.effective_from <= until:
        raise InputError(
            _(
                "{name} 第 {version} 版有效至 {until}，新版本自 {start} 起生效：有效期重叠"
                "（A21.1：同一天只能有一个版本有效）；新版本应自 {next} 起生效"
            ).format(
                name=current.name,
                version=current.version,
                until=until.isoformat() if until else _("另行通知"),
                start=terms.effective_from.isoformat(),
                next=(until + timedelta(days=1)).isoformat() if until else _("其截止日之后"),
            ),
            field="effective_from",
        )


def _header(current: Definition, today: date) -> str:
    lines = [
        _("草稿：{today} 由 {name} 第 {version} 版（{document}）生成，供人工审阅修改。").format(
            today=today.isoformat(),
            name=current.name,
            version=current.version,
            document=current.policy.document,
        ),
        _(
            "已改动：version、policy 的文号与日期、rules.cycles、migrates_from；"
            "其余照抄原版本，发布前请对照新文件逐条核对。"
        ),
    ]
    return "".join(f"# {line}\n" for line in lines)


# -- text edits ----------------------------------------------------------------------------

Key = tuple[str, ...]


class _TextEditor:
    """Edits made on the original text at the positions of its YAML nodes; each edit is
    recorded against the original and all are applied at the end, last first, so the
    positions stay valid."""

    def __init__(self, text: str, source_name: str) -> None:
        self.text = text
        self.source_name = source_name
        # the pure-Python composer: its marks count characters (libyaml's count bytes)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if not isinstance(root, yaml.MappingNode):  # the definition was loaded: cannot happen
            raise InputError(_("{file} 不是由键组成的映射").format(file=source_name))
        self.root = root
        self.edits: list[tuple[int, int, str]] = []

    def result(self) -> str:
        text = self.text
        for start, end, replacement in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + replacement + text[end:]
        return text

    # -- finding nodes

    def _find(self, path: Key) -> tuple[yaml.MappingNode, yaml.Node | None]:
        """The mapping holding the last key of ``path``, and that key's value (None: absent)."""
        node: yaml.Node = self.root
        for key in path[:-1]:
            found = _value_of(node, key) if isinstance(node, yaml.MappingNode) else None
            if found is None:
                raise InputError(
                    _("{file} 中缺少 {key}").format(file=self.source_name, key=".".join(path))
                )
            node = found
        if not isinstance(node, yaml.MappingNode):
            raise InputError(
                _("{file} 中 {key} 不是映射").format(file=self.source_name, key=".".join(path[:-1]))
            )
        return node, _value_of(node, path[-1])

    def _line_end(self, index: int) -> int:
        """The index just past the newline ending the line that holds ``index``."""
        newline = self.text.find("\n", index)
        return len(self.text) if newline < 0 else newline + 1

    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _newline_before(self, at: int) -> str:
        """A newline to write before text added at ``at``: the last line may lack one."""
        return "\n" if at == len(self.text) and not self.text.endswith("\n") else ""

    # -- edits

    def set_scalar(self, path: Key, value: int | str | date, *, after: str | None = None) -> None:
        """Replace a scalar's text; an absent key is added after ``after`` (or last)."""
        mapping, node = self._find(path)
        if isinstance(node, yaml.ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            written = _scalar(value, node.style)
            if node.style in ("|", ">") and self.text[start:end].endswith("\n"):
                written += "\n"
            self.edits.append((start, end, written))
            return
        if node is not None:
            raise InputError(
                _("{file} 中 {key} 应为单个值").format(file=self.source_name, key=".".join(path))
            )
        self._insert(mapping, path[-1], _scalar(value, None), after=after)

    def _insert(
        self, mapping: yaml.MappingNode, key: str, written: str, *, after: str | None
    ) -> None:
        previous = _value_of(mapping, after) if after else None
        if previous is None:
            previous = mapping.value[-1][1]
        if mapping.flow_style:
            at = _content_end(previous)
            self.edits.append((at, at, f", {key}: {written}"))
            return
        indent = " " * mapping.value[0][0].start_mark.column
        at = self._line_end(_content_end(previous))
        self.edits.append((at, at, f"{self._newline_before(at)}{indent}{key}: {written}\n"))

    def set_cycles(self, cycles: Sequence[Cycle]) -> None:
        """``rules.cycles`` becomes ``cycles``, in the style of the first cycle written."""
        rules, node = self._find(("rules", "cycles"))
        if node is None:
            indent = rules.value[0][0].start_mark.column
            items = "".join(f"{' ' * (indent + 2)}- {_flow_cycle(c)}\n" for c in cycles)
            at = self._line_end(_content_end(rules.value[-1][1]))
            self.edits.append((at, at, f"{' ' * indent}cycles:  # A9.1\n{items}"))
            return
        if not isinstance(node, yaml.SequenceNode):
            raise InputError(_("{file} 中 rules.cycles 应为列表").format(file=self.source_name))
        if node.flow_style or not node.value:
            listed = "[" + ", ".join(_flow_cycle(c) for c in cycles) + "]"
            self.edits.append((node.start_mark.index, node.end_mark.index, listed))
            return
        first, last = node.value[0], node.value[-1]
        begin = self._line_start(first.start_mark.index)
        prefix = self.text[begin : first.start_mark.index]  # "    - "
        if not prefix.strip(" ").startswith("-") or prefix.strip(" -"):
            prefix = " " * (first.start_mark.column - 2) + "- "
        block = isinstance(first, yaml.MappingNode) and not first.flow_style
        lines = []
        for cycle in cycles:
            if block:
                inner = " " * len(prefix)
                lines.append(f"{prefix}id: {_scalar(cycle.id, None)}\n")
                lines.append(f"{inner}start: {cycle.start.isoformat()}\n")
                lines.append(f"{inner}end: {cycle.end.isoformat()}\n")
            else:
                lines.append(f"{prefix}{_flow_cycle(cycle)}\n")
        end = self._line_end(_content_end(last))
        self.edits.append((begin, end, "".join(lines)))

    def set_migration(self, version: int, states: dict[str, str]) -> None:
        """The top-level ``migrates_from:`` block: replaced if the current text has one (it
        named the version before the current), else added after ``policy:``."""
        indent = " " * _indent_unit(self.root)
        block = (
            "migrates_from:".ljust(_COMMENT_COLUMN)
            + f"# A21.1: open cases of version {version} may move onto this one\n"
            + f"{indent}version: {version}\n"
            + f"{indent}states:".ljust(_COMMENT_COLUMN)
            + f"# state in version {version}: state here; unlisted states refuse\n"
        )
        block += "".join(
            f"{indent * 2}{_scalar(old, None)}: {_scalar(new, None)}\n"
            for old, new in states.items()
        )
        for key_node, value_node in self.root.value:
            if key_node.value == "migrates_from":
                begin = self._line_start(key_node.start_mark.index)
                end = self._line_end(_content_end(value_node))
                self.edits.append((begin, end, block))
                return
        policy = _value_of(self.root, "policy")
        anchor = policy if policy is not None else self.root.value[0][1]
        at = self._line_end(_content_end(anchor))
        self.edits.append((at, at, f"{self._newline_before(at)}\n{block}"))


def _value_of(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: yaml.Node = value_node
            return found
    return None


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends. A block collection's end mark lies at the next token,
    past any comment lines after it, so its last value's end is taken instead."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    return int(node.end_mark.index)


def _indent_unit(root: yaml.MappingNode) -> int:
    """The indentation the file uses for nested keys (2 when nothing shows it)."""
    for _key, value in root.value:
        if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
            return max(1, int(value.value[0][0].start_mark.column))
    return 2


def _flow_cycle(cycle: Cycle) -> str:
    return (
        f"{{id: {_scalar(cycle.id, None)}, start: {cycle.start.isoformat()}, "
        f"end: {cycle.end.isoformat()}}}"
    )


def _scalar(value: int | str | date, style: str | None) -> str:
    """``value`` as YAML text reading back as itself: plain where that is unambiguous (in a
    block or a flow mapping), else double-quoted; a value that was quoted stays quoted."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    quoted = json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or not _plain_reads_back(value):
        return quoted
    return value


def _plain_reads_back(value: str) -> bool:
    if not value or value != value.strip() or "\n" in value or "#" in value:
        return False
    try:
        block = yaml.safe_load(f"k: {value}\n")
        flow = yaml.safe_load(f"{{k: {value}}}")
    except yaml.YAMLError:
        return False
    return bool(block == {"k": value} and flow == {"k": value})
