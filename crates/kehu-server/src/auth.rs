//! Who is calling: session cookies (web and API), bearer tokens (API), argon2id passwords,
//! per-username and per-address login throttling, and CSRF tokens for form posts.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kehu_domain::{Lang, Permission, Policy, Text};
use kehu_store::staff::StaffRow;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState, Failure};

pub const SESSION_COOKIE: &str = "kehu_session";
pub const LANG_COOKIE: &str = "kehu_lang";
/// Sessions last this long (real time, so moving a virtual clock does not log everyone out).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A random secret, hex-encoded.
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored of a secret: its SHA-256.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn hash_password(password: &str) -> Result<String, Failure> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| Failure::internal())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Failure::internal()
        })
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Spends the time of one verification when the username is unknown, so timing does not tell
/// which usernames exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY.get_or_init(|| hash_password("kehu-dummy-password").unwrap_or_default());
    let _ = verify_password(password, h);
}

/// Password rules for new staff.
pub fn check_password(password: &str) -> Result<(), Text> {
    if password.chars().count() < 8 {
        return Err(Text::new(
            "密码至少需要 8 个字符",
            "The password needs at least 8 characters",
        ));
    }
    if password.len() > 200 {
        return Err(Text::new("密码过长", "The password is too long"));
    }
    Ok(())
}

/// The authenticated staff member behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: i64,
    pub staff: StaffRow,
    pub roles: Vec<String>,
    pub lang: Lang,
    /// The session's CSRF token; `None` for bearer tokens.
    pub csrf: Option<String>,
    /// How the caller proved who they are.
    pub credential: Credential,
    /// What the caller sees, worked out once per request (see `crate::visibility::view`).
    pub seen: std::sync::Arc<std::sync::OnceLock<kehu_store::visibility::View>>,
}

/// A login session (cookie) or an API token (bearer).
#[derive(Debug, Clone)]
pub enum Credential {
    Session {
        csrf: String,
        /// When the session was opened (ms), for "logged in within the last minutes".
        started_at: i64,
    },
    /// The token's id.
    Token(i64),
    /// A command of the `kehu` binary acting as this staff member (the demo, the generator).
    Operator,
}

impl Caller {
    /// A command of the `kehu` binary acting as `staff` (the demo, the generator).
    pub fn operator(staff: &StaffRow) -> Caller {
        Caller {
            tenant_id: staff.tenant_id,
            roles: staff.role_list(),
            staff: staff.clone(),
            lang: Lang::Zh,
            csrf: None,
            credential: Credential::Operator,
            seen: Default::default(),
        }
    }

    pub fn id(&self) -> i64 {
        self.staff.id
    }

    /// The caller as the rules see them (with the roles this request runs under).
    pub fn facts(&self) -> kehu_domain::claim::StaffFacts {
        kehu_domain::claim::StaffFacts {
            id: self.id(),
            name: self.staff.display_name.clone(),
            roles: self.roles.clone(),
        }
    }

    pub fn may(&self, policy: &Policy, p: Permission) -> bool {
        policy.allows(&self.roles, p)
    }

    /// Refuses with 403 unless the caller's roles carry `p`.
    pub fn require(&self, policy: &Policy, p: Permission) -> Result<(), Failure> {
        if self.may(policy, p) {
            Ok(())
        } else {
            // In words, not the permission's ID: a person reads it on a page.
            let what = p.label();
            Err(Failure::forbidden(Text::new(
                format!("你的角色不能{}", what.zh),
                format!("Your role may not {}", what.en),
            )))
        }
    }

    /// Whether the caller logged in (with the password) within `within`; a token never has.
    pub fn logged_in_within(&self, within: Duration) -> bool {
        match self.credential {
            Credential::Session { started_at, .. } => {
                let age = jiff::Timestamp::now().as_millisecond() - started_at;
                age >= 0 && (age as u128) <= within.as_millis()
            }
            Credential::Token(_) | Credential::Operator => false,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == kehu_domain::policy::ADMIN_ROLE)
    }
}

/// Reads one cookie from the request.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language to answer in: `?lang=`, then the `kehu_lang` cookie, then `Accept-Language`.
pub fn lang_of(parts: &Parts) -> Lang {
    lang_of_headers(&parts.uri, &parts.headers)
}

/// [`lang_of`] from a URI and headers alone.
pub fn lang_of_headers(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Lang {
    if let Some(q) = uri.query()
        && let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("lang="))
    {
        return Lang::from_tag(v);
    }
    if let Some(c) = cookie(headers, LANG_COOKIE) {
        return Lang::from_tag(c);
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_tag)
        .unwrap_or_default()
}

/// Finds the caller from a bearer token or a session cookie, or `None`. Read from the database
/// on every request (one indexed query), so a logout, a revoked token or a deactivated staff
/// member is refused by every process at once.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let lang = lang_of(parts);
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // Sessions and tokens live in real time, so moving a virtual clock logs nobody out.
    let now = jiff::Timestamp::now();
    let found = match (bearer, cookie(&parts.headers, SESSION_COOKIE)) {
        (Some(t), _) => kehu_store::auth::token(&state.db, &hash_token(t), now)
            .await?
            .map(|(token_id, staff)| (staff, Credential::Token(token_id))),
        (None, Some(s)) => kehu_store::auth::session(&state.db, &hash_token(s), now)
            .await?
            .map(|(sess, staff)| {
                (
                    staff,
                    Credential::Session {
                        csrf: sess.csrf_token,
                        started_at: sess.created_at,
                    },
                )
            }),
        (None, None) => return Ok(None),
    };
    Ok(found.map(|(staff, credential)| Caller {
        tenant_id: staff.tenant_id,
        roles: staff.role_list(),
        csrf: match &credential {
            Credential::Session { csrf, .. } => Some(csrf.clone()),
            Credential::Token(_) | Credential::Operator => None,
        },
        credential,
        staff,
        lang,
        seen: Default::default(),
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        authenticate(parts, state).await?.ok_or_else(ApiError::unauthorized)
    }
}

/// Failed logins are counted per tenant and username and per client address, in the
/// database (so restarts and several processes share the count), over a sliding start window.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_USERNAME: i64 = 5;
pub const MAX_PER_ADDRESS: i64 = 30;

/// The throttle key of a staff member's username in their tenant.
pub fn user_key(tenant_id: i64, username: &str) -> kehu_store::auth::ThrottleKey {
    (tenant_id, format!("user:{username}"))
}

/// The throttle key of a client address (no tenant).
pub fn addr_key(addr: &str) -> kehu_store::auth::ThrottleKey {
    (0, format!("addr:{addr}"))
}

fn window_start(now: jiff::Timestamp) -> jiff::Timestamp {
    now - jiff::SignedDuration::try_from(THROTTLE_WINDOW).unwrap_or_default()
}

/// `Err(seconds to wait)` when `key` has used its `max` failures in the window.
pub async fn throttled(
    state: &AppState,
    key: &kehu_store::auth::ThrottleKey,
    max: i64,
) -> Result<Result<(), u64>, Failure> {
    let now = jiff::Timestamp::now();
    let (n, started) = kehu_store::auth::failures(&state.db, key, window_start(now)).await?;
    if n < max {
        return Ok(Ok(()));
    }
    let ends = started + THROTTLE_WINDOW.as_millis() as i64;
    Ok(Err(((ends - now.as_millisecond()) / 1000).max(1) as u64))
}

/// Counts a failed login against each key.
pub async fn count_failure(state: &AppState, keys: &[kehu_store::auth::ThrottleKey]) -> Result<(), Failure> {
    let now = jiff::Timestamp::now();
    kehu_store::auth::count_failure(&state.db, keys, window_start(now), now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_secret() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
