"""One case's hash chain (A19.1), checked for the case page as ``audit verify`` checks it.

The rows come from `workflow.store.console.case_chain`; this is pure: each row's content against
its hash, each ``prev_hash`` against the row before, the sequence without gaps, and the last row
against the case row's version and chain head (a deleted tail, a rewritten case row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workflow.audit.chain import GENESIS, history_hash
from workflow.i18n import _


@dataclass(frozen=True)
class ChainCheck:
    records: int
    problem: str | None  # what is wrong, for the page; None when the chain holds
    seq: int | None = None  # the first record that does not hold

    @property
    def intact(self) -> bool:
        return self.problem is None


def check_chain(rows: Sequence[Any], version: int, chain_head: str | None) -> ChainCheck:
    prev, expected = GENESIS, 1
    for row in rows:
        if row.seq != expected:
            return ChainCheck(
                expected - 1, _("第 {seq} 条记录缺失（被删除）").format(seq=expected), expected
            )
        if row.prev_hash != prev:
            return ChainCheck(
                expected - 1,
                _("第 {seq} 条记录与上一条不相接（被改写或替换）").format(seq=row.seq),
                row.seq,
            )
        if history_hash(row.prev_hash, row._mapping) != row.hash:
            return ChainCheck(
                expected - 1,
                _("第 {seq} 条记录的内容与其哈希不符（写入后被修改）").format(seq=row.seq),
                row.seq,
            )
        prev, expected = row.hash, expected + 1
    last = expected - 1
    if last != version or (chain_head is not None and chain_head != prev):
        return ChainCheck(last, _("案件行与其历史记录不符（记录被删除或案件行被改写）"), last)
    return ChainCheck(last, None)
