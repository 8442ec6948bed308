"""`acolhe export`: a time range of the log into Avro, Parquet and CSV files for analysts.

Events filtered by type, queue and area; personal data left out, pseudonymized, or (with
an authorized key) in clear. See docs/export.md.

    from streams.export import ExportOptions, export
    report = await export(settings, contract, ExportOptions(out_dir=Path("out"), ...))
"""

from streams.export.exporter import export
from streams.export.plan import (
    ANALYST_TYPES,
    DEFAULT_FORMATS,
    DEFAULT_TOPICS,
    ExportOptions,
    ExportReport,
    Format,
    Personal,
    TypeReport,
)
from streams.export.privacy import UnauthorizedKey

__all__ = [
    "ANALYST_TYPES",
    "DEFAULT_FORMATS",
    "DEFAULT_TOPICS",
    "ExportOptions",
    "ExportReport",
    "Format",
    "Personal",
    "TypeReport",
    "UnauthorizedKey",
    "export",
]
