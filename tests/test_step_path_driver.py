"""The step path's shortcuts (issue 11, speed) keep what the long way guaranteed.

A step's own write transaction runs on the pool's driver connection (`DriverTransaction`)
unless someone listens to the engine; it must commit all of a step or none of it, and a
listener must still see every statement. An opening writes its eligibility explanation as the
text it returns; notices read a context dict's items without the sandbox's detour.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from factories import AS_AGENCY, AS_FAMILY, CONSENT, REGISTRATION, cadre

from notifications.errors import TemplateError
from notifications.render import render_string
from workflow import Engine
from workflow.audit.verify import verify_database
from workflow.store.database import DriverTransaction


def test_a_step_runs_on_the_driver_unless_someone_listens(engine: Engine) -> None:
    database = engine._database
    own = database.driver_write()
    assert isinstance(own, DriverTransaction)
    with own:
        pass
    seen: list[str] = []

    def statement(_c: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.split(maxsplit=1)[0].upper())

    sa.event.listen(engine.db, "before_cursor_execute", statement)
    try:
        assert database.driver_write() is None  # a tracer sees everything, the long way
        engine.put_cadres([cadre()])
        case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
        seen.clear()
        engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    finally:
        sa.event.remove(engine.db, "before_cursor_execute", statement)
    assert seen == ["SELECT", "INSERT", "UPDATE"]
    again = database.driver_write()  # the tracer gone, the short way again
    assert isinstance(again, DriverTransaction)
    with again:
        pass


def test_a_step_that_fails_on_the_driver_leaves_nothing(engine: Engine) -> None:
    """The history row and the compare-and-set go in on the driver; an error after them rolls
    both back, and the connection goes back to the pool fit for the next step."""
    engine.put_cadres([cadre()])
    case = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    with pytest.raises(RuntimeError, match="after the writes"):
        _consent_then_fail(engine, case.id)
    assert engine.case(case.id).version == 1
    assert [h.seq for h in engine.history(case.id)] == [1]
    moved = engine.fire(case.id, "consent", actor=AS_FAMILY, data=CONSENT)
    assert (moved.state, moved.version) == ("family_consented", 2)
    assert verify_database(engine.db).broken is None


def _consent_then_fail(engine: Engine, case_id: int) -> None:
    with engine._store.transaction(write=True) as tx:
        assert isinstance(tx._on, DriverTransaction)
        snap = tx.snapshot(case_id)
        assert snap is not None
        tx.move_case(
            case=snap.case,
            state="family_consented",
            terminal=False,
            evidence={**snap.case.evidence, **CONSENT},
            history_row={
                "on_behalf_of": None,
                "case_id": case_id,
                "seq": 2,
                "trigger": "consent",
                "from_state": "registered",
                "to_state": "family_consented",
                "actor": "张丽",
                "role": "family",
                "at": engine.clock.now(),
                "data": dict(CONSENT),
                "reason": None,
            },
        )
        tx.connection.execute(sa.text("SELECT 1"))  # the lazy SQLAlchemy side too
        raise RuntimeError("after the writes")


def test_the_stored_explanation_is_the_text_the_opening_returned(engine: Engine) -> None:
    engine.put_cadres([cadre()])
    opened = engine.open_case("LC-DCF-0001", actor=AS_AGENCY, data=REGISTRATION)
    assert opened.eligibility_json is not None
    with engine.db.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT eligibility FROM cases WHERE id = :id"), {"id": opened.id}
        ).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored == json.loads(opened.eligibility_json)
    assert stored["level"] == "city"
    assert engine.case(opened.id).eligibility == opened.eligibility


def test_notices_read_items_as_the_sandbox_would() -> None:
    values = {"d": {"name": "张建国", "keys": "not the method"}}
    assert render_string("{{ d.name }}", values) == "张建国"
    # a name dict itself has is the attribute, as Jinja's own lookup gives it
    assert render_string("{{ d.keys is callable }}", values) == "True"
    with pytest.raises(TemplateError):
        render_string("{{ d.missing }}", values)
    with pytest.raises(TemplateError, match=r"unsafe|not safely"):
        render_string("{{ d.clear() }}", values)
