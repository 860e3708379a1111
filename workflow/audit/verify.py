"""Re-read every audit record and check its hash chain (A19.1): the first broken record, or how
much was checked.

Rows are streamed in keyset pages by `workflow.store.audit` (history by case and seq, merged
here with the cases and the case exceptions in the same order), so memory stays flat however
long the history is; this module runs no SQL itself. Checks, per
case: each row's content against its hash (an edit), each ``prev_hash`` against the row before
(a rewritten predecessor), seq without gaps (a deleted row), the last seq against the case's
version (deleted last rows), the case row's state, terminal flag and evidence against what its
chain says (the last row's target state, the definition's terminal states, the steps' recorded
fields: an ``UPDATE cases`` behind the engine's back), and each case exception against the
grant_exception history row of the same seq. Batch exceptions form one chain per batch.

What a chain without an outside anchor cannot prove: someone who deletes a case's last rows
*and* rolls back ``cases.version`` and its state, or deletes a batch's last exception, leaves a
consistent database. `workflow.audit.checkpoint` closes that gap: ``audit checkpoint`` writes
every chain's head and length outside the database, and ``audit verify --against`` names what
disappeared since. `Report.digest` (one hash over every chain's head) is the short form of the
same idea: a later digest that differs for the same moment means something changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from workflow.audit import admin
from workflow.audit.chain import (
    GENESIS,
    batch_exception_hash,
    case_exception_hash,
    evidence_after,
    history_hash,
    same_content,
)
from workflow.definition.loader import load_definition_text
from workflow.errors import TamperedError
from workflow.i18n import N_, _
from workflow.store import audit as store

CHUNK = 1000
GRANT_EXCEPTION = "grant_exception"

_PROBLEMS: Mapping[str, str] = {  # translated with `_` when shown
    "edited": N_("内容与其哈希不符（写入后被修改）"),
    "relinked": N_("prev_hash 与上一条记录的哈希不符（上一条被改写或本条被替换）"),
    "missing": N_("此序号的记录缺失（被删除）"),
    "missing_tail": N_("案件版本之后的记录缺失（最后几条被删除）"),
    "ahead": N_("案件版本落后于其历史记录（案件行被改写）"),
    "head": N_("案件行记录的链头与最后一条历史记录的哈希不符（案件行被改写）"),
    "orphan": N_("记录所属的案件不存在"),
    "unmatched": N_("例外与同序号的授予记录不符或无授予记录"),
    "ungranted": N_("授予记录没有对应的例外记录（例外被删除）"),
    "state": N_("案件行的状态（state）与其最后一条历史记录的目标状态不符（案件行被改写）"),
    "terminal": N_("案件行的结案标志（terminal）与流程定义对其状态的规定不符（案件行被改写）"),
    "evidence": N_("案件行的证据（evidence）与其历史记录累积的证据不符（案件行被改写）"),
    "unlogged": N_("该行与管理日志中关于它的最后一条记录不符（未经记录被修改）"),
    "unrecorded": N_("该行在管理日志中没有记录（绕过程序写入）"),
    "vanished": N_("管理日志记录的这一行已不存在（被删除）"),
}
_TABLES = {
    "cases": N_("案件行"),
    "history": N_("历史"),
    "case_exceptions": N_("案件例外"),
    "batch_exceptions": N_("批次例外"),
    "admin_log": N_("管理日志"),
    "plans": N_("年度计划"),
    "contractors": N_("承办单位"),
    "contractor_qualifications": N_("承办单位资质"),
    "contractor_agreements": N_("承办单位协议"),
    "batches": N_("批次"),
    "contractor_evaluations": N_("承办单位评价"),
    "incidents": N_("事件"),
    "cycle_closures": N_("疗养周期关闭记录"),
}


@dataclass(frozen=True)
class Break:
    """The first record where the chain does not hold, and what is wrong with it."""

    table: str
    key: int  # case id; batch id for batch_exceptions
    seq: int | None  # history seq, exception id (batch_exceptions) or None
    problem: str  # a key of _PROBLEMS

    @property
    def message(self) -> str:
        table = _(_TABLES[self.table])
        if self.table in ADMIN_TABLES:  # the log by seq, the rows it covers by id
            label = "seq" if self.table == "admin_log" else "id"
            where = f"{table}（{self.table}）{label} {self.key}"
        elif self.table == "batch_exceptions":
            where = _("{table}（{name}）批次 {key}").format(
                table=table, name=self.table, key=self.key
            )
        else:
            where = _("{table}（{name}）案件 {key}").format(
                table=table, name=self.table, key=self.key
            )
        if self.seq is not None and self.table not in ADMIN_TABLES:
            label = "id" if self.table == "batch_exceptions" else "seq"
            where += f" {label} {self.seq}"
        problem = _(_PROBLEMS[self.problem])
        return _("审计链断裂：{where}：{problem}。").format(where=where, problem=problem)

    def error(self) -> TamperedError:
        return TamperedError(
            table=self.table, key=self.key, seq=self.seq, problem=self.problem, message=self.message
        )


@dataclass(frozen=True)
class Report:
    """What was checked; ``broken`` is None when every chain holds."""

    records: int
    cases: int
    batches: int
    digest: str  # sha256 over every case's and batch's chain head, in id order
    broken: Break | None
    admin_records: int = 0  # admin log entries and the rows checked against them

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(rows: store.AuditRows) -> Report:
    """Check every chain; stops at the first broken record.

    ``rows`` come from one read-only snapshot (`workflow.store.audit.snapshot`), so a step
    committed midway cannot look like a missing row.
    """
    counter = _Counter()
    terminal = _terminal_states(rows)
    broken = (
        _verify_cases(rows, counter, terminal)
        or _verify_batches(rows, counter)
        or _verify_admin(rows, counter)
    )
    return Report(
        records=counter.records,
        admin_records=counter.admin,
        cases=counter.cases,
        batches=counter.batches,
        digest=counter.digest.hexdigest(),
        broken=broken,
    )


ADMIN_TABLES = frozenset({"admin_log", *admin.ENTITIES.values()})


def _verify_admin(source: store.AuditRows, counter: _Counter) -> Break | None:
    """The admin log's chain, and every plan, contractor, paper, batch, evaluation and incident
    against its last entry (`workflow.audit.admin.check`)."""
    checked = admin.check(source.admin_log(), source.admin_rows)
    counter.admin += checked.records
    counter.head("admin", 0, checked.head)
    found = checked.problem
    return None if found is None else Break(found.table, found.key, None, found.problem)


class _Counter:
    def __init__(self) -> None:
        self.records = 0
        self.admin = 0
        self.cases = 0
        self.batches = 0
        self.digest = hashlib.sha256()

    def head(self, kind: str, key: int, head: str) -> None:
        self.digest.update(f"{kind}:{key}:{head}\n".encode())


def _terminal_states(source: store.AuditRows) -> dict[int, frozenset[str]]:
    """Each stored definition version's terminal states: what a case's terminal flag must say
    for the state its chain ends in."""
    states: dict[int, frozenset[str]] = {}
    for row in source.definitions():
        definition = load_definition_text(row.source_text, row.source_name)
        states[row.id] = frozenset(s.name for s in definition.states if s.terminal)
    return states


def _verify_cases(
    source: store.AuditRows, counter: _Counter, terminal: Mapping[int, frozenset[str]]
) -> Break | None:
    rows = _Peekable(source.history())
    grants = _Peekable(source.case_exceptions())
    for case in source.case_heads():
        for stray, table in ((rows.peek(), "history"), (grants.peek(), "case_exceptions")):
            if stray is not None and stray.case_id < case.id:
                return Break(table, stray.case_id, stray.seq, "orphan")
        counter.cases += 1
        prev, expected = GENESIS, 1
        granted: dict[int, Any] = {}
        state: str | None = None
        evidence: dict[str, Any] = {}
        while (row := rows.peek()) is not None and row.case_id == case.id:
            rows.next()
            if row.seq != expected:
                return Break("history", case.id, expected, "missing")
            if row.prev_hash != prev:
                return Break("history", case.id, row.seq, "relinked")
            if history_hash(row.prev_hash, row._mapping) != row.hash:
                return Break("history", case.id, row.seq, "edited")
            if row.trigger == GRANT_EXCEPTION:
                granted[row.seq] = row
            else:
                evidence = evidence_after(evidence, row.data or {})
            state = row.to_state
            counter.records += 1
            prev, expected = row.hash, expected + 1
        last = expected - 1
        if last < case.version:
            return Break("history", case.id, last + 1, "missing_tail")
        if last > case.version:
            return Break("history", case.id, None, "ahead")
        if case.chain_head is not None and case.chain_head != prev:
            return Break("history", case.id, last, "head")
        if (mismatch := _case_row_mismatch(case, state, evidence, terminal)) is not None:
            return Break("cases", case.id, None, mismatch)
        counter.head("case", case.id, prev)
        while (grant := grants.peek()) is not None and grant.case_id == case.id:
            grants.next()
            if case_exception_hash(grant._mapping) != grant.hash:
                return Break("case_exceptions", case.id, grant.seq, "edited")
            if not _matches(granted.pop(grant.seq, None), grant):
                return Break("case_exceptions", case.id, grant.seq, "unmatched")
            counter.records += 1
        if granted:
            return Break("history", case.id, min(granted), "ungranted")
    for stray, table in ((rows.peek(), "history"), (grants.peek(), "case_exceptions")):
        if stray is not None:
            return Break(table, stray.case_id, stray.seq, "orphan")
    return None


def _case_row_mismatch(
    case: Any,
    state: str | None,
    evidence: Mapping[str, Any],
    terminal: Mapping[int, frozenset[str]],
) -> str | None:
    """The first field of the case row its chain does not account for: the state the last
    history row moved it to, the terminal flag the definition gives that state, the evidence
    the steps recorded (an ``UPDATE cases`` behind the engine's back)."""
    if case.state != state:
        return "state"
    if bool(case.terminal) != (case.state in terminal.get(case.definition_id, frozenset())):
        return "terminal"
    if not same_content(case.evidence, evidence):
        return "evidence"
    return None


def _matches(history_row: Any, grant: Any) -> bool:
    """The exception row says what its grant_exception history row says."""
    if history_row is None:
        return False
    data = history_row.data or {}
    return bool(
        data.get("rule") == grant.rule
        and data.get("article") == grant.article
        and history_row.reason == grant.reason
        and history_row.role == grant.approver_role
        and history_row.actor == grant.approver_name
        and history_row.at == grant.at
    )


def _verify_batches(source: store.AuditRows, counter: _Counter) -> Break | None:
    batch: int | None = None
    prev = GENESIS
    for row in source.batch_exceptions():
        if row.batch_id != batch:
            if batch is not None:
                counter.head("batch", batch, prev)
            batch, prev = row.batch_id, GENESIS
            counter.batches += 1
        if row.prev_hash != prev:
            return Break("batch_exceptions", row.batch_id, row.id, "relinked")
        if batch_exception_hash(row.prev_hash, row._mapping) != row.hash:
            return Break("batch_exceptions", row.batch_id, row.id, "edited")
        counter.records += 1
        prev = row.hash
    if batch is not None:
        counter.head("batch", batch, prev)
    return None


class _Peekable:
    """An iterator with one row of look-ahead, for merging streams ordered by case id."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._rows = rows
        self._next: Any = next(rows, None)

    def peek(self) -> Any:
        return self._next

    def next(self) -> None:
        self._next = next(self._rows, None)


def verify_database(db: store.Db, *, chunk: int = CHUNK) -> Report:
    """`verify` on a connection of its own, read-only, on one snapshot of the database: a step
    committed while the check runs must not look like a deleted row. ``chunk`` is the page
    size of each stream."""
    with store.snapshot(db, chunk=chunk) as rows:
        return verify(rows)
