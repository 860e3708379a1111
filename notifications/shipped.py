"""Which notices are shipped, and their check as definition validation sees it, without Jinja2.

An engine hands `ShippedTemplates` to the definition loader, which asks it for the templates'
fingerprint first: a definition text validated against these very files before is not checked
again (`workflow.definition.validated`). That question only reads files, so it lives here, and
Jinja2 (`notifications.render`) loads only when a template must really be rendered or checked.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"


@cache
def template_names() -> frozenset[str]:
    """The notices shipped, by name (``approval_notice`` for ``approval_notice.txt.j2``).

    Cached: the package's files do not change while it runs."""
    return frozenset(
        path.name.removesuffix(TEXT_SUFFIX)
        for path in TEMPLATE_DIR.glob(f"*{TEXT_SUFFIX}")
        if not path.name.startswith("_")
    )


class ShippedTemplates:
    """The shipped notices as definition validation sees them (`workflow.ports.TemplateCheck`).

    Whoever loads definitions for real (the engine's registry, ``definitions validate``) passes
    one in; `workflow.definition` itself never imports this package."""

    def names(self) -> frozenset[str]:
        return template_names()

    def problems(self, name: str) -> list[str]:
        from notifications.render import template_problems  # noqa: PLC0415 - Jinja2 on use

        return list(template_problems(name))

    def fingerprint(self) -> str:
        """A digest of every shipped template file and of the rendering code (the check's own
        code): definitions validated against anything else are validated again."""
        return _templates_fingerprint()


@cache
def _templates_fingerprint() -> str:
    # the checking code itself counts too: a changed sample context or filter re-checks
    digest = hashlib.sha256((TEMPLATE_DIR.parent / "render.py").read_bytes())
    for entry in sorted(TEMPLATE_DIR.iterdir()):
        if entry.is_file():
            digest.update(entry.name.encode("utf-8") + b"\0" + entry.read_bytes())
    return digest.hexdigest()
