//! Sections a policy had before their rules ran on the case engine (issue 10): `[complaints]`
//! (R11.9) and `[conflicts]` (R11.6). A policy written for an earlier Kehu, and kept as a
//! tenant's active version, keeps its meaning after the upgrade: each section is read as the
//! workflow the event-customers preset declares now (`complaint`, `conflict`), with the section's
//! rule, roles, codes and limit, so the cases the upgrade carried over run on. The section's
//! lines are blanked (every other line keeps its number) and the workflow is read after the
//! file's end; a problem in it is reported at the section's header. `kehu policy check` says how
//! to write the workflow instead.

use toml::Table;

/// A source with its retired sections read as workflows.
pub(super) struct Upgraded {
    pub source: String,
    /// The first line that is not the file's own.
    pub appended_from: usize,
    pub read: Vec<RetiredSection>,
    /// Where each section's workflow begins in `source`, in the order of `read`.
    pub starts: Vec<usize>,
}

/// A retired section a policy still has, and the workflow it was read as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetiredSection {
    pub section: String,
    pub workflow: String,
    /// The line of its header.
    pub line: usize,
    /// What the workflow reads otherwise than the section did (several roles where the engine
    /// takes one).
    pub caveat: Option<String>,
}

impl RetiredSection {
    /// What `kehu policy check` says about it.
    pub fn advice(&self) -> String {
        format!(
            "line {}: [{}] is read as workflow `{}`; write it as [[workflows]] id = \"{}\" (presets/event-customers.toml, docs/policy.md)",
            self.line, self.section, self.workflow, self.workflow
        ) + &self.caveat.as_ref().map(|c| format!("; {c}")).unwrap_or_default()
    }
}

/// The retired sections, the workflow each is read as, and how to build that workflow.
/// A workflow's TOML from the section's table, with what it reads otherwise than the section
/// did, or `None` when it cannot be read as one.
type Build = fn(&Table) -> Option<(String, Option<String>)>;

const RETIRED: [(&str, &str, Build); 2] = [
    ("complaints", "complaint", complaint),
    ("conflicts", "conflict", conflict),
];

/// The header a line opens, when it opens a table (`[name]`, not `[[name]]`).
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.split('#').next().unwrap_or("").trim();
    if t.starts_with("[[") {
        return None;
    }
    t.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// `source` with every retired section it has read as its workflow, or `None` when it has none
/// that can be read. A section that cannot be (other keys than it had) stays, and the parser
/// refuses it at its place.
pub(super) fn upgrade(source: &str) -> Option<Upgraded> {
    let lines: Vec<&str> = source.lines().collect();
    let found: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header(l).filter(|h| RETIRED.iter().any(|r| r.0 == *h)).map(|h| (i, h)))
        .collect();
    if found.is_empty() {
        return None;
    }
    let table: Table = toml::from_str(source).ok()?;
    let mut blank = vec![false; lines.len()];
    let mut appended = String::new();
    let mut read = Vec::new();
    let mut starts = Vec::new();
    let appended_from = lines.len() + 2;
    for (at, name) in found {
        let Some((_, workflow, build)) = RETIRED.iter().find(|r| r.0 == name) else {
            continue;
        };
        // One that cannot be read stays, for the parser to refuse at its place.
        let Some((text, caveat)) = table.get(name).and_then(|v| v.as_table()).and_then(build) else {
            continue;
        };
        let end = (at + 1..lines.len())
            .find(|i| lines[*i].trim_start().starts_with('['))
            .unwrap_or(lines.len());
        blank[at..end].iter_mut().for_each(|b| *b = true);
        starts.push(appended_from + appended.lines().count());
        appended.push_str(&text);
        read.push(RetiredSection {
            section: name.to_string(),
            workflow: (*workflow).to_string(),
            line: at + 1,
            caveat,
        });
    }
    if read.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(source.len() + appended.len() + 2);
    for (i, l) in lines.iter().enumerate() {
        if !blank[i] {
            out.push_str(l);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&appended);
    Some(Upgraded {
        source: out,
        appended_from,
        read,
        starts,
    })
}

/// `s` as a TOML basic string (a JSON string is one: the same escapes).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The string at `key`, as TOML.
fn string(t: &Table, key: &str) -> Option<String> {
    t.get(key)?.as_str().map(quote)
}

/// The list of strings at `key`, as TOML.
fn strings(t: &Table, key: &str) -> Option<(String, usize)> {
    let items = t.get(key)?.as_array()?;
    let quoted: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(quote)).collect();
    let quoted = quoted?;
    Some((format!("[{}]", quoted.join(", ")), quoted.len()))
}

/// Whether `t` has no keys but `known`.
fn only(t: &Table, known: &[&str]) -> bool {
    t.keys().all(|k| known.contains(&k.as_str()))
}

/// `[complaints]` as workflow `complaint` (presets/event-customers.toml).
fn complaint(t: &Table) -> Option<(String, Option<String>)> {
    let known = [
        "rule",
        "roles",
        "staff_code",
        "to_boss_code",
        "manager_roles",
        "resolve_within",
        "unresolved_code",
        "reassign_roles",
    ];
    if !only(t, &known) {
        return None;
    }
    let rule = string(t, "rule")?;
    let (roles, _) = strings(t, "roles")?;
    let staff_code = string(t, "staff_code")?;
    let to_boss_code = string(t, "to_boss_code")?;
    let (managers, _) = strings(t, "manager_roles")?;
    let within = string(t, "resolve_within")?;
    let unresolved = string(t, "unresolved_code")?;
    // The engine hands the customer to the holders of one role: the first named.
    let receivers = t.get("reassign_roles")?.as_array()?;
    let receiver = receivers.first()?.as_str()?;
    let caveat = (receivers.len() > 1)
        .then(|| format!("the customer is handed to `{receiver}` only, the first of reassign_roles"));
    let receiver = quote(receiver);
    let text = format!(
        r#"[[workflows]]
id = "complaint"
rule = {rule}
name = {{ zh = "客户投诉", en = "Customer complaint" }}
subject = "customer"
open_by = {roles}
head_roles = {managers}
initial = "open"
states = [
  {{ id = "open", name = {{ zh = "待解决", en = "open" }} }},
  {{ id = "escalated", name = {{ zh = "逾期未解决", en = "overdue, handed over" }} }},
  {{ id = "resolved", name = {{ zh = "已解决", en = "resolved" }} }},
]
fields = [
  {{ id = "staff", type = "staff", required = true, default = "customer.owner", name = {{ zh = "被投诉员工", en = "Staff member concerned" }} }},
  {{ id = "to_boss", type = "bool", name = {{ zh = "投诉至老板", en = "Complained to the boss" }} }},
  {{ id = "summary", type = "text", required = true, name = {{ zh = "投诉内容", en = "What the customer complained of" }} }},
  {{ id = "resolution", type = "text", name = {{ zh = "处理结果", en = "Resolution" }} }},
]
on_open = [
  {{ charge = {staff_code}, to = "fields.staff", when = "fields.to_boss != true" }},
  {{ charge = {to_boss_code}, to = "[fields.staff] + staff[string(fields.staff)].heads", when = "fields.to_boss == true" }},
]

[[workflows.actions]]
id = "resolve"
name = {{ zh = "解决", en = "Resolve" }}
from = ["open", "escalated"]
to = "resolved"
by = {roles}
fields = ["resolution"]
guard = {{ rule = {rule}, when = "fields.resolution != null", refusal = {{ zh = "请写明处理结果", en = "Write how it was resolved" }} }}

[[workflows.timers]]
id = "unresolved"
name = {{ zh = "按时解决", en = "Resolved in time" }}
in = ["open"]
after = {within}
to = "escalated"
effects = [
  {{ charge = {unresolved}, to = "[fields.staff] + staff[string(fields.staff)].heads" }},
  {{ transfer = {receiver}, outside = "staff[string(fields.staff)].unit" }},
]
"#
    );
    Some((text, caveat))
}

/// `[conflicts]` as workflow `conflict` (presets/event-customers.toml).
fn conflict(t: &Table) -> Option<(String, Option<String>)> {
    if !only(
        t,
        &[
            "rule",
            "openers",
            "coordinator_roles",
            "head_roles",
            "arbiters",
            "penalty",
        ],
    ) {
        return None;
    }
    let rule = string(t, "rule")?;
    let (openers, _) = strings(t, "openers")?;
    let (heads, _) = strings(t, "head_roles")?;
    let (arbiters, _) = strings(t, "arbiters")?;
    // The coordinator's seat at a sign-off of all is one role's: the first named.
    let coordinators = t.get("coordinator_roles")?.as_array()?;
    let first = coordinators.first()?.as_str()?;
    let caveat = (coordinators.len() > 1)
        .then(|| format!("`{first}`, the first of coordinator_roles, signs as the coordinator"));
    let coordinator = quote(first);
    let fine = match t.get("penalty") {
        None => String::new(),
        Some(p) => format!(
            "\n  {{ charge = {}, to = \"[fields.party_a, fields.party_b]\", when = \"fields.argued == true\" }},",
            quote(p.as_str()?)
        ),
    };
    let award = format!(
        r#"guards = [
  {{ rule = {rule}, when = "fields.award_to == fields.party_a || fields.award_to == fields.party_b", refusal = {{ zh = "客户只能判给冲突的一方", en = "The customer can only go to one of the parties" }} }},
  {{ rule = {rule}, when = "fields.argued != null", refusal = {{ zh = "请写明双方是否在顾客面前争议", en = "Say whether the parties argued in front of the customer" }} }},
]
effects = [
  {{ transfer_to = "fields.award_to" }},{fine}
]"#
    );
    let text = format!(
        r#"[[workflows]]
id = "conflict"
rule = {rule}
name = {{ zh = "冲突处理", en = "Conflict between divisions" }}
subject = "customer"
open_by = {openers}
head_roles = {heads}
initial = "open"
states = [
  {{ id = "open", name = {{ zh = "待协商", en = "open" }} }},
  {{ id = "escalated", name = {{ zh = "已上报总经理", en = "with the general manager" }} }},
  {{ id = "settled", name = {{ zh = "已协商解决", en = "settled" }} }},
  {{ id = "decided", name = {{ zh = "总经理已裁决", en = "ruled by the general manager" }} }},
]
fields = [
  {{ id = "party_a", type = "staff", required = true, name = {{ zh = "当事人甲", en = "First party" }} }},
  {{ id = "party_b", type = "staff", required = true, name = {{ zh = "当事人乙", en = "Second party" }} }},
  {{ id = "event", type = "text", name = {{ zh = "联合会议", en = "Joint event" }} }},
  {{ id = "summary", type = "text", required = true, name = {{ zh = "冲突经过", en = "What happened" }} }},
  {{ id = "award_to", type = "staff", name = {{ zh = "客户判归", en = "Customer goes to" }} }},
  {{ id = "argued", type = "bool", name = {{ zh = "在顾客面前争议", en = "Argued in front of the customer" }} }},
]
guards = [
  {{ rule = {rule}, when = "fields.party_a != fields.party_b", refusal = {{ zh = "冲突须发生在两名不同的员工之间", en = "A conflict is between two different staff members" }} }},
  {{ rule = {rule}, when = "size(staff[string(fields.party_a)].heads) > 0 && size(staff[string(fields.party_b)].heads) > 0", refusal = {{ zh = "当事人须属于某个有负责人的部门，由部门负责人协商处理", en = "Each party belongs to a division with a head, who settles it" }} }},
  {{ rule = {rule}, when = "staff[string(fields.party_a)].heads != staff[string(fields.party_b)].heads", refusal = {{ zh = "冲突发生在两个部门（负责人不同）的员工之间；同一部门内由部门负责人处理", en = "A conflict is between staff of two divisions with different heads; within one division its head deals with it" }} }},
]

[[workflows.actions]]
id = "sign"
name = {{ zh = "签署处理意见", en = "Sign the outcome" }}
from = ["open"]
to = "settled"
by = [{coordinator}, "head_of:party_a", "head_of:party_b"]
signoff = "all"
fields = ["award_to", "argued"]
agree = ["award_to", "argued"]
otherwise = "escalated"
{award}

[[workflows.actions]]
id = "escalate"
name = {{ zh = "上报总经理", en = "Escalate to the general manager" }}
from = ["open"]
to = "escalated"
by = [{coordinator}]
# Why the coordinator cannot decide.
note = true

[[workflows.actions]]
id = "decide"
name = {{ zh = "总经理裁决", en = "Rule" }}
from = ["escalated"]
to = "decided"
by = {arbiters}
fields = ["award_to", "argued"]
{award}
"#
    );
    Some((text, caveat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_section_is_blanked_line_for_line_and_its_workflow_follows_the_file() {
        let src = "[policy]\nid = \"x\"\n\n[conflicts]\nrule = \"R11.6\"\nopeners = [\"a\"]\ncoordinator_roles = [\"c\"]\nhead_roles = [\"h\"]\narbiters = [\"g\"]\n\n[sales]\nrule = \"R11.4\"\n";
        let up = upgrade(src).unwrap();
        let lines: Vec<&str> = up.source.lines().collect();
        assert_eq!((lines[3], lines[4], lines[10]), ("", "", "[sales]"));
        assert_eq!((up.read[0].workflow.as_str(), up.read[0].line), ("conflict", 4));
        assert!(
            lines[up.appended_from - 1].starts_with("[[workflows]]"),
            "{}",
            up.source
        );
        assert!(!up.source.contains("charge ="), "no penalty, no fine");
        // Two coordinator roles are one seat: the first signs, and the check says so.
        let two = src.replace("[\"c\"]", "[\"c\", \"d\"]");
        let read = &upgrade(&two).unwrap().read[0];
        assert!(
            read.advice().contains("`c`, the first of coordinator_roles"),
            "{}",
            read.advice()
        );
        assert!(upgrade("[policy]\nid = \"x\"\n").is_none());
        assert_eq!(header("[ conflicts ] # old"), Some("conflicts"));
        assert_eq!(header("[[conflicts]]"), None);
    }
}
