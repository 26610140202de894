"""The Locust file `bench/load.py` runs: simulated participants taking part in a campaign through its
pages, as a browser would (no JavaScript: forms, redirects, the htmx statement vote, the two SSE
streams of a comparison).

Each user is one participant at a time: it joins by the signed link, consents, votes on values,
answers its upgrade stories, votes on statements (sometimes writes one), writes a system message
and judges comparisons; then it drops its cookies and joins again as a new participant. One Locust
task is one request, so `--stop-timeout` lets every request in flight finish and be recorded.

Every write the server acknowledged (the redirect or page a success answers with) is recorded with
the participant's session key and written to LOAD_ACKS as JSON lines when Locust quits; the bench
reconciles them with the database. Settings come from the environment (see `bench/load.py`).
"""
from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task

JOIN_PATH = os.environ["LOAD_JOIN_PATH"]
SLUG = os.environ["LOAD_SLUG"]
QUESTION_ID = int(os.environ["LOAD_QUESTION_ID"])
ACKS_PATH = os.environ["LOAD_ACKS"]
THINK = float(os.environ.get("LOAD_THINK", "0.3"))
STATEMENT_VOTES = int(os.environ.get("LOAD_STATEMENT_VOTES", "6"))
COMPARISONS = int(os.environ.get("LOAD_COMPARISONS", "2"))
IDLE_CONNECTION_SECONDS = 1.5  # gunicorn keeps an idle connection open for 2 s (--keep-alive, default)
UPGRADES = 3  # the cap per participant (elicitation.services.moral_graph.UPGRADES_PER_PARTICIPANT)

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PICKABLE = re.compile(r'name="picked" value="(\d+)"')
STORY = re.compile(r'name="story" value="(\d+)"')
STATEMENT = re.compile(r'name="statement" value="(\d+)"')
COMPARISON = re.compile(r"/compare/(\d+)/$")

ACKS: list[dict] = []  # every acknowledged write of every user in this process


@events.quitting.add_listener
def _write_acks(environment, **_kw) -> None:
    with open(ACKS_PATH, "w") as out:
        for ack in ACKS:
            out.write(json.dumps(ack) + "\n")


class Refused(Exception):
    """The server did not acknowledge a step; the participant starts over."""


class Participant(FastHttpUser):
    wait_time = between(THINK * 0.5, THINK * 1.5)

    def on_start(self) -> None:
        self.steps = self._flow()
        self.idle_since = time.monotonic()

    @task
    def step(self) -> None:
        if time.monotonic() - self.idle_since > IDLE_CONNECTION_SECONDS:
            # gunicorn has closed this idle keep-alive connection (or is about to). A browser sees the
            # close and opens a new one; a client that sends a POST into the closed socket gets no
            # answer, and must not retry it (it cannot know whether the server ran it).
            self.client.client.clientpool.close()
        try:
            next(self.steps)
        except (StopIteration, Refused):
            self.steps = self._flow()
        finally:
            self.idle_since = time.monotonic()

    # The flow, one request per step ------------------------------------------------------------

    def _flow(self) -> Iterator[None]:
        self.client.cookiejar.clear()
        self.csrf = ""
        self.session = ""
        base = f"/c/{SLUG}"
        self._page("GET", JOIN_PATH, "GET join")
        yield
        self._post(JOIN_PATH, {"consent": "yes"}, "POST join", expect=f"{base}/")
        self.session = self._session_key()
        self._ack("join")
        yield

        self._page("GET", f"{base}/", "GET home")
        yield
        vote_url = f"{base}/q/{QUESTION_ID}/vote/"
        shown = PICKABLE.findall(self._page("GET", vote_url, "GET vote"))
        yield
        picked = sorted(random.sample(shown, min(2, len(shown))), key=int)
        self._post(vote_url, {"picked": picked}, "POST vote", expect=f"{base}/")
        self._ack("value_votes", QUESTION_ID, [int(p) for p in picked])
        yield

        for _ in range(UPGRADES):
            found = STORY.search(self._page("GET", f"{base}/upgrades/", "GET upgrades"))
            yield
            if not found:
                break
            relationship = random.choice(["upgrade", "no_upgrade", "not_sure"])
            self._post(f"{base}/upgrades/", {"story": found[1], "relationship": relationship}, "POST upgrade",
                       expect=f"{base}/upgrades/")
            self._ack("upgrade", int(found[1]), relationship)
            yield

        page = self._page("GET", f"{base}/statements/", "GET statements")
        yield
        for _ in range(STATEMENT_VOTES):
            found = STATEMENT.search(page)
            if not found:
                break
            choice = random.choice(["agree", "disagree", "pass"])
            page = self._post(f"{base}/statements/vote/", {"statement": found[1], "choice": choice},
                              "POST statement vote", headers={"HX-Request": "true"})
            self._ack("statement_vote", int(found[1]), choice)
            yield
        if random.random() < 0.25:
            text = f"Statement {self.session[:12]} {random.randrange(10**9)}: an assistant should say what it does not know."
            self._post(f"{base}/statements/", {"text": text}, "POST statement", expect=f"{base}/statements/")
            self._ack("statement", text, "agree")  # a new statement counts as its author's agree
            yield

        self._page("GET", f"{base}/compare/", "GET compare")
        yield
        self._post(f"{base}/compare/", {"action": "system_message", "text": "Answer briefly and plainly."},
                   "POST system message", expect=f"{base}/compare/")
        self._ack("system_message")
        yield
        for _ in range(COMPARISONS):
            location = self._post(f"{base}/compare/", {"action": "compare", "prompt": "What should I do?"},
                                  "POST compare", location=True)
            found = COMPARISON.search(location)
            if not found:
                raise Refused
            comparison = f"{base}/compare/{found[1]}/"
            self._ack("comparison", int(found[1]))
            yield
            self._page("GET", comparison, "GET comparison")
            yield
            for side in ("a", "b"):
                body = self._page("GET", f"{comparison}stream/{side}/", "GET stream")
                if "event: done" not in body or "event: failed" in body:
                    raise Refused
            yield
            choice = random.choice(["left", "right", "tie", "both_bad"])
            self._post(comparison, {"choice": choice}, "POST judge", expect=f"{base}/compare/")
            self._ack("judgement", int(found[1]), choice)
            yield

    # Requests ----------------------------------------------------------------------------------

    def _page(self, method: str, url: str, name: str) -> str:
        with self.client.request(method, url, name=name, catch_response=True, allow_redirects=False) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                raise Refused
            body = response.text or ""
        token = CSRF.search(body)
        if token:
            self.csrf = token[1]
        return body

    def _post(self, url: str, data: dict, name: str, *, expect: str | None = None, location: bool = False,
              headers: dict | None = None) -> str:
        """POSTs a form. With `expect` or `location` success is a redirect (to `expect`); otherwise a 200 page."""
        fields = [("csrfmiddlewaretoken", self.csrf)]
        for key, value in data.items():
            fields += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
        wanted = 302 if expect is not None or location else 200
        with self.client.post(url, data=urlencode(fields), name=name, catch_response=True, allow_redirects=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
                              ) as response:
            if response.status_code != wanted:
                response.failure(f"{response.status_code}")
                raise Refused
            where = response.headers.get("Location", "") if wanted == 302 else ""
            if expect is not None and where != expect:
                response.failure(f"redirected to {where}")
                raise Refused
            body = response.text or ""
            if wanted == 200 and 'role="alert"' in body:
                response.failure("refused: " + body.split('role="alert">', 1)[1].split("<", 1)[0])
                raise Refused
        token = CSRF.search(body)
        if token:
            self.csrf = token[1]
        return where or body

    def _session_key(self) -> str:
        for cookie in self.client.cookiejar:
            if cookie.name == "sessionid":
                return cookie.value
        raise Refused

    def _ack(self, kind: str, key=None, value=None) -> None:
        ACKS.append({"session": self.session, "kind": kind, "key": key, "value": value, "at": time.time()})
