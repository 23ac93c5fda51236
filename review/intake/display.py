"""How a job's rows and problems are laid out on the page: each problem beside the row and in the
column it names (`row 7, column quantity`, the importers' own locations), the header's problems
on the header, and a list of the problems no shown row holds (the file's, an XML element's, a
row past those shown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from review.models import ImportJob

HEADER_ROW = 1  # the importers number rows as a spreadsheet does: the header is row 1


@dataclass
class ShownCell:
    text: str
    problems: list[str] = field(default_factory=list)


@dataclass
class ShownRow:
    number: int
    cells: list[ShownCell]
    # Beside the row: its own problems, and its cells' ("quantity: Must be greater than 0.").
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ShownProblem:
    location: str
    messages: list[str]


@dataclass(frozen=True)
class JobLayout:
    header: ShownRow | None
    rows: list[ShownRow]
    elsewhere: list[ShownProblem]  # problems not beside a shown row

    @property
    def has_rows(self) -> bool:
        return self.header is not None


def _row(number: int, cells: list[Any]) -> ShownRow:
    return ShownRow(number=number, cells=[ShownCell(str(cell)) for cell in cells])


def job_layout(job: ImportJob) -> JobLayout:
    table = job.table or {}
    header = _row(HEADER_ROW, table["header"]) if table.get("header") else None
    rows = {row["number"]: _row(row["number"], row["cells"]) for row in table.get("rows", [])}
    if header is not None:
        rows[HEADER_ROW] = header
    columns = {cell.text.strip().lower(): index for index, cell in enumerate(header.cells)} if header else {}
    elsewhere = []
    for problem in job.problems or []:
        row = rows.get(problem.get("row") or 0)
        if row is None:
            elsewhere.append(ShownProblem(problem["location"], problem["messages"]))
            continue
        column = problem.get("column")
        index = columns.get(column.strip().lower()) if column else None
        if index is not None and index < len(row.cells):
            row.cells[index].problems.extend(problem["messages"])
        prefix = f"{column}: " if column else ""
        row.problems.extend(prefix + message for message in problem["messages"])
    rows.pop(HEADER_ROW, None)
    return JobLayout(header=header, rows=sorted(rows.values(), key=lambda row: row.number), elsewhere=elsewhere)
