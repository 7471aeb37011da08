"""Report files on disk: ``report.tex`` and ``report.md`` (figures in ``figures/``), ``report.html`` and ``report.pdf``.

:func:`write_report` renders a :class:`~symdl.report.model.Report` in the
chosen formats and writes each file atomically (a temporary file renamed over
the target). The PDF is built from the TeX file by ``latexmk -pdf
-no-shell-escape`` in the output directory; without a TeX installation, or
when the build fails, :class:`ReportError` says so on one line (with the end
of the LaTeX log for a failed build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ..atomic import CannotWrite, write_atomically, write_directory
from ..numbers import format_number
from .html import render_html
from .markdown import render_markdown
from .model import Report
from .tex import render_tex, tex_figures
from .text import FIGURES, section_anchor

__all__ = ["FORMATS", "STEM", "PdfBuildError", "ReportError", "build_pdf", "check_formats", "pdf_available", "write_report"]

#: Every format, in the order files are written (pdf after tex, which it is built from).
FORMATS = ("tex", "pdf", "html", "md")
STEM = "report"
PDF_TIMEOUT = 180.0

Progress = Callable[[str, int, int], None]


class ReportError(Exception):
    """A report could not be written: a bad format, an unwritable directory, no TeX, or a failed PDF build."""


class PdfBuildError(ReportError):
    """latexmk ran and failed (or timed out): the message ends with the LaTeX log's error lines.

    ``written`` holds the files :func:`write_report` wrote before the build (all the other formats).
    """

    written: dict[str, Path] = {}  # noqa: RUF012 - replaced per instance by write_report


def pdf_available() -> str | None:
    """None when ``latexmk`` and ``pdflatex`` are on PATH, else what is missing (one line)."""
    missing = [tool for tool in ("latexmk", "pdflatex") if shutil.which(tool) is None]
    if not missing:
        return None
    return (f"cannot build the PDF: {' and '.join(missing)} not found; install a TeX distribution "
            "(Debian: apt-get install texlive-latex-base latexmk) or leave out the pdf format")


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` de-duplicated in :data:`FORMATS` order; a ReportError names any unknown one."""
    if isinstance(formats, (str, bytes)):
        raise TypeError(f"formats: expected a list of format names such as ['tex', 'html'], got the string {formats!r}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportError(f"unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}" if unknown
                          else f"no report format given; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in formats)


def write_report(
    report: Report,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = ("tex", "html", "md"),
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write ``report`` into ``out_dir`` and return ``{format: path written}``; a new ``out_dir`` appears complete.

    Asking for ``pdf`` without TeX raises :class:`ReportError` before
    anything is written. In an existing ``out_dir`` a section written without
    a plot has its old figure (``figures/<key>.svg``, ``.pdf``) removed. The ``.tex`` file is always written with the PDF,
    which is built last: a :class:`PdfBuildError` leaves the other files.
    """
    if not isinstance(report, Report):
        raise TypeError(f"write_report: expected a symdl.report.model.Report (build_report(...)), got {type(report).__name__}")
    chosen = check_formats(formats)
    if "pdf" in chosen and (problem := pdf_available()):
        raise ReportError(problem)
    directory = Path(out_dir)
    # The PDF last, so that a failed build leaves every other format written.
    steps = [f for f in chosen if f != "pdf"]
    if "pdf" in chosen:
        steps = [*(["tex"] if "tex" not in steps else []), *steps, "pdf"]
    # A new directory appears whole (symdl.atomic.write_directory); in an existing one each file is replaced atomically.
    fresh = not os.path.lexists(directory)
    try:
        (directory.parent if fresh else directory).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create the directory {directory} ({error.strerror or error})") from None
    files: dict[str, str | bytes] = {}
    for index, fmt in enumerate(steps):
        if fmt == "pdf":
            continue
        if progress is not None:
            progress(f"{STEM}.{fmt}", index, len(steps))
        if fmt == "md":
            text, figures = render_markdown(report)
            files.update(figures)
        elif fmt == "tex":
            text = render_tex(report)
            files.update(tex_figures(report))
        else:
            text = render_html(report)
        files[f"{STEM}.{fmt}"] = text
    if fresh:
        _write_set(directory, files)
    else:
        for relative, data in files.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            _write(directory / relative, data)
        _remove_stale_figures(directory, report, steps, files)
    written = {fmt: directory / f"{STEM}.{fmt}" for fmt in steps if fmt != "pdf"}
    if "pdf" in steps:
        if progress is not None:
            progress(f"{STEM}.pdf", len(steps) - 1, len(steps))
        try:
            written["pdf"] = build_pdf(written["tex"])
        except PdfBuildError as error:
            error.written = dict(written)
            raise
    return written


#: The figure each format links for a section: ``figures/<anchor>.svg`` (Markdown), ``figures/<anchor>.pdf`` (TeX).
_FIGURE_SUFFIXES = {"md": ".svg", "tex": ".pdf"}


def _remove_stale_figures(directory: Path, report: Report, steps: Sequence[str], files: dict[str, str | bytes]) -> None:
    """Remove the figure files of this report's sections that this write did not produce (plots left out: no
    matplotlib, ``--no-plots``), so no figure of an earlier run stands beside the new text as if it were current.
    Only the names the report itself would write are touched; other sections' figures and other files stay."""
    for fmt, suffix in _FIGURE_SUFFIXES.items():
        if fmt not in steps:
            continue
        for section in report.sections:
            relative = f"{FIGURES}/{section_anchor(section.key)}{suffix}"
            path = directory / relative
            if relative not in files and (path.is_symlink() or path.is_file()):
                try:
                    path.unlink()
                except OSError as error:
                    raise ReportError(f"cannot remove the stale figure {path} ({error.strerror or error})") from None


def _write_set(directory: Path, files: dict[str, str | bytes]) -> None:
    """Write ``files`` as the new directory ``directory`` in one rename; ReportError if it fails."""
    try:
        write_directory(directory, files)
    except CannotWrite as error:
        where = f"cannot write in {directory.parent}" if error.stage == "create" else f"cannot write {directory}"
        raise ReportError(f"{where} ({error.reason})") from None


def _write(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) atomically (:func:`symdl.atomic.write_atomically`); ReportError if it fails."""
    try:
        return write_atomically(path, data)
    except CannotWrite as error:
        where = f"cannot write in {path.parent}" if error.stage == "create" else f"cannot write {path}"
        raise ReportError(f"{where} ({error.reason})") from None


def build_pdf(tex: Path, timeout: float = PDF_TIMEOUT) -> Path:
    """``tex`` compiled to the PDF next to it by latexmk, shell escape off; ReportError with the log's tail if it fails.

    The build runs in a private temporary directory, with a copy of the
    figures the document includes (``figures/*.pdf`` next to ``tex``), so the
    output directory receives only the finished PDF (no .aux/.log, no
    half-written file).
    """
    if problem := pdf_available():
        raise ReportError(problem)
    command = ["latexmk", "-pdf", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    # TeX may write only below its working directory; a fixed date makes the PDF reproducible.
    environment = {**os.environ, "openout_any": "p", "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "0"),
                   "FORCE_SOURCE_DATE": "1"}
    with tempfile.TemporaryDirectory(prefix="symdl-latex-") as work:
        shutil.copyfile(tex, Path(work) / tex.name)
        _copy_figures(tex.parent / FIGURES, Path(work) / FIGURES)
        try:
            result = subprocess.run(command, cwd=work, capture_output=True, text=True, errors="replace",
                                    timeout=timeout, env=environment, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise PdfBuildError(f"latexmk did not finish within {format_number(timeout, 'g')} s building {tex}") from None
        built = (Path(work) / tex.name).with_suffix(".pdf")
        if result.returncode != 0 or not built.is_file():
            tail = _log_tail(built.with_suffix(".log"), result.stdout)
            raise PdfBuildError(f"latexmk failed on {tex} (exit {result.returncode}): {tail}")
        return _write(tex.with_suffix(".pdf"), built.read_bytes())


def _copy_figures(source: Path, target: Path) -> None:
    """The PDF figures of ``source`` (plain files only, no links) copied into ``target``."""
    figures = [p for p in source.glob("*.pdf") if p.is_file() and not p.is_symlink()] if source.is_dir() else []
    if figures:
        target.mkdir()
    for figure in figures:
        shutil.copyfile(figure, target / figure.name)


def _log_tail(log: Path, output: str) -> str:
    """The lines of the LaTeX log that say what went wrong (TeX errors start with '!'), else its last lines."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else output
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("!")]
    tail = lines[errors[0]:errors[0] + 3] if errors else lines[-3:]
    return " | ".join(tail) or "no log"
