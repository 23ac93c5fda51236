"""The declared dependencies: what the production image installs is what the app imports, no more."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = (
    "core",
    "audit",
    "benchmarks",
    "invoices",
    "matching",
    "payments",
    "purchasing",
    "recon_site",
    "review",
    "source_files",
    "tenants",
    "vendors",
)
DEVELOPMENT_ONLY = {
    "pytest",
    "pytest-django",
    "playwright",
    "schemathesis",
    "hypothesis",
    "ruff",
    "factory-boy",
    "pgserver",
}
# Imported by the app only inside the code that needs them and never in production: the
# embedded database (no DATABASE_URL) and the load test's HTTP client (its clients, and the
# served processes' health check): each in one module, or one package.
NOT_IN_THE_IMAGE = {"pgserver": "recon_site/embedded_db.py", "httpx": "benchmarks/load"}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(Requirement(match[1]).name)] = match[2]
    return pins


def _third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and not (ROOT / name).is_dir()}


def test_the_production_image_installs_no_test_or_development_tool() -> None:
    runtime = _pins(ROOT / "requirements" / "runtime.txt")
    assert "requirements/runtime.txt" in (ROOT / "Dockerfile").read_text()
    assert not DEVELOPMENT_ONLY & runtime.keys()


def test_runtime_and_development_locks_pin_the_same_versions() -> None:
    runtime = _pins(ROOT / "requirements" / "runtime.txt")
    development = _pins(ROOT / "requirements" / "dev.txt")
    assert {name: development.get(name) for name in runtime} == runtime


def test_every_library_the_app_imports_is_in_the_runtime_lock() -> None:
    runtime = set(_pins(ROOT / "requirements" / "runtime.txt"))
    assert _undeclared(_app_modules(), runtime, allowed=NOT_IN_THE_IMAGE) == {}


def _app_modules() -> list[Path]:
    return [path for app in APP_DIRS for path in (ROOT / app).rglob("*.py")]


def _declared(*, extras: bool) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if extras:
        requirements += [r for group in project["optional-dependencies"].values() for r in group]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _undeclared(paths: list[Path], declared: set[str], *, allowed: dict[str, str]) -> dict[str, list[str]]:
    providers = packages_distributions()
    undeclared = {}
    for path in paths:
        relative = path.relative_to(ROOT).as_posix()
        for module in _third_party_imports(path):
            distributions = {canonicalize_name(d) for d in providers.get(module, [module])}
            where = allowed.get(next(iter(distributions)))
            if distributions & declared or (where and PurePosixPath(relative).is_relative_to(where)):
                continue
            undeclared[f"{relative}: {module}"] = sorted(distributions)
    return undeclared


def test_every_library_the_app_imports_is_a_declared_dependency_not_only_a_transitive_one() -> None:
    assert _undeclared(_app_modules(), _declared(extras=False), allowed=NOT_IN_THE_IMAGE) == {}


def test_every_library_the_tests_import_is_a_declared_test_dependency() -> None:
    paths = list((ROOT / "tests").rglob("*.py")) + list((ROOT / "scripts").rglob("*.py"))
    assert _undeclared(paths, _declared(extras=True), allowed={}) == {}
