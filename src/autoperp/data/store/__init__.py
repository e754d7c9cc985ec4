"""The market-data store: an interface (:class:`MarketStore`) and its DuckDB-over-Parquet implementation."""

from autoperp.data.store.base import MarketStore, SeriesInfo, SeriesKey

__all__ = ["MarketStore", "SeriesInfo", "SeriesKey"]
