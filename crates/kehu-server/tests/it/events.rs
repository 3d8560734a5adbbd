//! Joint events of two divisions (event-customers preset, docs/rulebooks.md, R11.3) walked through the API
//! on the virtual clock: daily filing cut-offs, the event-day cut-off with the first division a
//! day ahead, the head's fine, and a customer lost to the other division.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp};
use crate::timed::{staff_of, tenant_on};

/// Shanghai wall-clock time as RFC 3339.
fn local(s: &str) -> String {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    dt.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
        .to_string()
}

async fn clock_to(app: &TestApp, s: &str) -> u64 {
    let (status, r) = app
        .post("/api/v1/clock/advance", &app.admin, json!({ "to": local(s) }))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r["fired"].as_u64().unwrap()
}

async fn unit(app: &TestApp, admin: &Session, name: &str) -> i64 {
    let (status, u) = app.post("/api/v1/units", admin, json!({ "name": name })).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_i64().unwrap()
}

/// `who` invites a new customer to the event and `head` confirms: the valid invitation.
async fn invite(app: &TestApp, who: &Session, head: &Session, event: i64, name: &str, phone: &str) -> Value {
    let (status, c) = app
        .post(
            "/api/v1/customers",
            who,
            json!({ "kind": "person", "name": name, "phones": [phone] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    invite_existing(app, who, head, event, c["id"].as_i64().unwrap()).await
}

async fn invite_existing(app: &TestApp, who: &Session, head: &Session, event: i64, customer: i64) -> Value {
    let (status, claim) = app
        .post(
            &format!("/api/v1/customers/{customer}/claims"),
            who,
            json!({ "event_id": event }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{claim}");
    assert_eq!(claim["event_id"], event);
    let (status, claim) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), head, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    claim
}

async fn fines(app: &TestApp, admin: &Session, head: &Session) -> Vec<Value> {
    let (status, l) = app
        .get(&format!("/api/v1/ledger?staff_id={}", head.staff_id), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    l["items"].as_array().unwrap().clone()
}

both!(virtual r11_3_divisions_file_by_the_cut_off_or_the_head_is_fined_and_the_customer_goes_to_the_other, |app: TestApp| async move {
    let admin = tenant_on(&app, "event-customers", "joint").await;
    let d1 = unit(&app, &admin, "第一事业部").await;
    let d2 = unit(&app, &admin, "第二事业部").await;
    let head1 = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(d1)).await;
    let head2 = staff_of(&app, &admin, "head2", "吴经理", "division_head", Some(d2)).await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(d1)).await;
    let li = staff_of(&app, &admin, "xiaoli", "小李", "sales", Some(d2)).await;
    let coordinator = staff_of(&app, &admin, "xietiao", "郑协调", "coordinator", None).await;
    clock_to(&app, "2027-03-01T09:00").await;

    // Only an organiser schedules; a joint event needs two divisions and a known session.
    let body = |divisions: Value, session: &str| {
        json!({ "name": "春季健康讲座", "starts_at": local("2027-03-08T14:00"), "session": session, "division_ids": divisions })
    };
    let (status, e) = app.post("/api/v1/events", &wang, body(json!([d1, d2]), "afternoon")).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden"), Some("R11.3")));
    let (status, e) = app.post("/api/v1/events", &coordinator, body(json!([d1]), "afternoon")).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("divisions_required")), "{e}");
    let (status, e) = app.post("/api/v1/events", &coordinator, body(json!([d1, d2]), "morning")).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_session")), "{e}");
    let (status, e) = app.post("/api/v1/events", &coordinator, body(json!([d1, 999_999]), "afternoon")).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_unit")), "{e}");
    let (_, listed) = app.get("/api/v1/events", &admin).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "refused requests change nothing");
    let (status, event) = app.post("/api/v1/events", &coordinator, body(json!([d1, d2]), "afternoon")).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let ev = event["id"].as_i64().unwrap();
    // The second division closes at 10:00 on the event day; the first a day ahead.
    assert_eq!(event["divisions"][0]["closes_at"], local("2027-03-07T10:00"));
    assert_eq!(event["divisions"][1]["closes_at"], local("2027-03-08T10:00"));

    // Day one: each division confirms an invitation; it is due at 18:00.
    let aunt = invite(&app, &wang, &head1, ev, "李阿姨", "13900000501").await;
    assert_eq!(aunt["filing_due"], local("2027-03-01T18:00"));
    let uncle = invite(&app, &li, &head2, ev, "王大爷", "13900000502").await;
    // Only a head of a taking-part division files, and only their own division's.
    let (status, e) = app.post(&format!("/api/v1/events/{ev}/filings"), &li, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (status, e) = app.post(&format!("/api/v1/events/{ev}/filings"), &coordinator, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_a_division")), "{e}");
    clock_to(&app, "2027-03-01T17:00").await;
    let (status, filed) = app.post(&format!("/api/v1/events/{ev}/filings"), &head2, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert_eq!(filed["items"][0]["id"], uncle["id"]);
    assert_eq!(filed["decision"]["rule"], "R11.3");
    assert_eq!(filed["decision"]["facts"]["invitations"][0]["late"], false);
    let (status, e) = app.post(&format!("/api/v1/events/{ev}/filings"), &head2, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_file")), "{e}");

    // 18:00 passes with division one's filing missing: its head is fined 10 yuan, once.
    assert_eq!(clock_to(&app, "2027-03-01T18:01").await, 1);
    let f = fines(&app, &admin, &head1).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0]["code"].as_str(), f[0]["rule"].as_str(), f[0]["amount"].as_i64()), (Some("filing_late"), Some("R11.3"), Some(1000)));
    assert!(fines(&app, &admin, &head2).await.is_empty());

    // Next morning division two invites and confirms the same customer while division one's
    // filing is still late: the customer goes to division two.
    clock_to(&app, "2027-03-02T09:00").await;
    let taken = invite_existing(&app, &li, &head2, ev, aunt["customer_id"].as_i64().unwrap()).await;
    let (_, lost) = app.get(&format!("/api/v1/claims/{}", aunt["id"]), &admin).await;
    assert_eq!((lost["status"].as_str(), lost["ended_rule"].as_str()), (Some("expired"), Some("R11.3")), "{lost}");
    let (_, owner) = app
        .get(&format!("/api/v1/customers/{}/ownership", aunt["customer_id"]), &admin)
        .await;
    assert_eq!(owner["claim_id"], taken["id"], "{owner}");
    let (_, h) = app.get(&format!("/api/v1/customers/{}/history", aunt["customer_id"]), &admin).await;
    let event = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "lost_to_division").unwrap();
    assert!(event["decision"]["text"].as_str().unwrap().contains("判归第二事业部"), "{event}");
    // Nothing of division one is left to file; division two files its new invitation late-free.
    let (status, e) = app.post(&format!("/api/v1/events/{ev}/filings"), &head1, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_file")), "{e}");
    let (status, _) = app.post(&format!("/api/v1/events/{ev}/filings"), &head2, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // The first division closes at 10:00 the day before the event: an invitation confirmed at
    // 09:00 is due at 10:00, and after 10:00 it takes no more.
    clock_to(&app, "2027-03-07T09:00").await;
    let late = invite(&app, &wang, &head1, ev, "张先生", "13900000503").await;
    assert_eq!(late["filing_due"], local("2027-03-07T10:00"));
    clock_to(&app, "2027-03-07T11:00").await;
    let (_, c) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "赵女士", "phones": ["13900000504"] }))
        .await;
    let (status, e) = app
        .post(&format!("/api/v1/customers/{}/claims", c["id"]), &wang, json!({ "event_id": ev }))
        .await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("invitations_closed"), Some("R11.3")), "{e}");
    // The second division still invites: due at 18:00 that day.
    let open = invite_existing(&app, &li, &head2, ev, c["id"].as_i64().unwrap()).await;
    assert_eq!(open["filing_due"], local("2027-03-07T18:00"));
    // The missed 10:00 cut-off is a second day late: a second fine.
    let f = fines(&app, &admin, &head1).await;
    assert_eq!(f.len(), 2, "{f:?}");
    // Filing late still files, and says it was late.
    let (_, filed) = app.post(&format!("/api/v1/events/{ev}/filings"), &head1, json!({})).await;
    assert_eq!(filed["decision"]["facts"]["invitations"][0]["late"], true, "{filed}");
    let (_, one) = app.get(&format!("/api/v1/events/{ev}"), &wang).await;
    let invitations = one["divisions"][0]["invitations"].as_array().unwrap();
    assert_eq!(invitations.len(), 2);
    assert!(invitations.iter().all(|i| i["filed_at"].is_string() || i["status"] == "expired"), "{one}");
    // A filing after the cut-off that the scheduler has not fired yet (the clock moved without
    // a sweep) still charges the head, once.
    assert!(fines(&app, &admin, &head2).await.is_empty());
    let late_at: jiff::Timestamp = local("2027-03-07T19:00").parse().unwrap();
    app.state
        .clock
        .set_offset_ms(late_at.as_millisecond() - jiff::Timestamp::now().as_millisecond());
    let (status, filed) = app.post(&format!("/api/v1/events/{ev}/filings"), &head2, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert_eq!(filed["decision"]["facts"]["invitations"][0]["late"], true, "{filed}");
    assert_eq!(fines(&app, &admin, &head2).await.len(), 1);
    assert_eq!(clock_to(&app, "2027-03-07T20:00").await, 0, "the filing took the deadline");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r11_4_once_a_division_confirmed_a_customer_another_division_may_not_invite_them, |app: TestApp| async move {
    let admin = tenant_on(&app, "event-customers", "one").await;
    let d1 = unit(&app, &admin, "第一事业部").await;
    let d2 = unit(&app, &admin, "第二事业部").await;
    let head1 = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(d1)).await;
    let head2 = staff_of(&app, &admin, "head2", "吴经理", "division_head", Some(d2)).await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(d1)).await;
    let zhou = staff_of(&app, &admin, "xiaozhou", "小周", "sales", Some(d1)).await;
    let li = staff_of(&app, &admin, "xiaoli", "小李", "sales", Some(d2)).await;
    let chen = staff_of(&app, &admin, "xiaochen", "小陈", "sales", Some(d2)).await;
    let coordinator = staff_of(&app, &admin, "xietiao", "郑协调", "coordinator", None).await;
    clock_to(&app, "2027-03-01T09:00").await;
    let refused = |e: &Value| (e["code"].as_str().map(str::to_string), e["rule"].as_str().map(str::to_string));
    let r114 = (Some("invited_by_other_division".to_string()), Some("R11.4".to_string()));

    // Li registers 孙阿姨 first, but division one's invitation is confirmed first: it wins.
    let (_, c) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "孙阿姨", "phones": ["13900000601"] }))
        .await;
    let aunt = c["id"].as_i64().unwrap();
    let (status, li_claim) = app.post(&format!("/api/v1/customers/{aunt}/claims"), &li, json!({})).await;
    assert_eq!((status, li_claim["status"].as_str()), (StatusCode::CREATED, Some("pending")), "{li_claim}");
    let (_, wang_claim) = app.post(&format!("/api/v1/customers/{aunt}/claims"), &wang, json!({})).await;
    let (status, _) = app.post(&format!("/api/v1/claims/{}/confirm", wang_claim["id"]), &head1, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // Division two's head may not confirm Li's any more, and Li's colleague may not invite her.
    let (status, e) = app.post(&format!("/api/v1/claims/{}/confirm", li_claim["id"]), &head2, json!({})).await;
    assert_eq!((status, refused(&e)), (StatusCode::CONFLICT, r114.clone()), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("小王"), "{e}");
    let (_, still) = app.get(&format!("/api/v1/claims/{}", li_claim["id"]), &admin).await;
    assert_eq!(still["status"], "pending");
    let (status, e) = app.post(&format!("/api/v1/customers/{aunt}/claims"), &head2, json!({})).await;
    assert_eq!((status, refused(&e)), (StatusCode::CONFLICT, r114.clone()), "{e}");
    // A colleague of the same division still may (ownership decides between them).
    let (status, _) = app.post(&format!("/api/v1/customers/{aunt}/claims"), &zhou, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);

    // At a joint event too: division two may not invite her to it.
    let body = json!({ "name": "春季健康讲座", "starts_at": local("2027-03-08T14:00"), "session": "afternoon", "division_ids": [d1, d2] });
    let (status, event) = app.post("/api/v1/events", &coordinator, body).await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let ev = event["id"].as_i64().unwrap();
    let (status, e) = app
        .post(&format!("/api/v1/customers/{aunt}/claims"), &chen, json!({ "event_id": ev }))
        .await;
    assert_eq!((status, refused(&e)), (StatusCode::CONFLICT, r114.clone()), "{e}");
    // Division one's invitation of another customer to the event, filed in time, keeps her too.
    let uncle = invite(&app, &wang, &head1, ev, "王大爷", "13900000602").await;
    let uncle_id = uncle["customer_id"].as_i64().unwrap();
    clock_to(&app, "2027-03-01T17:00").await;
    let (status, _) = app.post(&format!("/api/v1/events/{ev}/filings"), &head1, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    clock_to(&app, "2027-03-02T09:00").await;
    let (status, e) = app
        .post(&format!("/api/v1/customers/{uncle_id}/claims"), &li, json!({ "event_id": ev }))
        .await;
    assert_eq!((status, refused(&e)), (StatusCode::CONFLICT, r114.clone()), "{e}");

    // R11.3 still works: division one's invitation of 张先生, not filed by its cut-off, keeps
    // nobody off; division two invites and confirms him and he goes to division two. Once he is
    // theirs, division one may not invite him back.
    let zhang = invite(&app, &wang, &head1, ev, "张先生", "13900000603").await;
    let zhang_id = zhang["customer_id"].as_i64().unwrap();
    clock_to(&app, "2027-03-02T18:30").await;
    let taken = invite_existing(&app, &li, &head2, ev, zhang_id).await;
    let (_, lost) = app.get(&format!("/api/v1/claims/{}", zhang["id"]), &admin).await;
    assert_eq!((lost["status"].as_str(), lost["ended_rule"].as_str()), (Some("expired"), Some("R11.3")), "{lost}");
    let (_, o) = app.get(&format!("/api/v1/customers/{zhang_id}/ownership"), &admin).await;
    assert_eq!(o["claim_id"], taken["id"]);
    let (status, e) = app
        .post(&format!("/api/v1/customers/{zhang_id}/claims"), &zhou, json!({ "event_id": ev }))
        .await;
    assert_eq!((status, refused(&e)), (StatusCode::CONFLICT, r114), "{e}");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r11_2_an_invited_customer_checked_in_at_the_event_earns_the_referrer_points_once, |app: TestApp| async move {
    let admin = tenant_on(&app, "event-customers", "checkin").await;
    let d1 = unit(&app, &admin, "第一事业部").await;
    let d2 = unit(&app, &admin, "第二事业部").await;
    let head1 = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(d1)).await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(d1)).await;
    let coordinator = staff_of(&app, &admin, "xietiao", "郑协调", "coordinator", None).await;
    clock_to(&app, "2027-03-01T09:00").await;
    let body = json!({ "name": "春季健康讲座", "starts_at": local("2027-03-08T14:00"), "session": "afternoon", "division_ids": [d1, d2] });
    let (_, event) = app.post("/api/v1/events", &coordinator, body).await;
    let ev = event["id"].as_i64().unwrap();
    // 张阿姨, an existing customer, brings 李阿姨; Wang invites 李阿姨 and the head confirms.
    let (_, referrer) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "张阿姨", "phones": ["13900000611"], "source": "event_files" }))
        .await;
    let (status, new) = app
        .post(
            "/api/v1/customers",
            &wang,
            json!({ "kind": "person", "name": "李阿姨", "phones": ["13900000612"], "source": "customer_referral", "referrer_id": referrer["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let customer = new["id"].as_i64().unwrap();
    let invitation = invite_existing(&app, &wang, &head1, ev, customer).await;
    let points = || {
        let app = &app;
        let (admin, referrer) = (admin.clone(), referrer["id"].clone());
        async move {
            let (_, l) = app.get("/api/v1/ledger", &admin).await;
            l["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["customer_id"] == referrer)
                .map(|e| (e["code"].as_str().unwrap().to_string(), e["points"].as_i64().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    // Confirming the invitation brings nobody to the event yet: no points (R11.2).
    assert!(points().await.is_empty());
    let path = format!("/api/v1/events/{ev}/attendance");
    let check_in = |who: &Session, customer: i64| {
        let (app, who, path) = (&app, who.clone(), path.clone());
        async move { app.post(&path, &who, json!({ "customer_id": customer })).await }
    };
    // Not before the event's day.
    let (status, e) = check_in(&coordinator, customer).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("event_not_started"), Some("R11.2")), "{e}");
    clock_to(&app, "2027-03-07T17:00").await;
    app.post(&format!("/api/v1/events/{ev}/filings"), &head1, json!({})).await;
    clock_to(&app, "2027-03-08T13:30").await;
    // Only the roles the policy names check customers in; only invited customers.
    let (status, e) = check_in(&wang, customer).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (status, e) = check_in(&coordinator, referrer["id"].as_i64().unwrap()).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_invited")), "{e}");
    let (status, e) = check_in(&coordinator, 999_999).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_customer")), "{e}");
    // The check-in: 李阿姨 takes part, and 张阿姨 earns 100 points, once.
    let (status, done) = check_in(&coordinator, customer).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!((done["attendance"]["claim_id"].clone(), done["decision"]["rule"].as_str()), (invitation["id"].clone(), Some("R11.2")));
    assert!(done["decision"]["text"].as_str().unwrap().contains("小王邀约到会"), "{done}");
    assert_eq!(points().await, [("referral_new_customer".to_string(), 100)]);
    let (status, e) = check_in(&coordinator, customer).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("already_checked_in")), "{e}");
    assert_eq!(points().await.len(), 1);
    let (_, list) = app.get(&path, &wang).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["customer_name"], "李阿姨");
    // The check-in is in her history, with its decision; the points entry names the rule.
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &admin).await;
    let e = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "check_in").unwrap();
    assert_eq!(e["decision"]["rule"], "R11.2");
    // 3,500 yuan bought at the event: three full thousands, 300 more points.
    let (status, s) = app
        .post(&format!("/api/v1/customers/{customer}/sales"), &wang, json!({ "amount": 350_000, "event_id": ev }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let mut got = points().await;
    got.sort();
    assert_eq!(got, [("referral_new_customer".to_string(), 100), ("referral_sales".to_string(), 300)]);
    let (_, doc) = app.call(axum::http::Method::GET, "/api/v1/openapi.json", None, None).await;
    let attendance = &doc["paths"]["/api/v1/events/{id}/attendance"];
    assert!(attendance["post"].is_object() && attendance["get"].is_object(), "the check-in is in the OpenAPI document");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});
