"""Rendering of the notices the workflow sends, from the Jinja2 templates shipped beside it.

Layout: ``templates/NAME.txt.j2`` is the plain-text notice, whose first line is
``Subject: …`` and whose remaining lines are the body; ``templates/NAME.html.j2``, when present,
is the same notice as an HTML document for mail clients (the subject is passed to it as
``subject``). Files starting with ``_`` are partials for ``{% include %}``, not notices.

Templates run in one sandboxed environment (`jinja2.sandbox.ImmutableSandboxedEnvironment`,
a `SandboxedEnvironment` that also refuses to mutate the context), with `StrictUndefined`: a
template cannot reach Python internals, cannot change the case data handed to it, and a
misspelt variable is an error instead of a silently blank line in an official notice. HTML
output is autoescaped, so a name typed into a roster cannot become markup.

The engine renders a notice inside the transaction of the step that causes it (the outbox row
is written there), so a template that fails on a step's data would block the step itself. Hence
`check_templates` renders each template twice: against a full sample context and against a
sparse one in which nothing optional was recorded. Optional values are read with
``evidence.get('x')`` or guarded by ``{% if evidence.x is defined %}``.

The context the engine passes (every notice gets all keys; values may be None where noted)::

    case      {"id": int, "state": str, "state_label": str,
               "cycle": str | None, "tier": "city" | "county" | None}
    cadre     {"id": str, "name": str, "county": str, "agency": str}
    step      {"trigger": str | None, "label": str | None, "article": str | None}
              the step or timer that caused the notice (article such as "A7.2")
    evidence  what the case has recorded so far, by field name, e.g. plan_level,
              family_member, relation, batch_start, batch_end, destination, agreement_no,
              signed_on, insurer, policy_no, covered_from, covered_until, itinerary,
              contacts, checked_in_on, satisfaction, cause, for_health, and ``article``
              (the article a rejection cites); dates as ISO strings or `date` objects
    recipient {"role": str, "role_label": str, "name": str}
    policy    {"title": str, "document": str}   e.g. 聊退役军人发〔2023〕2号
    now       str, ISO date-time in Asia/Shanghai
    reason    str | None, the reason recorded with the step
"""

from __future__ import annotations

import copy
import functools
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notifications.errors import TemplateError
from notifications.shipped import HTML_SUFFIX, TEMPLATE_DIR, TEXT_SUFFIX, template_names
from workflow.i18n import _

if TYPE_CHECKING:
    import jinja2

SUBJECT_PREFIX = "Subject:"
# How problems name a template file: the path inside the source tree, which an editor opens.
_SHOWN_ROOT = TEMPLATE_DIR.parent.parent


@dataclass(frozen=True)
class Rendered:
    """One notice ready for the outbox: subject and plain body always, HTML when asked for
    and the template has an HTML twin."""

    subject: str
    body: str
    body_html: str | None = None


# -- filters: formatting officers expect in a Chinese notice ------------------------------

_DIGITS = "零一二三四五六七八九"


def _chinese_number(n: int) -> str:
    """1..99 as written in article numbers: 8 -> 八, 12 -> 十二, 21 -> 二十一."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def article_zh(value: Any) -> str:
    """An article reference as the notice cites it: ``A8.2``, ``8`` or ``第8条`` -> ``第八条``.

    Officers record the article of a rejection in whichever form they think of; the notice to
    the cadre always reads 第N条 of the document. Text that names no article is kept as typed.
    """
    if value is None:
        return ""
    text = str(value).strip()
    match = re.fullmatch(r"(?:[Aa]|第)?\s*(\d{1,2})(?:\.\d+)?\s*条?", text)
    if match and 1 <= int(match[1]) <= 99:
        return f"第{_chinese_number(int(match[1]))}条"
    return text


def zh_date(value: Any) -> str:
    """``2024-06-03`` (or a date, or an ISO date-time) -> ``2024年6月3日``; None -> ``""``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def as_lines(value: Any) -> list[str]:
    """An itinerary or contact list, whether recorded as text, a list or a list of records,
    as lines to print one per row."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, Mapping):
        return [f"{key}：{item}" for key, item in value.items() if item not in (None, "")]
    if isinstance(value, Iterable):
        lines: list[str] = []
        for item in value:
            if isinstance(item, Mapping):
                lines.append(" ".join(str(v) for v in item.values() if v not in (None, "")))
            elif item not in (None, ""):
                lines.append(str(item))
        return lines
    return [str(value)]


def _finalize(value: Any) -> Any:
    """``{{ evidence.get('x') }}`` prints nothing, not ``None``, when x was not recorded."""
    return "" if value is None else value


_DICT_ATTRIBUTES = frozenset(dir(dict))


@cache
def _jinja() -> Any:
    """Jinja2, imported when a notice is first rendered or checked: a command that renders
    none (``cases show``) does not pay for it, though importing `notifications` loads this
    module."""
    import jinja2  # noqa: PLC0415

    return jinja2


@cache
def _environment() -> jinja2.Environment:
    """The one sandbox every notice renders in (`ENVIRONMENT`), built on first use."""
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape  # noqa: PLC0415
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: PLC0415

    class _NoticeSandbox(ImmutableSandboxedEnvironment):
        """The sandbox, reading ``case.id`` from a plain dict without an exception on the way.

        Jinja's sandbox resolves ``x.name`` by asking ``getattr`` first and subscribing when
        that raises; every value a notice prints comes out of a dict of the context, so each
        one cost an `AttributeError`. A plain dict has no attributes beyond its type's (no
        ``__dict__``), so for any other name ``getattr`` is bound to fail: the item is read
        straight away. Same value, same refusals (a dict method still goes through the
        sandbox's check), a render about a fifth cheaper (benchmarks/transitions.py renders
        two notices per opening)."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

    environment = _NoticeSandbox(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        # "NAME.html.j2" must count as HTML: select_autoescape matches on the name's ending.
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        # The shipped files do not change while a process runs: no stat per render (and per
        # include) to ask whether they did. A deployment restarts to ship new templates.
        auto_reload=False,
    )
    environment.filters.update(article_zh=article_zh, zh_date=zh_date, lines=as_lines)
    return environment


def __getattr__(name: str) -> jinja2.Environment:
    """``ENVIRONMENT``: the sandbox, made on first use (PEP 562)."""
    if name == "ENVIRONMENT":
        return _environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- the contract the engine calls ---------------------------------------------------------


@cache
def has_html(name: str) -> bool:
    """Shipped templates do not change while the process runs: look on disk once per name."""
    return (TEMPLATE_DIR / f"{name}{HTML_SUFFIX}").is_file()


def render(name: str, context: Mapping[str, Any], *, html: bool = False) -> Rendered:
    """Render notice ``name``; raises `TemplateError` naming the template file and line.

    ``html=True`` adds the HTML body when the notice has an HTML template (``None`` otherwise,
    so a caller may always ask and a plain-text-only notice still goes out).
    """
    if name not in template_names():
        raise TemplateError(name, _unknown(name))
    text = _render_file(name, f"{name}{TEXT_SUFFIX}", context)
    subject, body = _split_subject(name, text)
    body_html = None
    if html and has_html(name):
        body_html = _render_file(name, f"{name}{HTML_SUFFIX}", {**context, "subject": subject})
    return Rendered(subject=subject, body=body, body_html=body_html)


def render_string(source: str, context: Mapping[str, Any], *, html: bool = False) -> str:
    """Render template text in the same sandbox, e.g. to preview a draft before shipping it;
    ``html=True`` autoescapes as the ``.html.j2`` files are."""
    name = "<string>"
    if html:
        source = "{% autoescape true %}" + source + "{% endautoescape %}"
    try:
        return _environment().from_string(source).render(dict(context))
    except _jinja().TemplateSyntaxError as error:
        raise TemplateError(name, error.message or str(error), line=error.lineno) from error
    except _jinja().TemplateError as error:
        raise TemplateError(name, str(error), line=_runtime_line(error, "<template>")) from error


def sample_context(name: str) -> dict[str, Any]:
    """A realistic context for notice ``name`` (its recipient, step and recorded evidence),
    built in the shape documented above; used by `check_templates`, tests and previews."""
    role, trigger, state = _SAMPLES.get(name, ("cadre", None, "registered"))
    context = copy.deepcopy(_BASE_SAMPLE)
    context["recipient"] = dict(_RECIPIENTS[role])
    context["step"] = {
        "trigger": trigger,
        "label": _STEP_LABELS.get(trigger or ""),
        "article": _STEP_ARTICLES.get(trigger or ""),
    }
    context["case"]["state"], context["case"]["state_label"] = state, _STATE_LABELS[state]
    if name == "refusal_notice":
        context["evidence"]["article"] = "A8.2"
        context["reason"] = "疗养批次首日已年满80周岁，且未办理例外审批。"
    return context


def sparse_context(name: str) -> dict[str, Any]:
    """`sample_context` with nothing optional recorded: empty evidence, no reason, no cycle.

    A notice must still render then, because the step that sends it must not fail on it."""
    context = sample_context(name)
    context["evidence"] = {}
    context["reason"] = None
    context["case"]["cycle"] = context["case"]["tier"] = None
    context["step"] = dict.fromkeys(context["step"])
    return context


def check_templates(names: Iterable[str]) -> list[str]:
    """Problems with the named notices, one ``FILE:LINE: message`` string each; empty if fine.

    Each template is compiled, then rendered against its sample and its sparse context, so a
    misspelt variable or an unguarded optional value is found by ``definitions validate``
    before a case reaches the step that would send it.
    """
    problems: list[str] = []
    for name in sorted(set(names)):
        seen: set[str] = set()
        for context in (sample_context(name), sparse_context(name)):
            try:
                render(name, context, html=True)
            except TemplateError as error:
                if error.location not in seen:
                    seen.add(error.location)
                    problems.append(error.location)
    return problems


@cache
def template_problems(name: str) -> tuple[str, ...]:
    """Shipped templates do not change while the process runs: render each sample once."""
    return tuple(check_templates([name]))


# -- internals ----------------------------------------------------------------------------


def _shown(file: str | None) -> str | None:
    if file is None:
        return None
    try:
        return Path(file).resolve().relative_to(_SHOWN_ROOT).as_posix()
    except ValueError:
        return file


def _unknown(name: str) -> str:
    shipped = ", ".join(sorted(template_names()))
    missing = _shown(str(TEMPLATE_DIR / f"{name}{TEXT_SUFFIX}"))
    return _("没有这个通知（找不到 {missing}；已有：{shipped}）").format(
        missing=missing, shipped=shipped
    )


@functools.cache
def _compiled(environment: jinja2.Environment, file_name: str) -> jinja2.Template:
    """The compiled template, looked up once per (environment, file): a step with notices
    renders without Jinja's loader, name lookup or cache bookkeeping. Failures are not cached
    (`functools.cache` keeps only returned values), so a broken file is reported every time."""
    return environment.get_template(file_name)


def _render_file(name: str, file_name: str, context: Mapping[str, Any]) -> str:
    try:
        template = _compiled(_environment(), file_name)
    except _jinja().TemplateSyntaxError as error:
        message = error.message or str(error)
        raise TemplateError(
            name, message, file=_shown(error.filename), line=error.lineno
        ) from error
    except _jinja().TemplateNotFound as error:
        raise TemplateError(name, _("找不到模板文件：{file}").format(file=error.name)) from error
    try:
        return template.render(dict(context))
    except _jinja().TemplateError as error:
        line = _runtime_line(error, template.filename)
        raise TemplateError(name, str(error), file=_shown(template.filename), line=line) from error


def _runtime_line(error: BaseException, filename: str | None) -> int | None:
    """The template line a render error happened on: Jinja rewrites its traceback so that the
    frames of template code carry the template's file name and line number."""
    if filename is None:
        return None
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    # include files show up as their own frames; the innermost frame of ours is the line
    return frames[-1].lineno if frames else None


def _split_subject(name: str, text: str) -> tuple[str, str]:
    first, _newline, rest = text.lstrip("\n").partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise TemplateError(
            name,
            _("第一行应为“{prefix} …”，实际为 {first}").format(
                prefix=SUBJECT_PREFIX, first=repr(first[:40])
            ),
            file=_shown(str(TEMPLATE_DIR / f"{name}{TEXT_SUFFIX}")),
            line=1,
        )
    subject = first.removeprefix(SUBJECT_PREFIX).strip()
    if not subject:
        raise TemplateError(
            name, _("标题为空"), file=_shown(str(TEMPLATE_DIR / f"{name}{TEXT_SUFFIX}"))
        )
    body = re.sub(r"\n{3,}", "\n\n", rest.strip("\n")).rstrip() + "\n"
    return subject, body


# -- sample data --------------------------------------------------------------------------

_STATE_LABELS = {
    "registered": "已报名",
    "family_consented": "家属已同意",
    "agency_approved": "军休机构已批准",
    "agreement_signed": "已签订疗养协议",
    "insured": "已购买意外伤害保险",
    "attended": "已参加疗养",
    "rejected": "未获批准",
    "unable_to_attend": "因健康等原因无法参加",
}
_STEP_LABELS = {
    "open": "个人报名",
    "approve": "军休机构批准",
    "reject": "不予批准",
    "insure": "购买意外伤害保险",
    "report_unable": "因健康等原因无法参加",
    "remind": "提醒",
    "escalate": "督办",
}
_STEP_ARTICLES = {
    "open": "A7.1",
    "approve": "A7.2",
    "reject": "A19.1",
    "insure": "A7.3",
    "report_unable": "A8.3",
}
_RECIPIENTS = {
    "cadre": {"role": "cadre", "role_label": "军休干部本人", "name": "张建国"},
    "family": {"role": "family", "role_label": "军休干部家属", "name": "张丽"},
    "agency_officer": {"role": "agency_officer", "role_label": "军休机构工作人员", "name": "王芳"},
}
# notice -> (recipient role, step or timer that sends it, case state at that moment)
_SAMPLES: dict[str, tuple[str, str | None, str]] = {
    "registration_received": ("cadre", "open", "registered"),
    "consent_request": ("family", "open", "registered"),
    "consent_reminder": ("family", "remind", "registered"),
    "consent_escalation": ("agency_officer", "escalate", "registered"),
    "approval_notice": ("cadre", "approve", "agency_approved"),
    "refusal_notice": ("cadre", "reject", "rejected"),
    "agreement_and_insurance": ("cadre", "insure", "insured"),
    "departure_notice": ("cadre", "insure", "insured"),
    "evaluation_request": ("cadre", "remind", "attended"),
    "condolence_visit_task": ("agency_officer", "report_unable", "unable_to_attend"),
}
_BASE_SAMPLE: dict[str, Any] = {
    "case": {"id": 42, "state": "", "state_label": "", "cycle": "2024-2025", "tier": "city"},
    "cadre": {
        "id": "LC-DCF-0001",
        "name": "张建国",
        "county": "东昌府区",
        "agency": "聊城市东昌府区军队离休退休干部休养所",
    },
    "evidence": {
        "plan_level": "city",
        "family_member": "张丽",
        "relation": "女儿",
        "batch_start": "2024-06-03",
        "batch_end": "2024-06-09",
        "destination": "山东省威海市荣誉疗养院",
        "agreement_no": "LC-RY-2024-0012",
        "signed_on": "2024-05-20",
        "insurer": "中国人民财产保险股份有限公司聊城市分公司",
        "policy_no": "PICC-LC-2024-000123",
        "covered_from": "2024-06-03",
        "covered_until": "2024-06-09",
        "itinerary": "6月3日 乘大巴出发，下午入住疗养院\n6月4日至8日 健康体检、休养、参观刘公岛\n"
        "6月9日 返程",
        "contacts": [
            {"role": "组织方", "name": "王芳", "phone": "0635-8211234"},
            {"role": "承办单位", "name": "刘强", "phone": "0631-5201234"},
        ],
        "cause": "健康原因",
        "for_health": True,
    },
    "policy": {
        "title": "聊城市军队离休退休干部荣誉疗养实施细则",
        "document": "聊退役军人发〔2023〕2号",
    },
    "now": "2024-05-06T09:30:00+08:00",
    "reason": None,
}
