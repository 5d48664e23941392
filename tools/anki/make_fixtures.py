#!/usr/bin/env python3
"""Anki packages for FlashForge's import tests, made in Anki's own format by genanki.

    pip install -r tools/anki/requirements.txt
    python3 tools/anki/make_fixtures.py

writes into tests/fixtures/anki/:

- mixed.apkg: the deck `Biology::Cells` with basic notes (HTML, entities, an image), basic-and-
  reversed notes, cloze notes (one with a hint), a note of a three-field type an importer must
  convert, a media file, and a review log: learning steps on one day, reviews days apart, a lapse
  with its relearning step, a manual reschedule (which carries no answer) and a suspended card.
- basic-only.apkg: two basic notes, nothing else.
- <name>.expected.json: what each package holds, read back from its own database (not typed
  by hand): the notes' note types, raw fields and tags, each card's state and its review log.

The files are byte-for-byte reproducible: fixed ids, GUIDs and timestamps, and the zip entries
rewritten with a fixed date. genanki writes no review log, so one is added to the collection
after it, with sqlite3, as Anki itself would have logged it.
"""

import json
import os
import sqlite3
import tempfile
import zipfile

import genanki

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "anki")
# The package's write time (genanki stamps the collection with it): 2024-03-01 00:00 UTC.
STAMP = 1709251200.0
DAY_MS = 86_400_000
# A tiny valid PNG (1×1, transparent).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

VOCABULARY = genanki.Model(
    1_600_000_000_001,
    "Vocabulary",
    fields=[{"name": "Word"}, {"name": "Meaning"}, {"name": "Example"}],
    templates=[
        {
            "name": "Recognize",
            "qfmt": "{{Word}}<br>{{Example}}",
            "afmt": "{{FrontSide}}<hr id=answer>{{Meaning}}",
        }
    ],
)

MODEL_KIND = {
    genanki.BASIC_MODEL.model_id: "basic",
    genanki.BASIC_AND_REVERSED_CARD_MODEL.model_id: "reversed",
    genanki.CLOZE_MODEL.model_id: "cloze",
    VOCABULARY.model_id: "other",
}


def ms(day, hour, minute=0):
    """Milliseconds of 2024-03-01 + `day` days at hour:minute UTC."""
    return int(STAMP * 1000) + day * DAY_MS + (hour * 60 + minute) * 60_000


def write_package(name, notes, media=()):
    deck = genanki.Deck(2_059_400_110, "Biology::Cells")
    for note in notes:
        deck.add_note(note)
    package = genanki.Package(deck)
    package.media_files = list(media)
    path = os.path.join(OUT, name)
    package.write_to_file(path, timestamp=STAMP)
    return path


def rewrite(path, change):
    """Applies `change(db)` to the package's collection and zips it again with fixed dates."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "collection.anki2")
        with open(db_path, "wb") as f:
            f.write(entries["collection.anki2"])
        db = sqlite3.connect(db_path)
        change(db)
        db.commit()
        db.execute("VACUUM")
        db.close()
        with open(db_path, "rb") as f:
            entries["collection.anki2"] = f.read()
    with zipfile.ZipFile(path, "w") as archive:
        for filename in sorted(entries, key=lambda n: (n != "collection.anki2", n)):
            info = zipfile.ZipInfo(filename, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[filename])


def card_id(db, guid, ord_):
    return db.execute(
        "SELECT c.id FROM cards c JOIN notes n ON n.id = c.nid WHERE n.guid = ? AND c.ord = ?",
        (guid, ord_),
    ).fetchone()[0]


def give_history(db, guid, ord_, reviews, suspended=False):
    """Logs `reviews` (ms, ease, type, ivl) for a card and leaves it in review state."""
    crt = db.execute("SELECT crt FROM col").fetchone()[0]
    cid = card_id(db, guid, ord_)
    last_ivl = 0
    answered = [r for r in reviews if r[2] != 4]
    for at, ease, kind, ivl in reviews:
        db.execute(
            "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
            "VALUES (?, ?, -1, ?, ?, ?, ?, ?, ?)",
            (at, cid, ease, ivl, last_ivl, 0 if kind == 0 else 2500, 3000 + at % 7000, kind),
        )
        last_ivl = ivl
    last_at, _, _, last_ivl = reviews[-1]
    day = (last_at // 1000 - crt) // 86_400
    lapses = sum(1 for _, ease, kind, _ in answered if ease == 1 and kind == 1)
    db.execute(
        "UPDATE cards SET type = 2, queue = ?, ivl = ?, due = ?, reps = ?, lapses = ?, "
        "factor = 2500 WHERE id = ?",
        (-1 if suspended else 2, last_ivl, day + last_ivl, len(answered), lapses, cid),
    )


def mixed():
    basic, reversed_, cloze = (
        genanki.BASIC_MODEL,
        genanki.BASIC_AND_REVERSED_CARD_MODEL,
        genanki.CLOZE_MODEL,
    )
    notes = [
        genanki.Note(basic, ["<b>Mitochondria</b> make <i>ATP</i>", "Yes<br>in cells &amp; more &lt;3"], guid="ff-basic-1"),
        genanki.Note(basic, ["What holds the genome?", "The nucleus"], tags=["biology", "cell_parts"], guid="ff-basic-2"),
        genanki.Note(basic, ["Name this organelle <img src=\"cell.png\">", "A ribosome"], guid="ff-basic-3"),
        genanki.Note(reversed_, ["Mitosis", "Division of the nucleus"], tags=["vocab"], guid="ff-rev-1"),
        genanki.Note(reversed_, ["Meiosis", "Division making gametes"], guid="ff-rev-2"),
        genanki.Note(cloze, ["{{c1::Mitochondria}} are the {{c2::powerhouse}} of the cell", "Organelles"], guid="ff-cloze-1"),
        genanki.Note(cloze, ["The nucleus holds {{c1::DNA::a molecule}}", ""], guid="ff-cloze-2"),
        genanki.Note(VOCABULARY, ["Lysosome", "Digests waste", "Lysosomes break down old parts"], guid="ff-vocab-1"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "cell.png")
        with open(image, "wb") as f:
            f.write(PNG)
        path = write_package("mixed.apkg", notes, media=[image])

    def change(db):
        # Learning steps on day 0, reviews days apart, a lapse and its relearning step.
        give_history(db, "ff-basic-1", 0, [
            (ms(0, 10), 3, 0, -600), (ms(0, 10, 10), 3, 0, 1),
            (ms(1, 9), 3, 1, 3), (ms(4, 18), 1, 1, -600),
            (ms(4, 18, 10), 3, 2, 1), (ms(5, 20), 4, 1, 6),
        ])
        give_history(db, "ff-basic-2", 0, [(ms(2, 8), 4, 0, 4)])
        # A manual reschedule (type 4, no answer) between two answers.
        give_history(db, "ff-rev-1", 0, [
            (ms(0, 11), 3, 0, 1), (ms(3, 12), 0, 4, 5), (ms(6, 9), 2, 1, 4),
        ])
        give_history(db, "ff-rev-1", 1, [(ms(1, 7), 3, 0, 1), (ms(2, 7), 3, 1, 3)],
                     suspended=True)
        give_history(db, "ff-cloze-1", 1, [(ms(0, 15), 2, 0, 1), (ms(1, 15), 3, 1, 2)])

    rewrite(path, change)
    return path


def basic_only():
    basic = genanki.BASIC_MODEL
    notes = [
        genanki.Note(basic, ["Capital of France?", "Paris"], guid="ff-only-1"),
        genanki.Note(basic, ["2 + 2", "4"], tags=["math"], guid="ff-only-2"),
    ]
    path = write_package("basic-only.apkg", notes)
    rewrite(path, lambda db: None)
    return path


def expected(path):
    """What the package holds, read from its own collection."""
    with zipfile.ZipFile(path) as archive:
        media = json.loads(archive.read("media"))
        collection = archive.read("collection.anki2")
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "c.anki2")
        with open(db_path, "wb") as f:
            f.write(collection)
        db = sqlite3.connect(db_path)
        crt, models, decks = db.execute("SELECT crt, models, decks FROM col").fetchone()
        models = json.loads(models)
        notes = []
        for nid, mid, tags, flds in db.execute("SELECT id, mid, tags, flds FROM notes ORDER BY id").fetchall():
            guid = db.execute("SELECT guid FROM notes WHERE id = ?", (nid,)).fetchone()[0]
            cards = []
            for cid, ord_, kind, queue, due, ivl, reps, lapses in db.execute(
                "SELECT id, ord, type, queue, due, ivl, reps, lapses FROM cards WHERE nid = ? ORDER BY ord",
                (nid,),
            ).fetchall():
                reviews = [
                    {"id": rid, "ease": ease, "type": rtype, "ivl": rivl, "time": time}
                    for rid, ease, rtype, rivl, time in db.execute(
                        "SELECT id, ease, type, ivl, time FROM revlog WHERE cid = ? ORDER BY id", (cid,)
                    ).fetchall()
                ]
                cards.append({
                    "ord": ord_, "suspended": queue == -1, "type": kind, "queue": queue, "due": due,
                    "ivl": ivl, "reps": reps, "lapses": lapses, "reviews": reviews,
                })
            notes.append({
                "guid": guid, "model": MODEL_KIND[mid], "model_name": models[str(mid)]["name"],
                "fields": flds.split("\x1f"), "tags": tags.split(), "cards": cards,
            })
        db.close()
    deck = next(d["name"] for d in json.loads(decks).values() if d["name"] != "Default")
    out = {
        "deck": deck,
        "crt": crt,
        "media": [media[k] for k in sorted(media, key=int)],
        "notes": notes,
    }
    with open(path.replace(".apkg", ".expected.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for made in (mixed(), basic_only()):
        expected(made)
        print("wrote", os.path.relpath(made))
