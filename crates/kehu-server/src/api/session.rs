//! Logging in (session cookie) and API tokens: minted with a fresh login or the password again,
//! listed, revoked, and expiring.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::Text;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::StaffOut;
use super::{ApiJson, Id};
use crate::auth::{self, Caller, SESSION_COOKIE, SESSION_TTL};
use crate::edge::{session_cookie, session_cookie_cleared};
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(max_length = 64)]
    pub username: String,
    #[schema(max_length = 200)]
    pub password: String,
    /// The company's short name; only needed when the same username exists in several tenants.
    #[schema(max_length = 64)]
    pub tenant: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SessionOut {
    pub staff: StaffOut,
    /// Send this back as `csrf` in form posts of the web pages.
    pub csrf_token: String,
}

/// A login that succeeded: the session token to set as a cookie.
pub struct LoggedIn {
    pub staff: kehu_store::staff::StaffRow,
    pub token: String,
    pub csrf: String,
}

fn too_many(wait: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        Text::new(
            format!("登录失败次数过多，请 {} 分钟后再试", wait.div_ceil(60)),
            format!("Too many failed logins; try again in {} minutes", wait.div_ceil(60)),
        ),
    )
    .with_extra("retry_after", wait.into())
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_credentials",
        Text::new("用户名或密码不正确", "Wrong username or password"),
    )
}

/// Checks a username and password with throttling and opens a session. Shared by the API and
/// the login page. Failures count per tenant and username, so one tenant's `admin` locked out
/// leaves every other tenant's `admin` alone, and per client address.
pub async fn log_in(
    state: &AppState,
    username: &str,
    password: &str,
    tenant: Option<&str>,
    addr: &str,
) -> Result<LoggedIn, ApiError> {
    let username = username.trim();
    let addr_key = auth::addr_key(addr);
    if let Err(wait) = auth::throttled(state, &addr_key, auth::MAX_PER_ADDRESS).await? {
        return Err(too_many(wait));
    }
    // A NUL cannot be in a stored name or password (and PostgreSQL refuses it in a query).
    let mut candidates = if username.contains('\0') || password.contains('\0') || username.len() > 64 {
        Vec::new()
    } else {
        kehu_store::staff::by_username(&state.db, username).await?
    };
    if let Some(slug) = tenant.map(str::trim).filter(|t| !t.is_empty()) {
        let t = if slug.contains('\0') {
            None
        } else {
            kehu_store::tenants::by_slug(&state.db, slug).await?
        };
        candidates.retain(|s| Some(s.tenant_id) == t.as_ref().map(|t| t.id));
    }
    // A tenant's user that used up its attempts is not tried at all.
    let mut open = Vec::new();
    let mut locked: Option<u64> = None;
    for c in candidates {
        match auth::throttled(state, &auth::user_key(c.tenant_id, username), auth::MAX_PER_USERNAME).await? {
            Ok(()) => open.push(c),
            Err(wait) => locked = Some(locked.map_or(wait, |w| w.max(wait))),
        }
    }
    if open.is_empty() {
        auth::verify_dummy(password);
        if let Some(wait) = locked {
            return Err(too_many(wait));
        }
    }
    // The same username may exist in several tenants (the company field is optional): the one
    // whose password matches is meant. Two matching is ambiguous and needs `tenant`.
    let (mut matching, failed): (Vec<_>, Vec<_>) = open
        .into_iter()
        .partition(|c| auth::verify_password(password, &c.password_hash));
    if matching.len() != 1 {
        let mut keys = vec![addr_key];
        keys.extend(
            failed
                .iter()
                .chain(&matching)
                .map(|c| auth::user_key(c.tenant_id, username)),
        );
        auth::count_failure(state, &keys).await?;
        tracing::info!(login.username = username, "login refused");
        return Err(bad_credentials());
    }
    let staff = matching.remove(0);
    kehu_store::auth::clear_failures(&state.db, &auth::user_key(staff.tenant_id, username)).await?;
    let token = auth::random_token();
    let csrf = auth::random_token();
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::try_from(SESSION_TTL).unwrap_or_default();
    kehu_store::auth::create_session(&state.db, &auth::hash_token(&token), &staff, &csrf, now, expires).await?;
    Ok(LoggedIn { staff, token, csrf })
}

/// Log in with username and password; answers the staff member and sets the session cookie
/// (`Secure` when Kehu is reached over HTTPS).
#[utoipa::path(post, path = "/api/v1/session", tag = "session", security(()),
    request_body = LoginBody,
    responses(
        (status = 200, body = SessionOut, description = "Logged in; the `kehu_session` cookie is set"),
        (status = 401, body = Problem, description = "`bad_credentials`"),
        (status = 429, body = Problem, description = "`too_many_attempts`, with `retry_after` in seconds"),
    ))]
async fn login(
    State(state): State<AppState>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let client = state.edge.client(&ext, &headers);
    let li = log_in(
        &state,
        &body.username,
        &body.password,
        body.tenant.as_deref(),
        &client.addr,
    )
    .await?;
    let mut res = axum::Json(SessionOut {
        staff: StaffOut::from(&li.staff),
        csrf_token: li.csrf,
    })
    .into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&li.token, SESSION_TTL.as_secs(), client.https),
    );
    Ok(res)
}

/// Ends the session this request came with (a bearer token has none; revoke it instead).
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(t) = auth::cookie(headers, SESSION_COOKIE) {
        kehu_store::auth::delete_session(&state.db, &auth::hash_token(t)).await?;
    }
    Ok(())
}

/// Log out: the session ends at once, on every server process.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Logged out"), (status = 401, body = Problem)))]
async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    ext: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    end_session(&state, &headers).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_cleared(state.edge.client(&ext, &headers).https),
    );
    Ok(res)
}

/// A token's default life, and the longest it may be given.
pub const TOKEN_DAYS_DEFAULT: i64 = 90;
pub const TOKEN_DAYS_MAX: i64 = 365;
/// Minting a token without the password needs a login at most this old.
pub const FRESH_LOGIN: std::time::Duration = std::time::Duration::from_secs(10 * 60);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// 1 to 365; default 90.
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    /// The caller's password: required unless they logged in within the last 10 minutes (an
    /// API token can never mint another without it).
    #[schema(max_length = 200)]
    pub password: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub name: String,
    /// Shown once; send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    pub created_at: String,
    pub expires_at: String,
}

/// Create an API token for the caller. Needs a login of the last 10 minutes or `password`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "session", request_body = TokenBody,
    responses(
        (status = 201, body = TokenOut),
        (status = 401, body = Problem, description = "`unauthorized`, or `password_required` / `bad_credentials`"),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "`too_many_attempts`"),
    ))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, axum::Json<TokenOut>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || crate::service::has_control(name) {
        return Err(ApiError::bad_request(
            "invalid_name",
            Text::new(
                "请填写令牌名称（最多 100 个字符）",
                "A token name is required (at most 100 characters)",
            ),
        ));
    }
    let days = body.expires_in_days.unwrap_or(TOKEN_DAYS_DEFAULT);
    if !(1..=TOKEN_DAYS_MAX).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            Text::new(
                format!("expires_in_days 须在 1 到 {TOKEN_DAYS_MAX} 之间"),
                format!("expires_in_days must be 1 to {TOKEN_DAYS_MAX}"),
            ),
        ));
    }
    if !caller.logged_in_within(FRESH_LOGIN) {
        let Some(password) = body.password.as_deref() else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "password_required",
                Text::new(
                    "创建令牌需要再次输入密码（或在 10 分钟内重新登录）",
                    "Minting a token needs your password again (or a login within the last 10 minutes)",
                ),
            ));
        };
        // A wrong password here counts like a failed login, so tokens cannot be used to guess.
        let user_key = auth::user_key(caller.tenant_id, &caller.staff.username);
        let addr_key = auth::addr_key(&state.edge.client(&ext, &headers).addr);
        for (key, max) in [(&user_key, auth::MAX_PER_USERNAME), (&addr_key, auth::MAX_PER_ADDRESS)] {
            if let Err(wait) = auth::throttled(&state, key, max).await? {
                return Err(too_many(wait));
            }
        }
        if password.contains('\0') || !auth::verify_password(password, &caller.staff.password_hash) {
            auth::count_failure(&state, &[user_key, addr_key]).await?;
            return Err(bad_credentials());
        }
    }
    let token = auth::random_token();
    // Tokens live in real time, as sessions do, so a virtual clock expires none of them.
    let created = jiff::Timestamp::now();
    let expires = created + jiff::SignedDuration::from_hours(24 * days);
    let row = kehu_store::auth::create_token(
        &state.db,
        &caller.staff,
        name,
        &auth::hash_token(&token),
        state.now(),
        (created, expires),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenOut {
            id: row.id,
            name: row.name,
            token,
            created_at: kehu_store::ts(row.created_at).to_string(),
            expires_at: row.expires_at.map(kehu_store::ts).unwrap_or(expires).to_string(),
        }),
    ))
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Neither revoked nor expired.
    pub active: bool,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenInfo>,
    pub next_cursor: Option<String>,
}

/// The caller's API tokens, newest first; never their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "session",
    responses((status = 200, body = TokenList), (status = 401, body = Problem)))]
async fn list_tokens(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<TokenList>, ApiError> {
    let rows = kehu_store::auth::tokens_of(&state.db, caller.tenant_id, caller.id()).await?;
    let now = jiff::Timestamp::now().as_millisecond();
    Ok(axum::Json(TokenList {
        items: rows
            .into_iter()
            .map(|t| TokenInfo {
                active: t.revoked_at.is_none() && t.expires_at.is_some_and(|e| e > now),
                id: t.id,
                name: t.name,
                created_at: kehu_store::ts(t.created_at).to_string(),
                expires_at: t.expires_at.map(|e| kehu_store::ts(e).to_string()),
                revoked_at: t.revoked_at.map(|e| kehu_store::ts(e).to_string()),
            })
            .collect(),
        next_cursor: None,
    }))
}

/// Revoke one of the caller's tokens: it stops working at once, on every server process.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "session", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn revoke_token(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<StatusCode, ApiError> {
    kehu_store::auth::revoke_token(
        &state.db,
        caller.tenant_id,
        caller.id(),
        id,
        (state.now(), jiff::Timestamp::now()),
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::NotFound => ApiError::not_found(Text::new("找不到该令牌", "No such token")),
        e => e.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in staff member.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = StaffOut), (status = 401, body = Problem)))]
async fn me(caller: Caller) -> axum::Json<StaffOut> {
    axum::Json(StaffOut::from(&caller.staff))
}
