"""Log-ins for the demo's console (issue 19 item 10): a token file beside the demo's database
with a city officer and a county officer, so a newcomer can serve the demo and look around.

The file holds only the tokens' SHA-256 digests, as every token file does
(`workflow.api.tokens`); the tokens themselves are fresh random ones, returned once for the
demo's summary to print and kept nowhere else. Each run writes new ones, so an old printout
opens nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from workflow.api.tokens import hash_token, new_token, token_entry
from workflow.i18n import N_
from workflow.machine import Actor

TOKENS_FILE = "tokens.yaml"


@dataclass(frozen=True)
class DemoLogin:
    """Who a demo token logs in as: ``who`` is a label marked for the catalogue."""

    who: str
    actor: Actor
    token: str


def write_demo_tokens(directory: Path, county: str) -> tuple[DemoLogin, ...]:
    """Write ``directory/tokens.yaml`` for a demo city officer and a county officer of
    ``county`` (readable by the owner only) and return their tokens."""
    logins = (
        DemoLogin(N_("市级经办人员"), Actor.parse("city_officer:赵敏"), new_token()),
        DemoLogin(
            N_("县级部门工作人员"), Actor.parse(f"county_officer:赵局长@{county}"), new_token()
        ),
    )
    entries: dict[str, dict[str, str]] = {}
    for login in logins:
        entries.update(token_entry(hash_token(login.token), login.actor))
    text = "# convalescence demo: tokens of the demo's console log-ins (digests only)\n"
    text += yaml.safe_dump({"tokens": entries}, allow_unicode=True, sort_keys=False)
    path = directory / TOKENS_FILE
    temporary = path.with_name(f".{TOKENS_FILE}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)
    return logins
