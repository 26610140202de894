"""A curator imports a preference file from the dashboard in a real browser: the worker checks it,
and the same page shows the target made, or the row that refused the file."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from training.models import AlignmentTarget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = [{"judge": f"annotator-{i % 3}", "prompt": f"Question {i}?", "chosen": f"A careful answer {i}.",
         "rejected": f"A careless answer {i}."} for i in range(12)]


def test_import_a_file_and_see_the_target_then_a_refusal_with_its_line(page, live_server, staff_user,
                                                                       celery_workers, tmp_path):
    good = tmp_path / "study.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    bad = tmp_path / "broken.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in [*ROWS[:7], {**ROWS[7], "prompt": ""}, *ROWS[8:]]))

    page.goto(f"{live_server.url}/login/?next=/dashboard/targets/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Import a preference dataset").click()

    page.set_input_files("#file", str(good))
    page.fill("#name", "study")
    page.fill("#map", "user=judge")
    page.get_by_role("button", name="Upload and import").click()
    expect(page).to_have_url(re.compile(r"/dashboard/targets/import/\?job=\d+$"))
    expect(page.locator("#import-status [data-status]")).to_have_text("Imported", timeout=60_000)  # polled in
    expect(page.locator('[data-count="pairs"]')).to_have_text("12")
    expect(page.locator('[data-count="users"]')).to_have_text("3")
    page.locator("[data-target-link]").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("study")
    assert AlignmentTarget.objects.get().files.get(name="preferences.jsonl").rows == 12

    page.goto(f"{live_server.url}/dashboard/targets/import/")
    page.set_input_files("#file", str(bad))
    page.fill("#name", "study")
    page.fill("#map", "user=judge")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#import-status [data-status]")).to_have_text("Refused", timeout=60_000)
    expect(page.locator('#import-problems tr[data-line="8"]')).to_contain_text("prompt")
    expect(page.locator('#import-problems tr[data-line="8"]')).to_contain_text("broken.jsonl")
    assert AlignmentTarget.objects.count() == 1
