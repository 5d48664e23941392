//! The legacy Anki collection (schema version 11): its tables and the JSON documents its single
//! `col` row holds.

use serde_json::{Value, json};

use crate::card::NoteKind;

/// The tables and indexes of a schema-11 collection.
pub(crate) const SCHEMA: &str = "
CREATE TABLE col (
    id     integer primary key,
    crt    integer not null,
    mod    integer not null,
    scm    integer not null,
    ver    integer not null,
    dty    integer not null,
    usn    integer not null,
    ls     integer not null,
    conf   text not null,
    models text not null,
    decks  text not null,
    dconf  text not null,
    tags   text not null
);
CREATE TABLE notes (
    id    integer primary key,
    guid  text not null,
    mid   integer not null,
    mod   integer not null,
    usn   integer not null,
    tags  text not null,
    flds  text not null,
    sfld  integer not null,
    csum  integer not null,
    flags integer not null,
    data  text not null
);
CREATE TABLE cards (
    id     integer primary key,
    nid    integer not null,
    did    integer not null,
    ord    integer not null,
    mod    integer not null,
    usn    integer not null,
    type   integer not null,
    queue  integer not null,
    due    integer not null,
    ivl    integer not null,
    factor integer not null,
    reps   integer not null,
    lapses integer not null,
    left   integer not null,
    odue   integer not null,
    odid   integer not null,
    flags  integer not null,
    data   text not null
);
CREATE TABLE revlog (
    id      integer primary key,
    cid     integer not null,
    usn     integer not null,
    ease    integer not null,
    ivl     integer not null,
    lastIvl integer not null,
    factor  integer not null,
    time    integer not null,
    type    integer not null
);
CREATE TABLE graves (
    usn  integer not null,
    oid  integer not null,
    type integer not null
);
CREATE INDEX ix_notes_usn ON notes (usn);
CREATE INDEX ix_cards_usn ON cards (usn);
CREATE INDEX ix_revlog_usn ON revlog (usn);
CREATE INDEX ix_cards_nid ON cards (nid);
CREATE INDEX ix_cards_sched ON cards (did, queue, due);
CREATE INDEX ix_revlog_cid ON revlog (cid);
CREATE INDEX ix_notes_csum ON notes (csum);
";

/// The basic note type's id: a fixed millisecond timestamp (2024-06-01T00:00:00Z), so that
/// every export uses the same note types and Anki matches them on later imports instead of
/// adding copies. The reversed and cloze types follow it.
pub(crate) const MODEL_ID: i64 = 1_717_200_000_000;
pub(crate) const REVERSED_MODEL_ID: i64 = MODEL_ID + 1;
pub(crate) const CLOZE_MODEL_ID: i64 = MODEL_ID + 2;

/// The note types' modification time, fixed too: a re-import never looks newer than the copy a
/// user may have restyled.
const MODEL_MOD: i64 = MODEL_ID / 1000;

/// The name of the basic note type the package brings into Anki.
pub const MODEL_NAME: &str = "FlashForge Basic";
/// The name of the basic-and-reversed note type.
pub const REVERSED_MODEL_NAME: &str = "FlashForge Basic (and reversed card)";
/// The name of the cloze note type.
pub const CLOZE_MODEL_NAME: &str = "FlashForge Cloze";

/// The id of Anki's built-in deck, which every collection has.
const DEFAULT_DECK_ID: i64 = 1;

/// The id of the deck option group our deck uses (Anki's default group).
const DECK_CONF_ID: i64 = 1;

/// The note type of a kind of note.
pub(crate) fn model_id(kind: NoteKind) -> i64 {
    match kind {
        NoteKind::Basic => MODEL_ID,
        NoteKind::Reversed => REVERSED_MODEL_ID,
        NoteKind::Cloze => CLOZE_MODEL_ID,
    }
}

/// The `models` column: the note types of `kinds` — Basic-style (fields Front/Back, one card),
/// Basic-and-reversed (two cards) and Cloze (fields Text/Back Extra).
pub(crate) fn models(deck_id: i64, kinds: &[NoteKind]) -> Value {
    let field = |name: &str, ord: u32| {
        json!({
            "name": name,
            "ord": ord,
            "sticky": false,
            "rtl": false,
            "font": "Arial",
            "size": 20,
            "media": [],
        })
    };
    let template = |name: &str, ord: u32, qfmt: &str, afmt: &str| {
        json!({
            "name": name,
            "ord": ord,
            "qfmt": qfmt,
            "afmt": afmt,
            "bqfmt": "",
            "bafmt": "",
            "did": null,
            "bfont": "",
            "bsize": 0,
        })
    };
    let forward = template(
        "Card 1",
        0,
        "{{Front}}",
        "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}",
    );
    let mut out = serde_json::Map::new();
    for kind in kinds {
        let (name, kind_number, fields, templates, req) = match kind {
            NoteKind::Basic => (
                MODEL_NAME,
                0,
                vec![field("Front", 0), field("Back", 1)],
                vec![forward.clone()],
                json!([[0, "any", [0]]]),
            ),
            NoteKind::Reversed => (
                REVERSED_MODEL_NAME,
                0,
                vec![field("Front", 0), field("Back", 1)],
                vec![
                    forward.clone(),
                    template(
                        "Card 2",
                        1,
                        "{{Back}}",
                        "{{FrontSide}}\n\n<hr id=answer>\n\n{{Front}}",
                    ),
                ],
                json!([[0, "any", [0]], [1, "any", [1]]]),
            ),
            NoteKind::Cloze => (
                CLOZE_MODEL_NAME,
                1,
                vec![field("Text", 0), field("Back Extra", 1)],
                vec![template(
                    "Cloze",
                    0,
                    "{{cloze:Text}}",
                    "{{cloze:Text}}<br>\n{{Back Extra}}",
                )],
                json!([[0, "any", [0]]]),
            ),
        };
        let id = model_id(*kind);
        out.insert(
            id.to_string(),
            json!({
                "id": id,
                "name": name,
                "type": kind_number,
                "mod": MODEL_MOD,
                "usn": -1,
                "sortf": 0,
                "did": deck_id,
                "tmpls": templates,
                "flds": fields,
                "css": if *kind == NoteKind::Cloze { CLOZE_CSS } else { CSS },
                "latexPre": LATEX_PRE,
                "latexPost": "\\end{document}",
                "latexsvg": false,
                "req": req,
                "tags": [],
                "vers": [],
            }),
        );
    }
    Value::Object(out)
}

/// The cloze type's style: Anki's, with the gap in bold blue.
const CLOZE_CSS: &str = ".card {
    font-family: arial;
    font-size: 20px;
    text-align: center;
    color: black;
    background-color: white;
}

.cloze {
    font-weight: bold;
    color: blue;
}
";

/// Anki's usual card style; block content from Markdown (lists, code, tables) stays left-aligned.
const CSS: &str = ".card {
    font-family: arial;
    font-size: 20px;
    text-align: center;
    color: black;
    background-color: white;
}

.card ul, .card ol, .card pre, .card table, .card blockquote {
    display: inline-block;
    text-align: left;
}
";

const LATEX_PRE: &str = "\\documentclass[12pt]{article}
\\special{papersize=3in,5in}
\\usepackage[utf8]{inputenc}
\\usepackage{amssymb,amsmath}
\\pagestyle{empty}
\\setlength{\\parindent}{0in}
\\begin{document}
";

/// The `decks` column: Anki's Default deck and ours.
pub(crate) fn decks(deck_id: i64, deck_name: &str, mod_secs: i64) -> Value {
    let deck = |id: i64, name: &str, usn: i64| {
        json!({
            "id": id,
            "name": name,
            "mod": mod_secs,
            "usn": usn,
            "desc": "",
            "dyn": 0,
            "conf": DECK_CONF_ID,
            "collapsed": false,
            "browserCollapsed": false,
            "extendNew": 0,
            "extendRev": 0,
            "newToday": [0, 0],
            "revToday": [0, 0],
            "lrnToday": [0, 0],
            "timeToday": [0, 0],
        })
    };
    json!({
        DEFAULT_DECK_ID.to_string(): deck(DEFAULT_DECK_ID, "Default", 0),
        deck_id.to_string(): deck(deck_id, deck_name, -1),
    })
}

/// The `dconf` column: deck option group 1 with Anki's long-standing defaults.
pub(crate) fn deck_configs() -> Value {
    json!({
        DECK_CONF_ID.to_string(): {
            "id": DECK_CONF_ID,
            "name": "Default",
            "mod": 0,
            "usn": 0,
            "dyn": false,
            "maxTaken": 60,
            "autoplay": true,
            "timer": 0,
            "replayq": true,
            "new": {
                "bury": false,
                "delays": [1.0, 10.0],
                "initialFactor": 2500,
                "ints": [1, 4, 0],
                "order": 1,
                "perDay": 20,
            },
            "rev": {
                "bury": false,
                "ease4": 1.3,
                "fuzz": 0.05,
                "ivlFct": 1.0,
                "maxIvl": 36500,
                "minSpace": 1,
                "perDay": 200,
                "hardFactor": 1.2,
            },
            "lapse": {
                "delays": [10.0],
                "leechAction": 1,
                "leechFails": 8,
                "minInt": 1,
                "mult": 0.0,
            },
        }
    })
}

/// The `conf` column: collection settings, with our deck current and the next new position.
///
/// Days roll over at midnight (`rollover` 0, where Anki's default is 4 am): importing, Anki counts
/// the days since `crt` up to its "today" from the local midnight of `crt`'s date, and review due
/// days are counted from `crt` at midnight UTC; with the default 4 am a card would land a day
/// late whenever the import runs before 4 am. (A `creationOffset` of 0 was tried too: Anki then
/// mixes UTC for `crt` with the machine's zone for now, which is worse.)
pub(crate) fn config(deck_id: i64, next_pos: i64) -> Value {
    json!({
        // Anki's second scheduler and later: learning steps have four buttons, as in the log.
        "schedVer": 2,
        "rollover": 0,
        "activeDecks": [deck_id],
        "curDeck": deck_id,
        "curModel": MODEL_ID,
        "nextPos": next_pos,
        "newSpread": 0,
        "collapseTime": 1200,
        "timeLim": 0,
        "estTimes": true,
        "dueCounts": true,
        "sortType": "noteFld",
        "sortBackwards": false,
        "addToCur": true,
    })
}
