"""The site's own table: rate counters shared by every process (core.rate_counters)."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """Hits of one key (a tenant's API budget, an IP's, a sign-in account's failures) in its
    current window. Written only by `core.rate_counters`, with one atomic upsert per hit."""

    key = models.CharField(max_length=255, primary_key=True)
    hits = models.BigIntegerField()
    window_ends = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(hits__gt=0), name="ratecounter_hits_gt_0")]

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"
