//! Trust for the people who use Kehu (issue 8): logins throttled per tenant and username and
//! per address, in the database; sessions and tokens that end at once on every process; tokens
//! that expire, are listed and revoked, and need the password to mint; the HTTP edge (problem
//! JSON for every error, nosniff, no-store, compression, Secure cookies); bad input refused
//! without a change; separation of duties and who may grant which role; setting up units and
//! staff. Each test runs on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::both;
use crate::support::{PASSWORD, TestApp, body_json};

/// A second server process on the same database: its own state, router and memory.
async fn second_process(app: &TestApp) -> axum::Router {
    let state = kehu_server::AppState::new(app.second_db().await, false).await.unwrap();
    kehu_server::app(state)
}

async fn call_on(
    router: &axum::Router,
    method: Method,
    path: &str,
    auth: (&str, &str),
    body: Option<Value>,
) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let mut b = Request::builder().method(method).uri(path).header(auth.0, auth.1);
    let req = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            b.body(Body::from(v.to_string())).unwrap()
        }
        None => b.body(Body::empty()).unwrap(),
    };
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, body_json(res).await)
}

/// A second tenant with its own `admin` (password PASSWORD) on the same database.
async fn other_tenant(app: &TestApp, slug: &str) -> i64 {
    let (file, src) = crate::support::preset();
    let policy = kehu_domain::Policy::parse(&src, &file).unwrap();
    let now = jiff::Timestamp::now();
    let t = kehu_store::tenants::create(&app.state.db, slug, "别家汽车", &policy, &src, &file, now)
        .await
        .unwrap();
    let hash = kehu_server::auth::hash_password(PASSWORD).unwrap();
    kehu_store::staff::create(
        &app.state.db,
        t.id,
        None,
        kehu_store::staff::NewStaff::admin(&hash),
        now,
    )
    .await
    .unwrap();
    t.id
}

async fn login_as(app: &TestApp, username: &str, password: &str, tenant: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"username": username, "password": password, "tenant": tenant})),
    )
    .await
}

both!(
    one_tenants_locked_admin_leaves_every_other_admin_alone_and_the_lock_survives_a_restart,
    |app: TestApp| async move {
        other_tenant(&app, "other").await;
        for _ in 0..kehu_server::auth::MAX_PER_USERNAME {
            let (status, _) = login_as(&app, "admin", "wrong-password", "acme").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, e) = login_as(&app, "admin", PASSWORD, "acme").await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
            "{e}"
        );
        assert!(e["retry_after"].as_u64().is_some_and(|s| s > 0 && s <= 900), "{e}");
        // The other tenant's admin logs in as ever.
        let (status, s) = login_as(&app, "admin", PASSWORD, "other").await;
        assert_eq!(status, StatusCode::OK, "{s}");
        // Another process (or this one restarted) on the same database keeps the count.
        let other = second_process(&app).await;
        let (status, e) = call_on(
            &other,
            Method::POST,
            "/api/v1/session",
            ("x-test", "1"),
            Some(json!({"username": "admin", "password": PASSWORD, "tenant": "acme"})),
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
        );
    }
);

both!(
    logging_out_ends_the_session_on_every_process_at_once,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let other = second_process(&app).await;
        let cookie = (header::COOKIE.as_str(), wang.cookie.as_str());
        let (status, _) = call_on(&other, Method::GET, "/api/v1/me", cookie, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app.call(Method::DELETE, "/api/v1/session", Some(&wang), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for router in [&other, &app.router] {
            let (status, e) = call_on(router, Method::GET, "/api/v1/me", cookie, None).await;
            assert_eq!(
                (status, e["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthorized"))
            );
        }
    }
);

both!(
    deactivating_staff_ends_their_sessions_and_tokens_everywhere_at_once,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let (status, t) = app.post("/api/v1/tokens", &wang, json!({"name": "script"})).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
        let other = second_process(&app).await;
        let (status, _) = call_on(&other, Method::GET, "/api/v1/me", ("authorization", &bearer), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, s) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", wang.staff_id),
                Some(&app.admin),
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!((status, s["active"].as_bool()), (StatusCode::OK, Some(false)), "{s}");
        for router in [&other, &app.router] {
            let (status, _) = call_on(router, Method::GET, "/api/v1/me", ("authorization", &bearer), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            let (status, _) = call_on(
                router,
                Method::GET,
                "/api/v1/me",
                (header::COOKIE.as_str(), &wang.cookie),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, _) = login_as(&app, "wangfang", PASSWORD, "acme").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a deactivated staff member cannot log in"
        );
        // Reactivated, she logs in again; the revoked token stays revoked.
        let (status, _) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", wang.staff_id),
                Some(&app.admin),
                Some(json!({"active": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app.login("wangfang").await;
        let (status, _) = call_on(&app.router, Method::GET, "/api/v1/me", ("authorization", &bearer), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

both!(
    tokens_expire_are_listed_and_revoked_and_need_the_password,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        // A fresh login mints without the password again.
        let (status, t) = app
            .post(
                "/api/v1/tokens",
                &wang,
                json!({"name": "导入脚本", "expires_in_days": 30}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        let expires: jiff::Timestamp = t["expires_at"].as_str().unwrap().parse().unwrap();
        let days = (expires.as_second() - jiff::Timestamp::now().as_second()) / 86_400;
        assert!((29..=30).contains(&days), "{t}");
        let token = t["token"].as_str().unwrap().to_string();
        let bearer = format!("Bearer {token}");
        for days in [0, 366] {
            let (status, e) = app
                .post("/api/v1/tokens", &wang, json!({"name": "x", "expires_in_days": days}))
                .await;
            assert_eq!(
                (status, e["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_expiry"))
            );
        }
        // The list never shows a secret.
        let (status, list) = app.get("/api/v1/tokens", &wang).await;
        assert_eq!(status, StatusCode::OK);
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{list}");
        assert_eq!(
            (items[0]["name"].as_str(), items[0]["active"].as_bool()),
            (Some("导入脚本"), Some(true))
        );
        assert!(!list.to_string().contains(&token));
        // A token cannot mint another without the password; with the wrong one it counts as a
        // failed login.
        let (status, e) = call_on(
            &app.router,
            Method::POST,
            "/api/v1/tokens",
            ("authorization", &bearer),
            Some(json!({"name": "y"})),
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("password_required")),
            "{e}"
        );
        let (status, e) = call_on(
            &app.router,
            Method::POST,
            "/api/v1/tokens",
            ("authorization", &bearer),
            Some(json!({"name": "y", "password": "wrong-password"})),
        )
        .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
        );
        let (status, t2) = call_on(
            &app.router,
            Method::POST,
            "/api/v1/tokens",
            ("authorization", &bearer),
            Some(json!({"name": "y", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{t2}");
        // A login older than ten minutes needs the password too.
        app.tamper("UPDATE sessions SET created_at = created_at - 3600000")
            .await;
        let (status, e) = app.post("/api/v1/tokens", &wang, json!({"name": "z"})).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("password_required"))
        );
        // Revoked: it stops at once, on another process too; someone else's token is not found.
        let other = second_process(&app).await;
        let admin_token = {
            let (_, t) = app
                .post(
                    "/api/v1/tokens",
                    &app.admin,
                    json!({"name": "admin", "password": PASSWORD}),
                )
                .await;
            t["id"].as_i64().unwrap()
        };
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{admin_token}"),
                Some(&wang),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{}", items[0]["id"]),
                Some(&wang),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for router in [&other, &app.router] {
            let (status, _) = call_on(router, Method::GET, "/api/v1/me", ("authorization", &bearer), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        // An expired token is refused.
        let bearer2 = format!("Bearer {}", t2["token"].as_str().unwrap());
        let (status, _) = call_on(
            &app.router,
            Method::GET,
            "/api/v1/me",
            ("authorization", &bearer2),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        app.tamper(&format!("UPDATE api_tokens SET expires_at = 1 WHERE id = {}", t2["id"]))
            .await;
        let (status, _) = call_on(
            &app.router,
            Method::GET,
            "/api/v1/me",
            ("authorization", &bearer2),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, list) = app.get("/api/v1/tokens", &wang).await;
        assert!(
            list["items"].as_array().unwrap().iter().all(|t| t["active"] == false),
            "{list}"
        );
    }
);

both!(
    every_error_is_problem_json_and_answers_carry_the_edge_headers,
    |app: TestApp| async move {
        let raw = |req: Request<Body>| {
            let app = &app;
            async move { app.raw(req).await }
        };
        let problem =
            |res: &axum::response::Response| res.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();
        // A wrong method: 405 with Allow, as problem JSON.
        let res = raw(Request::put("/api/v1/customers")
            .header(header::COOKIE, &app.admin.cookie)
            .body(Body::empty())
            .unwrap())
        .await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(res.headers().contains_key(header::ALLOW));
        assert_eq!(problem(&res), "application/problem+json");
        assert_eq!(body_json(res).await["code"], "method_not_allowed");
        // A body over the limit: 413.
        let big = format!("{{\"kind\":\"person\",\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let res = raw(Request::post("/api/v1/customers")
            .header(header::COOKIE, &app.admin.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .unwrap())
        .await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(problem(&res), "application/problem+json");
        assert_eq!(body_json(res).await["code"], "payload_too_large");
        // A repeated query key: 422 invalid_query, not plain text.
        let (status, e) = app.get("/api/v1/customers?limit=1&limit=2", &app.admin).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query")),
            "{e}"
        );
        let (status, e) = app.get("/api/v1/ledger?staff_id=1&staff_id=2", &app.admin).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query")),
            "{e}"
        );
        // Unknown route and wrong media type.
        let (status, e) = app.get("/api/v1/nothing-here", &app.admin).await;
        assert_eq!((status, e["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let res = raw(Request::post("/api/v1/customers")
            .header(header::COOKIE, &app.admin.cookie)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .unwrap())
        .await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(problem(&res), "application/problem+json");
        // API answers are never cached or sniffed, errors included.
        for path in ["/api/v1/customers", "/api/v1/nothing-here"] {
            let res = raw(Request::get(path)
                .header(header::COOKIE, &app.admin.cookie)
                .body(Body::empty())
                .unwrap())
            .await;
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{path}");
            assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        }
        // Compressed when the client accepts it.
        for i in 0..5 {
            app.customer(&app.admin, &format!("压缩{i}"), &format!("1390000{i:04}"))
                .await;
        }
        for (accept, encoding) in [("gzip", "gzip"), ("br", "br")] {
            let res = raw(Request::get("/api/v1/customers")
                .header(header::COOKIE, &app.admin.cookie)
                .header(header::ACCEPT_ENCODING, accept)
                .body(Body::empty())
                .unwrap())
            .await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()[header::CONTENT_ENCODING], encoding);
        }
        // A wrong method on a page is a page, not an empty answer.
        let res = raw(Request::delete("/customers")
            .header(header::COOKIE, &app.admin.cookie)
            .body(Body::empty())
            .unwrap())
        .await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(problem(&res).starts_with("text/html"));
    }
);

both!(bad_input_is_refused_and_changes_nothing, |app: TestApp| async move {
    let before = app.get("/api/v1/customers", &app.admin).await.1["items"]
        .as_array()
        .unwrap()
        .len();
    // serde would read an array into the struct field by field: refused.
    let (status, e) = app
        .post(
            "/api/v1/customers",
            &app.admin,
            json!(["person", "数组客户", ["13500000001"]]),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
        "{e}"
    );
    let id = app.customer(&app.admin, "金额客户", "13500000002").await;
    let (status, e) = app
        .post(&format!("/api/v1/customers/{id}/claims"), &app.admin, json!([1]))
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
        "{e}"
    );
    // Amounts and dates have ranges.
    let (status, e) = app
        .post(
            &format!("/api/v1/customers/{id}/sales"),
            &app.admin,
            json!({"amount": i64::MAX}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_amount")),
        "{e}"
    );
    let (status, e) = app
        .post(
            &format!("/api/v1/customers/{id}/activities"),
            &app.admin,
            json!({"channel": "call", "at": "0001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_time")),
        "{e}"
    );
    let (status, e) = app
        .post(
            &format!("/api/v1/customers/{id}/claims"),
            &app.admin,
            json!({"contact_at": "0001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_time")),
        "{e}"
    );
    let (_, list) = app.get("/api/v1/customers", &app.admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        before + 1,
        "only the one good create"
    );
    let (_, sales) = app.get(&format!("/api/v1/customers/{id}/sales"), &app.admin).await;
    assert!(sales["items"].as_array().unwrap().is_empty(), "{sales}");
    let (_, claims) = app.get(&format!("/api/v1/customers/{id}/claims"), &app.admin).await;
    assert!(claims["items"].as_array().unwrap().is_empty(), "{claims}");
});

both!(the_session_cookie_is_secure_behind_https, |app: TestApp| async move {
    let login = |state: kehu_server::AppState, peer: &'static str, proto: Option<&'static str>| async move {
        use tower::ServiceExt;
        let mut req = Request::post("/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"username": "admin", "password": PASSWORD}).to_string(),
            ))
            .unwrap();
        if let Some(p) = proto {
            req.headers_mut().insert("x-forwarded-proto", p.parse().unwrap());
        }
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                peer.parse().unwrap(),
                4000,
            )));
        let res = kehu_server::app(state).oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.headers()[header::SET_COOKIE].to_str().unwrap().to_string()
    };
    let plain = login(app.state.clone(), "127.0.0.1", None).await;
    assert!(!plain.contains("Secure"), "{plain}");
    let db = app.second_db().await;
    let behind = kehu_server::AppState::new(db, false)
        .await
        .unwrap()
        .with_edge(kehu_server::edge::EdgeConfig {
            https: false,
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
        });
    assert!(
        login(behind.clone(), "10.0.0.1", Some("https"))
            .await
            .contains("; Secure")
    );
    // The same header from anyone else is not believed.
    assert!(!login(behind, "10.0.0.9", Some("https")).await.contains("Secure"));
    let public = kehu_server::AppState::new(app.second_db().await, false)
        .await
        .unwrap()
        .with_edge(kehu_server::edge::EdgeConfig {
            https: true,
            trusted_proxies: vec![],
        });
    assert!(login(public, "127.0.0.1", None).await.contains("; Secure"));
});

both!(
    nobody_confirms_their_own_card_and_roles_are_granted_only_downwards,
    |app: TestApp| async move {
        let leader = app.staff("leader1", "李组长", &["team_leader"]).await;
        let manager = app.staff("manager", "赵经理", &["sales_manager"]).await;
        let id = app.customer(&leader, "自签客户", "13600000001").await;
        let (_, claim) = app
            .post(&format!("/api/v1/customers/{id}/claims"), &leader, json!({}))
            .await;
        let (status, e) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &leader, json!({}))
            .await;
        assert_eq!(
            (status, e["code"].as_str(), e["rule"].as_str()),
            (StatusCode::FORBIDDEN, Some("own_claim"), Some("R5.1")),
            "{e}"
        );
        let (status, c) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &manager, json!({}))
            .await;
        assert_eq!((status, c["status"].as_str()), (StatusCode::OK, Some("valid")), "{c}");
        // A sales manager grants consultants and leaders, not the general manager's role.
        let new_staff = |username: &'static str, roles: Value| json!({"username": username, "password": PASSWORD, "display_name": username, "roles": roles});
        let (status, s) = app
            .post("/api/v1/staff", &manager, new_staff("c1", json!(["consultant"])))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        let (status, e) = app
            .post("/api/v1/staff", &manager, new_staff("gm2", json!(["general_manager"])))
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{e}"
        );
        let (status, _) = app
            .post("/api/v1/staff", &manager, new_staff("adm2", json!(["admin"])))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // ...nor manages someone who holds it, nor changes their own roles.
        let gm = app.staff("gm", "总经理", &["general_manager"]).await;
        let (status, _) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", gm.staff_id),
                Some(&manager),
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/staff/{}/password", gm.staff_id),
                Some(&manager),
                Some(json!({"password": "another-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", manager.staff_id),
                Some(&manager),
                Some(json!({"roles": ["general_manager"]})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The general manager may: promotes c1 to team leader.
        let (status, s) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", s["id"]),
                Some(&gm),
                Some(json!({"roles": ["team_leader"], "display_name": "钱组长"})),
            )
            .await;
        assert_eq!(
            (status, s["roles"].clone(), s["display_name"].as_str()),
            (StatusCode::OK, json!(["team_leader"]), Some("钱组长")),
            "{s}"
        );
    }
);

both!(
    units_form_a_tree_and_staff_passwords_are_reset,
    |app: TestApp| async move {
        let (_, company) = app.post("/api/v1/units", &app.admin, json!({"name": "都慧汽车"})).await;
        let (_, sales) = app
            .post(
                "/api/v1/units",
                &app.admin,
                json!({"name": "销售部", "parent_id": company["id"]}),
            )
            .await;
        let (status, team) = app
            .post(
                "/api/v1/units",
                &app.admin,
                json!({"name": "一组", "parent_id": sales["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{team}");
        // A unit cannot move below itself; a rename and a move are recorded.
        let (status, e) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/units/{}", sales["id"]),
                Some(&app.admin),
                Some(json!({"parent_id": team["id"]})),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unit_cycle"))
        );
        let (status, u) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/units/{}", team["id"]),
                Some(&app.admin),
                Some(json!({"name": "销售一组", "parent_id": company["id"]})),
            )
            .await;
        assert_eq!(
            (status, u["name"].as_str(), u["parent_id"].clone()),
            (StatusCode::OK, Some("销售一组"), company["id"].clone()),
            "{u}"
        );
        let (status, u) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/units/{}", team["id"]),
                Some(&app.admin),
                Some(json!({"parent_id": null})),
            )
            .await;
        assert_eq!((status, u["parent_id"].clone()), (StatusCode::OK, Value::Null));
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let (status, s) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", wang.staff_id),
                Some(&app.admin),
                Some(json!({"unit_id": team["id"]})),
            )
            .await;
        assert_eq!((status, s["unit_id"].clone()), (StatusCode::OK, team["id"].clone()));
        let (status, e) = app
            .call(
                Method::POST,
                &format!("/api/v1/staff/{}/password", wang.staff_id),
                Some(&app.admin),
                Some(json!({"password": "short"})),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
        );
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/staff/{}/password", wang.staff_id),
                Some(&app.admin),
                Some(json!({"password": "a-new-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get("/api/v1/me", &wang).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the reset ends her sessions");
        app.login_with("wangfang", "a-new-password").await;
        // The admin cannot deactivate themself.
        let (status, _) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/staff/{}", app.admin.staff_id),
                Some(&app.admin),
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, h) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(h["ok"], true, "{h}");
    }
);
