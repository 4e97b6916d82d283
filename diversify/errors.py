"""The library's exceptions. The CLI turns each into a message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem in an input workbook, located as a planner finds it in Excel."""

    sheet: str | None
    row: int | None  # Excel's row number
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [
            p
            for p in (
                f"sheet {self.sheet}" if self.sheet else None,
                f"row {self.row}" if self.row else None,
                f"{'option' if self.column.startswith('-') else 'column'} {self.column}"
                if self.column
                else None,
            )
            if p
        ]
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


class DiversifyError(Exception):
    """Base of every error the tool reports without a traceback."""

    exit_code = 1


class InputError(DiversifyError):
    """The input (workbook, plan or command line) is wrong; every issue found at once."""

    exit_code = 2

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class OutputExistsError(DiversifyError):
    exit_code = 2


class InfeasibleError(DiversifyError):
    """No plan keeps every rule (or none was found in time)."""

    exit_code = 3

    def __init__(self, message: str, status: str = "infeasible"):
        self.status = status
        super().__init__(message)


class UsageError(DiversifyError):
    """The command line asks for something that cannot be done (a scheduler that does
    not answer, say): exit 2, as for bad input."""

    exit_code = 2
