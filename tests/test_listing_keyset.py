"""Keyset paging of cases, tasks and notifications (issue 14 item 2), and the state counts.

Paging after a cursor must show every row once, in the listing's order, whatever the page size
and the filter; tasks sort by due date first, so many tasks due the same day are the case where a
cursor on the date alone would skip or repeat rows. The state counts SQLite keeps by triggers
must stay equal to counting the cases. The store and the counts run on both databases; the CLI
and the API on SQLite (what they add is the same on both: the option, the hint, the headers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from factories import AS_AGENCY, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient

from workflow import Engine
from workflow.api import TokenRegistry, create_app
from workflow.cli.main import main
from workflow.clock import SHANGHAI
from workflow.errors import NotFoundError
from workflow.paging import Page
from workflow.store.outbox import SqlOutbox
from workflow.store.tasks import insert_tasks, read_tasks

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=SHANGHAI)
TODAY = NOW.date()
CADRES = [f"LC-DCF-02{n:02d}" for n in range(7)]
# what the CLI and the API add to the store is the same on both databases
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
TOKENS = {"t-city": "city_officer:赵敏", "t-agency": "agency_officer:王芳@东昌府区军休所"}


def family(cadre_id: str) -> str:
    return f"family:张丽@{cadre_id}"


@pytest.fixture
def opened(engine: Engine) -> list[int]:
    """Seven cases of one agency (each wrote its notices): the 2nd, 4th and 6th consented,
    the last withdrawn (closed)."""
    engine.put_cadres([cadre(cadre_id) for cadre_id in CADRES])
    ids = []
    for n, cadre_id in enumerate(CADRES):
        case = engine.open_case(cadre_id, actor=AS_AGENCY, data=REGISTRATION)
        if n % 2:
            case = engine.fire(case.id, "consent", actor=family(cadre_id), data=CONSENT)
        ids.append(case.id)
    engine.fire(ids[-1], "withdraw", actor=AS_AGENCY, data={"for_health": False})
    return ids


def task(n: int, due_on: date, *, county: str = "东昌府区", done: bool = False) -> dict[str, Any]:
    return {
        "key": f"remind:{n}",
        "kind": "remind",
        "case_id": None,
        "state": None,
        "assignee_role": "agency_officer",
        "county": county,
        "agency": f"{county}军休所",
        "title": f"任务 {n}",
        "article": None,
        "due_on": due_on,
        "created_at": NOW,
        "done_at": NOW if done else None,
    }


def walk(
    read: Callable[[int | None], list[Any]], key: Callable[[Any], int], size: int
) -> list[Any]:
    """Every page from the first, each read with one row more than it shows, as callers do."""
    seen: list[Any] = []
    after: int | None = None
    while True:
        page = Page.of(read(after), size, key)
        seen += page.items
        if page.next_after is None:
            return seen
        after = page.next_after


# -- the store, on both databases --------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 7])
def test_case_pages_show_every_case_once_in_order(
    engine: Engine, opened: list[int], size: int
) -> None:
    def ids(**filters: Any) -> list[int]:
        found = walk(
            lambda after: engine.cases(limit=size + 1, after=after, **filters), lambda v: v.id, size
        )
        return [view.id for view in found]

    assert ids() == opened
    assert ids(open_only=True) == opened[:-1]
    assert ids(state="family_consented") == opened[1::2]
    assert ids(agency="东昌府区军休所", open_only=True) == opened[:-1]
    assert ids(county="冠县") == []
    assert [v.id for v in engine.cases(after=opened[3])] == opened[4:]
    assert [v.id for v in engine.cases(after=opened[3], offset=1)] == opened[
        5:
    ]  # both: after, then skip


def test_task_pages_hold_through_tasks_due_the_same_day(engine: Engine) -> None:
    # ids and due dates in different orders, and most due on one day: (due_on, id) is the order
    days = [date(2024, 5, 10), date(2024, 5, 8), *[date(2024, 5, 9)] * 6, date(2024, 5, 1)]
    rows = [task(n, day, done=n == 4) for n, day in enumerate(days)]
    rows.append(task(99, date(2024, 5, 9), county="冠县"))
    with engine.transaction(write=True) as connection:
        insert_tasks(connection, rows)
    everything = read_tasks(engine.db, today=TODAY, include_done=True, limit=100)
    expected = sorted(everything, key=lambda t: (t.due_on, t.id))
    assert everything == expected

    def listed(size: int, **filters: Any) -> list[str]:
        def read(after: int | None) -> list[Any]:
            return read_tasks(engine.db, today=TODAY, limit=size + 1, after=after, **filters)

        return [t.key for t in walk(read, lambda t: t.id, size)]

    for size in (1, 2, 3):
        assert listed(size, include_done=True) == [t.key for t in expected]
        assert listed(size) == [t.key for t in expected if t.done_at is None]
        assert listed(size, county="东昌府区") == [
            t.key for t in expected if t.done_at is None and t.county == "东昌府区"
        ]
    assert listed(2, overdue=True) == ["remind:8"]  # due 05-01, before today (05-06)
    with pytest.raises(NotFoundError):
        read_tasks(engine.db, today=TODAY, after=12345)


def test_notice_pages_go_from_the_newest_to_the_oldest(engine: Engine, opened: list[int]) -> None:
    outbox = SqlOutbox(engine.db)
    everything = outbox.entries(status=None, case_id=None, limit=1000)
    assert len(everything) >= len(opened)
    ids = [row["id"] for row in everything]
    assert ids == sorted(ids, reverse=True)

    def listed(size: int, case_id: int | None = None) -> list[int]:
        def read(after: int | None) -> list[Any]:
            return list(outbox.entries(status=None, case_id=case_id, limit=size + 1, after=after))

        return [row["id"] for row in walk(read, lambda row: int(row["id"]), size)]

    assert listed(1) == listed(3) == ids
    assert listed(1, case_id=opened[1]) == [
        r["id"] for r in everything if r["case_id"] == opened[1]
    ]


def test_state_counts_follow_every_opening_and_step(engine: Engine, opened: list[int]) -> None:
    counted = _counted(engine)
    assert (
        engine.count_by_state()
        == counted
        == {"registered": 3, "family_consented": 3, "withdrawn": 1}
    )
    engine.fire(opened[1], "withdraw", actor=AS_AGENCY, data={"for_health": False})
    assert (
        engine.count_by_state()
        == _counted(engine)
        == {"registered": 3, "family_consented": 2, "withdrawn": 2}
    )


def _counted(engine: Engine) -> dict[str, int]:
    """The cases per state as a count of the table says."""
    with engine.db.connect() as connection:
        rows = connection.exec_driver_sql("SELECT state, count(*) FROM cases GROUP BY state")
        return {state: int(n) for state, n in rows}


# -- the command line and the API (SQLite) ------------------------------------------------


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--db", url, "--now", NOW.isoformat(), *args], catch_exceptions=False
    )


@SQLITE_ONLY
def test_the_cli_pages_by_after_and_says_where_the_next_page_starts(
    engine: Engine, opened: list[int]
) -> None:
    url = str(engine.db.url)
    first = cli(url, "cases", "list", "--limit", "3")
    assert first.exit_code == 0, first.stderr
    assert f"3 件案件（下一页：--after {opened[2]}）" in first.stdout
    second = cli(url, "cases", "list", "--json", "--limit", "3", "--after", str(opened[2]))
    assert [case["id"] for case in json.loads(second.stdout)] == opened[3:6]
    assert f"下一页：--after {opened[5]}" in second.stderr
    last = cli(url, "--lang", "en", "cases", "list", "--after", str(opened[5]))
    assert "next page" not in last.stdout + last.stderr
    english = cli(url, "--lang", "en", "cases", "list", "--limit", "1")
    assert f"(next page: --after {opened[0]})" in english.stdout
    with engine.transaction(write=True) as connection:
        insert_tasks(connection, [task(n, date(2024, 5, 9)) for n in range(3)])
    tasks = cli(url, "tasks", "list", "--limit", "2")
    first_two = [t.id for t in read_tasks(engine.db, today=TODAY, limit=2)]
    assert f"（下一页：--after {first_two[1]}）" in tasks.stdout
    rest = cli(url, "tasks", "list", "--after", str(first_two[1]), "--json")
    assert len(json.loads(rest.stdout)) == 1
    assert rest.stderr == ""
    unknown = cli(url, "tasks", "list", "--after", "999")
    assert unknown.exit_code == 4
    notices = cli(url, "notifications", "list", "--limit", "1")
    newest = SqlOutbox(engine.db).entries(status=None, case_id=None, limit=1)[0]["id"]
    assert f"（下一页：--after {newest}）" in notices.stdout
    older = cli(url, "notifications", "list", "--json", "--after", str(newest), "--limit", "1")
    assert json.loads(older.stdout)[0]["id"] < newest


@SQLITE_ONLY
def test_the_api_pages_by_after(engine: Engine, opened: list[int]) -> None:
    with engine.transaction(write=True) as connection:
        insert_tasks(connection, [task(n, date(2024, 5, 9)) for n in range(3)])
    app = create_app(engine, TokenRegistry.from_tokens(TOKENS))
    city = {"Authorization": "Bearer t-city"}
    with TestClient(app) as client:
        page = client.get("/cases", params={"limit": 4}, headers=city).json()
        assert [c["id"] for c in page["items"]] == opened[:4]
        assert page["next"] == opened[3]
        assert page["next_offset"] == 4
        rest = client.get("/cases", params={"limit": 4, "after": page["next"]}, headers=city).json()
        assert [c["id"] for c in rest["items"]] == opened[4:]
        assert rest["next"] is None
        assert rest["next_offset"] is None

        first = client.get("/tasks", params={"limit": 2}, headers=city)
        after = first.headers["X-Next-After"]
        assert first.headers["Link"].endswith(f'after={after}>; rel="next"')
        second = client.get(first.headers["Link"][1:].split(">")[0], headers=city)
        assert len(second.json()) == 1
        assert "Link" not in second.headers
        assert {t["id"] for t in first.json()} | {t["id"] for t in second.json()} == {
            t.id for t in read_tasks(engine.db, today=TODAY)
        }
        assert client.get("/tasks", params={"after": 999}, headers=city).status_code == 404

        newest = client.get("/notifications", params={"limit": 1}, headers=city)
        cursor = int(newest.headers["X-Next-After"])
        older = client.get("/notifications", params={"limit": 1, "after": cursor}, headers=city)
        assert older.json()[0]["id"] < cursor
