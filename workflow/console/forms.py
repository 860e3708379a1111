"""Forms generated from a step's declared fields (the definition's ``requires:``, A7.2).

Each field type becomes the input a person expects (a date picker for ``date``, a number input
with the declared bounds, a list of choices, 是/否 for ``boolean``, a text area for ``text``),
labelled with the definition's own label. Values are checked field by field with the engine's
own coercion (`workflow.fields`), so a form shows each problem beside its field in the words the
command line and the API use, and what the engine finally records is what it checks itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflow.definition.model import FieldSpec, StepSpec
from workflow.errors import InputError, Refusal
from workflow.fields import coerce_fields, max_length
from workflow.i18n import _

REASON = "reason"
ON_BEHALF_OF = "on_behalf_of"
# form fields that are the console's own, never a step's evidence
RESERVED = frozenset({"csrf", "version", REASON, ON_BEHALF_OF, "cadre_id"})


@dataclass(frozen=True)
class Widget:
    """One input of a form, as the template draws it."""

    name: str
    label: str
    kind: str  # text | textarea | date | number | select | yesno
    required: bool
    value: str = ""
    error: str | None = None
    choices: tuple[str, ...] = ()
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    maxlength: int | None = None


@dataclass(frozen=True)
class StepForm:
    """A step this viewer may take now, as a form."""

    trigger: str
    label: str
    article: str | None
    action: str  # where it posts
    widgets: tuple[Widget, ...]
    version: int | None  # the case version the form was drawn from (None: registration)
    acting_for: bool = False  # the viewer may act for the cadre or family (paper forms)
    reason: str = ""
    on_behalf_of: str = ""
    problem: str | None = None  # a problem of the whole form (not of one field)
    refusals: tuple[Refusal, ...] = ()
    open: bool = False  # drawn unfolded: the step along art. 7, or one just posted back
    extra: tuple[Widget, ...] = field(default=())  # inputs before the step's (the cadre id)

    @property
    def dom_id(self) -> str:
        return f"step-{self.trigger}"


def widget(spec: FieldSpec, value: str = "", error: str | None = None) -> Widget:
    kind = {
        "string": "text",
        "text": "textarea",
        "date": "date",
        "integer": "number",
        "number": "number",
        "boolean": "yesno",
        "choice": "select",
    }[spec.type]
    return Widget(
        name=spec.name,
        label=spec.label,
        kind=kind,
        required=spec.required,
        value=value,
        error=error,
        choices=spec.choices,
        minimum=_bound(spec.minimum),
        maximum=_bound(spec.maximum),
        step="1" if spec.type == "integer" else ("any" if spec.type == "number" else None),
        maxlength=max_length(spec) if spec.type in ("string", "text") else None,
    )


def _bound(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def step_widgets(
    step: StepSpec, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> tuple[Widget, ...]:
    values = values or {}
    errors = errors or {}
    return tuple(
        widget(spec, values.get(spec.name, ""), errors.get(spec.name)) for spec in step.fields
    )


def evidence(
    step: StepSpec, trigger: str, form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The step's evidence from ``form`` (left for the engine to coerce and record) and each
    field's problem, keyed by field, in the engine's words less the step's name."""
    prefix = _("步骤 '{step}'：{problems}").format(step=trigger, problems="")
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in step.fields:
        raw = form.get(spec.name, "").strip()
        if raw:
            data[spec.name] = raw
        try:
            coerce_fields((spec,), {spec.name: raw} if raw else {}, step=trigger)
        except InputError as problem:
            message = problem.message
            errors[spec.name] = message[len(prefix) :] if message.startswith(prefix) else message
    return data, errors


def acts_for_someone(step: StepSpec, role: str) -> bool:
    """Whether a viewer of ``role`` taking ``step`` may be recording it for the cadre or the
    family (paper consent, A7.2): the step is theirs too and the viewer is neither."""
    return role not in ("cadre", "family") and any(r in ("cadre", "family") for r in step.roles)


def ordered(steps: Sequence[StepForm]) -> list[StepForm]:
    """Unfolded forms first (the step along the path, or the one posted back)."""
    return sorted(steps, key=lambda form: not form.open)
