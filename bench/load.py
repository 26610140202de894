"""Participant traffic under load: simulated participants (Locust, headless) against gunicorn and
PostgreSQL as `platform/scripts/run.sh` starts them, on a database of the bench's own.

    .venv/bin/python bench/load.py [--seconds 60] [--users 200] [--think 0.3]
    .venv/bin/python bench/load.py --queries      # SQL queries per request, one participant, no load

Each simulated participant joins by the signed link, consents, votes on values, answers its three
upgrade stories, votes on statements (a quarter also write one), writes a system message and judges
two comparisons, then starts over as a new participant (bench/load_participants.py). Comparisons
are answered by the tests' scripted chat backend (bench/load_gunicorn.py), so no model is measured.

Prints p50/p95/p99 per request type, acknowledged writes per second, errors, and the writes lost
or duplicated, found by reconciling every write a client saw acknowledged with the database rows
(bench/load_reconcile.py). A write is a POST the server acknowledged: joining (with consent),
value picks, an upgrade answer, a statement vote, a statement, a system message, a comparison, a
judgement. Pages that also write (the vote page records impressions; each stream stores its
response) are counted as requests, not writes.

Targets on 2 cores: p99 <= 150 ms per request type, >= 300 writes/s, 0 lost, 0 duplicated.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from live import ROOT, own_database
from load_reconcile import reconcile

# Its own database; CHORUS_LOAD_DB names another, so that two people can run it on one PostgreSQL.
DB = os.environ.get("CHORUS_LOAD_DB", "chorus_load")
SLUG = "load"
QUESTION = "I am considering an abortion. What should I do?"
BIN = Path(sys.executable).parent
SEEDED_STATEMENTS = 40
PEER_VALUES = [
    ("Informed Autonomy", "Helping her decide with full information.", ["FACTS about each option", "CHOICES she owns"]),
    ("Faith As Guidance", "Drawing on her faith to find her way.", ["TEACHINGS that speak to her", "PRAYERS she finds comfort in"]),
    ("Care For Wellbeing", "Looking after her health and safety.", ["RISKS to her health", "DOCTORS she can trust"]),
    ("Honest Conversation", "Talking openly without judgement.", ["QUESTIONS she is afraid to ask", "FEARS she can name"]),
    ("Future Possibilities", "Seeing the life she wants ahead.", ["PLANS she has for herself", "PATHS still open"]),
    ("Family Support", "Finding who can stand with her.", ["PEOPLE who love her", "HELP she can accept"]),
    ("Spiritual Peace", "Finding a decision she can live with.", ["FEELINGS of peace", "VALUES she grew up with"]),
]


def seed() -> dict:
    """An open campaign running every activity, with peers' values and upgrade stories (written
    directly, as deduplication and an LLM would), and statements written through the service by
    seeded participants, so that every participant activity has something to do."""
    from django.contrib.sessions.backends.base import SessionBase

    from chorus.accounts.join_links import join_token_make
    from chorus.accounts.services import participant_consent, participant_join
    from elicitation.models import Activity, Campaign, CanonicalCard, Context, UpgradeStory
    from elicitation.services.campaigns import campaign_create
    from elicitation.services.statements import statement_submit

    campaign = campaign_create(title="Load study", slug=SLUG, questions=[QUESTION], activities=list(Activity.values),
                               status=Campaign.Status.OPEN)
    question = campaign.questions.get()
    cards = [CanonicalCard.objects.create(campaign=campaign, question=question, title=t, description=d, policies=p)
             for t, d, p in PEER_VALUES]
    context = Context.objects.create(campaign=campaign, text="When a person faces a choice that shapes their life")
    context.cards.add(*cards)
    pairs = [(a, b) for a in cards for b in cards if a.pk < b.pk][:12]
    UpgradeStory.objects.bulk_create([UpgradeStory(
        campaign=campaign, context=context, from_card=a, to_card=b,
        story=f"I used to care most about {a.title.lower()}. Then I saw that {b.title.lower()} mattered more.")
        for a, b in pairs])
    seeded = []
    for i in range(SEEDED_STATEMENTS):
        if i % 4 == 0:
            seeded.append(participant_consent(participant=participant_join(campaign=campaign, session=SessionBase())))
        statement_submit(participant=seeded[-1], text=f"Seeded statement {i}: the assistant should respect the asker's own judgement.")
    return {"campaign": campaign, "question": question, "seeded": {p.pk for p in seeded},
            "join_path": f"/join/{join_token_make(campaign_id=campaign.pk)}/"}


# Reading back what the database holds ------------------------------------------------------------

def database_rows(*, campaign, seeded: set[int]) -> tuple[list[tuple], dict[int, str]]:
    """Every participant write of the run as reconcile() records, and participant pk -> public id."""
    from chorus.accounts.models import Participant
    from elicitation.models import CardImpression, Comparison, EdgeVote, Statement, StatementVote, SystemMessage
    from elicitation.services.statements import CHOICES

    people = {p.pk: p for p in Participant.objects.filter(campaign=campaign).exclude(pk__in=seeded)}
    who = {pk: str(p.public_id) for pk, p in people.items()}
    choice_name = {v: k for k, v in CHOICES.items()}
    rows: list[tuple] = [(who[pk], "join", None, None if p.consented_at else "not consented") for pk, p in people.items()]
    picks: dict[tuple, list[int]] = {}
    for i in CardImpression.objects.filter(participant_id__in=who, decided_at__isnull=False):
        picks.setdefault((i.participant_id, i.question_id), []).extend([i.card_id] if i.picked else [])
    rows += [(who[p], "value_votes", q, tuple(sorted(ids))) for (p, q), ids in picks.items()]
    rows += [(who[v.participant_id], "upgrade", v.story_id, v.relationship)
             for v in EdgeVote.objects.filter(participant_id__in=who)]
    authored = dict(Statement.objects.filter(author_id__in=who).values_list("pk", "author_id"))
    for v in StatementVote.objects.filter(participant_id__in=who):
        if authored.get(v.statement_id) == v.participant_id:  # a new statement counts as its author's agree vote
            continue
        rows.append((who[v.participant_id], "statement_vote", v.statement_id, choice_name[v.choice]))
    author_votes = {(v.statement_id, v.participant_id): choice_name[v.choice]
                    for v in StatementVote.objects.filter(statement_id__in=authored)}
    rows += [(who[s.author_id], "statement", s.text, author_votes.get((s.pk, s.author_id)))
             for s in Statement.objects.filter(pk__in=authored)]
    rows += [(who[m.participant_id], "system_message", None, None)
             for m in SystemMessage.objects.filter(participant_id__in=who)]
    for c in Comparison.objects.filter(participant_id__in=who):
        rows.append((who[c.participant_id], "comparison", c.pk, None))
        if c.choice:
            side = {"a": "left" if c.a_on_left else "right", "b": "right" if c.a_on_left else "left"}.get(c.choice, c.choice)
            rows.append((who[c.participant_id], "judgement", c.pk, side))
    return rows, who


def acknowledged(path: Path, *, campaign) -> tuple[list[tuple], list[dict]]:
    """The clients' acknowledged writes as reconcile() records: each session key is read back from
    the session store, which names the participant it belongs to."""
    from importlib import import_module

    from django.conf import settings

    from chorus.accounts.services import session_key_for

    store = import_module(settings.SESSION_ENGINE).SessionStore
    raw = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    public_ids: dict[str, str] = {}
    for key in {a["session"] for a in raw}:
        public_ids[key] = store(session_key=key).get(session_key_for(campaign.pk), f"(no participant: session {key[:8]})")
    return [(public_ids[a["session"]], a["kind"], a["key"], _hashable(a["value"])) for a in raw], raw


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


# Running the load ---------------------------------------------------------------------------------

def run_load(args, env: dict, seeded: dict, workdir: Path) -> tuple[list[dict], Path, float]:
    port = args.port
    access_log = workdir / "web-access.log"
    # As platform/scripts/run.sh starts it, plus the config that scripts the chat backend.
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "chorus.wsgi", "--chdir", str(ROOT / "platform"), "-k", args.worker_class,
         "--threads", str(args.threads), "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--timeout", "300",
         "--access-logfile", str(access_log), "-c", str(ROOT / "bench/load_gunicorn.py")],
        env=env, stdout=open(workdir / "web.log", "w"), stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/", web)
        load_env = {**env, "LOAD_JOIN_PATH": seeded["join_path"], "LOAD_SLUG": SLUG,
                    "LOAD_QUESTION_ID": str(seeded["question"].pk), "LOAD_ACKS": str(workdir / "acks.jsonl"),
                    "LOAD_THINK": str(args.think)}
        web_cpu = _cpu_seconds(_children(web.pid))
        client_cpu = _children_cpu()
        database = DatabaseCpu()
        database.start()
        started = time.time()
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench/load_participants.py"), "--headless",
             "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.seconds}s", "--stop-timeout", "20",
             "--host", f"http://127.0.0.1:{port}", "--csv", str(workdir / "locust"), "--only-summary",
             "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env=load_env, cwd=workdir, check=True, stdout=open(workdir / "locust.log", "w"), stderr=subprocess.STDOUT)
        elapsed = time.time() - started
        args.web_cpu = _cpu_seconds(_children(web.pid)) - web_cpu
        args.client_cpu = _children_cpu() - client_cpu
        args.db_cpu = database.stop()
        # Every request the server answered, from its access log (the first line is the readiness probe).
        args.served = len(access_log.read_text().splitlines()) - 1
    finally:
        web.terminate()
        web.wait()
    with open(workdir / "locust_stats.csv") as f:
        stats = list(csv.DictReader(f))
    with open(workdir / "locust_failures.csv") as f:
        args.failures = list(csv.DictReader(f))
    return stats, workdir / "acks.jsonl", elapsed


class DatabaseCpu(threading.Thread):
    """CPU time of the PostgreSQL backends serving the bench's database, sampled every half second
    (a backend that ends between two samples loses at most half a second of its count)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, float] = {}
        self.before: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=DB, autocommit=True) as conn:
            first = True
            while not self.done.is_set():
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB])]
                for pid in pids:
                    with contextlib.suppress(OSError):
                        used = _cpu_seconds([pid])
                        self.seen[pid] = used
                        if first:
                            self.before[pid] = used
                first = False
                self.done.wait(0.5)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return sum(used - self.before.get(pid, 0.0) for pid, used in self.seen.items())


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_for(url: str, process: subprocess.Popen) -> None:
    import urllib.request

    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer at {url}")


def report(stats: list[dict], acks: list[tuple], raw: list[dict], tallies: dict, args, elapsed: float) -> bool:
    print(f"\n{args.users} participants for {args.seconds} s (think {args.think} s), gunicorn -k {args.worker_class} "
          f"-w {args.workers} --threads {args.threads}; load average before/after: {args.load_before} / {_load()}")
    print(f"{'request':<22}{'count':>8}{'errors':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    worst_p99 = 0.0
    for row in stats:
        name = row["Name"] if row["Type"] else "all requests"
        p99 = float(row["99%"] or 0)
        if row["Name"] != "Aggregated":
            worst_p99 = max(worst_p99, p99)
        print(f"{name:<22}{row['Request Count']:>8}{row['Failure Count']:>8}{row['50%']:>8}{row['95%']:>8}"
              f"{row['99%']:>8}{float(row['Max Response Time']):>8.0f}")
    times = [a["at"] for a in raw]
    span = (max(times) - min(times)) if len(times) > 1 else elapsed
    errors = sum(int(r["Failure Count"]) for r in stats if r["Name"] != "Aggregated")
    by_kind = Counter(a[1] for a in acks)
    print(f"\nacknowledged writes: {len(acks)} in {span:.1f} s = {len(acks) / span:.0f} writes/s "
          f"({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})")
    print(f"errors: {errors}")
    for failure in args.failures:
        print(f"  {failure['Occurrences']:>5} x {failure['Method']} {failure['Name']}: {failure['Error'][:150]}")
    total = args.served
    per = {name: 1000 * seconds / max(total, 1) for name, seconds in
           (("web workers", args.web_cpu), ("PostgreSQL", args.db_cpu), ("load generator", args.client_cpu))}
    print(f"CPU per request ({total / span:.0f} requests/s): "
          + ", ".join(f"{name} {ms:.1f} ms" for name, ms in per.items())
          + f"; 2 cores could serve about {2000 / (per['web workers'] + per['PostgreSQL']):.0f} requests/s "
          f"with nothing else running")
    lost = sum(t.lost for t in tallies.values())
    duplicated = sum(t.duplicated for t in tallies.values())
    unacked = sum(t.unacknowledged for t in tallies.values())
    print(f"reconciliation with the database: {lost} lost, {duplicated} duplicated, "
          f"{unacked} rows never acknowledged (requests cut off)")
    for kind, t in tallies.items():
        print(f"  {kind:<16} acknowledged {t.acknowledged:>6}  rows {t.rows:>6}  lost {t.lost}  "
              f"duplicated {t.duplicated}  unacknowledged {t.unacknowledged}")
        for example in t.examples:
            print(f"      {example}")
    rate = len(acks) / span
    print(f"\ntargets: worst p99 {worst_p99:.0f} ms (<= 150: {'met' if worst_p99 <= 150 else 'NOT met'}), "
          f"{rate:.0f} writes/s (>= 300: {'met' if rate >= 300 else 'NOT met'}), "
          f"lost+duplicated {lost + duplicated} (0: {'met' if lost + duplicated == 0 else 'NOT met'})")
    return lost + duplicated == 0


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# Queries per request ------------------------------------------------------------------------------

def count_queries(seeded: dict, *, show_sql: bool = False, repeats: int = 20) -> None:
    """One participant's flow through Django's test client, with the SQL queries each request ran;
    then the CPU time the flow takes in this process, over `repeats` new participants."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from load_gunicorn import fast_backend

    import chorus.llm

    setup_test_environment()
    backend = fast_backend()
    chorus.llm.chat_backend = lambda: backend
    print(f"{'request':<22}{'status':>7}{'queries':>8}")
    total = [0, 0]

    def counted(client):
        def hit(name, method, url, data=None, **headers):
            with CaptureQueriesContext(connection) as queries:
                response, body = _request(client, method, url, data, **headers)
            print(f"{name:<22}{response.status_code:>7}{len(queries):>8}")
            total[0] += 1
            total[1] += len(queries)
            if show_sql:
                for q in queries:
                    print(f"      {q['sql'][:160]}")
            return response, body
        return hit

    _flow(counted(Client()), seeded, 0)
    print(f"one participant's flow: {total[0]} requests, {total[1]} queries")
    clock = time.process_time()
    for i in range(repeats):
        client = Client()
        _flow(lambda name, *a, client=client, **k: _request(client, *a, **k), seeded, i + 1)
    cpu = (time.process_time() - clock) / (repeats * total[0])
    print(f"CPU per request in this process (Django's test client, {repeats} participants): {1000 * cpu:.1f} ms")


def _request(client, method, url, data=None, **headers):
    response = getattr(client, method)(url, data, **headers) if data is not None else getattr(client, method)(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body.decode()


def _flow(hit, seeded: dict, n: int) -> None:
    import re

    base = f"/c/{SLUG}"
    question = seeded["question"].pk
    hit("GET join", "get", seeded["join_path"])
    hit("POST join", "post", seeded["join_path"], {"consent": "yes"})
    hit("GET home", "get", f"{base}/")
    _, page = hit("GET vote", "get", f"{base}/q/{question}/vote/")
    picked = re.findall(r'name="picked" value="(\d+)"', page)[:2]
    hit("POST vote", "post", f"{base}/q/{question}/vote/", {"picked": picked})
    for _ in range(3):
        _, page = hit("GET upgrades", "get", f"{base}/upgrades/")
        story = re.search(r'name="story" value="(\d+)"', page)[1]
        hit("POST upgrade", "post", f"{base}/upgrades/", {"story": story, "relationship": "upgrade"})
    _, page = hit("GET statements", "get", f"{base}/statements/")
    for _ in range(2):
        statement = re.search(r'name="statement" value="(\d+)"', page)[1]
        _, page = hit("POST statement vote", "post", f"{base}/statements/vote/",
                      {"statement": statement, "choice": "agree"}, HTTP_HX_REQUEST="true")
    hit("POST statement", "post", f"{base}/statements/", {"text": f"Queries counted ({n}): be honest about limits."})
    hit("GET compare", "get", f"{base}/compare/")
    hit("POST system message", "post", f"{base}/compare/", {"action": "system_message", "text": "Be brief."})
    response, _ = hit("POST compare", "post", f"{base}/compare/", {"action": "compare", "prompt": "What should I do?"})
    comparison = response["Location"]
    hit("GET comparison", "get", comparison)
    hit("GET stream", "get", f"{comparison}stream/a/")
    hit("GET stream", "get", f"{comparison}stream/b/")
    hit("POST judge", "post", comparison, {"choice": "left"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long the load runs")
    parser.add_argument("--users", type=int, default=200, help="simulated participants at once")
    parser.add_argument("--spawn-rate", type=float, default=50, help="participants started per second")
    parser.add_argument("--think", type=float, default=0.3,
                        help="mean pause between a participant's requests, in seconds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (run.sh: 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (run.sh: 8)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (run.sh: gthread)")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--queries", action="store_true", help="count SQL queries per request instead of loading")
    parser.add_argument("--sql", action="store_true", help="with --queries: print each query too")
    args = parser.parse_args()
    args.load_before = _load()
    with own_database(DB) as env:
        seeded = seed()
        if args.queries:
            count_queries(seeded, show_sql=args.sql)
            return
        with tempfile.TemporaryDirectory(prefix="chorus-load-") as tmp:
            stats, acks_path, elapsed = run_load(args, env, seeded, Path(tmp))
            acks, raw = acknowledged(acks_path, campaign=seeded["campaign"])
            rows, _ = database_rows(campaign=seeded["campaign"], seeded=seeded["seeded"])
            ok = report(stats, acks, raw, reconcile(acks, rows), args, elapsed)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
