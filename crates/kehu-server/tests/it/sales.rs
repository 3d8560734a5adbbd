//! Who a sale counts for, through the API: a friend-referred customer belongs to whoever closes
//! and special cases are signed by the leader and the manager (car-dealership, R5.7); at an event
//! a sale counts for the current inviter and helpers need consent (event-customers, R11.5), and the
//! existing customer who brought a new one earns points when the new one is checked in at the
//! event and for what they buy there (R11.2).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp};
use crate::timed::{staff_of, tenant_on};

async fn customer_from(app: &TestApp, s: &Session, name: &str, phone: &str, source: &str) -> i64 {
    let (status, c) = app
        .post(
            "/api/v1/customers",
            s,
            json!({ "kind": "person", "name": name, "phones": [phone], "source": source }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

async fn signed(app: &TestApp, holder: &Session, leader: &Session, customer: i64, body: Value) -> Value {
    let (status, claim) = app
        .post(&format!("/api/v1/customers/{customer}/claims"), holder, body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{claim}");
    let (status, claim) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), leader, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    claim
}

async fn owner(app: &TestApp, s: &Session, customer: i64) -> Value {
    let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), s).await;
    o["owner_id"].clone()
}

both!(
    r5_7_a_referred_customer_belongs_to_whoever_closes_and_special_cases_need_leader_and_manager,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let liu = app.staff("liuyang", "刘洋", &["consultant"]).await;
        let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
        let manager = app.staff("manager", "钱经理", &["sales_manager"]).await;
        let referred = customer_from(&app, &wang, "孙先生", "13900000801", "朋友介绍").await;
        let card = signed(&app, &wang, &leader, referred, json!({})).await;
        assert_eq!(owner(&app, &leader, referred).await, wang.staff_id);

        // Bad input changes nothing.
        let (status, e) = app
            .post(
                &format!("/api/v1/customers/{referred}/sales"),
                &liu,
                json!({ "amount": 0 }),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_amount")),
            "{e}"
        );
        let (status, e) = app
            .post(
                &format!("/api/v1/customers/{referred}/sales"),
                &liu,
                json!({ "amount": "lots" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // Liu closes the referred customer: the sale and the customer are Liu's; Wang's card ends.
        let (status, sale) = app
            .post(
                &format!("/api/v1/customers/{referred}/sales"),
                &liu,
                json!({ "amount": 12_800_000, "note": "全款" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sale}");
        assert_eq!(
            (sale["credited_to"].as_i64(), sale["rule"].as_str()),
            (Some(liu.staff_id), Some("R5.7")),
            "{sale}"
        );
        assert!(
            sale["decision"]["text"].as_str().unwrap().contains("从王芳转归刘洋"),
            "{sale}"
        );
        let (_, old) = app.get(&format!("/api/v1/claims/{}", card["id"]), &leader).await;
        assert_eq!(
            (old["status"].as_str(), old["ended_rule"].as_str()),
            (Some("expired"), Some("R5.7")),
            "{old}"
        );
        assert_eq!(owner(&app, &leader, referred).await, liu.staff_id);

        // A customer who came in by phone stays with the owner: the sale counts for Wang.
        let called = customer_from(&app, &wang, "周女士", "13900000802", "来电").await;
        signed(&app, &wang, &leader, called, json!({})).await;
        // Liu, who served her, sees Wang's customer once she registers her own card (several
        // cards may stand, R5.5); before that the customer is not hers to see.
        let (status, _) = app.get(&format!("/api/v1/customers/{called}"), &liu).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .post(&format!("/api/v1/customers/{called}/claims"), &liu, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, sale) = app
            .post(
                &format!("/api/v1/customers/{called}/sales"),
                &liu,
                json!({ "amount": 9_000_000 }),
            )
            .await;
        assert_eq!(
            (sale["credited_to"].as_i64(), sale["rule"].as_str()),
            (Some(wang.staff_id), Some("R5.5")),
            "{sale}"
        );
        assert_eq!(owner(&app, &leader, called).await, wang.staff_id);

        // A special case: the leader and the manager both sign to credit Liu.
        let path = format!("/api/v1/sales/{}/credit", sale["id"]);
        let body = json!({ "to_staff_id": liu.staff_id, "reason": "刘洋全程接待并试驾" });
        let (status, e) = app.post(&path, &wang, body.clone()).await;
        assert_eq!(
            (status, e["rule"].as_str()),
            (StatusCode::FORBIDDEN, Some("R5.7")),
            "{e}"
        );
        let (status, first) = app.post(&path, &leader, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(
            (
                first["sale"]["credited_to"].as_i64(),
                first["sale"]["change_signed"][0].as_str()
            ),
            (Some(wang.staff_id), Some("team_leader"))
        );
        let (status, e) = app.post(&path, &leader, body.clone()).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("already_signed")),
            "{e}"
        );
        let (status, done) = app.post(&path, &manager, body).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(
            (done["sale"]["credited_to"].as_i64(), done["sale"]["rule"].as_str()),
            (Some(liu.staff_id), Some("R5.7"))
        );
        let (_, list) = app.get(&format!("/api/v1/customers/{called}/sales"), &leader).await;
        assert_eq!(list["items"][0]["credited_name"], "刘洋", "{list}");
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
    }
);

both!(virtual r11_5_a_sale_at_an_event_counts_for_the_current_inviter_and_helpers_need_consent_and_r11_2_the_referrer_earns_points, |app: TestApp| async move {
    let admin = tenant_on(&app, "event-customers", "helpers").await;
    let mut units = Vec::new();
    for name in ["第一事业部", "第二事业部"] {
        let (_, u) = app.post("/api/v1/units", &admin, json!({ "name": name })).await;
        units.push(u["id"].as_i64().unwrap());
    }
    let head = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(units[0])).await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(units[0])).await;
    let zhao = staff_of(&app, &admin, "xiaozhao", "小赵", "sales", Some(units[1])).await;
    let gm = staff_of(&app, &admin, "gm", "总经理", "general_manager", None).await;
    let start = (app.state.now() + jiff::SignedDuration::from_hours(24 * 3)).to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()).date().at(19, 0, 0, 0).to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()).unwrap().timestamp();
    let (status, event) = app
        .post("/api/v1/events", &gm, json!({ "name": "健康讲座", "starts_at": start.to_string(), "session": "evening", "division_ids": units }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let ev = event["id"].as_i64().unwrap();
    // R11.2: 张阿姨, an existing customer, brought 李阿姨.
    let referrer = customer_from(&app, &wang, "张阿姨", "13900000900", "event_files").await;
    let (status, c) = app
        .post(
            "/api/v1/customers",
            &wang,
            json!({ "kind": "person", "name": "李阿姨", "phones": ["13900000901"], "source": "customer_referral", "referrer_id": referrer }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let customer = c["id"].as_i64().unwrap();
    let points = |l: &Value| -> Vec<(String, i64)> {
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["customer_id"] == referrer)
            .map(|e| (e["code"].as_str().unwrap().to_string(), e["points"].as_i64().unwrap()))
            .collect()
    };
    signed(&app, &wang, &head, customer, json!({ "event_id": ev })).await;
    // The confirmed invitation does not bring her to the event yet; her check-in there does:
    // 100 points for 张阿姨, once.
    let (_, l) = app.get("/api/v1/ledger", &gm).await;
    assert!(points(&l).is_empty(), "{l}");
    let (status, r) = app
        .post("/api/v1/clock/advance", &app.admin, json!({ "to": (start - jiff::SignedDuration::from_hours(1)).to_string() }))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (status, c) = app.post(&format!("/api/v1/events/{ev}/attendance"), &gm, json!({ "customer_id": customer })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let (_, l) = app.get("/api/v1/ledger", &gm).await;
    assert_eq!(points(&l), [("referral_new_customer".to_string(), 100)], "{l}");

    // Zhao (the earlier follower, say) closes at the event without consent: refused.
    let sale = json!({ "amount": 300_000, "event_id": ev });
    let (status, e) = app.post(&format!("/api/v1/customers/{customer}/sales"), &zhao, sale.clone()).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("no_consent"), Some("R11.5")), "{e}");
    // Only the current inviter consents.
    let consent = json!({ "customer_id": customer, "helper_id": zhao.staff_id });
    let (status, e) = app.post(&format!("/api/v1/events/{ev}/helpers"), &zhao, consent.clone()).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (status, d) = app.post(&format!("/api/v1/events/{ev}/helpers"), &wang, consent).await;
    assert_eq!((status, d["rule"].as_str()), (StatusCode::OK, Some("R11.5")), "{d}");
    // With consent Zhao helps; the sale counts for Wang, who keeps the customer.
    let (status, s) = app.post(&format!("/api/v1/customers/{customer}/sales"), &zhao, sale).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!((s["credited_to"].as_i64(), s["closed_by"].as_i64(), s["rule"].as_str()), (Some(wang.staff_id), Some(zhao.staff_id), Some("R11.5")));
    assert_eq!(owner(&app, &admin, customer).await, wang.staff_id);
    // R11.2: 3,000 yuan at the event is three full thousands: 300 more points for 张阿姨.
    let (_, l) = app.get("/api/v1/ledger", &gm).await;
    let mut got = points(&l);
    got.sort();
    assert_eq!(
        got,
        [("referral_new_customer".to_string(), 100), ("referral_sales".to_string(), 300)],
        "{l}"
    );
    let sale_entry = l["items"].as_array().unwrap().iter().find(|e| e["code"] == "referral_sales").unwrap();
    assert_eq!((sale_entry["rule"].as_str(), sale_entry["quantity"].as_i64()), (Some("R11.2"), Some(3)));
    // The code is the rule's: a manager cannot enter it by hand.
    let (status, e) = app
        .post("/api/v1/ledger", &gm, json!({ "customer_id": referrer, "code": "referral_sales" }))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("automatic_code")), "{e}");
});
