"""A curator queues a run from the form, watches it train live in a real browser, and cancels it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from training.models import TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_queue_watch_progress_and_loss_then_cancel(page, live_server, staff_user, celery_workers, toy_target,
                                                  tiny_model_dir):
    page.goto(f"{live_server.url}/login/?next=/dashboard/targets/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="toy v1").click()
    expect(page.locator('[data-provenance="principles"]')).to_have_text("2")
    page.get_by_role("link", name="Train salmon on this target").click()

    page.get_by_label("Base model").select_option(str(tiny_model_dir))
    settings = {"max_steps": "100000", "save_steps": "100000", "max_new_tokens": "12", "pairs_per_prompt": "2",
                "principles_per_example": "2", "max_length": "256", "logging_steps": "5",
                "per_device_batch_size": "16", "learning_rate": "0.002", "temperature": "abc"}
    for name, value in settings.items():
        page.fill(f"#config-{name}", value)
    page.get_by_role("button", name="Queue the run").click()
    expect(page.locator('[data-error="temperature"]')).to_have_text("Enter a number.")  # refused, field by field
    page.fill("#config-temperature", "")
    page.get_by_role("button", name="Queue the run").click()

    expect(page).to_have_url(re.compile(r"/dashboard/runs/\d+/$"))
    expect(page.locator("[data-status]")).to_have_text("Running", timeout=60_000)  # swapped in by htmx polling
    expect(page.locator("#loss-curve polyline")).to_be_attached(timeout=60_000)
    progress = float(page.locator("#run-progress").get_attribute("value"))
    expect(page.locator("#run-progress")).not_to_have_attribute("value", f"{progress:.3f}", timeout=30_000)
    expect(page.locator("#run-log")).to_contain_text("pairs had a verdict")

    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("[data-status]")).to_have_text("Cancelled", timeout=20_000)
    assert TrainingRun.objects.get().status == "cancelled"
