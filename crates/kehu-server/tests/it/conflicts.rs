//! Conflicts between two divisions' staff over a customer (event-customers preset, docs/rulebooks.md
//! R11.6), a workflow of the case engine (`conflict`) declared in the policy file, walked through
//! the cases API: the coordinator and both heads settle by signing the same outcome, the customer
//! moves and both parties are fined for arguing in front of the customer; a differing outcome or
//! the coordinator escalates, and then only the general manager rules.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp};
use crate::timed::{staff_of, tenant_on};

async fn unit(app: &TestApp, admin: &Session, name: &str) -> i64 {
    let (status, u) = app.post("/api/v1/units", admin, json!({ "name": name })).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_i64().unwrap()
}

/// A customer `who` registers and `head` confirms: `who` holds a valid claim.
async fn held_by(app: &TestApp, who: &Session, head: &Session, name: &str, phone: &str) -> (i64, Value) {
    let customer = app.customer(who, name, phone).await;
    let (status, claim) = app
        .post(&format!("/api/v1/customers/{customer}/claims"), who, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{claim}");
    let (status, claim) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), head, json!({}))
        .await;
    assert_eq!(
        (status, claim["status"].as_str()),
        (StatusCode::OK, Some("valid")),
        "{claim}"
    );
    (customer, claim)
}

/// What a settler or the general manager signs: to whom the customer goes, whether the parties
/// argued in front of the customer.
fn outcome(award_to: &Session, argued: bool) -> Value {
    json!({ "fields": { "award_to": award_to.staff_id, "argued": argued }, "note": "会后协商" })
}

/// Records a conflict (opens a case of the workflow `conflict`).
fn conflict(customer: i64, a: i64, b: i64, summary: &str) -> Value {
    json!({ "workflow": "conflict", "customer_id": customer, "fields": { "party_a": a, "party_b": b, "summary": summary } })
}

async fn refused(app: &TestApp, path: &str, who: &Session, body: Value) -> (StatusCode, String, Option<String>) {
    let (status, e) = app.post(path, who, body).await;
    (
        status,
        e["code"].as_str().unwrap_or_default().to_string(),
        e["rule"].as_str().map(str::to_string),
    )
}

async fn fines(app: &TestApp, admin: &Session, who: &Session) -> Vec<Value> {
    let (status, l) = app
        .get(&format!("/api/v1/ledger?staff_id={}", who.staff_id), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    l["items"].as_array().unwrap().clone()
}

async fn history(app: &TestApp, admin: &Session, customer: i64) -> Vec<Value> {
    let (status, h) = app.get(&format!("/api/v1/customers/{customer}/history"), admin).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    h["items"].as_array().unwrap().clone()
}

/// The ids of the conflict cases in `state`, as a reader of all sees them.
async fn in_state(app: &TestApp, admin: &Session, state: &str) -> Vec<i64> {
    let (status, l) = app
        .get(&format!("/api/v1/cases?workflow=conflict&state={state}"), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

/// The cases waiting for `who` in the inbox, as (case, first action).
async fn inbox(app: &TestApp, who: &Session) -> Vec<(i64, String)> {
    let (status, b) = app.get("/api/v1/inbox?kind=case", who).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_i64().unwrap(), i["action"].as_str().unwrap().to_string()))
        .collect()
}

/// The decision of the last step a case answer shows.
fn last_decision(c: &Value) -> &Value {
    c["decisions"].as_array().and_then(|d| d.last()).unwrap_or(&Value::Null)
}

both!(
    r11_6_the_coordinator_and_both_heads_settle_else_the_general_manager_rules,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "event-customers", "conflicts").await;
        let d1 = unit(&app, &admin, "第一事业部").await;
        let d2 = unit(&app, &admin, "第二事业部").await;
        let head1 = staff_of(&app, &admin, "head1", "周经理", "division_head", Some(d1)).await;
        let head2 = staff_of(&app, &admin, "head2", "吴经理", "division_head", Some(d2)).await;
        let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", Some(d1)).await;
        let li = staff_of(&app, &admin, "xiaoli", "小李", "sales", Some(d2)).await;
        let zhang = staff_of(&app, &admin, "xiaozhang", "小张", "sales", Some(d1)).await;
        // The coordinator belongs to no division (so may not be a party, below).
        let (status, _) = app
            .post(
                "/api/v1/staff",
                &admin,
                json!({ "username": "xietiao", "password": crate::support::PASSWORD, "display_name": "郑协调", "roles": ["coordinator"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let coordinator = app.login("xietiao").await;
        let gm = staff_of(&app, &admin, "zongjingli", "钱总", "general_manager", None).await;
        let (aunt, wang_claim) = held_by(&app, &wang, &head1, "李阿姨", "13900000701").await;

        // Recording: only an opener, two different people of two divisions, a summary; refusals
        // change nothing.
        let body = |a: &Session, b: &Session| conflict(aunt, a.staff_id, b.staff_id, "两人都说邀约了李阿姨");
        assert_eq!(
            refused(&app, "/api/v1/cases", &wang, body(&wang, &li)).await,
            (StatusCode::FORBIDDEN, "forbidden".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(&app, "/api/v1/cases", &coordinator, body(&wang, &wang)).await,
            (StatusCode::CONFLICT, "guard_refused".into(), Some("R11.6".into()))
        );
        let (status, e) = app.post("/api/v1/cases", &coordinator, body(&wang, &coordinator)).await;
        assert_eq!(
            (status, e["code"].as_str(), e["rule"].as_str()),
            (StatusCode::CONFLICT, Some("guard_refused"), Some("R11.6")),
            "{e}"
        );
        assert!(e["detail"].as_str().unwrap().contains("部门"), "{e}");
        let (status, e) = app.post("/api/v1/cases", &coordinator, body(&wang, &zhang)).await;
        assert_eq!(
            (status, e["rule"].as_str()),
            (StatusCode::CONFLICT, Some("R11.6")),
            "{e}"
        );
        assert!(e["detail"].as_str().unwrap().contains("两个部门"), "{e}");
        let (status, e) = app
            .post(
                "/api/v1/cases",
                &coordinator,
                json!({ "workflow": "conflict", "customer_id": aunt, "fields": { "party_a": wang.staff_id, "summary": "只有一方" } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (status, e) = app
            .post(
                "/api/v1/cases",
                &coordinator,
                conflict(aunt, wang.staff_id, li.staff_id, "  "),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a blank summary: {e}");
        let (_, listed) = app.get("/api/v1/cases?workflow=conflict", &admin).await;
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            0,
            "refused requests change nothing"
        );

        let (status, c) = app.post("/api/v1/cases", &coordinator, body(&wang, &li)).await;
        assert_eq!(
            (status, c["state"].as_str()),
            (StatusCode::CREATED, Some("open")),
            "{c}"
        );
        assert_eq!(
            c["waiting_on"][0]["roles"],
            json!(["coordinator", "head_of:party_a", "head_of:party_b"]),
            "{c}"
        );
        let id = c["id"].as_i64().unwrap();
        let path = |what: &str| format!("/api/v1/cases/{id}/actions/{what}");
        // Today tells each settler what waits for them: the coordinator by role, each head by
        // heading a party's division; a party has nothing to do on it.
        for who in [&coordinator, &head1, &head2] {
            assert_eq!(
                inbox(&app, who).await,
                vec![(id, "sign".to_string())],
                "{}",
                who.staff_id
            );
        }
        assert!(inbox(&app, &wang).await.is_empty());

        // A salesperson does not sign; the general manager does not rule before escalation; the
        // award goes to a party only, and says whether they argued.
        assert_eq!(
            refused(&app, &path("sign"), &li, outcome(&li, true)).await,
            (StatusCode::FORBIDDEN, "forbidden".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(&app, &path("decide"), &gm, outcome(&li, true)).await.1,
            "action_not_available"
        );
        assert_eq!(
            refused(&app, &path("sign"), &coordinator, outcome(&head1, true)).await,
            (StatusCode::CONFLICT, "guard_refused".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(
                &app,
                &path("sign"),
                &coordinator,
                json!({ "fields": { "award_to": li.staff_id } })
            )
            .await
            .2,
            Some("R11.6".into())
        );

        // The coordinator signs; signing twice is refused.
        let (status, s) = app.post(&path("sign"), &coordinator, outcome(&li, true)).await;
        assert_eq!((status, s["state"].as_str()), (StatusCode::OK, Some("open")), "{s}");
        assert!(
            inbox(&app, &coordinator).await.is_empty(),
            "signed, it waits on the heads"
        );
        assert_eq!(inbox(&app, &head2).await, vec![(id, "sign".to_string())]);
        assert_eq!(last_decision(&s)["rule"], "R11.6", "{s}");
        assert_eq!(
            refused(&app, &path("sign"), &coordinator, outcome(&li, true)).await.1,
            "already_signed"
        );

        // Both heads sign the same outcome at once: exactly one of them settles it.
        let sign = path("sign");
        let (a, b) = tokio::join!(
            app.post(&sign, &head1, outcome(&li, true)),
            app.post(&sign, &head2, outcome(&li, true))
        );
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{} {}", a.1, b.1);
        let settled = [&a.1, &b.1]
            .into_iter()
            .filter(|r| r["state"] == "settled")
            .collect::<Vec<_>>();
        assert_eq!(settled.len(), 1, "{} {}", a.1, b.1);
        assert_eq!(last_decision(settled[0])["rule"], "R11.6", "{}", settled[0]);
        for who in [&coordinator, &head1, &head2] {
            assert!(inbox(&app, who).await.is_empty(), "settled: nothing waits");
        }
        let (status, one) = app.get(&format!("/api/v1/cases/{id}"), &wang).await;
        assert_eq!(status, StatusCode::OK, "a party reads their conflict: {one}");
        assert_eq!(
            (
                one["state"].as_str(),
                one["fields"]["award_to"].as_i64(),
                one["fields"]["argued"].as_bool()
            ),
            (Some("settled"), Some(li.staff_id), Some(true)),
            "{one}"
        );
        let seats: Vec<&str> = one["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"] == "sign")
            .map(|s| s["role"].as_str().unwrap())
            .collect();
        assert_eq!(seats.len(), 3, "{one}");
        for seat in ["coordinator", "head_of:party_a", "head_of:party_b"] {
            assert!(seats.contains(&seat), "{seats:?}");
        }

        // The customer moved: Wang's claim ended under R11.6, Li holds it; both were fined once.
        let (_, ended) = app.get(&format!("/api/v1/claims/{}", wang_claim["id"]), &admin).await;
        assert_eq!(
            (ended["status"].as_str(), ended["ended_rule"].as_str()),
            (Some("cancelled"), Some("R11.6")),
            "{ended}"
        );
        let (_, owner) = app.get(&format!("/api/v1/customers/{aunt}/ownership"), &admin).await;
        assert_eq!(owner["owner_id"].as_i64(), Some(li.staff_id), "{owner}");
        for party in [&wang, &li] {
            let f = fines(&app, &admin, party).await;
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(
                (f[0]["code"].as_str(), f[0]["rule"].as_str(), f[0]["amount"].as_i64()),
                (Some("conflict_argued"), Some("R11.6"), Some(10000))
            );
        }
        assert!(fines(&app, &admin, &head1).await.is_empty());
        let (_, as_admin) = app.get(&format!("/api/v1/cases/{id}"), &admin).await;
        assert_eq!(as_admin["charges"].as_array().unwrap().len(), 2, "{as_admin}");

        // Settled: nothing more is signed, escalated or ruled.
        for (action, who, body) in [
            ("sign", &head1, outcome(&wang, false)),
            ("decide", &gm, outcome(&wang, false)),
            ("escalate", &coordinator, json!({ "note": "再议" })),
        ] {
            assert_eq!(
                refused(&app, &path(action), who, body).await.1,
                "action_not_available",
                "{action}"
            );
        }

        // The history tells it: recorded, three sign-offs, the claim handed over once.
        let h = history(&app, &admin, aunt).await;
        let count = |entity: &str, action: &str| {
            h.iter()
                .filter(|e| e["entity"] == entity && e["action"] == action)
                .count()
        };
        assert_eq!((count("case", "open"), count("case", "sign")), (1, 3), "{h:?}");
        assert_eq!(count("claim", "hand_over"), 2, "Wang's claim ends, Li's begins: {h:?}");
        let moved = h.iter().find(|e| e["action"] == "hand_over").unwrap();
        assert_eq!(moved["decision"]["rule"], "R11.6");
        assert!(
            moved["decision"]["text"].as_str().unwrap().contains("由小王转交给小李"),
            "{moved}"
        );

        // Heads who disagree escalate it at once; then only the general manager rules. Wang
        // registered the customer first but Li's invitation was confirmed: the award to Wang
        // gives him a valid claim, his pending one superseded.
        let uncle = app.customer(&li, "王大爷", "13900000702").await;
        let (status, wang_pending) = app
            .post(&format!("/api/v1/customers/{uncle}/claims"), &wang, json!({}))
            .await;
        assert_eq!(
            (status, wang_pending["status"].as_str()),
            (StatusCode::CREATED, Some("pending")),
            "{wang_pending}"
        );
        let (_, li_claim) = app
            .post(&format!("/api/v1/customers/{uncle}/claims"), &li, json!({}))
            .await;
        let (status, confirmed) = app
            .post(&format!("/api/v1/claims/{}/confirm", li_claim["id"]), &head2, json!({}))
            .await;
        assert_eq!(
            (status, confirmed["status"].as_str()),
            (StatusCode::OK, Some("valid")),
            "{confirmed}"
        );
        let (status, c2) = app
            .post(
                "/api/v1/cases",
                &head1,
                conflict(uncle, wang.staff_id, li.staff_id, "王大爷说是小王先邀约的"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c2}");
        let id2 = c2["id"].as_i64().unwrap();
        let path2 = |what: &str| format!("/api/v1/cases/{id2}/actions/{what}");
        let (_, s) = app.post(&path2("sign"), &head1, outcome(&wang, false)).await;
        assert_eq!(s["state"], "open", "{s}");
        let (status, s) = app.post(&path2("sign"), &head2, outcome(&li, false)).await;
        assert_eq!(
            (status, s["state"].as_str()),
            (StatusCode::OK, Some("escalated")),
            "{s}"
        );
        assert!(
            last_decision(&s)["text"].as_str().unwrap().contains("已上报总经理"),
            "{s}"
        );
        assert_eq!(in_state(&app, &admin, "escalated").await, vec![id2]);
        assert!(in_state(&app, &admin, "open").await.is_empty());
        assert_eq!(
            refused(&app, &path2("sign"), &coordinator, outcome(&li, false)).await.1,
            "action_not_available"
        );
        assert_eq!(
            refused(&app, &path2("decide"), &head1, outcome(&wang, false)).await,
            (StatusCode::FORBIDDEN, "forbidden".into(), Some("R11.6".into()))
        );
        let (status, d) = app.post(&path2("decide"), &gm, outcome(&wang, false)).await;
        assert_eq!((status, d["state"].as_str()), (StatusCode::OK, Some("decided")), "{d}");
        assert!(last_decision(&d)["text"].as_str().unwrap().contains("钱总"), "{d}");
        let (_, owner) = app.get(&format!("/api/v1/customers/{uncle}/ownership"), &admin).await;
        assert_eq!(owner["owner_id"].as_i64(), Some(wang.staff_id), "{owner}");
        let (_, claims) = app.get(&format!("/api/v1/customers/{uncle}/claims"), &admin).await;
        let standing: Vec<(i64, &str)> = claims["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "pending" || c["status"] == "valid")
            .map(|c| (c["staff_id"].as_i64().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(standing, vec![(wang.staff_id, "valid")], "{claims}");
        assert_eq!(fines(&app, &admin, &wang).await.len(), 1, "no arguing, no fine");

        // The coordinator who cannot decide escalates, with a reason; heads may not.
        let (_, c3) = app
            .post(
                "/api/v1/cases",
                &coordinator,
                conflict(aunt, li.staff_id, wang.staff_id, "再次争执"),
            )
            .await;
        let path3 = format!("/api/v1/cases/{}/actions/escalate", c3["id"]);
        assert_eq!(
            refused(&app, &path3, &head1, json!({ "note": "说法不一" })).await.1,
            "forbidden"
        );
        assert_eq!(refused(&app, &path3, &coordinator, json!({})).await.1, "note_required");
        let (status, e) = app
            .post(&path3, &coordinator, json!({ "note": "双方说法不一，无法判定" }))
            .await;
        assert_eq!(
            (status, e["state"].as_str()),
            (StatusCode::OK, Some("escalated")),
            "{e}"
        );
        let steps = e["steps"].as_array().unwrap();
        assert_eq!(
            (
                steps.last().unwrap()["action"].as_str(),
                steps.last().unwrap()["note"].as_str()
            ),
            (Some("escalate"), Some("双方说法不一，无法判定")),
            "{e}"
        );
        let (status, missing) = app.get("/api/v1/cases/999999", &admin).await;
        assert_eq!(
            (status, missing["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{missing}"
        );

        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
    }
);
