"""The API's request and response bodies, as pydantic models so the OpenAPI document is exact.

Requests are checked here, at the edge (types, lengths, no NUL characters, which PostgreSQL
cannot store in text or JSON); what a step's ``data`` must hold depends on the step and is
checked by the engine against the definition, which answers 422 naming the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from workflow.i18n import _
from workflow.views import CaseView, HistoryEntry

NO_NUL = r"^[^\x00]*$"
MAX_TEXT = 2000


def _no_nul_inside(value: Any) -> Any:
    """Reject NUL anywhere in a free-form JSON value (keys included): PostgreSQL refuses it
    in JSON and text columns, and it is never meaningful in a back-office record."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(_("文本中不得含有 NUL（\\u0000）字符"))
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul_inside(key)
            _no_nul_inside(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul_inside(item)
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul_inside)]


class _Strict(BaseModel):
    """Unknown keys are refused: a misspelt ``reasn`` must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")


# -- errors ---------------------------------------------------------------------------------


class RefusalOut(BaseModel):
    article: str = Field(description="The policy article that decided, e.g. A8.2")
    rule: str
    message: str


class ErrorOut(BaseModel):
    """Every error answer. ``error`` is the kind (refused, forbidden, unauthorized, conflict,
    precondition_failed, not_found, bad_input, database_not_ready); a rule's refusal lists
    every refusal with its article."""

    error: str
    message: str
    refusals: list[RefusalOut] = Field(default_factory=list)
    case_id: int | None = None
    field: str | None = None
    permission: str | None = None
    kind: str | None = None
    key: int | str | None = None
    trigger: str | None = None
    state: str | None = None
    allowed: list[str] | None = None
    expected_version: int | None = None
    actual_version: int | None = None


# -- cases ----------------------------------------------------------------------------------


class NextStepOut(BaseModel):
    trigger: str
    label: str
    dest: str
    roles: list[str]


class CaseOut(BaseModel):
    """A case at ``version``; the same number is the ETag to send back in If-Match."""

    id: int
    definition: str
    definition_version: int
    cadre_id: str
    cadre_name: str | None = Field(
        default=None, description="The cadre's name in the roster as it is now (issue 19)"
    )
    county: str
    agency: str
    state: str
    state_label: str
    terminal: bool
    version: int
    evidence: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    cycle: str | None
    tier: str | None
    next_steps: list[NextStepOut]

    @classmethod
    def of(cls, view: CaseView) -> CaseOut:
        return cls.model_validate(view.to_json())


class CasePage(BaseModel):
    items: list[CaseOut]
    limit: int
    offset: int
    next_offset: int | None = Field(
        description="Pass as offset for the next page; null when this page is the last"
    )


class HistoryOut(BaseModel):
    case_id: int
    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: datetime
    data: dict[str, Any]
    reason: str | None
    on_behalf_of: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls.model_validate(entry.to_json())


class OpenCaseIn(_Strict):
    cadre_id: Name = Field(examples=["LC-DCF-0001"])
    data: JsonObject = Field(
        default_factory=dict,
        description="The registration step's evidence, e.g. plan_level (A4.4)",
        examples=[{"plan_level": "city"}],
    )
    reason: Text | None = None
    on_behalf_of: Name | None = Field(
        default=None, description="Whom the caller acts for (paper consent, A7.2)"
    )


class StepIn(_Strict):
    data: JsonObject = Field(
        default_factory=dict,
        description="The step's evidence as the definition declares it (A7.2)",
        examples=[{"family_member": "张丽", "relation": "女儿"}],
    )
    reason: Text | None = None
    on_behalf_of: Name | None = None


class ExceptionIn(_Strict):
    rule: Name = Field(
        description="The in-principle rule to except, e.g. under_age_limit_on_first_day (A8.2)",
        examples=["under_age_limit_on_first_day"],
    )
    reason: Text


# -- eligibility ----------------------------------------------------------------------------


class ReasonOut(BaseModel):
    article: int = Field(description="The article's number, e.g. 8")
    clause: str = Field(description="The requirement id, e.g. A8.2")
    rule: str
    passed: bool
    message: str


class ExplanationOut(BaseModel):
    """The art. 4 tier and every check behind the verdict (A4.2)."""

    eligible: bool
    tier: str
    level: str
    on: date
    reasons: list[ReasonOut]


class CaseEligibilityOut(BaseModel):
    case_id: int
    explanation: ExplanationOut | None = Field(
        description="As stored when the case was opened; null if the case has no plan level"
    )


class ExplainIn(_Strict):
    profile: JsonObject = Field(
        description="One cadre record in the roster format (docs/roster-formats.md)"
    )
    level: Name = Field(description="The level of the plan: city or county (A4.4)")
    on: date = Field(
        description="The day to judge on, normally the batch's first day (A8.2 age limit)"
    )
    definition: Name = "honor_convalescence"


class ExplainOut(ExplanationOut):
    definition: str
    definition_version: int
    cadre_id: str | None


# -- plans, batches, notifications ------------------------------------------------------------


class PlanOut(BaseModel):
    id: int
    year: int
    organiser_level: str
    county: str | None
    budget: str = Field(description="Decimal amount as text, e.g. 60000.00")
    cycle: str
    created_at: datetime


class BatchOut(BaseModel):
    id: int
    plan_id: int
    contractor_id: int
    province: str
    place: str
    start_date: date
    end_date: date
    capacity: int
    seats_taken: int
    staff_count: int
    safety_plan_ref: str | None
    emergency_plan_ref: str | None
    organiser_contacts: list[dict[str, Any]]
    contractor_contacts: list[dict[str, Any]]
    itinerary: list[dict[str, Any]]
    budget: str | None
    actual_cost: str | None
    started_at: datetime | None
    version: int


class PlanDetailOut(PlanOut):
    batches: list[BatchOut]


class BatchDetailOut(BatchOut):
    exceptions: list[dict[str, Any]]
    seats: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]


class NotificationOut(BaseModel):
    """An outbox row with its address and last error masked."""

    id: int
    idempotency_key: str
    case_id: int | None
    template: str
    channel: str
    recipient_role: str
    recipient_name: str
    address: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class TaskOut(BaseModel):
    """A follow-up task the scheduler opened (A9.3); done when its case leaves ``state``."""

    id: int
    key: str
    kind: str
    case_id: int | None  # None for the scheduler's own alarms (kind "calendar")
    state: str | None
    assignee_role: str
    county: str
    agency: str
    title: str
    article: str | None
    due_on: date
    created_at: datetime
    done_at: datetime | None
    overdue: bool


class HealthOut(BaseModel):
    status: str
    schema_revision: str | None


class ReadyOut(BaseModel):
    """``/ready``: ``problems`` make it 503; ``warnings`` (holiday data) leave it 200."""

    status: str
    schema_revision: str | None
    problems: list[str]
    warnings: list[str]
    calendar: dict[str, Any]


# -- writing plans, contractors and batches ---------------------------------------------------

MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"  # Numeric(14, 2): never a binary float
Money = Annotated[
    str,
    Field(
        pattern=MONEY_PATTERN,
        max_length=15,
        description="A non-negative decimal amount as text, at most two decimals",
        examples=["60000.00"],
    ),
]
ShortName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
Contact = Annotated[
    dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]],
    AfterValidator(_no_nul_inside),
]
# no table holds a date outside these years; pydantic refuses "2024-02-30" itself
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(9999, 12, 30))]


class PlanIn(_Strict):
    year: int = Field(ge=1900, le=9999, examples=[2024])
    organiser_level: str = Field(
        pattern="^(city|county)$",
        description="city, or county with `county` set (a county officer: its own county)",
        examples=["city"],
    )
    county: ShortName | None = Field(default=None, examples=["东昌府区"])
    budget: Money
    cycle: Code = Field(description="A cycle id of the definition (A9.1)", examples=["2024-2025"])


class ContractorIn(_Strict):
    name: Name = Field(examples=["威海荣成疗养院"])
    kind: str = Field(
        pattern="^(own_resource|partner_unit|purchased_service)$",
        description="A10.1; purchased_service needs why_purchased (A10.2)",
        examples=["own_resource"],
    )
    why_purchased: Text | None = None
    exit_threshold_override: str | None = Field(
        default=None,
        pattern=r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$",
        description="This contractor's own A18.3 exit score (0-100, decimal text)",
        examples=["70"],
    )


class QualificationIn(_Strict):
    name: Name = Field(examples=["医疗机构执业许可证"])
    valid_from: Day = Field(examples=["2024-01-01"])
    valid_until: Day = Field(examples=["2026-12-31"])


class AgreementIn(_Strict):
    plan_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    agreement_no: ShortName = Field(examples=["XY-2024-01"])
    signed_on: Day = Field(examples=["2024-03-01"])
    valid_from: Day = Field(examples=["2024-03-01"])
    valid_until: Day = Field(examples=["2024-12-31"])


class BatchExceptionIn(_Strict):
    """An A6.2 exception approved by the caller (the definition names who may, A5.2)."""

    rule: str = Field(
        pattern="^(over_50|out_of_province)$",
        description="over_50 (more than 50 cadres) or out_of_province (outside Shandong)",
        examples=["over_50"],
    )
    reason: Text = Field(examples=["本年度报名人数多，经市局批准扩至 60 人"])


class BatchIn(_Strict):
    plan_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    contractor_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    province: Code = Field(examples=["山东"])
    place: Name = Field(examples=["威海市荣成"])
    start_date: Day = Field(examples=["2024-06-03"])
    end_date: Day = Field(
        description="At most 7 days after start_date counting both ends (A6.2)",
        examples=["2024-06-09"],
    )
    capacity: int = Field(ge=1, le=10000, examples=[30])
    staff_count: int = Field(ge=0, le=10000, description="1:5 to 1:10 (A12.1)", examples=[4])
    safety_plan_ref: Name | None = Field(default=None, examples=["AQ-2024-01"])
    emergency_plan_ref: Name | None = Field(default=None, examples=["YJ-2024-01"])
    organiser_contacts: list[Contact] = Field(
        default_factory=list, max_length=50, examples=[[{"name": "王芳", "phone": "0635-1234567"}]]
    )
    contractor_contacts: list[Contact] = Field(default_factory=list, max_length=50)
    itinerary: list[JsonObject] = Field(
        default_factory=list, max_length=100, examples=[[{"day": 1, "plan": "报到"}]]
    )
    budget: Money | None = None
    actual_cost: Money | None = None
    exceptions: list[BatchExceptionIn] = Field(
        default_factory=list,
        max_length=2,
        description="A6.2 exceptions recorded with the batch, approved by the caller",
    )


class EvaluationIn(_Strict):
    score: int = Field(ge=0, le=100, description="The contractor's score for this batch (A18.3)")


class IncidentIn(_Strict):
    description: Text = Field(examples=["一名干部夜间突发胸闷，已送当地医院"])
    case_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ContractorOut(BaseModel):
    id: int
    name: str
    kind: str
    why_purchased: str | None
    exit_threshold_override: str | None = Field(description="Decimal as text, or null")


class QualificationOut(BaseModel):
    id: int
    contractor_id: int
    name: str
    valid_from: date
    valid_until: date


class AgreementOut(BaseModel):
    id: int
    contractor_id: int
    plan_id: int
    agreement_no: str
    signed_on: date
    valid_from: date
    valid_until: date


class ContractorDetailOut(ContractorOut):
    qualifications: list[QualificationOut]
    agreements: list[AgreementOut]
    evaluations: int
    average_score: float | None
    exit_threshold: float = Field(description="Below this average no new batches (A18.3)")


class BatchExceptionOut(BaseModel):
    id: int
    batch_id: int
    rule: str
    article: str
    approver_role: str
    approver_name: str
    reason: str
    at: datetime
    prev_hash: str
    hash: str


class EvaluationOut(BaseModel):
    id: int
    contractor_id: int
    batch_id: int
    score: int
    by: str
    at: datetime


class IncidentOut(BaseModel):
    id: int
    batch_id: int
    case_id: int | None
    at: datetime
    description: str
    reported_by: str
