#!/usr/bin/env python3
"""The same deck in the format of Anki 2.1.50 and later, made by Anki itself.

    python3 -m venv /tmp/ankivenv
    /tmp/ankivenv/bin/pip install -r tools/anki/requirements.txt
    /tmp/ankivenv/bin/python tools/anki/make_modern.py

imports tests/fixtures/anki/mixed.apkg (made by make_fixtures.py) into a new collection with
the `anki` package (Anki's own backend, from PyPI) and exports its deck as Anki does by default:
`collection.anki21b` (a schema-18 collection compressed with zstd, note types in their own
tables with protobuf configs), the media map as zstd-compressed protobuf, a `meta` entry, and a
stub `collection.anki2` that only tells old versions to update. The notes, cards and review log
are mixed.apkg's, so mixed.expected.json describes it too, except due days: Anki moves them on
import to the same distance from the importing day. Anki stamps the file with the time it was
made, so it is not byte-reproducible; the fixture is made once and committed.
"""

import os
import tempfile

from anki.collection import (
    Collection,
    DeckIdLimit,
    ExportAnkiPackageOptions,
    ImportAnkiPackageOptions,
    ImportAnkiPackageRequest,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "tests", "fixtures", "anki")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        col = Collection(os.path.join(tmp, "collection.anki2"))
        col.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=os.path.join(FIXTURES, "mixed.apkg"),
                options=ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True),
            )
        )
        deck = col.decks.id_for_name("Biology::Cells")
        out = os.path.join(FIXTURES, "modern.apkg")
        notes = col.export_anki_package(
            out_path=out,
            options=ExportAnkiPackageOptions(
                with_scheduling=True, with_deck_configs=True, with_media=True, legacy=False
            ),
            limit=DeckIdLimit(deck_id=deck),
        )
        col.close()
        print(f"wrote {os.path.relpath(out)}: {notes} notes")


if __name__ == "__main__":
    main()
