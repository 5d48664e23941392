#!/usr/bin/env python3
"""Generate the PDF text-extraction test corpus in tests/fixtures/pdf/.

Usage:  python3 scripts/make-pdf-corpus.py [OUT_DIR]

Needs:  pip install reportlab pypdf
        apt-get install -y poppler-utils ghostscript qpdf groff-base fonts-dejavu-core

Writes, into OUT_DIR (default: tests/fixtures/pdf next to this script's repo):

  positive cases (each with <name>.txt = `pdftotext <name>.pdf -`, pages separated by \\f)
    single-column.pdf   reportlab platypus, one column of Times prose, 3 pages
    two-column.pdf      reportlab, two frames per page (newspaper layout), 7 pages
    headings.pdf        mixed font sizes: title, H1/H2 headings, bold/italic, bullets, 3 pages
    unicode.pdf         embedded DejaVu TrueType subsets: accents, Greek, math, 4 pages
    table.pdf           reportlab Table with a grid and numeric cells, 4 pages
    groff.pdf           groff -man -> PostScript -> ghostscript ps2pdf (CFF fonts, no ToUnicode), 3 pages
    long-100.pdf        100 pages of prose, drawn with the canvas API, compressed
    two-column-gs.pdf   two-column.pdf rewritten by ghostscript pdfwrite (a "distilled" PDF:
                        text shown with the ' operator and TL leading, as many real PDFs are)
  negative cases (no .txt)
    encrypted.pdf       qpdf AES-256 encryption of single-column.pdf,
                        user password "flashforge-user", owner password "flashforge-owner"
    image-only.pdf      a scanned-looking page: a rendered PNG with no text layer

Every positive page carries a page-specific marker word "pagetag<FILE><NNN>" (for example
"pagetagsc001" on page 1 of single-column.pdf), so tests can check page attribution:
the marker must appear on that page and on no other.

manifest.json lists every file, its page count, its kind and its markers.

The prose is produced by a seeded generator (deterministic text). PDF bytes are made as
reproducible as the tools allow (reportlab invariant mode); qpdf encryption and ghostscript
still stamp IDs/dates, so regenerating changes those bytes but not the extracted text.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from reportlab import rl_config

rl_config.invariant = 1  # fixed dates and document IDs -> reproducible bytes

from reportlab.lib import colors  # noqa: E402
from reportlab.lib.enums import TA_JUSTIFY  # noqa: E402
from reportlab.lib.pagesizes import A4, LETTER  # noqa: E402
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import cm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    BaseDocTemplate,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
    ListFlowable,
    ListItem,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "pdf")

USER_PASSWORD = "flashforge-user"
OWNER_PASSWORD = "flashforge-owner"

# ----------------------------------------------------------------------------------------
# Deterministic prose
# ----------------------------------------------------------------------------------------

SUBJECTS = [
    "The student", "A careful reader", "The librarian", "Every botanist", "The old sailor",
    "A patient teacher", "The chemistry club", "Our neighbour", "The night nurse",
    "A young historian", "The orchestra", "The village baker", "A retired engineer",
    "The museum guide", "The geologist", "A curious child", "The ferry captain",
    "The translator", "A quiet violinist", "The beekeeper", "The mapmaker",
    "A tired commuter", "The astronomer", "The gardener", "A travelling merchant",
]
VERBS = [
    "reviewed", "copied", "memorised", "questioned", "sketched", "annotated", "recited",
    "compared", "summarised", "catalogued", "rehearsed", "described", "collected",
    "explained", "measured", "repaired", "translated", "painted", "weighed", "studied",
]
OBJECTS = [
    "the list of irregular verbs", "a faded map of the harbour", "the periodic table",
    "forty flashcards about rivers", "the minutes of the council meeting",
    "a recipe for rye bread", "the names of distant stars", "an essay on glaciers",
    "the chords of an old ballad", "the timetable of the night trains",
    "a diagram of the human heart", "the rules of a card game", "a poem about lighthouses",
    "the dates of the northern treaties", "a ledger of grain prices",
    "the anatomy of a honeybee", "the layout of the cathedral", "a chart of ocean currents",
    "the migration routes of swallows", "a manual for the printing press",
]
PLACES = [
    "in the reading room", "beside the frozen canal", "under the railway bridge",
    "at the kitchen table", "on the crowded ferry", "in a draughty attic",
    "near the lighthouse", "inside the greenhouse", "along the river path",
    "in the observatory", "behind the market hall", "on the mountain terrace",
]
TIMES = [
    "before dawn", "every Tuesday", "during the long winter", "after the storm",
    "while the kettle boiled", "on a rainy afternoon", "late in October",
    "between two lectures", "at midnight", "before the examination",
]
CLAUSES = [
    "because repetition makes memories durable",
    "although nobody had asked for it",
    "so that the details would not fade",
    "while counting the intervals between reviews",
    "since the next review was scheduled for Friday",
    "and then tested the recall a week later",
    "until every answer came without hesitation",
    "which surprised the rest of the household",
    "as the spacing effect would predict",
    "even though the lamp kept flickering",
]


class Prose:
    """Seeded generator of distinct English sentences."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seen = set()

    def sentence(self):
        for _ in range(1000):
            r = self.rng
            s = "{} {} {} {} {}, {}.".format(
                r.choice(SUBJECTS), r.choice(VERBS), r.choice(OBJECTS),
                r.choice(PLACES), r.choice(TIMES), r.choice(CLAUSES))
            if s not in self.seen:
                self.seen.add(s)
                return s
        raise RuntimeError("sentence space exhausted")

    def paragraph(self, n=5):
        return " ".join(self.sentence() for _ in range(n))


def marker(code, page):
    return "pagetag{}{:03d}".format(code, page)


# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------


def run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def require(tool):
    if shutil.which(tool) is None:
        sys.exit("missing tool {!r}: apt-get install -y poppler-utils ghostscript qpdf groff".format(tool))


def write_expected(name):
    """<name>.txt = pdftotext default mode (no -layout), UTF-8, pages separated by \\f."""
    pdf = os.path.join(OUT, name + ".pdf")
    txt = subprocess.run(["pdftotext", "-enc", "UTF-8", pdf, "-"], check=True, capture_output=True).stdout
    with open(os.path.join(OUT, name + ".txt"), "wb") as f:
        f.write(txt)
    return txt


def page_count(name):
    from pypdf import PdfReader

    return len(PdfReader(os.path.join(OUT, name + ".pdf")).pages)


def marker_on_page_fn(code):
    """onPage callback that writes the page marker in the footer."""

    def on_page(c, doc):
        c.saveState()
        c.setFont("Helvetica", 8)
        c.drawString(2 * cm, 1.2 * cm, "Page {} marker {}".format(doc.page, marker(code, doc.page)))
        c.restoreState()

    return on_page


# ----------------------------------------------------------------------------------------
# Positive cases
# ----------------------------------------------------------------------------------------


def make_single_column():
    prose = Prose(101)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName="Times-Roman", fontSize=11, leading=14,
                          alignment=TA_JUSTIFY, spaceAfter=8)
    doc = SimpleDocTemplate(os.path.join(OUT, "single-column.pdf"), pagesize=A4, title="Single column",
                            leftMargin=2.5 * cm, rightMargin=2.5 * cm, topMargin=2.5 * cm, bottomMargin=2.5 * cm)
    story = []
    for page in range(1, 4):
        story.append(Paragraph("Chapter {}: notes on memory".format(page), styles["Heading2"]))
        for _ in range(6):
            story.append(Paragraph(prose.paragraph(5), body))
        if page < 3:
            story.append(PageBreak())
    cb = marker_on_page_fn("sc")
    doc.build(story, onFirstPage=cb, onLaterPages=cb)


def make_two_column():
    prose = Prose(202)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName="Helvetica", fontSize=9.5, leading=12,
                          spaceAfter=6)
    path = os.path.join(OUT, "two-column.pdf")
    doc = BaseDocTemplate(path, pagesize=LETTER, title="Two column",
                          leftMargin=1.8 * cm, rightMargin=1.8 * cm, topMargin=2 * cm, bottomMargin=2 * cm)
    gap = 0.8 * cm
    w = (doc.width - gap) / 2
    frames = [
        Frame(doc.leftMargin, doc.bottomMargin, w, doc.height, id="left"),
        Frame(doc.leftMargin + w + gap, doc.bottomMargin, w, doc.height, id="right"),
    ]
    doc.addPageTemplates([PageTemplate(id="two", frames=frames, onPage=marker_on_page_fn("tc"))])
    story = []
    # ~22 paragraphs of 4 sentences fill roughly one page of two columns; make 3 pages.
    for i in range(60):
        if i % 10 == 0:
            story.append(Paragraph("Dispatch number {}".format(i // 10 + 1), styles["Heading3"]))
        story.append(Paragraph(prose.paragraph(4), body))
    doc.build(story)


def make_headings():
    prose = Prose(303)
    styles = getSampleStyleSheet()
    title = ParagraphStyle("t", parent=styles["Title"], fontName="Helvetica-Bold", fontSize=26, leading=30)
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontName="Helvetica-Bold", fontSize=18, leading=22)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName="Times-BoldItalic", fontSize=14, leading=17)
    small = ParagraphStyle("small", parent=styles["BodyText"], fontName="Times-Roman", fontSize=8, leading=10)
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName="Times-Roman", fontSize=11, leading=14)
    big = ParagraphStyle("big", parent=styles["BodyText"], fontName="Courier", fontSize=13, leading=16)
    doc = SimpleDocTemplate(os.path.join(OUT, "headings.pdf"), pagesize=A4, title="Headings")
    story = [Paragraph("A Field Guide to Forgetting", title), Spacer(1, 12)]
    for page in range(1, 4):
        story.append(Paragraph("Part {}: The curve of retention".format(page), h1))
        story.append(Paragraph(prose.paragraph(3), body))
        story.append(Paragraph("Section {}.1 with <i>italic</i> and <b>bold</b> words".format(page), h2))
        story.append(Paragraph(
            "Mixed runs: <b>{}</b> <i>{}</i> <font size=16>{}</font>".format(
                prose.sentence(), prose.sentence(), prose.sentence()), body))
        story.append(ListFlowable(
            [ListItem(Paragraph(prose.sentence(), body)) for _ in range(4)], bulletType="bullet"))
        story.append(Paragraph("Section {}.2 in a monospaced face".format(page), h2))
        story.append(Paragraph(prose.paragraph(2), big))
        story.append(Paragraph("Footnote-sized text: " + prose.paragraph(3), small))
        if page < 3:
            story.append(PageBreak())
    cb = marker_on_page_fn("hd")
    doc.build(story, onFirstPage=cb, onLaterPages=cb)


UNICODE_LINES = [
    "Café, naïve, façade, résumé, Ærø, smørrebrød, Straße, Łódź, İstanbul, São Paulo, Dvořák.",
    "Greek: Αλφάβητο — α β γ δ ε ζ η θ ι κ λ μ ν ξ ο π ρ σ τ υ φ χ ψ ω; Ωμέγα and Σίγμα.",
    "Η γνώση είναι δύναμη, και η επανάληψη είναι η μητέρα της μάθησης.",
    "Math: ∀x ∈ ℝ, x² ≥ 0; ∑ᵢ aᵢ ≤ ∞; ∫₀¹ f(x) dx ≈ π/4; √2 ≠ 1.41; A ⊆ B ∪ C; ¬(p ∧ q) ⇔ ¬p ∨ ¬q.",
    "Arrows and signs: ← → ↔ ⇒ ± × ÷ ° µ € £ ¥ © ® ™ § ¶ … “quoted” ‘single’ «guillemets».",
    "Ligature-prone words: office, affluent, fjord, waffle, shuffle, efficient.",
    "Deutsch: Über größere Flüsse führen schöne Brücken. Français: L'été dernier, où êtes-vous allés ?",
    "Español: ¿Dónde está la biblioteca? ¡Mañana! Português: coração, informação, ação.",
    "Čeština: Příliš žluťoučký kůň úpěl ďábelské ódy. Polski: Zażółć gęślą jaźń.",
]


def make_unicode():
    font_dir = "/usr/share/fonts/truetype/dejavu"
    reg = os.path.join(font_dir, "DejaVuSans.ttf")
    bold = os.path.join(font_dir, "DejaVuSans-Bold.ttf")
    serif = os.path.join(font_dir, "DejaVuSerif.ttf")
    for f in (reg, bold, serif):
        if not os.path.exists(f):
            sys.exit("missing {}: apt-get install -y fonts-dejavu-core".format(f))
    pdfmetrics.registerFont(TTFont("DejaVuSans", reg))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", bold))
    pdfmetrics.registerFont(TTFont("DejaVuSerif", serif))
    prose = Prose(404)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("u", parent=styles["BodyText"], fontName="DejaVuSans", fontSize=10.5, leading=15)
    serif_s = ParagraphStyle("us", parent=body, fontName="DejaVuSerif")
    head = ParagraphStyle("uh", parent=styles["Heading2"], fontName="DejaVuSans-Bold")
    doc = SimpleDocTemplate(os.path.join(OUT, "unicode.pdf"), pagesize=A4, title="Unicode")
    story = []
    for page in range(1, 3):
        story.append(Paragraph("Unicode sampler, part {} — Ελληνικά και μαθηματικά".format(page), head))
        lines = UNICODE_LINES if page == 1 else list(reversed(UNICODE_LINES))
        for i, line in enumerate(lines):
            story.append(Paragraph(line, body if i % 2 == 0 else serif_s))
            story.append(Paragraph(prose.paragraph(2), body))
        if page < 2:
            story.append(PageBreak())

    def cb(c, d):
        c.saveState()
        c.setFont("DejaVuSans", 8)
        c.drawString(2 * cm, 1.2 * cm, "Σελίδα {} marker {}".format(d.page, marker("uc", d.page)))
        c.restoreState()

    doc.build(story, onFirstPage=cb, onLaterPages=cb)


def make_table():
    prose = Prose(505)
    rng = random.Random(505)
    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontName="Helvetica", fontSize=8.5, leading=10)
    doc = SimpleDocTemplate(os.path.join(OUT, "table.pdf"), pagesize=A4, title="Table")
    rivers = ["Danube", "Rhine", "Volga", "Loire", "Vistula", "Elbe", "Tagus", "Oder", "Seine", "Po", "Ebro",
              "Dnieper", "Thames", "Shannon", "Tiber", "Rhone", "Meuse", "Drava", "Sava", "Tisza"]
    story = []
    for page in range(1, 3):
        story.append(Paragraph("Table {}: European rivers and review statistics".format(page), styles["Heading2"]))
        data = [["River", "Length km", "Reviews", "Ease", "Note"]]
        for i in range(22):
            name = rivers[(i + page * 7) % len(rivers)]
            data.append([
                name,
                str(rng.randint(150, 2900)),
                str(rng.randint(1, 60)),
                "{:.2f}".format(rng.uniform(1.3, 3.2)),
                Paragraph(prose.sentence(), cell),
            ])
        t = Table(data, colWidths=[2.4 * cm, 2.1 * cm, 1.7 * cm, 1.4 * cm, 9.4 * cm], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (1, 1), (3, -1), "RIGHT"),
        ]))
        story.append(t)
        if page < 2:
            story.append(PageBreak())
    cb = marker_on_page_fn("tb")
    doc.build(story, onFirstPage=cb, onLaterPages=cb)


def make_groff(tmp):
    require("groff")
    require("ps2pdf")
    prose = Prose(606)
    # man macros (-man) ship with groff-base; -ms would need the full groff package.
    lines = [".TH FLASHCORPUS 7 2024-01-01 \"FlashForge\" \"Corpus Notes\"",
             ".SH NAME", "flashcorpus \\- notes typeset with groff",
             ".SH SYNOPSIS", prose.paragraph(2)]
    for page in range(1, 4):
        if page > 1:
            lines.append(".bp")
        lines += [".SH \"SECTION {} OF THE TROFF SAMPLE\"".format(page), ".PP",
                  "This page carries the marker {} for attribution tests.".format(marker("gr", page))]
        for _ in range(4):
            lines += [".PP", prose.paragraph(4)]
        lines += [".IP \\(bu 2", prose.sentence(), ".IP \\(bu 2", prose.sentence(), ".PP",
                  "\\fBBold words\\fP, \\fIitalic words\\fP and \\f(CWconstant width\\fP end the page."]
    src = os.path.join(tmp, "groff.man")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    ps = os.path.join(tmp, "groff.ps")
    with open(ps, "wb") as f:
        run(["groff", "-man", "-Tps", src], stdout=f)
    run(["ps2pdf", "-dPDFSETTINGS=/prepress", ps, os.path.join(OUT, "groff.pdf")])


def make_distilled():
    require("gs")
    run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite",
         "-o", os.path.join(OUT, "two-column-gs.pdf"), os.path.join(OUT, "two-column.pdf")])


def make_long():
    prose = Prose(707)
    path = os.path.join(OUT, "long-100.pdf")
    c = canvas.Canvas(path, pagesize=A4, pageCompression=1)
    c.setTitle("One hundred pages")
    width, height = A4
    from reportlab.lib.utils import simpleSplit

    for page in range(1, 101):
        y = height - 2.5 * cm
        c.setFont("Helvetica-Bold", 14)
        c.drawString(2.5 * cm, y, "Page {} of the long document".format(page))
        y -= 1 * cm
        c.setFont("Times-Roman", 11)
        for _ in range(3):
            for line in simpleSplit(prose.paragraph(4), "Times-Roman", 11, width - 5 * cm):
                c.drawString(2.5 * cm, y, line)
                y -= 14
            y -= 8
        c.setFont("Helvetica", 8)
        c.drawString(2.5 * cm, 1.2 * cm, "Page {} marker {}".format(page, marker("lg", page)))
        c.showPage()
    c.save()


# ----------------------------------------------------------------------------------------
# Negative cases
# ----------------------------------------------------------------------------------------


def make_encrypted():
    require("qpdf")
    run(["qpdf", "--encrypt", USER_PASSWORD, OWNER_PASSWORD, "256", "--",
         os.path.join(OUT, "single-column.pdf"), os.path.join(OUT, "encrypted.pdf")])


def make_image_only(tmp):
    require("pdftoppm")
    from reportlab.lib.utils import ImageReader

    prefix = os.path.join(tmp, "scan")
    # Render page 1 of single-column.pdf as a 1-bit-looking grey PNG: a "scan" with no text layer.
    run(["pdftoppm", "-png", "-gray", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
         os.path.join(OUT, "single-column.pdf"), prefix])
    c = canvas.Canvas(os.path.join(OUT, "image-only.pdf"), pagesize=A4, pageCompression=1)
    w, h = A4
    c.drawImage(ImageReader(prefix + ".png"), 0, 0, width=w, height=h)
    c.showPage()
    c.save()


# ----------------------------------------------------------------------------------------


def main():
    for tool in ("pdftotext", "pdftoppm", "qpdf", "groff", "ps2pdf", "gs"):
        require(tool)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        positives = [
            ("single-column", "sc", make_single_column, "reportlab platypus, single column, Times"),
            ("two-column", "tc", make_two_column, "reportlab, two text frames per page"),
            ("headings", "hd", make_headings, "mixed font sizes, headings, bold/italic, bullets"),
            ("unicode", "uc", make_unicode, "embedded DejaVu TrueType: accents, Greek, math"),
            ("table", "tb", make_table, "reportlab Table with grid lines"),
            ("groff", "gr", lambda: make_groff(tmp), "groff -man -> PostScript -> ps2pdf (Type 1 fonts)"),
            ("long-100", "lg", make_long, "100 pages, canvas API, compressed streams"),
            ("two-column-gs", "tc", make_distilled,
             "two-column.pdf rewritten by ghostscript pdfwrite (' operator, TL leading)"),
        ]
        manifest = {"files": []}
        for name, code, fn, desc in positives:
            fn()
            txt = write_expected(name)
            pages = page_count(name)
            manifest["files"].append({
                "file": name + ".pdf", "expected_text": name + ".txt", "kind": "text", "pages": pages,
                "description": desc, "page_marker_prefix": "pagetag" + code,
                "page_markers": [marker(code, p) for p in range(1, pages + 1)],
            })
            # pdftotext ends every page with \f, so the page count must match the \f count.
            assert txt.count(b"\f") == pages, (name, txt.count(b"\f"), pages)
            for p in range(1, pages + 1):
                chunk = txt.split(b"\f")[p - 1].decode()
                assert marker(code, p) in chunk, (name, p)
        make_encrypted()
        manifest["files"].append({
            "file": "encrypted.pdf", "kind": "encrypted", "pages": 3,
            "description": "qpdf AES-256 of single-column.pdf; open needs the user password",
            "user_password": USER_PASSWORD, "owner_password": OWNER_PASSWORD,
            "decrypted_expected_text": "single-column.txt",
        })
        make_image_only(tmp)
        manifest["files"].append({
            "file": "image-only.pdf", "kind": "image-only", "pages": 1,
            "description": "one page that is only a raster image; no text layer, expect empty text",
        })
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    total = 0
    for fn in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, fn))
        total += size
        print("{:>9}  {}".format(size, fn))
    print("{:>9}  total".format(total))


if __name__ == "__main__":
    main()
