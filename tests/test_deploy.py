"""The deployment files in ``deploy/`` describe a topology that can run (issue 18).

Docker is not available where the suite runs, so the compose file is checked structurally: it
parses, has PostgreSQL, the schema upgrade, two API nodes, two schedulers and two dispatchers,
every service key is one the Compose specification knows, health checks and start order are
there, and every command (a service's and a health check's) is parsed by the real
``convalescence`` click group, so an option renamed in the CLI fails here instead of on an
office's server. The systemd units are read with a strict INI parser (required keys, the shared
environment file), their ExecStart lines are parsed by click the same way, and
``systemd-analyze verify`` checks them where it is installed.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from workflow.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
COMPOSE = DEPLOY / "compose.yaml"
ENV_FILE = UNITS / "convalescence.env"
INSTALLED = "/opt/convalescence/venv/bin/convalescence"  # where the units expect the program

# what each long-running role runs, as a command path of the CLI
ROLES = {
    "api": ("serve",),
    "scheduler": ("scheduler", "run"),
    "dispatcher": ("notifications", "dispatch"),
}
APP_SERVICES = {
    "migrate": ("db", "upgrade"),
    "api-1": ROLES["api"],
    "api-2": ROLES["api"],
    "scheduler-1": ROLES["scheduler"],
    "scheduler-2": ROLES["scheduler"],
    "dispatcher-1": ROLES["dispatcher"],
    "dispatcher-2": ROLES["dispatcher"],
}
# the service-level keys of the Compose specification (compose-spec, services.*)
COMPOSE_SERVICE_KEYS = {
    "build", "command", "container_name", "depends_on", "entrypoint", "env_file", "environment",
    "expose", "healthcheck", "image", "labels", "logging", "networks", "ports", "profiles",
    "restart", "secrets", "configs", "stop_grace_period", "stop_signal", "user", "volumes",
    "working_dir", "deploy", "init", "read_only", "tmpfs", "ulimits", "hostname", "extra_hosts",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval"}
DEPENDENCY_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}
UNIT_FILES = {
    "convalescence-api.service": ROLES["api"],
    "convalescence-scheduler.service": ROLES["scheduler"],
    "convalescence-dispatcher.service": ROLES["dispatcher"],
    "convalescence-migrate.service": ("db", "upgrade"),
}


def parse_cli(args: Sequence[str]) -> tuple[tuple[str, ...], click.Context]:
    """Parse ``args`` as the shell would hand them to ``convalescence``: the command path and the
    innermost context (option values converted, callbacks run); click raises on anything the
    CLI does not accept. Nothing is invoked."""
    ctx = main.make_context("convalescence", list(args))
    command: click.Command = main
    path: list[str] = []
    rest = [*ctx._protected_args, *ctx.args]
    while isinstance(command, click.Group):
        name, found, rest = command.resolve_command(ctx, rest)
        assert name is not None, args
        assert found is not None, args
        path.append(name)
        command = found
        ctx = command.make_context(name, rest, parent=ctx)
        rest = [*ctx._protected_args, *ctx.args] if isinstance(command, click.Group) else []
    return tuple(path), ctx


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_has_the_soak_topology(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", *APP_SERVICES}
    for name, service in services.items():
        unknown = set(service) - COMPOSE_SERVICE_KEYS
        assert not unknown, f"{name}: keys the Compose specification does not know: {unknown}"
        assert set(service.get("healthcheck", {})) <= HEALTHCHECK_KEYS, name
    assert services["postgres"]["image"].startswith("postgres:")
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"


def test_every_app_service_runs_a_real_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    dockerfile = DEPLOY / services["api-1"]["build"]["dockerfile"].removeprefix("deploy/")
    assert dockerfile.is_file()
    assert (DEPLOY / services["api-1"]["build"]["context"]).resolve() == ROOT
    assert 'ENTRYPOINT ["convalescence"]' in dockerfile.read_text(encoding="utf-8")
    for name, path in APP_SERVICES.items():
        service = services[name]
        assert service["image"] == "convalescence:latest", name
        parsed, _ctx = parse_cli(service["command"])
        assert parsed == path, name
    holders = {parse_cli(services[f"scheduler-{n}"]["command"])[1].params["holder"] for n in (1, 2)}
    assert len(holders) == 2, "the two schedulers must name themselves apart in the lease row"


def test_start_order_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"  # a one-shot; restarting it would loop
    for name in set(APP_SERVICES) - {"migrate"}:
        service = services[name]
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert {d["condition"] for d in depends.values()} <= DEPENDENCY_CONDITIONS
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", name
        if test[1] == "convalescence":  # a CLI health check must be a real command too
            parse_cli(test[2:])
    host_ports = set()
    for name in ("api-1", "api-2"):
        service = services[name]
        port = parse_cli(service["command"])[1].params["port"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/ready" in probe, name
        (mapping,) = service["ports"]
        assert mapping.endswith(f":{port}"), name
        host_ports.add(mapping.rsplit(":", 1)[0])
    assert len(host_ports) == 2
    # SIGTERM releases the scheduler lease; the dispatcher stops cleanly on SIGINT
    assert {services[f"scheduler-{n}"]["stop_signal"] for n in (1, 2)} == {"SIGTERM"}
    assert {services[f"dispatcher-{n}"]["stop_signal"] for n in (1, 2)} == {"SIGINT"}


def test_compose_database_is_the_postgres_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    for name in APP_SERVICES:
        url = urlsplit(services[name]["environment"]["CONVALESCENCE_DB"])
        assert url.scheme == "postgresql", name
        assert url.hostname == "postgres", name
        assert url.username == postgres["POSTGRES_USER"], name
        assert url.path == "/" + postgres["POSTGRES_DB"], name


def read_unit(path: Path) -> configparser.ConfigParser:
    """A strict INI read: no duplicate sections or keys, case kept, no % interpolation."""
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def unit_command(exec_start: str) -> list[str]:
    """ExecStart split as systemd does, its specifiers (%H host name) given a value."""
    return shlex.split(exec_start.replace("%H", socket.gethostname()))


@pytest.mark.parametrize("unit", sorted(UNIT_FILES))
def test_unit_parses_and_runs_a_real_command(unit: str) -> None:
    parsed = read_unit(UNITS / unit)
    assert parsed["Unit"]["Description"]
    assert parsed["Unit"]["After"] == "network-online.target"
    service = parsed["Service"]
    assert service["EnvironmentFile"] == "/etc/convalescence/convalescence.env"
    assert service["User"] == "convalescence"
    argv = unit_command(service["ExecStart"])
    assert argv[0] == INSTALLED
    path, _ctx = parse_cli(argv[1:])
    assert path == UNIT_FILES[unit]
    if service["Type"] == "oneshot":
        assert "Install" not in parsed  # run on purpose, once per release
    else:
        assert service["Type"] == "simple"
        assert service["Restart"] == "on-failure"
        assert parsed["Install"]["WantedBy"] == "multi-user.target"


def test_unit_stop_signals() -> None:
    """SIGTERM makes a scheduler release its lease (a standby takes over at once); the
    dispatcher stops cleanly between rounds on SIGINT."""
    signals = {unit: read_unit(UNITS / unit)["Service"].get("KillSignal") for unit in UNIT_FILES}
    assert signals["convalescence-scheduler.service"] == "SIGTERM"
    assert signals["convalescence-dispatcher.service"] == "SIGINT"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """systemd's own reading: unknown keys, bad values, a missing executable. The units name
    the program where docs/operations.md installs it; here it is this interpreter's."""
    program = str(Path(sys.executable).with_name("convalescence"))
    for unit in UNIT_FILES:
        text = (UNITS / unit).read_text(encoding="utf-8").replace(INSTALLED, program)
        (tmp_path / unit).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(tmp_path / u) for u in UNIT_FILES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # verify only warns (exit 0) about an unknown key: any line naming our files is a problem
    assert str(tmp_path) not in result.stderr, result.stderr


def test_env_file_names_only_variables_the_program_reads() -> None:
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for package in ("workflow", "notifications")
        for path in (ROOT / package).rglob("*.py")
    )
    names = set()
    for number, line in enumerate(ENV_FILE.read_text(encoding="utf-8").splitlines(), 1):
        text = line.lstrip("#").strip() if re.match(r"#[A-Z_]+=", line) else line.strip()
        if not text or text.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Z_]+=\S+", text), f"{ENV_FILE.name}:{number}: {line!r}"
        name = text.split("=", 1)[0]
        names.add(name)
        assert name == "LANGUAGE" or f'"{name}"' in sources, f"{ENV_FILE.name}:{number}: {name}"
    assert "CONVALESCENCE_DB" in names
