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
        expires: 2027-06-30           # optional: the last day the token is honoured

A token given to ``tokens hash --token`` must be strong (`weak_token`: at least 32 characters
of at least 12 different kinds); revocation and the last use live in the database
(`workflow.store.tokens`, ``tokens revoke``), so every worker sees a revocation at once.
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from workflow.definition.yaml_source import parse_yaml
from workflow.errors import InputError
from workflow.i18n import _
from workflow.machine import Actor

DIGEST_LENGTH = 64  # hex characters of a SHA-256 digest
MIN_LENGTH = 32  # characters of a token given by hand (a generated one has 43)
MIN_DISTINCT = 12  # different characters in it: "aaaa…" or "12341234…" is not a secret


def weak_token(token: str) -> str | None:
    """Why ``token`` is too weak to guard the API, or None."""
    distinct = len(set(token))
    if len(token) < MIN_LENGTH or distinct < MIN_DISTINCT:
        return _(
            "令牌太弱：至少需要 {length} 个字符、{distinct} 种不同字符（现为 {have} 个字符、"
            "{kinds} 种）；省略 --token 由程序生成随机令牌"
        ).format(length=MIN_LENGTH, distinct=MIN_DISTINCT, have=len(token), kinds=distinct)
    return None


def hash_token(token: str) -> str:
    """The digest stored in the token file for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits), URL-safe so it fits an Authorization header as is."""
    return secrets.token_urlsafe(32)


def token_entry(
    digest: str, actor: Actor, expires: date | None = None
) -> dict[str, dict[str, str]]:
    """One entry of the token file, as ``tokens hash`` prints it for the host to paste."""
    fields = {"role": actor.role, "name": actor.name}
    if actor.scope is not None:
        fields["scope"] = actor.scope
    if expires is not None:
        fields["expires"] = expires.isoformat()
    return {digest: fields}


def _entries(document: Any) -> dict[Any, Any] | None:
    """The digest entries of a token file: under ``tokens:``, or at the top level exactly as
    ``convalescence tokens hash`` prints them (so ``tokens hash … >> tokens.yaml`` works), or
    both; None when the file is not such a mapping."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        return None
    wrapped = document.get("tokens", {})
    if not isinstance(wrapped, dict):
        return None
    top = {key: value for key, value in document.items() if key != "tokens"}
    twice = sorted(str(key) for key in set(wrapped) & set(top))
    if twice:
        # which of two entries counts would be an accident of the file's layout
        raise InputError(
            _("令牌摘要 {digests} 既在 tokens: 下又在顶层：只能写一处").format(
                digests="、".join(d[:12] for d in twice)
            ),
            field="tokens",
        )
    return {**wrapped, **top}


@dataclass(frozen=True)
class TokenRegistry:
    """Digest → actor. Built from a file with `load`, or in code with `from_tokens` (tests,
    hosts that keep tokens in their own secret store)."""

    actors: Mapping[str, Actor]
    expires: Mapping[str, date] = field(default_factory=dict)  # digest -> last valid day

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
                document: Any = tomllib.loads(text)  # TOML itself refuses a key given twice
            else:
                # the definitions' reader: a digest listed twice is refused with both lines
                # (PyYAML would keep the last one silently), and the size caps apply
                located = parse_yaml(text, shown)
                if located.problems:
                    raise InputError(
                        "\n".join(str(problem) for problem in located.problems), field="tokens"
                    )
                document = located.data
        except tomllib.TOMLDecodeError as error:
            raise InputError(
                _("{file}：不是有效的 YAML/TOML：{reason}").format(file=shown, reason=error),
                field="tokens",
            ) from None
        entries = _entries(document)
        if entries is None:
            raise InputError(
                _("{file}：须含 tokens: 映射，由 sha256 摘要对应 role、name、scope").format(
                    file=shown
                ),
                field="tokens",
            )
        actors: dict[str, Actor] = {}
        expires: dict[str, date] = {}
        problems: list[str] = []
        for digest, fields in entries.items():
            actor, problem = _entry(str(digest), fields)
            last_day, late = _expiry(fields)
            if problem is not None or late is not None:
                problems.append(f"{shown}: tokens.{str(digest)[:12]}: {problem or late}")
            elif actor is not None:
                actors[str(digest).lower()] = actor
                if last_day is not None:
                    expires[str(digest).lower()] = last_day
        if problems:
            raise InputError("\n".join(problems), field="tokens")
        return cls(actors, expires)

    def actor_for(self, token: str, today: date | None = None) -> Actor | None:
        """The actor a presented token acts as, or None for an unknown token or one whose
        ``expires`` day is before ``today`` (Asia/Shanghai; not checked without it).

        The token is hashed before the lookup: timing the dictionary probe tells an attacker
        about digests, which give no way back to any stored token.
        """
        digest = hash_token(token)
        last_day = self.expires.get(digest)
        if today is not None and last_day is not None and today > last_day:
            return None
        return self.actors.get(digest)

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
    unknown = sorted(set(fields) - {"role", "name", "scope", "expires"})
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


def _expiry(fields: Any) -> tuple[date | None, str | None]:
    """An entry's ``expires`` (a YAML/TOML date or ISO text): the day, or why it is bad."""
    value = fields.get("expires") if isinstance(fields, dict) else None
    if value is None or (isinstance(value, date) and not hasattr(value, "hour")):
        return value, None
    try:
        return date.fromisoformat(str(value)), None
    except ValueError:
        return None, _("expires 应为日期，如 2027-06-30")
