//! How customers are found: names by n-gram terms (CJK 1- and 2-grams; Latin letters and
//! digits as 1-, 2- and 3-grams), phones by the 4-digit runs of their number.
//!
//! Trigram indexes cannot answer two-character Chinese queries such as 张三, so both backends
//! keep a table of terms; a query is turned into terms, candidates are the customers that have
//! all of them (read newest first from the index, never row by row), and [`matches`] or
//! [`phone_matches`] confirms each candidate against the real name or numbers. Every query
//! shape has a term: one or two Latin letters or digits (`x`, `ab`, `12`) their own 1- or
//! 2-gram, any run of 4 or more digits the 4-digit windows of a number, so a receptionist who
//! remembers the middle four digits (6150 of 175 6150 2287) finds the customer.

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

/// Phone terms start with this mark, which no name term contains (name terms are letters,
/// digits and CJK characters only), so `#6150` is a number's digits and `6150` a name's.
pub const PHONE_MARK: char = '#';

/// The least digits a phone query needs: fewer match too many numbers to be useful, and
/// three digits search names like any short text.
pub const MIN_PHONE_DIGITS: usize = 4;

fn phone_term(window: &[u8]) -> String {
    let mut t = String::with_capacity(window.len() + 1);
    t.push(PHONE_MARK);
    t.extend(window.iter().map(|b| *b as char));
    t
}

/// The terms to index for a customer: their name's n-grams and, for each number (E.164,
/// `+8617561502287`), every run of four of its digits. The country code is part of the
/// digits, so an international query (`+86 175 6150`) has terms too.
pub fn index_terms(name: &str, phones: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (cjk, run) in runs(&normalize_name(name)) {
        grams(&run, 1, &mut out);
        grams(&run, 2, &mut out);
        if !cjk {
            grams(&run, 3, &mut out);
        }
    }
    for phone in phones {
        let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
        for w in digits.windows(MIN_PHONE_DIGITS) {
            out.insert(phone_term(w));
        }
    }
    out
}

/// How a query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchPlan {
    /// Nothing to search for: list everything.
    All,
    /// Candidates carry every one of these name terms; [`matches`] confirms them.
    Terms(Vec<String>),
    /// Digits of a phone number: candidates carry every one of `terms` (the digits' 4-digit
    /// windows), and [`phone_matches`] confirms them. `international` is set when the
    /// query began with `+` (a country code): the number then starts with the digits.
    Phone {
        digits: String,
        international: bool,
        terms: Vec<String>,
    },
}

impl SearchPlan {
    /// The terms a candidate must carry (empty for [`SearchPlan::All`]).
    pub fn terms(&self) -> &[String] {
        match self {
            SearchPlan::All => &[],
            SearchPlan::Terms(t) | SearchPlan::Phone { terms: t, .. } => t,
        }
    }
}

/// Every window of four of `digits`, each once, in the order typed: a candidate carrying all
/// of them almost always holds the whole run (the confirmation makes sure). The store drives
/// its scan by the rarest, and among equally common ones by the last typed: the start of a
/// number is shared by many (the carrier, the block), its end rarely.
fn phone_query_terms(digits: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in digits.as_bytes().windows(MIN_PHONE_DIGITS).map(phone_term) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Turns what the user typed into a plan. The normalised query is returned for [`matches`].
pub fn plan(query: &str) -> (SearchPlan, String) {
    let q = normalize_name(query);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = !digits.is_empty()
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')' | '.' | '/'));
    if phone_like && digits.len() >= MIN_PHONE_DIGITS {
        let plan = SearchPlan::Phone {
            international: q.starts_with('+'),
            terms: phone_query_terms(&digits),
            digits,
        };
        return (plan, q);
    }
    let mut terms = BTreeSet::new();
    for (cjk, run) in &runs(&q) {
        match run.len() {
            1 | 2 => {
                terms.insert(run.iter().collect());
            }
            _ => grams(run, if *cjk { 2 } else { 3 }, &mut terms),
        }
    }
    let plan = if terms.is_empty() {
        // Only punctuation or nothing: no term to look for.
        if q.is_empty() {
            SearchPlan::All
        } else {
            SearchPlan::Terms(Vec::new())
        }
    } else {
        SearchPlan::Terms(terms.into_iter().collect())
    };
    (plan, q)
}

/// Whether a customer's name matches the normalised query `q` (a substring of it).
pub fn matches(q: &str, name: &str) -> bool {
    q.is_empty() || normalize_name(name).contains(q)
}

/// Whether one of a customer's numbers (E.164) matches a phone query: its national digits
/// (without the tenant's country code `default_cc`) contain `digits`, or, for an international
/// query, the whole number starts with them.
pub fn phone_matches(digits: &str, international: bool, default_cc: &str, phones: &[&str]) -> bool {
    phones.iter().any(|p| {
        let all = p.trim_start_matches('+');
        if international {
            all.starts_with(digits)
        } else {
            all.strip_prefix(default_cc).unwrap_or(all).contains(digits)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_index_one_and_two_grams() {
        let t = index_terms("张三丰", &[]);
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
        let t = index_terms("Wang Lei", &[]);
        for g in ["w", "wa", "wan", "lei", "l", "ei"] {
            assert!(t.contains(g), "{g} missing from {t:?}");
        }
        assert_eq!(plan("wa").0, SearchPlan::Terms(vec!["wa".into()]));
        assert_eq!(plan("x").0, SearchPlan::Terms(vec!["x".into()]));
        assert_eq!(plan("12").0, SearchPlan::Terms(vec!["12".into()]));
        assert_eq!(plan("").0, SearchPlan::All);
        assert_eq!(plan("a-b").0, SearchPlan::Terms(vec!["a".into(), "b".into()]));
        assert_eq!(plan("--").0, SearchPlan::Terms(vec![]));
        assert_eq!(
            plan("1234 5678").0,
            SearchPlan::Phone {
                digits: "12345678".into(),
                international: false,
                terms: ["#1234", "#2345", "#3456", "#4567", "#5678"].map(String::from).to_vec(),
            }
        );
        assert_eq!(
            plan("５６７８").0,
            SearchPlan::Phone {
                digits: "5678".into(),
                international: false,
                terms: vec!["#5678".into()],
            }
        );
        // Every window of four, each once, in the order typed.
        assert_eq!(plan("615022").0.terms(), ["#6150", "#1502", "#5022"]);
        assert_eq!(plan("00000").0.terms(), ["#0000"]);
        assert_eq!(
            plan("+86 138 1234").0,
            SearchPlan::Phone {
                digits: "861381234".into(),
                international: true,
                terms: ["#8613", "#6138", "#1381", "#3812", "#8123", "#1234"]
                    .map(String::from)
                    .to_vec(),
            }
        );
        // Three digits are too few for a phone; they search names like any short text.
        assert_eq!(plan("138").0, SearchPlan::Terms(vec!["138".into()]));
        assert!(matches("三丰", "张三丰") && !matches("李", "张三丰"));
    }

    #[test]
    fn any_four_digits_of_a_number_find_it() {
        let number = "+8617561502287";
        let idx = index_terms("张三", &[number]);
        let national = "17561502287";
        for i in 0..national.len() {
            for j in i + MIN_PHONE_DIGITS..=national.len() {
                let (p, _) = plan(&national[i..j]);
                let SearchPlan::Phone {
                    digits,
                    international,
                    terms,
                } = &p
                else {
                    panic!("{p:?} for {}", &national[i..j]);
                };
                for t in terms {
                    assert!(idx.contains(t), "{t} of {} not indexed", &national[i..j]);
                }
                assert!(phone_matches(digits, *international, "86", &[number]));
            }
        }
        // The middle digits a receptionist remembers.
        assert!(phone_matches("6150", false, "86", &[number]));
        // Digits that straddle the country code are not part of the national number.
        assert!(idx.contains("#8617") && !phone_matches("8617", false, "86", &[number]));
        assert!(phone_matches("861756", true, "86", &[number]));
        assert!(!phone_matches("1756", true, "86", &[number]));
        assert!(!phone_matches("9999", false, "86", &[number]));
    }

    #[test]
    fn every_query_term_of_a_real_substring_is_indexed() {
        // The search relies on this: a substring's terms are a subset of the name's terms.
        let name = "北京华信Tech科技有限公司";
        let idx = index_terms(name, &[]);
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
