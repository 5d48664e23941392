//! A package's note types (the `models` of a schema-11 collection) as the kinds of note the API
//! stores: Anki's Basic-like types, Basic-and-reversed-like types and cloze types by their
//! shape (fields and templates), whatever they are named; anything else is imported as a basic
//! card from its first two fields, and reported.

use std::collections::HashMap;

use flashforge_domain::flashcards::CardKind;
use serde_json::Value;

/// How the notes of one note type become the API's notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoteType {
    pub(crate) name: String,
    pub(crate) kind: CardKind,
    /// The field the question (a cloze type's text) comes from.
    pub(crate) question: usize,
    /// The field the answer (a cloze type's extra text) comes from, if any.
    pub(crate) answer: Option<usize>,
    /// `false` when the type is none the API stores: its notes become basic cards from their
    /// first two fields.
    pub(crate) native: bool,
}

impl NoteType {
    /// The stand-in for a note whose type the collection does not define.
    pub(crate) fn unknown() -> Self {
        Self {
            name: "(unknown note type)".into(),
            kind: CardKind::Basic,
            question: 0,
            answer: Some(1),
            native: false,
        }
    }
}

/// A note type as both collection schemas describe it: its name, whether it is a cloze type,
/// its fields in order and its templates' question and answer formats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) name: String,
    pub(crate) cloze: bool,
    pub(crate) fields: Vec<String>,
    pub(crate) templates: Vec<(String, String)>,
}

/// The note types of the `models` JSON (schema 11), by id.
pub(crate) fn note_types(models: &str) -> Result<HashMap<i64, NoteType>, String> {
    let parsed: Value = serde_json::from_str(models)
        .map_err(|_| "the collection's note types (col.models) are not valid JSON".to_string())?;
    let Value::Object(models) = parsed else {
        return Err("the collection's note types (col.models) are not a JSON object".into());
    };
    let mut out = HashMap::with_capacity(models.len());
    for (id, model) in models {
        let Ok(id) = id.parse::<i64>() else { continue };
        out.insert(id, classify(&shape_of(&model)));
    }
    Ok(out)
}

fn shape_of(model: &Value) -> Shape {
    Shape {
        name: model["name"].as_str().unwrap_or("(unnamed)").to_owned(),
        cloze: model["type"].as_i64() == Some(1),
        fields: model["flds"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| f["name"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        templates: model["tmpls"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| {
                        let side = |key: &str| t[key].as_str().unwrap_or_default().to_owned();
                        (side("qfmt"), side("afmt"))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub(crate) fn classify(shape: &Shape) -> NoteType {
    let Shape {
        name,
        cloze,
        fields,
        templates,
    } = shape;
    let name = name.clone();
    let converted = NoteType {
        name: name.clone(),
        kind: CardKind::Basic,
        question: 0,
        answer: (fields.len() > 1).then_some(1),
        native: false,
    };
    let field_in = |template: &str| {
        let used: Vec<usize> = (0..fields.len())
            .filter(|&i| references(template, &fields[i]))
            .collect();
        used
    };
    if *cloze {
        // Cloze: the text is the field of `{{cloze:…}}`; the extra text the first other one.
        let Some((qfmt, _)) = templates.first() else {
            return converted;
        };
        let text = (0..fields.len()).find(|&i| qfmt.contains(&format!("cloze:{}}}}}", fields[i])));
        let Some(text) = text else { return converted };
        return NoteType {
            name,
            kind: CardKind::Cloze,
            question: text,
            answer: (0..fields.len()).find(|&i| i != text),
            native: fields.len() <= 2,
        };
    }
    match (fields.len(), templates.as_slice()) {
        // Basic: one template asking one field, answering with the other.
        (2, [(q, a)]) if field_in(q) == [0] && field_in(a).contains(&1) => NoteType {
            name,
            kind: CardKind::Basic,
            question: 0,
            answer: Some(1),
            native: true,
        },
        // Basic and reversed: the second template asks the second field.
        (2, [(q1, a1), (q2, a2)])
            if field_in(q1) == [0]
                && field_in(a1).contains(&1)
                && field_in(q2) == [1]
                && field_in(a2).contains(&0) =>
        {
            NoteType {
                name,
                kind: CardKind::Reversed,
                question: 0,
                answer: Some(1),
                native: true,
            }
        }
        _ => converted,
    }
}

/// Whether a template shows `field`: `{{Field}}` or with filters, `{{type:Field}}`,
/// `{{text:Field}}` (not `{{#Field}}` sections, which only test it).
fn references(template: &str, field: &str) -> bool {
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let inner = after[..close].trim();
        rest = &after[close + 2..];
        if inner.starts_with(['#', '^', '/', '!']) {
            continue;
        }
        if inner.rsplit(':').next().map(str::trim) == Some(field) {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn model(kind: i64, fields: &[&str], templates: &[(&str, &str)]) -> Value {
        json!({
            "name": "m",
            "type": kind,
            "flds": fields.iter().map(|f| json!({"name": f})).collect::<Vec<_>>(),
            "tmpls": templates.iter().map(|(q, a)| json!({"qfmt": q, "afmt": a})).collect::<Vec<_>>(),
        })
    }

    fn classify(model: &Value) -> NoteType {
        super::classify(&shape_of(model))
    }

    #[test]
    fn note_types_are_known_by_their_shape() {
        let basic = model(
            0,
            &["Front", "Back"],
            &[("{{Front}}", "{{FrontSide}}<hr id=answer>{{Back}}")],
        );
        assert_eq!(classify(&basic).kind, CardKind::Basic);
        assert!(classify(&basic).native);
        let typed = model(
            0,
            &["Front", "Back"],
            &[("{{Front}} {{type:Back}}", "{{Front}}<hr id=answer>{{Back}}")],
        );
        // Typing the answer asks the back too: not a plain basic note.
        assert!(!classify(&typed).native);
        let reversed = model(
            0,
            &["Front", "Back"],
            &[
                ("{{Front}}", "{{FrontSide}}<hr>{{Back}}"),
                ("{{Back}}", "{{FrontSide}}<hr>{{Front}}"),
            ],
        );
        assert_eq!(classify(&reversed).kind, CardKind::Reversed);
        let cloze = model(
            1,
            &["Text", "Back Extra"],
            &[("{{cloze:Text}}", "{{cloze:Text}}<br>{{Back Extra}}")],
        );
        let cloze = classify(&cloze);
        assert_eq!(
            (cloze.kind, cloze.question, cloze.answer),
            (CardKind::Cloze, 0, Some(1))
        );
        let optional = model(
            0,
            &["Front", "Back", "Add Reverse"],
            &[
                ("{{Front}}", "{{Back}}"),
                ("{{#Add Reverse}}{{Back}}{{/Add Reverse}}", "{{Front}}"),
            ],
        );
        let optional = classify(&optional);
        assert_eq!((optional.kind, optional.native), (CardKind::Basic, false));
        assert!(note_types("[]").is_err());
        assert!(note_types("{").is_err());
    }
}
