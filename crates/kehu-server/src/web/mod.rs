//! The web pages: server-rendered HTML from the askama templates in `templates/`, with one
//! stylesheet and one small script embedded in the binary. Pages call the same `service`
//! functions as the API; form posts need the session's CSRF token, so bearer tokens cannot post.

mod admin;
mod cases;
pub(crate) mod claims;
mod customers;
mod events;
mod ledger;
mod pools;
mod sales;
mod session;
mod snapshots;
mod today;
mod visits;

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kehu_domain::{Lang, Permission, Text};

use crate::auth::{self, Caller};
use crate::i18n::tr;
use crate::{ApiError, AppState, Failure};

const CSS: &str = include_str!("../../assets/kehu.css");
const JS: &str = include_str!("../../assets/kehu.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other("/today") }))
        .route("/today", get(today::page))
        .route("/assets/kehu.css", get(css))
        .route("/assets/kehu.js", get(js))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/lang/{code}", get(session::switch_lang))
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/new", get(customers::new_form))
        .route("/customers/{id}", get(customers::detail))
        .route("/customers/{id}/claims", post(customers::claim))
        .route("/customers/{id}/activities", post(customers::add_activity))
        .route("/claims/{id}/confirm", post(customers::confirm))
        .route("/claims/{id}/cancel", post(customers::cancel))
        .route("/activities/{id}/confirm", post(customers::confirm_follow_up))
        .route("/claims", get(claims::mine))
        .route("/claims/void", get(claims::void))
        .route("/claims/{id}/reassign", post(claims::reassign))
        .route("/pools", get(pools::list))
        .route("/pools/{pool}/claims", post(pools::claim))
        .route("/ledger", get(ledger::list).post(ledger::add))
        .route("/ledger/{id}", get(ledger::entry))
        .route("/ledger/{id}/reverse", post(ledger::reverse))
        .route("/visits", get(visits::list))
        .route("/events", get(events::list).post(events::schedule))
        .route("/events/{id}", get(events::detail))
        .route("/events/{id}/filings", post(events::file))
        .route("/events/{id}/helpers", post(sales::consent))
        .route("/events/{id}/attendance", post(events::check_in))
        .route("/customers/{id}/sales", post(sales::record))
        .route("/sales/{id}/credit", post(sales::credit))
        .route("/cases", get(cases::list).post(cases::open))
        .route("/cases/new", get(cases::new_form))
        .route("/cases/rankings/{workflow}/{ranking}", get(cases::ranking))
        .route("/cases/{id}", get(cases::detail))
        .route("/cases/{id}/for-customer", get(cases::for_customer))
        .route("/cases/{id}/actions/{action}", post(cases::act))
        .route(
            "/cases/{id}/files",
            post(cases::attach).layer(axum::extract::DefaultBodyLimit::max(crate::api::UPLOAD_LIMIT)),
        )
        .route("/customers/{id}/profile", post(customers::update_profile))
        .route("/customers/{id}/snapshots/{snapshot_id}", get(snapshots::show))
        .route("/admin", get(admin::page))
        .route("/admin/units", post(admin::add_unit))
        .route("/admin/units/{id}", post(admin::edit_unit))
        .route("/admin/staff", post(admin::add_staff))
        .route("/admin/staff/{id}", post(admin::edit_staff))
        .route("/admin/staff/{id}/active", post(admin::set_active))
        .route("/admin/staff/{id}/password", post(admin::reset_password))
}

/// The 404 page for paths nobody serves (called from `api::fallback`).
pub fn not_found_page(headers: &HeaderMap) -> impl IntoResponse {
    let c = Chrome::anonymous(lang_from_headers(headers));
    render(
        StatusCode::NOT_FOUND,
        &ErrorPage {
            status: 404,
            title: tr("error.not_found", c.lang).to_string(),
            detail: tr("error.not_found_hint", c.lang).to_string(),
            rule: None,
            c,
        },
    )
}

// ---- Assets ----------------------------------------------------------------------------------

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// A short hash of the assets, appended to their URLs so a new build is fetched at once even
/// though browsers may cache the files for an hour.
fn asset_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| auth::hash_token(&format!("{CSS}\u{0}{JS}"))[..10].to_string())
}

// ---- The frame around every page -------------------------------------------------------------

/// What the top bar shows: the product, the tenant, the navigation and the staff member.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    pub user: Option<UserBar>,
    /// The active navigation entry: `list`, `new`, `claims`, `void`, `pools`, `ledger`, `visits`,
    /// `events`, `cases`, `org`, `today` or empty.
    pub nav: &'static str,
    pub css: String,
    pub js: String,
}

#[derive(Debug, Clone)]
pub struct UserBar {
    pub tenant: String,
    pub staff_name: String,
    /// The session's CSRF token for the logout form; `None` for a bearer token.
    pub csrf: Option<String>,
    pub may_create: bool,
    /// Whether the void cards page is in the navigation (roles that may reassign, R5.3).
    pub may_reassign: bool,
    /// Whether the pools page is in the navigation: the policy has a pool the caller is a
    /// member of (an admin is a member of every pool, R11.8).
    pub may_pools: bool,
    /// Whether the visits page is in the navigation: the policy has a visit cadence (R1.6).
    pub may_visits: bool,
    /// Whether the joint-events page is in the navigation: the policy has joint events (R11.3).
    pub may_events: bool,
    /// Whether the cases page is in the navigation: the policy declares workflows.
    pub may_cases: bool,
    /// Whether the organisation page is in the navigation: the caller manages units or staff.
    pub may_org: bool,
    /// How many things wait for the caller (the Today entry's count; "99+" beyond 99), and
    /// whether one of them is overdue.
    pub waiting: Option<String>,
    pub waiting_overdue: bool,
}

impl UserBar {
    /// The first character of the name, for the avatar circle.
    pub fn initial(&self) -> String {
        self.staff_name.chars().next().map(String::from).unwrap_or_default()
    }
}

impl Chrome {
    pub fn anonymous(lang: Lang) -> Chrome {
        let v = asset_version();
        Chrome {
            lang,
            user: None,
            nav: "",
            css: format!("/assets/kehu.css?v={v}"),
            js: format!("/assets/kehu.js?v={v}"),
        }
    }

    /// The chrome of a page; `count` false leaves the menu's count to the page (Today reads
    /// the inbox itself and counts from it, so it is not gathered twice).
    async fn load(state: &AppState, caller: &Caller, count: bool) -> Result<Chrome, ApiError> {
        let tenant = kehu_store::tenants::get(&state.db, caller.tenant_id).await?;
        let policy = state.policy(caller.tenant_id).await?;
        let inbox = if count {
            crate::inbox::of(state, caller, None, today::MENU_LIMIT).await?
        } else {
            crate::inbox::Inbox::default()
        };
        Ok(Chrome {
            user: Some(UserBar {
                tenant: tenant.name,
                staff_name: caller.staff.display_name.clone(),
                csrf: caller.csrf.clone(),
                may_create: caller.may(&policy, Permission::CustomersCreate),
                may_reassign: policy
                    .claims
                    .reassign
                    .as_ref()
                    .is_some_and(|a| kehu_domain::Policy::holds_any(&caller.roles, &a.roles)),
                may_pools: policy
                    .pools
                    .iter()
                    .any(|p| kehu_domain::Policy::holds_any(&caller.roles, &p.members)),
                may_visits: policy.cadence.is_some(),
                may_events: policy.events.is_some() && caller.may(&policy, Permission::CustomersRead),
                may_cases: !policy.workflows.is_empty(),
                may_org: caller.may(&policy, Permission::UnitsManage) || caller.may(&policy, Permission::StaffManage),
                waiting: today::menu_count(&inbox),
                waiting_overdue: inbox.overdue() > 0,
            }),
            ..Chrome::anonymous(caller.lang)
        })
    }

    /// The interface string `key` in the page's language.
    pub fn t(&self, key: &'static str) -> &'static str {
        tr(key, self.lang)
    }

    /// The session's CSRF token for the forms on the page (empty for a bearer token, whose
    /// posts are refused anyway).
    pub fn csrf(&self) -> &str {
        self.user.as_ref().and_then(|u| u.csrf.as_deref()).unwrap_or("")
    }

    /// The path segment of the language switch: the other language.
    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }

    pub fn other_lang_tag(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh-CN",
        }
    }
}

/// A page request by a logged-in staff member; without a valid session the browser is sent
/// to the login page, which brings it back here afterwards.
pub struct PageCaller {
    pub caller: Caller,
    pub c: Chrome,
}

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<PageCaller, Response> {
        let lang = auth::lang_of(parts);
        let caller = match auth::authenticate(parts, state).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(to_login(parts)),
            Err(e) => return Err(error_page(&Chrome::anonymous(lang), &e)),
        };
        let c = Chrome::load(state, &caller, parts.uri.path() != "/today")
            .await
            .map_err(|e| error_page(&Chrome::anonymous(lang), &e))?;
        Ok(PageCaller { caller, c })
    }
}

/// 303 to the login page, with the page to come back to: the page itself for a GET, the page
/// the form was on for a post.
fn to_login(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET || parts.method == Method::HEAD {
        parts.uri.path_and_query().map(|p| p.as_str().to_string())
    } else {
        local_referer(&parts.headers)
    };
    match back.filter(|b| b != "/") {
        Some(b) => see_other(&format!("/login?next={}", urlencode(&b))),
        None => see_other("/login"),
    }
}

// ---- Rendering -------------------------------------------------------------------------------

/// Renders a template as a page with the headers every page carries.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut res = (status, Html(body)).into_response();
            let h = res.headers_mut();
            // Pages show customer data: never store them in shared or disk caches.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub c: Chrome,
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub rule: Option<String>,
}

/// An error as a page: the status, the reason in the page's language and the rule if one refused.
pub fn error_page(c: &Chrome, e: &ApiError) -> Response {
    problem_page(c, e.status, &e.detail, e.rule.clone())
}

/// The error page of a use case's failure.
pub fn failure_page(c: &Chrome, f: &Failure) -> Response {
    problem_page(c, crate::error::status_of(f.kind), &f.detail, f.rule.clone())
}

fn problem_page(c: &Chrome, status: StatusCode, detail: &Text, rule: Option<String>) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => tr("error.not_found", c.lang),
        StatusCode::FORBIDDEN => tr("error.forbidden", c.lang),
        _ => tr("error.title", c.lang),
    };
    render(
        status,
        &ErrorPage {
            c: c.clone(),
            status: status.as_u16(),
            title: title.to_string(),
            detail: detail.get(c.lang).to_string(),
            rule,
        },
    )
}

/// A page that ends a handler early (an error, a refusal); boxed, as a response is large.
pub struct Early(Box<Response>);

impl From<Response> for Early {
    fn from(r: Response) -> Early {
        Early(Box::new(r))
    }
}

impl IntoResponse for Early {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What a page handler answers: the page, or an early page such as an error.
pub type PageResult = Result<Response, Early>;

/// Turns a service error into the error page, so handlers can use `?`.
pub trait OrPage<T> {
    fn or_page(self, c: &Chrome) -> Result<T, Early>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn or_page(self, c: &Chrome) -> Result<T, Early> {
        self.map_err(|e| error_page(c, &e.into()).into())
    }
}

// ---- The policy in words ---------------------------------------------------------------------

/// One section of the policy explanation (`Sales credit`, `Complaints`, by its English title)
/// as (rule, sentence) in the page's language, without internal IDs: what a page says about
/// the rules comes from the tenant's policy, never from another preset's wording.
pub fn policy_section(policy: &kehu_domain::Policy, title_en: &str, lang: Lang) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for l in kehu_domain::policy::explain_plain(policy) {
        if l.depth == 0 {
            inside = l.text.en == title_en;
        } else if inside {
            out.push((
                l.rule.map(|r| r.to_string()).unwrap_or_default(),
                l.text.get(lang).to_string(),
            ));
        }
    }
    out
}

// ---- CSRF ------------------------------------------------------------------------------------

/// Whether a posted `csrf` field matches the session's token. Bearer-token callers have none,
/// so they can never post a form.
pub fn csrf_ok(caller: &Caller, posted: &str) -> bool {
    caller
        .csrf
        .as_deref()
        .is_some_and(|t| !posted.is_empty() && same(t, posted))
}

/// The 403 page for a form post without the right token.
pub fn csrf_refused(c: &Chrome) -> Response {
    render(
        StatusCode::FORBIDDEN,
        &ErrorPage {
            c: c.clone(),
            status: 403,
            title: tr("error.forbidden", c.lang).to_string(),
            detail: tr("error.csrf", c.lang).to_string(),
            rule: None,
        },
    )
}

/// Compares secrets in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- Small helpers ---------------------------------------------------------------------------

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A 303 to a path on this site; characters a header cannot carry as they are (such as the
/// Chinese of a search) are percent-encoded.
pub fn see_other(path: &str) -> Response {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Redirect::to(&out).into_response()
}

/// A path on this site (`/customers?q=x`), never another site (`//evil`, `/\evil`, `https:`).
pub fn local_path(s: &str) -> Option<&str> {
    let ok = s.starts_with('/')
        && !s.starts_with("//")
        && !s.starts_with("/\\")
        && !s.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(s)
}

/// The Referer's path when it points to this site.
pub fn local_referer(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    if let Some(p) = local_path(referer) {
        return Some(p.to_string());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let (h, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if !h.eq_ignore_ascii_case(host) {
        return None;
    }
    local_path(path).map(str::to_string)
}

pub use crate::auth::cookie;

/// The language for a page without a request (the 404 page): cookie, then `Accept-Language`.
fn lang_from_headers(headers: &HeaderMap) -> Lang {
    auth::lang_of_headers(&axum::http::Uri::from_static("/"), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/customers?q=1"), Some("/customers?q=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "customers",
            "",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_referer_counts_only_from_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("kehu.test:8080"));
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://kehu.test:8080/customers/3?done=claim"),
        );
        assert_eq!(local_referer(&h).as_deref(), Some("/customers/3?done=claim"));
        h.insert(header::REFERER, HeaderValue::from_static("http://other.test/customers"));
        assert_eq!(local_referer(&h), None);
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://kehu.test:8080//evil.example"),
        );
        assert_eq!(local_referer(&h), None);
    }

    #[test]
    fn redirects_carry_only_ascii() {
        let res = see_other("/customers?q=张三");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/customers?q=%E5%BC%A0%E4%B8%89");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(urlencode("张三 a&b=c"), "%E5%BC%A0%E4%B8%89%20a%26b%3Dc");
        assert_eq!(urlencode("/customers/1"), "/customers/1");
    }

    #[test]
    fn secrets_compare_only_when_equal() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
