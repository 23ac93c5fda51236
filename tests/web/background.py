"""django-q2's worker played by a thread in browser tests: a queued job runs a moment later, as a
worker would take it, on a database connection of its own, so the page is seen waiting and
polling before the work starts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection


@contextlib.contextmanager
def jobs_run_by_a_thread(
    monkeypatch: pytest.MonkeyPatch, *, task: str, run: Callable[[str, str], object]
) -> Iterator[list[threading.Thread]]:
    """`async_task(task, tenant_id, job_id)` runs `run(tenant_id, job_id)` in a thread 1.5 s later;
    the threads are joined when the block ends."""
    threads: list[threading.Thread] = []

    def run_later(func: str, tenant_id: str, job_id: str, **options: Any) -> str:
        assert func == task

        def work() -> None:
            try:
                time.sleep(1.5)  # the page shows the waiting job and polls before the worker starts
                run(tenant_id, job_id)
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        threads.append(thread)
        thread.start()
        return job_id

    monkeypatch.setattr("django_q.tasks.async_task", run_later)
    yield threads
    for thread in threads:
        thread.join(timeout=120)
