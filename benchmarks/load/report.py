"""The load test's report: the figures it prints and the checks that decide its exit status.

The checks look at the database, not only at the answers: no 5xx and no request without an
answer; every key produced exactly one invoice; every invoice has exactly one match result; no
matching run failed; `verify_audit` passes for the tenant; and every web server answered requests
and every cluster ran matching (their logs), so the guarantees held across machines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.load.clients import INVOICES_PATH, TRANSPORT_ERROR, Outcome
from benchmarks.load.services import RunningServices
from benchmarks.measures import percentile
from invoices.models import Invoice
from matching.models import MatchResult, MatchRun
from tenants.models import IdempotencyRecord, Tenant

# gunicorn.conf.py's access line: `… "POST /api/invoices HTTP/1.1" 201 2345 227ms …`.
ACCESS_LOG_POST = re.compile(rf'"POST {INVOICES_PATH} HTTP/[\d.]+" \d+ \S+ (\d+)ms')
# matching.services' line at the end of each run, which the clusters log (load_services).
RUN_LOG = re.compile(r"Matching run [0-9a-f-]+: (\w+), (\d+) matched")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class LoadReport:
    tenant: Tenant
    clients: int
    seconds: float  # first request sent to last answer received
    outcomes: list[Outcome]
    documents_built: int
    documents_rebilled: int
    concurrent_retries: int  # deliberate retries sent at the same moment as their original
    drain_seconds: float
    services: RunningServices
    invoices: int = 0
    match_results: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    audit: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def status_counts(self) -> Counter[int]:
        return Counter(outcome.status for outcome in self.outcomes)

    def latency_ms(self, share: float) -> float:
        return percentile([outcome.latency_us for outcome in self.outcomes], share) / 1000

    def server_ms_by_web(self) -> dict[str, list[int]]:
        """Each POST's time inside gunicorn, by web server (their access logs)."""
        return {
            name: [int(match[1]) for match in ACCESS_LOG_POST.finditer(path.read_text(errors="replace"))]
            for name, path in self.services.logs_of("web").items()
        }

    def server_ms(self) -> list[int]:
        """Each POST's time inside gunicorn: the latency without the wait for a worker."""
        return [ms for times in self.server_ms_by_web().values() for ms in times]

    def runs_by_cluster(self) -> dict[str, Counter[str]]:
        """The matching runs each cluster logged, by status, and `matched`: the invoices they matched."""
        by_cluster = {}
        for name, path in self.services.logs_of("worker").items():
            runs: Counter[str] = Counter()
            for match in RUN_LOG.finditer(path.read_text(errors="replace")):
                runs[match[1]] += 1
                runs["matched"] += int(match[2])
            by_cluster[name] = runs
        return by_cluster

    def render(self) -> str:
        outcomes = self.outcomes
        requests = len(outcomes)
        sent = [outcome for outcome in outcomes if outcome.attempt == 0]
        server = self.server_ms()
        retries = sum(outcome.retry for outcome in sent)
        keys = {outcome.key for outcome in outcomes}
        statuses = ", ".join(
            f"{'no answer' if status == TRANSPORT_ERROR else status} {count}"
            for status, count in sorted(self.status_counts.items())
        )
        lines = [
            f"Tenant: {self.tenant.slug}",
            f"Load: {self.clients} clients for {self.seconds:.1f} s; {len(keys)} keys, "
            f"{self.documents_built} documents built, {self.documents_rebilled} re-billed past the pool",
            f"Requests: {requests} ({requests / self.seconds:.1f}/s); deliberate retries {retries} "
            f"({retries / max(1, len(sent)):.1%} of {len(sent)} sends, {self.concurrent_retries} alongside their "
            f"original); in-flight 409s {sum(o.in_flight for o in outcomes)} (sent again "
            f"{requests - len(sent)}); replays {sum(o.replayed for o in outcomes)}",
            f"Latency (ms): p50 {self.latency_ms(0.50):.0f}, p95 {self.latency_ms(0.95):.0f}, "
            f"p99 {self.latency_ms(0.99):.0f}, max {self.latency_ms(1.0):.0f}",
            "Server time (ms, gunicorn access log): "
            + (f"p50 {percentile(server, 0.5)}, p99 {percentile(server, 0.99)}" if server else "not found"),
            f"Statuses: {statuses}",
            "Web servers (POSTs answered): "
            + ", ".join(f"{name} {len(times)}" for name, times in self.server_ms_by_web().items()),
            "Clusters (matching runs): "
            + "; ".join(_cluster_runs(name, runs) for name, runs in self.runs_by_cluster().items()),
            f"Matching drained {self.drain_seconds:.1f} s after the load; invoices {self.invoices}, "
            f"match results {self.match_results}; runs "
            + ", ".join(f"{status} {count}" for status, count in sorted(self.runs.items())),
            f"Audit: {self.audit}",
            "Checks:",
            *(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}" for check in self.checks),
            "Logs: " + ", ".join(f"{name} {path}" for name, path in self.services.logs.items()),
        ]
        return "\n".join(lines)


def _cluster_runs(name: str, runs: Counter[str]) -> str:
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(runs.items()) if status != "matched")
    return f"{name} {statuses or 'none'} ({runs['matched']} invoices matched)"


def load_checks(report: LoadReport) -> list[Check]:
    tenant, outcomes = report.tenant, report.outcomes
    checks = []
    server_errors = sum(count for status, count in report.status_counts.items() if status >= 500)
    unanswered = report.status_counts[TRANSPORT_ERROR]
    checks.append(
        Check("no 5xx", server_errors == 0 and unanswered == 0, f"{server_errors} 5xx, {unanswered} without an answer")
    )

    by_key: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_key.setdefault(outcome.key, []).append(outcome)
    created_by_key: dict[str, str] = {}
    bad_keys = []
    for key, answers in by_key.items():
        final = [answer for answer in answers if answer.final]
        ids = {answer.invoice_id for answer in final}
        originals = [answer for answer in final if not answer.replayed]
        if final and all(answer.status == 201 for answer in final) and len(ids) == 1 and len(originals) == 1:
            created_by_key[key] = originals[0].invoice_id or ""
        else:
            bad_keys.append(key)
    stored = set(Invoice.objects.for_tenant(tenant).values_list("id", flat=True))
    stored_ids = {str(invoice_id) for invoice_id in stored}
    records = IdempotencyRecord.objects.for_tenant(tenant).count()
    one_each = not bad_keys and set(created_by_key.values()) == stored_ids and records == len(by_key)
    detail = (
        f"{len(by_key)} keys, {len(stored_ids)} invoices, {records} stored keys; "
        f"{len(bad_keys)} keys without exactly one created invoice"
        + (
            f" (first: {bad_keys[0]}: {[(a.status, a.error_code, a.replayed) for a in by_key[bad_keys[0]]]})"
            if bad_keys
            else ""
        )
    )
    checks.append(Check("every key produced exactly one invoice", one_each, detail))

    per_invoice = Counter(MatchResult.objects.for_tenant(tenant).values_list("invoice_id", flat=True).order_by())
    unmatched = len(stored - set(per_invoice))
    rematched = sum(1 for count in per_invoice.values() if count > 1)
    checks.append(
        Check(
            "every invoice matched once",
            unmatched == 0 and rematched == 0,
            f"{unmatched} invoices without a match result, {rematched} with more than one",
        )
    )
    failed_runs = report.runs[MatchRun.Status.FAILED]
    checks.append(Check("no matching run failed", failed_runs == 0, f"{failed_runs} failed runs"))
    checks.append(Check("audit chain verifies", report.audit.startswith("OK"), report.audit))
    idle_web = [name for name, times in report.server_ms_by_web().items() if not times]
    idle_clusters = [name for name, runs in report.runs_by_cluster().items() if not runs]
    checks.append(
        Check(
            "every web server answered and every cluster matched",
            not idle_web and not idle_clusters,
            f"{len(report.services.logs_of('web'))} web servers, {len(report.services.logs_of('worker'))} clusters"
            + (f"; idle: {', '.join(idle_web + idle_clusters)}" if idle_web or idle_clusters else ""),
        )
    )
    return checks
