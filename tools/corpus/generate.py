#!/usr/bin/env python3
"""Generate the multi-format course-material corpus in tests/fixtures/formats/.

Usage:  pip install -r tools/corpus/requirements.txt
        python3 tools/corpus/generate.py [--out DIR] [--no-verify]

Every file is written deterministically (fixed timestamps, ids and seeds), and
for every good file X.ext an X.ext.expected.json records the text the
generator put on each page/slide. See tools/corpus/README.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import json
import random
import re
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import content as C  # noqa: E402

REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "formats"
FIXED_DT = dt.datetime(2024, 1, 15, 9, 30, 0)
ZIP_DT = (2024, 1, 15, 9, 30, 0)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

OUT: Path = DEFAULT_OUT
MADE: list[dict] = []  # summary rows


# ---------------------------------------------------------------- helpers
class Pages:
    """Collects the exact strings written on each page/slide."""

    def __init__(self):
        self.pages: list[tuple[str, list[str]]] = []

    def new(self, label: str):
        self.pages.append((label, []))

    def add(self, *texts: str):
        self.pages[-1][1].extend(t for t in texts if t)

    def as_json(self):
        return [{"label": lab, "text": "\n".join(t)} for lab, t in self.pages]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?”])\s+|\n+", text) if len(s.strip().split()) >= 4]


def write_expected(name: str, fmt: str, title, pages: Pages, probe: str, min_recall=0.95, **extra):
    pj = pages.as_json()
    hits = [i for i, p in enumerate(pj) if probe in p["text"]]
    assert len(hits) == 1, f"{name}: probe found on pages {hits}"
    # each sentence identifies its page
    seen: dict[str, str] = {}
    for p in pj:
        for s in sentences(p["text"]):
            assert s not in seen or seen[s] == p["label"], f"{name}: duplicate sentence {s!r}"
            seen[s] = p["label"]
    labels = [p["label"] for p in pj]
    assert len(set(labels)) == len(labels), f"{name}: duplicate labels {labels}"
    doc = {
        "format": fmt,
        "title": title,
        "pages": pj,
        "probe": {"sentence": probe, "page": hits[0] + 1, "page_label": pj[hits[0]]["label"]},
        "min_recall": min_recall,
    }
    doc.update(extra)
    (OUT / f"{name}.expected.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    MADE.append({"file": name, "pages": len(pj), "probe_label": doc["probe"]["page_label"]})


def normalize_zip(path: Path):
    """Rewrite a zip with fixed timestamps/attributes, keeping entry order and compression."""
    with zipfile.ZipFile(path) as zin:
        entries = [(i, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info, data in entries:
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DT)
            zi.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            zout.writestr(zi, data)
    path.write_bytes(buf.getvalue())


# ---------------------------------------------------------------- DOCX
def set_core(cp, title):
    cp.title = title
    cp.author = "FlashForge fixtures"
    cp.last_modified_by = "FlashForge fixtures"
    cp.created = FIXED_DT
    cp.modified = FIXED_DT
    cp.last_printed = FIXED_DT
    cp.revision = 1


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_add_footnote(doc, paragraph, note_text):
    """python-docx has no footnote API: add a footnotes part and a w:footnoteReference run."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:footnotes xmlns:w="{W_NS}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>'
        '<w:footnote w:id="1"><w:p><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteRef/></w:r>'
        f'<w:r><w:t xml:space="preserve"> {html.escape(note_text, quote=False)}</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    ).encode("utf-8")
    ct = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
    part = Part(PackURI("/word/footnotes.xml"), ct, xml, doc.part.package)
    doc.part.relate_to(part, RT.FOOTNOTES)
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    va = OxmlElement("w:vertAlign")
    va.set(qn("w:val"), "superscript")
    rpr.append(va)
    run.append(rpr)
    ref = OxmlElement("w:footnoteReference")
    ref.set(qn("w:id"), "1")
    run.append(ref)
    paragraph._p.append(run)


def make_notes_docx():
    import docx

    doc = docx.Document()
    set_core(doc.core_properties, C.DOCX_TITLE)
    pages = Pages()
    for i, pg in enumerate(C.DOCX_PAGES):
        pages.new(f"p. {i + 1}")
        if i == 0:
            doc.add_paragraph(C.DOCX_TITLE, style="Title")
            pages.add(C.DOCX_TITLE)
        doc.add_heading(pg["h1"], level=1)
        pages.add(pg["h1"])
        for t in pg["paras"]:
            doc.add_paragraph(t)
            pages.add(t)
        if "numbered" in pg:
            for t in pg["numbered"]:
                doc.add_paragraph(t, style="List Number")
                pages.add(t)
        if "table" in pg:
            tbl = doc.add_table(rows=3, cols=3)
            tbl.style = "Table Grid"
            for r, row in enumerate(pg["table"]):
                for c, cell in enumerate(row):
                    tbl.cell(r, c).text = cell
                    pages.add(cell)
        if "h2" in pg:
            doc.add_heading(pg["h2"], level=2)
            pages.add(pg["h2"])
        if "para_with_note" in pg:
            p = doc.add_paragraph(pg["para_with_note"])
            docx_add_footnote(doc, p, pg["footnote"])
            pages.add(pg["para_with_note"], pg["footnote"])
        for t in pg.get("bullets", []):
            doc.add_paragraph(t, style="List Bullet")
            pages.add(t)
        for t in pg.get("paras2", []):
            doc.add_paragraph(t)
            pages.add(t)
        if i < len(C.DOCX_PAGES) - 1:
            doc.add_page_break()  # <w:br w:type="page"/>
    path = OUT / "notes.docx"
    doc.save(path)
    normalize_zip(path)
    write_expected("notes.docx", "docx", C.DOCX_TITLE, pages,
                   probe="Cellular respiration proceeds in an ordered sequence of stages that each take place in a specific compartment of the cell.",
                   has_footnote=True)


def make_sections_docx():
    import docx

    doc = docx.Document()
    set_core(doc.core_properties, C.SECTIONS_TITLE)
    pages = Pages()
    for heading, paras in C.SECTIONS:
        pages.new(heading)
        doc.add_heading(heading, level=1)
        pages.add(heading)
        for t in paras:
            doc.add_paragraph(t)
            pages.add(t)
    path = OUT / "sections.docx"
    doc.save(path)
    normalize_zip(path)
    write_expected("sections.docx", "docx", C.SECTIONS_TITLE, pages,
                   probe="A population is a group of individuals of one species that live in the same place at the same time.")


# ---------------------------------------------------------------- ODT
def make_notes_odt():
    from odf import dc, meta
    from odf.opendocument import OpenDocumentText
    from odf.style import ParagraphProperties, Style
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, List, ListItem, Note, NoteBody, NoteCitation, P, SoftPageBreak

    doc = OpenDocumentText()
    doc.meta.addElement(dc.Title(text=C.ODT_TITLE))
    doc.meta.addElement(meta.CreationDate(text="2024-01-15T09:30:00"))
    doc.meta.addElement(dc.Date(text="2024-01-15T09:30:00"))
    h1s = Style(name="Heading 1", family="paragraph")
    h1s.addElement(ParagraphProperties(marginbottom="0.2cm"))
    doc.styles.addElement(h1s)
    h2s = Style(name="Heading 2", family="paragraph")
    doc.styles.addElement(h2s)
    pages = Pages()
    body = doc.text
    for i, pg in enumerate(C.ODT_PAGES):
        if i > 0:
            body.addElement(SoftPageBreak())
        pages.new(f"p. {i + 1}")
        body.addElement(H(outlinelevel=1, stylename=h1s, text=pg["h1"]))
        pages.add(pg["h1"])
        for t in pg["paras"]:
            body.addElement(P(text=t))
            pages.add(t)
        if "h2" in pg:
            body.addElement(H(outlinelevel=2, stylename=h2s, text=pg["h2"]))
            pages.add(pg["h2"])
        if "para_with_note" in pg:
            p = P(text=pg["para_with_note"])
            note = Note(id="ftn1", noteclass="footnote")
            note.addElement(NoteCitation(text="1"))
            nb = NoteBody()
            nb.addElement(P(text=pg["footnote"]))
            note.addElement(nb)
            p.addElement(note)
            body.addElement(p)
            pages.add(pg["para_with_note"], pg["footnote"])
        if "list" in pg:
            lst = List()
            for t in pg["list"]:
                li = ListItem()
                li.addElement(P(text=t))
                lst.addElement(li)
                pages.add(t)
            body.addElement(lst)
        if "table" in pg:
            tbl = Table(name="Indicators")
            tbl.addElement(TableColumn(numbercolumnsrepeated=3))
            for row in pg["table"]:
                tr = TableRow()
                for cell in row:
                    tc = TableCell(valuetype="string")
                    tc.addElement(P(text=cell))
                    tr.addElement(tc)
                    pages.add(cell)
                tbl.addElement(tr)
            body.addElement(tbl)
        for t in pg.get("paras2", []):
            body.addElement(P(text=t))
            pages.add(t)
    path = OUT / "notes.odt"
    doc.save(str(path))
    normalize_zip(path)
    write_expected("notes.odt", "odt", C.ODT_TITLE, pages,
                   probe="Pure water at room temperature has a pH of seven, which chemists call neutral.",
                   has_footnote=True)


# ---------------------------------------------------------------- PPTX
def make_lecture_pptx():
    from pptx import Presentation
    from pptx.util import Inches, Pt

    prs = Presentation()
    set_core(prs.core_properties, C.PPTX_TITLE)
    layout = prs.slide_layouts[1]  # Title and Content
    created = {}
    for pos in C.PPTX_CREATION_ORDER:
        spec = C.PPTX_SLIDES[pos]
        slide = prs.slides.add_slide(layout)
        slide.shapes.title.text = spec["title"]
        body = slide.placeholders[1].text_frame
        body.text = spec["bullets"][0]
        for b in spec["bullets"][1:]:
            body.add_paragraph().text = b
        if "table" in spec:
            rows = spec["table"]
            gf = slide.shapes.add_table(3, 3, Inches(0.8), Inches(4.6), Inches(8.4), Inches(1.8))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    gf.table.cell(r, c).text = cell
                    gf.table.cell(r, c).text_frame.paragraphs[0].runs[0].font.size = Pt(16)
        if "notes" in spec:
            slide.notes_slide.notes_text_frame.text = spec["notes"]
        created[pos] = slide
    # Reorder sldIdLst into presentation order; the slideN.xml names keep creation order.
    sld_id_lst = prs.slides._sldIdLst
    by_rid = {s.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"): s for s in sld_id_lst}
    ordered = []
    for pos in range(len(C.PPTX_SLIDES)):
        rid = next(r for r, s in by_rid.items() if prs.part.related_part(r) is created[pos].part)
        ordered.append(by_rid[rid])
    for s in list(sld_id_lst):
        sld_id_lst.remove(s)
    for s in ordered:
        sld_id_lst.append(s)

    pages = Pages()
    for i, spec in enumerate(C.PPTX_SLIDES):
        pages.new(f"slide {i + 1}")
        pages.add(spec["title"], *spec["bullets"])
        for row in spec.get("table", []):
            pages.add(*row)
        pages.add(spec.get("notes", ""))
    path = OUT / "lecture.pptx"
    prs.save(path)  # python-pptx names slide parts at add_slide time: slideK.xml = K-th created
    normalize_zip(path)
    write_expected("lecture.pptx", "pptx", C.PPTX_TITLE, pages,
                   probe="George Stephenson’s Rocket won the Rainhill trials in 1829 with an average speed near twelve miles per hour.",
                   slide_xml_order=[f"ppt/slides/slide{k + 1}.xml holds slide {pos + 1}" for k, pos in enumerate(C.PPTX_CREATION_ORDER)])


# ---------------------------------------------------------------- ODP
def make_lecture_odp():
    from odf import dc, meta
    from odf.draw import Frame, Page, TextBox
    from odf.namespaces import PRESENTATIONNS
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout, PageLayoutProperties
    from odf.text import List, ListItem, P

    doc = OpenDocumentPresentation()
    doc.meta.addElement(dc.Title(text=C.ODP_TITLE))
    doc.meta.addElement(meta.CreationDate(text="2024-01-15T09:30:00"))
    doc.meta.addElement(dc.Date(text="2024-01-15T09:30:00"))
    pl = PageLayout(name="PM1")
    pl.addElement(PageLayoutProperties(margin="0cm", pagewidth="28cm", pageheight="21cm", printorientation="landscape"))
    doc.automaticstyles.addElement(pl)
    mp = MasterPage(name="Default", pagelayoutname=pl)
    doc.masterstyles.addElement(mp)

    def frame(cls, x, y, w, h):
        f = Frame(width=w, height=h, x=x, y=y)
        f.setAttrNS(PRESENTATIONNS, "class", cls)
        return f

    pages = Pages()
    for i, spec in enumerate(C.ODP_SLIDES):
        pages.new(f"slide {i + 1}")
        page = Page(name=f"page{i + 1}", masterpagename=mp)
        doc.presentation.addElement(page)
        tf = frame("title", "1.4cm", "0.8cm", "25cm", "3cm")
        tb = TextBox()
        tb.addElement(P(text=spec["title"]))
        tf.addElement(tb)
        page.addElement(tf)
        of = frame("outline", "1.4cm", "4.5cm", "25cm", "14cm")
        ob = TextBox()
        lst = List()
        for b in spec["bullets"]:
            li = ListItem()
            li.addElement(P(text=b))
            lst.addElement(li)
        ob.addElement(lst)
        of.addElement(ob)
        page.addElement(of)
        pages.add(spec["title"], *spec["bullets"])
        if "notes" in spec:
            notes = Notes()
            nf = frame("notes", "2cm", "14cm", "17cm", "10cm")
            nb = TextBox()
            nb.addElement(P(text=spec["notes"]))
            nf.addElement(nb)
            notes.addElement(nf)
            page.addElement(notes)
            pages.add(spec["notes"])
    path = OUT / "lecture.odp"
    doc.save(str(path))
    normalize_zip(path)
    write_expected("lecture.odp", "odp", C.ODP_TITLE, pages,
                   probe="Galileo Galilei discovered the four largest moons of Jupiter in January 1610.")


# ---------------------------------------------------------------- RTF
def rtf_escape(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif o < 128:
            out.append(ch)
        elif o < 256:
            out.append(f"\\'{o:02x}")  # cp1252 == latin-1 in this range
        else:
            out.append(f"\\u{o if o < 32768 else o - 65536}?")
    return "".join(out)


def make_notes_rtf():
    from PIL import Image

    img = Image.new("RGB", (8, 8), (200, 30, 30))
    b = io.BytesIO()
    img.save(b, "PNG")
    pict_hex = b.getvalue().hex()
    pict_lines = "\n".join(pict_hex[i:i + 64] for i in range(0, len(pict_hex), 64))

    pages = Pages()
    parts = [
        r"{\rtf1\ansi\ansicpg1252\deff0\uc1",
        r"{\fonttbl{\f0\froman\fcharset0 Times New Roman;}{\f1\fswiss\fcharset0 Arial;}}",
        r"{\colortbl;\red0\green0\blue0;\red31\green73\blue125;}",
        r"{\stylesheet{\s0\f0\fs24 Normal;}{\s1\sb240\sa120\keepn\f1\fs32\b\cf2 heading 1;}}",
        r"{\info{\title " + rtf_escape(C.RTF_TITLE) + r"}{\author FlashForge fixtures}"
        r"{\creatim\yr2024\mo1\dy15\hr9\min30}}",
        r"\paperw12240\paperh15840\margl1440\margr1440",
    ]

    def para(t):
        parts.append(r"\pard\plain\s0\f0\fs24 " + rtf_escape(t) + r"\par")

    for i, pg in enumerate(C.RTF_PAGES):
        pages.new(f"p. {i + 1}")
        parts.append(r"\pard\plain\s1\sb240\sa120\keepn\f1\fs32\b\cf2 " + rtf_escape(pg["heading"]) + r"\par")
        pages.add(pg["heading"])
        for t in pg["paras"]:
            para(t)
            pages.add(t)
        if "para_with_note" in pg:
            parts.append(
                r"\pard\plain\s0\f0\fs24 " + rtf_escape(pg["para_with_note"])
                + r"{\super\chftn}{\footnote\pard\plain\s0\f0\fs20 {\super\chftn} " + rtf_escape(pg["footnote"]) + r"}\par"
            )
            pages.add(pg["para_with_note"], pg["footnote"])
            # an embedded picture that must be ignored by text extraction
            parts.append(r"\pard\plain\s0 {\*\shppict{\pict\pngblip\picw8\pich8\picwgoal480\pichgoal480" + "\n" + pict_lines + r"}}"
                         + r"{\nonshppict{\pict\wmetafile8\picw8\pich8 0100090000}}\par")
        if "table" in pg:
            for row in pg["table"]:
                parts.append(r"\trowd\trgaph108\cellx3000\cellx6000\cellx9000")
                parts.append(" ".join(r"\pard\intbl " + rtf_escape(c) + r"\cell" for c in row) + r"\row")
                pages.add(*row)
            parts.append(r"\pard")
        if i < len(C.RTF_PAGES) - 1:
            parts.append(r"\page")
    parts.append("}")
    data = "\n".join(parts) + "\n"
    (OUT / "notes.rtf").write_bytes(data.encode("ascii"))
    write_expected("notes.rtf", "rtf", C.RTF_TITLE, pages,
                   probe="Magnetic stripes on the ocean floor record reversals of the Earth’s magnetic field like a tape recorder.",
                   has_footnote=True)


# ---------------------------------------------------------------- HTML
def make_article_html():
    def ent(s):
        # HTML-escape, then use named/numeric entities for some characters
        s = html.escape(s, quote=False)
        return s.replace("é", "&eacute;").replace("—", "&#8212;").replace("’", "&rsquo;").replace("ü", "&uuml;")

    pages = Pages()
    body = []
    for sec in C.HTML_SECTIONS:
        pages.new(sec["heading"])
        pages.add(sec["heading"])
        body.append(f"<{sec['tag']}>{ent(sec['heading'])}</{sec['tag']}>")
        for kind, val in sec["blocks"]:
            if kind in ("p", "h3"):
                body.append(f"<{kind}>{ent(val)}</{kind}>")
                pages.add(val)
            elif kind == "ul":
                body.append("<ul>\n" + "\n".join(f"  <li>{ent(v)}</li>" for v in val) + "\n</ul>")
                pages.add(*val)
            elif kind == "table":
                rows = []
                for r, row in enumerate(val):
                    cell = "th" if r == 0 else "td"
                    rows.append("  <tr>" + "".join(f"<{cell}>{ent(c)}</{cell}>" for c in row) + "</tr>")
                    pages.add(*row)
                body.append("<table>\n" + "\n".join(rows) + "\n</table>")
    f1, f2, f3 = C.HTML_FORBIDDEN
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{ent(C.HTML_TITLE)}</title>
<link rel="stylesheet" href="http://example.invalid/site.css">
<style>
  /* {f2} must never be extracted */
  .{f2} {{ color: #333; }} body {{ font-family: serif; }}
</style>
<script>
  var {f1} = "analytics {f1} tracking";
  document.addEventListener("DOMContentLoaded", function () {{ console.log("{f1}"); }});
</script>
</head>
<body>
<div id="cookie-banner" class="cookie-banner">We use cookies to improve your experience. <button>Accept all cookies</button></div>
<header><a href="/">History Revision Hub</a></header>
<nav><ul><li><a href="/">Home</a></li><li><a href="/courses">Courses</a></li><li><a href="/contact">Contact us</a></li></ul></nav>
<main>
<article>
{chr(10).join(body)}
<img src="http://example.invalid/x.png" alt="">
</article>
</main>
<footer>Copyright 2024 History Revision Hub. All rights reserved.</footer>
<script type="text/javascript">window.{f3} = {{ id: "{f3}" }};</script>
</body>
</html>
"""
    (OUT / "article.html").write_text(doc, encoding="utf-8")
    write_expected("article.html", "html", C.HTML_TITLE, pages,
                   probe="By 1500 printing shops operated in more than two hundred European towns — from Venice to Lübeck.",
                   must_not_contain=C.HTML_FORBIDDEN,
                   note="nav, header, cookie banner and footer words are not part of the expected text (they may or may not be extracted)")


# ---------------------------------------------------------------- EPUB
def make_book_epub():
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("urn:uuid:5f0e6a2c-1b7d-4e39-9a55-flashforge01")
    book.set_title(C.EPUB_TITLE)
    book.set_language("en")
    book.add_author("FlashForge fixtures")
    items = {}
    for fname, title, paras in C.EPUB_CHAPTERS:
        ch = epub.EpubHtml(title=title, file_name=fname, lang="en", uid=fname.split(".")[0])
        ch.content = (f"<html><head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
                      + "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paras) + "</body></html>")
        items[fname] = ch
    for fname in C.EPUB_MANIFEST_ORDER:
        book.add_item(items[fname])
    spine = [items[f] for f, _, _ in C.EPUB_CHAPTERS]
    book.toc = tuple(spine)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = spine
    path = OUT / "book.epub"
    epub.write_epub(str(path), book, {"mtime": FIXED_DT})
    normalize_zip(path)
    pages = Pages()
    for _, title, paras in C.EPUB_CHAPTERS:
        pages.new(title)
        pages.add(title, *paras)
    write_expected("book.epub", "epub", C.EPUB_TITLE, pages,
                   probe="In January 49 BC he crossed the Rubicon with one legion, which started a civil war against Pompey.",
                   spine=[f for f, _, _ in C.EPUB_CHAPTERS], manifest_order=C.EPUB_MANIFEST_ORDER)


# ---------------------------------------------------------------- text files
def make_text_files():
    specs = [
        ("legacy-cp1252.txt", "txt", C.CP1252_TEXT, "cp1252", "windows-1252",
         "Le café près de la gare est fermé le dimanche, mais la boulangerie reste ouverte."),
        ("utf16le-bom.txt", "txt", C.UTF16LE_TEXT, "utf-16-le", "utf-16le (BOM)",
         "Density is written as ρ, while the angle of rotation is usually θ."),
        ("utf16be.txt", "txt", C.UTF16BE_TEXT, "utf-16-be", "utf-16be (no BOM)",
         "The word for salt is соль, and the word for gas is газ."),
        ("latin1.md", "md", C.LATIN1_MD, "latin-1", "iso-8859-1",
         "Les députés du tiers état se sont réunis dans la salle du Jeu de paume."),
    ]
    for name, fmt, text, codec, label, probe in specs:
        data = text.encode(codec)
        if name == "utf16le-bom.txt":
            data = b"\xff\xfe" + data
        if codec == "cp1252":
            try:
                data.decode("utf-8")
                raise AssertionError("cp1252 file must not be valid UTF-8")
            except UnicodeDecodeError:
                pass
        (OUT / name).write_bytes(data)
        pages = Pages()
        pages.new("p. 1")
        pages.add(text.strip())
        write_expected(name, fmt, None, pages, probe=probe, encoding=label)


# ---------------------------------------------------------------- OCR images
def font(size, bold=False):
    from PIL import ImageFont
    return ImageFont.truetype(str(FONT_DIR / ("DejaVuSerif-Bold.ttf" if bold else "DejaVuSerif.ttf")), size)


def wrap(draw, text, fnt, width):
    lines, cur = [], ""
    for w in text.split():
        cand = (cur + " " + w).strip()
        if draw.textlength(cand, font=fnt) <= width:
            cur = cand
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines


def render_text(text, *, pt=14, dpi=300, width_in=7.5, margin_in=0.6, bg=255, fg=0):
    """Clean printed text: DejaVu Serif at `pt` points, `dpi` resolution, grayscale."""
    from PIL import Image, ImageDraw

    px = round(pt * dpi / 72)
    fnt = font(px)
    W = round(width_in * dpi)
    M = round(margin_in * dpi)
    tmp = ImageDraw.Draw(Image.new("L", (10, 10)))
    lines = wrap(tmp, text, fnt, W - 2 * M)
    lh = round(px * 1.45)
    H = 2 * M + lh * len(lines)
    img = Image.new("L", (W, H), bg)
    d = ImageDraw.Draw(img)
    for i, ln in enumerate(lines):
        d.text((M, M + i * lh), ln, font=fnt, fill=fg)
    return img


def ocr_pages(texts, label_fmt):
    pages = Pages()
    for i, t in enumerate(texts):
        pages.new(label_fmt.format(i + 1))
        pages.add(t)
    return pages


def make_ocr():
    from PIL import Image, ImageFilter

    # page.png
    img = render_text(C.OCR_PAGE_PNG)
    img.save(OUT / "page.png", optimize=True, dpi=(300, 300))
    write_expected("page.png", "png", None, ocr_pages([C.OCR_PAGE_PNG], "p. 1"),
                   probe="When the droplets grow heavy enough they fall as rain or snow.", min_recall=0.9)

    # photo.jpg: slightly rotated, gray paper with a gradient, seeded Gaussian noise, mild blur.
    # Scaled to 80% (about 240 dpi, text still ~46 px high) to stay under 300 KB.
    from PIL import ImageChops
    base = render_text(C.OCR_PHOTO_JPG, bg=255, fg=25)
    base = base.resize((round(base.width * 0.8), round(base.height * 0.8)), Image.LANCZOS)
    rot = base.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    w, h = rot.size
    rnd = random.Random(17)
    noise = Image.frombytes("L", (w, h), bytes(max(0, min(255, int(128 + rnd.gauss(0, 6)))) for _ in range(w * h)))
    paper = Image.linear_gradient("L").resize((w, h)).point(lambda v: 214 + v * 14 // 255)
    photo = ImageChops.multiply(paper, rot)
    photo = ImageChops.add(photo, noise, offset=-128)
    photo = photo.filter(ImageFilter.GaussianBlur(1.0))
    photo = photo.convert("RGB")
    photo.save(OUT / "photo.jpg", quality=85, dpi=(300, 300))
    write_expected("photo.jpg", "jpeg", None, ocr_pages([C.OCR_PHOTO_JPG], "p. 1"),
                   probe="Without photosynthesis there would be very little oxygen for animals to breathe.", min_recall=0.9)

    # scan.pdf: image-only pages (no text layer, no fonts), images stored losslessly with
    # FlateDecode (Pillow's PDF writer uses DCT and exceeded 300 KB; reportlab adds an unused font).
    make_image_pdf(OUT / "scan.pdf", [render_text(t) for t in C.OCR_SCAN_PDF], "Scanned history notes")
    write_expected("scan.pdf", "pdf", None, ocr_pages(C.OCR_SCAN_PDF, "p. {}"),
                   probe="Milestones along the way told travellers how far they had come.", min_recall=0.9,
                   text_layer=False)

    # page.tiff: 2 pages
    timgs = [render_text(t) for t in C.OCR_TIFF]
    timgs[0].save(OUT / "page.tiff", save_all=True, append_images=timgs[1:], compression="tiff_deflate", dpi=(300, 300))
    write_expected("page.tiff", "tiff", None, ocr_pages(C.OCR_TIFF, "p. {}"),
                   probe="The human heart is a muscular pump about the size of a closed fist.", min_recall=0.9)

    make_mixed_pdf()


def draw_page_image(c, img):
    """Draw a 300 dpi image at its physical size, centred at the top of a letter page."""
    from reportlab.lib.utils import ImageReader

    b = io.BytesIO()
    img.save(b, "PNG")
    b.seek(0)
    w_pt = img.size[0] * 72 / 300
    h_pt = img.size[1] * 72 / 300
    c.drawImage(ImageReader(b), (612 - w_pt) / 2, 792 - 36 - h_pt, width=w_pt, height=h_pt)


def make_image_pdf(path, imgs, title, dpi=300):
    """A minimal image-only PDF written by hand: one 8-bit DeviceGray FlateDecode image per
    letter-size page, no fonts, no text operators, no dates (so it is byte-for-byte stable)."""
    objs: list[bytes | None] = []

    def add(body):
        objs.append(body)
        return len(objs)

    catalog, pages = add(None), add(None)
    kids = []
    for img in imgs:
        w, h = img.size
        data = zlib.compress(img.convert("L").tobytes(), 9)
        im = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                 b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data))
                 + data + b"\nendstream")
        pw, ph = w * 72 / dpi, h * 72 / dpi
        content = b"q %.2f 0 0 %.2f %.2f %.2f cm /Im0 Do Q\n" % (pw, ph, (612 - pw) / 2, 792 - 36 - ph)
        c = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                        b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (pages, im, c)))
    objs[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    objs[pages - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    info = add(b"<< /Title (%s) /Producer (FlashForge tools/corpus/generate.py) >>" % title.encode("ascii"))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, info, xref)
    Path(path).write_bytes(bytes(out))


def make_mixed_pdf():
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    path = OUT / "mixed.pdf"
    c = canvas.Canvas(str(path), pagesize=letter, invariant=1, pageCompression=1)
    c.setTitle("Physics revision")
    # page 1: real text layer
    c.setFont("Times-Roman", 13)
    y = 720
    words = C.OCR_MIXED_PDF[0].split()
    line = ""
    for w in words:
        cand = (line + " " + w).strip()
        if c.stringWidth(cand, "Times-Roman", 13) > 468:
            c.drawString(72, y, line)
            y -= 18
            line = w
        else:
            line = cand
    c.drawString(72, y, line)
    c.showPage()
    # page 2: image only
    draw_page_image(c, render_text(C.OCR_MIXED_PDF[1]))
    c.showPage()
    c.save()
    write_expected("mixed.pdf", "pdf", "Physics revision", ocr_pages(C.OCR_MIXED_PDF, "p. {}"),
                   probe="The third law states that every action has an equal and opposite reaction.", min_recall=0.9,
                   text_layer=[True, False])


# ---------------------------------------------------------------- broken inputs
def make_broken():
    docx_bytes = (OUT / "notes.docx").read_bytes()
    (OUT / "truncated.docx").write_bytes(docx_bytes[: int(len(docx_bytes) * 0.6)])

    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/ppt/presentation.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>'
          "</Types>")
    with zipfile.ZipFile(OUT / "not-really.pptx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", date_time=ZIP_DT), ct)

    # zipbomb.docx: word/document.xml inflates to ~200 MiB of <w:p/> and spaces
    target = 200 * 1024 * 1024
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{W_NS}"><w:body>').encode()
    tail = b"</w:body></w:document>"
    unit = b"<w:p/>" + b" " * 58  # 64 bytes
    chunk = unit * (1024 * 16)  # 1 MiB
    n_chunks = (target - len(head) - len(tail)) // len(chunk)
    ct_docx = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
               '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
               '<Default Extension="xml" ContentType="application/xml"/>'
               '<Override PartName="/word/document.xml" '
               'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
               "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(OUT / "zipbomb.docx", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", date_time=ZIP_DT), ct_docx, zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo("_rels/.rels", date_time=ZIP_DT), rels, zipfile.ZIP_DEFLATED)
        zi = zipfile.ZipInfo("word/document.xml", date_time=ZIP_DT)
        zi.compress_type = zipfile.ZIP_DEFLATED
        with z.open(zi, "w") as f:  # < 2 GiB inflated: no zip64 needed
            f.write(head)
            for _ in range(n_chunks):
                f.write(chunk)
            f.write(tail)

    manifest = {
        "good": sorted(p.name[: -len(".expected.json")] for p in OUT.glob("*.expected.json")),
        "broken": {
            "truncated.docx": "first 60% of the bytes of notes.docx (zip central directory missing)",
            "not-really.pptx": "zip with only [Content_Types].xml declaring /ppt/presentation.xml; no presentation, no slides",
            "zipbomb.docx": f"valid-looking DOCX whose word/document.xml inflates to {head.__len__() + tail.__len__() + n_chunks * len(chunk)} bytes of <w:p/> and spaces",
        },
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- verification
PAGE_BR = 'w:type="page"'
BT_RE = rb'\bBT\b'


def verify():
    import docx
    import pptx
    from ebooklib import epub
    from odf.opendocument import load as odf_load
    from PIL import Image

    rows = []

    def row(name, info):
        size = (OUT / name).stat().st_size
        rows.append((name, size, info))

    for n in ("notes.docx", "sections.docx"):
        d = docx.Document(OUT / n)
        xml = (zipfile.ZipFile(OUT / n).read("word/document.xml")).decode()
        row(n, f"docx ok: {len(d.paragraphs)} paragraphs, {len(d.tables)} tables, "
               f"{xml.count(PAGE_BR)} page breaks, footnoteReference={'footnoteReference' in xml}, title={d.core_properties.title!r}")
    p = pptx.Presentation(OUT / "lecture.pptx")
    z = zipfile.ZipFile(OUT / "lecture.pptx")
    rels = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="slides/(slide\d+\.xml)"', z.read("ppt/_rels/presentation.xml.rels").decode()))
    order = [rels[r] for r in re.findall(r'<p:sldId [^>]*r:id="(rId\d+)"', z.read("ppt/presentation.xml").decode())]
    titles = [s.shapes.title.text for s in p.slides]
    assert titles == [x["title"] for x in C.PPTX_SLIDES], titles
    assert order != sorted(order), order
    row("lecture.pptx", f"pptx ok: {len(p.slides)} slides, presentation order of XML files {', '.join(order)}, "
                        f"notes on {[i + 1 for i, s in enumerate(p.slides) if s.has_notes_slide and s.notes_slide.notes_text_frame.text]}")
    for n in ("notes.odt", "lecture.odp"):
        d = odf_load(str(OUT / n))
        xml = zipfile.ZipFile(OUT / n).read("content.xml").decode()
        row(n, f"odf ok: soft-page-breaks={xml.count('text:soft-page-break')}, notes={xml.count('text:note ')}, "
               f"draw:page={xml.count('<draw:page ')}, presentation:notes={xml.count('<presentation:notes')}")
    b = epub.read_epub(str(OUT / "book.epub"), {"ignore_ncx": True})
    row("book.epub", f"epub ok: title={b.get_metadata('DC', 'title')[0][0]!r}, spine={[i for i, _ in b.spine]}, "
                     f"manifest={[it.file_name for it in b.get_items() if it.file_name.startswith('chap')]}")
    rtf = (OUT / "notes.rtf").read_text("ascii")
    row("notes.rtf", f"rtf: {rtf.count(chr(92) + 'page' + chr(10))} \\page, footnote={'{' + chr(92) + 'footnote' in rtf}")
    row("article.html", "html")
    for n in ("legacy-cp1252.txt", "utf16le-bom.txt", "utf16be.txt", "latin1.md"):
        row(n, "text")
    for n in ("page.png", "photo.jpg", "page.tiff", "scan.pdf"):
        if n.endswith(".pdf"):
            data = (OUT / n).read_bytes()
            streams = re.findall(rb"<<(.*?)>>\nstream\n(.*?)endstream", data, re.S)
            text_ops = any(re.search(BT_RE, body) for d, body in streams if b"/Subtype /Image" not in d)
            assert b"/Font" not in data and not text_ops, "scan.pdf must have no text layer"
            row(n, f"pdf: pages={data.count(b'/Type /Page') - data.count(b'/Type /Pages')}, "
                   f"fonts={b'/Font' in data}, text operators in content streams={text_ops}")
            continue
        im = Image.open(OUT / n)
        frames = getattr(im, "n_frames", 1)
        row(n, f"image ok: {im.format} {im.size} {im.mode} frames={frames}")
    data = (OUT / "mixed.pdf").read_bytes()
    row("mixed.pdf", f"pdf: fonts={b'/Font' in data}, images={b'/Subtype /Image' in data}")
    for n in ("truncated.docx", "not-really.pptx", "zipbomb.docx"):
        info = "broken"
        if n == "zipbomb.docx":
            zi = zipfile.ZipFile(OUT / n).getinfo("word/document.xml")
            info = f"broken: document.xml {zi.file_size} bytes inflated, {zi.compress_size} compressed"
        row(n, info)

    # size limits
    for name, size, _ in rows:
        limit = 1_000_000 if name == "zipbomb.docx" else (300_000 if name.split(".")[-1] in ("png", "jpg", "tiff", "pdf") else 150_000)
        assert size < limit, f"{name} is {size} bytes (limit {limit})"
    print(f"{'file':22} {'bytes':>8}  check")
    for name, size, info in rows:
        print(f"{name:22} {size:8}  {info}")
    print()
    print(f"{'file':22} pages  probe label")
    for m in MADE:
        print(f"{m['file']:22} {m['pages']:5}  {m['probe_label']}")


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()
    OUT = args.out
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.iterdir():
        if p.is_file() and not p.name.startswith("."):  # keep .gitattributes
            p.unlink()
    make_notes_docx()
    make_sections_docx()
    make_notes_odt()
    make_lecture_pptx()
    make_lecture_odp()
    make_notes_rtf()
    make_article_html()
    make_book_epub()
    make_text_files()
    make_ocr()
    make_broken()
    if not args.no_verify:
        verify()


if __name__ == "__main__":
    main()
