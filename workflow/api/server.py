"""Running the API under uvicorn: in this process's background thread, or as worker processes.

`serve_in_thread` is for hosts and tests that want a real HTTP server beside their own code
(a free port, bound before the thread starts, so there is no race for it). `app_from_environment`
is the factory uvicorn's worker processes import: a worker cannot be handed an engine object,
so it rebuilds one from the settings ``convalescence serve`` put in the environment.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn
from fastapi import FastAPI

from workflow.api.app import create_app
from workflow.api.tokens import TokenRegistry
from workflow.calendar import HOLIDAYS_VAR, default_calendar
from workflow.clock import Clock, SimulatedClock, SystemClock, as_shanghai
from workflow.engine import Engine
from workflow.roster.admin_list import ADMIN_LIST_VAR, admin_list

DB_VAR = "CONVALESCENCE_DB"
TOKENS_VAR = "CONVALESCENCE_API_TOKENS"
CONSOLE_VAR = "CONVALESCENCE_CONSOLE"  # "0": serve --no-console (no officer console)
NOW_VAR = "CONVALESCENCE_API_NOW"  # ISO moment: serve as of a simulated time (demo, benchmarks)
STARTUP_SECONDS = 30.0


def no_delay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off on a listening socket (accepted sockets inherit it on Linux).

    uvicorn writes a response's head and body separately; asyncio sets TCP_NODELAY only on
    sockets whose ``proto`` is IPPROTO_TCP, and a socket bound by hand (``socket.socket()``,
    as uvicorn binds for ``--workers``) has proto 0. The body then waits for the client's
    delayed ACK: measured here, every keep-alive request took 44 ms instead of 2-5 ms.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def clock_from(now: str | None) -> Clock:
    return SimulatedClock(as_shanghai(datetime.fromisoformat(now))) if now else SystemClock()


def app_from_environment() -> FastAPI:
    """Build the app from $CONVALESCENCE_DB, $CONVALESCENCE_API_TOKENS, $CONVALESCENCE_API_NOW,
    $CONVALESCENCE_HOLIDAYS and $CONVALESCENCE_ADMIN_LIST; each worker process owns its engine
    for the life of the process."""
    engine = Engine(
        os.environ.get(DB_VAR),
        clock=clock_from(os.environ.get(NOW_VAR)),
        admin_list=admin_list(os.environ.get(ADMIN_LIST_VAR) or None),
    )
    calendar = default_calendar(os.environ.get(HOLIDAYS_VAR) or None)
    return create_app(
        engine,
        TokenRegistry.load(os.environ[TOKENS_VAR]),
        calendar=calendar,
        console=os.environ.get(CONSOLE_VAR, "1") != "0",
    )


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host`` until the block ends; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    no_delay(sock)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True
    )
    thread.start()
    try:
        waited = 0.0
        while not server.started:
            if not thread.is_alive() or waited > STARTUP_SECONDS:
                raise RuntimeError(f"the API server did not start on {host}:{port}")
            threading.Event().wait(0.02)
            waited += 0.02
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
