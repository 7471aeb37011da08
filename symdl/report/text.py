"""Plain text for documents: TeX text and code blocks (wrapped to the page), Markdown code fences, section anchors."""

from __future__ import annotations

import re
import unicodedata

from ..excerpt import excerpt
from .inline_math import prose
from .names import _UNICODE_GREEK

__all__ = [
    "CODE_WIDTH", "FIGURES", "MAX_HEADING", "heading", "md_code", "section_anchor", "tex_code_lines", "tex_text", "tex_verbatim",
    "visible", "wrap_code",
]

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\textasciicircum{}",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_TEX_UNICODE = {
    "−": "$-$", "≤": r"$\leq$", "≥": r"$\geq$", "≠": r"$\neq$", "≈": r"$\approx$", "⊙": r"$\odot$", "∘": r"$\circ$",
    "·": r"$\cdot$", "×": r"$\times$", "∂": r"$\partial$", "∇": r"$\nabla$", "∞": r"$\infty$", "±": r"$\pm$",
    "→": r"$\to$", "∈": r"$\in$", "⁺": "$^{+}$", "√": r"$\surd$", "Σ": r"$\Sigma$", "ℓ": r"$\ell$", "—": "---", "–": "--",
    "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}", "✓": "yes", "✗": "no", "≡": r"$\equiv$", "∼": r"$\sim$", "⟨": r"$\langle$", "⟩": r"$\rangle$", "‖": r"$\|$", "↦": r"$\mapsto$", "⇒": r"$\Rightarrow$", "∀": r"$\forall$",
    "∑": r"$\sum$", "∏": r"$\prod$", "∫": r"$\int$", "⊤": r"$\top$", "⁻": "$^{-}$", "\u00a0": "~", "′": "$'$",
}


def tex_text(text: str) -> str:
    """Prose as LaTeX text: ``$…$`` segments as math (:mod:`symdl.report.inline_math`), the rest :func:`_tex_plain`."""
    return prose(visible(text), _tex_plain, lambda tree, latex: f"${latex}$")


def _tex_plain(text: str) -> str:
    """Plain text as LaTeX text: TeX's specials escaped, common math characters spelled, anything else ASCII or '?'."""
    out = []
    for char in text:
        if char in _TEX_SPECIALS:
            out.append(_TEX_SPECIALS[char])
        elif char in _TEX_UNICODE:
            out.append(_TEX_UNICODE[char])
        elif char in _UNICODE_GREEK:
            out.append(f"$\\{_UNICODE_GREEK[char]}$")
        elif char.isascii():
            out.append(char if char.isprintable() or char == "\n" else " ")
        elif char == "\u0302" and out:  # a combining hat: x̂
            out[-1] = f"$\\hat{{{out[-1].strip('$')}}}$"
        else:
            out.append(_decomposed(char))
    return "".join(out)


def tex_verbatim(code: str) -> str:
    """Code for a ``verbatim`` block: ASCII only (others '?'), and no line that could end the block early."""
    text = "".join(c if (c.isascii() and (c.isprintable() or c == "\n")) else ("    " if c == "\t" else "?") for c in code)
    return text.replace("\\end{verbatim}", "\\end {verbatim}")


#: The folder, next to the report's .md and .tex files, that holds their figures (SVG and PDF).
FIGURES = "figures"

#: Characters of a code line in the PDF (``\\small`` typewriter, 5.25 pt each, on the 445 pt text width, with margin).
CODE_WIDTH = 80
# A line is cut after a space, comma or opening bracket, or before an operator: the pieces read as code.
_BREAK_AFTER = " ,(["
_BREAK_BEFORE = "+-*/="
_EXPONENT = re.compile(r"[0-9.][eE]\Z")  # the sign of 1e-5 stays with its number
CONTINUATION_INDENT = 4
#: Columns left for the continuation mark (↪ and a space) before a continued line's text.
MARK_WIDTH = 3


def wrap_code(code: str, width: int = CODE_WIDTH) -> list[tuple[int | None, str]]:
    """``code``'s lines cut to fit ``width`` characters: ``(indent of a continuation or None, text)`` per printed line.

    A continuation is indented 4 past its line's own indent, and 3 more
    characters are left for the mark a renderer draws before it; each cut
    falls after the last space, comma or bracket, or before the last
    operator, that fits in the line's second half, else at the width.
    """
    if width < 20:
        raise ValueError(f"code width must be at least 20 characters, got {width}")
    out: list[tuple[int | None, str]] = []
    for line in code.splitlines():
        indent = min(len(line) - len(line.lstrip(" ")), width // 2) + CONTINUATION_INDENT
        rest, room, continuation = line, width, None
        while len(rest) > room:
            cut = _cut(rest, room)
            out.append((continuation, rest[:cut].rstrip(" ")))
            rest, room, continuation = rest[cut:].lstrip(" "), width - indent - MARK_WIDTH, indent
        out.append((continuation, rest))
    return out


def _cut(text: str, room: int) -> int:
    """Where to cut ``text`` (longer than ``room``): after the last break character that fits, else at ``room``."""
    for i in range(room, room // 2, -1):
        if text[i - 1] in _BREAK_AFTER or (text[i] in _BREAK_BEFORE and text[i - 1] not in _BREAK_BEFORE
                                            and not _EXPONENT.search(text, 0, i)):
            return i
    return room


def tex_code_lines(code: str, width: int = CODE_WIDTH) -> list[str]:
    """``code`` as the lines of an ``alltt`` block: ASCII (others '?'), wrapped by :func:`wrap_code` with a hook
    arrow before each continuation, backslashes and braces as character codes (no text can be read as a command)."""
    lines = []
    for indent, text in wrap_code(tex_verbatim(code), width):
        escaped = "".join(_ALLTT_SPECIALS.get(c, c) for c in text)
        lines.append(escaped if indent is None else " " * indent + r"\ensuremath{\hookrightarrow}\ " + escaped)
    return lines


_ALLTT_SPECIALS = {"\\": r"\char92{}", "{": r"\char123{}", "}": r"\char125{}"}


def md_code(code: str) -> str:
    """Code for a fenced Markdown block: a run of backticks that could close the fence is broken up."""
    return re.sub(r"`{3,}", lambda m: " ".join(m.group(0)), code)


def _decomposed(char: str) -> str:
    """A character TeX's fonts lack, by its Unicode decomposition: ² → $^{2}$, ₗ → $_{l}$, ½ → $\\tfrac{1}{2}$, else '?'."""
    kind, _, codes = unicodedata.decomposition(char).partition(" ")
    folded = unicodedata.normalize("NFKC", char)
    plain = folded.replace("\u2044", "/")
    if not (plain.isascii() and plain.isprintable()):
        return "?"
    if kind == "<super>" and plain.isalnum():
        return f"$^{{{plain}}}$"
    if kind == "<sub>" and plain.isalnum():
        return f"$_{{{plain}}}$"
    if kind == "<fraction>" and "/" in plain:
        top, bottom = plain.split("/", 1)
        return f"$\\tfrac{{{top}}}{{{bottom}}}$" if (top + bottom).isdigit() else "?"
    return "".join(_TEX_SPECIALS.get(c, c) for c in plain)


_KEY = re.compile(r"[a-z0-9_-]+")


def section_anchor(key: str) -> str:
    """``key`` checked as a section identifier (``[a-z0-9_-]+``), usable as an anchor, label or file stem."""
    if not _KEY.fullmatch(key) or len(key) > 100:
        raise ValueError(f"section key {excerpt(key)} is not an identifier of the form [a-z0-9_-]+")
    return key


#: Characters of a title shown in a heading; a longer one is cut there and given whole in the section's text.
MAX_HEADING = 80


def visible(text: str) -> str:
    """``text`` with every invisible formatting or control character (bidi overrides U+202E, U+2066…, zero-width
    ones) written as ``<U+XXXX>``: none can reorder or hide what a reader sees. Newlines and tabs are kept."""
    return "".join(
        f"<U+{ord(c):04X}>" if unicodedata.category(c) in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp") and c not in "\n\t" else c
        for c in text
    )


def heading(title: str) -> tuple[str, str | None]:
    """``(what a heading shows, the full title for the text or None)``: a title over MAX_HEADING characters is cut."""
    if len(title) <= MAX_HEADING:
        return title, None
    return title[: MAX_HEADING - 1] + "…", title
