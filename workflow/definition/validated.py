"""Remember which definition texts have passed validation, so a command does not validate them
again: every command loads the definitions, and checking one against the JSON schema and
rendering every notice it names costs more than the rest of a short command.

A text counts as validated only for the exact checker that passed it: the marker's name is a
SHA-256 over the definition text, the schema, the checking code, the known guards and the
notice templates' own fingerprint. Change any of them and the text is checked again. Markers are
empty files in ``$CONVALESCENCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/convalescence``, else
``~/.cache/convalescence``; a cache that cannot be written is simply not used.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path

CACHE_VAR = "CONVALESCENCE_CACHE_DIR"
_CHECKER_FILES = ("schema.json", "checks.py", "loader.py", "yaml_source.py", "policy_rules.py")


def cache_directory() -> Path:
    configured = os.environ.get(CACHE_VAR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convalescence"


@cache
def _checker_fingerprint() -> bytes:
    package = resources.files("workflow.definition")
    digest = hashlib.sha256()
    for name in _CHECKER_FILES:
        digest.update(package.joinpath(name).read_bytes())
    return digest.digest()


def validation_key(text: str, guards: Iterable[str], templates: str) -> str:
    """The marker name for ``text`` as checked with these guards and templates."""
    digest = hashlib.sha256(_checker_fingerprint())
    for part in (text, "\0".join(sorted(guards)), templates):
        digest.update(b"\0" + part.encode("utf-8"))
    return digest.hexdigest()


def was_validated(key: str) -> bool:
    return (cache_directory() / "validated" / key).is_file()


def remember_validated(key: str) -> None:
    folder = cache_directory() / "validated"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass  # a read-only home: validate every time, as before
