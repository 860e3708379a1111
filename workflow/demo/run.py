"""The main job: a reproducible two-year convalescence cycle on a fresh SQLite database.

It drives real cases through the real engine with a simulated clock, as officers would: events
are ordered in simulated time, every refusal is answered the way an officer answers it (reject
citing the article, or correct the evidence and try again), so the summary shows how many cases
ended where and which articles refused what.
"""

from __future__ import annotations

import heapq
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from notifications.channels import FileChannel
from notifications.dispatch import dispatch
from workflow.audit import Report, verify_database
from workflow.calendar import WorkingCalendar
from workflow.clock import SHANGHAI, SimulatedClock
from workflow.definition.policy_rules import PolicyRules
from workflow.demo.plans import DemoBatch, PlanBook
from workflow.demo.roster import COUNTIES, generate_roster
from workflow.demo.successor import SuccessorSummary, change_policy
from workflow.eligibility import NO_TIER, highest_tier, with_recommendation
from workflow.engine import Engine
from workflow.errors import InputError, RuleRefused
from workflow.i18n import _
from workflow.machine import Actor
from workflow.reports import write_performance_report
from workflow.scheduler.jobs import JobContext, run_due
from workflow.store.connectivity import masked_url
from workflow.store.database import create_engine
from workflow.store.migrate import current_revision
from workflow.store.outbox import SqlOutbox
from workflow.unable import record_unable

CYCLE_START = date(2024, 3, 4)
CYCLE_END = date(2025, 12, 31)  # art. 9: at most two years; art. 21: the policy's last day
ROSTER_AS_OF = date(2024, 3, 1)
LATE_REGISTRATIONS = date(2025, 12, 8)  # the first of the registrations left open at the end
LATE_COUNT = 6
DB_FILE = "convalescence.db"


@dataclass
class DemoSummary:
    directory: Path
    database: Path | str  # the SQLite file, or the URL given (password masked)
    cadres: int
    cases: int
    transitions: int
    final_states: dict[str, tuple[str, int]]  # state -> (label, count)
    refusals: Counter[str] = field(default_factory=Counter)  # "A8.2 rule" -> count
    tiers: Counter[str] = field(default_factory=Counter)  # art. 4 tier -> cadres (A4.2)
    exceptions: Counter[str] = field(default_factory=Counter)  # article -> exceptions granted
    on_behalf: int = 0  # consents an officer recorded for a family member
    simulated_from: date = CYCLE_START
    simulated_until: date = CYCLE_START
    notices_dir: Path | None = None  # where the notices were written, one file each
    notices: int = 0
    plans: int = 0
    batches: int = 0
    evaluations: int = 0  # contractor evaluations after each batch (A18.3)
    contractors_dropped: tuple[str, ...] = ()  # refused new batches under A18.3
    visits: Counter[str] = field(default_factory=Counter)  # opened, reminders, escalations, …
    report: Path | None = None  # the A18.2 performance report (HTML)
    audit: Report | None = None  # the A19.1 hash chains checked at the end of the cycle
    successor: SuccessorSummary | None = None  # the policy change after the cycle (A21.1)


def _deliver_notices(engine: Engine, directory: Path) -> tuple[Path, int]:
    """Run the outbox dispatcher with the file channel until nothing is due, so an officer can
    open every notice the cycle produced (the same path a production dispatcher takes)."""
    target = directory / "notices"
    if target.exists():
        shutil.rmtree(target)
    channels = {"file": FileChannel(target)}
    delivered = 0
    while True:
        report = dispatch(SqlOutbox(engine.db), channels, engine.clock, batch=500)
        delivered += report.sent
        if report.claimed == 0:
            return target, delivered


def run_demo(
    directory: Path,
    *,
    cadres: int = 500,
    seed: int = 2023,
    on_progress: Callable[[int, int], None] | None = None,
    calendar: WorkingCalendar | None = None,
    db: str | None = None,
) -> DemoSummary:
    """The cycle on a fresh SQLite file in ``directory``, or with ``db`` on that database (e.g.
    PostgreSQL), which must be empty: the demo never writes into a database that has a schema."""
    directory.mkdir(parents=True, exist_ok=True)
    database: Path | str
    if db is None:
        database = directory / DB_FILE
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        sa_engine = create_engine(f"sqlite:///{database}", sqlite_synchronous="NORMAL")
    else:
        database, sa_engine = masked_url(db), create_engine(db)
    rng = random.Random(seed)
    roster = generate_roster(cadres, seed, as_of=ROSTER_AS_OF)
    clock = SimulatedClock(datetime.combine(CYCLE_START, time(9), SHANGHAI))
    with Engine(sa_engine, clock=clock) as engine:
        if db is not None and current_revision(sa_engine) is not None:
            sa_engine.dispose()
            raise InputError(
                _("演示只在空数据库上运行：{database} 已有库结构，请指定一个新建的空数据库").format(
                    database=database
                ),
                field="db",
            )
        engine.upgrade_schema()
        engine.put_cadres(roster)
        rules = engine.catalog.get("honor_convalescence").rules
        assert rules is not None, "the shipped definition declares its art. 4 rules"
        book = PlanBook(engine, rng, counties=tuple(COUNTIES))
        book.set_up()
        driver = _Driver(engine, clock, rng, book, rules, jobs=JobContext(calendar=calendar))
        driver.schedule_planning()
        driver.schedule_scheduler()
        late = _late_registrants(roster, rules)
        for record in roster:
            if record["id"] in late:
                driver.schedule_late_registration(record, late[record["id"]])
            else:
                driver.schedule_registration(record)
        total_days = (CYCLE_END - CYCLE_START).days
        for day in driver.run():
            if on_progress:
                on_progress(min((day - CYCLE_START).days, total_days), total_days)
        if on_progress:
            on_progress(
                total_days, total_days
            )  # the cycle is over even if its last weeks were quiet
        # the rules expired on 2025-12-31: today the office publishes their successor (A21.1)
        successor = change_policy(engine, clock, directory)
        notices_dir, delivered = _deliver_notices(engine, directory)
        report = write_performance_report(engine, 2024, directory)
        audit = verify_database(engine.db)
        labels = {s.name: s.label for s in engine.catalog.get("honor_convalescence").states}
        counts = engine.count_by_state()
        summary = DemoSummary(
            directory=directory,
            database=database,
            cadres=len(roster),
            cases=sum(counts.values()),
            transitions=driver.transitions,
            final_states={
                state: (labels.get(state, state), counts.get(state, 0)) for state in labels
            },
            refusals=driver.refusals + book.refusals,
            tiers=driver.tiers,
            exceptions=driver.exceptions,
            on_behalf=driver.on_behalf,
            simulated_until=driver.last_day,
            notices_dir=notices_dir,
            notices=delivered,
            plans=len(book.plans),
            batches=len(book.batches),
            evaluations=book.evaluations,
            contractors_dropped=tuple(sorted(book.dropped)),
            visits=driver.visits,
            report=report,
            audit=audit,
            successor=successor,
        )
    sa_engine.dispose()
    return summary


Step = Callable[[], None]


def _late_registrants(roster: list[dict[str, Any]], rules: PolicyRules) -> dict[str, int]:
    """Cadre id -> n for the few eligible cadres who register only in December 2025."""
    eligible = [r for r in roster if highest_tier(r, rules)[0] != NO_TIER]
    chosen = eligible[7 :: max(1, len(eligible) // LATE_COUNT)][:LATE_COUNT]
    return {record["id"]: n for n, record in enumerate(chosen)}


# rule -> (approver, article, reason) for the exceptions officers grant in the demo
_EXCEPTION_GRANTS = {
    "under_age_limit_on_first_day": (
        "county_officer:赵局长@{county}",
        "A8.2",
        "身体状况良好，经体检合格，家属陪同",
    ),
    "once_per_cycle": ("city_officer:钱处长", "A9.2", "上期因疫情防控缩短行程，经研究同意再次参加"),
}


def _recommender(record: dict[str, Any]) -> dict[str, Any]:
    """Who recommended a 三等功 holder for the city level (A4.3), as the registration records
    it: the body by name, the officer who signed, the date."""
    recommendation = record.get("recommendation")
    if not recommendation:
        return {}
    body = (
        f"{record['county']}退役军人事务局"
        if recommendation["by"] == "county_dept"
        else record["agency"]
    )
    return {
        "recommender_body": body,
        "recommender_officer": "刘主任",
        "recommended_on": recommendation["date"],
    }


class _Driver:
    """An event queue in simulated time; each cadre's next step is queued when one completes."""

    def __init__(
        self,
        engine: Engine,
        clock: SimulatedClock,
        rng: random.Random,
        book: PlanBook,
        rules: PolicyRules,
        *,
        jobs: JobContext,
    ) -> None:
        self.engine, self.clock, self.rng, self.book = engine, clock, rng, book
        self.rules = rules
        self.jobs = jobs  # the working-day calendar the scheduler's jobs count with
        self.tiers: Counter[str] = Counter()
        self.exceptions: Counter[str] = Counter()  # article -> exceptions granted
        self.on_behalf = 0  # steps an officer recorded for a family member (paper consent)
        self.records: dict[int, dict[str, Any]] = {}
        self.queue: list[tuple[datetime, int, Step]] = []
        self.sequence = 0
        self.transitions = 0
        self.refusals: Counter[str] = Counter()
        self.last_day = CYCLE_START
        self.visits: Counter[str] = Counter()
        # registrations of the cycle's last weeks that are still open when the rules expire,
        # carried over to the successor afterwards (`workflow.demo.successor`, A21.1)
        self.late: set[int] = set()

    def at(self, moment: datetime, step: Step) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (moment, self.sequence, step))

    def run(self) -> Iterator[date]:
        """Yields the simulated day after each step, for the progress bar."""
        while self.queue:
            moment, _, step = heapq.heappop(self.queue)
            self.clock.set(moment)
            self.last_day = moment.date()
            step()
            yield self.last_day

    def later(self, days: int, hour: int | None = None) -> datetime:
        moment = self.clock.now() + timedelta(days=days)
        return moment.replace(hour=hour or self.rng.randint(8, 17), minute=self.rng.randint(0, 59))

    def refused(self, error: RuleRefused) -> str:
        for refusal in error.refusals:
            self.refusals[f"{refusal.article} {refusal.rule}"] += 1
        return error.refusals[0].article

    def fire(
        self,
        case_id: int,
        trigger: str,
        actor: str,
        data: dict[str, Any],
        on_behalf_of: str | None = None,
    ) -> bool:
        """True when the step went through; a refusal is counted and handled by the caller."""
        try:
            self.engine.fire(case_id, trigger, actor=actor, data=data, on_behalf_of=on_behalf_of)
        except RuleRefused as error:
            self.refused(error)
            return False
        self.transitions += 1
        return True

    # -- the scenario -----------------------------------------------------------------

    def schedule_planning(self) -> None:
        """Each quarter's batches are planned a month ahead; each batch is evaluated after it."""
        first = date(2024, 4, 1)
        while first < date(2025, 12, 1):
            plan_on = max(CYCLE_START, first - timedelta(days=30))
            moment = datetime.combine(plan_on, time(8), SHANGHAI)
            self.at(moment, lambda first=first: self.plan(first))  # type: ignore[misc]
            month = first.month + 3
            first = date(first.year + (month > 12), (month - 1) % 12 + 1, 1)

    def schedule_scheduler(self) -> None:
        """The scheduler's jobs run every working morning of the cycle, as `convalescence
        scheduler run --once --now …` would: deadline reminders and escalations (A7.1), and the
        A9.3 sweep that opens one condolence visit per cadre who could not attend."""
        day = CYCLE_START
        while day <= CYCLE_END:
            if day.weekday() < 5:
                moment = datetime.combine(day, time(7), SHANGHAI)
                self.at(moment, self.tick)
            day += timedelta(days=1)

    def tick(self) -> None:
        results = run_due(
            self.engine, holder="demo", context=self.jobs, jobs=("timers", "condolence")
        )
        for name, result in results.items():
            for key, value in (result or {}).items():
                if isinstance(value, int) and value:
                    self.visits[f"{name}.{key}"] += value
        for visit in self.engine.cases(state="flagged", limit=500):
            if visit.definition == "condolence_visit" and visit.id not in self.records:
                self.records[visit.id] = {"agency": visit.agency}
                days = self.rng.randint(3, 40)  # some agencies are slow: reminders follow
                self.at(self.later(days), lambda case_id=visit.id: self.visit(case_id))  # type: ignore[misc]

    def visit(self, case_id: int) -> None:
        """The agency visits and records it (A9.3): who, when, what was brought."""
        officer = self.officer(case_id)
        if self.engine.case(case_id).state != "flagged":
            return  # closed as not needed meanwhile
        self.fire(case_id, "assign", officer, {"visitors": "王芳、李强"})
        data = {
            "visited_by": "王芳、李强",
            "visited_on": self.clock.now().date(),
            "items_brought": "慰问金500元、米面油",
            "notes": "身体状况稳定，感谢组织关心",
        }
        if self.fire(case_id, "record_visit", officer, data):
            self.visits["visits.recorded"] += 1
            self.fire(case_id, "close", officer, {})

    def plan(self, first_day: date) -> None:
        for batch in self.book.plan_quarter(first_day):
            first_morning = datetime.combine(batch.start, time(7, 30), SHANGHAI)
            self.at(first_morning, lambda batch=batch: self.book.start(batch))  # type: ignore[misc]
            after = datetime.combine(batch.end + timedelta(days=3), time(10), SHANGHAI)
            self.at(after, lambda batch=batch: self.book.evaluate(batch))  # type: ignore[misc]

    def schedule_registration(self, record: dict[str, Any]) -> None:
        offset = self.rng.randint(0, 540)  # registrations spread over eighteen months
        if self.rng.random() < 0.02:  # a few apply after the policy expired: art. 21 refuses
            offset = (date(2026, 1, 5) - CYCLE_START).days + self.rng.randint(0, 20)
        moment = datetime.combine(CYCLE_START + timedelta(days=offset), time(9), SHANGHAI)
        self.at(moment, lambda: self.register(record))

    def schedule_late_registration(self, record: dict[str, Any], nth: int) -> None:
        """A registration in December 2025 that the office does not finish before the rules
        expire (the first few get the family's consent, then wait)."""
        moment = datetime.combine(LATE_REGISTRATIONS + timedelta(days=nth), time(10), SHANGHAI)
        self.at(moment, lambda: self.register(record, late=True))

    def register(self, record: dict[str, Any], *, again: bool = False, late: bool = False) -> None:
        """Cadres apply to the programme their honours suggest; those with none try the county
        programme anyway, as some do, and art. 4 refuses them."""
        on_paper = self.rng.random() < 0.3
        actor = (
            f"agency_officer:经办人@{record['agency']}"
            if on_paper
            else f"cadre:{record['name']}@{record['id']}"
        )
        recommender = _recommender(record)
        tier, _reasons = highest_tier(with_recommendation(record, recommender), self.rules)
        if not again:
            self.tiers[tier] += 1
        level = "city" if tier == "city" and self.rng.random() < 0.8 else "county"
        try:
            case = self.engine.open_case(
                record["id"],
                actor=actor,
                data={"plan_level": level, "registered_on_paper": on_paper, **recommender},
            )
        except RuleRefused as error:  # A4.4 tier, A8.1 health, A2.1 scope
            self.refused(error)
            if tier != NO_TIER and {r.rule for r in error.refusals} == {"fit_for_convalescence"}:
                self.report_unable(record)
            return
        self.transitions += 1
        self.records[case.id] = record
        if late:
            self.late.add(case.id)
            if len(self.late) % 2:  # every other one waits for the family still
                return
        self.at(self.later(self.rng.randint(1, 6)), lambda: self.consent(case.id, record))

    def report_unable(self, record: dict[str, Any]) -> None:
        """Art. 9: a cadre who qualifies but whose health rules him out is reported unable by
        the agency, so the condolence sweep visits him though no case exists (A9.3)."""
        cycle = self.rules.cycle_on(self.clock.now().date())
        if cycle is None:
            return
        try:
            record_unable(
                self.engine,
                record["id"],
                cycle=cycle.id,
                reason="身体健康原因，不适宜参加疗养（第八条）",
                actor=Actor("agency_officer", "经办人", record["agency"]),
            )
        except (RuleRefused, InputError):  # reported already this cycle
            return
        self.visits["visits.reported_unable"] += 1

    def consent(self, case_id: int, record: dict[str, Any]) -> None:
        family = record.get("family_contact") or {"name": "家属", "relation": "子女"}
        data = {"family_member": family["name"], "relation": family["relation"]}
        if self.rng.random() < 0.07:
            self.fire(case_id, "refuse_consent", f"family:{family['name']}@{record['id']}", data)
            return
        on_behalf_of = None
        if case_id % 40 == 1:  # now and then a contractor clerk tries to record it: art. 5 roles
            self.fire(case_id, "consent", "contractor_staff:承办方@1", data)
        if case_id % 45 == 2:  # an officer of another county tries to act on it: A5.2 scope
            self.fire(case_id, "reject", "county_officer:孙科长@外县", {"article": "A8.1"})
        if self.rng.random() < 0.25:  # consent given on a paper form, recorded by the agency
            actor, on_behalf_of = f"agency_officer:经办人@{record['agency']}", family["name"]
            data["consent_form_ref"] = f"JSTY-{case_id:05d}"
            self.on_behalf += 1
        else:
            actor = f"family:{family['name']}@{record['id']}"
        if self.fire(case_id, "consent", actor, data, on_behalf_of) and case_id not in self.late:
            self.at(self.later(self.rng.randint(2, 8)), lambda: self.approve(case_id, first=True))

    def officer(self, case_id: int) -> str:
        return f"agency_officer:王芳@{self.records[case_id]['agency']}"

    def approve(self, case_id: int, *, first: bool, tries: int = 0) -> None:
        """Seat the case in the soonest batch of its plan level with room (A4.4, A6.2)."""
        record = self.records[case_id]
        level = self.engine.case(case_id).evidence.get("plan_level", "county")
        error: RuleRefused | None = None
        for batch in self.book.choose(level, record["county"], self.clock.now().date()):
            try:
                self.engine.fire(
                    case_id, "approve", actor=self.officer(case_id), data={"batch_id": batch.id}
                )
            except RuleRefused as refused:
                error = refused
                if {r.rule for r in refused.refusals} == {"batch_full"}:
                    continue  # the next batch may have room
                break
            self.transitions += 1
            if self.rng.random() < 0.04:
                self.at(self.later(self.rng.randint(1, 10)), lambda: self.drop_out(case_id))
                return
            self.at(
                self.later(self.rng.randint(1, 5)),
                lambda seated=batch: self.sign(case_id, seated),  # type: ignore[misc]
            )
            return
        if error is None or {r.rule for r in error.refusals} == {"batch_full"}:
            if tries < 4:  # no batch with room yet: the next quarter's plan may have one
                self.at(self.later(30), lambda: self.approve(case_id, first=first, tries=tries + 1))
                return
            self.fire(case_id, "reject", self.officer(case_id), {"article": "A6.2"})
            return
        articles = {r.article for r in error.refusals}
        rules = {r.rule for r in error.refusals}
        self.refused(error)
        if first and len(rules) == 1 and self.grants_exception(case_id, min(rules)):
            self.at(self.later(2), lambda: self.approve(case_id, first=False))
        else:
            self.fire(
                case_id, "reject", self.officer(case_id), {"article": "、".join(sorted(articles))}
            )

    def grants_exception(self, case_id: int, rule: str) -> bool:
        """Some "in principle" refusals end in a recorded exception (A8.2 age, A9.2 a second
        time in the cycle, A6.2 a batch over 50), approved by the role the policy names."""
        grant = _EXCEPTION_GRANTS.get(rule)
        if grant is None or self.rng.random() >= 0.4:
            return False
        approver, article, reason = grant
        approver = approver.format(county=self.records[case_id]["county"])
        self.engine.grant_exception(case_id, rule, actor=approver, reason=reason)
        self.exceptions[article] += 1
        return True

    def drop_out(self, case_id: int) -> None:
        if self.rng.random() < 0.5:
            self.fire(case_id, "report_unable", self.officer(case_id), {"cause": "健康原因"})
        else:
            for_health = self.rng.random() < 0.5
            self.fire(case_id, "withdraw", self.officer(case_id), {"for_health": for_health})

    def sign(self, case_id: int, batch: DemoBatch) -> None:
        data = {"agreement_no": f"LCRY-{case_id:05d}", "signed_on": self.clock.now().date()}
        if self.fire(case_id, "sign_agreement", self.officer(case_id), data):
            self.at(self.later(self.rng.randint(1, 4)), lambda: self.insure(case_id, batch, True))

    def insure(self, case_id: int, batch: DemoBatch, first: bool) -> None:
        short = first and self.rng.random() < 0.05  # travel day forgotten: refused under A7.3
        data = {
            "insurer": "中国人寿聊城分公司",
            "policy_no": f"PICC-{case_id:06d}",
            "covered_from": batch.start + timedelta(days=1 if short else 0),
            "covered_until": batch.end,
        }
        if self.fire(case_id, "insure", self.officer(case_id), data):
            start = datetime.combine(batch.start, time(8), SHANGHAI)
            self.at(max(start, self.later(1)), lambda: self.attend(case_id, batch))
        else:
            self.at(self.later(1), lambda: self.insure(case_id, batch, False))

    def attend(self, case_id: int, batch: DemoBatch) -> None:
        if self.clock.now().date() > batch.end:  # papers came too late for the trip
            self.fire(case_id, "report_unable", self.officer(case_id), {"cause": "其他原因"})
            return
        data = {"checked_in_on": self.clock.now().date()}
        if self.fire(case_id, "attend", f"contractor_staff:承办方@{batch.contractor_id}", data):
            finish = datetime.combine(batch.end, time(18), SHANGHAI)
            self.at(
                finish + timedelta(days=self.rng.randint(1, 10)), lambda: self.evaluate(case_id)
            )

    def evaluate(self, case_id: int) -> None:
        score = self.rng.choices([5, 4, 3, 2], weights=[60, 30, 8, 2])[0]
        record = self.records[case_id]
        actor = f"cadre:{record['name']}@{record['id']}"
        evaluated = self.fire(case_id, "evaluate", actor, {"satisfaction": score})
        if evaluated and self.rng.random() < 0.06 and self.clock.now().date() < date(2025, 6, 1):
            # a few apply again within the cycle: art. 9 allows once, in principle
            self.at(self.later(self.rng.randint(20, 60)), lambda: self.register(record, again=True))
