//! The n-gram terms behind customer search: CJK 1- and 2-grams, Latin and digit 3-grams.
//!
//! Trigram indexes cannot answer two-character Chinese queries such as 张三, so both backends
//! keep a table of these terms; a query is turned into terms, candidates are the customers that
//! have all of them, and [`matches`] confirms each candidate against the real text.

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

/// The terms to index for a customer: from the name and from each phone's digits.
pub fn index_terms<'a>(name: &str, phones: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (cjk, run) in runs(&normalize_name(name)) {
        if cjk {
            grams(&run, 1, &mut out);
            grams(&run, 2, &mut out);
        } else {
            grams(&run, 3, &mut out);
        }
    }
    for phone in phones {
        let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
        grams(&digits, 3, &mut out);
    }
    out
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
}

/// Turns what the user typed into a plan. The normalised query is returned for [`matches`].
pub fn plan(query: &str) -> (SearchPlan, String) {
    let q = normalize_name(query);
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
        (true, None) => SearchPlan::All,
    };
    (plan, q)
}

/// Whether a customer matches the normalised query `q`: a substring of the name, or, for
/// queries of digits (dashes and spaces allowed), a substring of a phone number.
pub fn matches<'a>(q: &str, name: &str, phones: impl IntoIterator<Item = &'a str>) -> bool {
    if q.is_empty() || normalize_name(name).contains(q) {
        return true;
    }
    let q_digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let digits_only = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')'));
    digits_only && !q_digits.is_empty() && phones.into_iter().any(|p| p.contains(q_digits.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_index_one_and_two_grams() {
        let t = index_terms("张三丰", []);
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
        let t = index_terms("Wang Lei", ["+8613812345678"]);
        assert!(t.contains("wan") && t.contains("lei") && t.contains("123"));
        assert_eq!(plan("wa").0, SearchPlan::Prefix("wa".into()));
        assert_eq!(plan("").0, SearchPlan::All);
        let (p, q) = plan("1234 5678");
        assert!(matches!(p, SearchPlan::Terms(_)));
        assert!(matches(&q, "王芳", ["+8613812345678"]));
        assert!(!matches(&q, "王芳", ["+8613800000000"]));
    }

    #[test]
    fn every_query_term_of_a_real_substring_is_indexed() {
        // The search relies on this: a substring's terms are a subset of the text's terms.
        let name = "北京华信Tech科技有限公司";
        let idx = index_terms(name, ["+8613812345678"]);
        let chars: Vec<char> = name.chars().collect();
        for i in 0..chars.len() {
            for j in i + 1..=chars.len() {
                let sub: String = chars[i..j].iter().collect();
                if let (SearchPlan::Terms(ts), q) = plan(&sub) {
                    for t in ts {
                        assert!(idx.contains(&t), "term {t} of {sub} not indexed");
                    }
                    assert!(matches(&q, name, ["+8613812345678"]));
                }
            }
        }
    }
}
