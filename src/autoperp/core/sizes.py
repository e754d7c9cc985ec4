"""Byte counts as people read them."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    """'512 B', '1.5 KiB', '12.6 MiB' (binary units)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
