"""``convalescence serve`` (the REST API under uvicorn) and ``convalescence tokens hash``.

The token file maps SHA-256 digests to actors, so the file itself grants nothing; ``tokens
hash`` makes a token and prints the entry to paste into it, and the token, once.

FastAPI and uvicorn come with the ``server`` extra (``pip install
'convalescence-workflow[server]'``); without it these commands say so instead of failing on an
import (`workflow.api` loads FastAPI with the package).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click
import yaml

from workflow.calendar import HOLIDAYS_VAR
from workflow.cli import output
from workflow.cli.db import Settings, open_engine
from workflow.cli.output import iso_date
from workflow.cli.settings import ADMIN_LIST_VAR
from workflow.errors import InputError
from workflow.i18n import _
from workflow.machine import Actor
from workflow.observability.logs import uvicorn_config
from workflow.observability.metrics import MULTIPROCESS_VAR
from workflow.observability.options import log_format_option
from workflow.store import tokens as token_store

SERVER_PACKAGES = {
    "fastapi",
    "fastapi_offline",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
}


@contextmanager
def server_extra(command: str) -> Iterator[None]:
    """Imports of the API inside this block: a package of the server extra that is missing is
    bad input naming the extra to install (exit 2), not a traceback."""
    try:
        yield
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] not in SERVER_PACKAGES:
            raise
        raise InputError(
            _(
                "convalescence {command} 需要 API 服务组件（缺少 {module}）：请安装 "
                "pip install 'convalescence-workflow[server]'"
            ).format(command=command, module=missing.name)
        ) from None


@click.command(
    help=_(
        "启动 REST API 服务（OpenAPI 文档在 /openapi.json，说明页在 /docs）。\n\n"
        "数据库取全局 --db（库结构须为最新：先运行 db upgrade）；全局 --now 按模拟时刻提供服务。"
        "按 Ctrl-C 停止。"
    ),
    epilog=output.examples(
        "convalescence --db postgresql://officer@db.example/convalescence serve "
        "--tokens tokens.yaml --workers 4",
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help=_("监听的地址。"))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help=_("监听的端口。"),
)
@click.option(
    "--tokens",
    "tokens_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=_("令牌文件（YAML/TOML）：sha256 摘要 → 角色、姓名、权限范围（见 tokens hash）。"),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help=_("工作进程数（PostgreSQL；SQLite 本就逐个写入）。"),
)
@log_format_option("json")
@click.option(
    "--no-console",
    is_flag=True,
    help=_("不提供网页办理平台（/console）：只提供 REST API。"),
)
@click.pass_context
def serve(
    ctx: click.Context,
    *,
    host: str,
    port: int,
    tokens_file: Path,
    workers: int,
    log_format: str,
    no_console: bool,
) -> None:
    """Checks everything a worker would trip over here, once, then hands over to uvicorn."""
    # FastAPI and uvicorn load only here: every other command starts without them
    with server_extra("serve"):
        import uvicorn  # noqa: PLC0415
        from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

        from workflow.api.app import create_app  # noqa: PLC0415
        from workflow.api.server import (  # noqa: PLC0415
            CONSOLE_VAR,
            DB_VAR,
            NOW_VAR,
            TOKENS_VAR,
            no_delay,
        )
        from workflow.api.tokens import TokenRegistry  # noqa: PLC0415

    settings = ctx.ensure_object(Settings)
    # Fail here, with the CLI's message and exit code, rather than in every worker: a bad token
    # file, an unreachable database, a PostgreSQL schema that needs `db upgrade`. A SQLite file
    # is created and migrated once here, as every other command does, never by racing workers.
    registry = TokenRegistry.load(tokens_file)
    engine = open_engine()
    # checks every token's role and scope against the definitions
    create_app(engine, registry, calendar=settings.calendar(), console=not no_console)
    engine.ensure_schema()
    os.environ[DB_VAR] = settings.url
    os.environ[TOKENS_VAR] = str(tokens_file.resolve())
    os.environ[CONSOLE_VAR] = "0" if no_console else "1"  # the officer console (issue 19)
    # workers speak the language this command was given (--lang, else the locale): LANGUAGE is
    # the first variable workflow.i18n reads
    os.environ["LANGUAGE"] = settings.lang
    if settings.holidays is not None:  # workers rebuild the same calendar from it
        os.environ[HOLIDAYS_VAR] = str(settings.holidays.resolve())
    if settings.admin_list_file is not None:  # and the same administrative list
        os.environ[ADMIN_LIST_VAR] = str(settings.admin_list_file.resolve())
    if settings.now is not None:
        os.environ[NOW_VAR] = settings.now.isoformat()
    else:
        os.environ.pop(NOW_VAR, None)
    output.say(
        _("API 服务地址 http://{host}:{port}（{workers} 个工作进程）").format(
            host=host, port=port, workers=workers
        )
    )
    config = uvicorn.Config(
        "workflow.api.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # one line per request from the API's own middleware (request id, actor, duration),
        # every logger through the same handler, in each worker (workflow.observability.logs)
        log_config=uvicorn_config(log_format),
        access_log=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    # each worker counts into files of a folder all of them read, so /metrics adds up every
    # worker's counters whichever worker answers (unless the operator named a folder)
    shared = None
    if not os.environ.get(MULTIPROCESS_VAR):
        shared = tempfile.mkdtemp(prefix="convalescence-metrics-")
        os.environ[MULTIPROCESS_VAR] = shared
    try:
        # as uvicorn.run does for workers, but with Nagle off on the shared socket (no_delay)
        sock = config.bind_socket()
        no_delay(sock)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
            os.environ.pop(MULTIPROCESS_VAR, None)


@click.group(help=_("API 令牌：生成令牌并打印其在令牌文件中的条目。"))
def tokens() -> None:
    """The token commands (help above, through the catalogue)."""


@tokens.command(
    "hash",
    help=_("在标准输出打印令牌文件条目；新生成的令牌只在标准错误输出显示一次。"),
    epilog=output.examples(
        "convalescence tokens hash --as agency_officer:王芳@东昌府区军休所",
        "convalescence tokens hash --as county_officer:李娜@东昌府区",
    ),
)
@click.option(
    "--as",
    "actor_text",
    required=True,
    metavar="ROLE:NAME[@SCOPE]",
    help=_("令牌代表的办理人，写作 角色:姓名@权限范围（见下方示例）。"),
)
@click.option(
    "--token",
    envvar="CONVALESCENCE_TOKEN",
    help=_("对此令牌求摘要，而不新生成（或取 $CONVALESCENCE_TOKEN）。"),
)
@click.option(
    "--expires",
    metavar="DATE",
    callback=iso_date,
    help=_("令牌有效的最后一天（含当日），写入条目的 expires。"),
)
def hash_command(actor_text: str, token: str | None, expires: date | None) -> None:
    """The entry holds only the digest, so the token file grants nothing by itself; a token
    given by hand must be strong (issue 17: an 8-character one was accepted)."""
    with server_extra("tokens hash"):
        from workflow.api.tokens import hash_token, new_token, token_entry, weak_token  # noqa: PLC0415

    actor = Actor.parse(actor_text)
    if token is None:
        token = new_token()
        click.echo(_("令牌（交给客户端；不予保存）：{token}").format(token=token), err=True)
    weak = weak_token(token)
    if weak is not None:
        raise InputError(weak, field="token")
    entry = token_entry(hash_token(token), actor, expires)
    click.echo(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False), nl=False)


@tokens.command(
    "revoke",
    help=_("吊销一个令牌（记入数据库，所有服务进程立即拒绝它），须写明谁、为何吊销。"),
    epilog=output.examples(
        "convalescence tokens revoke "
        "--digest 9f86d081884c7d65a6e3b3a95e4c8f2d0d8b2c1e4f6a7b8c9d0e1f2a3b4c5d6e "
        "--reason 人员调离 --as city_officer:赵敏",
    ),
)
@click.option("--token", "token", help=_("要吊销的令牌本身。"))
@click.option("--digest", help=_("或令牌文件中它的 sha256 摘要（至少前 16 位）。"))
@click.option("--reason", required=True, help=_("吊销理由（A19.1）。"))
@click.option("--as", "actor_text", required=True, metavar="ROLE:NAME[@SCOPE]", help=_("谁吊销。"))
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("令牌文件：按摘要前缀查找完整摘要。"),
)
def revoke_command(
    token: str | None,
    digest: str | None,
    reason: str,
    actor_text: str,
    tokens_file: Path | None,
) -> None:
    """A revocation is a database row, so no worker keeps honouring the token."""
    with server_extra("tokens revoke"):
        from workflow.api.tokens import hash_token  # noqa: PLC0415

    actor = Actor.parse(actor_text)
    if (token is None) == (digest is None):
        raise InputError(_("须给出 --token 或 --digest 之一"), field="token")
    if not reason.strip():
        raise InputError(_("须写明吊销理由"), field="reason")
    full = hash_token(token) if token is not None else _full_digest(str(digest), tokens_file)
    engine = open_engine()
    engine.ensure_schema()
    state = token_store.revoke(
        engine.transaction, full, now=engine.clock.now(), by=str(actor), reason=reason
    )
    click.echo(
        _("已吊销令牌 {digest}（{at}，{by}）").format(
            digest=full[:16], at=state.revoked_at, by=state.revoked_by
        )
    )


def _full_digest(given: str, tokens_file: Path | None) -> str:
    """A whole digest as given, or the one digest of the token file it starts."""
    text = given.strip().lower()
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise InputError(_("--digest 须为十六进制的 sha256 摘要（0-9、a-f）"), field="digest")
    if len(text) == 64 and tokens_file is None:
        return text
    if len(text) < 16 or tokens_file is None:
        raise InputError(
            _("--digest 须为完整的 64 位摘要，或至少 16 位并给出 --tokens 文件"), field="digest"
        )
    with server_extra("tokens revoke"):
        from workflow.api.tokens import TokenRegistry  # noqa: PLC0415

    # with the file at hand even a whole digest must be in it: a digest copied with one wrong
    # character would otherwise be "revoked" while the real token keeps working
    found = [d for d in TokenRegistry.load(tokens_file).actors if d.startswith(text)]
    if len(found) != 1:
        raise InputError(
            _("令牌文件中以 {prefix} 开头的摘要有 {count} 个").format(
                prefix=text, count=len(found)
            ),
            field="digest",
        )
    return found[0]


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(tokens)
