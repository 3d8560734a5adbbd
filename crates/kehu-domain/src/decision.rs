//! A Decision is what every rule evaluation returns: the rule, the policy version, the facts it
//! looked at and a sentence a user can read. Decisions are written to history unchanged.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{Lang, Text};

/// A rule of the rulebooks (docs/rulebooks.md), such as `R5.2` or `R7.8(12)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule ID: write it as R<book>.<rule>, for example R5.2 or R7.8(12)")]
pub struct BadRuleId(pub String);

impl RuleId {
    pub fn parse(s: &str) -> Result<RuleId, BadRuleId> {
        let bad = || BadRuleId(s.to_string());
        let rest = s.strip_prefix('R').ok_or_else(bad)?;
        let (book, rest) = rest.split_once('.').ok_or_else(bad)?;
        let (rule, sub) = match rest.split_once('(') {
            Some((rule, sub)) => (rule, Some(sub.strip_suffix(')').ok_or_else(bad)?)),
            None => (rest, None),
        };
        let digits = |d: &str| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(book) || !digits(rule) || sub.is_some_and(|s| !digits(s)) {
            return Err(bad());
        }
        Ok(RuleId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleId {
    type Error = BadRuleId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RuleId::parse(&s)
    }
}

impl From<RuleId> for String {
    fn from(r: RuleId) -> String {
        r.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outcome of evaluating one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub rule: RuleId,
    /// Which sentence this is (`case.moved`, `claim.valid`): stable across releases and
    /// languages, so a reader can render its own text from the key and the facts. Decisions
    /// written before keys existed read with an empty one.
    #[serde(default)]
    pub key: Cow<'static, str>,
    pub policy_version: u32,
    /// What the rule looked at, as named values (times in RFC 3339).
    pub facts: serde_json::Value,
    /// The decision in one sentence, in both languages.
    pub text: Text,
}

impl Decision {
    /// The decision as the API shows it: `text` in the reader's language.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "rule": self.rule,
            "key": self.key,
            "policy_version": self.policy_version,
            "facts": self.facts,
            "text": self.text.get(lang),
        })
    }
}

/// A request the rules refuse: a stable code, the rule when one applies, and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub rule: Option<RuleId>,
    pub text: Text,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_parse_only_in_the_spec_form() {
        for ok in ["R5.2", "R12.9", "R7.8(12)"] {
            assert_eq!(RuleId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "R5", "5.2", "R5.", "R.2", "R5.2(", "R5.2()", "r5.2", "R5.2x", "R5.2(a)",
        ] {
            assert!(RuleId::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
