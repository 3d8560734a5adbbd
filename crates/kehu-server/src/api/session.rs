//! Logging in (session cookie) and API tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::{Lang, Text};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::dto::StaffOut;
use crate::auth::{self, Caller, SESSION_COOKIE, SESSION_TTL};
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(create_token))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// Only needed when the same username exists in several tenants.
    pub tenant: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SessionOut {
    pub staff: StaffOut,
    /// Send this back as `csrf` in form posts of the web pages.
    pub csrf_token: String,
}

/// The client address, when the server was started with connection info.
pub fn client_addr(headers_ext: &axum::http::Extensions) -> String {
    headers_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".to_string())
}

/// A login that succeeded: the session token to set as a cookie.
pub struct LoggedIn {
    pub staff: kehu_store::staff::StaffRow,
    pub token: String,
    pub csrf: String,
}

/// Checks a username and password with throttling and opens a session. Shared by the API and
/// the login page.
pub async fn log_in(
    state: &AppState,
    username: &str,
    password: &str,
    tenant: Option<&str>,
    addr: &str,
    lang: Lang,
) -> Result<LoggedIn, ApiError> {
    let username = username.trim();
    if let Err(wait) = state.limiter.check(username, addr) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            Text::new(
                format!("登录失败次数过多，请 {} 分钟后再试", wait.div_ceil(60)),
                format!("Too many failed logins; try again in {} minutes", wait.div_ceil(60)),
            ),
        )
        .in_lang(lang)
        .with_extra("retry_after", wait.into()));
    }
    // A NUL cannot be in a stored name or password (and PostgreSQL refuses it in a query).
    let mut candidates = if username.contains('\0') || password.contains('\0') {
        Vec::new()
    } else {
        kehu_store::staff::by_username(&state.db, username).await?
    };
    if let Some(slug) = tenant {
        let t = kehu_store::tenants::by_slug(&state.db, slug).await?;
        candidates.retain(|s| Some(s.tenant_id) == t.as_ref().map(|t| t.id));
    }
    // The same username may exist in several tenants (the login form has no tenant field): the
    // one whose password matches is meant. Two matching is ambiguous and needs `tenant`.
    if candidates.is_empty() {
        auth::verify_dummy(password);
    }
    let mut matching = candidates
        .into_iter()
        .filter(|c| auth::verify_password(password, &c.password_hash));
    let found = match (matching.next(), matching.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    };
    let Some(staff) = found else {
        state.limiter.fail(username, addr);
        tracing::info!(login.username = username, "login refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            Text::new("用户名或密码不正确", "Wrong username or password"),
        )
        .in_lang(lang));
    };
    state.limiter.succeed(username);
    let token = auth::random_token();
    let csrf = auth::random_token();
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::try_from(SESSION_TTL).unwrap_or_default();
    kehu_store::auth::create_session(&state.db, &auth::hash_token(&token), &staff, &csrf, now, expires).await?;
    Ok(LoggedIn { staff, token, csrf })
}

pub fn session_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    ))
    .expect("cookie is ASCII")
}

/// Log in with username and password; answers the staff member and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", security(()),
    request_body = LoginBody,
    responses(
        (status = 200, body = SessionOut, description = "Logged in; the `kehu_session` cookie is set"),
        (status = 401, body = Problem, description = "`bad_credentials`"),
        (status = 429, body = Problem, description = "`too_many_attempts`"),
    ))]
async fn login(
    State(state): State<AppState>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_tag)
        .unwrap_or_default();
    let addr = client_addr(&ext);
    let li = log_in(
        &state,
        &body.username,
        &body.password,
        body.tenant.as_deref(),
        &addr,
        lang,
    )
    .await?;
    let mut res = axum::Json(SessionOut {
        staff: StaffOut::from(&li.staff),
        csrf_token: li.csrf,
    })
    .into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&li.token));
    Ok(res)
}

/// Log out: the session ends at once.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Logged out"), (status = 401, body = Problem)))]
async fn logout(State(state): State<AppState>, _caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string());
    if let Some(t) = token {
        let h = auth::hash_token(&t);
        kehu_store::auth::delete_session(&state.db, &h).await?;
        state.auth_cache.forget(&format!("s:{h}"));
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("kehu_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    Ok(res)
}

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    pub name: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub name: String,
    /// Shown once; send it as `Authorization: Bearer TOKEN`.
    pub token: String,
}

/// Create an API token for the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "session", request_body = TokenBody,
    responses((status = 201, body = TokenOut), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, axum::Json<TokenOut>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid_name",
            Text::new(
                "请填写令牌名称（最多 100 个字符）",
                "A token name is required (at most 100 characters)",
            ),
        )
        .in_lang(caller.lang));
    }
    let token = auth::random_token();
    let row =
        kehu_store::auth::create_token(&state.db, &caller.staff, name, &auth::hash_token(&token), state.now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenOut {
            id: row.id,
            name: row.name,
            token,
        }),
    ))
}

/// The logged-in staff member.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = StaffOut), (status = 401, body = Problem)))]
async fn me(caller: Caller) -> axum::Json<StaffOut> {
    axum::Json(StaffOut::from(&caller.staff))
}
