"""Writing reports to files: the names they get by default and the one function the demo calls.

A report is written whole to a temporary file beside its target and then renamed, so an officer
who opens the file while it is being written, or a crash half-way, never leaves a truncated
report that looks complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from workflow.engine import Engine
from workflow.errors import InputError
from workflow.i18n import _
from workflow.reports import html, xlsx
from workflow.reports.performance import performance_report
from workflow.reports.roster import batch_roster
from workflow.reports.visits import visit_list

Format = Literal["html", "xlsx"]
FORMATS: tuple[Format, ...] = ("html", "xlsx")


def performance_name(year: int, fmt: Format) -> str:
    return f"performance-{year}.{fmt}"


def roster_name(batch_id: int, fmt: Format) -> str:
    return f"batch-{batch_id}-roster.{fmt}"


def visits_name(cycle: str | None, overdue: bool, fmt: Format) -> str:
    return f"visits-{cycle or 'all'}{'-overdue' if overdue else ''}.{fmt}"


def target(out: Path | None, default_name: str) -> Path:
    """``--out``: a file path, or an existing directory to put the default name in; its
    directory must exist (a typo should not create a tree of folders somewhere)."""
    if out is None:
        return Path.cwd() / default_name
    if out.is_dir():
        return out / default_name
    if not out.parent.is_dir():
        raise InputError(
            _("--out {out}：目录 {directory} 不存在").format(out=out, directory=out.parent),
            field="out",
        )
    return out


def write_bytes(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically (temporary file in the same directory, rename)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path.resolve()


def performance_bytes(engine: Engine, year: int, fmt: Format) -> bytes:
    report = performance_report(engine, year)
    if fmt == "xlsx":
        return xlsx.performance_xlsx(report)
    return html.render_performance(report).encode("utf-8")


def roster_bytes(engine: Engine, batch_id: int, fmt: Format) -> bytes:
    roster = batch_roster(engine, batch_id)
    if fmt == "xlsx":
        return xlsx.roster_xlsx(roster)
    return html.render_roster(roster).encode("utf-8")


def visits_bytes(engine: Engine, cycle: str | None, overdue: bool, fmt: Format) -> bytes:
    visits = visit_list(engine, cycle=cycle, overdue=overdue)
    if fmt == "xlsx":
        return xlsx.visits_xlsx(visits)
    return html.render_visits(visits).encode("utf-8")


def write_performance_report(engine: Engine, year: int, directory: Path | str) -> Path:
    """Write the HTML performance report of ``year`` (A18.2) as ``performance-YEAR.html`` in
    ``directory`` (created if missing) and return its absolute path; the demo prints it."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    content = performance_bytes(engine, year, "html")
    return write_bytes(folder / performance_name(year, "html"), content)
