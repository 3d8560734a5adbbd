//! The web pages, driven as a browser would: form posts with cookies, redirects, HTML answers.
//! The claim pages prove R5.1 (pending until a team leader confirms) and R5.5 (the ownership
//! sentence) end to end.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::json;

use crate::both;
use crate::support::{PASSWORD, Session, TestApp, advance, at};

/// A page's status, headers and HTML.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) html: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the cookie `name` this answer sets, if it sets one.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The value of the first hidden `csrf` field on the page.
    pub(crate) fn csrf(&self) -> String {
        let at = self.html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
        self.html[at..].split('"').next().unwrap().to_string()
    }

    pub(crate) fn has(&self, s: &str) -> bool {
        self.html.contains(s)
    }

    pub(crate) fn find_pos(&self, s: &str) -> usize {
        self.html.find(s).unwrap_or(usize::MAX)
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
    extra: &[(header::HeaderName, &str)],
) -> Page {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    for (k, v) in extra {
        b = b.header(k, *v);
    }
    let req = match form {
        Some(fields) => {
            let body = fields
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap()
        }
        None => b.body(Body::empty()).unwrap(),
    };
    let res = app.raw(req).await;
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024).await.unwrap();
    Page {
        status,
        headers,
        html: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub(crate) async fn get(app: &TestApp, path: &str, s: Option<&Session>) -> Page {
    send(app, Method::GET, path, s.map(|s| s.cookie.as_str()), None, &[]).await
}

pub(crate) async fn post(app: &TestApp, path: &str, s: &Session, fields: &[(&str, &str)]) -> Page {
    send(app, Method::POST, path, Some(&s.cookie), Some(fields), &[]).await
}

/// A consultant's customer with a claim confirmed by a team leader: owned under R5.5.
async fn owned_customer(app: &TestApp, wang: &Session, leader: &Session, name: &str, phone: &str) -> i64 {
    let id = app.customer(wang, name, phone).await;
    let (_, claim) = app
        .post(&format!("/api/v1/customers/{id}/claims"), wang, json!({}))
        .await;
    let (status, body) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), leader, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

both!(
    login_form_checks_its_csrf_cookie_then_the_password,
    |app: TestApp| async move {
        let form = get(&app, "/login?next=/customers/new", None).await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form
            .set_cookie("kehu_login_csrf")
            .expect("the login page sets its CSRF cookie");
        assert_eq!(form.csrf(), token, "the hidden field carries the cookie's token");
        assert!(form.has(r#"<html lang="zh-CN">"#) && form.has("用户名"));
        let cookie = format!("kehu_login_csrf={token}");

        // Without the cookie's token the post is refused, whatever the password.
        let fields = [
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", "forged"),
            ("next", "/customers/new"),
        ];
        let refused = send(&app, Method::POST, "/login", Some(&cookie), Some(&fields), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.set_cookie("kehu_session").is_none());
        assert!(refused.has("页面已过期"));

        let fields = [
            ("username", "admin"),
            ("password", "wrong-password"),
            ("csrf", token.as_str()),
            ("next", "/customers/new"),
        ];
        let wrong = send(&app, Method::POST, "/login", Some(&cookie), Some(&fields), &[]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.has("用户名或密码不正确"), "{}", wrong.html);
        assert!(wrong.has(r#"value="admin""#), "the username is kept");

        let fields = [
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", token.as_str()),
            ("next", "/customers/new"),
        ];
        let ok = send(&app, Method::POST, "/login", Some(&cookie), Some(&fields), &[]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        assert_eq!(ok.location(), "/customers/new");
        let session = ok.set_cookie("kehu_session").expect("a session cookie");
        let page = send(
            &app,
            Method::GET,
            "/customers/new",
            Some(&format!("kehu_session={session}")),
            None,
            &[],
        )
        .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.has("登记新客户") && page.has("管理员"));

        // `next` never leads off the site.
        let fields = [
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", token.as_str()),
            ("next", "//evil.example/"),
        ];
        let ok = send(&app, Method::POST, "/login", Some(&cookie), Some(&fields), &[]).await;
        assert_eq!(
            (ok.status, ok.location()),
            (StatusCode::SEE_OTHER, "/today"),
            "home, not elsewhere"
        );
    }
);

both!(
    pages_send_a_logged_out_browser_to_the_login_page,
    |app: TestApp| async move {
        for (path, next) in [
            ("/customers", "/customers"),
            ("/customers/new", "/customers/new"),
            ("/customers/7", "/customers/7"),
        ] {
            let p = get(&app, path, None).await;
            assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(p.location(), format!("/login?next={next}"));
        }
        let p = get(&app, "/customers?q=张三", None).await;
        assert_eq!(p.location(), "/login?next=/customers%3Fq%3D%E5%BC%A0%E4%B8%89");
        let p = get(&app, "/", None).await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, "/today"),
            "Today is home"
        );

        // Logging out ends the session: the same cookie no longer opens a page.
        let s = app.login("admin").await;
        let p = post(&app, "/logout", &s, &[("csrf", s.csrf.as_str())]).await;
        assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/login"));
        let p = get(&app, "/customers", Some(&s)).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
    }
);

both!(customer_list_search_finds_a_chinese_name, |app: TestApp| async move {
    let zhang = app.customer(&app.admin, "张三", "13812345678").await;
    app.customer(&app.admin, "李四", "13987654321").await;
    let p = get(&app, &format!("/customers?q={}", encode("张三")), Some(&app.admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.has(&format!(r#"<a href="/customers/{zhang}">张三</a>"#)),
        "{}",
        p.html
    );
    assert!(!p.has("李四"));
    assert!(p.has("暂无归属"), "no owner yet");
    let all = get(&app, "/customers", Some(&app.admin)).await;
    assert!(all.has("张三") && all.has("李四"));
    let none = get(&app, &format!("/customers?q={}", encode("王五")), Some(&app.admin)).await;
    assert!(none.has("没有找到客户"), "an empty state");
});

both!(
    new_customer_form_warns_of_a_duplicate_and_names_its_owner,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let li = app.staff("liqiang", "李强", &["consultant"]).await;
        let zhang = owned_customer(&app, &wang, &leader, "张三", "13812345678").await;

        let form = get(&app, "/customers/new", Some(&li)).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.has("data-dup-check"), "the form is wired for the live check");
        let fields = [
            ("csrf", li.csrf.as_str()),
            ("kind", "person"),
            ("name", "张三丰"),
            ("phones", "+86 138-1234-5678\n13900000000"),
        ];
        let p = post(&app, "/customers", &li, &fields).await;
        assert_eq!(p.status, StatusCode::CONFLICT);
        assert!(p.has("该客户已经登记过"), "{}", p.html);
        // Wang's customer is not Li's to open (a consultant sees her own and unowned customers):
        // the warning names it and its owner, without a link.
        assert!(!p.has(&format!(r#"href="/customers/{zhang}""#)), "{}", p.html);
        assert!(p.has(r#"<span class="dup-name">张三</span>"#), "{}", p.html);
        assert!(p.has("<strong>王芳</strong>"), "the owner is named");
        assert!(p.has("电话相同"));
        assert!(p.has(r#"value="张三丰""#), "the input is kept");

        let fields = [
            ("csrf", li.csrf.as_str()),
            ("kind", "person"),
            ("name", "赵六"),
            ("phones", "13700001111"),
        ];
        let p = post(&app, "/customers", &li, &fields).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        assert!(
            p.location().starts_with("/customers/") && p.location().ends_with("?done=created"),
            "{}",
            p.location()
        );
        let page = get(&app, p.location(), Some(&li)).await;
        assert!(page.has("赵六") && page.has("客户已登记"));
        // The number is shown grouped, here and in the list (found by its middle digits).
        assert!(page.has("137 0000 1111"), "{}", page.html);
        let list = get(&app, "/customers?q=0000", Some(&li)).await;
        assert!(list.has("137 0000 1111") && list.has("赵六"), "{}", list.html);

        let fields = [
            ("csrf", li.csrf.as_str()),
            ("kind", "person"),
            ("name", "  "),
            ("phones", ""),
        ];
        let p = post(&app, "/customers", &li, &fields).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(p.has("请填写客户名称") && p.has("is-invalid"));
    }
);

both!(
    r5_8_the_new_customer_form_offers_the_policys_sources,
    |app: TestApp| async move {
        let li = app.staff("liqiang", "李强", &["consultant"]).await;
        let form = get(&app, "/customers/new", Some(&li)).await;
        assert!(
            form.has(r#"<select id="source" name="source" data-test="source""#),
            "{}",
            form.html
        );
        assert!(form.has(r#"<option value="walk_in">来访</option>"#), "{}", form.html);
        assert!(
            form.has(r#"<option value="inbound_call">来电</option>"#),
            "{}",
            form.html
        );
        // A visitor picked from the list is stored by the source's id and shown by its name.
        let fields = [
            ("csrf", li.csrf.as_str()),
            ("kind", "person"),
            ("name", "冯先生"),
            ("phones", "13700002222"),
            ("source", "walk_in"),
        ];
        let p = post(&app, "/customers", &li, &fields).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
        let id = p
            .location()
            .trim_start_matches("/customers/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let (_, c) = app.get(&format!("/api/v1/customers/{id}"), &li).await;
        assert_eq!(c["source"], "walk_in");
        let page = get(&app, p.location(), Some(&li)).await;
        assert!(page.has("<dd>来访</dd>"), "{}", page.html);
        // A source the policy does not list is refused at the field, and the form is kept.
        let fields = [
            ("csrf", li.csrf.as_str()),
            ("kind", "person"),
            ("name", "卫女士"),
            ("phones", "13700003333"),
            ("source", "电视广告"),
        ];
        let p = post(&app, "/customers", &li, &fields).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
        assert!(
            p.has("来源须为") && p.has(r#"value="卫女士""#) && p.has(r#"aria-invalid="true" autofocus>"#),
            "{}",
            p.html
        );
    }
);

both!(
    detail_page_shows_the_r5_5_ownership_sentence,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let id = owned_customer(&app, &wang, &leader, "张三", "13812345678").await;
        let (_, o) = app.get(&format!("/api/v1/customers/{id}/ownership"), &wang).await;
        let sentence = o["decision"]["text"].as_str().unwrap();
        assert!(sentence.starts_with("归王芳所有"), "{o}");
        let p = get(&app, &format!("/customers/{id}"), Some(&wang)).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.has(sentence), "{}", p.html);
        assert!(p.has(r#"<span class="badge badge-rule">R5.5</span>"#));
        assert!(p.has("badge-valid"), "the claim's status badge");
        assert!(
            !p.has(r#"id="history""#),
            "consultants have no history.read in the preset"
        );
        assert!(!p.has("登记为我的客户"), "the holder cannot claim again");
        let lp = get(&app, &format!("/customers/{id}"), Some(&leader)).await;
        assert!(
            lp.has(r#"id="history""#) && lp.has("确认登记") && lp.has("周组长"),
            "the history names the event and the actor"
        );
        let missing = get(&app, "/customers/999999", Some(&wang)).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
);

both!(
    r5_1_claim_and_confirm_through_the_forms_change_the_owner,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let id = app.customer(&wang, "张三", "13812345678").await;
        let page = format!("/customers/{id}");

        let before = get(&app, &page, Some(&wang)).await;
        assert!(before.has("登记为我的客户"));
        let p = post(
            &app,
            &format!("/customers/{id}/claims"),
            &wang,
            &[("csrf", wang.csrf.as_str())],
        )
        .await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, format!("/customers/{id}?done=claim").as_str())
        );

        let pending = get(&app, &page, Some(&wang)).await;
        assert!(
            pending.has("badge-pending") && pending.has("暂无归属"),
            "{}",
            pending.html
        );
        assert!(!pending.has("/confirm\""), "a consultant gets no confirm button");
        // A second claim by the same holder is refused and explained on the page.
        let again = post(
            &app,
            &format!("/customers/{id}/claims"),
            &wang,
            &[("csrf", wang.csrf.as_str())],
        )
        .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(again.has("alert-error") && again.has("不能重复登记"));

        let (_, claims) = app.get(&format!("/api/v1/customers/{id}/claims"), &wang).await;
        let claim = claims["items"][0]["id"].as_i64().unwrap();
        // The consultant may not confirm (R5.1): the refusal shows the rule.
        let refused = post(
            &app,
            &format!("/claims/{claim}/confirm"),
            &wang,
            &[("csrf", wang.csrf.as_str())],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.has(r#"<span class="badge badge-rule">R5.1</span>"#),
            "{}",
            refused.html
        );

        let leader_view = get(&app, &page, Some(&leader)).await;
        assert!(leader_view.has(&format!(r#"action="/claims/{claim}/confirm""#)));
        let p = post(
            &app,
            &format!("/claims/{claim}/confirm"),
            &leader,
            &[("csrf", leader.csrf.as_str())],
        )
        .await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, format!("/customers/{id}?done=confirm").as_str())
        );

        let after = get(&app, &page, Some(&wang)).await;
        assert!(after.has("归王芳所有") && after.has("周组长确认生效"), "{}", after.html);
        assert!(after.has("badge-valid") && !after.has("badge-pending"));

        let p = post(
            &app,
            &format!("/customers/{id}/activities"),
            &wang,
            &[
                ("csrf", wang.csrf.as_str()),
                ("channel", "visit"),
                ("note", "看了 SUV <b>"),
            ],
        )
        .await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, format!("/customers/{id}?done=activity").as_str())
        );
        let with_note = get(&app, &page, Some(&wang)).await;
        assert!(
            with_note.has("看了 SUV &#60;b&#62;") || with_note.has("看了 SUV &lt;b&gt;"),
            "the note is escaped"
        );
        assert!(with_note.has("记录跟进"));
        let bad = post(
            &app,
            &format!("/customers/{id}/activities"),
            &wang,
            &[("csrf", wang.csrf.as_str()), ("channel", "pigeon"), ("note", "keep me")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.has("keep me"), "the note is kept after an error");
    }
);

both!(
    form_posts_without_the_session_csrf_token_are_refused,
    |app: TestApp| async move {
        let id = app.customer(&app.admin, "张三", "13812345678").await;
        let path = format!("/customers/{id}/claims");
        for token in ["", "forged"] {
            let p = post(&app, &path, &app.admin, &[("csrf", token)]).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "csrf {token:?}");
            assert!(p.has("页面已过期，请刷新后重试"));
        }
        // A bearer token has no CSRF token, so it can never post a form.
        let (_, t) = app.post("/api/v1/tokens", &app.admin, json!({"name": "script"})).await;
        let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
        let p = send(
            &app,
            Method::POST,
            &path,
            None,
            Some(&[("csrf", "")]),
            &[(header::AUTHORIZATION, bearer.as_str())],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let p = post(
            &app,
            "/customers",
            &app.admin,
            &[("csrf", "forged"), ("kind", "person"), ("name", "王五")],
        )
        .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let (_, claims) = app.get(&format!("/api/v1/customers/{id}/claims"), &app.admin).await;
        assert_eq!(claims["items"].as_array().unwrap().len(), 0, "nothing was registered");
        let (_, list) = app
            .get(&format!("/api/v1/customers?q={}", encode("王五")), &app.admin)
            .await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0);
    }
);

both!(the_language_switch_shows_english_labels, |app: TestApp| async move {
    let id = app.customer(&app.admin, "张三", "13812345678").await;
    let p = send(
        &app,
        Method::GET,
        "/lang/en",
        Some(&app.admin.cookie),
        None,
        &[
            (header::HOST, "kehu.test"),
            (header::REFERER, "http://kehu.test/customers?q=x"),
        ],
    )
    .await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/customers?q=x"));
    assert_eq!(p.set_cookie("kehu_lang").as_deref(), Some("en"));
    let elsewhere = send(
        &app,
        Method::GET,
        "/lang/zh",
        None,
        None,
        &[(header::REFERER, "https://evil.example/")],
    )
    .await;
    assert_eq!(elsewhere.location(), "/today");

    let cookie = format!("{}; kehu_lang=en", app.admin.cookie);
    let list = send(&app, Method::GET, "/customers", Some(&cookie), None, &[]).await;
    assert!(list.has(r#"<html lang="en">"#));
    for label in ["Customers", "New customer", "Log out", "Registered", "No owner", "中文"] {
        assert!(list.has(label), "{label} missing");
    }
    assert!(!list.has("客户列表"));
    let detail = send(&app, Method::GET, &format!("/customers/{id}"), Some(&cookie), None, &[]).await;
    assert!(detail.has("Ownership") && detail.has("Claim for me") && detail.has("Follow-ups"));
    assert!(
        detail.has("No owner: there is no valid claim (R5.5)"),
        "{}",
        detail.html
    );
});

both!(unknown_pages_and_assets, |app: TestApp| async move {
    let p = send(
        &app,
        Method::GET,
        "/no/such/page",
        None,
        None,
        &[(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.has("Page not found") && p.has(r#"href="/customers""#));
    let p = send(
        &app,
        Method::GET,
        "/no/such/page",
        Some("kehu_lang=zh-CN"),
        None,
        &[(header::ACCEPT_LANGUAGE, "en")],
    )
    .await;
    assert!(p.has("页面不存在"));
    for (path, ty) in [
        ("/assets/kehu.css", "text/css; charset=utf-8"),
        ("/assets/kehu.js", "text/javascript; charset=utf-8"),
    ] {
        let a = get(&app, path, None).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers[header::CONTENT_TYPE], ty);
        assert_eq!(a.headers[header::CACHE_CONTROL], "public, max-age=3600");
    }
});

// ---- Claims, follow-up confirmation and the ledger (R5.2, R5.3, R5.6, R5.17, R6.1) ----------

async fn claim_status(app: &TestApp, id: i64) -> String {
    let (_, c) = app.get(&format!("/api/v1/claims/{id}"), &app.admin).await;
    c["status"].as_str().unwrap_or_default().to_string()
}

/// The one claim of a customer, by the API.
async fn claim_of(app: &TestApp, s: &Session, customer: i64) -> i64 {
    let (_, claims) = app.get(&format!("/api/v1/customers/{customer}/claims"), s).await;
    claims["items"][0]["id"].as_i64().unwrap()
}

fn with_lang(s: &Session, lang: &str) -> String {
    format!("{}; kehu_lang={lang}", s.cookie)
}

both!(
    virtual r5_2_my_cards_show_time_left_and_r5_3_a_leader_reassigns_a_void_card_on_the_page,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let liu = app.staff("liuyang", "刘洋", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let other = app.staff("leader2", "钱组长", &["team_leader"]).await;
        let customer = owned_customer(&app, &wang, &leader, "孙先生", "13900000001").await;
        let card = claim_of(&app, &wang, customer).await;

        // R5.2: the first follow-up is due 3 days after the signature; the clock runs on.
        let mine = get(&app, "/claims", Some(&wang)).await;
        assert_eq!(mine.status, StatusCode::OK);
        assert!(mine.has(&format!(r#"<a href="/customers/{customer}#claims">孙先生</a>"#)), "{}", mine.html);
        assert!(mine.has("首次跟进") && mine.has(r#"<span class="badge badge-rule">R5.2</span>"#));
        assert!(mine.has(r#"class="due due-ok" data-test="time-left""#) && mine.has("剩 2 天 23 小时"));
        assert!(mine.has(r#"href="/claims""#) && mine.has(r#"href="/ledger""#));
        assert!(!mine.has(r#"href="/claims/void""#), "consultants may not reassign");
        assert!(!mine.has(r#"name="staff_id""#), "consultants see only their own cards");
        // The page states the policy's own follow-up rules, not a fixed text.
        assert!(mine.has("生效后 3 天内须首次跟进，否则登记作废") && mine.has("R5.4"), "{}", mine.html);
        let en = send(&app, Method::GET, "/claims", Some(&with_lang(&wang, "en")), None, &[]).await;
        assert!(en.has("My claims") && en.has("First follow-up") && en.has("2 days 23 hours left"), "{}", en.html);
        assert!(en.has("The first follow-up is due within 3 days of taking effect"), "{}", en.html);

        // Under a day left, the line is a warning.
        advance(&app, 71 * 3600).await;
        let soon = get(&app, "/claims", Some(&wang)).await;
        assert!(soon.has("due due-warn") && soon.has("剩 59 分钟"), "{}", soon.html);

        // Past the limit the card is void: it moves to the ended cards with its rule.
        advance(&app, 2 * 3600).await;
        assert_eq!(claim_status(&app, card).await, "void");
        let ended = get(&app, "/claims", Some(&wang)).await;
        assert!(ended.has("没有进行中的登记") && ended.has("badge-void") && ended.has("已作废"));

        // R5.3: only roles that may reassign see the void cards.
        assert_eq!(get(&app, "/claims/void", Some(&wang)).await.status, StatusCode::FORBIDDEN);
        let void = get(&app, "/claims/void", Some(&leader)).await;
        assert_eq!(void.status, StatusCode::OK);
        assert!(void.has(r#"href="/claims/void""#), "the nav shows the page to leaders");
        let action = format!(r#"action="/claims/{card}/reassign""#);
        assert!(void.has("孙先生") && void.has(&action), "{}", void.html);
        assert!(
            void.has(&format!(r#"<option value="{}">刘洋</option>"#, liu.staff_id)),
            "consultants to choose from"
        );
        assert!(
            !void.has(&format!(r#"<option value="{}">王芳</option>"#, wang.staff_id)),
            "not the former holder"
        );

        let path = format!("/claims/{card}/reassign");
        let liu_id = liu.staff_id.to_string();
        // Not the signer: refused with the rule, nothing changes.
        let refused = post(&app, &path, &other, &[("csrf", other.csrf.as_str()), ("staff_id", liu_id.as_str())]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.has("alert-error") && refused.has(r#"<span class="badge badge-rule">R5.3</span>"#), "{}", refused.html);
        let en = send(
            &app,
            Method::POST,
            &path,
            Some(&with_lang(&other, "en")),
            Some(&[("csrf", other.csrf.as_str()), ("staff_id", "nobody")]),
            &[],
        )
        .await;
        assert_eq!(en.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(en.has("No such active staff member") && en.has("Void claims"), "{}", en.html);
        let forged = post(&app, &path, &leader, &[("csrf", "forged"), ("staff_id", liu_id.as_str())]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let (_, still) = app.get("/api/v1/claims?view=void_unassigned", &leader).await;
        assert_eq!(still["items"].as_array().unwrap().len(), 1, "nothing was reassigned");

        let ok = post(&app, &path, &leader, &[("csrf", leader.csrf.as_str()), ("staff_id", liu_id.as_str())]).await;
        assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/claims/void?done=reassign"));
        let after = get(&app, ok.location(), Some(&leader)).await;
        assert!(after.has("登记已转交") && !after.has(&action));
        // The new holder has the card under the same rules: 3 days to the first follow-up.
        let theirs = get(&app, "/claims", Some(&liu)).await;
        assert!(theirs.has("孙先生") && theirs.has("剩 2 天 23 小时"), "{}", theirs.html);

        // A leader may look at a consultant's cards; a consultant may not.
        let chosen = get(&app, &format!("/claims?staff_id={}", liu.staff_id), Some(&leader)).await;
        assert!(chosen.has("刘洋的登记") && chosen.has("孙先生"), "{}", chosen.html);
        let refused = get(&app, &format!("/claims?staff_id={}", liu.staff_id), Some(&wang)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
);

both!(
    virtual r5_2_a_leader_confirms_a_follow_up_and_r5_6_cancels_a_card_with_a_reason,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let customer = owned_customer(&app, &wang, &leader, "孙先生", "13900000001").await;
        let card = claim_of(&app, &wang, customer).await;
        let page = format!("/customers/{customer}");
        let cancel = format!("/claims/{card}/cancel");

        let p = get(&app, &page, Some(&wang)).await;
        assert!(p.has(r#"data-test="time-left""#) && p.has("剩 2 天 23 小时"), "{}", p.html);
        assert!(!p.has(&format!(r#"action="{cancel}""#)), "consultants may not cancel (R5.6)");
        assert!(get(&app, &page, Some(&leader)).await.has(&format!(r#"action="{cancel}""#)));

        // R5.2: the second follow-up counts once a team leader confirms it.
        for channel in ["call", "visit"] {
            let (status, a) = app
                .post(&format!("/api/v1/customers/{customer}/activities"), &wang, json!({ "channel": channel }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{a}");
            advance(&app, 3600).await;
        }
        let (_, acts) = app.get(&format!("/api/v1/customers/{customer}/activities"), &wang).await;
        let second = acts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["channel"] == "visit")
            .expect("the second follow-up")["id"]
            .as_i64()
            .unwrap();
        let confirm = format!("/activities/{second}/confirm");
        let p = get(&app, &page, Some(&wang)).await;
        assert!(p.has("待销售组长确认") && !p.has(&format!(r#"action="{confirm}""#)), "{}", p.html);
        let lp = get(&app, &page, Some(&leader)).await;
        assert!(lp.has(&format!(r#"action="{confirm}""#)) && lp.has("第 2 次跟进待销售组长确认"), "{}", lp.html);

        let refused = post(&app, &confirm, &wang, &[("csrf", wang.csrf.as_str())]).await;
        assert!(refused.status.is_client_error() && refused.has("alert-error"), "{}", refused.html);
        let ok = post(&app, &confirm, &leader, &[("csrf", leader.csrf.as_str())]).await;
        assert_eq!(
            (ok.status, ok.location()),
            (StatusCode::SEE_OTHER, format!("/customers/{customer}?done=confirm_follow_up#activities").as_str())
        );
        let p = get(&app, &format!("{page}?done=confirm_follow_up"), Some(&wang)).await;
        assert!(p.has("跟进已确认") && p.has(r#"data-test="follow-up-confirmed""#) && p.has("已确认： 周组长"), "{}", p.html);
        let again = post(&app, &confirm, &leader, &[("csrf", leader.csrf.as_str())]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "a follow-up is confirmed once");

        // R5.6: a reason too short is refused; the card stands and the reason is kept.
        let short = post(&app, &cancel, &leader, &[("csrf", leader.csrf.as_str()), ("reason", "不要")]).await;
        assert!(short.status.is_client_error(), "{}", short.status);
        assert!(short.has("alert-error") && short.has(r#"<span class="badge badge-rule">R5.6</span>"#), "{}", short.html);
        assert!(short.has(">不要</textarea>") && short.has("<details class=\"cancel\" open>"));
        let by_consultant = post(&app, &cancel, &wang, &[("csrf", wang.csrf.as_str()), ("reason", "客户要求换人跟进")]).await;
        assert!(by_consultant.status.is_client_error());
        let forged = post(&app, &cancel, &leader, &[("csrf", "x"), ("reason", "客户要求换人跟进")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(claim_status(&app, card).await, "valid");

        let ok = post(&app, &cancel, &leader, &[("csrf", leader.csrf.as_str()), ("reason", "客户已在外地购车")]).await;
        assert_eq!(
            (ok.status, ok.location()),
            (StatusCode::SEE_OTHER, format!("/customers/{customer}?done=cancel#claims").as_str())
        );
        assert_eq!(claim_status(&app, card).await, "cancelled");
        let p = get(&app, &format!("{page}?done=cancel"), Some(&wang)).await;
        assert!(p.has("登记已撤销") && p.has("badge-cancelled") && p.has("客户已在外地购车"), "{}", p.html);
        let mine = get(&app, "/claims", Some(&wang)).await;
        assert!(mine.has("已撤销") && mine.has("客户已在外地购车") && mine.has("R5.6"), "{}", mine.html);
        let en = send(&app, Method::GET, &page, Some(&with_lang(&leader, "en")), None, &[]).await;
        assert!(en.has("Cancelled") && en.has("Reason") && en.has("Follow-ups"), "{}", en.html);
    }
);

both!(
    virtual the_ledger_page_opens_on_the_latest_month_with_entries_when_this_one_has_none,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let manager = app.staff("sunjl", "孙经理", &["sales_manager"]).await;
        let (status, e) = app
            .post("/api/v1/ledger", &manager, json!({ "staff_id": wang.staff_id, "code": "early_leave", "note": "17:10 离开" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        let month = e["period"].as_str().unwrap().to_string();
        // This month has the entry: it opens there, as before.
        let page = get(&app, "/ledger", Some(&manager)).await;
        assert!(page.has("17:10 离开") && !page.has(r#"data-test="latest-month""#), "{}", page.html);
        // Forty days on, this month has none: the page shows the latest month that has some, and
        // says so; asked for this month, it shows this month.
        let (status, _) = app.post("/api/v1/clock/advance", &app.admin, json!({ "seconds": 40 * 86400 })).await;
        assert_eq!(status, StatusCode::OK);
        for who in [&manager, &wang] {
            let page = get(&app, "/ledger", Some(who)).await;
            assert!(page.has(r#"data-test="latest-month""#) && page.has("17:10 离开"), "{}", page.html);
            assert!(page.has(&format!(r#"name="period" value="{month}""#)), "{}", page.html);
        }
        let (_, c) = app.get("/api/v1/clock", &app.admin).await;
        let now: jiff::Timestamp = c["now"].as_str().unwrap().parse().unwrap();
        let this = now.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()).strftime("%Y-%m").to_string();
        let page = get(&app, &format!("/ledger?period={this}"), Some(&manager)).await;
        assert!(page.has("本月没有记录") && !page.has(r#"data-test="latest-month""#), "{}", page.html);
    }
);

/// The number of ledger entries the API lists for everyone this month.
async fn ledger_count(app: &TestApp) -> usize {
    let (_, l) = app.get("/api/v1/ledger", &app.admin).await;
    l["items"].as_array().unwrap().len()
}

both!(
    r5_17_the_ledger_page_adds_reverses_and_totals_a_month,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let li = app.staff("liqiang", "李强", &["consultant"]).await;
        let manager = app.staff("sunjl", "孙经理", &["sales_manager"]).await;
        let wang_id = wang.staff_id.to_string();

        let own = get(&app, "/ledger", Some(&wang)).await;
        assert_eq!(own.status, StatusCode::OK);
        assert!(own.has("台账") && own.has("本月没有记录") && !own.has(r#"data-test="ledger-add""#));
        let mp = get(&app, "/ledger", Some(&manager)).await;
        assert!(
            mp.has(r#"data-test="ledger-add""#) && mp.has("迟到 · 20.00 元"),
            "{}",
            mp.html
        );
        assert!(!mp.has(r#"value="duplicate_card""#), "automatic codes are not offered");

        // R5.17: lateness is 20 yuan, the second time 40, the third flags dismissal review.
        let add = |note: &'static str| {
            let csrf = manager.csrf.clone();
            let wang_id = wang_id.clone();
            let app = &app;
            let manager = &manager;
            async move {
                post(
                    app,
                    "/ledger",
                    manager,
                    &[
                        ("csrf", csrf.as_str()),
                        ("staff_id", wang_id.as_str()),
                        ("code", "lateness"),
                        ("quantity", "1"),
                        ("note", note),
                    ],
                )
                .await
            }
        };
        let first = add("8:45 到店").await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert!(
            first.location().starts_with("/ledger?period=") && first.location().contains("&done=added#entry-"),
            "{}",
            first.location()
        );
        let page = get(&app, first.location(), Some(&manager)).await;
        assert!(
            page.has("台账记录已添加") && page.has("迟到") && page.has("8:45 到店"),
            "{}",
            page.html
        );
        assert!(page.has(r#"<span class="badge badge-rule">R5.17</span>"#) && page.has(">20.00</td>"));
        add("").await;
        add("").await;
        let page = get(&app, "/ledger", Some(&manager)).await;
        assert!(
            page.has(">40.00</td>") && page.has(r#"data-test="flag">需劝退审查"#),
            "{}",
            page.html
        );
        assert!(
            page.has(r#"data-test="fines">100.00</td>"#),
            "the statement totals 20 + 40 + 40"
        );
        assert!(page.has(r#"data-test="statement-flag">需劝退审查"#));
        assert_eq!(ledger_count(&app).await, 3);

        // Bad forms are refused on the page, the input kept and nothing entered.
        let bad = post(
            &app,
            "/ledger",
            &manager,
            &[
                ("csrf", manager.csrf.as_str()),
                ("staff_id", wang_id.as_str()),
                ("code", "lateness"),
                ("quantity", "0"),
                ("note", "keep me"),
            ],
        )
        .await;
        assert!(
            bad.status.is_client_error() && bad.has("次数须在 1 到 100 之间") && bad.has(r#"value="keep me""#),
            "{}",
            bad.html
        );
        let auto = post(
            &app,
            "/ledger",
            &manager,
            &[
                ("csrf", manager.csrf.as_str()),
                ("staff_id", wang_id.as_str()),
                ("code", "duplicate_card"),
                ("quantity", "1"),
            ],
        )
        .await;
        assert!(
            auto.status.is_client_error() && auto.has("alert-error") && auto.has("R5.5"),
            "{}",
            auto.html
        );
        let by_consultant = post(
            &app,
            "/ledger",
            &li,
            &[
                ("csrf", li.csrf.as_str()),
                ("staff_id", wang_id.as_str()),
                ("code", "lateness"),
                ("quantity", "1"),
            ],
        )
        .await;
        assert!(by_consultant.status.is_client_error(), "{}", by_consultant.status);
        let forged = post(
            &app,
            "/ledger",
            &manager,
            &[("csrf", "x"), ("staff_id", wang_id.as_str()), ("code", "lateness")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(ledger_count(&app).await, 3, "nothing was entered");

        // A reversal needs a reason; it is a new entry of the opposite sign.
        let (_, l) = app.get("/api/v1/ledger", &app.admin).await;
        let oldest = l["items"].as_array().unwrap().last().unwrap()["id"].as_i64().unwrap();
        let path = format!("/ledger/{oldest}/reverse");
        let bad = post(
            &app,
            &path,
            &manager,
            &[("csrf", manager.csrf.as_str()), ("reason", "  ")],
        )
        .await;
        assert!(
            bad.status.is_client_error() && bad.has("冲销必须写明原因"),
            "{}",
            bad.html
        );
        assert_eq!(ledger_count(&app).await, 3);
        let ok = post(
            &app,
            &path,
            &manager,
            &[("csrf", manager.csrf.as_str()), ("reason", "打卡机故障")],
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        assert!(ok.location().contains("done=reversed"), "{}", ok.location());
        let page = get(&app, "/ledger", Some(&manager)).await;
        assert!(
            page.has("已冲销") && page.has(">-20.00</td>") && page.has(r#"data-test="fines">80.00</td>"#),
            "{}",
            page.html
        );
        assert!(
            !page.has(&format!(r#"action="{path}""#)),
            "a reversed entry cannot be reversed again"
        );

        // The entry page: the decision, its facts, the history event, what reversed it.
        let entry = get(&app, &format!("/ledger/{oldest}"), Some(&wang)).await;
        assert_eq!(entry.status, StatusCode::OK);
        assert!(entry.has("孙经理于") && entry.has("本月第 1 次"), "{}", entry.html);
        assert!(entry.has(r#"data-test="facts""#) && entry.has("本月第几次") && entry.has("王芳"));
        assert!(entry.has(r#"data-test="event-seq">#"#) && entry.has(r#"data-test="reversed-by""#));
        let (_, l) = app.get("/api/v1/ledger", &app.admin).await;
        let reversal = l["items"][0]["id"].as_i64().unwrap();
        let rp = get(&app, &format!("/ledger/{reversal}"), Some(&manager)).await;
        assert!(rp.has(&format!(r#"href="/ledger/{oldest}" data-test="reverses""#)) && rp.has("打卡机故障"));
        // The reversal's badge names what it reverses, not the kind of the original.
        assert!(
            rp.has(&format!(r#"data-test="entry-kind">冲销 #{oldest}</span>"#)),
            "{}",
            rp.html
        );
        let rp_en = send(
            &app,
            Method::GET,
            &format!("/ledger/{reversal}"),
            Some(&with_lang(&manager, "en")),
            None,
            &[],
        )
        .await;
        assert!(rp_en.has(&format!("Reversal of #{oldest}")), "{}", rp_en.html);
        // The per-person statement has a visible heading.
        let statement = get(&app, "/ledger", Some(&manager)).await;
        assert!(
            statement.has(r#"<h3 id="by-person-h">按人员汇总</h3>"#),
            "{}",
            statement.html
        );
        assert_eq!(
            get(&app, &format!("/ledger/{oldest}"), Some(&li)).await.status,
            StatusCode::NOT_FOUND
        );

        // A consultant reads only their own ledger; readers may pick a person.
        let own = get(&app, "/ledger", Some(&wang)).await;
        assert!(own.has("迟到") && !own.has("staff-filter") && !own.has(r#"data-test="ledger-add""#));
        let other = get(&app, &format!("/ledger?staff_id={}", wang.staff_id), Some(&li)).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let lis = get(&app, "/ledger", Some(&li)).await;
        assert!(lis.has("本月没有记录") && !lis.has("迟到"), "{}", lis.html);
        let picked = get(&app, &format!("/ledger?staff_id={}", li.staff_id), Some(&manager)).await;
        assert!(picked.has("本月没有记录"));
        assert_eq!(
            get(&app, "/ledger?period=2026-13", Some(&manager)).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let empty_month = get(&app, "/ledger?period=2001-01", Some(&manager)).await;
        assert!(empty_month.has("本月没有记录") && empty_month.has("2000-12") && empty_month.has("2001-02"));

        // English.
        let en = send(&app, Method::GET, "/ledger?lang=en", Some(&manager.cookie), None, &[]).await;
        for label in [
            "Ledger",
            "Lateness",
            "Monthly statement",
            "Dismissal review",
            "Add an entry",
            "Lateness · 20.00 yuan",
        ] {
            assert!(en.has(label), "{label} missing");
        }
        assert!(!en.has("月度汇总"));
    }
);

// ---- Customer pools (公海, R11.8) ----------------------------------------------------------

async fn clock_to(app: &TestApp, to: jiff::Timestamp) {
    let (status, r) = app
        .post("/api/v1/clock/advance", &app.admin, json!({ "to": to.to_string() }))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
}

both!(
    virtual r11_8_the_holder_is_warned_then_members_claim_the_pooled_customer_on_the_pools_page,
    |app: TestApp| async move {
        use crate::timed::{staff_of, tenant_on};
        let admin = tenant_on(&app, "event-customers", "events").await;
        let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", None).await;
        let head = staff_of(&app, &admin, "head", "钱主任", "division_head", None).await;
        let li = staff_of(&app, &admin, "xiaoli", "小李", "sales", None).await;
        let zhao = staff_of(&app, &admin, "xiaozhao", "小赵", "sales", None).await;
        let crm = staff_of(&app, &admin, "crm", "CRM 小周", "crm_centre", None).await;

        // Members see the pools in the navigation; an empty pool says so in a sentence.
        let empty = get(&app, "/pools", Some(&li)).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.html);
        assert!(empty.has(r#"data-test="nav-pools""#) && empty.has("公共客户池"), "{}", empty.html);
        assert!(empty.has(r#"data-test="pool-empty""#) && empty.has("池中暂时没有客户"));
        assert!(empty.has("0 位客户") && empty.has(r#"<span class="badge badge-rule">R11.8</span>"#));
        assert!(empty.has("原持有人 1 个月后才能再次领取") && empty.has("每人每天最多领取 10 位"), "{}", empty.html);
        // Not a member: no link, and the page is refused.
        let refused = get(&app, "/pools", Some(&crm)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!refused.has(r#"data-test="nav-pools""#));
        assert!(!get(&app, "/customers", Some(&crm)).await.has(r#"href="/pools""#));
        // A tenant whose policy has no pools shows no link either.
        assert!(!get(&app, "/customers", Some(&app.admin)).await.has(r#"href="/pools""#));

        // Wang's invitation, confirmed by the division head (R11.4).
        let cid = app.customer(&wang, "孙阿姨", "13900000301").await;
        let (_, claim) = app.post(&format!("/api/v1/customers/{cid}/claims"), &wang, json!({})).await;
        let (status, claim) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &head, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{claim}");
        let (_, mine) = app.get("/api/v1/claims", &wang).await;
        let due = &mine["items"][0]["due"];
        let (limit, warn_from) = (at(&due["at"]), at(&due["warn_from"]));

        // Until the week before the limit there is no warning; from then on the row says so.
        let calm = get(&app, "/claims", Some(&wang)).await;
        assert!(calm.has("孙阿姨") && !calm.has(r#"data-test="due-warning""#) && !calm.has("row-warn"));
        clock_to(&app, warn_from + jiff::SignedDuration::from_mins(1)).await;
        let warned = get(&app, "/claims", Some(&wang)).await;
        assert!(warned.has(r#"<tr class="row-warn">"#) && warned.has("due due-warn"), "{}", warned.html);
        assert!(warned.has(r#"data-test="due-warning""#) && warned.has("即将退回公共客户池"));
        let en = send(&app, Method::GET, "/claims", Some(&with_lang(&wang, "en")), None, &[]).await;
        assert!(en.has("Returns to the pool soon: Shared customer pool"), "{}", en.html);
        let detail = get(&app, &format!("/customers/{cid}"), Some(&wang)).await;
        assert!(detail.has("即将退回公共客户池"), "{}", detail.html);

        // Past the limit the customer is in the pool.
        clock_to(&app, limit + jiff::SignedDuration::from_mins(1)).await;
        let pools = get(&app, "/pools", Some(&li)).await;
        assert_eq!(pools.status, StatusCode::OK);
        assert!(pools.has(&format!(r#"<a href="/customers/{cid}">孙阿姨</a>"#)), "{}", pools.html);
        assert!(pools.has("1 位客户") && pools.has(r#"action="/pools/shared/claims""#));
        assert!(pools.has(&format!(r#"name="customer_id" value="{cid}""#)));
        let page = get(&app, &format!("/customers/{cid}"), Some(&li)).await;
        assert!(page.has(r#"data-test="in-pool""#) && page.has("在公共客户池中（自 "), "{}", page.html);
        assert!(page.has(r#"data-test="pool-claim""#) && !page.has(r#"data-test="claim""#));
        let en = send(&app, Method::GET, "/pools", Some(&with_lang(&li, "en")), None, &[]).await;
        assert!(en.has("Customer pools") && en.has("1 customer") && en.has("Each member claims at most 10 a day"));
        // The admin sees every pool, and the non-member still does not.
        assert_eq!(get(&app, "/pools", Some(&admin)).await.status, StatusCode::OK);
        assert_eq!(get(&app, "/pools", Some(&crm)).await.status, StatusCode::FORBIDDEN);

        let cid_s = cid.to_string();
        // The former holder waits out the cooldown: refused on the page, nothing changes.
        let cool = post(&app, "/pools/shared/claims", &wang, &[("csrf", wang.csrf.as_str()), ("customer_id", cid_s.as_str())]).await;
        assert_eq!(cool.status, StatusCode::CONFLICT);
        assert!(cool.has("alert-error") && cool.has("原持有人不能再领取") && cool.has("孙阿姨"), "{}", cool.html);
        // A forged token changes nothing either.
        let forged = post(&app, "/pools/shared/claims", &li, &[("csrf", "forged"), ("customer_id", cid_s.as_str())]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let (_, c) = app.get(&format!("/api/v1/customers/{cid}"), &admin).await;
        assert_eq!(c["pool_id"], "shared");

        // Li is first: the claim is made and the customer page says so.
        let ok = post(&app, "/pools/shared/claims", &li, &[("csrf", li.csrf.as_str()), ("customer_id", cid_s.as_str())]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
        assert_eq!(ok.location(), format!("/customers/{cid}?done=pool_claim#claims"));
        let after = get(&app, &format!("/customers/{cid}?done=pool_claim"), Some(&li)).await;
        assert!(after.has("已从客户池领取该客户") && !after.has(r#"data-test="in-pool""#), "{}", after.html);
        // Zhao was a moment late: refused in the page's language, from either page.
        let late = send(
            &app,
            Method::POST,
            "/pools/shared/claims",
            Some(&with_lang(&zhao, "en")),
            Some(&[("csrf", zhao.csrf.as_str()), ("customer_id", cid_s.as_str())]),
            &[],
        )
        .await;
        assert_eq!(late.status, StatusCode::CONFLICT);
        assert!(late.has("alert-error") && late.has("is no longer in Shared customer pool"), "{}", late.html);
        assert!(late.has("Customer pools") && late.has("Nobody is in this pool right now"));
        let late = post(
            &app,
            "/pools/shared/claims",
            &zhao,
            &[("csrf", zhao.csrf.as_str()), ("customer_id", cid_s.as_str()), ("from", "customer")],
        )
        .await;
        assert_eq!(late.status, StatusCode::CONFLICT);
        assert!(late.has("已不在公共客户池中") && late.has(r#"data-test="customer-name""#), "{}", late.html);
        let (_, claims) = app.get(&format!("/api/v1/customers/{cid}/claims"), &admin).await;
        let holders: Vec<i64> = claims["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] != "expired")
            .map(|c| c["staff_id"].as_i64().unwrap())
            .collect();
        assert_eq!(holders, vec![li.staff_id], "{claims}");
    }
);

// ---- Visits (R1.6, R1.7) and the grade and tags form ------------------------------------------

/// A tenant on the partner-network policy (with a `[cadence]`): its admin, the unit, a unit
/// member (李工) and the central unit's manager.
async fn partners(app: &TestApp) -> (Session, i64, Session, Session) {
    let now = jiff::Timestamp::now();
    let src = crate::timed::PARTNERS;
    let policy = kehu_domain::Policy::parse(src, "partners.toml").unwrap();
    let t = kehu_store::tenants::create(
        &app.state.db,
        "partners",
        "合作伙伴",
        &policy,
        src,
        "partners.toml",
        now,
    )
    .await
    .unwrap();
    let hash = kehu_server::auth::hash_password("tenant-admin-pw").unwrap();
    let mut admin = kehu_store::staff::NewStaff::admin(&hash);
    admin.username = "partnersadmin";
    kehu_store::staff::create(&app.state.db, t.id, None, admin, now)
        .await
        .unwrap();
    let admin = app.login_with("partnersadmin", "tenant-admin-pw").await;
    let (_, unit) = app.post("/api/v1/units", &admin, json!({ "name": "华东区" })).await;
    let unit = unit["id"].as_i64().unwrap();
    let li = crate::timed::staff_of(app, &admin, "liunit", "李工", "unit_staff", Some(unit)).await;
    let central = crate::timed::staff_of(app, &admin, "central", "中心", "central", None).await;
    (admin, unit, li, central)
}

/// A partner company registered and claimed by `s`.
async fn partner(app: &TestApp, s: &Session, name: &str, phone: &str, grade: &str) -> i64 {
    let (status, c) = app
        .post(
            "/api/v1/customers",
            s,
            json!({ "kind": "company", "name": name, "phones": [phone], "grade": grade }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    let (status, claim) = app.post(&format!("/api/v1/customers/{id}/claims"), s, json!({})).await;
    assert!(status.is_success(), "{claim}");
    id
}

both!(
    virtual r1_6_the_visits_page_lists_overdue_visits_per_person_and_unit,
    |app: TestApp| async move {
        // The car-dealership policy has no visit cadence: no visits in its navigation.
        let dealer = get(&app, "/claims", Some(&app.admin)).await;
        assert!(dealer.has(r#"href="/ledger""#) && !dealer.has(r#"href="/visits""#), "{}", dealer.html);

        let (_, unit, li, central) = partners(&app).await;
        let p1 = partner(&app, &li, "华信建设有限公司", "13900000701", "A").await;
        partner(&app, &li, "远航工程有限公司", "13900000702", "C").await;

        let empty = get(&app, "/visits", Some(&li)).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.html);
        assert!(empty.has(r#"href="/visits" data-test="nav-visits" aria-current="page""#), "{}", empty.html);
        assert!(empty.has("没有逾期未拜访的客户") && empty.has("仅逾期"), "{}", empty.html);
        assert!(!empty.has(r#"name="who""#), "a unit member has no picker");

        // 35 days on, the A partner (monthly) is overdue; the C partner (quarterly) is not.
        advance(&app, 35 * 86400).await;
        let page = get(&app, "/visits", Some(&li)).await;
        assert!(page.has(r#"class="row-overdue""#) && page.has("due due-overdue"), "{}", page.html);
        assert!(page.has(&format!(r#"<a href="/customers/{p1}">华信建设有限公司</a>"#)), "{}", page.html);
        assert!(page.has("已逾期 ") && page.has("须每 1 个月至少拜访一次"), "{}", page.html);
        assert!(page.has(r#"<span class="badge badge-rule">R1.6</span>"#) && page.has("李工"));
        assert!(!page.has("远航工程有限公司"), "not overdue: only under 全部");
        let all = get(&app, "/visits?show=all", Some(&li)).await;
        assert!(all.has("华信建设有限公司") && all.has("远航工程有限公司") && all.has("剩 "), "{}", all.html);
        assert!(
            all.find_pos("华信建设有限公司") < all.find_pos("远航工程有限公司"),
            "overdue visits come first"
        );
        let en = send(&app, Method::GET, "/visits", Some(&with_lang(&li, "en")), None, &[]).await;
        assert!(en.has("Overdue only") && en.has("Visits") && en.has(" overdue"), "{}", en.html);

        // A manager looks at the unit's visits, or everyone's; a unit member may not.
        let u = get(&app, &format!("/visits?unit_id={unit}&show=all"), Some(&central)).await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.html);
        assert!(u.has("华东区的拜访计划") && u.has("华信建设有限公司") && u.has("远航工程有限公司"), "{}", u.html);
        assert!(u.has(r#"name="who""#) && u.has(&format!(r#"<option value="unit:{unit}" selected>华东区</option>"#)));
        let picked = get(&app, &format!("/visits?who=staff:{}", li.staff_id), Some(&central)).await;
        assert!(picked.has("李工的拜访计划") && picked.has("华信建设有限公司"), "{}", picked.html);
        let everyone = get(&app, "/visits?show=everyone", Some(&central)).await;
        assert!(everyone.has("全部人员的拜访计划") && everyone.has("华信建设有限公司"), "{}", everyone.html);
        let mine = get(&app, "/visits", Some(&central)).await;
        assert!(mine.has("没有逾期未拜访的客户"), "{}", mine.html);
        let refused = get(&app, &format!("/visits?staff_id={}", central.staff_id), Some(&li)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.has("只能查看自己的拜访计划"), "{}", refused.html);
        assert_eq!(get(&app, &format!("/visits?unit_id={unit}"), Some(&li)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(get(&app, "/visits?show=everyone", Some(&li)).await.status, StatusCode::FORBIDDEN);
    }
);

both!(r1_6_the_customer_page_sets_grade_and_tags, |app: TestApp| async move {
    let (_, _, li, central) = partners(&app).await;
    let p = partner(&app, &li, "华信建设有限公司", "13900000701", "C").await;
    let path = format!("/customers/{p}");
    let action = format!("/customers/{p}/profile");
    assert!(
        !get(&app, &path, Some(&li)).await.has(r#"data-test="profile-form""#),
        "no customers.update"
    );
    let page = get(&app, &path, Some(&central)).await;
    assert!(
        page.has(r#"data-test="profile-form""#) && page.has(r#"name="grade" maxlength="20" value="C""#),
        "{}",
        page.html
    );

    let ok = post(
        &app,
        &action,
        &central,
        &[
            ("csrf", central.csrf.as_str()),
            ("grade", "A"),
            ("tags", "out_of_town，pending_project"),
        ],
    )
    .await;
    assert_eq!(
        (ok.status, ok.location()),
        (StatusCode::SEE_OTHER, format!("/customers/{p}?done=profile").as_str()),
        "{}",
        ok.html
    );
    let after = get(&app, ok.location(), Some(&central)).await;
    assert!(
        after.has("等级和标记已更新")
            && after.has(r#"<span class="badge badge-tag" data-test="tag">pending_project</span>"#),
        "{}",
        after.html
    );
    // Everyone sees the tags.
    let seen = get(&app, &path, Some(&li)).await;
    assert!(
        seen.has(r#"data-test="tag">out_of_town</span>"#) && seen.has("等级 A"),
        "{}",
        seen.html
    );

    // A tag of 31 characters is refused in the page's language, and nothing changes.
    let long = "x".repeat(31);
    let bad = post(
        &app,
        &action,
        &central,
        &[("csrf", central.csrf.as_str()), ("grade", "B"), ("tags", long.as_str())],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.has("alert-error") && bad.has("标记最多 20 个") && bad.has(&long),
        "{}",
        bad.html
    );
    let en = send(
        &app,
        Method::POST,
        &action,
        Some(&with_lang(&central, "en")),
        Some(&[("csrf", central.csrf.as_str()), ("grade", "B"), ("tags", long.as_str())]),
        &[],
    )
    .await;
    assert!(
        en.has("At most 20 tags of at most 30 characters each") && en.has("Change grade and tags"),
        "{}",
        en.html
    );
    let (_, c) = app
        .get(&path.replace("/customers", "/api/v1/customers"), &central)
        .await;
    assert_eq!(
        (c["grade"].as_str(), c["tags"].clone()),
        (Some("A"), json!(["out_of_town", "pending_project"])),
        "{c}"
    );
    // Without the permission, or without the token, the form is refused.
    let li_post = post(
        &app,
        &action,
        &li,
        &[("csrf", li.csrf.as_str()), ("grade", "B"), ("tags", "")],
    )
    .await;
    assert_eq!(li_post.status, StatusCode::FORBIDDEN);
    let forged = post(
        &app,
        &action,
        &central,
        &[("csrf", "forged"), ("grade", "B"), ("tags", "")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
});

both!(
    r11_7_a_follow_up_is_recorded_as_a_kind_of_service,
    |app: TestApp| async move {
        let admin = crate::timed::tenant_on(&app, "event-customers", "events").await;
        let wang = crate::timed::staff_of(&app, &admin, "xiaowang", "小王", "sales", None).await;
        let (_, c) = app
            .post(
                "/api/v1/customers",
                &wang,
                serde_json::json!({ "kind": "person", "name": "孙阿姨", "phones": ["13900000901"] }),
            )
            .await;
        let id = c["id"].as_i64().unwrap();
        let page = format!("/customers/{id}");
        let before = get(&app, &page, Some(&wang)).await;
        assert!(
            before.has(r#"name="kind""#) && before.has("常规关怀"),
            "{}",
            before.html
        );
        let p = post(
            &app,
            &format!("/customers/{id}/activities"),
            &wang,
            &[
                ("csrf", wang.csrf.as_str()),
                ("channel", "visit"),
                ("kind", "regular_care"),
                ("note", "上门量血压"),
            ],
        )
        .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
        let after = get(&app, &page, Some(&wang)).await;
        assert!(
            after.has(r#"<span class="badge badge-plain">常规关怀</span>"#),
            "{}",
            after.html
        );
        let bad = post(
            &app,
            &format!("/customers/{id}/activities"),
            &wang,
            &[
                ("csrf", wang.csrf.as_str()),
                ("channel", "visit"),
                ("kind", "gossip"),
                ("note", "keep me"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

both!(virtual r11_3_the_joint_event_pages_schedule_invite_and_file, |app: TestApp| async move {
    use crate::timed::{staff_of, tenant_on};
    let admin = tenant_on(&app, "event-customers", "jointweb").await;
    let mut units = Vec::new();
    for name in ["第一事业部", "第二事业部"] {
        let (_, u) = app.post("/api/v1/units", &admin, json!({ "name": name })).await;
        units.push(u["id"].as_i64().unwrap());
    }
    let head = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(units[0])).await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(units[0])).await;
    let coordinator = staff_of(&app, &admin, "xietiao", "郑协调", "coordinator", None).await;
    let list = get(&app, "/events", Some(&wang)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.has(r#"data-test="nav-events""#) && list.has(r#"data-test="events-empty""#), "{}", list.html);
    assert!(!list.has(r#"data-test="event-schedule""#), "sales do not schedule");

    // The coordinator schedules through the form; a form without a second division is refused
    // on the page, keeping what was typed.
    let page = get(&app, "/events", Some(&coordinator)).await;
    assert!(page.has(r#"data-test="event-schedule""#));
    let start = (app.state.now() + jiff::SignedDuration::from_hours(24 * 5))
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date()
        .at(19, 0, 0, 0)
        .to_string();
    let (d1, d2) = (units[0].to_string(), units[1].to_string());
    let form = |d2: &str| {
        vec![
            ("csrf", coordinator.csrf.clone()),
            ("name", "冬季健康讲座".to_string()),
            ("starts_at", start[..16].to_string()),
            ("session", "evening".to_string()),
            ("division1", d1.clone()),
            ("division2", d2.to_string()),
            ("division3", String::new()),
        ]
    };
    let fields = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let bad = fields(&form(""));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post(&app, "/events", &coordinator, &bad).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(refused.has("至少由两个不同的部门") && refused.has(r#"value="冬季健康讲座""#), "{}", refused.html);
    let good = fields(&form(&d2));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = post(&app, "/events", &coordinator, &good).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let event_path = done.location().split('?').next().unwrap().to_string();
    let page = get(&app, done.location(), Some(&coordinator)).await;
    assert!(page.has("会议已安排") && page.has("冬季健康讲座") && page.has("晚场"), "{}", page.html);

    // Wang invites a customer from the customer page, naming the event; the head confirms.
    let customer = app.customer(&wang, "李阿姨", "13900000601").await;
    let cpage = get(&app, &format!("/customers/{customer}"), Some(&wang)).await;
    assert!(cpage.has(r#"data-test="claim-event""#) && cpage.has("冬季健康讲座"), "{}", cpage.html);
    let event_id = event_path.trim_start_matches("/events/").to_string();
    let invited = post(
        &app,
        &format!("/customers/{customer}/claims"),
        &wang,
        &[("csrf", wang.csrf.as_str()), ("event_id", event_id.as_str())],
    )
    .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.html);
    let (_, claims) = app.get(&format!("/api/v1/customers/{customer}/claims"), &head).await;
    let claim = &claims["items"][0];
    assert_eq!(claim["event_id"].to_string(), event_id);
    let (status, _) = app.post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &head, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // The event page shows the invitation due with the time left, and the head's button.
    let page = get(&app, &event_path, Some(&head)).await;
    assert!(page.has("李阿姨") && page.has("待报送") && page.has(r#"data-test="time-left""#), "{}", page.html);
    assert!(page.has(r#"data-test="file-invitations""#), "{}", page.html);
    assert!(!get(&app, &event_path, Some(&wang)).await.has(r#"data-test="file-invitations""#));
    let filed = post(&app, &format!("{event_path}/filings"), &head, &[("csrf", head.csrf.as_str())]).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.html);
    let page = get(&app, filed.location(), Some(&head)).await;
    assert!(page.has("已报送本部门的邀约") && page.has("已报送"), "{}", page.html);
    assert!(!page.has(r#"data-test="file-invitations""#));
    // R11.2: on the event's day the coordinator checks 李阿姨 in from the event page.
    assert!(!get(&app, &event_path, Some(&coordinator)).await.has(r#"data-test="check-in""#), "not before the day");
    let day = (app.state.now() + jiff::SignedDuration::from_hours(24 * 5))
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date()
        .at(18, 30, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp();
    let (status, _) = app.post("/api/v1/clock/advance", &app.admin, json!({ "to": day.to_string() })).await;
    assert_eq!(status, StatusCode::OK);
    let page = get(&app, &event_path, Some(&coordinator)).await;
    assert!(page.has(r#"data-test="check-in""#), "{}", page.html);
    assert!(!get(&app, &event_path, Some(&wang)).await.has(r#"data-test="check-in""#), "sales do not check in");
    let customer_id = customer.to_string();
    let checked = post(
        &app,
        &format!("{event_path}/attendance"),
        &coordinator,
        &[("csrf", coordinator.csrf.as_str()), ("customer_id", customer_id.as_str())],
    )
    .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER, "{}", checked.html);
    let page = get(&app, checked.location(), Some(&coordinator)).await;
    assert!(page.has("已签到到会") && page.has("已签到"), "{}", page.html);
    assert!(!page.has(r#"data-test="check-in""#), "{}", page.html);
    let en = send(
        &app,
        Method::GET,
        &event_path,
        Some(&format!("{}; kehu_lang=en", head.cookie)),
        None,
        &[],
    )
    .await;
    assert!(en.has("Filed") && en.has("Invitations close"), "{}", en.html);
});
both!(
    virtual r11_9_a_head_records_a_complaint_from_the_customer_page_and_resolves_it_on_the_case_page,
    |app: TestApp| async move {
        use crate::timed::{staff_of, tenant_on};
        let admin = tenant_on(&app, "event-customers", "events").await;
        let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", None).await;
        let head = staff_of(&app, &admin, "head", "钱主任", "division_head", None).await;
        let cid = app.customer(&wang, "孙阿姨", "13900000601").await;
        let (_, claim) = app.post(&format!("/api/v1/customers/{cid}/claims"), &wang, json!({})).await;
        let (status, _) = app.post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &head, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let path = format!("/customers/{cid}");

        // Only the policy's complaint roles open one from the customer page.
        let page = get(&app, &path, Some(&wang)).await;
        assert!(!page.has(r#"data-test="open-complaint""#), "{}", page.html);
        let page = get(&app, &path, Some(&head)).await;
        assert!(page.has(r#"data-test="open-complaint""#), "{}", page.html);
        let form = get(&app, &format!("/cases/new?workflow=complaint&customer_id={cid}"), Some(&head)).await;
        assert_eq!(form.status, StatusCode::OK);
        // Whom it is about defaults to the holder, so the form does not insist on it.
        assert!(form.has("被投诉员工") && form.has(&format!("<option value=\"{}\">小王</option>", wang.staff_id)), "{}", form.html);
        assert!(!form.has(r#"name="f.staff" data-field="staff" required"#), "{}", form.html);

        // A complaint without a text, or with a forged token, is refused and records nothing.
        let cid_s = cid.to_string();
        let opening = |csrf: &str, summary: &str| -> Vec<(String, String)> {
            [("csrf", csrf), ("workflow", "complaint"), ("customer_id", cid_s.as_str()), ("f.summary", summary)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let as_pairs = |v: &[(String, String)]| -> Vec<(String, String)> { v.to_vec() };
        let send_form = |v: Vec<(String, String)>| {
            let app = &app;
            let head = &head;
            async move {
                let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                post(app, "/cases", head, &pairs).await
            }
        };
        let refused = send_form(opening(&head.csrf, "  ")).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.has("alert-error") && refused.has("请填写「投诉内容」"), "{}", refused.html);
        assert_eq!(send_form(opening("forged", "态度差")).await.status, StatusCode::FORBIDDEN);
        let (_, none) = app.get("/api/v1/cases?workflow=complaint", &head).await;
        assert_eq!(none["items"].as_array().unwrap().len(), 0);

        // Recorded to the boss: the case page shows whom it is about, the limit and the fine,
        // linked to the ledger.
        let mut to_boss = as_pairs(&opening(&head.csrf, "客户向姜总投诉送货太慢"));
        to_boss.push(("f.to_boss".into(), "on".into()));
        let done = send_form(to_boss).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        let case_path = done.location().split('?').next().unwrap().to_string();
        let (_, list) = app.get("/api/v1/cases?workflow=complaint", &head).await;
        let id = list["items"][0]["id"].as_i64().unwrap();
        assert_eq!(case_path, format!("/cases/{id}"));
        let (_, one) = app.get(&case_path.replace("/cases", "/api/v1/cases"), &head).await;
        let entry = one["charges"][0]["id"].as_i64().unwrap();
        assert_eq!(one["charges"].as_array().unwrap().len(), 2, "the staff member and the head: {one}");
        let page = get(&app, &case_path, Some(&head)).await;
        assert!(page.has("<dd>小王</dd>") && page.has("客户向姜总投诉送货太慢") && page.has("三天内解决"), "{}", page.html);
        assert!(page.has(&format!(r#"<a href="/ledger/{entry}" data-test="charge">小王 · 客户投诉至老板 · 100.00 元</a>"#)), "{}", page.html);
        assert!(page.has(r#"<span class="badge badge-rule">R11.9</span>"#), "{}", page.html);
        let en = send(&app, Method::GET, &case_path, Some(&with_lang(&head, "en")), None, &[]).await;
        assert!(en.has("Customer complaint") && en.has("Complaint to the boss"), "{}", en.html);

        // Resolving needs a text; the staff member may not resolve.
        let resolve = format!("{case_path}/actions/resolve");
        let refused = post(&app, &resolve, &head, &[("csrf", head.csrf.as_str()), ("f.resolution", "")]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.has("请写明处理结果"), "{}", refused.html);
        let by_wang = post(&app, &resolve, &wang, &[("csrf", wang.csrf.as_str()), ("f.resolution", "我已道歉")]).await;
        assert_eq!(by_wang.status, StatusCode::FORBIDDEN);
        let ok = post(&app, &resolve, &head, &[("csrf", head.csrf.as_str()), ("f.resolution", "上门道歉并补送")]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        let after = get(&app, &case_path, Some(&head)).await;
        assert!(after.has("已解决") && after.has("上门道歉并补送"), "{}", after.html);
        // The staff member concerned reads it, and has nothing to take on it; the customer page
        // lists it.
        let own = get(&app, &case_path, Some(&wang)).await;
        assert_eq!(own.status, StatusCode::OK);
        assert!(own.has("上门道歉并补送") && !own.has(r#"data-test="take-resolve""#), "{}", own.html);
        let page = get(&app, &path, Some(&head)).await;
        assert!(page.has(r#"data-test="customer-cases""#) && page.has(&format!("/cases/{id}")), "{}", page.html);
    }
);

both!(
    r5_7_the_customer_page_records_a_sale_and_the_leader_signs_a_change_of_credit,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let liu = app.staff("liuyang", "刘洋", &["consultant"]).await;
        let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
        let (status, c) = app
            .post(
                "/api/v1/customers",
                &wang,
                json!({ "kind": "person", "name": "孙先生", "phones": ["13900000811"], "source": "朋友介绍" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        let path = format!("/customers/{id}");
        assert!(get(&app, &path, Some(&liu)).await.has(r#"data-test="sale-form""#));
        let bad = post(
            &app,
            &format!("{path}/sales"),
            &liu,
            &[("csrf", liu.csrf.as_str()), ("amount", "很多")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.has("请填写大于零的成交金额"), "{}", bad.html);
        let done = post(
            &app,
            &format!("{path}/sales"),
            &liu,
            &[("csrf", liu.csrf.as_str()), ("amount", "128,000"), ("note", "全款")],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let page = get(&app, done.location(), Some(&liu)).await;
        assert!(
            page.has("成交已记录") && page.has("128000.00 元") && page.has("业绩归 刘洋") && page.has("R5.7"),
            "{}",
            page.html
        );
        assert!(!page.has(r#"data-test="credit-sign""#), "a consultant does not sign");

        // The leader signs a special-case change; it waits for the sales manager.
        let page = get(&app, &path, Some(&leader)).await;
        assert!(page.has(r#"data-test="credit-sign""#), "{}", page.html);
        let (_, list) = app.get(&format!("/api/v1/customers/{id}/sales"), &leader).await;
        let sale = list["items"][0]["id"].to_string();
        let wang_id = wang.staff_id.to_string();
        let signed = post(
            &app,
            &format!("/sales/{sale}/credit"),
            &leader,
            &[
                ("csrf", leader.csrf.as_str()),
                ("customer_id", &id.to_string()),
                ("to_staff_id", &wang_id),
                ("reason", "王芳先接待并邀约试驾"),
            ],
        )
        .await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
        let page = get(&app, signed.location(), Some(&leader)).await;
        assert!(
            page.has("已签字") && page.has("改记入王芳待其他负责人签字"),
            "{}",
            page.html
        );
    }
);

both!(
    r11_6_a_conflict_is_recorded_from_the_customer_page_and_settled_on_the_case_page,
    |app: TestApp| async move {
        use crate::timed::{staff_of, tenant_on};
        let admin = tenant_on(&app, "event-customers", "conflictweb").await;
        let mut units = Vec::new();
        for name in ["第一事业部", "第二事业部"] {
            let (_, u) = app.post("/api/v1/units", &admin, json!({ "name": name })).await;
            units.push(u["id"].as_i64().unwrap());
        }
        let head1 = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(units[0])).await;
        let head2 = staff_of(&app, &admin, "head2", "吴经理", "division_head", Some(units[1])).await;
        let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(units[0])).await;
        let li = staff_of(&app, &admin, "xiaoli", "小李", "sales", Some(units[1])).await;
        let coordinator = staff_of(&app, &admin, "xietiao", "郑协调", "coordinator", None).await;
        let customer = app.customer(&wang, "李阿姨", "13900000801").await;
        let (_, claim) = app
            .post(&format!("/api/v1/customers/{customer}/claims"), &wang, json!({}))
            .await;
        let (status, _) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &head1, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);

        // The coordinator records a conflict from the customer page; a seller may not.
        let cpage = get(&app, &format!("/customers/{customer}"), Some(&coordinator)).await;
        assert!(cpage.has(r#"data-test="open-conflict""#), "{}", cpage.html);
        let seller_page = get(&app, &format!("/customers/{customer}"), Some(&wang)).await;
        assert!(!seller_page.has(r#"data-test="open-conflict""#));
        let form = get(
            &app,
            &format!("/cases/new?workflow=conflict&customer_id={customer}"),
            Some(&coordinator),
        )
        .await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.has("当事人甲") && form.has(&format!("<option value=\"{}\">小李</option>", li.staff_id)),
            "{}",
            form.html
        );
        // To whom the customer goes is each signer's to say, not the opener's.
        assert!(
            !form.has(r#"name="f.award_to""#) && !form.has(r#"name="f.argued""#),
            "{}",
            form.html
        );

        // A form naming one person twice is refused on the page, keeping what was typed.
        let (c, a, b) = (customer.to_string(), wang.staff_id.to_string(), li.staff_id.to_string());
        let opening = |b: &str| {
            vec![
                ("csrf", coordinator.csrf.clone()),
                ("workflow", "conflict".to_string()),
                ("customer_id", c.clone()),
                ("f.party_a", a.clone()),
                ("f.party_b", b.to_string()),
                ("f.summary", "两人都说邀约了李阿姨".to_string()),
            ]
        };
        let bad = opening(&a);
        let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = post(&app, "/cases", &coordinator, &bad).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(
            refused.has("两名不同的员工") && refused.has("两人都说邀约了李阿姨"),
            "{}",
            refused.html
        );
        let good = opening(&b);
        let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = post(&app, "/cases", &coordinator, &good).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let path = done.location().split('?').next().unwrap().to_string();
        let page = get(&app, done.location(), Some(&coordinator)).await;
        assert!(
            page.has("待协商") && page.has("「当事人乙」所在部门的负责人"),
            "{}",
            page.html
        );
        assert!(
            page.has(r#"data-test="take-sign""#) && page.has(r#"data-test="take-escalate""#),
            "{}",
            page.html
        );
        let party_view = get(&app, &path, Some(&wang)).await;
        assert_eq!(party_view.status, StatusCode::OK, "a party reads the conflict");
        assert!(!party_view.has(r#"data-test="take-sign""#) && !party_view.has(r#"data-test="take-escalate""#));

        // The three settlers sign the same outcome through the form: settled, the fines shown.
        for who in [&coordinator, &head1, &head2] {
            let signed = post(
                &app,
                &format!("{path}/actions/sign"),
                who,
                &[
                    ("csrf", who.csrf.as_str()),
                    ("f.award_to", b.as_str()),
                    ("f.argued", "on"),
                    ("note", ""),
                ],
            )
            .await;
            assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
        }
        let page = get(&app, &path, Some(&coordinator)).await;
        assert!(page.has("已协商解决") && page.has("在顾客面前争议"), "{}", page.html);
        assert_eq!(page.html.matches(r#"data-test="charge""#).count(), 2, "{}", page.html);
        assert!(!page.has(r#"data-test="take-sign""#), "nothing more to sign");
        // Signing again on the page is refused.
        let again = post(
            &app,
            &format!("{path}/actions/sign"),
            &head1,
            &[("csrf", head1.csrf.as_str()), ("f.award_to", a.as_str()), ("note", "")],
        )
        .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
        let en = send(
            &app,
            Method::GET,
            &path,
            Some(&format!("{}; kehu_lang=en", head1.cookie)),
            None,
            &[],
        )
        .await;
        assert!(
            en.has("Conflict between divisions") && en.has("Customer goes to"),
            "{}",
            en.html
        );
        // The customer page lists the case and tells the hand-over.
        let cpage = get(&app, &format!("/customers/{customer}"), Some(&head1)).await;
        assert!(cpage.has(&path) && cpage.has("由小王转交给小李"), "{}", cpage.html);
    }
);
