"""The officer console (issue 19) through Starlette's TestClient, on SQLite and PostgreSQL.

Log-in with API tokens, the session cookie and its end (log-out, revocation, expiry), CSRF on
every form, the inbox, the case list's filters, search and keyset pages, the case page, step
forms with their inline errors, refusals citing their articles, the conflict page of a stale
form, scope (an out-of-scope case is the page of a missing one), escaping, ``--no-console`` and
the offline ``/docs``. The same things in a real browser: tests/test_console_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner
from factories import AGREEMENT, APPROVAL, CONSENT, REGISTRATION, cadre
from fastapi.testclient import TestClient
from httpx import Response
from plans_setup import seed_batch

import workflow.console
from workflow import Engine, SimulatedClock, i18n
from workflow.api import TokenRegistry, create_app, hash_token
from workflow.cli.main import main
from workflow.store import tokens as token_store
from workflow.store.tasks import insert_tasks

SEED_PLANS = False  # `console` seeds the batch and, with it, the year's plans

TOKENS = {
    "t-agency": "agency_officer:王芳@东昌府区军休所",
    "t-agency-2": "agency_officer:李明@东昌府区军休所",
    "t-other-agency": "agency_officer:孙莉@茌平区军休所",
    "t-county": "county_officer:刘伟@东昌府区",
    "t-other-county": "county_officer:陈静@茌平区",
    "t-city": "city_officer:赵敏",
    "t-auditor": "auditor:周审",
    "t-family": "family:张丽@LC-DCF-0001",
}
# for tests where the database makes no difference (the page, not the query, is under test)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
OLD = "1943-06-03"  # 81 on the batch's first day, over A8.2's 80
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def engine_with_cases(engine: Engine) -> Engine:
    engine.put_cadres(
        [
            cadre(),
            cadre("LC-DCF-0002", name="李老", birth_date=OLD),
            cadre("LC-DCF-0003", name=SCRIPT),
        ]
    )
    seed_batch(engine)
    return engine


@pytest.fixture
def app_client(engine_with_cases: Engine) -> Iterator[TestClient]:
    app = create_app(engine_with_cases, TokenRegistry.from_tokens(TOKENS))
    with TestClient(app) as client:
        yield client


def register(engine: Engine, cadre_id: str = "LC-DCF-0001") -> int:
    return engine.open_case(cadre_id, actor=TOKENS["t-agency"], data=REGISTRATION).id


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def log_in(client: TestClient, token: str) -> Response:
    """A fresh session for ``token`` on ``client`` (any earlier one's cookie is dropped)."""
    client.cookies.clear()
    page = client.get("/console/login")
    answer: Response = client.post(
        "/console/login", data={"csrf": csrf_of(page), "token": token, "next": ""}
    )
    return answer


def main_of(page: Response) -> str:
    found = re.search(r"<main.*?</main>", page.text, re.S)
    assert found is not None
    return found.group(0)


# -- log-in, sessions, CSRF -------------------------------------------------------------------


def test_a_visitor_is_sent_to_the_log_in_page_and_comes_back_after_it(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    root = app_client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (303, "/console/")
    page = app_client.get(f"/console/cases/{case_id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/console/login?next=%2Fconsole%2Fcases%2F{case_id}"
    login = app_client.get(page.headers["location"])
    assert login.status_code == 200
    assert 'type="password"' in login.text
    assert "登录" in login.text
    answer = app_client.post(
        "/console/login",
        data={"csrf": csrf_of(login), "token": "t-agency", "next": f"/console/cases/{case_id}"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"/console/cases/{case_id}")
    cookie = answer.headers["set-cookie"]
    assert "cv_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Max-Age=28800" in cookie
    shown = app_client.get(answer.headers["location"])
    assert shown.status_code == 200
    banner = re.search(r'<div class="actor".*?</div>', shown.text, re.S)
    assert banner is not None  # role, name and scope on every page
    assert "王芳" in banner.group(0)
    assert "军休机构工作人员" in banner.group(0)
    assert "东昌府区军休所" in banner.group(0)
    # the next page must stay inside the console: another host is refused
    for elsewhere in ("//evil.example/", "https://evil.example/", "/docs"):
        fresh = TestClient(app_client.app)
        login = fresh.get("/console/login")
        sent = fresh.post(
            "/console/login",
            data={"csrf": csrf_of(login), "token": "t-agency", "next": elsewhere},
            follow_redirects=False,
        )
        assert sent.headers["location"] == "/console/inbox", elsewhere


def test_a_wrong_expired_or_revoked_token_does_not_log_in(
    engine_with_cases: Engine, clock: SimulatedClock
) -> None:
    registry = TokenRegistry(
        TokenRegistry.from_tokens(TOKENS).actors,
        {hash_token("t-county"): date(2024, 5, 5)},  # expired the day before
    )
    token_store.revoke(
        engine_with_cases.transaction,
        hash_token("t-city"),
        now=clock.now(),
        by="city_officer:赵敏",
        reason="人员调离",
    )
    with TestClient(create_app(engine_with_cases, registry)) as client:
        for token in ("nobody-at-all", "t-county", "t-city"):
            answer = log_in(client, token)
            assert answer.status_code == 401, token
            assert "令牌无效、已过期或已吊销" in answer.text
            assert "cv_session" not in answer.headers.get("set-cookie", "")
        assert log_in(client, "t-agency").status_code == 200


def test_log_out_and_revocation_end_the_session_on_the_server(
    app_client: TestClient, engine_with_cases: Engine, clock: SimulatedClock
) -> None:
    log_in(app_client, "t-agency")
    stolen = app_client.cookies["cv_session"]
    inbox = app_client.get("/console/inbox")
    assert inbox.status_code == 200
    out = app_client.post("/console/logout", data={"csrf": csrf_of(inbox)}, follow_redirects=False)
    assert out.status_code == 303
    assert 'cv_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    # the cookie itself, replayed, opens nothing any more
    replay = TestClient(app_client.app, cookies={"cv_session": stolen})
    assert replay.get("/console/inbox", follow_redirects=False).status_code == 303
    # a live session ends when its token is revoked, and after eight hours
    log_in(app_client, "t-agency")
    assert app_client.get("/console/inbox", follow_redirects=False).status_code == 200
    clock.advance(timedelta(hours=8, minutes=1))
    assert app_client.get("/console/inbox", follow_redirects=False).status_code == 303
    log_in(app_client, "t-agency")
    token_store.revoke(
        engine_with_cases.transaction,
        hash_token("t-agency"),
        now=clock.now(),
        by="city_officer:赵敏",
        reason="人员调离",
    )
    assert app_client.get("/console/inbox", follow_redirects=False).status_code == 303


@SQLITE_ONLY
def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_written(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    log_in(app_client, "t-agency")
    for sent in ({}, {"csrf": "forged"}):
        answer = app_client.post(
            f"/console/cases/{case_id}/steps/consent",
            data={**sent, "version": "1", **CONSENT},
        )
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert engine_with_cases.case(case_id).version == 1
    # the log-in form has its own token: a post without the matching cookie is refused too
    fresh = TestClient(app_client.app)
    refused = fresh.post("/console/login", data={"csrf": "x", "token": "t-agency"})
    assert refused.status_code == 403


# -- the case page and its steps --------------------------------------------------------------


def test_the_case_page_shows_progress_evidence_eligibility_notices_and_a_verified_chain(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    engine_with_cases.fire(case_id, "consent", actor=TOKENS["t-agency"], data=CONSENT)
    engine_with_cases.fire(case_id, "approve", actor=TOKENS["t-agency"], data=APPROVAL)
    log_in(app_client, "t-county")
    page = app_client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    body = main_of(page)
    progress = re.search(r'<ol class="progress".*?</ol>', body, re.S)
    assert progress is not None
    steps = re.findall(r'<span class="step-label">(.*?)</span>', progress.group(0))
    assert steps == [
        "个人报名",
        "家属同意",
        "军休机构批准",
        "签订疗养协议",
        "购买意外伤害保险",
        "参加疗养",
        "满意度评价",
    ]
    assert progress.group(0).count('class="done"') == 3  # up to the approval
    assert re.search(
        r'class="current" aria-current="step">\s*<span class="dot" aria-hidden="true">4<',
        progress.group(0),
    )
    assert "市级荣誉疗养" in body
    assert "A4.1" in body
    assert "疗养首日（2024-06-03）时 74 周岁" in body  # age on the batch's first day
    assert "同意的家属姓名" in body
    assert "张丽" in body
    assert "审计链完整：3 条记录逐条核对无误" in body
    assert "approval_notice" not in body  # notices by subject, not template names
    assert body.count("<tr><td>2024-05-06") >= 2  # the notices sent so far
    # a county officer may take none of the agency's steps from here
    assert "签订疗养协议" in body
    assert 'action="/console/cases/' not in body.split("军休干部")[0]


def test_a_step_posted_from_its_form_moves_the_case_and_errors_name_their_field(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    log_in(app_client, "t-agency")
    page = app_client.get(f"/console/cases/{case_id}")
    form = re.search(
        r'<form method="post" action="/console/cases/\d+/steps/consent".*?</form>', page.text, re.S
    )
    assert form is not None
    assert 'name="family_member"' in form.group(0)
    assert 'name="version" value="1"' in form.group(0)
    missing = app_client.post(
        f"/console/cases/{case_id}/steps/consent",
        data={"csrf": csrf_of(page), "version": "1", "family_member": "", "relation": "女儿"},
    )
    assert missing.status_code == 422
    error = re.search(r'id="step-consent-family_member-error">(.*?)</p>', missing.text)
    assert error is not None
    assert "同意的家属姓名" in error.group(1)
    assert "必填" in error.group(1)
    assert 'value="女儿"' in missing.text  # what was typed is kept
    assert engine_with_cases.case(case_id).version == 1
    done = app_client.post(
        f"/console/cases/{case_id}/steps/consent",
        data={"csrf": csrf_of(page), "version": "1", **CONSENT},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert engine_with_cases.case(case_id).state == "family_consented"
    shown = app_client.get(done.headers["location"])
    assert "已办理：家属同意" in shown.text
    # a typed input: a batch id that is not a whole number is named in Chinese
    typed = app_client.post(
        f"/console/cases/{case_id}/steps/approve",
        data={"csrf": csrf_of(page), "version": "2", "batch_id": "第一批"},
    )
    assert typed.status_code == 422
    assert re.search(
        r'id="step-approve-batch_id-error">[^<]*安排的疗养批次编号[^<]*不是整数', typed.text
    )


@SQLITE_ONLY
def test_a_refusal_is_shown_with_its_article(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases, "LC-DCF-0002")
    engine_with_cases.fire(
        case_id, "consent", actor=TOKENS["t-agency"], data=CONSENT | {"family_member": "张丽"}
    )
    log_in(app_client, "t-agency")
    page = app_client.get(f"/console/cases/{case_id}")
    refused = app_client.post(
        f"/console/cases/{case_id}/steps/approve",
        data={"csrf": csrf_of(page), "version": "2", **{k: str(v) for k, v in APPROVAL.items()}},
    )
    assert refused.status_code == 409
    panel = re.search(r'<div class="refusal" role="alert">.*?</div>', refused.text, re.S)
    assert panel is not None
    assert "依据 A8.2" in panel.group(0)
    assert "80周岁" in panel.group(0)
    assert engine_with_cases.case(case_id).state == "family_consented"
    # the county officer may waive it (A8.2 approvers) with a reason; then the approval goes
    log_in(app_client, "t-county")
    county_page = app_client.get(f"/console/cases/{case_id}")
    assert 'id="grant-exception"' in county_page.text
    granted = app_client.post(
        f"/console/cases/{case_id}/exceptions",
        data={
            "csrf": csrf_of(county_page),
            "version": "2",
            "rule": "under_age_limit_on_first_day",
            "reason": "身体健康，本人坚持参加",
        },
        follow_redirects=False,
    )
    assert granted.status_code == 303
    assert [x.rule for x in engine_with_cases.case(case_id).exceptions] == [
        "under_age_limit_on_first_day"
    ]


def test_two_officers_on_one_case_one_wins_and_the_other_sees_the_conflict(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    log_in(app_client, "t-agency")
    first = app_client.get(f"/console/cases/{case_id}")
    other = TestClient(app_client.app)
    log_in(other, "t-agency-2")
    second = other.get(f"/console/cases/{case_id}")
    won = app_client.post(
        f"/console/cases/{case_id}/steps/consent",
        data={"csrf": csrf_of(first), "version": "1", **CONSENT},
        follow_redirects=False,
    )
    assert won.status_code == 303
    lost = other.post(
        f"/console/cases/{case_id}/steps/refuse_consent",
        data={"csrf": csrf_of(second), "version": "1", **CONSENT},
    )
    assert lost.status_code == 409
    body = main_of(lost)
    assert "案件已被他人修改" in body
    assert "本次操作未写入任何内容" in body
    assert "家属同意" in body
    assert "王芳" in body
    assert "“家属不同意”在案件当前状态下已不能办理" in body
    assert engine_with_cases.case(case_id).state == "family_consented"
    assert engine_with_cases.case(case_id).version == 2
    # a stale form for a step still possible is offered again on the new version, kept filled
    engine_with_cases.fire(case_id, "approve", actor=TOKENS["t-agency"], data=APPROVAL)
    stale = other.post(
        f"/console/cases/{case_id}/steps/approve",
        data={"csrf": csrf_of(second), "version": "2", **{k: str(v) for k, v in APPROVAL.items()}},
    )
    assert stale.status_code == 409
    stale_again = app_client.post(
        f"/console/cases/{case_id}/steps/sign_agreement",
        data={"csrf": csrf_of(first), "version": "2", **AGREEMENT},
    )
    assert stale_again.status_code == 409
    retry = re.search(
        r'<form method="post" action="/console/cases/\d+/steps/sign_agreement".*?</form>',
        stale_again.text,
        re.S,
    )
    assert retry is not None
    assert 'name="version" value="3"' in retry.group(0)
    assert f'value="{AGREEMENT["agreement_no"]}"' in retry.group(0)


def test_a_case_outside_the_scope_is_the_page_of_a_missing_case(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases)
    log_in(app_client, "t-other-county")
    outside = app_client.get(f"/console/cases/{case_id}")
    missing = app_client.get("/console/cases/99999")
    assert outside.status_code == missing.status_code == 404
    unnamed = re.compile(r"找不到案件：\d+")
    assert unnamed.sub("", main_of(outside)) == unnamed.sub("", main_of(missing))
    assert "张建国" not in outside.text
    assert "LC-DCF-0001" not in outside.text
    listed = app_client.get("/console/cases")
    assert "LC-DCF-0001" not in listed.text
    assert "没有符合条件的案件" in listed.text
    # naming another county in the filter shows nothing either
    assert "LC-DCF-0001" not in app_client.get("/console/cases?county=东昌府区").text
    inbox = app_client.get("/console/inbox")
    assert "LC-DCF-0001" not in inbox.text
    posted = app_client.post(
        f"/console/cases/{case_id}/steps/reject",
        data={"csrf": csrf_of(inbox), "version": "1", "article": "A8.1"},
    )
    assert posted.status_code == 404
    assert engine_with_cases.case(case_id).version == 1


@SQLITE_ONLY
def test_a_cadre_named_like_a_script_is_shown_as_text_everywhere(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    case_id = register(engine_with_cases, "LC-DCF-0003")
    log_in(app_client, "t-agency")
    for path in ("/console/inbox", "/console/cases", f"/console/cases/{case_id}"):
        page = app_client.get(path)
        assert page.status_code == 200
        assert SCRIPT not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        assert "script-src 'self'" in page.headers["content-security-policy"]


# -- lists ------------------------------------------------------------------------------------


def test_the_case_list_filters_searches_and_pages_by_key(
    app_client: TestClient, engine_with_cases: Engine
) -> None:
    ids = [register(engine_with_cases, f"LC-DCF-{n:04d}") for n in (1, 2, 3)]
    engine_with_cases.fire(ids[0], "consent", actor=TOKENS["t-agency"], data=CONSENT)
    log_in(app_client, "t-city")

    def listed(query: str) -> list[int]:
        page = app_client.get(f"/console/cases?{query}")
        assert page.status_code == 200
        return [int(n) for n in re.findall(r'<td><a href="/console/cases/(\d+)">', page.text)]

    assert listed("") == sorted(ids, reverse=True)  # newest first
    assert listed("q=李老") == [ids[1]]
    assert listed("q=LC-DCF-0001") == [ids[0]]
    assert listed("q=LC-DCF") == sorted(ids, reverse=True)
    assert listed("state=family_consented") == [ids[0]]
    assert listed("cycle=2024-2025&county=东昌府区") == sorted(ids, reverse=True)
    assert listed("cycle=2023") == []
    assert listed(f"before={ids[2]}") == [ids[1], ids[0]]
    assert listed("plan=abc") == sorted(ids, reverse=True)  # a bad number is named, not applied
    assert "“计划编号”应为正整数" in app_client.get("/console/cases?plan=abc").text
    engine_with_cases.fire(ids[0], "approve", actor=TOKENS["t-agency"], data=APPROVAL)
    assert listed(f"plan={APPROVAL['batch_id']}") == [ids[0]]  # the batch's plan (seed: plan 1)


@SQLITE_ONLY
def test_the_case_list_pages_fifty_at_a_time(engine_with_cases: Engine) -> None:
    engine_with_cases.put_cadres([cadre(f"LC-DCF-{n:04d}") for n in range(4, 56)])
    ids = [register(engine_with_cases, f"LC-DCF-{n:04d}") for n in range(4, 56)]
    with TestClient(create_app(engine_with_cases, TokenRegistry.from_tokens(TOKENS))) as client:
        log_in(client, "t-agency")
        first = client.get("/console/cases")
        shown = [int(n) for n in re.findall(r'<td><a href="/console/cases/(\d+)">', first.text)]
        assert shown == sorted(ids, reverse=True)[:50]
        following = re.search(r'href="([^"]+)" rel="next"', first.text)
        assert following is not None
        second = client.get(following.group(1).replace("&amp;", "&"))
        rest = [int(n) for n in re.findall(r'<td><a href="/console/cases/(\d+)">', second.text)]
        assert rest == sorted(ids, reverse=True)[50:]
        assert 'rel="next"' not in second.text


def test_the_inbox_lists_overdue_tasks_first_with_counts_and_waiting_cases(
    app_client: TestClient, engine_with_cases: Engine, clock: SimulatedClock
) -> None:
    case_id = register(engine_with_cases)
    other = register(engine_with_cases, "LC-DCF-0002")
    today = clock.now().date()

    def task(key: str, case: int, due: date, role: str = "agency_officer") -> dict[str, object]:
        return {
            "key": key,
            "kind": "escalation",
            "case_id": case,
            "state": "registered",
            "assignee_role": role,
            "county": "东昌府区",
            "agency": "东昌府区军休所",
            "title": f"催办 {key}",
            "article": "A7.1",
            "due_on": due,
            "created_at": clock.now(),
        }

    with engine_with_cases.transaction(write=True) as connection:
        insert_tasks(
            connection,
            [
                task("later", case_id, today + timedelta(days=3)),
                task("overdue", other, today - timedelta(days=2)),
                task("family", case_id, today - timedelta(days=9), role="family"),
            ],
        )
    log_in(app_client, "t-agency")
    inbox = app_client.get("/console/inbox")
    body = main_of(inbox)
    assert re.findall(r"催办 (\w+)", body) == ["overdue", "later"]  # its role's, overdue first
    assert re.search(r'id="count-overdue">1<', body)
    assert re.search(r'id="count-tasks">2<', body)
    assert re.search(r'id="count-waiting">2<', body)  # two registrations wait for consent
    assert f'href="/console/cases/{other}"' in body
    log_in(app_client, "t-other-agency")
    assert "催办" not in app_client.get("/console/inbox").text


# -- the app around the console ---------------------------------------------------------------


@SQLITE_ONLY
def test_no_console_leaves_only_the_api(engine_with_cases: Engine) -> None:
    app = create_app(engine_with_cases, TokenRegistry.from_tokens(TOKENS), console=False)
    with TestClient(app) as client:
        assert client.get("/", follow_redirects=False).status_code == 404
        assert client.get("/console/login").status_code == 404
        assert client.get("/health").status_code == 200
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert "--no-console" in result.output


@SQLITE_ONLY
def test_docs_load_swagger_ui_from_the_server_itself(app_client: TestClient) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/") for s in sources), sources
    for source in sources:
        asset = app_client.get(source)
        assert asset.status_code == 200, source
    script = app_client.get("/docs-assets/swagger-ui-bundle.js")
    assert len(script.content) > 500_000
    assert app_client.get("/openapi.json").status_code == 200
    css = app_client.get("/console/static/console.css")
    assert css.status_code == 200
    assert "Noto Sans CJK SC" in css.text


TEMPLATE_TEXT = re.compile(r'_\("((?:[^"\\]|\\.)+)"\)')


def test_every_template_text_has_an_english_translation() -> None:
    """Babel's extractor reads only the Python modules (tests/test_i18n.py); the templates'
    ``_("…")`` texts are checked here against the same catalogue."""
    templates = Path(workflow.console.__file__).parent / "templates"
    texts = {
        text
        for path in templates.rglob("*.html")
        for text in TEMPLATE_TEXT.findall(path.read_text(encoding="utf-8"))
    }
    assert len(texts) > 50
    catalogue_path = i18n.LOCALE_DIRECTORY / "en" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with catalogue_path.open("rb") as file:
        catalogue = read_po(file, locale="en")
    translated = {m.id for m in catalogue if m.id and m.string}
    assert sorted(texts - translated) == []


@SQLITE_ONLY
def test_the_console_speaks_english_when_asked(app_client: TestClient) -> None:
    i18n.set_language("en")
    try:
        page = app_client.get("/console/login")
        assert 'lang="en"' in page.text
        assert "Log in" in page.text
    finally:
        i18n.set_language(None)
