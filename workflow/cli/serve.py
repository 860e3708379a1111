"""``convalescence serve`` (the REST API under uvicorn) and ``convalescence tokens hash``.

The token file maps SHA-256 digests to actors, so the file itself grants nothing; ``tokens
hash`` makes a token and prints the entry to paste into it, and the token, once.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from workflow.api.tokens import TokenRegistry, hash_token, new_token, token_entry
from workflow.calendar import HOLIDAYS_VAR
from workflow.cli import output
from workflow.cli.db import Settings, open_engine
from workflow.machine import Actor


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--tokens",
    "tokens_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="YAML/TOML file of sha256 digest → role, name, scope (see `tokens hash`).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (PostgreSQL; SQLite serialises writers anyway).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, tokens_file: Path, workers: int) -> None:
    """Serve the REST API (OpenAPI document at /openapi.json, docs at /docs).

    The database is the global --db (the schema must be current: `db upgrade`); the global
    --now serves as of a simulated moment. Runs until Ctrl-C.
    """
    # FastAPI and uvicorn load only here: every other command starts without them
    import uvicorn  # noqa: PLC0415
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from workflow.api.app import create_app  # noqa: PLC0415
    from workflow.api.server import DB_VAR, NOW_VAR, TOKENS_VAR, no_delay  # noqa: PLC0415

    settings = ctx.ensure_object(Settings)
    # Fail here, with the CLI's message and exit code, rather than in every worker: a bad token
    # file, an unreachable database, a PostgreSQL schema that needs `db upgrade`. A SQLite file
    # is created and migrated once here, as every other command does, never by racing workers.
    registry = TokenRegistry.load(tokens_file)
    engine = open_engine()
    # checks every token's role and scope against the definitions
    create_app(engine, registry, calendar=settings.calendar())
    engine.ensure_schema()
    os.environ[DB_VAR] = settings.url
    os.environ[TOKENS_VAR] = str(tokens_file.resolve())
    if settings.holidays is not None:  # workers rebuild the same calendar from it
        os.environ[HOLIDAYS_VAR] = str(settings.holidays.resolve())
    if settings.now is not None:
        os.environ[NOW_VAR] = settings.now.isoformat()
    else:
        os.environ.pop(NOW_VAR, None)
    output.say(f"serving the API on http://{host}:{port} ({workers} worker(s))")
    config = uvicorn.Config(
        "workflow.api.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    # as uvicorn.run does for workers, but with Nagle off on the shared socket (see no_delay)
    sock = config.bind_socket()
    no_delay(sock)
    Multiprocess(config, sockets=[sock]).run()


@click.group()
def tokens() -> None:
    """API tokens: make one and print its entry for the token file."""


@tokens.command("hash")
@click.option(
    "--as",
    "actor_text",
    required=True,
    metavar="ROLE:NAME[@SCOPE]",
    help="Who the token acts as, e.g. agency_officer:王芳@东昌府区军休所",
)
@click.option(
    "--token",
    envvar="CONVALESCENCE_TOKEN",
    help="Hash this token instead of making a new one (or $CONVALESCENCE_TOKEN).",
)
def hash_command(actor_text: str, token: str | None) -> None:
    """Print a token-file entry on stdout; a newly made token goes to stderr, shown once."""
    actor = Actor.parse(actor_text)
    if token is None:
        token = new_token()
        click.echo(f"token (give it to the client; it is not stored): {token}", err=True)
    entry = token_entry(hash_token(token), actor)
    click.echo(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False), nl=False)


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(tokens)
