"""A document rendered: its template filled (Jinja2 → the HTML, the e-mail's subject and
body), and the PDF made from that HTML by fpdf2 (``FPDF.write_html``, pure Python).

The PDF's font is Unicode: DejaVu Sans from /usr/share/fonts/truetype/dejavu, or the TTF
file ``CRM_ES_PDF_FONT`` names (its Bold / Oblique siblings beside it when there are).
Without either, fpdf2's core Helvetica, which knows only Latin-1: other characters become
"?", and the log says so once. The same inputs make the same bytes: the PDF's creation
date is the issue time, and nothing else in it depends on when it is made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import TextStyle

from crm_es.aggregates.base import InvalidInput
from crm_es.aggregates.document import Files
from crm_es.documents.templates import Template, fill

log = logging.getLogger("crm_es.documents")

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FAMILY = "documentfont"  # what fpdf2 knows the Unicode font by
CORE = "helvetica"
STYLES = {"B": ("-Bold",), "I": ("-Oblique", "-Italic"), "BI": ("-BoldOblique", "-BoldItalic")}
_said: set[str] = set()  # what was logged already (once per process)


def _once(key: str, message: str, *args: Any) -> None:
    if key not in _said:
        _said.add(key)
        log.warning(message, *args)


def font_files(setting: Path | None) -> dict[str, Path] | None:
    """The Unicode font's file per style ("" regular, B, I, BI), or None for the core font.
    A style without its own file is drawn with the regular one."""
    regular = setting if setting is not None and setting.is_file() else None
    if setting is not None and regular is None:
        _once(f"missing:{setting}", "CRM_ES_PDF_FONT names %s, which is not a file: documents use DejaVu Sans "
                                    "or the core font", setting)
    regular = regular or (DEJAVU if DEJAVU.is_file() else None)
    if regular is None:
        return None
    files = {"": regular}
    for style, suffixes in STYLES.items():
        siblings = (regular.with_name(f"{regular.stem}{suffix}{regular.suffix}") for suffix in suffixes)
        files[style] = next((path for path in siblings if path.is_file()), regular)
    return files


class _Pdf(FPDF):
    def normalize_text(self, text: str) -> str:
        """The core font knows Latin-1 only: what it lacks becomes "?" (said once), not an error."""
        if not self.is_ttf_font:
            fitted = text.encode("latin-1", "replace").decode("latin-1")
            if fitted != text:
                _once("latin-1", "documents: no Unicode font (install DejaVu Sans or set CRM_ES_PDF_FONT): "
                                 "characters outside Latin-1 are printed as '?'")
            text = fitted
        return super().normalize_text(text)


def _no_images(src: str) -> str:
    # An <img> would make fpdf2 open a file of this server or fetch a URL: not from a template.
    raise ValueError("images are not supported in document templates")


def pdf(html: str, title: str, created_at: datetime, font: Path | None = None) -> bytes:
    """The PDF of this HTML. Raises what fpdf2 raises on HTML it cannot lay out."""
    document = _Pdf(format="A4")
    document.set_creation_date(created_at)
    document.set_title(title)
    document.set_margins(18, 18, 18)
    files = font_files(font)
    family = CORE
    if files is not None:
        for style, path in files.items():
            document.add_font(FAMILY, style, str(path))
        family = FAMILY
    document.add_page()
    document.set_font(family, size=10)
    monospace = TextStyle(font_family=family)  # fpdf2's default for <pre>/<code> is the core Courier
    document.write_html(html, font_family=family, image_map=_no_images, warn_on_tags_not_matching=False,
                        tag_styles={"pre": monospace, "code": monospace})
    return bytes(document.output())


def render(template: Template, values: Mapping[str, Any], created_at: datetime, font: Path | None = None) -> Files:
    """The document and its e-mail. InvalidInput naming the text that failed (``html``,
    ``subject``, ``body``): the HTML is a PDF too, or it is refused."""
    html = fill("html", template.html, values)
    subject = fill("subject", template.subject, values).strip()
    body = fill("body", template.body, values)
    if "\n" in subject or "\r" in subject:
        raise InvalidInput("subject", "an e-mail's subject is one line")
    if not subject:
        raise InvalidInput("subject", "the subject comes out empty")
    number = values["document"]["number"]
    try:
        made = pdf(html, f"{values['document']['kind'].title()} {number}", created_at, font)
    except Exception as error:  # fpdf2's refusals: a table without widths, an unknown font, an image …
        raise InvalidInput("html", f"the HTML could not be made into a PDF: {type(error).__name__}: {error}") from None
    return Files(html, made, subject, body)
