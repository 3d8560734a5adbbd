//! The JSON API under `/api/v1`. Every route is listed in the OpenAPI document built from the
//! handlers' annotations; every error is problem JSON.

mod admin;
mod complaints;
mod conflicts;
mod customers;
pub mod dto;
mod events;
mod sales;
pub(crate) mod session;
mod timed;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use kehu_domain::Text;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::lang_of;
use crate::{ApiError, AppState};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kehu API", description = "Kehu (客户): customers, claims, ownership decisions and tamper-evident history. Errors are RFC 9457 problem JSON with a stable `code`."),
    modifiers(&SecurityAddon),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "session", description = "Log in, API tokens"),
        (name = "customers", description = "Customers, claims, ownership, follow-ups, history"),
        (name = "claims", description = "Claims and their limits: cancel, reassign, confirm follow-ups"),
        (name = "events", description = "Joint events of several divisions: invitations and filing cut-offs"),
        (name = "conflicts", description = "Conflicts between two divisions' staff over a customer: settled by the coordinator and both heads, else ruled on by the general manager (R11.6)"),
        (name = "ledger", description = "Penalties, points and rewards; monthly statements"),
        (name = "complaints", description = "Complaints found, their limits, fines and resolution (R11.9)"),
        (name = "admin", description = "Units, staff, policy, clock, history verification"),
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(session::router())
        .merge(customers::router())
        .merge(admin::router())
        .merge(timed::router())
        .merge(events::router())
        .merge(sales::router())
        .merge(complaints::router())
        .merge(conflicts::router())
}

/// Unknown paths: problem JSON under `/api`, a page elsewhere.
pub async fn fallback(uri: Uri, headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") {
        ApiError::not_found(Text::new("没有这个接口", "No such endpoint")).into_response()
    } else {
        crate::web::not_found_page(&headers).into_response()
    }
}

/// A JSON body whose parse errors are problem JSON (`code: invalid_body`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let lang = lang_of(&parts);
        let req = Request::from_parts(parts, body);
        let invalid = |en: String| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                Text::new(format!("请求内容无效：{en}"), format!("Invalid request body: {en}")),
            )
            .in_lang(lang)
        };
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Text::new("请求内容须为 application/json", "The body must be application/json"),
            )
            .in_lang(lang));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| invalid(e.body_text()))?;
        // NUL is valid JSON but no text field may hold it (PostgreSQL refuses it in text).
        if bytes.contains(&0) || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            return Err(invalid("text may not contain the NUL character".into()));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(invalid(e.body_text())),
        }
    }
}

/// A numeric ID in the path; anything else is a 404 in problem JSON.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let lang = lang_of(parts);
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(Text::new("找不到该记录", "No such record")).in_lang(lang))?;
        raw.parse::<i64>()
            .map(Id)
            .map_err(|_| ApiError::not_found(Text::new("找不到该记录", "No such record")).in_lang(lang))
    }
}

/// `?limit=` (default 50, max 500) and `?cursor=` as API.md says. Read as text so that a bad
/// value is a problem JSON answer, not the framework's plain-text one.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Matches any part of the name (Chinese included), or a phone's last 4+ or first 7+ digits.
    /// At most 100 characters.
    pub q: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A list's `?limit=`: 1 to 500, default 50.
pub fn parse_limit(raw: Option<&str>, lang: kehu_domain::Lang) -> Result<i64, ApiError> {
    match raw.map(|l| l.parse::<i64>()) {
        None => Ok(50),
        Some(Ok(n)) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request(
            "invalid_limit",
            Text::new("limit 须在 1 到 500 之间", "limit must be 1 to 500"),
        )
        .in_lang(lang)),
    }
}

impl PageQuery {
    pub fn limit(&self, lang: kehu_domain::Lang) -> Result<i64, ApiError> {
        parse_limit(self.limit.as_deref(), lang)
    }

    pub fn cursor(&self, lang: kehu_domain::Lang) -> Result<Option<i64>, ApiError> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => c.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request("invalid_cursor", Text::new("cursor 无效", "Invalid cursor")).in_lang(lang)
            }),
        }
    }
}
