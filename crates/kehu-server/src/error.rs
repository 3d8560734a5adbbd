//! Errors at the HTTP edge: RFC 9457 problem JSON with a stable snake_case `code`, the rule ID
//! when a rule refused, and a detail in the caller's language. A use case's [`Failure`] becomes
//! an answer here and only here: its kind picks the status, and the edge middleware
//! (`edge::headers_and_problems`) writes the detail in the language of the request. Internal
//! errors are logged with their context and answered generically.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::{Lang, Refusal, Text};
use kehu_store::StoreError;

use crate::failure::{Failure, Kind};

/// An error answer. Boxed so `Result<_, ApiError>` stays small on the happy path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorBody>);

#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Text,
    pub rule: Option<String>,
    /// Extra members merged into the problem object (e.g. `duplicates`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: Text) -> ApiError {
        ApiError(Box::new(ErrorBody {
            status,
            code,
            detail,
            rule: None,
            extra: None,
        }))
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> ApiError {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    // The answers a use case gives too are its `Failure`s, worded there once.
    pub fn bad_request(code: &'static str, detail: Text) -> ApiError {
        Failure::invalid(code, detail).into()
    }

    pub fn not_found(what: Text) -> ApiError {
        Failure::not_found(what).into()
    }

    pub fn unauthorized() -> ApiError {
        Failure::unauthenticated().into()
    }

    pub fn forbidden(detail: Text) -> ApiError {
        Failure::forbidden(detail).into()
    }

    pub fn internal() -> ApiError {
        Failure::internal().into()
    }

    /// A rule refused the request.
    pub fn refused(r: Refusal) -> ApiError {
        Failure::refused(r).into()
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The problem object, its detail in `lang`.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), format!("https://kehu.dev/problems/{}", self.code).into());
        m.insert("title".into(), self.title().into());
        m.insert("status".into(), self.status.as_u16().into());
        m.insert("detail".into(), self.detail.get(lang).into());
        m.insert("code".into(), self.code.into());
        if let Some(rule) = &self.rule {
            m.insert("rule".into(), rule.clone().into());
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        serde_json::Value::Object(m)
    }
}

/// The HTTP status of a kind of failure.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The one place a use case's failure becomes HTTP.
impl From<Failure> for ApiError {
    fn from(f: Failure) -> ApiError {
        let f = f.into_body();
        let mut e = ApiError::new(status_of(f.kind), f.code, f.detail);
        e.rule = f.rule;
        e.extra = f.extra;
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        Failure::from(e).into()
    }
}

impl IntoResponse for ApiError {
    /// The problem in Chinese, the default; the edge middleware finds the error among the
    /// response's extensions and writes it again in the language of the request.
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.to_json(Lang::Zh))).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res.extensions_mut().insert(self);
        res
    }
}

/// Problem JSON as documented in the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[schema(example = "https://kehu.dev/problems/duplicate_customer")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code, e.g. `duplicate_customer`, `forbidden`, `unauthorized`.
    pub code: String,
    /// The rule that refused the request, e.g. `R5.1`.
    pub rule: Option<String>,
}
