"""Generated requests against every operation of the OpenAPI document (schemathesis): no request,
valid or not, may end in a server error, and every answer must match the document.

Runs on SQLite only, to stay within the suite's time budget; the PostgreSQL-specific hazards
(NUL characters, 32-bit ids) are refused at the edge by the models (tests in test_api.py cover
the same routes on both databases). Two callers: an agency officer (opens and moves cases in
its scope) and a city officer (unscoped: reads everything, the outbox included).

Expected statuses of valid-looking requests: schemathesis counts 2xx, 401, 403, 404 and 409 as
acceptance; we add 412 (an If-Match the generator made up cannot match) and 422 (a step's
evidence is checked against the definition, which the OpenAPI document cannot express: which
``data`` keys a step takes depends on the trigger).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from factories import REGISTRATION, cadre
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plans_setup import seed_batch
from schemathesis.generation.modes import GenerationMode

from workflow import Engine, SimulatedClock
from workflow.api import TokenRegistry, create_app

# generated requests for every operation and role against a live app: 2-6 s a test, minutes in all
pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30
ACCEPTED = ["2xx", "401", "403", "404", "409", "412", "422"]
CALLERS = {
    "agency_officer:王芳@东昌府区军休所": "agency-token",
    "city_officer:赵敏": "city-token",
}


def config(token: str) -> Any:
    """The token goes in as the document's HTTPBearer scheme, so schemathesis knows the requests
    are authenticated (and its ignored_auth check re-sends them without it, expecting 401)."""
    return schemathesis.config.SchemathesisConfig.from_dict(
        {
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            "auth": {"openapi": {"HTTPBearer": {"bearer": token}}},
        }
    )


OPERATIONS = [
    "POST /cases",
    "GET /cases",
    "GET /cases/{case_id}",
    "POST /cases/{case_id}/steps/{trigger}",
    "POST /cases/{case_id}/exceptions",
    "POST /cases/{case_id}/rebook",  # issue 13 item 7
    "POST /cases/{case_id}/correct",
    "GET /cases/{case_id}/history",
    "POST /cases/fire-many",  # issue 13 item 6
    "POST /cases/fire-many/dry-run",
    "GET /bulk-runs/{run_id}",
    "POST /bulk-runs/{run_id}/resume",
    "POST /cases/migrate",  # issue 13 item 4
    "GET /definitions/versions",  # issue 13 item 1
    "POST /definitions/versions",
    "GET /definitions/diff",  # issue 13 item 2
    "POST /definitions/diff",
    "POST /policy/what-if",  # issue 13 item 3
    "GET /cycles",  # issue 13 item 5
    "GET /cycles/{cycle_id}",
    "POST /cycles/{cycle_id}/close",
    "GET /cases/{case_id}/eligibility",
    "POST /eligibility/explain",
    "GET /plans",
    "GET /plans/{plan_id}",
    "GET /batches",
    "GET /batches/{batch_id}",
    "POST /plans",
    "POST /contractors",
    "GET /contractors",
    "GET /contractors/{contractor_id}",
    "POST /contractors/{contractor_id}/qualifications",
    "POST /contractors/{contractor_id}/agreements",
    "POST /batches",
    "POST /batches/{batch_id}/exceptions",
    "POST /batches/{batch_id}/start",
    "POST /batches/{batch_id}/evaluation",
    "POST /batches/{batch_id}/incidents",
    "GET /notifications",
    "GET /tasks",
    "POST /cadres/{cadre_id}/unable",
    "GET /cadres",  # issue 19 item 5
    "GET /cadres/{cadre_id}",
    "GET /unable-reports",
    "GET /reports/performance/{year}",
    "GET /health",
    "GET /ready",
]


@pytest.fixture(params=list(CALLERS), ids=["agency_officer", "city_officer"])
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api_schema(tmp_path: Path, clock: SimulatedClock, caller: str) -> Iterator[Any]:
    """A database holding two cadres, the batch APPROVAL names and one open case, so generated
    ids 1 and 2 hit real rows as well as missing ones."""
    with Engine(f"sqlite:///{tmp_path / 'api.db'}", clock=clock) as engine:
        engine.upgrade_schema()
        engine.put_cadres([cadre(), cadre("LC-DCF-0002")])
        seed_batch(engine)
        engine.open_case(
            "LC-DCF-0001", actor="agency_officer:王芳@东昌府区军休所", data=REGISTRATION
        )
        app = create_app(engine, TokenRegistry.from_tokens({CALLERS[caller]: caller}))
        yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config(CALLERS[caller]))


def test_every_operation_of_the_document_is_exercised(api_schema: Any) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_generated_request_is_a_server_error(api_schema: Any, label: str) -> None:
    """Schemathesis' pytest plugin does not run under pytest 9 (it sets ``Node._nodeid``, which
    pytest 9 no longer has), so each operation's strategies are driven by hypothesis here:
    the document's examples, schema-conforming data and schema-violating data."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    strategies = [
        *api_schema.get_strategies_from_examples(operation),
        operation.as_strategy(GenerationMode.POSITIVE),
    ]
    if operation.path_parameters or operation.query or operation.body or operation.headers:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def generated(case: Any) -> None:
        case.call_and_validate()

    generated()
