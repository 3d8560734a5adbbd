//! Conflicts between two divisions' staff over a customer (event-customers preset, docs/rulebooks.md
//! R11.6) walked through the API: the coordinator and both heads settle by signing the same
//! outcome, the customer moves and both parties are fined for arguing in front of the customer;
//! differing outcomes or the coordinator escalate, and then only the general manager rules.

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

fn outcome(award_to: &Session, argued: bool) -> Value {
    json!({ "award_to": award_to.staff_id, "argued": argued, "note": "会后协商" })
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

        // Recording: only an opener, two different people, a summary; refusals change nothing.
        let body =
            |parties: Value| json!({ "customer_id": aunt, "party_ids": parties, "summary": "两人都说邀约了李阿姨" });
        let both_parties = json!([wang.staff_id, li.staff_id]);
        assert_eq!(
            refused(&app, "/api/v1/conflicts", &wang, body(both_parties.clone())).await,
            (StatusCode::FORBIDDEN, "forbidden".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(
                &app,
                "/api/v1/conflicts",
                &coordinator,
                body(json!([wang.staff_id, wang.staff_id]))
            )
            .await,
            (StatusCode::CONFLICT, "same_party".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(&app, "/api/v1/conflicts", &coordinator, body(json!([wang.staff_id])))
                .await
                .1,
            "invalid_parties"
        );
        assert_eq!(
            refused(
                &app,
                "/api/v1/conflicts",
                &coordinator,
                body(json!([wang.staff_id, coordinator.staff_id]))
            )
            .await
            .1,
            "party_without_unit"
        );
        let (status, e) = app
            .post(
                "/api/v1/conflicts",
                &coordinator,
                json!({ "customer_id": aunt, "party_ids": both_parties, "summary": "  " }),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
            "{e}"
        );
        let (_, listed) = app.get("/api/v1/conflicts", &admin).await;
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            0,
            "refused requests change nothing"
        );

        let (status, c) = app
            .post("/api/v1/conflicts", &coordinator, body(both_parties.clone()))
            .await;
        assert_eq!(
            (status, c["status"].as_str()),
            (StatusCode::CREATED, Some("open")),
            "{c}"
        );
        assert_eq!(c["parties"][1]["unit_name"], "第二事业部");
        let id = c["id"].as_i64().unwrap();
        let path = |what: &str| format!("/api/v1/conflicts/{id}/{what}");

        // A salesperson does not sign; the general manager does not rule before escalation; the
        // award goes to a party only.
        assert_eq!(
            refused(&app, &path("sign"), &li, outcome(&li, true)).await,
            (StatusCode::FORBIDDEN, "not_a_settler".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(&app, &path("decide"), &gm, outcome(&li, true)).await,
            (StatusCode::CONFLICT, "not_escalated".into(), Some("R11.6".into()))
        );
        assert_eq!(
            refused(&app, &path("sign"), &coordinator, outcome(&head1, true))
                .await
                .1,
            "invalid_award"
        );

        // The coordinator signs; signing twice is refused.
        let (status, s) = app.post(&path("sign"), &coordinator, outcome(&li, true)).await;
        assert_eq!(
            (status, s["conflict"]["status"].as_str()),
            (StatusCode::OK, Some("open")),
            "{s}"
        );
        assert_eq!(s["decision"]["rule"], "R11.6");
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
            .filter(|r| r["conflict"]["status"] == "settled")
            .collect::<Vec<_>>();
        assert_eq!(settled.len(), 1, "{} {}", a.1, b.1);
        let decision = &settled[0]["decision"];
        assert_eq!(
            (decision["rule"].as_str(), decision["facts"]["how"].as_str()),
            (Some("R11.6"), Some("settled"))
        );
        assert!(
            decision["text"].as_str().unwrap().contains("客户李阿姨判归小李"),
            "{decision}"
        );
        let (_, one) = app.get(&format!("/api/v1/conflicts/{id}"), &wang).await;
        assert_eq!(
            (
                one["status"].as_str(),
                one["award_to"].as_i64(),
                one["argued"].as_bool()
            ),
            (Some("settled"), Some(li.staff_id), Some(true)),
            "{one}"
        );
        assert_eq!(one["signoffs"].as_array().unwrap().len(), 3);

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

        // Settled: nothing more is signed, escalated or ruled.
        assert_eq!(
            refused(&app, &path("sign"), &gm, outcome(&wang, false)).await.1,
            "already_settled"
        );
        assert_eq!(
            refused(&app, &path("decide"), &gm, outcome(&wang, false)).await.1,
            "already_settled"
        );
        assert_eq!(
            refused(&app, &path("escalate"), &coordinator, json!({ "reason": "再议" }))
                .await
                .1,
            "already_settled"
        );

        // The history tells it: recorded, three sign-offs, one settlement, the claim moved.
        let h = history(&app, &admin, aunt).await;
        let count = |entity: &str, action: &str| {
            h.iter()
                .filter(|e| e["entity"] == entity && e["action"] == action)
                .count()
        };
        assert_eq!(
            (
                count("conflict", "open"),
                count("conflict", "sign"),
                count("conflict", "settle")
            ),
            (1, 3, 1),
            "{h:?}"
        );
        assert_eq!(
            (count("claim", "conflict_lost"), count("claim", "conflict_award")),
            (1, 1)
        );
        let lost = h.iter().find(|e| e["action"] == "conflict_lost").unwrap();
        assert_eq!(lost["decision"]["rule"], "R11.6");

        // Heads who disagree escalate it; then only the general manager rules.
        let (uncle, _) = held_by(&app, &li, &head2, "王大爷", "13900000702").await;
        let (status, c2) = app
        .post("/api/v1/conflicts", &head1, json!({ "customer_id": uncle, "party_ids": [wang.staff_id, li.staff_id], "summary": "王大爷说是小王先邀约的" }))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{c2}");
        let id2 = c2["id"].as_i64().unwrap();
        let path2 = |what: &str| format!("/api/v1/conflicts/{id2}/{what}");
        let (_, s) = app.post(&path2("sign"), &head1, outcome(&wang, false)).await;
        assert_eq!(s["conflict"]["status"], "open", "{s}");
        let (status, s) = app.post(&path2("sign"), &head2, outcome(&li, false)).await;
        assert_eq!(
            (status, s["conflict"]["status"].as_str()),
            (StatusCode::OK, Some("escalated")),
            "{s}"
        );
        assert!(s["decision"]["text"].as_str().unwrap().contains("上报总经理"), "{s}");
        let (_, open) = app.get("/api/v1/conflicts?open=true", &admin).await;
        let open_ids: Vec<i64> = open["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(open_ids, vec![id2], "only the escalated one is still open");
        assert_eq!(
            refused(&app, &path2("sign"), &coordinator, outcome(&li, false)).await.1,
            "already_escalated"
        );
        assert_eq!(
            refused(&app, &path2("decide"), &head1, outcome(&wang, false)).await,
            (StatusCode::FORBIDDEN, "forbidden".into(), Some("R11.6".into()))
        );
        let (status, d) = app.post(&path2("decide"), &gm, outcome(&wang, false)).await;
        assert_eq!(
            (status, d["conflict"]["status"].as_str()),
            (StatusCode::OK, Some("decided")),
            "{d}"
        );
        assert!(
            d["decision"]["text"].as_str().unwrap().starts_with("总经理钱总裁决"),
            "{d}"
        );
        let (_, owner) = app.get(&format!("/api/v1/customers/{uncle}/ownership"), &admin).await;
        assert_eq!(owner["owner_id"].as_i64(), Some(wang.staff_id), "{owner}");
        assert_eq!(fines(&app, &admin, &wang).await.len(), 1, "no arguing, no fine");

        // The coordinator who cannot decide escalates; heads may not.
        let (_, c3) = app
            .post(
                "/api/v1/conflicts",
                &coordinator,
                json!({ "customer_id": aunt, "party_ids": [li.staff_id, wang.staff_id], "summary": "再次争执" }),
            )
            .await;
        let path3 = format!("/api/v1/conflicts/{}/escalate", c3["id"]);
        assert_eq!(
            refused(&app, &path3, &head1, json!({ "reason": "说法不一" })).await.1,
            "forbidden"
        );
        let (status, e) = app
            .post(&path3, &coordinator, json!({ "reason": "双方说法不一，无法判定" }))
            .await;
        assert_eq!(
            (status, e["conflict"]["status"].as_str()),
            (StatusCode::OK, Some("escalated")),
            "{e}"
        );
        assert_eq!(e["conflict"]["escalation_reason"], "双方说法不一，无法判定");
        let (status, missing) = app.get("/api/v1/conflicts/999999", &admin).await;
        assert_eq!(
            (status, missing["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{missing}"
        );

        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["ok"], true, "{v}");
    }
);
