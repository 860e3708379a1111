"""``tokens hash`` prints an entry that ``serve --tokens`` takes as is (issue 17, "Nothing lost
by a slip of the hand"): appending the printed entries to a file makes a working token file,
with or without the ``tokens:`` wrapper the older files use."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.errors import InputError
from workflow.machine import Actor

ACTORS = ["agency_officer:王芳@东昌府区军休所", "city_officer:赵敏"]


def hashed(actor: str) -> tuple[str, str]:
    """(the token handed to the client, the entry printed for the file)."""
    result = CliRunner().invoke(main, ["--lang", "zh", "tokens", "hash", "--as", actor])
    assert result.exit_code == 0, result.output
    token = result.stderr.strip().rsplit("：", 1)[-1]
    return token, result.stdout


def test_entries_appended_as_printed_make_a_working_token_file(
    tmp_path: Path, engine: Engine
) -> None:
    path = tmp_path / "tokens.yaml"
    tokens = []
    for actor in ACTORS:  # convalescence tokens hash --as … >> tokens.yaml
        token, entry = hashed(actor)
        tokens.append(token)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(entry)
    registry = TokenRegistry.load(path)
    for token, actor in zip(tokens, ACTORS, strict=True):
        found = registry.actor_for(token)
        assert found is not None
        assert found == Actor.parse(actor)
        assert token not in path.read_text(encoding="utf-8")
    create_app(engine, registry)  # serve --tokens checks the roles the same way


def test_the_wrapped_form_and_a_mix_still_load(tmp_path: Path) -> None:
    first, entry_one = hashed(ACTORS[0])
    second, entry_two = hashed(ACTORS[1])
    wrapped = "tokens:\n" + "".join(f"  {line}\n" for line in entry_one.splitlines())
    path = tmp_path / "tokens.yaml"
    path.write_text(wrapped + entry_two, encoding="utf-8")
    registry = TokenRegistry.load(path)
    assert registry.actor_for(first) is not None
    assert registry.actor_for(second) is not None


@pytest.mark.parametrize("text", ["- just a list\n", "tokens: [a, b]\n", "tokens: 3\n"])
def test_a_file_that_is_no_mapping_of_digests_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError):
        TokenRegistry.load(path)
