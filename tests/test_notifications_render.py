"""Notice templates: every shipped notice renders, mistakes are located, the sandbox holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from notifications.errors import TemplateError
from notifications.render import (
    ENVIRONMENT,
    Rendered,
    article_zh,
    check_templates,
    has_html,
    render,
    render_string,
    sample_context,
    sparse_context,
    zh_date,
)
from notifications.shipped import TEMPLATE_DIR, template_names
from workflow.errors import InputError
from workflow.i18n import set_language

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {
    "registration_received",
    "consent_request",
    "consent_reminder",
    "consent_escalation",
    "approval_notice",
    "refusal_notice",
    "agreement_and_insurance",
    "departure_notice",
    "evaluation_request",
    "condolence_visit_task",
}
NAMES = sorted(template_names())


def test_every_required_notice_ships_and_approval_and_refusal_have_html() -> None:
    assert template_names() >= REQUIRED
    assert has_html("approval_notice")
    assert has_html("refusal_notice")
    assert not any(name.startswith("_") for name in template_names())


def test_the_environment_is_one_sandbox_with_strict_undefined() -> None:
    assert isinstance(ENVIRONMENT, SandboxedEnvironment)
    assert ENVIRONMENT.undefined is StrictUndefined


@pytest.mark.parametrize("name", NAMES)
def test_each_notice_renders_against_its_sample(name: str) -> None:
    context = sample_context(name)
    rendered = render(name, context, html=True)
    assert isinstance(rendered, Rendered)
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert context["recipient"]["name"] in rendered.body
    assert rendered.body.endswith("\n")
    assert "None" not in rendered.body
    assert "聊退役军人发〔2023〕2号" in rendered.body  # A1.1: the source document is named
    if has_html(name):
        assert rendered.body_html is not None
        assert rendered.body_html.lstrip().startswith("<!DOCTYPE html>")
        assert rendered.subject in rendered.body_html
    else:
        assert rendered.body_html is None
    assert render(name, context).body_html is None  # HTML only when asked for


@pytest.mark.parametrize("name", NAMES)
def test_each_notice_renders_when_nothing_optional_was_recorded(name: str) -> None:
    rendered = render(name, sparse_context(name), html=True)
    assert "None" not in rendered.body
    assert "年月日" not in rendered.body  # no date printed from a missing value


def test_check_templates_finds_nothing_wrong_with_the_shipped_notices() -> None:
    assert check_templates(template_names()) == []


def test_check_templates_names_the_missing_file() -> None:
    (problem,) = check_templates(["aproval_notice"])
    assert "notifications/templates/aproval_notice.txt.j2" in problem
    assert "approval_notice" in problem  # the shipped list helps spot the typo


def test_a_missing_variable_raises_template_error_naming_file_and_line() -> None:
    context: dict[str, Any] = sample_context("approval_notice")
    del context["policy"]
    with pytest.raises(TemplateError) as info:
        render("approval_notice", context)
    error = info.value
    assert isinstance(error, InputError)
    assert error.exit_code == 2
    assert error.template == "approval_notice"
    assert error.file == "notifications/templates/approval_notice.txt.j2"
    assert error.line is not None
    assert "policy" in (ROOT / error.file).read_text().splitlines()[error.line - 1]
    assert "'policy' is undefined" in error.message
    assert error.location.startswith(f"{error.file}:{error.line}: ")


def test_a_typo_in_template_text_is_located() -> None:
    with pytest.raises(TemplateError) as info:
        render_string(
            "第一行\n{{ cadre.name }}\n{{ cadre.nmae }}", sample_context("approval_notice")
        )
    assert info.value.line == 3
    assert "nmae" in info.value.message
    assert isinstance(info.value.__cause__, UndefinedError)


def test_a_syntax_error_is_located() -> None:
    with pytest.raises(TemplateError) as info:
        render_string("ok\n{% if x %}\nno end", {"x": 1})
    assert info.value.line is not None


def test_unknown_notice_is_named_in_chinese_by_default_and_english_with_lang_en() -> None:
    try:
        set_language("zh")
        with pytest.raises(TemplateError, match=r"没有这个通知（找不到 .*no_such_notice"):
            render("no_such_notice", sample_context("approval_notice"))
        set_language("en")
        with pytest.raises(TemplateError, match="no such notice"):
            render("no_such_notice", sample_context("approval_notice"))
    finally:
        set_language(None)


def test_html_is_autoescaped_and_text_is_not() -> None:
    context = sample_context("approval_notice")
    context["cadre"]["name"] = "<script>alert(1)</script>"
    context["evidence"]["destination"] = '威海 <img src=x onerror="x()">'
    rendered = render("approval_notice", context, html=True)
    assert rendered.body_html is not None
    assert "<script>" not in rendered.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.body_html
    assert "<img" not in rendered.body_html
    assert "<script>alert(1)</script>" in rendered.body  # plain text is not HTML
    assert render_string("{{ x }}", {"x": "<b>"}, html=True) == "&lt;b&gt;"
    assert render_string("{{ x }}", {"x": "<b>"}) == "<b>"


def test_refusal_cites_the_article_and_the_reason() -> None:
    context = sample_context("refusal_notice")
    context["evidence"]["article"] = "A8.2"
    context["reason"] = "疗养批次首日已年满80周岁。"
    rendered = render("refusal_notice", context, html=True)
    assert "依据聊退役军人发〔2023〕2号第八条" in rendered.body
    assert "疗养批次首日已年满80周岁。" in rendered.body
    assert rendered.body_html is not None
    assert "依据聊退役军人发〔2023〕2号第八条" in rendered.body_html


def test_family_notices_address_the_family_and_name_the_cadre() -> None:
    context = sample_context("approval_notice")
    context["recipient"] = {"role": "family", "role_label": "军休干部家属", "name": "张丽"}
    body = render("approval_notice", context).body
    assert body.startswith("尊敬的张丽（张建国同志家属）：")
    assert "张建国同志参加荣誉疗养的申请已获" in body


def test_departure_notice_lists_itinerary_and_contacts_only_when_recorded() -> None:
    full = render("departure_notice", sample_context("departure_notice")).body
    assert "行程安排" in full
    assert "王芳" in full
    assert "6月9日 返程" in full
    bare = render("departure_notice", sparse_context("departure_notice")).body
    assert "行程安排" not in bare
    assert "联系人" not in bare


def test_approval_notice_gives_batch_dates_and_destination() -> None:
    body = render("approval_notice", sample_context("approval_notice")).body
    assert "2024年6月3日至2024年6月9日" in body
    assert "山东省威海市荣誉疗养院" in body


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ '{0.__class__}'.format(evidence) }}",
        "{{ evidence.clear() }}",  # the context is read-only (ImmutableSandboxedEnvironment)
        "{% set x = evidence.update({'a': 1}) %}",
    ],
)
def test_sandbox_escapes_fail_with_a_security_error(source: str) -> None:
    with pytest.raises(TemplateError) as info:
        render_string(source, {**sample_context("approval_notice"), "evidence": {"a": 0}})
    assert isinstance(info.value.__cause__, SecurityError)


@pytest.mark.parametrize(
    "source", ["{{ f.__globals__ }}", "{{ f.func_globals }}", "{{ f.__code__ }}"]
)
def test_function_internals_are_out_of_reach(source: str) -> None:
    def helper() -> str:
        return "ok"

    with pytest.raises(TemplateError) as info:
        render_string(source, {"f": helper})
    assert isinstance(info.value.__cause__, SecurityError | UndefinedError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A8.2", "第八条"),
        ("A19.1", "第十九条"),
        ("8", "第八条"),
        ("第8条", "第八条"),
        ("A21", "第二十一条"),
        ("a10", "第十条"),
        ("第八条", "第八条"),
        ("年龄规定", "年龄规定"),
        (None, ""),
    ],
)
def test_article_zh(value: str | None, expected: str) -> None:
    assert article_zh(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-06-03", "2024年6月3日"),
        ("2024-06-03T09:30:00+08:00", "2024年6月3日"),
        (None, ""),
        ("下周一", "下周一"),
    ],
)
def test_zh_date(value: str | None, expected: str) -> None:
    assert zh_date(value) == expected


def test_templates_ship_with_the_j2_suffix_setuptools_packages() -> None:
    files = {p.name for p in TEMPLATE_DIR.iterdir() if not p.name.startswith(".")}
    assert all(name.endswith(".j2") for name in files), files


@pytest.mark.parametrize(
    ("role", "name", "greeting"),
    [
        ("family", "家属", "尊敬的张建国同志家属："),  # no family contact on the record
        ("family", "张丽", "尊敬的张丽（张建国同志家属）："),
        (
            "agency_officer",
            "聊城市东昌府区军队离休退休干部休养所",
            "聊城市东昌府区军队离休退休干部休养所：",
        ),
        ("agency_officer", "王芳", "王芳同志："),
    ],
)
def test_greeting_fits_the_recipient(role: str, name: str, greeting: str) -> None:
    context = sample_context("approval_notice")
    context["recipient"] = {"role": role, "role_label": "x", "name": name}
    rendered = render("approval_notice", context, html=True)
    assert rendered.body.startswith(greeting + "\n")
    assert rendered.body_html is not None
    assert f"\n{greeting}\n" in rendered.body_html
