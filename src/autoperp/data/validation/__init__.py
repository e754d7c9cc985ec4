"""Validation and repair of market data before it enters the store. Nothing is changed silently."""

from autoperp.data.validation.findings import Finding, ValidationReport
from autoperp.data.validation.repair import RepairLog, repair_frame
from autoperp.data.validation.validate import validate_frame

__all__ = ["Finding", "RepairLog", "ValidationReport", "repair_frame", "validate_frame"]
