"""API tokens: which bearer token acts as which `Actor` (role, name and scope, A5.1/A5.2).

The token file holds only the SHA-256 digest of each token, never the token itself, so a copy
of the file (a backup, a config repository) lets nobody call the API. A host hands the token to
its back-office program once, when ``convalescence tokens hash`` makes it, and keeps it there.

File format (YAML, or TOML with the same structure)::

    tokens:
      9f86d081884c7d65...:          # sha256 hex digest of the token
        role: agency_officer
        name: 王芳
        scope: 东昌府区军休所          # county, agency, cadre id or contractor id; none for
                                      # city_officer and auditor
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import InputError
from workflow.i18n import _
from workflow.machine import Actor

DIGEST_LENGTH = 64  # hex characters of a SHA-256 digest


def hash_token(token: str) -> str:
    """The digest stored in the token file for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits), URL-safe so it fits an Authorization header as is."""
    return secrets.token_urlsafe(32)


def token_entry(digest: str, actor: Actor) -> dict[str, dict[str, str]]:
    """One entry of the token file, as ``tokens hash`` prints it for the host to paste."""
    fields = {"role": actor.role, "name": actor.name}
    if actor.scope is not None:
        fields["scope"] = actor.scope
    return {digest: fields}


@dataclass(frozen=True)
class TokenRegistry:
    """Digest → actor. Built from a file with `load`, or in code with `from_tokens` (tests,
    hosts that keep tokens in their own secret store)."""

    actors: Mapping[str, Actor]

    @classmethod
    def from_tokens(cls, tokens: Mapping[str, Actor | str]) -> TokenRegistry:
        """Plain tokens → actors (``"role:name@scope"`` or `Actor`); only digests are kept."""
        return cls(
            {
                hash_token(token): actor if isinstance(actor, Actor) else Actor.parse(actor)
                for token, actor in tokens.items()
            }
        )

    @classmethod
    def load(cls, path: str | Path) -> TokenRegistry:
        """Read a YAML or TOML token file; every bad entry is reported, naming the file."""
        path = Path(path)
        shown = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise InputError(
                _("{file}：无法读取（{reason}）").format(
                    file=shown, reason=error.strerror or error
                ),
                field="tokens",
            ) from None
        try:
            if path.suffix.lower() == ".toml":
                document: Any = tomllib.loads(text)
            else:
                document = yaml.safe_load(text)
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
            raise InputError(
                _("{file}：不是有效的 YAML/TOML：{reason}").format(file=shown, reason=error),
                field="tokens",
            ) from None
        entries = document.get("tokens") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise InputError(
                _("{file}：须含 tokens: 映射，由 sha256 摘要对应 role、name、scope").format(
                    file=shown
                ),
                field="tokens",
            )
        actors: dict[str, Actor] = {}
        problems: list[str] = []
        for digest, fields in entries.items():
            actor, problem = _entry(str(digest), fields)
            if problem is not None:
                problems.append(f"{shown}: tokens.{str(digest)[:12]}: {problem}")
            elif actor is not None:
                actors[str(digest).lower()] = actor
        if problems:
            raise InputError("\n".join(problems), field="tokens")
        return cls(actors)

    def actor_for(self, token: str) -> Actor | None:
        """The actor a presented token acts as, or None for an unknown token.

        The token is hashed before the lookup: timing the dictionary probe tells an attacker
        about digests, which give no way back to any stored token.
        """
        return self.actors.get(hash_token(token))

    def __iter__(self) -> Iterator[Actor]:
        return iter(self.actors.values())

    def check_roles(self, roles: Iterable[str], scopes: Mapping[str, str]) -> None:
        """Refuse to serve with a token whose role no definition knows, or a scoped role
        without its scope: such a token would fail on every request, or see too much."""
        known = set(roles)
        problems = []
        for actor in self:
            if actor.role not in known:
                problems.append(
                    _("{actor} 的令牌：未知角色 {role!r}").format(actor=actor, role=actor.role)
                )
            elif actor.role in scopes and actor.scope is None:
                problems.append(
                    _(
                        "{actor} 的令牌：角色 {role} 需要范围（{scope}），"
                        "写作 role:name@scope（A5.2）"
                    ).format(actor=actor, role=actor.role, scope=scopes[actor.role])
                )
            elif actor.role not in scopes and actor.scope is not None:
                problems.append(
                    _("{actor} 的令牌：角色 {role} 不带范围").format(actor=actor, role=actor.role)
                )
        if problems:
            raise InputError("; ".join(problems), field="tokens")


def _entry(digest: str, fields: Any) -> tuple[Actor | None, str | None]:
    if len(digest) != DIGEST_LENGTH or any(c not in "0123456789abcdefABCDEF" for c in digest):
        return None, _("键须为令牌的 sha256 十六进制摘要（convalescence tokens hash）")
    if not isinstance(fields, dict):
        return None, _("应为含 role、name（可另有 scope）的映射")
    unknown = sorted(set(fields) - {"role", "name", "scope"})
    if unknown:
        return None, _("未知的键：{keys}").format(keys=", ".join(unknown))
    role, name, scope = fields.get("role"), fields.get("name"), fields.get("scope")
    if not isinstance(role, str) or not role.strip():
        return None, _("缺少 role")
    if not isinstance(name, str) or not name.strip():
        return None, _("缺少 name")
    if scope is not None and (not isinstance(scope, str) or not scope.strip()):
        return None, _("scope 应为文本")
    return Actor(role.strip(), name.strip(), scope.strip() if scope else None), None
