//! Errors at the HTTP edge: RFC 9457 problem JSON with a stable snake_case `code`, the rule ID
//! when a rule refused, and a detail in the caller's language. Internal errors are logged with
//! their context and answered generically.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::{Lang, Refusal, Text};
use kehu_store::StoreError;

/// An error answer. Boxed so `Result<_, ApiError>` stays small on the happy path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorBody>);

#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Text,
    pub rule: Option<String>,
    pub lang: Lang,
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
            lang: Lang::Zh,
            extra: None,
        }))
    }

    pub fn in_lang(mut self, lang: Lang) -> ApiError {
        self.lang = lang;
        self
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> ApiError {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    pub fn bad_request(code: &'static str, detail: Text) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn not_found(what: Text) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Text::new(
                "请先登录，或提供有效的 API 令牌",
                "Log in first, or send a valid API token",
            ),
        )
    }

    pub fn forbidden(detail: Text) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            Text::new(
                "服务器内部错误，已记录，请稍后重试",
                "Internal error; it has been logged, please retry later",
            ),
        )
    }

    /// A rule refused the request.
    pub fn refused(r: Refusal) -> ApiError {
        // Who may act is 403; a value out of its range (`invalid_*`) is bad input, 422; any
        // other refusal is the rule saying no to this state of things, 409.
        let status = if matches!(r.code, "forbidden" | "not_a_settler" | "own_claim") {
            StatusCode::FORBIDDEN
        } else if r.code.starts_with("invalid_") {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::CONFLICT
        };
        let mut e = ApiError::new(status, r.code, r.text);
        e.rule = r.rule.map(|r| r.to_string());
        e
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), format!("https://kehu.dev/problems/{}", self.code).into());
        m.insert("title".into(), self.title().into());
        m.insert("status".into(), self.status.as_u16().into());
        m.insert("detail".into(), self.detail.get(self.lang).into());
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(Text::new("找不到该记录", "No such record")),
            StoreError::Conflict { constraint } => {
                tracing::info!(constraint, "constraint refused a change");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    Text::new("与现有记录冲突", "Conflicts with an existing record"),
                )
            }
            StoreError::Other(msg) => {
                tracing::error!(error = %msg, "storage error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.to_json())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
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
