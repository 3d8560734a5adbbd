//! Logging in and out through the pages, and the language switch.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::Lang;
use serde::Deserialize;

use super::{Chrome, PageCaller, cookie, csrf_ok, csrf_refused, local_path, local_referer, render, same, see_other};
use crate::AppState;
use crate::api::session as api_session;
use crate::auth::{self, LANG_COOKIE};
use crate::edge::{session_cookie, session_cookie_cleared};
use crate::i18n::tr;

/// The login form's double-submit cookie: the form must post back the value it holds.
const LOGIN_CSRF_COOKIE: &str = "kehu_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    username: String,
    /// The company's short name, for a username several companies use.
    tenant: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    tenant: String,
    csrf: String,
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Where to go after logging in: `next` when it is a path on this site.
fn after_login(next: &str) -> &str {
    local_path(next)
        .filter(|p| !p.starts_with("/login"))
        .unwrap_or("/today")
}

fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the login form shows again after a refusal.
struct Filled {
    username: String,
    tenant: String,
    next: String,
}

fn login_page(lang: Lang, csrf: String, filled: Filled, error: Option<String>, status: StatusCode) -> Response {
    let cookie = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={csrf}; HttpOnly; SameSite=Lax; Path=/login; Max-Age=7200"
    ))
    .expect("token is hex");
    let mut res = render(
        status,
        &LoginPage {
            c: Chrome::anonymous(lang),
            csrf,
            username: filled.username,
            tenant: filled.tenant,
            next: filled.next,
            error,
        },
    );
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// GET /login: the form, or straight on when a session is already open.
pub async fn login_form(State(state): State<AppState>, parts: Parts, Query(q): Query<LoginQuery>) -> Response {
    if let Ok(Some(caller)) = auth::authenticate(&parts, &state).await
        && caller.csrf.is_some()
    {
        return see_other(after_login(&q.next));
    }
    // Keep a token the browser already holds, so two open login tabs both work.
    let csrf = cookie(&parts.headers, LOGIN_CSRF_COOKIE)
        .filter(|t| is_token(t))
        .map(str::to_string)
        .unwrap_or_else(auth::random_token);
    let filled = Filled {
        username: String::new(),
        tenant: String::new(),
        next: q.next,
    };
    login_page(auth::lang_of(&parts), csrf, filled, None, StatusCode::OK)
}

/// POST /login: checks the double-submit token, then the password (throttled as in the API).
pub async fn login(State(state): State<AppState>, parts: Parts, Form(f): Form<LoginForm>) -> Response {
    let lang = auth::lang_of(&parts);
    let held = cookie(&parts.headers, LOGIN_CSRF_COOKIE).filter(|t| is_token(t));
    let filled = Filled {
        username: f.username.clone(),
        tenant: f.tenant.clone(),
        next: f.next.clone(),
    };
    if !held.is_some_and(|t| same(t, &f.csrf)) {
        let csrf = held.map(str::to_string).unwrap_or_else(auth::random_token);
        return login_page(
            lang,
            csrf,
            filled,
            Some(tr("error.csrf", lang).to_string()),
            StatusCode::FORBIDDEN,
        );
    }
    let client = state.edge.client(&parts.extensions, &parts.headers);
    let tenant = Some(f.tenant.as_str()).filter(|t| !t.trim().is_empty());
    match api_session::log_in(&state, &f.username, &f.password, tenant, &client.addr).await {
        Ok(li) => {
            let mut res = see_other(after_login(&f.next));
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                session_cookie(&li.token, auth::SESSION_TTL.as_secs(), client.https),
            );
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_static("kehu_login_csrf=; HttpOnly; SameSite=Lax; Path=/login; Max-Age=0"),
            );
            res
        }
        Err(e) => {
            let detail = e.detail.get(lang).to_string();
            login_page(lang, f.csrf, filled, Some(detail), e.status)
        }
    }
}

/// POST /logout: ends the session at once and goes to the login page.
pub async fn logout(State(state): State<AppState>, pc: PageCaller, parts: Parts, Form(f): Form<CsrfForm>) -> Response {
    if !csrf_ok(&pc.caller, &f.csrf) {
        return csrf_refused(&pc.c);
    }
    if let Err(e) = api_session::end_session(&state, &parts.headers).await {
        return super::error_page(&pc.c, &e);
    }
    let mut res = see_other("/login");
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie_cleared(state.edge.client(&parts.extensions, &parts.headers).https),
    );
    res
}

/// GET /lang/{zh|en}: remembers the language for a year and goes back to the page.
pub async fn switch_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let tag = match code.as_str() {
        "zh" | "zh-CN" => "zh-CN",
        "en" => "en",
        _ => return super::not_found_page(&headers).into_response(),
    };
    let back = local_referer(&headers)
        .filter(|p| !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/today".to_string());
    let mut res = see_other(&back);
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{LANG_COOKIE}={tag}; Path=/; Max-Age=31536000; SameSite=Lax")).expect("ASCII"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_login_stays_on_this_site() {
        assert_eq!(after_login("/customers/7"), "/customers/7");
        assert_eq!(after_login("//evil.example/x"), "/today");
        assert_eq!(after_login("https://evil.example/"), "/today");
        assert_eq!(after_login(""), "/today");
        assert_eq!(after_login("/login?next=/x"), "/today");
    }
}
