"""An import job's progress counts, written while the import's own transaction is still open.

An import is one transaction (all or nothing, core.csv_reading): anything it wrote to the job row
would stay invisible to the polling page until the commit, and vanish with a rollback. So the
counts are written by a thread of their own, on that thread's own database connection, each
write a short transaction of its own: the page reads "1,500 of about 20,000 rows" while the
rows are still being written. At most one write per `interval` (the page polls every second),
the latest counts only.

The import's transaction never touches the job row until `close()` has joined the thread, so
the two never wait on each other's row lock.
"""

from __future__ import annotations

import logging
import threading
import uuid

from django.db import DatabaseError, connection

from core.tenancy.rls import tenant_scope
from review.models import IMPORT_WORKING, ImportJob

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


class JobProgress:
    """Counts for one job, written in the background; `close()` when the step ends."""

    def __init__(self, *, tenant_id: uuid.UUID, job_id: uuid.UUID, interval: float = INTERVAL_SECONDS) -> None:
        self._tenant_id = tenant_id
        self._job_id = job_id
        self._interval = interval
        self._lock = threading.Lock()
        self._counts: tuple[int, int | None] = (0, None)
        self._written: tuple[int, int | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"import-progress-{job_id}", daemon=True)
        self._thread.start()

    def started(self, line_count: int) -> None:
        """The CSV reader's `on_start`: the file's physical lines, so about this many rows after the header."""
        with self._lock:
            self._counts = (self._counts[0], max(line_count - 1, 0))

    def advanced(self, rows: int) -> None:
        """The CSV reader's `progress`: rows read so far."""
        with self._lock:
            total = self._counts[1]
            # Quoted line breaks make the line count an estimate; never show more done than there is.
            self._counts = (rows, None if total is None else max(total, rows))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                self._write()
        except DatabaseError:
            # The counts are a courtesy: the import goes on, and its end writes the final ones.
            logger.exception("Import job %s: progress counts could not be written", self._job_id)
        finally:
            connection.close()  # this thread's own connection

    def _write(self) -> None:
        with self._lock:
            counts = self._counts
        if counts == self._written:
            return
        with tenant_scope(self._tenant_id):
            ImportJob.objects.for_tenant(self._tenant_id).filter(pk=self._job_id, status__in=IMPORT_WORKING).update(
                rows_done=counts[0], rows_total=counts[1]
            )
        self._written = counts
