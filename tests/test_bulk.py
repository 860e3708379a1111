"""``cases fire-many`` (issue 13, item 6): one step fired on a cohort, each case in its own
transaction, with a report of succeeded / refused (article) / conflict, on real databases.

The CLI runs in-process through click's runner against the test's database; the library calls
(`workflow.bulk`) are used where a test needs to act between the run's recording and its firing
(another officer moving a case, an interruption through the run's progress callback).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner, Result
from factories import APPROVAL, CONSENT, REGISTRATION, cadre

from workflow import Engine, bulk
from workflow.cli.main import main
from workflow.errors import NotFoundError
from workflow.machine import Actor

SEED_BATCH = True  # the batch APPROVAL names (approve takes a seat in it, A6.2)
NOW = "2024-05-07T09:00"
COUNTY_OFFICER = "county_officer:刘伟@东昌府区"
AGENCY_OFFICER = "agency_officer:王芳@东昌府区军休所"
OTHER_COUNTY = {"county": "茌平区", "agency": "茌平区军休所"}
REJECT = ("reject", "--data", "article=A4.1", "--reason", "计划撤销")
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def registered_cases(
    engine: Engine, count: int, *, prefix: str = "LC-DCF", **where: str
) -> list[int]:
    """``count`` cadres of the default county (or ``where``'s), each with a registration."""
    ids = [f"{prefix}-{n:04d}" for n in range(1, count + 1)]
    engine.put_cadres([cadre(i, **where) for i in ids])
    agency = where.get("agency", "东昌府区军休所")
    officer = f"agency_officer:王芳@{agency}"
    return [engine.open_case(i, actor=officer, data=REGISTRATION).id for i in ids]


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--now", NOW, *args], catch_exceptions=False)


def fire_many(url: str, *args: str) -> Result:
    return cli(url, "cases", "fire-many", *args)


def steps_of(engine: Engine, case_id: int, trigger: str) -> int:
    return sum(1 for entry in engine.history(case_id) if entry.trigger == trigger)


def test_a_county_officer_moves_the_countys_cases_and_each_is_reported(
    engine: Engine, db_url: str
) -> None:
    mine = registered_cases(engine, 3)
    (other,) = registered_cases(engine, 1, prefix="LC-CP", **OTHER_COUNTY)

    listed = fire_many(
        db_url,
        *REJECT,
        "--where",
        "state=registered",
        "--as",
        COUNTY_OFFICER,
        "--dry-run",
        "--json",
    )
    assert listed.exit_code == 0, listed.output
    assert [c["case_id"] for c in json.loads(listed.stdout)["cases"]] == mine  # A5.2: own county
    assert all(steps_of(engine, case_id, "reject") == 0 for case_id in mine)  # dry: nothing moved
    with pytest.raises(NotFoundError):
        bulk.report(engine, 1)

    result = fire_many(
        db_url, *REJECT, "--where", "state=registered", "--as", COUNTY_OFFICER, "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"] == {
        "succeeded": 3,
        "refused": 0,
        "bad_input": 0,
        "conflict": 0,
        "not_found": 0,
        "pending": 0,
    }
    assert [(i["case_id"], i["new_state"], i["new_version"]) for i in report["items"]] == [
        (case_id, "rejected", 2) for case_id in mine
    ]
    assert report["actor"] == COUNTY_OFFICER
    assert report["filters"] == {"state": "registered"}
    assert report["data"] == {"article": "A4.1"}
    assert report["finished_at"] is not None
    assert "[3/3]" in result.stderr  # progress, one line per case, on stderr
    for case_id in mine:
        last = engine.history(case_id)[-1]
        assert (last.trigger, last.role, last.actor, last.reason) == (
            "reject",
            "county_officer",
            "刘伟",
            "计划撤销",
        )
    assert engine.case(other).state == "registered"  # another county's case is not touched

    again = fire_many(db_url, *REJECT, "--where", "state=registered", "--as", COUNTY_OFFICER)
    assert again.exit_code == 0, again.output
    assert "没有符合条件的案件" in again.stdout  # nothing left in that state: nothing recorded
    with pytest.raises(NotFoundError):
        bulk.report(engine, 2)


def consented_cases(engine: Engine, count: int) -> list[int]:
    cases = registered_cases(engine, count)
    for case_id in cases:
        engine.fire(
            case_id, "consent", actor="family:张丽@" + engine.case(case_id).cadre_id, data=CONSENT
        )
    return cases


@SQLITE_ONLY
def test_refusals_cite_their_article_and_a_conflict_outranks_them(
    engine: Engine, db_url: str
) -> None:
    first, old, moved = consented_cases(engine, 3)
    # the second cadre is 81 on the batch's first day: A8.2 refuses the approval
    engine.put_cadres([cadre("LC-DCF-0002", birth_date="1943-06-01")])
    officer = Actor.parse(AGENCY_OFFICER)
    filters = bulk.Filters.parse({"state": "family_consented"})
    started = bulk.start(
        engine, trigger="approve", filters=filters, actor=officer, data=APPROVAL, reason=None
    )
    assert started.id is not None
    assert [i.outcome for i in started.items] == ["pending"] * 3  # recorded before any firing
    # meanwhile the third cadre withdraws, through the ordinary single-case step
    engine.fire(moved, "withdraw", actor="cadre:张建国@LC-DCF-0003", data={"for_health": False})

    done = bulk.fire_pending(engine, started.id)

    outcomes = {i.case_id: i for i in done.items}
    assert (outcomes[first].outcome, outcomes[first].new_state) == ("succeeded", "agency_approved")
    assert outcomes[old].outcome == "refused"
    assert (outcomes[old].article, outcomes[old].rule) == ("A8.2", "under_age_limit_on_first_day")
    assert outcomes[moved].outcome == "conflict"
    detail = outcomes[moved].detail
    assert detail is not None
    assert detail["moved_by"]["trigger"] == "withdraw"
    assert detail["moved_by"]["actor"] == "cadre:张建国"
    assert detail["moved_by"]["bulk_run"] is None  # moved by a single step, not by a run
    assert done.exit_code == 3  # documented: a conflict outranks a refusal
    assert engine.case(old).state == "family_consented"  # the refusal wrote nothing to the case
    assert engine.case(moved).state == "withdrawn"  # and the conflict nothing over the withdrawal

    shown = fire_many(db_url, "--resume", str(started.id), "--dry-run", "--as", AGENCY_OFFICER)
    assert shown.exit_code == 3
    assert "A8.2" in shown.stdout
    assert "under_age_limit_on_first_day" in shown.stdout
    english = cli(
        db_url,
        "--lang",
        "en",
        "cases",
        "fire-many",
        "--resume",
        str(started.id),
        "--dry-run",
        "--as",
        AGENCY_OFFICER,
    )
    assert english.exit_code == 3
    for words in ("outcome of each case", "refused", "conflict", "done 1", "3 cases in all"):
        assert words in english.stdout, english.stdout
    assert "已办理" not in english.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--as", COUNTY_OFFICER), 2, "--where state=STATE"),
        (("--where", "stat=registered", "--as", COUNTY_OFFICER), 2, "stat"),
        (("--where", "state=registerd", "--as", COUNTY_OFFICER), 2, "registerd"),
        (
            ("--where", "state=registered", "--where", "state=rejected", "--as", COUNTY_OFFICER),
            2,
            "state",
        ),
        (
            (
                "--where",
                "state=registered",
                "--county",
                "茌平区",
                "--where",
                "county=东昌府区",
                "--as",
                COUNTY_OFFICER,
            ),
            2,
            "--county",
        ),
        (
            (
                "--where",
                "state=registered",
                "--where",
                "definition=honor@x",
                "--as",
                COUNTY_OFFICER,
            ),
            2,
            "NAME@VERSION",
        ),
        (("--where", "state=registered", "--as", "county_officer:刘伟"), 1, "A5.2"),
        # a role that may not take the step: refused once, before a run is recorded
        (("--where", "state=registered", "--as", "cadre:张建国@LC-DCF-0001"), 1, "A5.2"),
    ],
)
@SQLITE_ONLY
def test_a_bad_request_is_refused_with_nothing_written(
    engine: Engine, db_url: str, args: tuple[str, ...], code: int, words: str
) -> None:
    cases = registered_cases(engine, 2)
    result = fire_many(db_url, *REJECT, *args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output
    with pytest.raises(NotFoundError):
        bulk.report(engine, 1)
    assert [engine.case(case_id).version for case_id in cases] == [1, 1]


@SQLITE_ONLY
def test_evidence_the_step_does_not_take_is_refused_before_a_run_is_recorded(
    engine: Engine, db_url: str
) -> None:
    cases = registered_cases(engine, 2)
    result = fire_many(
        db_url,
        "reject",
        "--data",
        "artcle=A4.1",
        "--where",
        "state=registered",
        "--as",
        COUNTY_OFFICER,
        "--json",
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["field"] == "artcle"
    with pytest.raises(NotFoundError):
        bulk.report(engine, 1)
    assert [engine.case(case_id).version for case_id in cases] == [1, 1]


@SQLITE_ONLY
def test_another_county_names_no_case_and_records_no_run(engine: Engine, db_url: str) -> None:
    registered_cases(engine, 1)
    registered_cases(engine, 1, prefix="LC-CP", **OTHER_COUNTY)
    result = fire_many(
        db_url, *REJECT, "--where", "state=registered", "--county", "茌平区", "--as", COUNTY_OFFICER
    )
    assert result.exit_code == 0, result.output
    assert "没有符合条件的案件" in result.stdout
    with pytest.raises(NotFoundError):
        bulk.report(engine, 1)


class Interrupted(Exception):
    """What the officer's Ctrl-C (or a dying process) does between two cases."""


def test_an_interrupted_run_resumes_and_fires_no_case_twice(engine: Engine, db_url: str) -> None:
    cases = registered_cases(engine, 5)
    officer = Actor.parse(COUNTY_OFFICER)
    filters = bulk.Filters.parse({"state": "registered"})
    started = bulk.start(
        engine,
        trigger="reject",
        filters=filters,
        actor=officer,
        data={"article": "A4.1"},
        reason="计划撤销",
    )
    assert started.id is not None

    def stop_after_two(item: bulk.Item, _total: int) -> None:
        if item.position == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        bulk.fire_pending(engine, started.id, progress=stop_after_two)
    half = bulk.report(engine, started.id)
    assert [i.outcome for i in half.items] == ["succeeded"] * 2 + ["pending"] * 3
    assert half.finished_at is None
    assert [engine.case(case_id).state for case_id in cases[2:]] == ["registered"] * 3

    resumed = fire_many(db_url, "--resume", str(started.id), "--as", COUNTY_OFFICER, "--json")
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.stdout)
    assert report["counts"]["succeeded"] == 5
    assert report["finished_at"] is not None
    assert "[3/5]" in resumed.stderr
    assert "[2/5]" not in resumed.stderr
    assert [steps_of(engine, case_id, "reject") for case_id in cases] == [1] * 5


@SQLITE_ONLY
def test_only_the_officer_who_started_a_run_continues_it(engine: Engine, db_url: str) -> None:
    registered_cases(engine, 2)
    done = fire_many(db_url, *REJECT, "--where", "state=registered", "--as", COUNTY_OFFICER)
    assert done.exit_code == 0, done.output
    versions = [c.version for c in engine.cases()]

    other = fire_many(db_url, "--resume", "1", "--as", "county_officer:孙强@东昌府区")
    assert other.exit_code == 1, other.output
    assert "A5.2" in other.stderr
    unknown = fire_many(db_url, "--resume", "9", "--as", COUNTY_OFFICER)
    assert unknown.exit_code == 4, unknown.output
    with_filters = fire_many(
        db_url, "--resume", "1", "--where", "state=registered", "--as", COUNTY_OFFICER
    )
    assert with_filters.exit_code == 2
    assert "--where" in with_filters.output
    other_step = fire_many(db_url, "consent", "--resume", "1", "--as", COUNTY_OFFICER)
    assert other_step.exit_code == 2
    assert "reject" in other_step.output
    finished = fire_many(db_url, "--resume", "1", "--as", COUNTY_OFFICER)
    assert finished.exit_code == 0, finished.output
    assert [c.version for c in engine.cases()] == versions  # a finished run fires nothing


@SQLITE_ONLY
def test_the_definition_cycle_and_agency_filters_narrow_the_cohort(engine: Engine) -> None:
    cases = registered_cases(engine, 2)
    officer = Actor.parse(COUNTY_OFFICER)

    def chosen(**where: str) -> list[int]:
        filters = bulk.Filters.parse({"state": "registered", **where})
        cohort = bulk.choose(engine, trigger="reject", filters=filters, actor=officer)
        return [c.case_id for c in cohort]

    assert chosen(definition="honor_convalescence@1", cycle="2024-2025") == cases
    assert chosen(definition="honor_convalescence") == cases
    assert chosen(definition="honor_convalescence@2") == []
    assert chosen(cycle="2026-2027") == []
    assert chosen(agency="东昌府区军休所") == cases
    assert chosen(agency="茌平区军休所") == []


def test_two_processes_resuming_one_run_fire_each_case_once(engine: Engine) -> None:
    """Two officers' terminals (here two threads on one pool) continue the same run at once:
    each item is claimed inside its case's transaction, so every case is fired by one of
    them, exactly once, and neither sees a conflict."""
    cases = registered_cases(engine, 12)
    filters = bulk.Filters.parse({"state": "registered"})
    started = bulk.start(
        engine,
        trigger="reject",
        filters=filters,
        actor=Actor.parse(COUNTY_OFFICER),
        data={"article": "A4.1"},
        reason="计划撤销",
    )
    assert started.id is not None
    run_id = started.id
    seen: list[bulk.Item] = []  # list.append is atomic: both threads report here

    def resume(_: int) -> bulk.Report:
        return bulk.fire_pending(engine, run_id, progress=lambda item, _total: seen.append(item))

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(resume, range(2)))
    for report in reports:
        assert report.counts["succeeded"] == 12, report.counts
    # each case was taken by one of them: none fired twice (a second try would be a conflict)
    assert sorted(item.case_id for item in seen) == cases
    assert {item.outcome for item in seen} == {"succeeded"}
    assert [steps_of(engine, case_id, "reject") for case_id in cases] == [1] * 12
