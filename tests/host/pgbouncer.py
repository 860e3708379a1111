"""A real PgBouncer in transaction mode in front of the test PostgreSQL server.

`.ci/run` starts one for the whole run (``python tests/host/pgbouncer.py start``) and passes its
address in ``CONVALESCENCE_TEST_PGBOUNCER``; without that, the host suite starts its own when
Debian's ``pgbouncer`` is installed. Starting it needs only the standard library (`.ci/run`
runs this file before the test environment exists). Every database of the server is reachable
through it under its own name (the ``*`` entry), so the tests' fresh databases need no
configuration.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ADDRESS_VAR = "CONVALESCENCE_TEST_PGBOUNCER"  # host:port of a running PgBouncer
PG_URL = os.environ.get("CONVALESCENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

CONFIG = """\
[databases]
* = host={pg_host} port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""


def executable() -> str | None:
    """Debian puts it in /usr/sbin, which a non-root PATH often lacks."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


def free_port(preferred: int = 6432) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port")


@dataclass
class Bouncer:
    host: str
    port: int
    directory: Path | None = None  # set when this process started it

    def url(self, direct_url: str) -> str:
        """``direct_url`` (a database on the server) as reached through the pooler."""
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        return (
            make_url(direct_url)
            .set(host=self.host, port=self.port)
            .render_as_string(hide_password=False)
        )

    def stop(self) -> None:
        if self.directory is None:
            return
        pid_file = self.directory / "pgbouncer.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            for _ in range(50):
                if not pid_file.exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(self.directory, ignore_errors=True)


def start(port: int | None = None) -> Bouncer:
    """Start a PgBouncer (transaction pooling, trust auth) as a daemon; wait until it answers."""
    binary = executable()
    if binary is None:
        raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
    port = port or free_port()
    directory = Path(tempfile.mkdtemp(prefix="convalescence-pgbouncer-"))
    directory.chmod(0o755)  # PgBouncer refuses to run as root: it drops to postgres (-u)
    server = urlsplit(PG_URL)
    user = server.username or "postgres"
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        CONFIG.format(
            pg_host=server.hostname or "127.0.0.1",
            pg_port=server.port or 5432,
            port=port,
            directory=directory,
        )
    )
    command = [binary, "-d", str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres")
        command[1:1] = ["-u", "postgres"]
    subprocess.run(command, check=True, capture_output=True)
    bouncer = Bouncer("127.0.0.1", port, directory)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            if time.monotonic() > deadline:
                log = directory / "pgbouncer.log"
                bouncer.stop()
                raise RuntimeError(
                    f"pgbouncer on port {port} did not answer: "
                    f"{log.read_text() if log.exists() else ''}"
                ) from None
            time.sleep(0.2)
        else:
            return bouncer


def running() -> Bouncer | None:
    """The PgBouncer `.ci/run` started, if it said so in the environment."""
    address = os.environ.get(ADDRESS_VAR)
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return Bouncer(host or "127.0.0.1", int(port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--dir", type=Path, help="stop: the directory `start` printed")
    arguments = parser.parse_args()
    if arguments.action == "start":
        bouncer = start(free_port(arguments.port or 6432))
        print(f"{bouncer.host}:{bouncer.port} {bouncer.directory}")
    else:
        Bouncer("127.0.0.1", 0, arguments.dir).stop()


if __name__ == "__main__":
    main()
