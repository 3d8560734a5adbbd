//! The JSON API under `/api/v1`. Every route is listed in the OpenAPI document built from the
//! handlers' annotations; every error is problem JSON.

mod admin;
mod cases;
mod customers;
pub mod dto;
mod events;
mod files;
pub use files::{UPLOAD_LIMIT, file_part};
mod inbox;
mod sales;
pub(crate) mod session;
mod snapshots;
mod timed;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use kehu_domain::Text;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

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
        (name = "ledger", description = "Penalties, points and rewards; monthly statements"),
        (name = "cases", description = "Workflows the policy declares, run as cases: open, read, list, act"),
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
        .merge(snapshots::router())
        .merge(cases::router())
        .merge(files::router())
        .merge(inbox::router())
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

/// A JSON body whose parse errors are problem JSON (`code: invalid_body`). The body must be an
/// object: serde would read an array into a struct field by field, which no client means.
pub struct ApiJson<T>(pub T);

/// Reads a JSON object into `T`, or the problem to answer: `invalid_body` (422) for anything
/// that is not one object of the right shape.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let invalid = |en: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Text::new(format!("请求内容无效：{en}"), format!("Invalid request body: {en}")),
        )
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("the body must be a JSON object `{...}`".into()));
    }
    // NUL is valid JSON but no text field may hold it (PostgreSQL refuses it in text).
    if bytes.contains(&0) || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(invalid("text may not contain the NUL character".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
}

/// Whether a request says its body is JSON.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// The body's bytes, or the problem: 413 past the body limit, 422 when it cannot be read.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    axum::body::Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            crate::edge::problem_for_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::bad_request(
                "invalid_body",
                Text::new(
                    format!("请求内容无效：{}", e.body_text()),
                    format!("Invalid request body: {}", e.body_text()),
                ),
            )
        }
    })
}

fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        Text::new("请求内容须为 application/json", "The body must be application/json"),
    )
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(not_json());
        }
        let bytes = body_bytes(req, state).await?;
        parse_object(&bytes).map(ApiJson)
    }
}

/// Like [`ApiJson`], but an empty body (or none) is `T::default()`: for actions whose every
/// field is optional.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if declared && !json {
            return Err(not_json());
        }
        parse_object(&bytes).map(OptionalJson)
    }
}

/// A query string read into `T`; a malformed one (a repeated key, a value of the wrong type)
/// is problem JSON (`invalid_query`), not the framework's plain text.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                let why = e.body_text();
                let why = why.strip_prefix("Failed to deserialize query string: ").unwrap_or(&why);
                ApiError::bad_request(
                    "invalid_query",
                    Text::new(format!("查询参数无效：{why}"), format!("Invalid query string: {why}")),
                )
            })
    }
}

/// A numeric ID in the path; anything else is a 404 in problem JSON.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(Text::new("找不到该记录", "No such record")))?;
        raw.parse::<i64>()
            .map(Id)
            .map_err(|_| ApiError::not_found(Text::new("找不到该记录", "No such record")))
    }
}

/// Two numeric IDs in the path (a case and one of its files); anything else is a 404.
pub struct Ids(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let none = || ApiError::not_found(Text::new("找不到该记录", "No such record"));
        let axum::extract::Path((a, b)) = axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| none())?;
        Ok(Ids(a.parse().map_err(|_| none())?, b.parse().map_err(|_| none())?))
    }
}

/// `?limit=` (default 50, max 500) and `?cursor=` as docs/api.md says. Read as text so that a bad
/// value is a problem JSON answer, not the framework's plain-text one.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Matches any part of the name (Chinese included), or any 4 or more digits of a phone.
    /// At most 100 characters.
    pub q: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A list's `?limit=`: 1 to 500, default 50.
pub fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw.map(|l| l.parse::<i64>()) {
        None => Ok(50),
        Some(Ok(n)) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request(
            "invalid_limit",
            Text::new("limit 须在 1 到 500 之间", "limit must be 1 to 500"),
        )),
    }
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        parse_limit(self.limit.as_deref())
    }

    pub fn cursor(&self) -> Result<Option<i64>, ApiError> {
        parse_cursor(self.cursor.as_deref())
    }
}

/// A list's `?cursor=` that is an id: none when absent or empty, else `invalid_cursor`.
pub fn parse_cursor(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request("invalid_cursor", Text::new("cursor 无效", "Invalid cursor"))),
    }
}

/// A query's `?customer_id=`: none when absent or empty, else `invalid_customer_id`.
pub fn parse_customer_id(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    parse_id_param(raw, "customer_id", "invalid_customer_id")
}

/// An optional query parameter `name` holding an id: absent or empty is none, anything but a
/// whole number is refused with `code`.
pub fn parse_id_param(raw: Option<&str>, name: &str, code: &'static str) -> Result<Option<i64>, ApiError> {
    match raw.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(
                code,
                Text::new(format!("{name} 须为整数"), format!("{name} must be a whole number")),
            )
        }),
    }
}

/// Completes the OpenAPI document with what every route can answer besides its own statuses:
/// errors are `application/problem+json` (the handlers' annotations say `Problem`, which
/// utoipa files under `application/json`), and the statuses the edge gives any route: 401
/// without auth, 403, 404 for a record outside the caller's view, 413/415/422 for a body,
/// 422 for a malformed query, 500.
pub fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |why: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops: [(&str, &mut Option<Operation>); 5] = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            for (status, r) in op.responses.responses.iter_mut() {
                if let (true, RefOr::T(r)) = (status.starts_with('4') || status.starts_with('5'), r) {
                    r.content = std::mem::take(&mut r.content)
                        .into_iter()
                        .map(|(k, v)| {
                            let k = if k == "application/json" {
                                "application/problem+json".to_string()
                            } else {
                                k
                            };
                            (k, v)
                        })
                        .collect();
                }
            }
            let public = path == "/api/v1/session" && method == "post";
            let params = op.parameters.as_deref().unwrap_or_default();
            let has_query = params
                .iter()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
            let mut add = |status: &str, why: &str| {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(why));
            };
            if !public {
                add("401", "`unauthorized`: no valid session or token");
                add("403", "`forbidden`: the caller's role may not do this");
                add(
                    "409",
                    "A rule of the policy refuses (`rule` names it), or the policy has no rules for this",
                );
            }
            if path.contains('{') {
                add("404", "`not_found`: no such record, or one outside the caller's view");
            }
            if op.request_body.is_some() {
                add("413", "`payload_too_large`: the body is over 1 MB");
                add("415", "`unsupported_media_type`: the body is not application/json");
                add("422", "`invalid_body` and the field's own codes");
            }
            if has_query {
                add("422", "`invalid_query` and the parameter's own codes");
            }
            add("500", "`internal`: logged; retry later");
        }
    }
}
