"""Parse YAML safely while remembering where every value came from.

Validation must report ``file:line:col`` for each problem, and PyYAML's plain ``safe_load``
forgets positions and silently keeps the last of two duplicate keys. So we compose the node tree
with the safe loader, turn it into plain Python values ourselves, and keep a map from each value's
path (``("transitions", 2, "dest")``) to its 1-based line and column. Dates stay ISO strings here;
the definition builder parses them so a bad date is reported like any other problem.

A hostile file cannot exhaust the process: an alias bomb (a few lines whose anchors expand to
billions of values) or a file nested thousands deep is refused with its position, because the
conversion caps the aliases it follows, the values it builds and the depth it descends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from workflow.errors import Problem
from workflow.i18n import _

Path = tuple[str | int, ...]

_SCALAR_TAGS_KEPT_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
# libyaml's loader composes the same nodes with the same marks, several times faster: every
# command loads the definitions, so it is used whenever PyYAML was built with it
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# far above what a definition or holiday file needs (the shipped definition is 8 deep, ~2,000
# values, no alias), far below what hurts: the bomb of issue 17 expands to 387 million values
MAX_DEPTH = 64
MAX_VALUES = 200_000
MAX_ALIASES = 100


class _TooLarge(Exception):
    """Conversion stops at once: the problem is recorded, nothing more is worth reading."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Budget:
    values: int = 0
    aliases: int = 0
    seen: set[int] = field(default_factory=set)
    expanding: int = 0  # how many aliases deep the conversion is: values inside are not aliases


@dataclass
class Located:
    """Parsed YAML data plus the positions of its values and keys."""

    file: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` or of its nearest ancestor that has one."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(self.file, line, column, message)


def parse_yaml(text: str, file: str) -> Located:
    located = Located(file=file, data=None)
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
    except RecursionError:
        # the pure-Python composer recurses once per level (libyaml stops at 1,000 by itself)
        located.problems.append(_too_deep(file, 1, 1))
        return located
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        located.problems.append(
            Problem(file, line, column, _("YAML 语法错误：{problem}").format(problem=exc.problem))
        )
        return located
    except yaml.YAMLError as exc:
        located.problems.append(Problem(file, 1, 1, _("YAML 错误：{error}").format(error=exc)))
        return located
    finally:
        loader.dispose()
    if node is None:
        located.problems.append(Problem(file, 1, 1, _("文件为空")))
        return located
    try:
        located.data = _convert(node, (), located, loader, _Budget())
    except _TooLarge as stop:
        located.problems.append(stop.problem)
        located.data = None
    return located


def _too_deep(file: str, line: int, column: int) -> Problem:
    return Problem(file, line, column, _("嵌套超过 {limit} 层，拒绝读取").format(limit=MAX_DEPTH))


def _count(node: yaml.Node, depth: int, located: Located, budget: _Budget) -> bool:
    """Charge one value to the budget, True if it is an alias; raise `_TooLarge` once a cap is
    passed."""
    line, column = _mark(node)
    if depth > MAX_DEPTH:
        raise _TooLarge(_too_deep(located.file, line, column))
    budget.values += 1
    if budget.values > MAX_VALUES:
        message = _("值超过 {limit} 个（别名展开后），拒绝读取").format(limit=MAX_VALUES)
        raise _TooLarge(Problem(located.file, line, column, message))
    if budget.expanding:
        return False
    if id(node) in budget.seen:  # the composer hands an alias the node its anchor names
        budget.aliases += 1
        if budget.aliases > MAX_ALIASES:
            message = _("别名（*）超过 {limit} 处，拒绝读取").format(limit=MAX_ALIASES)
            raise _TooLarge(Problem(located.file, line, column, message))
        return True
    budget.seen.add(id(node))
    return False


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(
    node: yaml.Node, path: Path, located: Located, loader: yaml.SafeLoader, budget: _Budget
) -> Any:
    alias = _count(node, len(path), located, budget)
    budget.expanding += alias
    try:
        return _value(node, path, located, loader, budget)
    finally:
        budget.expanding -= alias


def _value(
    node: yaml.Node, path: Path, located: Located, loader: yaml.SafeLoader, budget: _Budget
) -> Any:
    located.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                located.problems.append(
                    Problem(located.file, *_mark(key_node), _("键须为普通名称"))
                )
                continue
            key = key_node.value
            if key == "<<":
                located.problems.append(
                    Problem(located.file, *_mark(key_node), _("不支持合并键（<<）"))
                )
                continue
            if key in result:
                first_line, _column = located.key_positions[(*path, key)]
                located.problems.append(
                    Problem(
                        located.file,
                        *_mark(key_node),
                        _("键 '{key}' 重复（首次定义于第 {line} 行）").format(
                            key=key, line=first_line
                        ),
                    )
                )
                continue
            located.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _convert(value_node, (*path, key), located, loader, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), located, loader, budget)
            for index, item in enumerate(node.value)
        ]
    if node.tag in _SCALAR_TAGS_KEPT_AS_TEXT:
        return node.value
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        located.problems.append(
            Problem(located.file, *_mark(node), _("值有误：{error}").format(error=exc))
        )
        return node.value
