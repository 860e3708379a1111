"""The tables. Changes go through an Alembic revision in ``migrations/versions``, never
``create_all``: a test compares this metadata with the migrated database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles

from workflow.clock import SHANGHAI

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class Moment(sa.types.TypeDecorator[datetime]):
    """An instant stored as UTC (SQLite has no time zones) and read back in Asia/Shanghai."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(SHANGHAI)


def json_dumps(value: Any) -> str:
    """Readable Chinese in the database, for officers who query it directly."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


Json = sa.JSON().with_variant(JSONB(), "postgresql")


class ApprovedBatch(sa.sql.expression.ColumnElement[int]):
    """The approval's ``batch_id`` in a case's evidence, as each database computes the generated
    column ``cases.approved_batch_id`` (revision 0020, issue 14): only a JSON integer counts."""

    type = sa.Integer()
    inherit_cache = True


@compiles(ApprovedBatch, "sqlite")
def _approved_batch_sqlite(element: ApprovedBatch, compiler: Any, **kw: Any) -> str:
    return (
        "CASE WHEN json_type(evidence, '$.batch_id') = 'integer' "
        "THEN json_extract(evidence, '$.batch_id') END"
    )


@compiles(ApprovedBatch, "postgresql")
def _approved_batch_postgresql(element: ApprovedBatch, compiler: Any, **kw: Any) -> str:
    return (
        "CASE WHEN jsonb_typeof(evidence -> 'batch_id') = 'number' "
        "AND (evidence ->> 'batch_id') ~ '^[0-9]{1,9}$' "
        "THEN CAST(evidence ->> 'batch_id' AS INTEGER) END"
    )


definitions = sa.Table(
    "definitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_name", sa.String(500), nullable=False),
    sa.Column("source_text", sa.Text, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("effective_until", sa.Date, nullable=True),
    sa.Column("stored_at", Moment, nullable=False),
    # published by an officer (`convalescence definitions publish`); NULL for the bundled files
    # the engine stored on first use (0013)
    sa.Column("published_by", sa.String(200), nullable=True),
    sa.Column("published_at", Moment, nullable=True),
    # a version cut short so that a successor may start earlier (A21.1); why is in admin_log
    sa.Column("ends_early_on", sa.Date, nullable=True),
    sa.UniqueConstraint("name", "version"),
)

cadres = sa.Table(
    "cadres",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("county", sa.String(100), nullable=False),
    sa.Column("agency", sa.String(200), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("record", Json, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
    # the roster listing pages by id within a county or an agency (revision 0019, issue 19)
    sa.Index(None, "county", "id"),
    sa.Index(None, "agency", "id"),
)

# A case row changes only together with the history row of its new version, its opening columns
# never change, and it is never deleted: triggers of revision 0011 refuse anything else (A19.1).
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("definition_id", sa.ForeignKey("definitions.id"), nullable=False),
    sa.Column("cadre_id", sa.ForeignKey("cadres.id"), nullable=False),
    sa.Column("county", sa.String(100), nullable=False),
    sa.Column("agency", sa.String(200), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("terminal", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # hash of the case's last history row (A19.1): the next step links to it without a read,
    # and the compare-and-set on version keeps it in step with the chain
    sa.Column("chain_head", sa.String(64), nullable=True),
    sa.Column("evidence", Json, nullable=False),
    sa.Column("opened_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
    # the policy cycle the case counts against (A9.2) and the eligibility explanation that
    # admitted it (A4.2), kept so a later audit sees what the officer saw
    sa.Column("cycle", sa.String(32), nullable=True),
    sa.Column("tier", sa.String(16), nullable=True),
    sa.Column("eligibility", Json, nullable=True),
    # every listing filter is a range on an index that ends in the listing's order, id
    # (keyset paging, revision 0017; tests/test_listing_indexes.py reads the plans)
    sa.Index(None, "state", "id"),
    sa.Index(None, "cadre_id"),
    sa.Index(None, "county", "agency"),
    sa.Index(None, "county", "id"),
    sa.Index(None, "agency", "id"),
    sa.Index(
        "ix_cases_open_id",
        "id",
        sqlite_where=sa.text("terminal IS 0"),
        postgresql_where=sa.text("terminal IS false"),
    ),
    # the batch the case was approved into, computed by the database from the evidence (virtual
    # on SQLite, stored on PostgreSQL), and the visits of a year by opening time: the A18.2
    # report reads its year as index ranges (revision 0020, issue 14 item 1)
    sa.Column("approved_batch_id", sa.Integer, sa.Computed(ApprovedBatch()), nullable=True),
    sa.Index(None, "approved_batch_id"),
    # partial on a condition every row meets, so that only a query bounding opened_at uses it:
    # SQLite without statistics would otherwise serve ``definition_id IN (...)`` alone from it
    sa.Index(
        "ix_cases_definition_id_opened_at",
        "definition_id",
        "opened_at",
        sqlite_where=sa.text("opened_at IS NOT NULL"),
        postgresql_where=sa.text("opened_at IS NOT NULL"),
    ),
    # the day from which a scheduler sweep has work on the case (revision 0021): no later than
    # the next unmarked deadline of its stay, or the day a case of a cycle-keeping definition
    # ended outside the participating states (A9.3); NULL when there is none. Its partial
    # index makes a sweep's search one range read of the work there is.
    sa.Column("sweep_on", sa.Date, nullable=True),
    sa.Index(
        "ix_cases_sweep_on",
        "terminal",
        "sweep_on",
        "id",
        sqlite_where=sa.text("sweep_on IS NOT NULL"),
        postgresql_where=sa.text("sweep_on IS NOT NULL"),
    ),
)

# Cases per state (revision 0017), so `count_by_state` reads a dozen rows instead of counting a
# million index entries. SQLite's triggers keep the totals in the transaction that inserts a
# case or moves it. On PostgreSQL a counter row updated by every step would make concurrent
# steps queue for it, so its triggers only append the step's moves (no row anyone else
# writes), and a count folds the moves appended since the last count into the totals.
case_state_counts = sa.Table(
    "case_state_counts",
    metadata,
    sa.Column("state", sa.String(64), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
)
case_state_moves = sa.Table(  # PostgreSQL only; empty on SQLite
    "case_state_moves",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("delta", sa.Integer, nullable=False),
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(64), nullable=False),
    sa.Column("from_state", sa.String(64), nullable=True),
    sa.Column("to_state", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("at", Moment, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    # who the actor acted for, e.g. a family member whose paper consent an officer records
    sa.Column("on_behalf_of", sa.String(200), nullable=True),
    # the case's hash chain (A19.1, workflow/audit): hash = sha256(prev_hash + the row's
    # canonical content); the first row's prev_hash is 64 zeros
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # seq equals the case version the row created: a lost update would need two rows with
    # the same seq, which this constraint makes impossible even if the version check failed.
    sa.UniqueConstraint("case_id", "seq"),
)

case_exceptions = sa.Table(
    "case_exceptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # the history row that granted it
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("article", sa.String(16), nullable=False),
    sa.Column("approver_role", sa.String(64), nullable=False),
    sa.Column("approver_name", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", Moment, nullable=False),
    # sha256 of the canonical row; the grant's history row (same case, seq) is in the chain
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("case_id", "rule"),
)

cadre_changes = sa.Table(
    "cadre_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cadre_id", sa.ForeignKey("cadres.id"), nullable=False),
    sa.Column("at", Moment, nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # created | updated
    sa.Column("changes", Json, nullable=False),  # {field: [old, new]}
    sa.Index(None, "cadre_id"),
)

# The transactional outbox: a notice is written in the same transaction as the step or timer
# that causes it, and delivered later by the dispatcher, so a rolled-back step sends nothing and
# a crash between commit and delivery loses nothing.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("template", sa.String(100), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),  # file | smtp | webhook
    sa.Column("recipient_role", sa.String(64), nullable=False),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(500), nullable=True),  # e-mail, phone or URL
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Moment, nullable=False),
    sa.Column("claimed_until", Moment, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("sent_at", Moment, nullable=True),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "case_id"),
    sa.Index(None, "status", "id"),  # the officers' listing by status, newest first (0017)
)

# -- annual plans, contractors and batches (art. 6, 9-16, 18; workflow/plans) ------------------

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("organiser_level", sa.String(16), nullable=False),  # city | county
    sa.Column("county", sa.String(100), nullable=True),  # required when organiser is a county
    sa.Column("budget", sa.Numeric(14, 2), nullable=False),
    sa.Column("cycle", sa.String(32), nullable=False),  # a cycle id of the definition (A9.1)
    sa.Column("created_at", Moment, nullable=False),
)

contractors = sa.Table(
    "contractors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    # own_resource | partner_unit | purchased_service (A10.1)
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("why_purchased", sa.Text, nullable=True),  # required for purchased_service (A10.2)
    sa.Column("exit_threshold_override", sa.Numeric(5, 2), nullable=True),
)

contractor_qualifications = sa.Table(
    "contractor_qualifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("contractor_id", sa.ForeignKey("contractors.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date, nullable=False),
    sa.Index(None, "contractor_id"),
)

contractor_agreements = sa.Table(
    "contractor_agreements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("contractor_id", sa.ForeignKey("contractors.id"), nullable=False),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False),
    sa.Column("agreement_no", sa.String(100), nullable=False),
    sa.Column("signed_on", sa.Date, nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date, nullable=False),
    sa.UniqueConstraint("contractor_id", "plan_id", "agreement_no"),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan_id", sa.ForeignKey("plans.id"), nullable=False),
    sa.Column("contractor_id", sa.ForeignKey("contractors.id"), nullable=False),
    sa.Column("province", sa.String(32), nullable=False),
    sa.Column("place", sa.String(200), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    # compare-and-set counter: a seat is taken only by an UPDATE that finds it below capacity
    sa.Column("seats_taken", sa.Integer, nullable=False),
    sa.Column("staff_count", sa.Integer, nullable=False),
    sa.Column("safety_plan_ref", sa.String(200), nullable=True),
    sa.Column("emergency_plan_ref", sa.String(200), nullable=True),
    sa.Column("organiser_contacts", Json, nullable=False),  # A15.1
    sa.Column("contractor_contacts", Json, nullable=False),  # A15.1
    sa.Column("itinerary", Json, nullable=False),  # A11.1
    sa.Column("budget", sa.Numeric(14, 2), nullable=True),  # A16.1
    sa.Column("actual_cost", sa.Numeric(14, 2), nullable=True),  # A16.1
    sa.Column("started_at", Moment, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats"),
    sa.Index(None, "plan_id"),
    sa.Index(None, "contractor_id"),
)

batch_seats = sa.Table(
    "batch_seats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("batch_id", sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("at", Moment, nullable=False),
    sa.UniqueConstraint("batch_id", "case_id"),
)

batch_exceptions = sa.Table(
    "batch_exceptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("batch_id", sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),  # over_50 | out_of_province (A6.2)
    sa.Column("article", sa.String(16), nullable=False),
    sa.Column("approver_role", sa.String(64), nullable=False),
    sa.Column("approver_name", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", Moment, nullable=False),
    # the batch's own hash chain in id order (A19.1), like history's per case
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("batch_id", "rule"),
)

contractor_evaluations = sa.Table(
    "contractor_evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("contractor_id", sa.ForeignKey("contractors.id"), nullable=False),
    sa.Column("batch_id", sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),  # 0-100 (A18.3)
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("at", Moment, nullable=False),
    sa.CheckConstraint("score >= 0 AND score <= 100", name="score"),
    sa.UniqueConstraint("batch_id"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("batch_id", sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("at", Moment, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reported_by", sa.String(200), nullable=False),
    sa.Index(None, "batch_id"),
)

# Every write on plans, contractors, their papers, batches, contractor evaluations and incidents
# (A19.1, A18.3): who (role, name, scope), when, what, and the row as written, in one hash chain
# in ``seq`` order (workflow/audit). `audit verify` checks the chain and that each row still is
# what its last entry says. Append-only: triggers refuse UPDATE and DELETE (revision 0010).
admin_log = sa.Table(
    "admin_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    # plan | contractor | qualification | agreement | batch | evaluation | incident
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.Integer, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # create | start | evaluate | …
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(200), nullable=True),
    sa.Column("at", Moment, nullable=False),
    sa.Column("data", Json, nullable=False),  # the row as written (workflow.audit.chain)
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "entity", "entity_id"),
)

# API tokens' life in the database (the token file holds only digests and actors): when each
# was last used, and its revocation, which every worker sees at once (``tokens revoke``).
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("last_used_at", Moment, nullable=True),
    sa.Column("revoked_at", Moment, nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
    sa.Column("revoke_reason", sa.Text, nullable=True),
)

# Console log-in sessions (revision 0018, workflow/console): the cookie's random id is stored
# only as its SHA-256; log-out or the token's revocation ends a session on every worker.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("token_digest", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("expires_at", Moment, nullable=False),
    sa.Column("ended_at", Moment, nullable=True),
)

# -- scheduler: lease, job runs, timer marks, condolence-visit keys, tasks (A9.3; revision 0005,
# -- workflow/scheduler, workflow/tasks.py) ---------------------------------------------------

# One row per lease name: the node whose ``holder`` is written here, with ``expires_at`` in the
# future, is the only one allowed to run APScheduler (APScheduler 3 cannot share a job store).
scheduler_leases = sa.Table(
    "scheduler_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", Moment, nullable=False),
    sa.Column("acquired_at", Moment, nullable=False),
    sa.Column("renewed_at", Moment, nullable=False),
)

# One row per (job, scheduled slot) that ran: a record for officers, and the proof a test reads
# that a missed interval ran once.
scheduler_runs = sa.Table(
    "scheduler_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("slot", Moment, nullable=False),  # the simulated/business moment it ran as of
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("started_at", Moment, nullable=False),
    sa.Column("finished_at", Moment, nullable=True),
    sa.Column("result", Json, nullable=True),
    sa.UniqueConstraint("job", "slot"),
)

# A timer that fired for one stay of a case in a state: inserted first, in the transaction of
# the timer's effect, so a sweep that runs twice does nothing twice. ``entry_seq`` is the
# history row that entered the state, so a case that comes back to a state gets fresh timers.
timer_marks = sa.Table(
    "timer_marks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("entry_seq", sa.Integer, nullable=False),
    sa.Column("timer_index", sa.Integer, nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("fired_at", Moment, nullable=False),
    sa.UniqueConstraint("case_id", "entry_seq", "timer_index"),
)

# An officer's record that a cadre cannot take part in a cycle for health or similar reasons
# (A9.3, 第九条), with who recorded it and why; one per cadre and cycle. Append-only (A19.1:
# triggers refuse UPDATE and DELETE); ``hash`` is the SHA-256 of the canonical row.
unable_reports = sa.Table(
    "unable_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cadre_id", sa.ForeignKey("cadres.id"), nullable=False),
    sa.Column("cycle", sa.String(32), nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reporter_role", sa.String(64), nullable=False),
    sa.Column("reporter_name", sa.String(200), nullable=False),
    sa.Column("reported_at", Moment, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("cadre_id", "cycle"),
    sa.Index(None, "cycle"),
)

# Exactly one condolence visit per cadre per cycle (A9.3): the key row and the visit case are
# written in one transaction.
visit_keys = sa.Table(
    "visit_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cadre_id", sa.ForeignKey("cadres.id"), nullable=False),
    sa.Column("cycle", sa.String(32), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=True),  # the visit case
    # what the visit serves: the case that ended (unable / withdrew for health), or an officer's
    # report that the cadre cannot take part in the cycle (no case needed)
    sa.Column("source_case_id", sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("unable_report_id", sa.ForeignKey("unable_reports.id"), nullable=True),
    sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),  # after cycle end
    sa.Column("created_at", Moment, nullable=False),
    sa.UniqueConstraint("cadre_id", "cycle"),
    sa.Index(None, "case_id"),  # open visits joined to their keys (revision 0021)
)

# The unable reports whose visit the condolence sweep has not settled yet (revision 0021):
# inserted with the report, deleted once its visit is opened or found not needed.
unable_report_queue = sa.Table(
    "unable_report_queue",
    metadata,
    sa.Column("report_id", sa.ForeignKey("unable_reports.id"), primary_key=True),
)

# Follow-up work for officers (reminders, escalations, visits to make); closed when the case
# leaves ``state``.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    # remind | escalate | condolence_visit | calendar (the scheduler's own alarm, no case)
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("state", sa.String(64), nullable=True),
    sa.Column("assignee_role", sa.String(64), nullable=False),
    sa.Column("county", sa.String(100), nullable=False),
    sa.Column("agency", sa.String(200), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("article", sa.String(16), nullable=True),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("done_at", Moment, nullable=True),
    sa.Index(None, "case_id", "due_on", "id"),  # a case's tasks in the listing's order (0017)
    sa.Index(None, "done_at", "due_on"),
    sa.Index(None, "assignee_role", "county", "agency"),
    # the listing, soonest due first: open tasks by a partial index per filter, all tasks
    # (--all) by full ones (revision 0017)
    sa.Index(None, "due_on", "id"),
    sa.Index(None, "county", "due_on", "id"),
    sa.Index(None, "agency", "due_on", "id"),
    *(
        sa.Index(
            f"ix_tasks_open_{'_'.join(columns)}",
            *columns,
            sqlite_where=sa.text("done_at IS NULL"),
            postgresql_where=sa.text("done_at IS NULL"),
        )
        for columns in (
            ("due_on", "id"),
            ("assignee_role", "due_on", "id"),
            ("county", "due_on", "id"),
            ("agency", "due_on", "id"),
        )
    ),
)

# A case taking part in a cycle (A9.2): written by the step that moves it into a participating
# state, deleted by the one that moves it out. Only one row per cadre and cycle may hold the
# claim "A9.2", so two approvals at the same moment cannot both pass once-per-cycle; a case let
# in by a recorded exception takes part with claim NULL (revision 0012).
participations = sa.Table(
    "participations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cadre_id", sa.ForeignKey("cadres.id"), nullable=False),
    sa.Column("cycle", sa.String(32), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("claim", sa.String(8), nullable=True),
    sa.Column("taken_at", Moment, nullable=False),
    sa.UniqueConstraint("cadre_id", "cycle", "claim"),
)

# Bulk runs (issue 13, revision 0014, workflow/bulk.py): one step fired on a cohort, who fired it
# on which filters with which evidence; the cohort's cases are listed before anything is fired,
# each with the version it had when chosen, and each item's outcome is written in the case's own
# step transaction, so a resumed run never fires a case twice.
bulk_runs = sa.Table(
    "bulk_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("trigger", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(200), nullable=True),
    sa.Column("filters", Json, nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("finished_at", Moment, nullable=True),
)

bulk_run_items = sa.Table(
    "bulk_run_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("bulk_runs.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("expected_version", sa.Integer, nullable=False),
    # NULL until fired: succeeded | refused | conflict | not_found | bad_input
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("new_state", sa.String(64), nullable=True),
    sa.Column("new_version", sa.Integer, nullable=True),
    sa.Column("article", sa.String(16), nullable=True),
    sa.Column("rule", sa.String(64), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("detail", Json, nullable=True),
    sa.Column("finished_at", Moment, nullable=True),
    sa.UniqueConstraint("run_id", "case_id"),
    sa.UniqueConstraint("run_id", "position"),
)

# APScheduler 3's own job table, declared exactly as its SQLAlchemyJobStore declares it, so that
# Alembic creates it (the store's ``create(checkfirst=True)`` then finds it) and the schema
# comparison sees no stranger.
apscheduler_jobs = sa.Table(
    "apscheduler_jobs",
    metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)

# Closed cycles (issue 13, revision 0015, workflow/cycles.py): who closed a policy cycle (A9.1),
# when, the `audit verify` digest read at closing and the SHA-256 of the archive's manifest
# (A18.2's final report and the digest, archived by the office). One row per cycle; never
# changed or deleted (triggers); the closing is also an admin-log entry (A19.1).
cycle_closures = sa.Table(
    "cycle_closures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cycle", sa.String(32), nullable=False, unique=True),
    sa.Column("closed_by", sa.String(200), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(200), nullable=True),
    sa.Column("closed_at", Moment, nullable=False),
    sa.Column("audit_digest", sa.String(64), nullable=False),
    sa.Column("archive_digest", sa.String(64), nullable=False),
)
