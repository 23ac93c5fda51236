"""PostgreSQL restarted under the running web app (issue #8, faults).

A private PostgreSQL, migrated, and the real app under gunicorn pointed at it. While the database
is down every API call is a 503 in the error envelope with `Retry-After` (not a 500, not HTML),
`/health` says so, and a web page says so as a page; once it is back the same app process
answers 200 again, without a restart, and nothing sent during the outage was written.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from core.http.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_CODE
from tests.faults.services import (
    HttpResponse,
    app_environment,
    http,
    manage,
    private_postgres,
    scratch_dir,
    web_app,
)

VENDOR = {"name": "Outage Supplies GmbH", "tax_id": "DE811907980"}


def assert_unavailable(response: HttpResponse) -> None:
    assert response.status == 503, (response.status, response.body[:500])
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    assert response.json() == {
        "error": {
            "code": DATABASE_UNAVAILABLE_CODE,
            "message": DATABASE_UNAVAILABLE,
            "details": {"database": "unreachable"},
        }
    }
    assert int(response.headers["Retry-After"]) > 0


def post_login_form(base: str) -> tuple[int, str]:
    """A browser's login: GET the form (no database needed), POST it with its CSRF token."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base}/login", timeout=15) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token[1], "username": "clerk", "password": "x"}).encode()
    request = urllib.request.Request(f"{base}/login", data=form, headers={"Referer": f"{base}/login"})  # noqa: S310
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_requests_get_503_while_postgres_is_down_and_200_after_without_restarting_the_app() -> None:
    with private_postgres() as postgres, scratch_dir("web") as directory:
        env = app_environment(database_url=postgres.create_database("recon"))
        manage("migrate", "--verbosity", "0", env=env)
        api_key = manage("create_tenant", "Restart Ltd", env=env).strip().splitlines()[-1]

        with web_app(env, directory) as app:
            invoices = f"{app.base}/api/invoices"
            assert http(invoices, api_key=api_key).status == 200
            assert http(f"{app.base}/health").status == 200
            workers = app.worker_pids()

            postgres.stop()

            assert_unavailable(http(invoices, api_key=api_key))
            assert_unavailable(http(f"{app.base}/api/vendors", method="POST", api_key=api_key, body=VENDOR))
            assert_unavailable(http(f"{app.base}/health"))
            status, page = post_login_form(app.base)
            assert status == 503 and "<html" in page and "database cannot be reached" in page, (status, page[:300])

            postgres.start()

            # The very next request reconnects: no warm-up, no restart.
            listed = http(invoices, api_key=api_key)
            assert listed.status == 200, (listed.status, listed.body[:500])
            assert http(f"{app.base}/health").json() == {"status": "ok"}
            created = http(f"{app.base}/api/vendors", method="POST", api_key=api_key, body=VENDOR)
            assert created.status == 201, (created.status, created.body[:500])
            vendors = http(f"{app.base}/api/vendors", api_key=api_key).json()["results"]
            assert [vendor["name"] for vendor in vendors] == [VENDOR["name"]]  # the refused POST wrote nothing
            status, page = post_login_form(app.base)
            assert status == 200 and "did not match" in page, (status, page[:300])

            assert app.process.alive() and app.worker_pids() == workers, app.process.describe()
