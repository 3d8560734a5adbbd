//! The `[limits]` section: the ranges an amount or a date that staff enter may take, where the
//! range is a business choice (the largest sale one record holds, how far back a follow-up may
//! be dated). Kehu's own bounds ([`MAX_FEN`], [`EARLIEST`], [`LATEST`]) hold whatever a policy
//! says, so arithmetic on money and times stays safe.
//!
//! ```toml
//! [limits]
//! max_amount = 1000000000     # fen: 10,000,000 yuan
//! backdate = "90 days"        # a follow-up or a contact dated at most this far back
//! ahead = "1 year"            # an event scheduled at most this far ahead
//! max_file_size = 10485760    # bytes: a file attached to a case (10 MiB)
//! file_types = ["pdf", "png", "jpeg"]
//! ```

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::Checker;
use super::timed::Period;
use crate::decision::Refusal;
use crate::files::{FileKind, MAX_FILE_SIZE};
use crate::text::Text;
use crate::{Policy, Timestamp};

/// No amount anyone enters is larger: 10,000,000,000 yuan, in fen.
pub const MAX_FEN: i64 = 1_000_000_000_000;
/// No date anyone enters is earlier.
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";
/// No date anyone enters is later.
pub const LATEST: &str = "2100-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// The largest amount (fen) one sale may hold (ledger entries are priced by their codes).
    pub max_amount: i64,
    /// How far back a follow-up or a contact may be dated when it is recorded.
    pub backdate: Period,
    /// How far ahead something may be scheduled (a joint event).
    pub ahead: Period,
    /// The largest file (bytes) one attachment to a case may be.
    pub max_file_size: i64,
    /// The kinds of file a case takes, known by their content.
    pub file_types: Vec<FileKind>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_amount: 10_000_000_000,
            backdate: Period::parse("90 days").expect("a well-formed period"),
            ahead: Period::parse("1 year").expect("a well-formed period"),
            max_file_size: 10 * 1024 * 1024,
            file_types: vec![FileKind::Pdf, FileKind::Png, FileKind::Jpeg],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default)]
    max_amount: Option<Spanned<i64>>,
    #[serde(default)]
    backdate: Option<Spanned<String>>,
    #[serde(default)]
    ahead: Option<Spanned<String>>,
    #[serde(default)]
    max_file_size: Option<Spanned<i64>>,
    #[serde(default)]
    file_types: Option<Vec<Spanned<String>>>,
}

impl Checker<'_> {
    pub(super) fn limits(&mut self, raw: RawLimits) -> Limits {
        let d = Limits::default();
        let max_amount = match raw.max_amount {
            None => d.max_amount,
            Some(m) => {
                let v = *m.get_ref();
                if !(1..=MAX_FEN).contains(&v) {
                    self.error(
                        m.span(),
                        format!("max_amount = {v} must be from 1 to {MAX_FEN} (fen)"),
                        "money is in fen: 1000000000 is 10,000,000 yuan",
                    );
                }
                v.clamp(1, MAX_FEN)
            }
        };
        let max_file_size = match raw.max_file_size {
            None => d.max_file_size,
            Some(m) => {
                let v = *m.get_ref();
                if !(1..=MAX_FILE_SIZE).contains(&v) {
                    self.error(
                        m.span(),
                        format!("max_file_size = {v} must be from 1 to {MAX_FILE_SIZE} (bytes)"),
                        "in bytes: 10485760 is 10 MiB, and no file may be larger than 50 MiB",
                    );
                }
                v.clamp(1, MAX_FILE_SIZE)
            }
        };
        let known: Vec<&str> = FileKind::ALL.iter().map(|k| k.id()).collect();
        let file_types = match raw.file_types {
            None => d.file_types,
            Some(list) => {
                let mut kinds = Vec::new();
                for t in &list {
                    match FileKind::parse(t.get_ref()) {
                        Some(k) if !kinds.contains(&k) => kinds.push(k),
                        Some(_) => self.error(
                            t.span(),
                            format!("file type `{}` is listed twice", t.get_ref()),
                            "list each once",
                        ),
                        None => self.error(
                            t.span(),
                            format!("unknown file type `{}`", t.get_ref()),
                            format!("Kehu knows {}", known.join(", ")),
                        ),
                    }
                }
                kinds
            }
        };
        Limits {
            max_amount,
            backdate: raw.backdate.and_then(|p| self.period(&p)).unwrap_or(d.backdate),
            ahead: raw.ahead.and_then(|p| self.period(&p)).unwrap_or(d.ahead),
            max_file_size,
            file_types,
        }
    }
}

fn bound(s: &str) -> Timestamp {
    s.parse().expect("a well-formed bound")
}

/// An amount of money someone entered: more than zero and at most the policy's `max_amount`.
pub fn check_amount(policy: &Policy, field: &str, fen: i64) -> Result<(), Refusal> {
    let max = policy.limits.max_amount.min(MAX_FEN);
    if (1..=max).contains(&fen) {
        return Ok(());
    }
    let yuan = max / 100;
    Err(Refusal {
        code: "invalid_amount",
        rule: None,
        text: Text::new(
            format!("{field} 须大于 0，且不超过 {max} 分（{yuan} 元，见制度 [limits]）"),
            format!("{field} must be more than 0 and at most {max} fen ({yuan} yuan; see the policy's [limits])"),
        ),
    })
}

/// A time something happened, entered by hand: not in the future (10 minutes' grace for
/// clocks; refused with `future_code`) and no further back than the policy's `backdate`.
pub fn check_past(
    policy: &Policy,
    field: &str,
    at: Timestamp,
    now: Timestamp,
    future_code: &'static str,
) -> Result<(), Refusal> {
    let earliest = policy.limits.backdate.before(now, &policy.tz).max(bound(EARLIEST));
    if at > now + jiff::SignedDuration::from_mins(10) {
        return Err(Refusal {
            code: future_code,
            rule: None,
            text: Text::new(
                format!("{field} 不能晚于现在"),
                format!("{field} cannot be in the future"),
            ),
        });
    }
    if at < earliest {
        let b = policy.limits.backdate.text();
        return Err(Refusal {
            code: "invalid_time",
            rule: None,
            text: Text::new(
                format!(
                    "{field} 最早只能是 {}（制度 [limits] 允许补记 {}）",
                    policy.local_time(earliest),
                    b.zh
                ),
                format!(
                    "{field} may be at most {} back, no earlier than {} (the policy's [limits])",
                    b.en,
                    policy.local_time(earliest)
                ),
            ),
        });
    }
    Ok(())
}

/// A time something is scheduled for: from now on and no further ahead than `ahead`.
pub fn check_ahead(policy: &Policy, field: &str, at: Timestamp, now: Timestamp) -> Result<(), Refusal> {
    let latest = policy.limits.ahead.after(now, &policy.tz).min(bound(LATEST));
    if at < now || at > latest {
        let a = policy.limits.ahead.text();
        return Err(Refusal {
            code: "invalid_time",
            rule: None,
            text: Text::new(
                format!(
                    "{field} 须在现在到 {} 之间（最多提前 {}）",
                    policy.local_time(latest),
                    a.zh
                ),
                format!(
                    "{field} must be between now and {} (at most {} ahead)",
                    policy.local_time(latest),
                    a.en
                ),
            ),
        });
    }
    Ok(())
}

/// Any time entered by hand lies within Kehu's own bounds (years 2000 to 2100).
pub fn check_bounds(field: &str, at: Timestamp) -> Result<(), Refusal> {
    if at >= bound(EARLIEST) && at < bound(LATEST) {
        return Ok(());
    }
    Err(Refusal {
        code: "invalid_time",
        rule: None,
        text: Text::new(
            format!("{field} 须在 2000 年到 2100 年之间"),
            format!("{field} must be between the years 2000 and 2100"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn amounts_are_positive_and_bounded_by_the_policy() {
        let p = crate::policy::tests::sample();
        assert!(check_amount(&p, "amount", 1).is_ok());
        assert!(check_amount(&p, "amount", p.limits.max_amount).is_ok());
        for bad in [0, -5, p.limits.max_amount + 1, i64::MAX] {
            assert_eq!(check_amount(&p, "amount", bad).unwrap_err().code, "invalid_amount");
        }
    }

    #[test]
    fn past_times_are_neither_ahead_nor_too_far_back() {
        let p = crate::policy::tests::sample();
        let now = t("2026-12-01T08:00:00Z");
        assert!(check_past(&p, "at", t("2026-11-01T08:00:00Z"), now, "in_future").is_ok());
        assert_eq!(
            check_past(&p, "at", t("0001-01-01T00:00:00Z"), now, "in_future")
                .unwrap_err()
                .code,
            "invalid_time"
        );
        assert_eq!(
            check_past(&p, "at", t("2026-12-02T08:00:00Z"), now, "in_future")
                .unwrap_err()
                .code,
            "in_future"
        );
        assert!(check_ahead(&p, "starts_at", t("2027-03-01T08:00:00Z"), now).is_ok());
        assert!(check_ahead(&p, "starts_at", t("2029-03-01T08:00:00Z"), now).is_err());
        assert!(check_bounds("to", t("9999-01-01T00:00:00Z")).is_err());
    }

    #[test]
    fn the_section_is_checked_at_its_place() {
        let src = format!(
            "{}\n[limits]\nmax_amount = 0\nbackdate = \"forever\"\n",
            crate::policy::tests::SAMPLE
        );
        let errs = Policy::parse(&src, "p.toml").unwrap_err().0;
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].message.contains("max_amount = 0"));
        assert!(errs[1].message.contains("forever"));
        let ok = format!(
            "{}\n[limits]\nmax_amount = 500\nbackdate = \"7 days\"\n",
            crate::policy::tests::SAMPLE
        );
        let p = Policy::parse(&ok, "p.toml").unwrap();
        assert_eq!(p.limits.max_amount, 500);
        assert_eq!(p.limits.backdate.text().en, "7 days");
    }
}
