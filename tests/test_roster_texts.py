"""The spooled texts of a roster import are written field by field for speed (issue 14): they
must be exactly what the store's generic encoding (`workflow.store.schema.json_dumps`) makes of
the record and of its created change-log entry, for every shape a record can take."""

from __future__ import annotations

import dataclasses
from datetime import date

from workflow.demo.roster import generate_roster
from workflow.roster.checking import record_texts as _record_texts
from workflow.roster.record import (
    CadreRecord,
    FamilyContact,
    Health,
    Honour,
    Merit,
    Recommendation,
    parse_record,
)
from workflow.store.schema import json_dumps

AS_OF = date(2024, 5, 6)


def generic(record: CadreRecord) -> tuple[str, str]:
    stored = record.to_json()
    return json_dumps(stored), json_dumps({key: [None, value] for key, value in stored.items()})


def test_generated_records_serialise_as_the_generic_encoder_does() -> None:
    records = [parse_record(raw, today=AS_OF) for raw in generate_roster(600, 11, as_of=AS_OF)]
    assert any(record.recommendation for record in records)
    assert any(record.honours for record in records)
    assert any(record.phone is None for record in records)
    assert [_record_texts(record) for record in records] == [generic(r) for r in records]


def test_quotes_escapes_and_every_optional_shape_serialise_alike() -> None:
    base = parse_record(generate_roster(1, 3, as_of=AS_OF)[0], today=AS_OF)
    odd = 'a"b\\c\u2028\U0001f600\x7f\u0085'
    variants = [
        dataclasses.replace(base, id_card=None, phone=None, family_contact=None),
        dataclasses.replace(
            base,
            name=odd,
            recommendation=Recommendation("县退役军人事务局", f"{odd}\n\t理由", date(2020, 1, 2)),
            honours=(Honour(odd, "市级", 2000), Honour("模范", "省级", 2001)),
            merits=(Merit(1, True, 1960), Merit(3, False, 1970)),
            health=Health(self_care=False, infectious=True, mental=False, critical=True),
            family_contact=FamilyContact(odd, "子\\女", "13800000000"),
            phone="0635-8212345",
        ),
    ]
    for record in variants:
        assert _record_texts(record) == generic(record)
