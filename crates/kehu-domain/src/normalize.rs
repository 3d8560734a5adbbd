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

/// The key a company is registered under in the directory (`company:` and its [`company_key`]):
/// what duplicate detection matches.
pub fn company_directory_key(name: &str) -> String {
    format!("company:{}", company_key(name))
}

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

impl Phone {
    /// A number already in E.164 form (`+` and 5 to 15 digits), as the store keeps it.
    pub fn from_e164(s: &str) -> Option<Phone> {
        let digits = s.strip_prefix('+')?;
        ((5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then(|| Phone(s.to_string()))
    }

    /// The number as Kehu shows it everywhere: a number of the tenant's country without its
    /// country code, others as `+code` and the rest; eleven national digits as 3-4-4
    /// (175 6150 2287, the way mobile numbers are read out), ten as 3-3-4, other lengths in
    /// fours from the end.
    pub fn grouped(&self, default_cc: &str) -> String {
        let national = self.national(default_cc);
        if national.len() < self.0.len() - 1 {
            return group(national);
        }
        let digits = &self.0[1..];
        let (cc, rest) = digits.split_at(country_code_len(digits).min(digits.len() - 1));
        format!("+{cc} {}", group(rest))
    }
}

/// National digits in groups: 3-4-4 for eleven, 3-3-4 for ten, else fours from the end.
fn group(d: &str) -> String {
    match d.len() {
        11 => return format!("{} {} {}", &d[..3], &d[3..7], &d[7..]),
        10 => return format!("{} {} {}", &d[..3], &d[3..6], &d[6..]),
        _ => {}
    }
    let head = d.len() % 4;
    let mut parts: Vec<&str> = Vec::new();
    if head > 0 {
        parts.push(&d[..head]);
    }
    parts.extend((head..d.len()).step_by(4).map(|i| &d[i..i + 4]));
    parts.join(" ")
}

/// The length of the country code an international number starts with. Country codes are
/// prefix-free (ITU-T E.164): 1 and 7 stand alone, these two-digit codes are assigned, and
/// every other code has three digits.
fn country_code_len(digits: &str) -> usize {
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    match digits.as_bytes().first() {
        Some(b'1' | b'7') => 1,
        _ if digits.get(..2).is_some_and(|p| TWO.contains(&p)) => 2,
        _ => 3,
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
    fn phones_show_grouped_the_same_way() {
        let p = Phone::parse("175-6150-2287", "86").unwrap();
        assert_eq!(p.grouped("86"), "175 6150 2287");
        assert_eq!(
            Phone::from_e164("+8617561502287").unwrap().grouped("86"),
            "175 6150 2287"
        );
        // A landline without its trunk 0, in fours from the end.
        assert_eq!(
            Phone::parse("021 6150 2287", "86").unwrap().grouped("86"),
            "216 150 2287"
        );
        assert_eq!(
            Phone::parse("0755 6150 228", "86").unwrap().grouped("86"),
            "755 615 0228"
        );
        assert_eq!(Phone::parse("6150 2287", "86").unwrap().grouped("86"), "6150 2287");
        // Another country's number keeps its `+` and country code.
        assert_eq!(
            Phone::parse("+44 20 7946 0958", "86").unwrap().grouped("86"),
            "+44 207 946 0958"
        );
        assert_eq!(
            Phone::parse("+1 415 555 0100", "86").unwrap().grouped("86"),
            "+1 415 555 0100"
        );
        assert_eq!(
            Phone::parse("+852 6150 2287", "86").unwrap().grouped("86"),
            "+852 6150 2287"
        );
        assert!(Phone::from_e164("8617561502287").is_none());
        assert!(Phone::from_e164("+86175615022871234").is_none());
    }

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
