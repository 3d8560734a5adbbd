//! How customers are found: names by n-gram terms (CJK 1- and 2-grams, Latin and digit
//! 3-grams), phones by the start or the end of the number.
//!
//! Trigram indexes cannot answer two-character Chinese queries such as 张三, so both backends
//! keep a table of name terms; a query is turned into terms, candidates are the customers that
//! have all of them, and [`matches`] confirms each candidate against the real name. Phone numbers
//! are not cut into terms (nine per number would triple the index): staff search a number by
//! its last digits (尾号) or its first ones, which two ordered keys answer exactly.

use std::collections::BTreeSet;

use crate::normalize::normalize_name;

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// Splits normalised text into runs of CJK characters and runs of letters/digits.
fn runs(text: &str) -> Vec<(bool, Vec<char>)> {
    let mut out: Vec<(bool, Vec<char>)> = Vec::new();
    for c in text.chars() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, out.last_mut()) {
            (Some(k), Some((last, run))) if *last == k => run.push(c),
            (Some(k), _) => out.push((k, vec![c])),
            (None, _) => out.push((false, Vec::new())),
        }
    }
    out.retain(|(_, r)| !r.is_empty());
    out
}

fn grams(run: &[char], n: usize, out: &mut BTreeSet<String>) {
    if run.len() >= n {
        for w in run.windows(n) {
            out.insert(w.iter().collect());
        }
    }
}

/// The terms to index for a customer's name.
pub fn index_terms(name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (cjk, run) in runs(&normalize_name(name)) {
        if cjk {
            grams(&run, 1, &mut out);
            grams(&run, 2, &mut out);
        } else {
            grams(&run, 3, &mut out);
        }
    }
    out
}

/// The least digits a phone query needs: fewer match too many numbers to be useful.
pub const MIN_PHONE_SUFFIX: usize = 4;
/// Matching the start of a number needs more digits: the first three only name the carrier.
pub const MIN_PHONE_PREFIX: usize = 7;

/// The key under which a number's end is found: its national digits reversed, so "ends with
/// 5678" becomes the ordered range "starts with 8765".
pub fn phone_suffix_key(national: &str) -> String {
    national.chars().rev().collect()
}

/// How a query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPlan {
    /// Nothing to search for: list everything.
    All,
    /// Candidates carry every one of these terms.
    Terms(Vec<String>),
    /// One or two Latin letters or digits: too short for a 3-gram, matched as a name prefix.
    Prefix(String),
    /// Digits of a phone number: numbers ending with them, or, when `prefix` is set, starting
    /// with them. `international` is set when the query began with `+` (a country code).
    Phone {
        digits: String,
        prefix: bool,
        international: bool,
    },
}

/// Turns what the user typed into a plan. The normalised query is returned for [`matches`].
pub fn plan(query: &str) -> (SearchPlan, String) {
    let q = normalize_name(query);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = !digits.is_empty()
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')' | '.'));
    if phone_like && digits.len() >= MIN_PHONE_SUFFIX {
        let plan = SearchPlan::Phone {
            prefix: digits.len() >= MIN_PHONE_PREFIX,
            international: q.starts_with('+'),
            digits,
        };
        return (plan, q);
    }
    let mut terms = BTreeSet::new();
    let mut short_latin = None;
    let rs = runs(&q);
    for (cjk, run) in &rs {
        if *cjk {
            if run.len() == 1 {
                terms.insert(run[0].to_string());
            } else {
                grams(run, 2, &mut terms);
            }
        } else if run.len() >= 3 {
            grams(run, 3, &mut terms);
        } else if rs.len() == 1 {
            short_latin = Some(run.iter().collect::<String>());
        }
    }
    let plan = match (terms.is_empty(), short_latin) {
        (false, _) => SearchPlan::Terms(terms.into_iter().collect()),
        (true, Some(prefix)) => SearchPlan::Prefix(prefix),
        (true, None) if q.is_empty() => SearchPlan::All,
        // Short pieces around punctuation ("a-b"): too short for terms; match as typed.
        (true, None) => SearchPlan::Prefix(q.clone()),
    };
    (plan, q)
}

/// Whether a customer's name matches the normalised query `q` (a substring of it).
pub fn matches(q: &str, name: &str) -> bool {
    q.is_empty() || normalize_name(name).contains(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_index_one_and_two_grams() {
        let t = index_terms("张三丰");
        for g in ["张", "三", "丰", "张三", "三丰"] {
            assert!(t.contains(g), "{g} missing from {t:?}");
        }
        assert!(!t.contains("张三丰"));
    }

    #[test]
    fn two_character_chinese_query_uses_its_bigram() {
        assert_eq!(plan("张三").0, SearchPlan::Terms(vec!["张三".into()]));
        assert_eq!(plan(" 张 ").0, SearchPlan::Terms(vec!["张".into()]));
        let (p, _) = plan("张三丰");
        assert_eq!(p, SearchPlan::Terms(vec!["三丰".into(), "张三".into()]));
    }

    #[test]
    fn latin_and_phone_queries() {
        let t = index_terms("Wang Lei");
        assert!(t.contains("wan") && t.contains("lei"));
        assert_eq!(plan("wa").0, SearchPlan::Prefix("wa".into()));
        assert_eq!(plan("").0, SearchPlan::All);
        assert_eq!(plan("a-b").0, SearchPlan::Prefix("a-b".into()));
        assert_eq!(
            plan("1234 5678").0,
            SearchPlan::Phone {
                digits: "12345678".into(),
                prefix: true,
                international: false
            }
        );
        assert_eq!(
            plan("５６７８").0,
            SearchPlan::Phone {
                digits: "5678".into(),
                prefix: false,
                international: false
            }
        );
        assert_eq!(
            plan("+86 138 1234").0,
            SearchPlan::Phone {
                digits: "861381234".into(),
                prefix: true,
                international: true
            }
        );
        // Three digits are too few for a phone; they search names like any short text.
        assert_eq!(plan("138").0, SearchPlan::Terms(vec!["138".into()]));
        assert_eq!(phone_suffix_key("13812345678"), "87654321831");
        assert!(matches("三丰", "张三丰") && !matches("李", "张三丰"));
    }

    #[test]
    fn every_query_term_of_a_real_substring_is_indexed() {
        // The search relies on this: a substring's terms are a subset of the name's terms.
        let name = "北京华信Tech科技有限公司";
        let idx = index_terms(name);
        let chars: Vec<char> = name.chars().collect();
        for i in 0..chars.len() {
            for j in i + 1..=chars.len() {
                let sub: String = chars[i..j].iter().collect();
                if let (SearchPlan::Terms(ts), q) = plan(&sub) {
                    for t in ts {
                        assert!(idx.contains(&t), "term {t} of {sub} not indexed");
                    }
                    assert!(matches(&q, name));
                }
            }
        }
    }
}
