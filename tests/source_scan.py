"""The app's own source as syntax trees, for tests that hold a rule to one definition (STYLE.md
habit 14): they look for a second copy of a list or a query that already has its one home."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every package of the layers (pyproject.toml's import-linter contract); migrations are history,
# frozen as they ran, and are left out.
APP_PACKAGES = (
    "core",
    "audit",
    "tenants",
    "vendors",
    "purchasing",
    "invoices",
    "matching",
    "payments",
    "review",
    "benchmarks",
    "recon_site",
)


def app_modules() -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the repository, syntax tree) of every app module but migrations."""
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def literal_collections(tree: ast.Module) -> Iterator[tuple[int, frozenset[str]]]:
    """(line, words) of every tuple, list and set written out in the module: its string literals
    as written, its `Choices.MEMBER`s as the member's name in lower case (`InvoiceStatus.VOID` →
    "void", as TextChoices values are spelled here)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            words = set()
            for element in node.elts:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    words.add(element.value)
                elif isinstance(element, ast.Attribute):
                    words.add(element.attr.lower())
            yield node.lineno, frozenset(words)


def string_constants(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal in the module (SQL included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def attribute_reads(tree: ast.Module, owner: str, attribute: str) -> Iterator[int]:
    """Lines where `owner.attribute` is written (e.g. `TenantSettings.objects`)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == attribute
            and isinstance(node.value, ast.Name)
            and node.value.id == owner
        ):
            yield node.lineno
