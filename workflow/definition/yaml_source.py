"""Parse YAML safely while remembering where every value came from.

Validation must report ``file:line:col`` for each problem, and PyYAML's plain ``safe_load``
forgets positions and silently keeps the last of two duplicate keys. So we compose the node tree
with the safe loader, turn it into plain Python values ourselves, and keep a map from each value's
path (``("transitions", 2, "dest")``) to its 1-based line and column. Dates stay ISO strings here;
the definition builder parses them so a bad date is reported like any other problem.
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
    located.data = _convert(node, (), located, loader)
    return located


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: yaml.Node, path: Path, located: Located, loader: yaml.SafeLoader) -> Any:
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
            result[key] = _convert(value_node, (*path, key), located, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), located, loader) for index, item in enumerate(node.value)
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
