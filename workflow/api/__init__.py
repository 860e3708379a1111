"""The REST API (FastAPI) over `workflow.Engine`, served by ``convalescence serve``.

A host embeds it with one import: ``from workflow.api import create_app, TokenRegistry``.
The names load on first use (PEP 562): the token file's helpers (`workflow.api.tokens`) need no
FastAPI, and the demo writes its console log-ins with them on an install without the ``server``
extra.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.api.app import create_app
    from workflow.api.tokens import TokenRegistry, hash_token

__all__ = ["TokenRegistry", "create_app", "hash_token"]

_HOMES = {
    "create_app": "workflow.api.app",
    "TokenRegistry": "workflow.api.tokens",
    "hash_token": "workflow.api.tokens",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'workflow.api' has no attribute {name!r}")
    return getattr(import_module(home), name)
