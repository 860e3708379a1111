"""All definition files the engine knows, grouped by name and version.

A successor policy is a new file with the same name and a higher version (A21.1); the catalog
picks the version in force on a given day and refuses two versions whose windows overlap, since
then the day would not decide which rules apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

from workflow.definition.loader import load_definition_file
from workflow.definition.model import Definition
from workflow.errors import DefinitionError, NotFoundError, Problem
from workflow.i18n import _
from workflow.ports import TemplateCheck


class Catalog:
    def __init__(self, loaded: Iterable[Definition]) -> None:
        by_name: dict[str, dict[int, Definition]] = defaultdict(dict)
        problems: list[Problem] = []
        for definition in loaded:
            versions = by_name[definition.name]
            earlier = versions.get(definition.version)
            if earlier is not None and earlier.content_hash != definition.content_hash:
                problems.append(
                    Problem(
                        definition.source_name,
                        1,
                        1,
                        _("{name} 第 {version} 版也定义在 {other} 中，内容不同").format(
                            name=definition.name,
                            version=definition.version,
                            other=earlier.source_name,
                        ),
                    )
                )
                continue
            versions[definition.version] = definition
        for versions in by_name.values():
            problems += _overlaps(sorted(versions.values(), key=lambda d: d.policy.effective_from))
        if problems:
            raise DefinitionError(problems)
        self._by_name = {name: dict(sorted(v.items())) for name, v in by_name.items()}

    @classmethod
    def from_directories(
        cls, directories: Iterable[Path], *, templates: TemplateCheck | None = None
    ) -> Catalog:
        """Every ``*.yaml`` in ``directories``; ``templates`` checks the notices they name
        (the caller wires ``notifications.shipped.ShippedTemplates()``; see `loader`)."""
        files = sorted({p.resolve() for d in directories for p in Path(d).glob("*.yaml")}, key=str)
        definitions: list[Definition] = []
        problems: list[Problem] = []
        for file in files:
            try:
                definitions.append(load_definition_file(file, templates=templates))
            except DefinitionError as error:
                problems += error.problems
        if problems:
            raise DefinitionError(problems)
        return cls(definitions)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[Definition]:
        if name not in self._by_name:
            raise NotFoundError("工作流定义", name)
        return list(self._by_name[name].values())

    def get(self, name: str, version: int | None = None) -> Definition:
        versions = self.versions(name)
        if version is None:
            return versions[-1]
        for definition in versions:
            if definition.version == version:
                return definition
        raise NotFoundError("工作流定义版本", f"{name} v{version}")

    def in_force(self, name: str, day: date) -> Definition | None:
        for definition in self.versions(name):
            if definition.policy.in_force_on(day):
                return definition
        return None

    def __iter__(self) -> Iterator[Definition]:
        for versions in self._by_name.values():
            yield from versions.values()


def _overlaps(ordered: list[Definition]) -> list[Problem]:
    problems = []
    for earlier, later in pairwise(ordered):
        until = earlier.policy.effective_until
        if until is None or until >= later.policy.effective_from:
            line, column = _position_of(later.source_text, "effective_from")
            problems.append(
                Problem(
                    later.source_name,
                    line,
                    column,
                    _(
                        "{name} v{version} 自 {start} 起生效，而 v{earlier}（{source}）"
                        "有效至 {until}：有效期重叠（A21.1）"
                    ).format(
                        name=later.name,
                        version=later.version,
                        start=later.policy.effective_from.isoformat(),
                        earlier=earlier.version,
                        source=earlier.source_name,
                        until=until.isoformat() if until else _("另行通知"),
                    ),
                )
            )
    return problems


def _position_of(text: str, key: str) -> tuple[int, int]:
    """Where ``key:`` is written, for a problem found after the file was turned into data."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if stripped.startswith(f"{key}:"):
            return number, len(line) - len(stripped) + 1
    return 1, 1
