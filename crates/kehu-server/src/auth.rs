//! Who is calling: session cookies (web and API), bearer tokens (API), argon2id passwords,
//! per-username and per-address login throttling, and CSRF tokens for form posts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use kehu_domain::{Lang, Permission, Policy, Text};
use kehu_store::staff::StaffRow;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

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

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| ApiError::internal())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
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
}

impl Caller {
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
    pub fn require(&self, policy: &Policy, p: Permission) -> Result<(), ApiError> {
        if self.may(policy, p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(Text::new(
                format!("你的角色没有“{}”权限", p.as_str()),
                format!("Your role does not have the `{}` permission", p.as_str()),
            ))
            .in_lang(self.lang))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == kehu_domain::policy::ADMIN_ROLE)
    }
}

/// Reads one cookie from the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
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
    if let Some(q) = parts.uri.query()
        && let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("lang="))
    {
        return Lang::from_tag(v);
    }
    if let Some(c) = cookie(parts, LANG_COOKIE) {
        return Lang::from_tag(c);
    }
    parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_tag)
        .unwrap_or_default()
}

#[derive(Clone)]
struct Cached {
    staff: StaffRow,
    csrf: Option<String>,
    until: Instant,
}

/// Recently seen sessions and tokens, so a hot read path does not query them every time.
/// Entries live a few seconds; logging out removes its entry at once.
#[derive(Default)]
pub struct AuthCache(Mutex<HashMap<String, Cached>>);

const AUTH_CACHE_TTL: Duration = Duration::from_secs(5);

impl AuthCache {
    fn get(&self, key: &str) -> Option<Cached> {
        let map = self.0.lock().expect("auth cache lock");
        map.get(key).filter(|c| c.until > Instant::now()).cloned()
    }

    fn put(&self, key: String, staff: StaffRow, csrf: Option<String>) {
        let mut map = self.0.lock().expect("auth cache lock");
        if map.len() > 10_000 {
            let now = Instant::now();
            map.retain(|_, c| c.until > now);
        }
        map.insert(
            key,
            Cached {
                staff,
                csrf,
                until: Instant::now() + AUTH_CACHE_TTL,
            },
        );
    }

    pub fn forget(&self, key: &str) {
        self.0.lock().expect("auth cache lock").remove(key);
    }
}

/// Finds the caller from a bearer token or a session cookie, or `None`.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let lang = lang_of(parts);
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let (key, is_token) = match (bearer, cookie(parts, SESSION_COOKIE)) {
        (Some(t), _) => (format!("t:{}", hash_token(t)), true),
        (None, Some(s)) => (format!("s:{}", hash_token(s)), false),
        (None, None) => return Ok(None),
    };
    let found = match state.auth_cache.get(&key) {
        Some(c) => Some((c.staff, c.csrf)),
        None => {
            let hash = &key[2..];
            let found = if is_token {
                kehu_store::auth::token(&state.db, hash).await?.map(|s| (s, None))
            } else {
                kehu_store::auth::session(&state.db, hash, jiff::Timestamp::now())
                    .await?
                    .map(|(sess, staff)| (staff, Some(sess.csrf_token)))
            };
            if let Some((staff, csrf)) = &found {
                state.auth_cache.put(key.clone(), staff.clone(), csrf.clone());
            }
            found
        }
    };
    Ok(found.map(|(staff, csrf)| Caller {
        tenant_id: staff.tenant_id,
        roles: staff.role_list(),
        staff,
        lang,
        csrf,
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        authenticate(parts, state)
            .await?
            .ok_or_else(|| ApiError::unauthorized().in_lang(lang_of(parts)))
    }
}

/// Throttles failed logins per username and per client address.
#[derive(Default)]
pub struct LoginLimiter(Mutex<HashMap<String, (Instant, u32)>>);

const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_PER_USERNAME: u32 = 5;
pub const MAX_PER_ADDRESS: u32 = 30;

impl LoginLimiter {
    /// `Err(seconds)` to wait when either key has used up its attempts in the window.
    pub fn check(&self, username: &str, addr: &str) -> Result<(), u64> {
        let map = self.0.lock().expect("limiter lock");
        let now = Instant::now();
        for (key, max) in [
            (format!("u:{username}"), MAX_PER_USERNAME),
            (format!("a:{addr}"), MAX_PER_ADDRESS),
        ] {
            if let Some((start, n)) = map.get(&key)
                && now.duration_since(*start) < WINDOW
                && *n >= max
            {
                return Err((WINDOW - now.duration_since(*start)).as_secs().max(1));
            }
        }
        Ok(())
    }

    pub fn fail(&self, username: &str, addr: &str) {
        let mut map = self.0.lock().expect("limiter lock");
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        for key in [format!("u:{username}"), format!("a:{addr}")] {
            let e = map.entry(key).or_insert((now, 0));
            if now.duration_since(e.0) >= WINDOW {
                *e = (now, 0);
            }
            e.1 += 1;
        }
    }

    pub fn succeed(&self, username: &str) {
        self.0.lock().expect("limiter lock").remove(&format!("u:{username}"));
    }
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

    #[test]
    fn the_limiter_stops_a_username_after_its_attempts() {
        let l = LoginLimiter::default();
        for _ in 0..MAX_PER_USERNAME {
            assert!(l.check("wang", "1.2.3.4").is_ok());
            l.fail("wang", "1.2.3.4");
        }
        assert!(l.check("wang", "5.6.7.8").is_err());
        assert!(l.check("li", "5.6.7.8").is_ok());
        l.succeed("wang");
        assert!(l.check("wang", "5.6.7.8").is_ok());
    }
}
