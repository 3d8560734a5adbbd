//! Normalised forms used to find duplicates: phone numbers, names and company names.
//!
//! Two records are the same customer when a normalised key matches, so the folding here is
//! what decides "is this a duplicate?" (R3.4, R5.5, R7.7, R11.4).

use std::fmt;

/// Folds full-width ASCII (Ａ１，) to half-width and the ideographic space to a space.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// The form of a name used for matching and search: width folded, lower case, no whitespace.
pub fn normalize_name(s: &str) -> String {
    fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Legal-form suffixes folded away so "华信科技有限公司" and "华信科技股份有限公司" match.
/// Longest first: the first that matches is removed, then the check repeats.
const COMPANY_SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "集团公司",
    "分公司",
    "公司",
    "co.,ltd",
    "co.ltd",
    "coltd",
    "limited",
    "ltd",
    "inc",
    "llc",
    "corporation",
    "corp",
    "gmbh",
];

/// The duplicate-detection key of a company name: [`normalize_name`], brackets and punctuation
/// dropped, and legal-form suffixes folded.
pub fn company_key(name: &str) -> String {
    let mut s: String = normalize_name(name)
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '（' | '）' | '.' | ',' | '，' | '。' | '·' | '-' | '&'))
        .collect();
    loop {
        let before = s.len();
        for suffix in COMPANY_SUFFIXES {
            let plain: String = suffix.chars().filter(|c| !matches!(c, '.' | ',')).collect();
            if s.len() > plain.len() && s.ends_with(&plain) {
                s.truncate(s.len() - plain.len());
                break;
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

/// A phone number in international form, `+<country><national digits>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("`{0}` contains characters that are not part of a phone number")]
    BadCharacter(String),
    #[error("`{0}` has {1} digits; a phone number has 5 to 15")]
    BadLength(String, usize),
}

impl Phone {
    /// Reads a phone number as people write it: spaces, dashes, brackets, full-width digits,
    /// `+86`, `0086` or a national trunk `0` are all accepted. `default_cc` is the country code
    /// assumed when none is written.
    pub fn parse(input: &str, default_cc: &str) -> Result<Phone, PhoneError> {
        let folded = fold_width(input);
        let trimmed = folded.trim();
        let mut digits = String::new();
        let mut plus = false;
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => plus = true,
                ' ' | '-' | '(' | ')' | '.' | '/' => {}
                _ => return Err(PhoneError::BadCharacter(input.to_string())),
            }
        }
        let international = if plus {
            digits.clone()
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix('0') {
            format!("{default_cc}{rest}")
        } else if digits.len() >= 10 && default_cc == "86" && digits.starts_with("86") && digits.len() == 13 {
            digits.clone()
        } else {
            format!("{default_cc}{digits}")
        };
        let national_len = international.len().saturating_sub(default_cc.len());
        if !(5..=15).contains(&international.len()) || national_len < 5 {
            return Err(PhoneError::BadLength(input.to_string(), digits.len()));
        }
        Ok(Phone(format!("+{international}")))
    }

    /// The E.164-style string, e.g. `+8613812345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number without country code, as staff dial it domestically (`13812345678`).
    pub fn national(&self, default_cc: &str) -> &str {
        self.0
            .strip_prefix('+')
            .and_then(|d| d.strip_prefix(default_cc))
            .unwrap_or(&self.0[1..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_spaces_fold() {
        assert_eq!(fold_width("ＡＢＣ１２３　x"), "ABC123 x");
        assert_eq!(normalize_name(" 王　芳 "), "王芳");
        assert_eq!(normalize_name("Li  Na"), "lina");
    }

    #[test]
    fn company_suffixes_fold_to_one_key() {
        let k = company_key("华信科技有限公司");
        assert_eq!(k, "华信科技");
        assert_eq!(company_key("华信科技股份有限公司"), k);
        assert_eq!(company_key("华信科技 有限责任公司"), k);
        assert_eq!(company_key("华信科技（有限公司）"), k);
        assert_eq!(company_key("ACME Co., Ltd."), "acme");
        assert_eq!(company_key("Acme Inc."), "acme");
        // A name that is only a suffix keeps itself rather than becoming empty.
        assert_eq!(company_key("公司"), "公司");
    }

    #[test]
    fn phones_normalise_to_one_form() {
        let p = Phone::parse("138 1234 5678", "86").unwrap();
        assert_eq!(p.as_str(), "+8613812345678");
        for same in [
            "+86 138-1234-5678",
            "0086 13812345678",
            "１３８１２３４５６７８",
            "8613812345678",
        ] {
            assert_eq!(Phone::parse(same, "86").unwrap(), p, "{same}");
        }
        assert_eq!(p.national("86"), "13812345678");
        assert_eq!(Phone::parse("010-6552 1234", "86").unwrap().as_str(), "+861065521234");
        assert_eq!(
            Phone::parse("+1 (415) 555-0100", "86").unwrap().as_str(),
            "+14155550100"
        );
    }

    #[test]
    fn bad_phones_are_refused() {
        assert!(matches!(
            Phone::parse("138x1234", "86"),
            Err(PhoneError::BadCharacter(_))
        ));
        assert!(matches!(Phone::parse("12", "86"), Err(PhoneError::BadLength(..))));
        assert!(matches!(
            Phone::parse("+1234567890123456", "86"),
            Err(PhoneError::BadLength(..))
        ));
    }
}
