"""The load test's HTTP clients: asyncio clients (httpx) POSTing invoices, and what each request got.

Each invoice goes out with a fresh `Idempotency-Key`; a tenth of the requests are deliberate
retries of a key (half at the same moment as the original, to the next web server when there are
several, half a re-send of a recent key, by any client to any server), and a `409
idempotency_key_in_flight` is answered as a client should: wait a little, send again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks.fixtures import UnsavedInvoice
from core.money import format_minor
from tenants.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from tenants.http.idempotency import REPLAYED_HEADER, IdempotencyInFlight

RETRY_SHARE = 0.10
# Half the retries go out with their original, half later: per new document, each kind with
# probability p, so that retries / requests = 2p / (1 + p) = RETRY_SHARE.
RETRY_EACH = RETRY_SHARE / (2 - RETRY_SHARE)
RECENT_KEYS = 2  # × clients: the keys a later re-send picks from, some still in flight
IN_FLIGHT_BACKOFF_S = 0.05
REQUEST_TIMEOUT_S = 35.0  # above gunicorn's 30 s worker timeout: its answer, not ours
INVOICES_PATH = "/api/invoices"
IN_FLIGHT_CODE = IdempotencyInFlight.code
TRANSPORT_ERROR = 0  # the status recorded for a request that got no HTTP answer


@dataclass(frozen=True)
class Outcome:
    """One HTTP request of the load: what came back and how long it took."""

    key: str
    status: int
    latency_us: int
    retry: bool  # part of a deliberate re-send of a key, not of the first request for it
    attempt: int  # 0: as the client decided to send it; 1, 2, …: sent again after a 409 in flight
    invoice_id: str | None = None
    replayed: bool = False
    error_code: str = ""

    @property
    def in_flight(self) -> bool:
        return self.status == 409 and self.error_code == IN_FLIGHT_CODE

    @property
    def final(self) -> bool:
        """An answer the client keeps (not a `retry shortly`, not a dropped connection)."""
        return self.status != TRANSPORT_ERROR and not self.in_flight


def invoice_payload(unsaved: UnsavedInvoice) -> dict[str, Any]:
    """The API body of a fixture invoice, as a source would send it (decimal strings)."""
    invoice, currency = unsaved.invoice, unsaved.invoice.currency
    payload: dict[str, Any] = {
        "invoice_number": invoice.invoice_number,
        "po_number": invoice.po_number,
        "currency": currency,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "tax_amount": format_minor(invoice.tax_amount, currency),
        "shipping_amount": format_minor(invoice.shipping_amount, currency),
        "total_amount": format_minor(invoice.total_amount, currency),
        "tax_rate": str(invoice.tax_rate) if invoice.tax_rate is not None else None,
        "lines": [
            {
                "line_number": line.line_number,
                "sku": line.sku,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "amount": format_minor(line.amount, currency),
                "po_line_number": line.po_line_number,
            }
            for line in unsaved.lines
        ],
    }
    if invoice.vendor_id is not None:
        payload["vendor_id"] = str(invoice.vendor_id)
    else:
        payload["vendor_tax_id"] = invoice.vendor_tax_id_raw
        payload["vendor_name"] = invoice.vendor_name_raw
    return payload


@dataclass(frozen=True)
class _Request:
    key: str
    body: bytes


class LoadClients:
    """The clients' shared state: the next document, the recent keys, every outcome."""

    def __init__(self, *, payloads: list[dict[str, Any]], clients: int, duration: float, run_id: str) -> None:
        self.payloads = payloads
        self.duration = duration
        self.run_id = run_id
        self.sent = 0
        self.recent: deque[_Request] = deque(maxlen=RECENT_KEYS * clients)
        self.outcomes: list[Outcome] = []
        self.rebilled = 0
        self.concurrent_retries = 0
        self.deadline = 0.0
        self.hard_deadline = 0.0

    def new_request(self) -> _Request:
        index = self.sent
        self.sent += 1
        payload = self.payloads[index % len(self.payloads)]
        billing = index // len(self.payloads)
        if billing:
            # Past the pool: the same PO billed again, under a number of its own.
            self.rebilled += 1
            payload = {**payload, "invoice_number": f"{payload['invoice_number']}-{billing + 1}"}
        request = _Request(key=f"load-{self.run_id}-{index:07d}", body=json.dumps(payload).encode())
        self.recent.append(request)
        return request

    async def send(self, client: httpx.AsyncClient, request: _Request, *, retry: bool) -> None:
        """POST until a final answer: a 409 in flight or a dropped connection is sent again."""
        for attempt in itertools.count():
            started = time.perf_counter()
            try:
                response = await client.post(
                    INVOICES_PATH,
                    content=request.body,
                    headers={IDEMPOTENCY_HEADER: request.key, "Content-Type": "application/json"},
                )
            except httpx.TransportError:
                outcome = Outcome(request.key, TRANSPORT_ERROR, _elapsed_us(started), retry, attempt)
            else:
                outcome = _outcome(request.key, response, _elapsed_us(started), retry, attempt)
            self.outcomes.append(outcome)
            if outcome.final or time.monotonic() > self.hard_deadline:
                return
            await asyncio.sleep(IN_FLIGHT_BACKOFF_S * (1 + random.random()))  # noqa: S311 (jitter)

    async def client(self, client: httpx.AsyncClient, neighbour: httpx.AsyncClient, rng: random.Random) -> None:
        """One client's loop; a retry sent alongside its original goes to `neighbour`, the next
        web server (with several, the same key arrives at two machines at the same moment)."""
        while time.monotonic() < self.deadline:
            draw = rng.random()
            if draw < RETRY_EACH and self.recent:
                await self.send(client, rng.choice(self.recent), retry=True)
            elif draw < 2 * RETRY_EACH:
                request = self.new_request()
                self.concurrent_retries += 1
                await asyncio.gather(self.send(client, request, retry=False), self.send(neighbour, request, retry=True))
            else:
                await self.send(client, self.new_request(), retry=False)

    async def run(self, *, base_urls: list[str], api_key: str, clients: int, seed: int) -> float:
        """Run the clients to the deadline, client n talking to `base_urls[n % len(base_urls)]`
        (machines behind a load balancer); returns the seconds from first send to last answer."""
        limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
        async with contextlib.AsyncExitStack() as stack:
            servers = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=base_url,
                        headers={"Authorization": f"Bearer {api_key}"},
                        timeout=REQUEST_TIMEOUT_S,
                        limits=limits,
                    )
                )
                for base_url in base_urls
            ]
            started = time.monotonic()
            self.deadline = started + self.duration
            # A retry that keeps meeting 409s gives up after this; its key then fails the checks.
            self.hard_deadline = self.deadline + 2 * REQUEST_TIMEOUT_S
            await asyncio.gather(
                *(
                    self.client(servers[n % len(servers)], servers[(n + 1) % len(servers)], random.Random(seed + n))  # noqa: S311
                    for n in range(clients)
                )
            )
            return time.monotonic() - started


def _elapsed_us(started: float) -> int:
    return round((time.perf_counter() - started) * 1_000_000)


def _outcome(key: str, response: httpx.Response, latency_us: int, retry: bool, attempt: int) -> Outcome:
    invoice_id, error_code = None, ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        invoice_id = body.get("id") if response.status_code < 300 else None
        error = body.get("error")
        error_code = error.get("code", "") if isinstance(error, dict) else ""
    return Outcome(
        key=key,
        status=response.status_code,
        latency_us=latency_us,
        retry=retry,
        attempt=attempt,
        invoice_id=invoice_id,
        replayed=response.headers.get(REPLAYED_HEADER) == "true",
        error_code=error_code,
    )
