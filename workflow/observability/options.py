"""The command-line options of the long-running commands: ``--log-format`` and
``--metrics-address`` (``serve``, ``scheduler run``, ``notifications dispatch``).

``serve`` answers ``/metrics`` itself; the scheduler and the dispatcher have no HTTP server, so
``--metrics-address`` starts a small one in a daemon thread for their own counters (runs,
dispatch failures, the steps their sweeps fired). What describes the database (outbox, runs,
lease) is on the API's ``/metrics`` only: it is the same whichever node reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from workflow.errors import InputError
from workflow.i18n import _
from workflow.observability.logs import FORMATS
from workflow.observability.metrics import Metrics

F = TypeVar("F", bound=Callable[..., Any])


def log_format_option(default: str | None) -> Callable[[F], F]:
    """``--log-format json|text``; ``default`` None: no log set up unless asked for."""
    return click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default=default,
        show_default=default is not None,
        help=_("日志格式：json（每行一个 JSON 对象）或 text；日志写到标准错误。"),
    )


def _address(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _colon, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(
            _("{value!r} 不是 HOST:PORT 形式的地址，如 127.0.0.1:9101").format(value=value)
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def metrics_address_option(command: F) -> F:
    option = click.option(
        "--metrics-address",
        metavar="HOST:PORT",
        callback=_address,
        help=_(
            "在此地址以 Prometheus 文本格式提供本进程的指标（/metrics），如 0.0.0.0:9101；"
            "只写端口即 127.0.0.1。"
        ),
    )
    return option(command)


def serve_metrics(metrics: Metrics, address: tuple[str, int]) -> Any:
    """Start the metrics server; an address that cannot be bound is bad input (exit 2)."""
    host, port = address
    try:
        return metrics.serve(host, port)
    except OSError as error:
        raise InputError(
            _("无法在 {host}:{port} 提供指标：{reason}").format(
                host=host, port=port, reason=error.strerror or error
            ),
            field="metrics-address",
        ) from None
