"""Reports: Plotly HTML pages per municipality, insurer and theme, an index, and the Excel lists.

Figure builders (``figures``) and derived tables (``tables``) are pure functions over polars
frames; ``writer.write_reports`` reads the marts once and writes everything.
"""

from .writer import write_reports, write_reports_from_data

__all__ = ["write_reports", "write_reports_from_data"]
