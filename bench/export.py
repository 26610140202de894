"""Streams 1,000,000 comparison rows from a real gunicorn web process; prints rows/s and the web
process's peak RSS (sampled from /proc while streaming). Targets: >= 100k rows/s, flat memory < 300 MB.

    .venv/bin/python bench/export.py [--rows 1000000]

Uses its own database (chorus_bench_export), created and dropped here.
"""
from __future__ import annotations

import argparse
import io
import threading
import time
import urllib.request
from pathlib import Path

from live import gunicorn, own_database

DB = "chorus_bench_export"
PORT = 8765


def rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def seed(rows: int) -> tuple[int, str]:
    """Fills the bench database with one campaign and `rows` judged comparisons, by COPY."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from chorus.accounts.models import Participant, Scope
    from chorus.accounts.services import api_token_create
    from elicitation.models import SystemMessage
    from elicitation.services.campaigns import campaign_create

    user = get_user_model().objects.create_user("bench", is_staff=True)
    _, token = api_token_create(user=user, name="bench", scopes=[Scope.READ_DATA])
    campaign = campaign_create(title="Export bench", questions=["q"], status="open")
    now = timezone.now()
    participants = Participant.objects.bulk_create(Participant(campaign=campaign, consented_at=now) for _ in range(1000))
    messages = SystemMessage.objects.bulk_create(
        SystemMessage(campaign=campaign, participant=p, text=f"Answer as participant {i} likes.",
                      dimensions={"style": "brief"}) for i, p in enumerate(participants))
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
        "COPY elicitation_comparison (campaign_id, participant_id, system_message_id, system_message_text, prompt,"
        " mode, model_a, model_b, params_a, params_b, response_a, response_b, a_on_left, choice, reason,"
        " created_at, decided_at) FROM STDIN") as copy:
        for i in range(rows):
            p, sm = participants[i % 1000], messages[i % 1000]
            copy.write_row((campaign.pk, p.pk, sm.pk, sm.text, f"Prompt number {i}: what should I do?",
                            "with_without", "m +system", "m -system", "{}", "{}",
                            f"A considered answer {i} " * 4, f"Another answer {i} " * 4, i % 2 == 0,
                            ("a", "b")[i % 2], "", now, now))
    print(f"seeded {rows:,} comparisons in {time.perf_counter() - started:.1f} s")
    return campaign.pk, token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with own_database(DB) as env:
        campaign_id, token = seed(args.rows)
        with gunicorn(env, port=PORT, workers=1) as web:
            idle = rss_mb(web.pid)
            peak, samples, done = [idle], [], threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak.append(rss_mb(web.pid))
                    samples.append(peak[-1])
                    time.sleep(0.1)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            request = urllib.request.Request(
                f"http://127.0.0.1:{PORT}/api/v1/datasets/comparisons/?campaign={campaign_id}"
                "&format=trl_conversational", headers={"Authorization": f"Bearer {token}"})
            started, lines, first = time.perf_counter(), 0, None
            with urllib.request.urlopen(request, timeout=600) as response:
                for _ in io.TextIOWrapper(response, encoding="utf-8"):
                    lines += 1
                    if first is None:
                        first = time.perf_counter() - started
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
    expected = args.rows  # every seeded comparison has a winner, so each becomes one record
    print(f"{'rows streamed':<28}{lines:>14,}  (expected {expected:,})")
    print(f"{'first row after':<28}{first * 1000:>12.0f} ms")
    print(f"{'seconds':<28}{seconds:>14.2f}")
    print(f"{'rows per second':<28}{lines / seconds:>14,.0f}  (target >= 100,000)")
    print(f"{'web RSS idle / peak':<28}{idle:>8.0f} / {max(peak):.0f} MB  (target peak < 300 MB)")
    tenth = max(1, len(samples) // 10)
    print(f"{'RSS first / last tenth':<28}{sum(samples[:tenth]) / tenth:>8.0f} / "
          f"{sum(samples[-tenth:]) / tenth:.0f} MB  (flat: no growth with rows)")
    assert lines == expected


if __name__ == "__main__":
    main()
