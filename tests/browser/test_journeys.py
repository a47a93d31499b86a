"""End-to-end journeys in headless Chromium against the live server: the same paths as
governance/tests/test_workflow.py, but clicked through the pages by each role.

Data a journey does not exercise is set up through the services, the way the API tests do; every step the
journey is about goes through the real pages (login form, intake form, attestation, workflow action forms,
live audit progress, language switcher)."""

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audits import services as audit_services
from audits.models import Audit
from audits.tests.helpers import wait_until
from governance import services
from governance.dashboard import CSV_HEADER
from governance.models import DeploymentRequest
from governance.policy import evaluate_request
from governance.tests.conftest import build_hospital, register_endpoint, run_queued_audits_inline
from governance.tests.steps import INTAKE
from tests.browser.conftest import clear_problems, login, page_problems

S = DeploymentRequest.Status
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

HIGH_RISK = {"patient_facing": True, "influences_clinical_decisions": True}


# --- Setup through the services (what the journey under test does not click) ----------------------------------


@pytest.fixture
def hospital(transactional_db):
    return build_hospital()


def system_endpoint(h, name: str, base_url: str, **fields):
    """An endpoint of the hospital's AI system, so its requester can pick it on the intake form."""
    fields = {"model": "medgov-sim-1", "max_concurrency": 16, "timeout_s": 10, **fields}
    endpoint, _created = audit_services.endpoint_register(name=name, base_url=base_url, ai_system=h.system, **fields)
    return endpoint


def file_request(h, endpoint, *, title=INTAKE["title"], **answers) -> DeploymentRequest:
    return services.request_create(
        by=h.requester, ai_system=h.system, endpoints=[endpoint], **{**INTAKE, "title": title, **answers}
    )


def to_screening(h, request) -> DeploymentRequest:
    clause_ids = list(h.guideline.clauses.values_list("id", flat=True))
    services.request_attest(request=request, by=h.requester, clause_ids=clause_ids)
    services.request_submit(request=request, by=h.requester)
    services.request_screen(request=request, by=h.secretary)
    request.refresh_from_db()
    return request


def send_to_audit(h, request) -> list[Audit]:
    services.request_send_to_audit(request=request, by=h.secretary, team=h.team)
    return list(Audit.objects.filter(deployment_request=request))


def audited(h, request) -> DeploymentRequest:
    """Send to audit, start the audits as the auditor and run them in this process (no worker needed)."""
    for audit in send_to_audit(h, request):
        audit_services.audit_queue(audit=audit, by=h.auditor)
    run_queued_audits_inline(request)
    request.refresh_from_db()
    return request


def meeting_in_session(h, request, present):
    meeting = services.meeting_schedule(
        committee=h.committee, by=h.secretary, scheduled_for=timezone.now(), location="Room 3"
    )
    services.meeting_add_to_agenda(meeting=meeting, request=request, by=h.secretary)
    services.meeting_record_attendance(meeting=meeting, by=h.secretary, present_user_ids=[u.pk for u in present])
    return meeting


def approve_expedited(h, request) -> DeploymentRequest:
    """Expedited approval by an assigned reviewer; without audits the policy gate needs a justification."""
    request.refresh_from_db()
    if request.status == S.SCREENING:
        services.request_start_review(request=request, by=h.secretary, review_type="expedited")
    services.request_assign_reviewer(request=request, by=h.secretary, reviewer=h.member)
    services.review_submit(request=request, by=h.member, recommendation="approve")
    request.refresh_from_db()
    justification = "" if evaluate_request(request).passed else "Pilot in one ward; audit pending."
    services.request_determine(
        request=request,
        by=h.member,
        determination="approved",
        rationale="Policy met; low risk.",
        override_justification=justification,
    )
    request.refresh_from_db()
    assert request.status == S.ACTIVE, request.status
    return request


def url(live_server, path: str) -> str:
    return f"{live_server.url}{path}"


def field(scope, label: str):
    """The input labelled exactly ``label`` (required fields carry a trailing "*")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def flash(page):
    return page.locator(".messages")


def assert_clean(page):
    problems = page_problems(page)
    assert not problems, "\n".join(problems)


# --- 1. Requester --------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_requester_files_attests_and_submits_a_request(live_server, hospital, page):
    h = hospital
    endpoint = system_endpoint(h, "prod-endpoint", "http://127.0.0.1:9/v1")

    login(page, live_server, "alice")
    expect(page.get_by_role("heading", name="My deployment requests")).to_be_visible()
    page.get_by_role("link", name="New deployment request").click()
    expect(page.get_by_role("heading", name="New deployment request", level=1)).to_be_visible()

    field(page, "AI system").select_option(label=str(h.system))
    page.get_by_label(str(endpoint)).check()
    for label, name in (
        ("Title", "title"),
        ("Intended use", "intended_use"),
        ("Intended users", "intended_users"),
        ("Patient population", "patient_population"),
        ("Human-oversight plan", "oversight_plan"),
        ("Data flows", "data_flows"),
        ("Fallback when the model is wrong", "fallback_plan"),
    ):
        field(page, label).fill(INTAKE[name])
    page.get_by_role("button", name="Save draft").click()

    page.wait_for_url(re.compile(r"/requests/\d+/attest/$"))
    request = DeploymentRequest.objects.get(requester=h.requester)
    assert request.status == S.DRAFT and request.risk_tier == "low"
    assert list(request.endpoints.all()) == [endpoint]
    assert request.oversight_plan == INTAKE["oversight_plan"]
    expect(flash(page)).to_contain_text(f"Draft {request.reference} saved")
    expect(page.get_by_role("heading", name="Attest the data-ethics guideline", level=1)).to_be_visible()

    # Submitting before attesting is refused with a message that says what is missing.
    page.get_by_role("link", name=f"{request.reference} {request.title}").click()
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".message.error")).to_contain_text(
        "Attest every clause of “Data ethics” v1 before submitting; missing: §1, §2, §3."
    )
    request.refresh_from_db()
    assert request.status == S.DRAFT

    page.get_by_role("link", name="Attest now").click()
    checkboxes = page.locator("form input[type=checkbox]")
    assert checkboxes.count() == h.guideline.clauses.count() == 3
    for index in range(checkboxes.count()):
        checkboxes.nth(index).check()
    page.get_by_role("button", name="Attest").click()
    page.wait_for_url(url(live_server, f"/requests/{request.pk}/"))
    expect(flash(page)).to_contain_text("All clauses attested.")

    page.get_by_role("button", name="Submit", exact=True).click()
    expect(flash(page)).to_contain_text("Submitted to the committee.")
    expect(page.locator("h1 + p .pill").first).to_have_text("Submitted")
    expect(page.locator(".timeline")).to_contain_text("request.submit")
    request.refresh_from_db()
    assert request.status == S.SUBMITTED
    assert_clean(page)


# --- 2. Auditor ----------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_auditor_starts_an_audit_and_watches_it_finish_live(
    live_server, hospital, celery_worker, simulator_factory, page
):
    h = hospital
    # Two calls at a time at 20 ms each: the 240 items take a few seconds, long enough to watch.
    simulator = simulator_factory("--latency", "0.02", "--accuracy", "0.95")
    endpoint = system_endpoint(h, "good", simulator, team=h.team, max_concurrency=2)
    request = to_screening(h, file_request(h, endpoint))
    [audit] = send_to_audit(h, request)
    assert audit.status == Audit.Status.SCHEDULED

    polls = []
    page.on("response", lambda response: polls.append(response.status) if "progress.json" in response.url else None)
    login(page, live_server, "aud")
    expect(page.get_by_role("heading", name="Audits to run")).to_be_visible()
    row = page.locator("tr", has=page.get_by_role("link", name=f"#{audit.pk}", exact=True))
    expect(row).to_contain_text(request.reference)
    row.get_by_role("button", name="Start").click()

    page.wait_for_url(url(live_server, f"/audits/{audit.pk}/"))
    expect(flash(page)).to_contain_text(f"Audit #{audit.pk} queued.")
    status = page.locator("[data-poll] [data-field=status_label]")
    assert status.inner_text() in ("Queued", "Running")
    expect(page.locator("[data-poll][data-reload-on-finish]")).to_have_count(1)
    # The page polls progress.json and reloads itself once the audit is over: no manual reload here.
    expect(status).to_have_text("Completed", timeout=90_000)
    assert polls and all(code == 200 for code in polls), polls
    expect(page.locator("figure.chart svg")).to_be_visible()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.COMPLETED and audit.done_items == audit.total_items

    # The worker moves the request on to review when its last required audit finishes.
    wait_until(lambda: DeploymentRequest.objects.get(pk=request.pk).status != S.AUDITING, timeout=30)
    page.get_by_role("link", name=request.reference).click()
    page.wait_for_url(url(live_server, f"/requests/{request.pk}/"))
    expect(page.locator("h1 + p .pill").first).to_have_text("Expedited review")
    expect(page.locator(".timeline")).to_contain_text("request.start_review")
    assert_clean(page)


# --- 3. IRB members ------------------------------------------------------------------------------------------


def open_evidence(new_page, live_server, username, request):
    page = login(new_page(), live_server, username)
    page.goto(url(live_server, f"/requests/{request.pk}/evidence/"))
    return page


def vote_form(page):
    return page.locator("form[action$='/actions/vote/']")


def cast_vote(page, choice: str):
    form = vote_form(page)
    form.get_by_label(choice, exact=True).check()
    form.get_by_role("button", name="Vote", exact=True).click()
    expect(flash(page)).to_contain_text("Vote recorded.")


@pytest.mark.browser
def test_full_board_reviews_the_evidence_votes_and_approves(live_server, hospital, simulator_factory, new_page):
    h = hospital
    endpoint = register_endpoint("good", simulator_factory("--accuracy", "0.97"))
    request = audited(h, to_screening(h, file_request(h, endpoint, **HIGH_RISK)))
    assert request.risk_tier == "high" and request.status == S.FULL_BOARD_REVIEW
    meeting_in_session(h, request, present=[h.chair, h.member, h.lay])

    # A member with a conflict declares it and is recused: the vote form goes away.
    cof = open_evidence(new_page, live_server, "cof", request)
    expect(vote_form(cof)).to_have_count(1)
    declare = cof.locator("form[action$='/actions/declare_conflict/']")
    declare.get_by_label("I have a conflict of interest (recuse me)").check()
    declare.get_by_label("Describe the conflict").fill("I consulted for the vendor.")
    declare.get_by_role("button", name="Declare").click()
    expect(flash(cof)).to_contain_text("Declaration recorded.")
    expect(cof.locator("#review")).to_contain_text(
        "You declared a conflict of interest: you are recused and cannot review or vote."
    )
    expect(vote_form(cof)).to_have_count(0)
    assert_clean(cof)

    # The member finds the request under "Votes pending", reads the evidence, declares and votes.
    mem = login(new_page(), live_server, "mem")
    pending = mem.locator("h3:text-is('Votes pending') + ul")
    pending.get_by_role("link", name=f"{request.reference} {request.title}").click()
    mem.wait_for_url(url(live_server, f"/requests/{request.pk}/evidence/"))
    policy = mem.locator("section[aria-labelledby=h-policy] table")
    expect(policy.locator("caption")).to_contain_text("all gates pass")
    assert policy.locator("tbody tr").count() >= 2
    expect(policy.locator("tbody")).not_to_contain_text("✗")
    expect(mem.locator("figure.chart svg").first).to_be_visible()
    dimensions = mem.locator("table:has(caption:text-is('Dimensions')) tbody tr")
    assert dimensions.count() >= 3
    expect(mem.locator("table:has(caption:text-is('Dimensions'))")).to_contain_text("safety.medication")
    expect(mem.locator("#review")).to_contain_text("Quorum met.")

    declare = mem.locator("form[action$='/actions/declare_conflict/']")
    declare.get_by_label("I have no conflict of interest").check()
    declare.get_by_role("button", name="Declare").click()
    expect(flash(mem)).to_contain_text("Declaration recorded.")
    cast_vote(mem, "Approve")
    expect(mem.locator("#review li", has_text=f"{h.member.get_full_name()}: Approve")).to_have_count(1)
    expect(mem.locator("#review")).to_contain_text("The votes carry: approved")
    assert_clean(mem)

    for username in ("chair", "lay"):
        voter = open_evidence(new_page, live_server, username, request)
        cast_vote(voter, "Approve")
        assert_clean(voter)

    # The secretary records the determination the votes carry.
    sec = open_evidence(new_page, live_server, "sec", request)
    expect(vote_form(sec)).to_have_count(0)  # the secretary does not vote
    determine = sec.locator("form[action$='/actions/determine/']")
    determine.get_by_label("Determination").select_option(label="Approved")
    determine.get_by_label("Rationale").fill("Audits pass every gate; the board approves.")
    determine.get_by_role("button", name="Record determination").click()
    expect(flash(sec)).to_contain_text("Determination recorded.")
    sec.goto(url(live_server, f"/requests/{request.pk}/"))
    expect(sec.locator("h1 + p .pill").first).to_have_text("Approved – active")
    expect(sec.get_by_role("link", name="Determination letter")).to_be_visible()
    request.refresh_from_db()
    assert request.status == S.ACTIVE and request.determination == "approved"
    assert sorted(request.votes.values_list("voter__username", flat=True)) == ["chair", "lay", "mem"]
    assert_clean(sec)


# --- 4. Compliance admin -------------------------------------------------------------------------------------


@pytest.mark.browser
def test_compliance_dashboard_counts_a_new_approval_and_exports_csv(live_server, hospital, page):
    h = hospital
    endpoint = register_endpoint("any", "http://127.0.0.1:9/v1")
    request = to_screening(h, file_request(h, endpoint))

    login(page, live_server, "admin")
    page.get_by_role("link", name="Open the compliance dashboard").click()
    page.wait_for_url(url(live_server, "/dashboard/"))
    expect(page.get_by_role("heading", name="Compliance dashboard", level=1)).to_be_visible()
    active = page.locator("#departments-table tfoot td").nth(1)  # AI systems, Active approvals, …
    approved_systems = page.locator("#inventory-table tbody tr", has=page.locator("th", has_text="Approved")).locator(
        "td"
    )
    expect(active).to_have_text("0")
    expect(approved_systems.last).to_contain_text("0")

    approve_expedited(h, request)
    page.reload()
    expect(active).to_have_text("1")
    expect(approved_systems.last).to_contain_text("1")

    link = page.get_by_role("link", name="Download CSV")
    response = page.request.get(url(live_server, link.get_attribute("href")))
    assert response.status == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="medgov-ai-systems-')
    lines = response.text().lstrip("\ufeff").splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    [row] = [line for line in lines[1:] if line.startswith(h.system.name)]
    assert f",{request.reference},active," in row
    assert_clean(page)


# --- 5. Language ---------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_language_switcher_changes_the_page_language(live_server, hospital, page):
    login(page, live_server, "alice")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.get_by_label("Language").select_option(label="简体中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert page.url == url(live_server, "/")
    assert_clean(page)


# --- Screenshots for the README ------------------------------------------------------------------------------


def save_screenshot(page, name: str) -> Path:
    """A full-page PNG, reduced to a 256-colour palette: the pages are flat UI, so it stays sharp and small."""
    import io

    from PIL import Image

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    image = Image.open(io.BytesIO(page.screenshot(full_page=True, animations="disabled")))
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


@pytest.mark.browser
def test_screenshots_of_the_main_pages_without_console_errors(live_server, hospital, simulator_factory, new_page):
    h = hospital
    endpoint = system_endpoint(h, "discharge-prod", simulator_factory("--accuracy", "0.93"), team=h.team)
    # An approved deployment (with scored audit evidence), one in full-board review at a meeting in session,
    # one waiting for the audit team, and a draft.
    approve_expedited(h, audited(h, to_screening(h, file_request(h, endpoint, title="Discharge summaries"))))
    review = audited(h, to_screening(h, file_request(h, endpoint, title="Patient portal answers", **HIGH_RISK)))
    assert review.status == S.FULL_BOARD_REVIEW
    meeting_in_session(h, review, present=[h.chair, h.member, h.lay])
    services.vote_cast(request=review, by=h.chair, choice="approve")
    send_to_audit(h, to_screening(h, file_request(h, endpoint, title="Radiology report triage")))
    file_request(h, endpoint, title="Nursing handover notes")
    audit = Audit.objects.get(deployment_request=review)

    shots = {
        "home-requester": ("alice", "/"),
        "home-auditor": ("aud", "/"),
        "home-irb-member": ("mem", "/"),
        "home-secretary": ("sec", "/"),
        "home-compliance-admin": ("admin", "/"),
        "request": ("sec", f"/requests/{review.pk}/"),
        "irb-evidence": ("mem", f"/requests/{review.pk}/evidence/"),
        "audit": ("aud", f"/audits/{audit.pk}/"),
        "compliance-dashboard": ("admin", "/dashboard/"),
        "benchmark-version": ("aud", f"/benchmark/versions/{h.version.pk}/"),
    }
    pages = {}
    written = []
    for name, (username, path) in shots.items():
        if username not in pages:
            pages[username] = login(new_page(), live_server, username)
        page = pages[username]
        clear_problems(page)
        response = page.goto(url(live_server, path))
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("networkidle")
        if name in ("irb-evidence", "audit", "compliance-dashboard"):
            expect(page.locator("figure.chart svg").first).to_be_visible()
        assert not page_problems(page), (name, page_problems(page))
        written.append(save_screenshot(page, name))

    for path in written:
        assert path.stat().st_size < 1_500_000, (path, path.stat().st_size)
