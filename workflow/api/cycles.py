"""``/cycles``: the policy's cycles (A9.1), what is still open in each, and closing one (A18.2).

`workflow.cycles` decides, as for the command line: a closing while anything is open is a 409
whose refusals cite their articles and name what is open; a second closing is a 409 naming the
first; only a city officer closes (403 citing A5.2); an unknown cycle is a 404 naming the known
ones. Reading spans every organiser, like the reports: city officers and auditors.

A closing writes the cycle's archive folder (the A18.2 reports, the visit list, the audit digest
and checkpoint, a manifest) on the server, as ``cycle-ID`` in the directory named by
``$CONVALESCENCE_ARCHIVE_DIR`` (default: the server's working directory); the answer names the
folder and every file with its SHA-256, and the manifest's digest stored with the closing.
"""

from __future__ import annotations

import os
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from workflow.api.auth import Caller, Svc, require
from workflow.api.errors import responses
from workflow.api.models import NO_NUL
from workflow.cycle_archive import default_name
from workflow.cycles import close_cycle, cycle_status, cycle_statuses

router = APIRouter(tags=["cycles"])

ARCHIVE_VAR = "CONVALESCENCE_ARCHIVE_DIR"
CycleId = Annotated[str, Path(min_length=1, max_length=32, pattern=NO_NUL)]


class OpenKindOut(BaseModel):
    kind: str
    article: str
    total: int
    items: list[dict[str, Any]]
    lines: list[str]


class ClosureOut(BaseModel):
    cycle: str
    closed_by: str
    closed_at: str
    audit_digest: str
    archive_digest: str


class CycleOut(BaseModel):
    cycle: str
    start: str
    end: str
    state: str  # running | ended | closed
    closure: ClosureOut | None
    closable: bool
    open: list[OpenKindOut]


class ArchivedFileOut(BaseModel):
    name: str
    sha256: str
    bytes: int


class ClosedOut(ClosureOut):
    folder: str
    files: list[ArchivedFileOut]


def archive_directory() -> FilePath:
    """Where the server writes archive folders (``$CONVALESCENCE_ARCHIVE_DIR``, else here)."""
    return FilePath(os.environ.get(ARCHIVE_VAR) or FilePath.cwd())


@router.get(
    "/cycles",
    summary="The policy's cycles, each closed or with what is still open (A9.1, A18.2)",
    responses=responses(401, 403, 422, 503),
)
def list_cycles(actor: Caller, svc: Svc) -> list[CycleOut]:
    require("reports:read", actor)  # a cycle spans every organiser, like the A18.2 report
    return [CycleOut.model_validate(s.to_json()) for s in cycle_statuses(svc.engine)]


@router.get(
    "/cycles/{cycle_id}",
    summary="One cycle: its closing, or everything still open in it (first 20 of each kind)",
    responses=responses(401, 403, 404, 422, 503),
)
def show_cycle(cycle_id: CycleId, actor: Caller, svc: Svc) -> CycleOut:
    require("reports:read", actor)
    return CycleOut.model_validate(cycle_status(svc.engine, cycle_id).to_json())


@router.post(
    "/cycles/{cycle_id}/close",
    summary="Close a cycle (city officer): freeze it and archive its final report (A18.2)",
    description="Refused (409, refusals citing A9.1, A9.3, A18.3) while cases are not final, "
    "visits not made or not opened, batches not evaluated or tasks waiting, each listed; "
    "refused (409) when already closed, naming who closed it and when. The archive folder "
    "is written on the server (`$CONVALESCENCE_ARCHIVE_DIR`/cycle-ID; 422 if it exists and "
    "is not empty). Afterwards no step moves or opens a case of the cycle and no batch of it "
    "is created or changed.",
    responses=responses(401, 403, 404, 409, 422, 503),
)
def close(cycle_id: CycleId, actor: Caller, svc: Svc) -> ClosedOut:
    folder = archive_directory() / default_name(cycle_id)
    closed = close_cycle(svc.engine, cycle_id, actor=actor, out=folder)
    return ClosedOut.model_validate(closed.to_json())
