"""The Locust file `bench/load_floor.py` runs: each user posts to /write/ over and over, either as
fast as answers come (LOAD_RATE 0) or at LOAD_RATE writes/s shared among all users."""
from __future__ import annotations

import os

from locust import FastHttpUser, constant, constant_throughput, task

RATE = float(os.environ.get("LOAD_RATE", "0"))
USERS = int(os.environ["LOAD_USERS"])


class Writer(FastHttpUser):
    wait_time = constant_throughput(RATE / USERS) if RATE else constant(0)

    @task
    def write(self) -> None:
        self.client.post("/write/", name="POST write")
