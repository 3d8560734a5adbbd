//! Why a use case did not do what it was asked: the use cases' own error type. It says what
//! kind of failure it is, a stable snake_case `code`, the rule that refused when one did, and a
//! sentence in both languages. It knows nothing of HTTP: the edge (`error.rs`) maps a kind to a
//! status and picks the reader's language.

use kehu_domain::{Refusal, Text};
use kehu_store::StoreError;

/// What kind of failure: the edge maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is not well formed or a value is out of its range.
    Invalid,
    /// Nobody is logged in, or the credentials do not hold.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    /// No such record, or none the caller may see.
    NotFound,
    /// The rules or the state of things say no.
    Conflict,
    /// Something broke inside; it is logged and answered generically.
    Internal,
}

/// A use case's failure. Boxed so `Result<_, Failure>` stays small on the happy path.
#[derive(Debug, Clone)]
pub struct Failure(Box<FailureBody>);

#[derive(Debug, Clone)]
pub struct FailureBody {
    pub kind: Kind,
    pub code: &'static str,
    pub detail: Text,
    pub rule: Option<String>,
    /// Extra members an answer carries (e.g. `duplicates`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl std::ops::Deref for Failure {
    type Target = FailureBody;
    fn deref(&self) -> &FailureBody {
        &self.0
    }
}

impl Failure {
    pub fn new(kind: Kind, code: &'static str, detail: Text) -> Failure {
        Failure(Box::new(FailureBody {
            kind,
            code,
            detail,
            rule: None,
            extra: None,
        }))
    }

    pub fn into_body(self) -> FailureBody {
        *self.0
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Failure {
        self.0
            .extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    pub fn invalid(code: &'static str, detail: Text) -> Failure {
        Failure::new(Kind::Invalid, code, detail)
    }

    pub fn conflict(code: &'static str, detail: Text) -> Failure {
        Failure::new(Kind::Conflict, code, detail)
    }

    pub fn not_found(what: Text) -> Failure {
        Failure::new(Kind::NotFound, "not_found", what)
    }

    pub fn forbidden(detail: Text) -> Failure {
        Failure::new(Kind::Forbidden, "forbidden", detail)
    }

    pub fn unauthenticated() -> Failure {
        Failure::new(
            Kind::Unauthenticated,
            "unauthorized",
            Text::new(
                "请先登录，或提供有效的 API 令牌",
                "Log in first, or send a valid API token",
            ),
        )
    }

    pub fn internal() -> Failure {
        Failure::new(
            Kind::Internal,
            "internal",
            Text::new(
                "服务器内部错误，已记录，请稍后重试",
                "Internal error; it has been logged, please retry later",
            ),
        )
    }

    /// A rule refused the request. Who may act is `Forbidden`; a value out of its range
    /// (`invalid_*`) is `Invalid`; any other refusal is the rule saying no to this state of
    /// things, `Conflict`.
    pub fn refused(r: Refusal) -> Failure {
        let kind = if matches!(r.code, "forbidden" | "not_a_settler" | "own_claim") {
            Kind::Forbidden
        } else if r.code.starts_with("invalid_") {
            Kind::Invalid
        } else {
            Kind::Conflict
        };
        let mut f = Failure::new(kind, r.code, r.text);
        f.0.rule = r.rule.map(|r| r.to_string());
        f
    }
}

/// For logs and the command line: the code, the rule and the English sentence.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(rule) = &self.rule {
            write!(f, " ({rule})")?;
        }
        write!(f, ": {}", self.detail.en)
    }
}

impl std::error::Error for Failure {}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::refused(r)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        match e {
            StoreError::NotFound => Failure::not_found(Text::new("找不到该记录", "No such record")),
            StoreError::Conflict { constraint } => {
                tracing::info!(constraint, "constraint refused a change");
                Failure::conflict(
                    "conflict",
                    Text::new("与现有记录冲突", "Conflicts with an existing record"),
                )
            }
            StoreError::Other(msg) => {
                tracing::error!(error = %msg, "storage error");
                Failure::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kehu_domain::RuleId;

    #[test]
    fn a_refusal_is_forbidden_invalid_or_a_conflict_by_its_code() {
        let r = |code| Refusal {
            code,
            rule: Some(RuleId::parse("R5.1").unwrap()),
            text: Text::new("不行", "no"),
        };
        assert_eq!(Failure::refused(r("forbidden")).kind, Kind::Forbidden);
        assert_eq!(Failure::refused(r("invalid_amount")).kind, Kind::Invalid);
        let f = Failure::refused(r("already_claimed"));
        assert_eq!(
            (f.kind, f.code, f.rule.as_deref()),
            (Kind::Conflict, "already_claimed", Some("R5.1"))
        );
    }
}
