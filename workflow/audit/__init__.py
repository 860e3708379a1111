"""Tamper-evident history (A19.1): hash chains over the append-only audit records and the check
that they still hold.

`chain` is the pure canonical form and hash the store writes with; `verify` re-reads the
database and names the first broken record. ``convalescence audit verify`` is the command line.

The names below load on first use (PEP 562): the store imports `workflow.audit.chain` on every
step, and that must not pull in the verifier and, with it, the definition loader (YAML,
jsonschema) that only a verification needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.audit.verify import Break, Report, verify, verify_database

__all__ = ["Break", "Report", "verify", "verify_database"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(import_module("workflow.audit.verify"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
