"""The error hierarchy. Every message says what is wrong and, where possible, what to do about it.

User-facing commands catch :class:`AutoperpError`, print ``str(err)`` as one line and exit with
``err.exit_code``; tracebacks are for bugs, not for bad input.
"""

from __future__ import annotations


class AutoperpError(Exception):
    """Base class of every error autoperp raises on purpose."""

    exit_code: int = 1

    def one_line(self) -> str:
        """The message flattened to a single line, as the CLI prints it."""
        return " ".join(str(self).split())


class ConfigError(AutoperpError):
    """A config file or environment override is invalid."""

    exit_code = 2


class UsageError(AutoperpError):
    """A command was called with arguments that cannot work (unknown pair, bad timerange...)."""

    exit_code = 2


class DataError(AutoperpError):
    """Input data is unusable. ``path``/``row``/``field`` locate the problem when known.

    ``row`` is 1-based and counts data rows (a header line is not a row).
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        rule = f"[{self.rule}] " if self.rule else ""
        return f"{prefix}: {rule}{self.message}" if prefix else f"{rule}{self.message}"


class FormatError(DataError):
    """A file cannot be parsed as any supported layout, or a column is missing or of the wrong type."""


class ValidationError(DataError):
    """Parsed data breaks a validation rule (duplicates, high<low, NaN, ...)."""


class StoreError(AutoperpError):
    """The market-data store is missing, corrupt, or a write would conflict with stored data."""

    exit_code = 2


class DownloadError(AutoperpError):
    """A download failed (network, HTTP status, or a checksum mismatch)."""

    exit_code = 3


class ChecksumError(DownloadError):
    """A downloaded file does not match the archive's published SHA-256."""
