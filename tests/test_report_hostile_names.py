"""Names in reports: bidi and other invisible controls shown as <U+XXXX>; a long name cut in headings, given whole in the text."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.report import write_report
from symdl.report.html import render_html
from symdl.report.markdown import render_markdown
from symdl.report.model import Report, Section
from symdl.report.tex import render_tex
from symdl.report.text import MAX_HEADING, heading, visible

RLO = "\u202e"


def report(title: str) -> Report:
    return Report(title="t", sections=(Section(key="a", title=title, kind="rule", summary=f"about {title}"),
                                       Section(key="b", title="b", kind="rule")))


@pytest.mark.parametrize("render", [render_html, lambda r: render_markdown(r)[0], render_tex])
def test_a_right_to_left_override_never_reaches_a_document(render):
    text = render(report(f"relu{RLO}gnp.exe"))
    assert RLO not in text
    assert "U+202E" in text


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Cf", "Cc", "Zl", "Zp", "Ll"]), max_size=30))
def test_visible_leaves_no_invisible_control(text):
    shown = visible(text)
    assert all(c.isprintable() or c in "\n\t" for c in shown)
    assert visible(shown) == shown


@pytest.mark.parametrize("render", [render_html, lambda r: render_markdown(r)[0], render_tex])
def test_a_long_name_is_cut_in_headings_and_given_whole_in_the_text(render):
    name = "averyveryverylongname" * 240  # 5,040 characters
    text = render(report(name))
    shown, full = heading(name)
    assert len(shown) == MAX_HEADING and full == name
    assert "Full name: " in text
    assert name in text.replace(r"\allowbreak{}", "")  # whole, in pieces TeX may break between
    assert heading("short") == ("short", None)


@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdflatex") is None, reason="no TeX installation")
def test_a_5000_character_hostile_name_builds_a_pdf(tmp_path):
    name = ("x_\\{%" + RLO) * 1000
    written = write_report(report(name), tmp_path / "r", formats=("pdf",))
    assert written["pdf"].read_bytes().startswith(b"%PDF-")
