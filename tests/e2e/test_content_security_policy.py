"""Every page works under the Content-Security-Policy: Chromium reports no violation on the participant
and staff pages, and what used to be inline script (the graph, htmx's form reset, the leaderboard's
filter) still runs from static files."""
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant
from elicitation.services import statements as statement_services
from tests.e2e.test_moral_graph_page import graph_study
from tests.support.artifacts import model_publish, toy_target
from training.services import runs as run_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before its own scripts (Playwright injects it past the CSP) and reports
# each violation, including those that Chromium does not log to the console.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def watched(page):
    """The page, and the CSP violations it reports: console messages and violation events, with the URL."""
    violations = []
    page.on("console", lambda msg: violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    page.expose_binding("reportCspViolation", lambda source, text: violations.append(f"{source['page'].url}: {text}"))
    page.add_init_script(REPORT_VIOLATIONS)
    return page, violations


@pytest.fixture
def study(tmp_path, settings, monkeypatch):
    """An open campaign with every activity, a moral graph, opinion groups, and a target with a run and a model."""
    settings.MEDIA_ROOT = tmp_path / "media"
    campaign, _ = graph_study()
    campaign.activities = ["interview", "voting", "upgrades", "principles", "comparisons"]
    campaign.save()
    voters = [Participant.objects.create(campaign=campaign, consented_at=timezone.now()) for _ in range(3)]
    statements = [statement_services.statement_submit(participant=voters[0], text=t)
                  for t in ("Wages should rise with rents.", "Small firms need time.", "Prices will go up.")]
    for voter, choices in zip(voters, [("agree", "agree", "disagree"), ("agree", "agree", "disagree"),
                                       ("disagree", "disagree", "agree")]):
        for statement, choice in zip(statements, choices):
            statement_services.statement_vote_cast(participant=voter, statement=statement, choice=choice)

    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)  # no broker needed
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    settings.CHORUS_BASE_MODEL_DIRS = [tmp_path]  # the server offers it as a base model
    target = toy_target()
    run = run_services.run_create(target=target, method="salmon", base_model=str(base), config={})
    run = run_services.run_claim(run_id=run.pk, worker="tests@here", device="cpu")
    for step, loss in enumerate([0.9, 0.7, 0.6]):
        run_services.run_metric_add(claim=run_services.Claim(run.pk, run.attempt), step=step, values={"loss": loss})
    return {"campaign": campaign, "target": target, "run": run, "model": model_publish(target=target, base_model=base)}


def visit(page, url):
    response = page.goto(url)
    assert response.ok, (url, response.status)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # deferred scripts and htmx's "load" requests
    return response


def test_the_policy_header_is_strict(client):
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_no_page_violates_the_policy(watched, live_server, study, staff_user, scripted_llm):
    page, violations = watched
    campaign, url = study["campaign"], live_server.url
    question = campaign.questions.get()

    header = visit(page, f"{url}/").headers["content-security-policy"]
    assert "script-src 'self'" in header

    # The detector works: an inline script added now is refused and reported.
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = '1'; document.body.append(s); }")
    page.wait_for_timeout(300)
    assert violations and "script-src" in violations[-1]
    violations.clear()

    # A participant: consent, interview (htmx posts, the reply streams, the form empties), every activity.
    visit(page, f"{url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name=campaign.title)).to_be_visible()
    visit(page, f"{url}/c/{campaign.slug}/q/{question.pk}/interview/")
    page.get_by_label(re.compile("Your answer|Anything else")).fill("My sister once had to choose alone.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".reply-state").last).to_have_text("", timeout=30_000)  # the stream finished
    expect(page.locator("#chat-text")).to_have_value("")  # chorus.js reset the form (was hx-on)
    for path in (f"q/{question.pk}/vote/", "upgrades/", "statements/", "statements/groups/", "compare/"):
        visit(page, f"{url}/c/{campaign.slug}/{path}")
    expect(page.get_by_role("heading", name=re.compile("system message", re.I)).first).to_be_visible()

    # A curator.
    visit(page, f"{url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    visit(page, f"{url}/c/{campaign.slug}/graph/")
    expect(page.locator(".graph-node")).to_have_count(4)  # graph.js ran and fetched its data
    page.get_by_label(re.compile("Split agreement")).press("Enter")  # the controls never submit the form
    expect(page).to_have_url(re.compile(r"/graph/$"))

    visit(page, f"{url}/dashboard/campaigns/{campaign.pk}/leaderboard/")
    page.get_by_label(re.compile("Only system messages")).select_option("style")
    expect(page).to_have_url(re.compile(r"dimension=style"))  # chorus.js submitted the filter (was onchange)

    dashboard = [
        "", f"campaigns/{campaign.pk}/", f"campaigns/{campaign.pk}/edit/", f"campaigns/{campaign.pk}/values/", "principles/", "constitutions/",
        "statements/", f"statements/campaigns/{campaign.pk}/", "targets/", f"targets/{study['target'].pk}/",
        "runs/new/", f"runs/{study['run'].pk}/", f"models/{study['model'].pk}/", "tokens/", "playground/",
        "imports/mai/",
    ]
    for path in dashboard:
        visit(page, f"{url}/dashboard/{path}")
    expect(page.locator("body")).to_contain_text("MAI")
    staff_user.is_superuser = True  # to see the admin's lists and forms too
    staff_user.save()
    for path in ("/admin/", "/admin/auth/user/", "/admin/auth/user/add/", "/api/v1/docs/"):
        visit(page, f"{url}{path}")
    expect(page.locator("#swagger-ui")).to_contain_text("Chorus API")  # Swagger UI's start-up script ran
    page.goto(f"{url}/api/v1/campaigns/")  # DRF's browsable page, here refusing a browser without a token
    page.wait_for_timeout(300)

    assert violations == [], "\n".join(violations)
