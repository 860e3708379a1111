"""The REST API (FastAPI) over `workflow.Engine`, served by ``convalescence serve``.

A host embeds it with one import: ``from workflow.api import create_app, TokenRegistry``.
"""

from workflow.api.app import create_app
from workflow.api.tokens import TokenRegistry, hash_token

__all__ = ["TokenRegistry", "create_app", "hash_token"]
