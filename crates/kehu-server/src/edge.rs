//! The HTTP edge every response passes: security and caching headers, problem JSON for the
//! answers the framework gives by itself (405, 413, a malformed query...), and compression.
//! Handlers never need to think about these.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use kehu_domain::{Lang, Text};

use crate::ApiError;
use crate::auth::lang_of_headers;

/// Whether a response already is problem JSON.
fn is_problem(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

fn is_html(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// The problem an error status stands for when no handler said more.
pub fn problem_for_status(status: StatusCode) -> ApiError {
    let (code, detail) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", Text::new("请求格式有误", "The request is malformed")),
        StatusCode::UNAUTHORIZED => return ApiError::unauthorized(),
        StatusCode::FORBIDDEN => ("forbidden", Text::new("无权执行此操作", "Not allowed")),
        StatusCode::NOT_FOUND => ("not_found", Text::new("没有这个接口", "No such endpoint")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            Text::new(
                "此接口不支持该请求方法（见 Allow 头）",
                "This endpoint does not accept that method (see the Allow header)",
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            Text::new(
                "请求内容过大（最多 1 MB）",
                "The request body is too large (at most 1 MB)",
            ),
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", Text::new("网址过长", "The URI is too long")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            Text::new("请求内容须为 application/json", "The body must be application/json"),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", Text::new("请求无效", "The request is invalid")),
        StatusCode::TOO_MANY_REQUESTS => (
            "too_many_requests",
            Text::new("请求过多，请稍后再试", "Too many requests"),
        ),
        s if s.is_server_error() => return ApiError::internal(),
        _ => ("error", Text::new("请求失败", "The request failed")),
    };
    ApiError::new(status, code, detail)
}

/// Makes `res` the problem `e` in `lang`, keeping its status and headers.
fn write_problem(res: &mut Response, e: &ApiError, lang: Lang) {
    let body = serde_json::to_vec(&e.to_json(lang)).unwrap_or_default();
    let h = res.headers_mut();
    h.remove(header::CONTENT_LENGTH);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    *res.body_mut() = axum::body::Body::from(body);
}

/// Bodies larger than this are refused with 413 before a handler reads them.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Every API answer: `nosniff` and `no-store`, and problem JSON for any error the framework
/// answered on its own (a wrong method, a body too large). A handler's error is written here in
/// the language of the request, so neither use cases nor handlers choose it. Pages get their
/// error page instead of an empty 405.
pub async fn headers_and_problems(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let lang: Lang = lang_of_headers(req.uri(), req.headers());
    let mut res = next.run(req).await;
    let status = res.status();
    let failed = status.is_client_error() || status.is_server_error();
    let error = res.extensions_mut().remove::<ApiError>();
    if is_api {
        match error {
            Some(e) if lang != Lang::Zh => write_problem(&mut res, &e, lang),
            Some(_) => {}
            None if failed && !is_problem(&res) => write_problem(&mut res, &problem_for_status(status), lang),
            None => {}
        }
        let h = res.headers_mut();
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if failed && !is_html(&res) {
        let allow = res.headers().get(header::ALLOW).cloned();
        let e = error.unwrap_or_else(|| problem_for_status(status));
        res = crate::web::error_page(&crate::web::Chrome::anonymous(lang), &e);
        if let Some(a) = allow {
            res.headers_mut().insert(header::ALLOW, a);
        }
    }
    res
}

/// How Kehu is reached, set at start (`--public-url`, `--trust-proxy`).
#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    /// Reached over HTTPS (`--public-url https://...`): every session cookie is `Secure`.
    pub https: bool,
    /// Peers (reverse proxies) whose `X-Forwarded-Proto` and `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Who is on the other end of a request, as far as Kehu can trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address (`local` when the server runs without connection info, in tests).
    pub addr: String,
    /// Whether the client reached Kehu over HTTPS.
    pub https: bool,
}

impl EdgeConfig {
    /// The client of a request: its peer address, or, when the peer is a trusted proxy, the
    /// address and scheme that proxy reports.
    pub fn client(&self, ext: &axum::http::Extensions, headers: &axum::http::HeaderMap) -> Client {
        let peer = ext
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = peer.is_some_and(|p| self.trusted_proxies.contains(&p));
        let forwarded = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let addr = match (trusted, forwarded("x-forwarded-for")) {
            (true, Some(a)) if a.parse::<std::net::IpAddr>().is_ok() => a,
            _ => peer.map(|p| p.to_string()).unwrap_or_else(|| "local".to_string()),
        };
        let https =
            self.https || (trusted && forwarded("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")));
        Client { addr, https }
    }
}

/// The session cookie; `Secure` when the client came over HTTPS.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{}",
        crate::auth::SESSION_COOKIE,
        if secure { "; Secure" } else { "" }
    ))
    .expect("cookie is ASCII")
}

/// The cookie that ends the session in the browser.
pub fn session_cookie_cleared(secure: bool) -> HeaderValue {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext_from(ip: &str) -> axum::http::Extensions {
        let mut e = axum::http::Extensions::new();
        e.insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip.parse().unwrap(),
            5000,
        )));
        e
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("9.9.9.9, 203.0.113.7"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let open = EdgeConfig::default();
        assert_eq!(
            open.client(&ext_from("10.0.0.2"), &h),
            Client {
                addr: "10.0.0.2".into(),
                https: false
            }
        );
        let behind = EdgeConfig {
            https: false,
            trusted_proxies: vec!["10.0.0.2".parse().unwrap()],
        };
        assert_eq!(
            behind.client(&ext_from("10.0.0.2"), &h),
            Client {
                addr: "203.0.113.7".into(),
                https: true
            }
        );
        // Another peer sending the same headers is not believed.
        assert!(!behind.client(&ext_from("10.0.0.3"), &h).https);
        let public = EdgeConfig {
            https: true,
            trusted_proxies: vec![],
        };
        assert!(
            public
                .client(&ext_from("10.0.0.3"), &axum::http::HeaderMap::new())
                .https
        );
    }

    #[test]
    fn the_session_cookie_is_secure_over_https() {
        assert!(session_cookie("ab", 60, true).to_str().unwrap().ends_with("; Secure"));
        assert!(!session_cookie("ab", 60, false).to_str().unwrap().contains("Secure"));
        assert!(session_cookie_cleared(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
