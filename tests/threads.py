"""Real threads with their own database connections, for the concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def in_thread(target: Callable[[], T], results: list[T], errors: list[BaseException]) -> threading.Thread:
    """Start `target` in a thread of its own; its result or exception is appended to the lists.

    The thread's connection is closed at its end (and with it any session lock it held), so a
    test's threads never leak connections into the next test.
    """

    def work() -> None:
        try:
            results.append(target())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread
