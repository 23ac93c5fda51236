"""Fails when a module of the app (migrations and tests aside) is longer than 600 lines.

STYLE.md: a module past ~600 lines becomes a package split by subdomain. Run by `make lint`.
"""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 600

ROOT = Path(__file__).resolve().parent.parent


APP_PACKAGES = (
    "core",
    "audit",
    "source_files",
    "tenants",
    "vendors",
    "purchasing",
    "invoices",
    "matching",
    "payments",
    "review",
    "recon_site",
    "benchmarks",
)


def too_long() -> list[str]:
    problems = []
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "/migrations/" in name:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LIMIT:
                problems.append(f"{name}: {lines} lines (at most {LIMIT}; split it by subdomain)")
    return problems


if __name__ == "__main__":
    found = too_long()
    print("\n".join(found) or f"Every module is at most {LIMIT} lines.")
    sys.exit(1 if found else 0)
