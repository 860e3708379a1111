"""The printable roster of one batch: its facts (A6.1 dates and destination, A12.1 staff,
A13.1 plans, A15.1 named contacts, A11.1 itinerary) and the cadres holding its seats, with the
evidence the escorting staff need on the trip (A7.2 agreement number, insurer and policy).

The resident ID number is masked as `notifications.masking` masks it everywhere else: a printed
roster is handed to a contractor and left on a bus, and the last four characters are enough to
tell two cadres of the same name apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifications.masking import mask_id_card
from workflow.engine import Engine
from workflow.errors import NotFoundError
from workflow.reports import _sources as src
from workflow.reports._model import BatchRoster, RosterEntry
from workflow.reports._sources import organiser_label
from workflow.store import reports as store


def batch_roster(engine: Engine, batch_id: int) -> BatchRoster:
    """The roster of ``batch_id``; `NotFoundError` (exit 4) if there is no such batch."""
    labels = src.state_labels(engine.catalog, src.HONOR)
    engine.ensure_schema()
    rows = store.roster_rows(engine.db, batch_id)
    if rows is None:
        raise NotFoundError("批次", batch_id)
    batch, agreement = rows.batch, rows.agreement_no
    return BatchRoster(
        batch_id=batch_id,
        plan_id=batch["plan_id"],
        plan_year=batch["plan_year"],
        organiser=organiser_label(batch["organiser_level"], batch["plan_county"]),
        contractor=batch["contractor_name"],
        contractor_kind=batch["contractor_kind"],
        contractor_agreement_no=agreement,
        province=batch["province"],
        place=batch["place"],
        start_date=batch["start_date"],
        end_date=batch["end_date"],
        capacity=batch["capacity"],
        seats_taken=batch["seats_taken"],
        staff_count=batch["staff_count"],
        safety_plan_ref=batch["safety_plan_ref"],
        emergency_plan_ref=batch["emergency_plan_ref"],
        organiser_contacts=tuple(batch["organiser_contacts"] or ()),
        contractor_contacts=tuple(batch["contractor_contacts"] or ()),
        itinerary=tuple(batch["itinerary"] or ()),
        policy=src.policy_source(engine.catalog),
        generated_at=engine.clock.now(),
        entries=tuple(_entry(row, labels) for row in rows.seated),
        started_at=batch["started_at"],
        budget=batch["budget"],
        actual_cost=batch["actual_cost"],
    )


def _entry(row: Mapping[str, Any], labels: dict[str, str]) -> RosterEntry:
    evidence: dict[str, Any] = row["evidence"] or {}
    record: dict[str, Any] = row["record"] or {}
    id_card = record.get("id_card")
    return RosterEntry(
        case_id=row["id"],
        cadre_id=row["cadre_id"],
        name=row["name"],
        id_card=mask_id_card(str(id_card)) if id_card else "",
        county=row["county"],
        agency=row["agency"],
        state=row["state"],
        state_label=labels.get(row["state"], row["state"]),
        agreement_no=_text(evidence.get("agreement_no")),
        insurer=_text(evidence.get("insurer")),
        policy_no=_text(evidence.get("policy_no")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
