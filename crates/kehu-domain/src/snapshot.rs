//! Profile snapshots (R1.8): a customer's profile as it stood at a moment, kept unchanged, and
//! what differs from today. A workflow takes one with the `snapshot` effect (a timer every half
//! year for A and B partners, an action for an extra one); the interpreter stores what
//! [`profile`] builds, and the pages show [`differences`].

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::text::Text;
use crate::workflow::{FieldKind, Workflow};

/// What a snapshot keeps: the customer's name, grade and tags, and the fields of the case that
/// took it (a partner's dossier, its checklists' answers among them).
pub fn profile(customer: (&str, Option<&str>, &[String]), case: (i64, &str, &Map<String, Value>)) -> Value {
    let (name, grade, tags) = customer;
    let (id, workflow, fields) = case;
    json!({
        "customer": { "name": name, "grade": grade, "tags": tags },
        "case": { "id": id, "workflow": workflow, "fields": fields },
    })
}

/// One line of a comparison: what, as it was, as it is (`None`: not there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub label: Text,
    pub then: Option<Text>,
    pub now: Option<Text>,
    pub changed: bool,
}

fn same(s: String) -> Text {
    Text::new(s.clone(), s)
}

/// A value as a reader reads it: money in yuan, yes and no in words, a checklist's answers by
/// their items' names.
fn shown(wf: Option<&Workflow>, key: &str, v: Option<&Value>) -> Option<Text> {
    let v = v?;
    if let Some(list) = wf.and_then(|w| w.checklist(key)) {
        let answers = v.as_object()?;
        let word = |a: &str| match a {
            "yes" => ("是", "yes"),
            "no" => ("否", "no"),
            _ => ("不确定", "unclear"),
        };
        let parts: Vec<(String, String)> = list
            .items
            .iter()
            .filter_map(|i| {
                let (zh, en) = word(answers.get(&i.id)?.as_str()?);
                Some((format!("{}：{zh}", i.name.zh), format!("{}: {en}", i.name.en)))
            })
            .collect();
        if parts.is_empty() {
            return None;
        }
        let (zh, en): (Vec<String>, Vec<String>) = parts.into_iter().unzip();
        return Some(Text::new(zh.join("；"), en.join("; ")));
    }
    let kind = wf.and_then(|w| w.field(key)).map(|f| &f.kind);
    match (kind, v) {
        (_, Value::Null) => None,
        (_, Value::String(s)) if s.is_empty() => None,
        (Some(FieldKind::Money), Value::Number(n)) => n.as_i64().map(|fen| {
            let y = crate::ledger::yuan(fen);
            Text::new(format!("{y} 元"), format!("{y} yuan"))
        }),
        (_, Value::Bool(b)) => Some(if *b {
            Text::new("是", "yes")
        } else {
            Text::new("否", "no")
        }),
        (_, Value::String(s)) => Some(same(s.clone())),
        (_, Value::Array(a)) if a.is_empty() => None,
        (_, Value::Array(a)) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                .collect();
            Some(Text::new(items.join("、"), items.join(", ")))
        }
        (_, other) => Some(same(other.to_string())),
    }
}

/// Each part of the profile `then` beside the same part `now` (both as [`profile`] builds them),
/// the customer's first, then the case's fields in the workflow's order, labelled by their names
/// in the policy (a field the workflow no longer has, by its id).
pub fn differences(wf: Option<&Workflow>, then: &Value, now: &Value) -> Vec<Difference> {
    let line = |label: Text, a: Option<Text>, b: Option<Text>| Difference {
        changed: a != b,
        label,
        then: a,
        now: b,
    };
    let mut out = Vec::new();
    for (key, label) in [
        ("name", Text::new("名称", "Name")),
        ("grade", Text::new("等级", "Grade")),
        ("tags", Text::new("标记", "Tags")),
    ] {
        let at = |v: &Value| shown(None, key, v.pointer(&format!("/customer/{key}")));
        out.push(line(label, at(then), at(now)));
    }
    let fields = |v: &Value| -> Map<String, Value> {
        v.pointer("/case/fields")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (a, b) = (fields(then), fields(now));
    let mut keys: Vec<String> = wf
        .map(|w| {
            w.fields
                .iter()
                .map(|f| f.id.clone())
                .chain(w.checklists.iter().map(|c| c.id.clone()))
                .collect()
        })
        .unwrap_or_default();
    for k in a.keys().chain(b.keys()) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    for k in keys {
        let label = wf
            .and_then(|w| {
                w.field(&k)
                    .map(|f| f.name.clone())
                    .or_else(|| w.checklist(&k).map(|c| c.name.clone()))
            })
            .unwrap_or_else(|| same(k.clone()));
        out.push(line(label, shown(wf, &k, a.get(&k)), shown(wf, &k, b.get(&k))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r1_8_a_snapshot_keeps_the_profile_and_shows_what_changed_since() {
        let then = profile(
            ("华建工程有限公司", Some("B"), &["外地".to_string()]),
            (
                3,
                "admission",
                json!({ "address": "杭州", "staff_list": null }).as_object().unwrap(),
            ),
        );
        let now = profile(
            ("华建工程有限公司", Some("A"), &[]),
            (
                3,
                "admission",
                json!({ "address": "宁波", "staff_list": "32 人" }).as_object().unwrap(),
            ),
        );
        let d = differences(None, &then, &now);
        let changed: Vec<(&str, Option<&str>, Option<&str>)> = d
            .iter()
            .filter(|x| x.changed)
            .map(|x| {
                (
                    x.label.en.as_str(),
                    x.then.as_ref().map(|t| t.en.as_str()),
                    x.now.as_ref().map(|t| t.en.as_str()),
                )
            })
            .collect();
        assert_eq!(
            changed,
            [
                ("Grade", Some("B"), Some("A")),
                ("Tags", Some("外地"), None),
                ("address", Some("杭州"), Some("宁波")),
                ("staff_list", None, Some("32 人")),
            ]
        );
        assert!(d.iter().any(|x| x.label.en == "Name" && !x.changed));
    }
}
