//! R11.9 (event-customers preset): complaint fines and the complaint limit, a workflow of the
//! case engine (`complaint`) declared in the policy file, walked through the cases API on the
//! virtual clock, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp, advance, at};
use crate::timed::{staff_of, tenant_on};

/// Two divisions of the event company: 钱主任 heads division 1, where 小王 sells; 小李 and 小赵
/// sell in division 2, and 小李 already holds a customer.
struct Company {
    admin: Session,
    head: Session,
    wang: Session,
    li: Session,
    zhao: Session,
}

async fn company(app: &TestApp) -> Company {
    let admin = tenant_on(app, "event-customers", "events").await;
    let (_, d1) = app.post("/api/v1/units", &admin, json!({ "name": "一部" })).await;
    let (_, d2) = app.post("/api/v1/units", &admin, json!({ "name": "二部" })).await;
    let (d1, d2) = (d1["id"].as_i64(), d2["id"].as_i64());
    let head = staff_of(app, &admin, "head1", "钱主任", "division_head", d1).await;
    let wang = staff_of(app, &admin, "xiaowang", "小王", "sales", d1).await;
    let li = staff_of(app, &admin, "xiaoli", "小李", "sales", d2).await;
    let zhao = staff_of(app, &admin, "xiaozhao", "小赵", "sales", d2).await;
    let c = Company {
        admin,
        head,
        wang,
        li,
        zhao,
    };
    held_by(app, &c, &c.li, "周先生", "13900000501").await;
    c
}

/// A customer invited by `holder` and confirmed (by the tenant's admin, who sees every
/// division's claims; a division head sees only their own division's): `holder` holds it.
async fn held_by(app: &TestApp, c: &Company, holder: &Session, name: &str, phone: &str) -> (i64, i64) {
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            holder,
            json!({ "kind": "person", "name": name, "phones": [phone] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let id = customer["id"].as_i64().unwrap();
    let (_, claim) = app
        .post(&format!("/api/v1/customers/{id}/claims"), holder, json!({}))
        .await;
    let (status, claim) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &c.admin, json!({}))
        .await;
    assert_eq!(
        (status, claim["status"].as_str()),
        (StatusCode::OK, Some("valid")),
        "{claim}"
    );
    (id, claim["id"].as_i64().unwrap())
}

/// A staff member's ledger entries as (code, amount), oldest first (read by the admin: a
/// division head reads only their own division's ledger).
async fn fines(app: &TestApp, c: &Company, who: &Session) -> Vec<(String, i64)> {
    let (status, l) = app
        .get(&format!("/api/v1/ledger?staff_id={}", who.staff_id), &c.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    let mut out: Vec<(String, i64)> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["rule"], "R11.9", "{e}");
            assert_eq!(e["decision"]["rule"], "R11.9", "every fine carries its decision: {e}");
            (e["code"].as_str().unwrap().to_string(), e["amount"].as_i64().unwrap())
        })
        .collect();
    out.reverse();
    out
}

fn fine(code: &str, amount: i64) -> (String, i64) {
    (code.to_string(), amount)
}

/// Records a complaint (opens a case of the workflow `complaint`).
async fn record(app: &TestApp, who: &Session, customer: i64, fields: Value) -> (StatusCode, Value) {
    app.post(
        "/api/v1/cases",
        who,
        json!({ "workflow": "complaint", "customer_id": customer, "fields": fields }),
    )
    .await
}

async fn resolve(app: &TestApp, who: &Session, id: i64, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/cases/{id}/actions/resolve"), who, body)
        .await
}

fn code_and_rule(e: &Value) -> (Option<&str>, Option<&str>) {
    (e["code"].as_str(), e["rule"].as_str())
}

both!(virtual r11_9_a_complaint_found_fines_the_staff_member_100_and_resolved_in_time_nothing_more, |app: TestApp| async move {
    let c = company(&app).await;
    let (customer, _) = held_by(&app, &c, &c.wang, "孙阿姨", "13900000502").await;
    let body = json!({ "summary": "产品送货延误，客户不满" });
    // Only the policy's roles record complaints.
    let (status, e) = record(&app, &c.wang, customer, body.clone()).await;
    assert_eq!((status, code_and_rule(&e)), (StatusCode::FORBIDDEN, (Some("forbidden"), Some("R11.9"))), "{e}");
    let (status, r) = record(&app, &c.head, customer, body).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    // By default the complaint is about the customer's holder.
    assert_eq!((r["fields"]["staff"].as_i64(), r["state"].as_str()), (Some(c.wang.staff_id), Some("open")), "{r}");
    assert_ne!(r["fields"]["to_boss"], true);
    // R11.9: resolved within 3 days of being found.
    let timer = &r["timers"][0];
    assert_eq!((timer["id"].as_str(), timer["rule"].as_str()), (Some("unresolved"), Some("R11.9")), "{r}");
    assert_eq!(at(&timer["due_at"]), at(&r["opened_at"]) + jiff::SignedDuration::from_hours(72));
    assert_eq!(r["decisions"][0]["rule"], "R11.9");
    assert_eq!(fines(&app, &c, &c.wang).await, vec![fine("complaint", 10000)]);
    assert!(fines(&app, &c, &c.head).await.is_empty(), "not to the boss: the head is not fined");
    let id = r["id"].as_i64().unwrap();

    // Two days later the head resolves it; the staff member may not, and a resolution is written.
    assert_eq!(advance(&app, 2 * 86400).await, 0);
    let (status, e) = resolve(&app, &c.wang, id, json!({ "fields": { "resolution": "道歉" } })).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    for body in [json!({ "fields": { "resolution": "  " } }), json!({})] {
        let (status, e) = resolve(&app, &c.head, id, body.clone()).await;
        assert!(status.is_client_error(), "{body}: {e}");
        assert_eq!(code_and_rule(&e), (Some("guard_refused"), Some("R11.9")), "{body}: {e}");
    }
    let (status, e) = resolve(&app, &c.head, 999999, json!({ "fields": { "resolution": "道歉" } })).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, r) = resolve(&app, &c.head, id, json!({ "fields": { "resolution": "上门道歉，补送产品" } })).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!((r["state"].as_str(), r["fields"]["resolution"].as_str()), (Some("resolved"), Some("上门道歉，补送产品")));
    assert_eq!(r["timers"].as_array().unwrap().len(), 0, "resolved: the limit is gone: {r}");
    assert_eq!(r["decisions"].as_array().unwrap().len(), 2, "{r}");
    let (status, e) = resolve(&app, &c.head, id, json!({ "fields": { "resolution": "again" } })).await;
    assert_eq!((status, code_and_rule(&e)), (StatusCode::CONFLICT, (Some("action_not_available"), Some("R11.9"))), "{e}");

    // Past the limit nothing fires: resolved in time, no further fine and the customer stays.
    assert_eq!(advance(&app, 2 * 86400).await, 0);
    assert_eq!(fines(&app, &c, &c.wang).await, vec![fine("complaint", 10000)]);
    let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), &c.head).await;
    assert_eq!(o["owner_id"], c.wang.staff_id);
    // Lists: open and resolved.
    let (_, open) = app.get("/api/v1/cases?workflow=complaint&state=open", &c.head).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 0, "{open}");
    let (_, done) = app.get(&format!("/api/v1/cases?workflow=complaint&state=resolved&customer_id={customer}"), &c.head).await;
    assert_eq!(done["items"][0]["id"], id, "{done}");
    // The staff member reads the complaints about them; another sales person reads none.
    let (status, own) = app.get(&format!("/api/v1/cases/{id}"), &c.wang).await;
    assert_eq!((status, own["id"].as_i64()), (StatusCode::OK, Some(id)), "{own}");
    let (status, _) = app.get(&format!("/api/v1/cases/{id}"), &c.li).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = app.get("/api/v1/cases?workflow=complaint", &c.li).await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0, "{theirs}");
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &c.head).await;
    let actions: Vec<&str> = h["items"].as_array().unwrap().iter().filter(|e| e["entity"] == "case").map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["resolve", "open"]);
    let (_, v) = app.get("/api/v1/history/verify", &c.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r11_9_to_the_boss_and_unresolved_in_3_days_fines_both_and_hands_the_customer_to_the_other_division, |app: TestApp| async move {
    let c = company(&app).await;
    let (customer, claim) = held_by(&app, &c, &c.wang, "孙阿姨", "13900000503").await;
    let (status, r) = record(&app, &c.head, customer, json!({ "to_boss": true, "summary": "客户直接找姜总投诉服务态度" })).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let id = r["id"].as_i64().unwrap();
    // R11.9: to the boss, the staff member and the division head are fined 100 each.
    assert_eq!(fines(&app, &c, &c.wang).await, vec![fine("complaint_to_boss", 10000)]);
    assert_eq!(fines(&app, &c, &c.head).await, vec![fine("complaint_to_boss", 10000)]);

    // Not resolved within 3 days: 500 each, and the customer goes to division 2's sales person
    // holding the fewest customers (小赵, none; 小李 holds one).
    assert_eq!(advance(&app, 3 * 86400 - 60).await, 0);
    assert_eq!(advance(&app, 120).await, 1);
    assert_eq!(fines(&app, &c, &c.wang).await, vec![fine("complaint_to_boss", 10000), fine("complaint_unresolved", 50000)]);
    assert_eq!(fines(&app, &c, &c.head).await, vec![fine("complaint_to_boss", 10000), fine("complaint_unresolved", 50000)]);
    assert!(fines(&app, &c, &c.zhao).await.is_empty());
    let (_, old) = app.get(&format!("/api/v1/claims/{claim}"), &c.head).await;
    assert_eq!((old["status"].as_str(), old["ended_rule"].as_str()), (Some("cancelled"), Some("R11.9")), "{old}");
    let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), &c.head).await;
    assert_eq!(o["owner_id"], c.zhao.staff_id, "{o}");
    let (_, zhao_claims) = app.get("/api/v1/claims", &c.zhao).await;
    let new = &zhao_claims["items"][0];
    assert_eq!((new["customer_id"].as_i64(), new["status"].as_str(), new["reassigned_from"].as_i64()), (Some(customer), Some("valid"), Some(claim)));
    // The new holder's claim runs under R11.8 from now on.
    assert_eq!(new["due"]["rule"], "R11.8");
    let (_, r) = app.get(&format!("/api/v1/cases/{id}"), &c.head).await;
    assert_eq!(r["state"], "escalated", "{r}");
    let last = r["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["action"].as_str(), last["staff_id"].as_i64()), (Some("unresolved"), None), "a step nobody took: {r}");
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &c.admin).await;
    let handovers: Vec<&Value> = h["items"].as_array().unwrap().iter().filter(|e| e["entity"] == "claim" && e["action"] == "hand_over").collect();
    assert_eq!(handovers.len(), 2, "the ended claim and the new one");
    let handover = &handovers[0]["decision"];
    assert_eq!((handover["rule"].as_str(), handover["facts"]["receiver_id"].as_i64()), (Some("R11.9"), Some(c.zhao.staff_id)), "{handover}");
    assert!(handover["text"].as_str().unwrap().contains("转交给其他部门的销售员小赵"), "{handover}");

    // Firing again changes nothing: the next days fire nothing, and the timer put back by hand
    // fires without a second fine or handover.
    assert_eq!(advance(&app, 3 * 86400).await, 0);
    let (tenant,): (i64,) = app
        .state
        .db
        .fetch_one("SELECT tenant_id FROM cases WHERE id = $1", kehu_store::args![id])
        .await
        .unwrap();
    let now = app.state.now();
    let mut tx = app.state.db.begin().await.unwrap();
    let rule = kehu_domain::RuleId::parse("R11.9").unwrap();
    kehu_store::deadlines::schedule(&mut tx, tenant, "case:unresolved", id, Some(customer), now, &rule, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(advance(&app, 1).await, 1);
    assert_eq!(fines(&app, &c, &c.wang).await.len(), 2);
    assert_eq!(fines(&app, &c, &c.head).await.len(), 2);
    let (_, zhao_claims) = app.get("/api/v1/claims", &c.zhao).await;
    assert_eq!(zhao_claims["items"].as_array().unwrap().len(), 1, "{zhao_claims}");

    // Resolved late, it is still recorded, and its steps say so.
    let (status, r) = resolve(&app, &c.head, id, json!({ "fields": { "resolution": "姜总亲自致歉" } })).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["open", "unresolved", "resolve"], "{r}");
    let (_, v) = app.get("/api/v1/history/verify", &c.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r11_9_bad_complaints_are_refused_and_change_nothing, |app: TestApp| async move {
    let c = company(&app).await;
    let (held, _) = held_by(&app, &c, &c.wang, "孙阿姨", "13900000504").await;
    let (status, free) = app
        .post("/api/v1/customers", &c.wang, json!({ "kind": "person", "name": "无主客户", "phones": ["13900000505"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let free = free["id"].as_i64().unwrap();
    let cases = [
        // Nobody holds the customer and nobody is named: whom it is about is missing.
        (free, json!({ "summary": "投诉" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (held, json!({}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (held, json!({ "summary": " " }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (held, json!({ "summary": "投诉", "staff": 999999 }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (held, json!({ "summary": "投诉", "to_boss": "yes" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (held, json!({ "summary": "投诉", "colour": "red" }), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (999999, json!({ "summary": "投诉" }), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (customer, fields, status, code) in cases {
        let (got, e) = record(&app, &c.head, customer, fields.clone()).await;
        assert_eq!((got, e["code"].as_str()), (status, Some(code)), "{fields}: {e}");
    }
    for q in ["customer_id=x", "limit=0", "cursor=x", "overdue=maybe"] {
        let (status, e) = app.get(&format!("/api/v1/cases?workflow=complaint&{q}"), &c.head).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
    }
    let (status, e) = app.call(Method::GET, "/api/v1/cases?workflow=complaint", None, None).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    // Nothing was recorded, charged or scheduled.
    let (_, all) = app.get("/api/v1/cases?workflow=complaint", &c.head).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 0, "{all}");
    assert!(fines(&app, &c, &c.wang).await.is_empty());
    assert_eq!(advance(&app, 4 * 86400).await, 0);
    // Naming the staff member records it against them even for a customer nobody holds (and
    // they read it); a complaint at a tenant whose policy has no complaint workflow is refused
    // with the stable code.
    let (status, r) = record(&app, &c.head, free, json!({ "summary": "投诉", "staff": c.li.staff_id })).await;
    assert_eq!((status, r["fields"]["staff"].as_i64()), (StatusCode::CREATED, Some(c.li.staff_id)), "{r}");
    let (status, _) = app.get(&format!("/api/v1/cases/{}", r["id"]), &c.li).await;
    assert_eq!(status, StatusCode::OK);
    let (status, e) = app
        .post("/api/v1/cases", &app.admin, json!({ "workflow": "complaint", "customer_id": 1, "fields": { "summary": "投诉" } }))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_workflow")), "{e}");
    let (_, doc) = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert!(doc["paths"]["/api/v1/complaints"].is_null(), "complaints are cases now");
});
