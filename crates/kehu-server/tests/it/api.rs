//! The API as docs/api.md specifies it, on both backends. Rule IDs proven are in the test names.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::both;
use crate::support::{Session, TestApp, body_json};

both!(
    every_endpoint_needs_auth_but_login_and_openapi,
    |app: TestApp| async move {
        for (m, p) in [
            (Method::GET, "/api/v1/customers"),
            (Method::POST, "/api/v1/customers"),
            (Method::GET, "/api/v1/customers/1"),
            (Method::GET, "/api/v1/customers/1/ownership"),
            (Method::GET, "/api/v1/claims/1"),
            (Method::GET, "/api/v1/history/verify"),
            (Method::GET, "/api/v1/policy"),
            (Method::GET, "/api/v1/clock"),
            (Method::POST, "/api/v1/tokens"),
        ] {
            let (status, body) = app.call(m.clone(), p, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {p}");
            assert_eq!(body["code"], "unauthorized", "{m} {p}: {body}");
        }
        let res = app
            .raw(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap())
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let doc = body_json(res).await;
        for path in [
            "/api/v1/customers",
            "/api/v1/customers/{id}/ownership",
            "/api/v1/claims/{id}/confirm",
            "/api/v1/clock/advance",
            "/api/v1/history/verify",
        ] {
            assert!(
                doc["paths"][path].is_object(),
                "{path} missing from the OpenAPI document"
            );
        }
        let (status, body) = app.call(Method::GET, "/api/v1/nope", Some(&app.admin), None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }
);

both!(
    a_failure_is_told_in_the_language_of_the_request,
    |app: TestApp| async move {
        // A use case fails without choosing a language; the edge writes the problem in the
        // request's language (`?lang=`, the `kehu_lang` cookie, `Accept-Language`), Chinese by default.
        let (status, zh) = app.get("/api/v1/customers/999999", &app.admin).await;
        assert_eq!(
            (status, zh["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        assert_eq!(zh["detail"], "找不到该客户", "{zh}");
        let (status, en) = app.get("/api/v1/customers/999999?lang=en", &app.admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(en["detail"], "No such customer", "{en}");
        assert_eq!(
            (en["code"].clone(), en["type"].clone()),
            (zh["code"].clone(), zh["type"].clone())
        );
        let res = app
            .raw(
                Request::get("/api/v1/customers/999999")
                    .header(header::COOKIE, &app.admin.cookie)
                    .header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json",
            "the answer stays problem JSON when it is written again"
        );
        assert_eq!(body_json(res).await["detail"], "No such customer");
        // So is a request refused before any use case runs (nobody logged in).
        let (_, logged_out) = app.call(Method::GET, "/api/v1/customers?lang=en", None, None).await;
        assert_eq!(
            logged_out["detail"], "Log in first, or send a valid API token",
            "{logged_out}"
        );
    }
);

both!(wrong_passwords_are_refused_then_throttled, |app: TestApp| async move {
    let try_login = |pw: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/session",
                None,
                Some(json!({"username": "admin", "password": pw})),
            )
            .await
        }
    };
    let (status, body) = try_login("wrong-password").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );
    for _ in 1..kehu_server::auth::MAX_PER_USERNAME {
        try_login("wrong-password").await;
    }
    // Even the right password waits now: the username is throttled.
    let (status, body) = try_login(crate::support::PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{body}"
    );
});

both!(bearer_tokens_work_and_bad_ones_do_not, |app: TestApp| async move {
    let (status, body) = app.post("/api/v1/tokens", &app.admin, json!({"name": "script"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    for (t, expect) in [
        (token.as_str(), StatusCode::OK),
        ("not-a-token", StatusCode::UNAUTHORIZED),
    ] {
        let res = app
            .raw(
                Request::get("/api/v1/clock")
                    .header(header::AUTHORIZATION, format!("Bearer {t}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), expect);
    }
});

both!(
    customers_are_created_read_and_duplicates_name_their_owner,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let (status, c) = app
        .post("/api/v1/customers", &wang, json!({"kind": "person", "name": " 王 小明 ", "phones": ["138 1234 5678"], "source": "来电", "agent": "链家"}))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["name"], "王 小明");
        let (_, claim) = app
            .post(&format!("/api/v1/customers/{id}/claims"), &wang, json!({}))
            .await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let (status, _) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &leader, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);

        let (status, got) = app.get(&format!("/api/v1/customers/{id}"), &wang).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["owner_id"], wang.staff_id);
        assert_eq!(got["phones"], json!(["138 1234 5678"]));
        assert_eq!(got["agent"], "链家");

        // The same phone written another way is the same person.
        let (status, dup) = app
            .post(
                "/api/v1/customers",
                &leader,
                json!({"kind": "person", "name": "王晓明", "phones": ["+86 138-1234-5678"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{dup}");
        assert_eq!(dup["code"], "duplicate_customer");
        assert_eq!(dup["duplicates"][0]["id"], id);
        assert_eq!(dup["duplicates"][0]["owner_id"], wang.staff_id);
        assert_eq!(dup["duplicates"][0]["matched_on"], "phone");
        assert!(dup["detail"].as_str().unwrap().contains("王芳"), "{dup}");

        // Company names fold their legal suffix.
        let (status, _) = app
            .post(
                "/api/v1/customers",
                &wang,
                json!({"kind": "company", "name": "华信科技有限公司"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, dup) = app
            .post(
                "/api/v1/customers",
                &wang,
                json!({"kind": "company", "name": "华信科技股份有限公司"}),
            )
            .await;
        assert_eq!(
            (status, dup["duplicates"][0]["matched_on"].as_str()),
            (StatusCode::CONFLICT, Some("company_name"))
        );

        // Bad input is refused with a stable code and changes nothing.
        for (body, code) in [
            (json!({"kind": "alien", "name": "x"}), "invalid_kind"),
            (json!({"kind": "person", "name": "  "}), "invalid_name"),
            (
                json!({"kind": "person", "name": "x", "phones": ["12ab"]}),
                "invalid_phone",
            ),
            (
                json!({"kind": "person", "name": "x", "referrer_id": 999999}),
                "invalid_referrer",
            ),
            (json!({"kind": "person"}), "invalid_body"),
        ] {
            let (status, err) = app.post("/api/v1/customers", &wang, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(err["code"], code, "{err}");
        }
        let (_, list) = app.get("/api/v1/customers", &wang).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        let (status, _) = app.get("/api/v1/customers/424242", &wang).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

both!(
    concurrent_creates_of_one_person_make_one_customer,
    |app: TestApp| async move {
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..20 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.post(
                    "/api/v1/customers",
                    &app.admin,
                    json!({"kind": "person", "name": format!("赵六{i}"), "phones": ["0086 139 0000 1111"]}),
                )
                .await
                .0
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(created, 1);
        let (_, list) = app.get("/api/v1/customers?q=13900001111", &app.admin).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }
);

both!(
    search_finds_any_part_of_a_chinese_name_or_phone,
    |app: TestApp| async move {
        let a = &app.admin;
        let zhangsan = app.customer(a, "张三", "13800000001").await;
        let zsf = app.customer(a, "张三丰", "13800000002").await;
        app.customer(a, "李四", "13800000003").await;
        let wl = app.customer(a, "Wang Lei", "13912345678").await;
        app.post(
            "/api/v1/customers",
            a,
            json!({"kind": "company", "name": "北京电力设备有限公司"}),
        )
        .await;
        let ids = |v: &serde_json::Value| {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        let (_, r) = app.get("/api/v1/customers?q=%E5%BC%A0%E4%B8%89", a).await; // 张三
        assert_eq!(ids(&r), vec![zsf, zhangsan]);
        let (_, r) = app.get("/api/v1/customers?q=%E4%B8%89%E4%B8%B0", a).await; // 三丰
        assert_eq!(ids(&r), vec![zsf]);
        let (_, r) = app.get("/api/v1/customers?q=%E7%94%B5%E5%8A%9B", a).await; // 电力
        assert_eq!(r["items"][0]["name"], "北京电力设备有限公司");
        // Phones: any run of four or more digits anywhere in the number (the middle four a
        // receptionist remembers, the last ones, the first ones), shown grouped.
        let (_, r) = app.get("/api/v1/customers?q=1234-5678", a).await;
        assert_eq!(ids(&r), vec![wl]);
        assert_eq!(r["items"][0]["phones"], json!(["139 1234 5678"]));
        let (_, r) = app.get("/api/v1/customers?q=9123", a).await;
        assert_eq!(ids(&r), vec![wl], "the middle digits: {r}");
        let (_, r) = app.get("/api/v1/customers?q=391234", a).await;
        assert_eq!(ids(&r), vec![wl]);
        // Digits that straddle the country code are not in the national number.
        let (_, r) = app.get("/api/v1/customers?q=8613", a).await;
        assert!(ids(&r).is_empty(), "{r}");
        let (_, r) = app.get("/api/v1/customers?q=0001", a).await;
        assert_eq!(ids(&r), vec![zhangsan]);
        let (_, r) = app.get("/api/v1/customers?q=138%200000", a).await;
        assert_eq!(ids(&r).len(), 3, "{r}");
        let (_, r) = app.get("/api/v1/customers?q=%2B86%20139%201234", a).await;
        assert_eq!(ids(&r), vec![wl]);
        let (_, r) = app.get("/api/v1/customers?q=9999", a).await;
        assert!(ids(&r).is_empty());
        let (_, r) = app.get("/api/v1/customers?q=ang%20le", a).await;
        assert_eq!(ids(&r), vec![wl]);
        // One or two Latin letters or digits: any part of the name, through their own terms.
        for q in ["wa", "w", "ei", "gl"] {
            let (_, r) = app.get(&format!("/api/v1/customers?q={q}"), a).await;
            assert_eq!(ids(&r), vec![wl], "{q}: {r}");
        }
        let (_, r) = app.get("/api/v1/customers?q=x", a).await;
        assert!(ids(&r).is_empty(), "{r}");
        let (_, r) = app.get("/api/v1/customers?q=%E7%8E%8B%E4%BA%94", a).await; // 王五
        assert!(ids(&r).is_empty());
        // Paging: newest first, the cursor continues where the page ended.
        let (_, p1) = app.get("/api/v1/customers?q=%E5%BC%A0&limit=1", a).await;
        assert_eq!(ids(&p1), vec![zsf]);
        let cursor = p1["next_cursor"].as_str().unwrap();
        let (_, p2) = app
            .get(&format!("/api/v1/customers?q=%E5%BC%A0&limit=1&cursor={cursor}"), a)
            .await;
        assert_eq!(ids(&p2), vec![zhangsan]);
        assert!(p2["next_cursor"].is_null());
        let (status, e) = app.get("/api/v1/customers?limit=501", a).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_limit"))
        );
    }
);

both!(
    r5_1_card_takes_effect_when_the_team_leader_signs,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        let id = app.customer(&wang, "钱七", "13700000007").await;
        let (status, claim) = app
            .post(&format!("/api/v1/customers/{id}/claims"), &wang, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{claim}");
        assert_eq!(claim["status"], "pending");
        assert!(claim["effective_at"].is_null());
        let (_, o) = app.get(&format!("/api/v1/customers/{id}/ownership"), &wang).await;
        assert!(o["owner_id"].is_null());
        assert!(o["decision"]["text"].as_str().unwrap().contains("尚待确认"), "{o}");

        // A consultant cannot sign; the refusal names the rule.
        let (status, e) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &wang, json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            (e["code"].as_str(), e["rule"].as_str()),
            (Some("forbidden"), Some("R5.1"))
        );

        let (status, c) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &leader, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "valid");
        assert_eq!(
            c["effective_at"], c["confirmed_at"],
            "signed later, it takes effect at the signature"
        );
        let (status, e) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &leader, json!({}))
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("claim_not_pending"))
        );
        let (_, got) = app.get(&format!("/api/v1/claims/{}", claim["id"]), &wang).await;
        assert_eq!(got["status"], "valid");

        let (_, o) = app.get(&format!("/api/v1/customers/{id}/ownership"), &wang).await;
        assert_eq!(o["owner_id"], wang.staff_id);
        assert_eq!(o["claim_id"], claim["id"]);
        assert_eq!(o["decision"]["rule"], "R5.5");
        assert_eq!(o["decision"]["policy_version"], crate::support::preset_version());
        let text = o["decision"]["text"].as_str().unwrap();
        assert!(
            text.starts_with("归王芳所有：王芳的登记于 ") && text.contains("经销售组长周组长确认生效"),
            "{text}"
        );
        let res = app
            .raw(
                Request::get(format!("/api/v1/customers/{id}/ownership"))
                    .header(header::COOKIE, &wang.cookie)
                    .header(header::ACCEPT_LANGUAGE, "en")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let en = body_json(res).await;
        assert!(
            en["decision"]["text"].as_str().unwrap().starts_with("Owned by 王芳"),
            "{en}"
        );
    }
);

both!(virtual r5_5_earliest_signature_wins_not_earliest_registration, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let li = app.staff("liqiang", "李强", &["consultant"]).await;
    let leader = app.staff("leader", "周组长", &["team_leader"]).await;
    let id = app.customer(&wang, "孙八", "13600000008").await;
    let (_, first) = app.post(&format!("/api/v1/customers/{id}/claims"), &wang, json!({})).await;
    let (_, second) = app.post(&format!("/api/v1/customers/{id}/claims"), &li, json!({})).await;
    let (status, again) = app.post(&format!("/api/v1/customers/{id}/claims"), &li, json!({})).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::CONFLICT, Some("already_claimed")));
    // Li's card is signed first, so Li owns, although Wang registered earlier.
    app.post(&format!("/api/v1/claims/{}/confirm", second["id"]), &leader, json!({})).await;
    app.post("/api/v1/clock/advance", &app.admin, json!({"seconds": 3600})).await;
    app.post(&format!("/api/v1/claims/{}/confirm", first["id"]), &leader, json!({})).await;
    let (_, o) = app.get(&format!("/api/v1/customers/{id}/ownership"), &wang).await;
    assert_eq!(o["owner_id"], li.staff_id);
    let text = o["decision"]["text"].as_str().unwrap();
    assert!(text.starts_with("归李强所有") && text.contains("早于王芳的登记（R5.5）"), "{text}");
    assert_eq!(o["decision"]["facts"]["claims"].as_array().unwrap().len(), 2);
});

both!(
    fifty_concurrent_claims_give_exactly_one_owner,
    |app: TestApp| async move {
        let now = jiff::Timestamp::now();
        let hash = kehu_server::auth::hash_password(crate::support::PASSWORD).unwrap();
        let mut staff_ids = Vec::new();
        for i in 0..50 {
            let s = kehu_store::staff::create(
                &app.state.db,
                app.tenant_id,
                None,
                kehu_store::staff::NewStaff {
                    username: &format!("c{i}"),
                    display_name: &format!("顾问{i}"),
                    password_hash: &hash,
                    unit_id: None,
                    roles: &["consultant".to_string()],
                },
                now,
            )
            .await
            .unwrap();
            staff_ids.push(s.id);
        }
        let id = app.customer(&app.admin, "周九", "13500000009").await;
        let app = std::sync::Arc::new(app);
        let register = staff_ids.iter().map(|sid| {
            let app = app.clone();
            let sid = *sid;
            tokio::spawn(async move {
                app.post(
                    &format!("/api/v1/customers/{id}/claims"),
                    &app.admin,
                    json!({"staff_id": sid}),
                )
                .await
            })
        });
        let mut claim_ids = Vec::new();
        for t in register.collect::<Vec<_>>() {
            let (status, c) = t.await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{c}");
            claim_ids.push(c["id"].as_i64().unwrap());
        }
        let confirm = claim_ids.iter().map(|cid| {
            let app = app.clone();
            let cid = *cid;
            tokio::spawn(async move {
                app.post(&format!("/api/v1/claims/{cid}/confirm"), &app.admin, json!({}))
                    .await
            })
        });
        for t in confirm.collect::<Vec<_>>() {
            let (status, c) = t.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{c}");
        }
        let (_, claims) = app.get(&format!("/api/v1/customers/{id}/claims"), &app.admin).await;
        let items = claims["items"].as_array().unwrap();
        assert_eq!(items.len(), 50);
        let earliest = items
            .iter()
            .min_by_key(|c| {
                let at: jiff::Timestamp = c["effective_at"].as_str().unwrap().parse().unwrap();
                (at, c["id"].as_i64().unwrap())
            })
            .unwrap();
        let (_, o) = app.get(&format!("/api/v1/customers/{id}/ownership"), &app.admin).await;
        assert_eq!(o["claim_id"], earliest["id"]);
        assert_eq!(o["owner_id"], earliest["staff_id"]);
        let (_, c) = app.get(&format!("/api/v1/customers/{id}"), &app.admin).await;
        assert_eq!(c["owner_id"], earliest["staff_id"]);
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
    }
);

both!(follow_ups_are_recorded_and_checked, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let id = app.customer(&wang, "吴十", "13400000010").await;
    let two_days_ago = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 2 * 86_400).unwrap();
    let (status, a) = app
        .post(
            &format!("/api/v1/customers/{id}/activities"),
            &wang,
            json!({"channel": "call", "note": "询问车型"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let (status, a2) = app
        .post(
            &format!("/api/v1/customers/{id}/activities"),
            &wang,
            json!({"channel": "walk_in", "at": two_days_ago.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a2}");
    assert_eq!(a2["at"], two_days_ago.to_string());
    for (body, code) in [
        (json!({"channel": "fax"}), "invalid_channel"),
        (json!({"channel": "call", "at": "yesterday"}), "invalid_time"),
        // Year 1 is further back than the policy's [limits] let anyone date a follow-up.
        (json!({"channel": "call", "at": "0001-01-01T00:00:00Z"}), "invalid_time"),
        (
            json!({"channel": "call", "at": "2999-01-01T00:00:00Z"}),
            "activity_in_future",
        ),
    ] {
        let (status, e) = app
            .post(&format!("/api/v1/customers/{id}/activities"), &wang, body)
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{e}"
        );
    }
    let (_, list) = app.get(&format!("/api/v1/customers/{id}/activities"), &wang).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["channel"], "call");
    let (status, _) = app
        .post("/api/v1/customers/999999/activities", &wang, json!({"channel": "call"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

both!(
    history_records_every_change_and_detects_tampering,
    |app: TestApp| async move {
        let leader = app.staff("leader", "周组长", &["team_leader"]).await;
        // Nobody signs their own card: another leader signs the leader's.
        let other = app.staff("leader2", "吴组长", &["team_leader"]).await;
        let id = app.customer(&leader, "郑十一", "13300000011").await;
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
        let (status, _) = app
            .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &other, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        app.post(
            &format!("/api/v1/customers/{id}/activities"),
            &leader,
            json!({"channel": "visit"}),
        )
        .await;
        let (status, h) = app.get(&format!("/api/v1/customers/{id}/history"), &leader).await;
        assert_eq!(status, StatusCode::OK);
        let items = h["items"].as_array().unwrap();
        let actions: Vec<String> = items
            .iter()
            .map(|e| format!("{}.{}", e["entity"].as_str().unwrap(), e["action"].as_str().unwrap()))
            .collect();
        assert_eq!(
            actions,
            ["activity.create", "claim.confirm", "claim.register", "customer.create"]
        );
        assert_eq!(items[1]["decision"]["rule"], "R5.1");
        assert_eq!(items[1]["actor_id"], other.staff_id);
        assert_eq!(items[1]["before"]["status"], "pending");
        assert_eq!(items[1]["after"]["status"], "valid");
        assert!(items[3]["decision"].is_null());

        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
        let total = v["events"].as_i64().unwrap();
        assert!(total >= 6);

        // An UPDATE done directly in SQL is found...
        let seq = items[2]["seq"].as_i64().unwrap();
        app.tamper(&format!(
            "UPDATE events SET after_json = replace(after_json, 'pending', 'valid') WHERE seq = {seq}"
        ))
        .await;
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["first_bad_event"].as_i64(), v["reason"].as_str()),
            (Some(false), Some(seq), Some("edited")),
            "{v}"
        );
        // ...and so is a DELETE, even of the edited event itself.
        app.tamper(&format!("DELETE FROM events WHERE seq = {seq}")).await;
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["first_bad_event"].as_i64()),
            (Some(false), Some(seq + 1)),
            "{v}"
        );
        // Deleting the newest event is found through the chain's head.
        let app2 = app;
        app2.tamper(&format!("DELETE FROM events WHERE seq >= {seq}")).await;
        let (_, v) = app2.get("/api/v1/history/verify", &app2.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["reason"].as_str()),
            (Some(false), Some("truncated")),
            "{v}"
        );
        // A consultant may not run the check.
        let wang = app2.staff("wangfang", "王芳", &["consultant"]).await;
        let (status, _) = app2.get("/api/v1/history/verify", &wang).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

both!(the_real_clock_cannot_be_moved, |app: TestApp| async move {
    let (status, e) = app
        .post("/api/v1/clock/advance", &app.admin, json!({"seconds": 60}))
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("clock_not_virtual"))
    );
});

both!(virtual the_virtual_clock_moves_forward_for_admins_only, |app: TestApp| async move {
    let (_, before) = app.get("/api/v1/clock", &app.admin).await;
    let before: jiff::Timestamp = before["now"].as_str().unwrap().parse().unwrap();
    let (status, r) = app.post("/api/v1/clock/advance", &app.admin, json!({"seconds": 3 * 86400})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["fired"], 0);
    let after: jiff::Timestamp = r["now"].as_str().unwrap().parse().unwrap();
    let moved = after.as_second() - before.as_second();
    assert!((3 * 86400..3 * 86400 + 60).contains(&moved), "moved {moved}s");
    let target = (after + jiff::SignedDuration::from_hours(24)).to_string();
    let (status, r) = app.post("/api/v1/clock/advance", &app.admin, json!({"to": target})).await;
    assert_eq!(status, StatusCode::OK);
    let now: jiff::Timestamp = r["now"].as_str().unwrap().parse().unwrap();
    assert!(now >= target.parse().unwrap(), "{now} < {target}");
    let (status, e) = app.post("/api/v1/clock/advance", &app.admin, json!({"seconds": -5})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_advance")));
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let (status, _) = app.post("/api/v1/clock/advance", &wang, json!({"seconds": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Claims registered now carry the virtual time.
    let id = app.customer(&wang, "冯十二", "13200000012").await;
    let (_, c) = app.post(&format!("/api/v1/customers/{id}/claims"), &wang, json!({})).await;
    let reg: jiff::Timestamp = c["registered_at"].as_str().unwrap().parse().unwrap();
    assert!(reg >= after);
});

both!(units_staff_and_policy, |app: TestApp| async move {
    let (status, u) = app.post("/api/v1/units", &app.admin, json!({"name": "销售部"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, t) = app
        .post(
            "/api/v1/units",
            &app.admin,
            json!({"name": "一组", "parent_id": u["id"]}),
        )
        .await;
    assert_eq!((status, t["parent_id"].clone()), (StatusCode::CREATED, u["id"].clone()));
    let (status, e) = app
        .post("/api/v1/units", &app.admin, json!({"name": "x", "parent_id": 9999}))
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_parent"))
    );
    let s = json!({"username": "zhou", "password": "password123", "display_name": "周", "unit_id": t["id"], "roles": ["team_leader"]});
    let (status, st) = app.post("/api/v1/staff", &app.admin, s.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{st}");
    assert!(st.get("password_hash").is_none());
    let (status, e) = app.post("/api/v1/staff", &app.admin, s).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_username"))
    );
    for (body, code) in [
        (
            json!({"username": "a b", "password": "password123", "display_name": "x", "roles": ["consultant"]}),
            "invalid_username",
        ),
        (
            json!({"username": "ab", "password": "short", "display_name": "x", "roles": ["consultant"]}),
            "weak_password",
        ),
        (
            json!({"username": "ab", "password": "password123", "display_name": "x", "roles": ["pilot"]}),
            "invalid_roles",
        ),
    ] {
        let (status, e) = app.post("/api/v1/staff", &app.admin, body).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{e}"
        );
    }
    let leader = app.login("zhou").await;
    let (status, _) = app
        .post(
            "/api/v1/staff",
            &leader,
            json!({"username": "x1", "password": "password123", "display_name": "x", "roles": ["consultant"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a team leader does not manage staff in the preset"
    );
    let (status, p) = app.get("/api/v1/policy", &leader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (p["id"].as_str(), p["version"].as_i64()),
        (
            Some("car-dealership"),
            Some(i64::from(crate::support::preset_version()))
        )
    );
    assert_eq!(
        p["claims"]["confirmation"]["roles"],
        json!(["team_leader", "sales_manager"])
    );
    assert_eq!(p["time_zone"], "Asia/Shanghai");
});

both!(
    r5_8_a_customer_source_is_one_of_the_policys_and_free_text_without_a_list,
    |app: TestApp| async move {
        let new = |name: &str, phone: &str, source: &str| json!({ "kind": "person", "name": name, "phones": [phone], "source": source });
        // By id, by name or by an older spelling: stored as the source's id.
        for (i, (given, stored)) in [
            ("walk_in", "walk_in"),
            ("来访", "walk_in"),
            ("到店", "walk_in"),
            ("Inbound call", "inbound_call"),
        ]
        .into_iter()
        .enumerate()
        {
            let (status, c) = app
                .post(
                    "/api/v1/customers",
                    &app.admin,
                    new(&format!("来源{i}"), &format!("1390000070{i}"), given),
                )
                .await;
            assert_eq!(
                (status, c["source"].as_str()),
                (StatusCode::CREATED, Some(stored)),
                "{c}"
            );
        }
        // Anything else is refused, naming the policy's sources.
        let (status, e) = app
            .post(
                "/api/v1/customers",
                &app.admin,
                new("钟先生", "13900000709", "电视广告"),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_source")),
            "{e}"
        );
        let ids: Vec<&str> = e["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"walk_in") && ids.contains(&"inbound_call"), "{e}");
        assert_eq!(e["sources"][1]["name"]["zh"], "来访", "{e}");
        assert!(e["detail"].as_str().unwrap().contains("来访（walk_in）"), "{e}");
        let (_, list) = app.get("/api/v1/customers?q=钟先生", &app.admin).await;
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            0,
            "a refused customer is not registered"
        );
        // A policy that lists no sources (one written before the list) takes free text as written.
        let (file, src) = crate::support::preset();
        let mut free = String::new();
        let mut skip = false;
        for l in src.lines() {
            if l.starts_with('[') {
                skip = l == "[[customers.sources]]";
            }
            if !skip {
                free.push_str(l);
                free.push('\n');
            }
        }
        let free = free
            .replace(
                "sources = [\"inbound_call\", \"walk_in\"]",
                "sources = [\"来电\", \"来访\"]",
            )
            .replace(
                "sources = [\"friend_referral\", \"customer_referral\"]",
                "sources = [\"朋友介绍\"]",
            );
        let policy = kehu_domain::Policy::parse(&free, &file).unwrap();
        assert!(policy.customers.sources.is_empty());
        let t = kehu_store::tenants::create(
            &app.state.db,
            "freetext",
            "自由文本公司",
            &policy,
            &free,
            &file,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
        let hash = kehu_server::auth::hash_password("tenant-admin-pw").unwrap();
        let mut admin = kehu_store::staff::NewStaff::admin(&hash);
        admin.username = "freeadmin";
        kehu_store::staff::create(&app.state.db, t.id, None, admin, jiff::Timestamp::now())
            .await
            .unwrap();
        let free_admin = app.login_with("freeadmin", "tenant-admin-pw").await;
        let (status, c) = app
            .post(
                "/api/v1/customers",
                &free_admin,
                new("钟先生", "13900000709", "电视广告"),
            )
            .await;
        assert_eq!(
            (status, c["source"].as_str()),
            (StatusCode::CREATED, Some("电视广告")),
            "{c}"
        );
    }
);

both!(another_tenant_sees_nothing_of_this_one, |app: TestApp| async move {
    let id = app.customer(&app.admin, "陈十三", "13100000013").await;
    let (file, src) = crate::support::preset();
    let policy = kehu_domain::Policy::parse(&src, &file).unwrap();
    let now = jiff::Timestamp::now();
    let other = kehu_store::tenants::create(&app.state.db, "other", "别家", &policy, &src, &file, now)
        .await
        .unwrap();
    let hash = kehu_server::auth::hash_password(crate::support::PASSWORD).unwrap();
    kehu_store::staff::create(
        &app.state.db,
        other.id,
        None,
        kehu_store::staff::NewStaff {
            username: "outsider",
            display_name: "外人",
            password_hash: &hash,
            unit_id: None,
            roles: &["admin".to_string()],
        },
        now,
    )
    .await
    .unwrap();
    let outsider: Session = app.login("outsider").await;
    // One username in both tenants: the password tells which is meant; the same password in
    // both is ambiguous and needs `tenant`.
    let ours = app.staff("zhou", "周", &["consultant"]).await;
    let other_hash = kehu_server::auth::hash_password("other-password-1").unwrap();
    kehu_store::staff::create(
        &app.state.db,
        other.id,
        None,
        kehu_store::staff::NewStaff {
            username: "zhou",
            display_name: "周",
            password_hash: &other_hash,
            unit_id: None,
            roles: &["consultant".to_string()],
        },
        now,
    )
    .await
    .unwrap();
    let login = |pw: &'static str, tenant: Option<&'static str>| {
        let app = &app;
        async move {
            let mut body = json!({"username": "zhou", "password": pw});
            if let Some(t) = tenant {
                body["tenant"] = json!(t);
            }
            app.call(Method::POST, "/api/v1/session", None, Some(body)).await
        }
    };
    let (status, s) = login(crate::support::PASSWORD, None).await;
    assert_eq!(
        (status, s["staff"]["id"].as_i64()),
        (StatusCode::OK, Some(ours.staff_id))
    );
    let (status, s) = login("other-password-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(s["staff"]["id"].as_i64(), Some(ours.staff_id));
    let (status, _) = login("other-password-1", Some("acme")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the tenant narrows the match");
    for path in [
        format!("/api/v1/customers/{id}"),
        format!("/api/v1/customers/{id}/ownership"),
        format!("/api/v1/customers/{id}/history"),
    ] {
        let (status, _) = app.get(&path, &outsider).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, list) = app.get("/api/v1/customers", &outsider).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, _) = app
        .post(&format!("/api/v1/customers/{id}/claims"), &outsider, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same phone may exist once per tenant.
    let (status, _) = app
        .post(
            "/api/v1/customers",
            &outsider,
            json!({"kind": "person", "name": "陈", "phones": ["13100000013"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
});

both!(
    two_processes_writing_keep_one_verified_chain,
    |app: TestApp| async move {
        // Each handle remembers the chain's head it last wrote; the other handle's writes make that
        // memory stale, which must cost a re-read, never a fork.
        let other = app.second_db().await;
        let now = jiff::Timestamp::now();
        for i in 0..10 {
            let db = if i % 2 == 0 { &app.state.db } else { &other };
            kehu_store::units::create(db, app.tenant_id, None, &format!("组{i}"), None, now)
                .await
                .unwrap();
        }
        // A rolled-back write leaves a head in memory that was never stored.
        let mut tx = other.begin().await.unwrap();
        kehu_store::history::append(
            &mut tx,
            app.tenant_id,
            now,
            kehu_store::history::NewEvent {
                entity: "unit",
                action: "probe",
                ..Default::default()
            },
        )
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        kehu_store::units::create(&other, app.tenant_id, None, "回滚之后", None, now)
            .await
            .unwrap();
        kehu_store::units::create(&app.state.db, app.tenant_id, None, "最后", None, now)
            .await
            .unwrap();
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
        let (_, units) = app.get("/api/v1/units", &app.admin).await;
        // Twelve written here, and the test's own unit.
        assert_eq!(units["items"].as_array().unwrap().len(), 13);
    }
);

both!(
    search_finds_the_same_before_and_after_indexing,
    |app: TestApp| async move {
        let a = &app.admin;
        for (name, phone) in [
            ("张三", "13800000001"),
            ("张三丰", "13800000002"),
            ("李四", "13800000003"),
            ("张伟", "13800000004"),
            ("Zhang Wei", "175 6150 2287"),
        ] {
            app.customer(a, name, phone).await;
        }
        let queries = [
            "%E5%BC%A0",
            "%E5%BC%A0%E4%B8%89",
            "%E4%B8%89%E4%B8%B0",
            "%E6%9D%8E%E5%9B%9B",
            "%E7%8E%8B",
            "zh",
            "w",
            "angw",
            "6150",
            "15022",
            "0000",
            "00003",
            "%2B86175",
            "8617",
        ];
        let mut before = Vec::new();
        for q in queries {
            before.push(app.get(&format!("/api/v1/customers?q={q}"), a).await.1["items"].clone());
        }
        assert_eq!(
            before[0].as_array().unwrap().len(),
            3,
            "found from the queue before indexing"
        );
        let counts: Vec<usize> = before.iter().map(|b| b.as_array().unwrap().len()).collect();
        assert_eq!(counts, [3, 2, 1, 1, 0, 1, 1, 1, 1, 1, 4, 1, 1, 0], "{before:?}");
        assert_eq!(kehu_store::customers::pending_count(&app.state.db).await.unwrap(), 5);
        assert_eq!(kehu_server::indexer::drain(&app.state.db).await.unwrap(), 5);
        assert_eq!(kehu_store::customers::pending_count(&app.state.db).await.unwrap(), 0);
        for (q, b) in queries.iter().zip(&before) {
            let (_, after) = app.get(&format!("/api/v1/customers?q={q}"), a).await;
            assert_eq!(&after["items"], b, "query {q}");
        }
        // A customer registered after indexing is found with the indexed ones.
        let newest = app.customer(a, "张小明", "13800000005").await;
        let (_, r) = app.get("/api/v1/customers?q=%E5%BC%A0&limit=2", a).await;
        assert_eq!(r["items"][0]["id"], newest);
        assert_eq!(r["items"].as_array().unwrap().len(), 2);
        assert!(r["next_cursor"].is_string());
    }
);

both!(bad_input_is_a_problem_not_a_crash, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let id = app.customer(&wang, "何十四", "13000000014").await;
    // The history needs history.read, which the preset's consultants lack.
    let (status, e) = app.get(&format!("/api/v1/customers/{id}/history"), &wang).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    for (path, code) in [
        ("/api/v1/customers?limit=abc", "invalid_limit"),
        ("/api/v1/customers?cursor=x", "invalid_cursor"),
        ("/api/v1/customers?q=a%00b", "invalid_query"),
    ] {
        let (status, e) = app.get(path, &wang).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{path}: {e}"
        );
    }
    let long = "张".repeat(101);
    let (status, e) = app.get(&format!("/api/v1/customers?q={long}"), &wang).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query"))
    );
    let (status, e) = app
        .post("/api/v1/customers", &wang, json!({"kind": "person", "name": "a\u{0}b"}))
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
        "{e}"
    );
    let (status, e) = app
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"username": "a\u{0}", "password": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Punctuation between short pieces is searched as typed, not ignored.
    let (_, r) = app.get("/api/v1/customers?q=a-b", &wang).await;
    assert!(r["items"].as_array().unwrap().is_empty(), "{r}");
    // An event slipped in after the chain's head is found.
    app.tamper(&format!(
        "INSERT INTO events (tenant_id, seq, at_ms, entity, entity_id, action, prev_hash, hash) VALUES ({}, 100000, 0, 'customer', {id}, 'delete', 'x', 'y')",
        app.tenant_id
    ))
    .await;
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], false, "{v}");
});

both!(
    concurrent_creates_with_some_duplicates_keep_each_all_or_nothing,
    |app: TestApp| async move {
        // On SQLite these share group-committed transactions; a duplicate must undo only itself.
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..40 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let phone = format!("1370000{:04}", i % 10);
                app.post(
                    "/api/v1/customers",
                    &app.admin,
                    json!({"kind": "person", "name": format!("客户{i}"), "phones": [phone]}),
                )
                .await
            }));
        }
        let (mut created, mut dups) = (0, 0);
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(body["code"], "duplicate_customer");
                    assert_eq!(body["duplicates"].as_array().unwrap().len(), 1, "{body}");
                    dups += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!((created, dups), (10, 30));
        let (_, list) = app.get("/api/v1/customers?limit=100", &app.admin).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 10);
        for c in items {
            assert_eq!(c["phones"].as_array().unwrap().len(), 1, "{c}");
            let (_, h) = app
                .get(&format!("/api/v1/customers/{}/history", c["id"]), &app.admin)
                .await;
            assert_eq!(h["items"].as_array().unwrap().len(), 1, "one create event each");
        }
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
    }
);
