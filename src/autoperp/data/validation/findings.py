"""Records of what validation found."""

from __future__ import annotations

from dataclasses import dataclass, field

from autoperp.core.errors import ValidationError
from autoperp.data.validation.rules import RULES


@dataclass(frozen=True)
class Finding:
    """One broken rule in one series: how many rows break it and the first of them."""

    rule: str
    row: int  # 1-based source row of the first offending row
    count: int  # rows breaking the rule
    detail: str  # the values at the first offending row

    @property
    def fixable(self) -> bool:
        return RULES[self.rule].fixable


@dataclass
class ValidationReport:
    """All findings for one series, in source-row order of their first occurrence."""

    source: str
    rows: int
    findings: list[Finding] = field(default_factory=list)
    skipped_rules: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def blocking(self, *, repair: bool) -> list[Finding]:
        """Findings that stop an import: all of them, or only the unfixable ones under --repair."""
        return [f for f in self.findings if not (repair and f.fixable)]

    def raise_first(self, *, repair: bool) -> None:
        """Raise a one-line :class:`ValidationError` for the earliest blocking finding, if any."""
        blocking = self.blocking(repair=repair)
        if not blocking:
            return
        f = min(blocking, key=lambda x: x.row)
        more = f" ({f.count} rows break this rule)" if f.count > 1 else ""
        others = len(blocking) - 1
        tail = f"; {others} other rule(s) also fail" if others else ""
        hint = "; --repair can fix this" if f.fixable else ""
        raise ValidationError(
            f"{RULES[f.rule].description}: {f.detail}{more}{tail}{hint}",
            path=self.source,
            row=f.row,
            rule=f.rule,
        )
