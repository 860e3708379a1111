"""No package cycle between `workflow` and `notifications` (issue 11, item 3).

``notifications`` depends on the core's ports (`workflow.ports`), errors and clock, never on
`workflow.store` or the engine; the definition loader and the core import nothing from
``notifications`` at module level (the template check and the renderer are passed in, or
imported at first use by the facade). Checked twice: on the source (every import statement,
wherever it stands) and in a fresh interpreter (what an import really loads).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What notifications may use from the core: the ports, the errors, the clock and the message
# catalogue (workflow.i18n imports only the standard library, so it adds no cycle).
ALLOWED_FROM_WORKFLOW = {"workflow.ports", "workflow.errors", "workflow.clock", "workflow.i18n"}


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


NOTIFICATIONS = sorted((ROOT / "notifications").glob("*.py"))
DEFINITION = sorted((ROOT / "workflow" / "definition").glob("*.py"))


@pytest.mark.parametrize("path", NOTIFICATIONS, ids=[p.name for p in NOTIFICATIONS])
def test_notifications_uses_only_the_core_ports(path: Path) -> None:
    used = {m for m in _imports(path) if m == "workflow" or m.startswith("workflow.")}
    assert used <= ALLOWED_FROM_WORKFLOW, f"{path.name} imports {sorted(used)}"
    assert not {m for m in _imports(path) if m.split(".")[0] == "sqlalchemy"}


@pytest.mark.parametrize("path", DEFINITION, ids=[p.name for p in DEFINITION])
def test_definition_loading_does_not_import_notifications(path: Path) -> None:
    assert not {m for m in _imports(path) if m.split(".")[0] == "notifications"}


@pytest.mark.parametrize(
    "module", ["workflow/engine.py", "workflow/notices.py", "workflow/ports.py"]
)
def test_the_core_imports_no_notifications_at_module_level(module: str) -> None:
    top = _imports(ROOT / module, top_level_only=True)
    assert not {m for m in top if m.split(".")[0] == "notifications"}


def _fresh(statement: str) -> None:
    subprocess.run([sys.executable, "-c", statement], check=True, timeout=60, cwd=ROOT)


def test_loading_the_core_and_its_definitions_loads_no_notifications() -> None:
    _fresh(
        "import sys, workflow, workflow.definition.loader, workflow.notices\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'notifications')\n"
        "assert not loaded, loaded"
    )


def test_importing_notifications_alone_loads_no_store_nor_engine() -> None:
    # workflow.errors builds its messages through the catalogue (workflow.i18n, pure)
    loadable = sorted({"workflow", "workflow.i18n", *ALLOWED_FROM_WORKFLOW})
    _fresh(
        "import sys, notifications\n"
        "core = sorted(m for m in sys.modules if m.split('.')[0] == 'workflow')\n"
        f"assert set(core) <= set({loadable!r}), core\n"
        "assert 'sqlalchemy' not in sys.modules"
    )


@pytest.mark.parametrize(
    "statement",
    [
        "import notifications; from workflow import Engine; Engine",
        "import notifications.render; from workflow import Engine; Engine",
        "from workflow import Engine; import notifications; notifications.dispatch",
    ],
    ids=["notifications-first", "render-first", "workflow-first"],
)
def test_either_package_imports_first(statement: str) -> None:
    """No import-order hack holds the two together any more: any order loads both."""
    _fresh(statement)
