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
_POLICY_FILE = "policy.py"  # checks.py asks workflow.policy whether a cycle is too long


def cache_directory() -> Path | None:
    """Where markers go; None when there is no such place (no home directory)."""
    configured = os.environ.get(CACHE_VAR)
    if configured:
        return Path(configured)
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no $HOME and a user without a passwd entry (a bare container)
        return None
    return Path(base) / "convalescence"


@cache
def _checker_fingerprint() -> bytes:
    package = resources.files("workflow.definition")
    digest = hashlib.sha256()
    for name in _CHECKER_FILES:
        digest.update(package.joinpath(name).read_bytes())
    digest.update(resources.files("workflow").joinpath(_POLICY_FILE).read_bytes())
    return digest.digest()


def validation_key(text: str, guards: Iterable[str], templates: str) -> str:
    """The marker name for ``text`` as checked with these guards and templates."""
    digest = hashlib.sha256(_checker_fingerprint())
    for part in (text, "\0".join(sorted(guards)), templates):
        digest.update(b"\0" + part.encode("utf-8"))
    return digest.hexdigest()


def was_validated(key: str) -> bool:
    folder = cache_directory()
    try:
        return folder is not None and (folder / "validated" / key).is_file()
    except OSError:  # a cache folder we may not search: validate, as without a cache
        return False


def remember_validated(key: str) -> None:
    folder = cache_directory()
    if folder is None:
        return
    try:
        (folder / "validated").mkdir(parents=True, exist_ok=True)
        (folder / "validated" / key).touch()
    except OSError:
        pass  # a read-only home: validate every time, as before
