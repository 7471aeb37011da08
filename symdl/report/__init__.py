"""Derivation reports: the document model, its sections, safe printers, renderers, plots and notebook display."""

from .files import (
    FORMATS,
    STEM,
    PdfBuildError,
    ReportError,
    build_pdf,
    check_formats,
    pdf_available,
    write_report,
)

__all__ = ["FORMATS", "STEM", "PdfBuildError", "ReportError", "build_pdf", "check_formats", "pdf_available", "write_report"]
