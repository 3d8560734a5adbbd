//! Rules that run on time, walked through the API on the virtual clock (car-dealership preset,
//! docs/rulebooks.md, R5). Each test names the rule IDs it proves.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp, advance, at};

/// A customer registered by `holder` and signed by `leader`: the valid claim.
async fn signed_card(app: &TestApp, holder: &Session, leader: &Session, name: &str, phone: &str) -> (i64, Value) {
    let id = app.customer(holder, name, phone).await;
    let (status, claim) = app
        .post(&format!("/api/v1/customers/{id}/claims"), holder, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{claim}");
    let (status, claim) = app
        .post(&format!("/api/v1/claims/{}/confirm", claim["id"]), leader, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    (id, claim)
}

async fn claim(app: &TestApp, id: &Value) -> Value {
    let (status, c) = app.get(&format!("/api/v1/claims/{id}"), &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

async fn follow_up(app: &TestApp, s: &Session, customer: i64, channel: &str) -> Value {
    let (status, a) = app
        .post(
            &format!("/api/v1/customers/{customer}/activities"),
            s,
            json!({ "channel": channel }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    a
}

both!(virtual r5_2_a_card_without_a_first_follow_up_in_3_days_is_void_and_r5_3_the_signer_reassigns_it, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let liu = app.staff("liuyang", "刘洋", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let other_leader = app.staff("leader2", "钱组长", &["team_leader"]).await;
    let (customer, card) = signed_card(&app, &wang, &leader, "孙先生", "13900000001").await;
    let signed = at(&card["effective_at"]);
    // R5.2: the first follow-up is due 3 days after the signature.
    assert_eq!(at(&card["valid_until"]), signed + jiff::SignedDuration::from_hours(72));
    let (_, mine) = app.get("/api/v1/claims", &wang).await;
    let item = &mine["items"][0];
    assert_eq!(item["id"], card["id"]);
    assert_eq!(item["customer_name"], "孙先生");
    assert_eq!(item["due"]["rule"], "R5.2");
    assert_eq!(item["due"]["what"], "首次跟进");

    // Nothing is due before the limit; the sweep fires at the limit.
    assert_eq!(advance(&app, 71 * 3600).await, 0);
    assert_eq!(claim(&app, &card["id"]).await["status"], "valid");
    assert_eq!(advance(&app, 2 * 3600).await, 1);
    let void = claim(&app, &card["id"]).await;
    assert_eq!((void["status"].as_str(), void["ended_rule"].as_str()), (Some("void"), Some("R5.2")));
    assert_eq!(at(&void["ended_at"]), signed + jiff::SignedDuration::from_hours(72));
    let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), &wang).await;
    assert_eq!(o["owner_id"], Value::Null);
    // The lapse is in the customer's history with its decision.
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
    let lapse = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "void")
        .expect("void event");
    assert_eq!(lapse["decision"]["rule"], "R5.2");
    assert!(
        lapse["decision"]["text"].as_str().unwrap().contains("3 天内没有首次跟进"),
        "{lapse}"
    );
    // Firing is idempotent: a second sweep finds nothing.
    assert_eq!(advance(&app, 60).await, 0);

    // R5.3: the leader sees the void card; only the signer reassigns it.
    let (status, void_list) = app.get("/api/v1/claims?view=void_unassigned", &leader).await;
    assert_eq!(status, StatusCode::OK, "{void_list}");
    assert_eq!(void_list["items"][0]["id"], card["id"]);
    let (status, _) = app.get("/api/v1/claims?view=void_unassigned", &wang).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!("/api/v1/claims/{}/reassign", card["id"]);
    let (status, e) = app.post(&path, &other_leader, json!({ "staff_id": liu.staff_id })).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("not_the_signer"), Some("R5.3")));
    let (status, new) = app.post(&path, &leader, json!({ "staff_id": liu.staff_id })).await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!((new["status"].as_str(), new["reassigned_from"].clone()), (Some("valid"), card["id"].clone()));
    let (status, e) = app.post(&path, &leader, json!({ "staff_id": liu.staff_id })).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("already_reassigned")));
    let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), &wang).await;
    assert_eq!(o["owner_id"], liu.staff_id);
    // The same rules apply to the new holder: 3 days to the first follow-up.
    let taken = at(&new["effective_at"]);
    assert_eq!(at(&new["valid_until"]), taken + jiff::SignedDuration::from_hours(72));
    // Handing on a card is not a duplicate: nobody is fined.
    let (_, ledger) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &leader).await;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 0, "{ledger}");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r5_2_the_second_follow_up_is_confirmed_by_the_leader_and_each_later_one_keeps_the_card_a_week, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let (customer, card) = signed_card(&app, &wang, &leader, "周女士", "13900000002").await;
    advance(&app, 86400).await;
    let first = follow_up(&app, &wang, customer, "call").await;
    let c = claim(&app, &card["id"]).await;
    assert_eq!(at(&c["valid_until"]), at(&first["at"]) + jiff::SignedDuration::from_hours(168));
    advance(&app, 2 * 86400).await;
    let second = follow_up(&app, &wang, customer, "visit").await;
    // Until the leader confirms it, the second follow-up does not count.
    let (_, mine) = app.get("/api/v1/claims", &wang).await;
    assert_eq!(mine["items"][0]["due"]["awaiting_confirmation"], second["id"]);
    assert!(mine["items"][0]["due"]["what"].as_str().unwrap().contains("待销售组长确认"));
    let path = format!("/api/v1/activities/{}/confirm", second["id"]);
    let (status, e) = app.post(&path, &wang, json!({})).await;
    assert_eq!((status, e["rule"].as_str()), (StatusCode::FORBIDDEN, Some("R5.2")));
    let (status, e) = app
        .post(&format!("/api/v1/activities/{}/confirm", first["id"]), &leader, json!({}))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("not_confirmable")));
    // Confirmed 30 hours later: the confirmation time counts, so the week runs from it.
    advance(&app, 30 * 3600).await;
    let (status, confirmed) = app.post(&path, &leader, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let signed_at = at(&confirmed["activity"]["confirmed_at"]);
    assert_eq!(
        at(&confirmed["claim"]["valid_until"]),
        signed_at + jiff::SignedDuration::from_hours(168)
    );
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
    let event = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "activity" && e["action"] == "confirm")
        .expect("confirmation event");
    assert!(event["decision"]["text"].as_str().unwrap().contains("按确认时间计"), "{event}");
    // A third follow-up keeps it a week from then; missing the next voids the card.
    advance(&app, 5 * 86400).await;
    let third = follow_up(&app, &wang, customer, "call").await;
    assert_eq!(
        at(&claim(&app, &card["id"]).await["valid_until"]),
        at(&third["at"]) + jiff::SignedDuration::from_hours(168)
    );
    assert_eq!(advance(&app, 7 * 86400 + 60).await, 1);
    let void = claim(&app, &card["id"]).await;
    assert_eq!((void["status"].as_str(), void["ended_rule"].as_str()), (Some("void"), Some("R5.2")));
});

both!(virtual r5_4_three_sms_only_follow_ups_void_the_card_at_once, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let (customer, card) = signed_card(&app, &wang, &leader, "吴先生", "13900000003").await;
    follow_up(&app, &wang, customer, "sms").await;
    advance(&app, 3600).await;
    let second = follow_up(&app, &wang, customer, "sms").await;
    app.post(&format!("/api/v1/activities/{}/confirm", second["id"]), &leader, json!({}))
        .await;
    advance(&app, 3600).await;
    assert_eq!(claim(&app, &card["id"]).await["status"], "valid");
    follow_up(&app, &wang, customer, "sms").await;
    // The third SMS in a row voids the card in the same request, not at the next sweep.
    let void = claim(&app, &card["id"]).await;
    assert_eq!((void["status"].as_str(), void["ended_rule"].as_str()), (Some("void"), Some("R5.4")));
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
    let e = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "void").unwrap();
    assert!(e["decision"]["text"].as_str().unwrap().contains("连续 3 次跟进都是短信"), "{e}");
});

both!(virtual r5_4_three_sms_only_follow_ups_void_the_card_while_the_second_waits_for_the_leader, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let (customer, card) = signed_card(&app, &wang, &leader, "钱先生", "13900000013").await;
    follow_up(&app, &wang, customer, "sms").await;
    advance(&app, 3600).await;
    // The second SMS waits for the team leader's confirmation (R5.2), who never gives it.
    let second = follow_up(&app, &wang, customer, "sms").await;
    let (_, mine) = app.get("/api/v1/claims", &wang).await;
    assert_eq!(mine["items"][0]["due"]["awaiting_confirmation"], second["id"]);
    advance(&app, 3600).await;
    assert_eq!(claim(&app, &card["id"]).await["status"], "valid");
    // The third SMS in a row is what the holder did, confirmed or not: void at once (R5.4).
    let third = follow_up(&app, &wang, customer, "sms").await;
    let void = claim(&app, &card["id"]).await;
    assert_eq!((void["status"].as_str(), void["ended_rule"].as_str()), (Some("void"), Some("R5.4")), "{void}");
    assert_eq!(void["ended_at"], third["at"]);
    // The leader can no longer confirm the second one, and the void card's deadline is gone.
    let (status, e) = app.post(&format!("/api/v1/activities/{}/confirm", second["id"]), &leader, json!({})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("no_claim")), "{e}");
    assert_eq!(advance(&app, 8 * 86400).await, 0);
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
    let e = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "void").unwrap();
    assert_eq!(e["decision"]["rule"], "R5.4");
    assert!(e["decision"]["text"].as_str().unwrap().contains("连续 3 次跟进都是短信"), "{e}");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r5_5_a_duplicate_after_a_missed_follow_up_fines_the_lapsed_holder_once, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let li = app.staff("liqiang", "李强", &["consultant"]).await;
    let chen = app.staff("chenjing", "陈静", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    // Li registers while Wang's card still stands: not caused by a miss, no fine.
    let (customer, card) = signed_card(&app, &wang, &leader, "郑先生", "13900000004").await;
    app.post(&format!("/api/v1/customers/{customer}/claims"), &li, json!({})).await;
    assert_eq!(advance(&app, 3 * 86400 + 60).await, 1);
    assert_eq!(claim(&app, &card["id"]).await["status"], "void");
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &leader).await;
    assert_eq!(l["items"].as_array().unwrap().len(), 0, "{l}");
    // Chen registers after Wang's card lapsed: Wang is fined 20 yuan, once per card.
    let (status, _) = app.post(&format!("/api/v1/customers/{customer}/claims"), &chen, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &leader).await;
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{l}");
    let e = &items[0];
    assert_eq!((e["kind"].as_str(), e["amount"].as_i64(), e["rule"].as_str()), (Some("penalty"), Some(2000), Some("R5.5")));
    assert_eq!(e["code"], "duplicate_card");
    assert_eq!(e["decision"]["facts"]["lapsed_claim_id"], card["id"]);
    assert!(e["decision"]["text"].as_str().unwrap().contains("罚款 20.00 元"), "{e}");
    // The entry points at its history event.
    let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
    assert!(h["items"].as_array().unwrap().iter().any(|ev| ev["seq"] == e["event_seq"] && ev["entity"] == "ledger"));
    // Wang reads her own ledger; a consultant may not read another's.
    let (status, own) = app.get("/api/v1/ledger", &wang).await;
    assert_eq!((status, own["items"].as_array().unwrap().len()), (StatusCode::OK, 1));
    let (status, _) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &li).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, mine) = app.get("/api/v1/ledger", &li).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
});

both!(virtual r5_6_cancelling_a_card_needs_a_reason_and_the_leader_and_keeps_it, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let (customer, card) = signed_card(&app, &wang, &leader, "冯女士", "13900000005").await;
    let path = format!("/api/v1/claims/{}/cancel", card["id"]);
    let (status, e) = app.post(&path, &wang, json!({ "reason": "客户已在外地购车" })).await;
    assert_eq!((status, e["rule"].as_str()), (StatusCode::FORBIDDEN, Some("R5.6")));
    let (status, e) = app.post(&path, &leader, json!({ "reason": " 无 " })).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("reason_required"), Some("R5.6")));
    assert_eq!(claim(&app, &card["id"]).await["status"], "valid");
    let (status, c) = app.post(&path, &leader, json!({ "reason": "客户已在外地购车" })).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!((c["status"].as_str(), c["end_reason"].as_str()), (Some("cancelled"), Some("客户已在外地购车")));
    assert_eq!(c["ended_rule"], "R5.6");
    // Kept, never deleted; its deadline is gone, so nothing fires later.
    assert_eq!(claim(&app, &card["id"]).await["status"], "cancelled");
    assert_eq!(advance(&app, 4 * 86400).await, 0);
    let (_, claims) = app.get(&format!("/api/v1/customers/{customer}/claims"), &leader).await;
    assert_eq!(claims["items"].as_array().unwrap().len(), 1);
    let (status, e) = app.post(&path, &leader, json!({ "reason": "再次撤销试试" })).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("claim_not_active")));
});

both!(virtual r5_17_lateness_escalates_in_the_month_and_reversal_is_a_new_entry, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let manager = app.staff("manager", "孙经理", &["sales_manager"]).await;
    let body = |note: &str| json!({ "staff_id": wang.staff_id, "code": "lateness", "note": note });
    let (status, e) = app.post("/api/v1/ledger", &wang, body("自己记")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let mut entries = Vec::new();
    for note in ["8:41 到", "8:50 到", "9:05 到"] {
        let (status, e) = app.post("/api/v1/ledger", &manager, body(note)).await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        entries.push(e);
    }
    let amounts: Vec<i64> = entries.iter().map(|e| e["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, [2000, 4000, 4000]);
    assert_eq!(entries[0]["rule"], "R5.17");
    assert_eq!(entries[2]["flag"], "dismissal_review");
    assert!(entries[2]["decision"]["text"].as_str().unwrap().contains("本月第 3 次"));
    // An automatic code cannot be entered by hand; an unknown one is named.
    let (status, e) = app
        .post("/api/v1/ledger", &manager, json!({ "staff_id": wang.staff_id, "code": "duplicate_card" }))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("automatic_code")));
    let (status, e) = app
        .post("/api/v1/ledger", &manager, json!({ "staff_id": wang.staff_id, "code": "nap" }))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("unknown_code")));
    // Reversal: a new entry of the opposite sign; the original stays.
    let rev = format!("/api/v1/ledger/{}/reverse", entries[1]["id"]);
    let (status, r) = app.post(&rev, &manager, json!({ "reason": "打卡机故障" })).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!((r["amount"].as_i64(), r["reverses"].clone()), (Some(-4000), entries[1]["id"].clone()));
    let (status, e) = app.post(&rev, &manager, json!({ "reason": "again" })).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("already_reversed")));
    let (_, orig) = app.get(&format!("/api/v1/ledger/{}", entries[1]["id"]), &manager).await;
    assert_eq!((orig["amount"].as_i64(), orig["reversed_by"].clone()), (Some(4000), r["id"].clone()));
    // The month's statement is the sum of the entries.
    let (status, s) = app.get("/api/v1/ledger/statement", &manager).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let line = s["people"].as_array().unwrap().iter().find(|p| p["id"] == wang.staff_id).unwrap();
    assert_eq!((line["penalties"].as_i64(), line["entries"].as_i64()), (Some(2000 + 4000 + 4000 - 4000), Some(4)));
    assert_eq!(line["flags"], json!(["dismissal_review"]));
    assert_eq!(s["total"]["penalties"], line["penalties"]);
    let (_, own) = app.get("/api/v1/ledger/statement", &wang).await;
    assert_eq!(own["people"].as_array().unwrap().len(), 1);
    let (status, e) = app.get("/api/v1/ledger/statement?period=2026-13", &manager).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_period")));
    // A new month starts the count again.
    advance(&app, 32 * 86400).await;
    let (_, e) = app.post("/api/v1/ledger", &manager, body("下月第一次")).await;
    assert_ne!(e["period"], entries[0]["period"]);
    assert_eq!((e["amount"].as_i64(), e["flag"].clone()), (Some(2000), Value::Null));
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(
    r5_17_early_leave_is_fined_as_lateness_is_and_counted_on_its_own_code,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let manager = app.staff("manager", "孙经理", &["sales_manager"]).await;
        let enter = |code: &'static str| {
            let (app, manager, id) = (&app, manager.clone(), wang.staff_id);
            async move {
                let (status, e) = app
                    .post("/api/v1/ledger", &manager, json!({ "staff_id": id, "code": code }))
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{e}");
                (
                    e["amount"].as_i64().unwrap(),
                    e["flag"].as_str().map(str::to_string),
                    e["rule"].as_str().unwrap().to_string(),
                )
            }
        };
        // 早退同上处理: 20 yuan, then 40, and the third time in the month flags dismissal review.
        assert_eq!(enter("early_leave").await, (2000, None, "R5.17".to_string()));
        assert_eq!(enter("early_leave").await, (4000, None, "R5.17".to_string()));
        // Lateness keeps its own count: the first lateness of the month is 20 yuan.
        assert_eq!(enter("lateness").await, (2000, None, "R5.17".to_string()));
        assert_eq!(
            enter("early_leave").await,
            (4000, Some("dismissal_review".to_string()), "R5.17".to_string())
        );
    }
);

both!(virtual r5_8_a_walk_in_without_a_first_sms_the_same_day_fines_the_receiver, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let li = app.staff("liqiang", "李强", &["consultant"]).await;
    let manager = app.staff("manager", "孙经理", &["sales_manager"]).await;
    let new = |name: &str, phone: &str, source: &str| {
        json!({ "kind": "person", "name": name, "phones": [phone], "source": source })
    };
    let (status, missed) = app.post("/api/v1/customers", &wang, new("钱先生", "13900000011", "到店")).await;
    assert_eq!(status, StatusCode::CREATED, "{missed}");
    let (_, texted) = app.post("/api/v1/customers", &li, new("孔女士", "13900000012", "来电")).await;
    let (_, own) = app.post("/api/v1/customers", &wang, new("曹先生", "13900000013", "自主开发")).await;
    // Li sends the first SMS the same day; Wang sends hers to her self-sourced customer only.
    follow_up(&app, &li, texted["id"].as_i64().unwrap(), "sms").await;
    follow_up(&app, &wang, own["id"].as_i64().unwrap(), "sms").await;
    // The next local midnight passes: one deadline is left, Wang's.
    assert_eq!(advance(&app, 86400).await, 1);
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &manager).await;
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{l}");
    assert_eq!((items[0]["rule"].as_str(), items[0]["amount"].as_i64()), (Some("R5.8"), Some(2000)));
    assert_eq!(items[0]["customer_id"], missed["id"]);
    assert!(items[0]["decision"]["text"].as_str().unwrap().contains("没有发出首次短信回访"), "{l}");
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", li.staff_id), &manager).await;
    assert_eq!(l["items"].as_array().unwrap().len(), 0, "{l}");
    assert_eq!(advance(&app, 86400).await, 0);
});

/// A second tenant on another preset, with its admin (`{slug}admin`) logged in.
pub(crate) async fn tenant_on(app: &TestApp, preset: &str, slug: &str) -> Session {
    let file = format!("{}/../../presets/{preset}.toml", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&file).unwrap();
    let policy = kehu_domain::Policy::parse(&src, &file).unwrap();
    let now = jiff::Timestamp::now();
    let t = kehu_store::tenants::create(&app.state.db, slug, "示范公司", &policy, &src, &file, now)
        .await
        .unwrap();
    let hash = kehu_server::auth::hash_password("tenant-admin-pw").unwrap();
    let mut admin = kehu_store::staff::NewStaff::admin(&hash);
    let username = format!("{slug}admin");
    admin.username = &username;
    kehu_store::staff::create(&app.state.db, t.id, None, admin, now)
        .await
        .unwrap();
    app.login_with(&username, "tenant-admin-pw").await
}

/// A staff member of the tenant `admin` runs, in `unit`, or else in the tenant's one shared
/// unit (so `unit` scopes cover the whole of a one-unit company), logged in.
pub(crate) async fn staff_of(
    app: &TestApp,
    admin: &Session,
    username: &str,
    name: &str,
    role: &str,
    unit: Option<i64>,
) -> Session {
    let unit = match unit {
        Some(u) => Some(u),
        None => {
            let (_, units) = app.get("/api/v1/units", admin).await;
            let shared = units["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["name"] == "全公司")
                .and_then(|u| u["id"].as_i64());
            match shared {
                Some(u) => Some(u),
                None => app.post("/api/v1/units", admin, json!({ "name": "全公司" })).await.1["id"].as_i64(),
            }
        }
    };
    let (status, body) = app
        .post(
            "/api/v1/staff",
            admin,
            json!({ "username": username, "password": crate::support::PASSWORD, "display_name": name, "roles": [role], "unit_id": unit }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.login(username).await
}

both!(
    r6_1_violations_cost_points_and_an_unsupervising_store_manager_loses_double,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "retail-store", "shop").await;
        let (status, store) = app.post("/api/v1/units", &admin, json!({ "name": "春熙路店" })).await;
        assert_eq!(status, StatusCode::CREATED, "{store}");
        let store_id = store["id"].as_i64();
        let clerk = staff_of(&app, &admin, "xiaoli", "小李", "shop_assistant", store_id).await;
        let boss = staff_of(&app, &admin, "dianzhang", "钱店长", "store_manager", store_id).await;
        let assistant = staff_of(&app, &admin, "zhuli", "郑助理", "manager_assistant", None).await;
        let entry = |staff: &Session, code: &str| json!({ "staff_id": staff.staff_id, "code": code });
        // The store manager enters the clerk's violations: 3 points each, 10 for an absence.
        let (status, late) = app.post("/api/v1/ledger", &boss, entry(&clerk, "lateness")).await;
        assert_eq!(status, StatusCode::CREATED, "{late}");
        assert_eq!(
            (late["points"].as_i64(), late["rule"].as_str(), late["kind"].as_str()),
            (Some(-3), Some("R6.1"), Some("points"))
        );
        let (_, absent) = app.post("/api/v1/ledger", &boss, entry(&clerk, "absence")).await;
        assert_eq!(absent["points"], -10);
        // Only the supervising roles enter a store manager's failure, and it names the violation.
        let mut failure = entry(&boss, "supervision_failure");
        let (status, e) = app.post("/api/v1/ledger", &boss, failure.clone()).await;
        assert_eq!((status, e["rule"].as_str()), (StatusCode::FORBIDDEN, None), "{e}");
        let (status, e) = app.post("/api/v1/ledger", &assistant, failure.clone()).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("refers_to_required"))
        );
        failure["refers_to"] = absent["id"].clone();
        let (status, double) = app.post("/api/v1/ledger", &assistant, failure).await;
        assert_eq!(status, StatusCode::CREATED, "{double}");
        assert_eq!(
            (double["points"].as_i64(), double["refers_to"].clone()),
            (Some(-20), absent["id"].clone())
        );
        // The monthly statement per person and per store.
        let (_, s) = app.get("/api/v1/ledger/statement", &assistant).await;
        let person = |id: i64| {
            s["people"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(person(clerk.staff_id)["points"], -13);
        assert_eq!(person(boss.staff_id)["points"], -20);
        let unit = s["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == store["id"])
            .unwrap();
        assert_eq!(
            (unit["name"].as_str(), unit["points"].as_i64()),
            (Some("春熙路店"), Some(-33))
        );
        // The clerk sees only their own entries; the car dealership's tenant sees none of these.
        let (_, own) = app.get("/api/v1/ledger", &clerk).await;
        assert_eq!(own["items"].as_array().unwrap().len(), 2);
        let (_, other_tenant) = app.get("/api/v1/ledger", &app.admin).await;
        assert_eq!(other_tenant["items"].as_array().unwrap().len(), 0);
    }
);

both!(virtual r3_1_registrations_are_due_the_same_day_late_until_10_then_cost_points_r3_3_earliest_wins, |app: TestApp| async move {
    let admin = tenant_on(&app, "property-archives", "estate").await;
    let li = staff_of(&app, &admin, "limanager", "李经理", "account_manager", None).await;
    let wang = staff_of(&app, &admin, "wangmanager", "王经理", "account_manager", None).await;
    let head = staff_of(&app, &admin, "head", "赵部长", "department_head", None).await;
    // Move to 09:00 tomorrow in the tenant's zone, so the cut-offs fall at known times.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let (_, c) = app.get("/api/v1/clock", &admin).await;
    let now: jiff::Timestamp = c["now"].as_str().unwrap().parse().unwrap();
    let today = now.to_zoned(tz.clone()).date();
    let at = |d: jiff::civil::Date, h: i8| d.at(h, 0, 0, 0).to_zoned(tz.clone()).unwrap().timestamp();
    let nine = at(today.tomorrow().unwrap(), 9);
    let (status, _) = app.post("/api/v1/clock/advance", &app.admin, json!({ "to": nine.to_string() })).await;
    assert_eq!(status, StatusCode::OK);
    let yesterday_15 = at(today, 15).to_string();
    let register = |who: &Session, name: &str, phone: &str, contact: String| {
        let (who, name, phone) = (who.clone(), name.to_string(), phone.to_string());
        let app = &app;
        async move {
            let (_, c) = app
                .post(
                    "/api/v1/customers",
                    &who,
                    json!({ "kind": "person", "name": name, "phones": [phone], "source": "来电", "agent": "链家" }),
                )
                .await;
            let (status, claim) = app
                .post(&format!("/api/v1/customers/{}/claims", c["id"]), &who, json!({ "contact_at": contact }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{claim}");
            (c, claim)
        }
    };
    // Met yesterday at 15:00, registered at 09:00: late, but before 10:00, so allowed (R3.1).
    let (customer, claim) = register(&li, "周先生", "13900000021", yesterday_15.clone()).await;
    assert_eq!(customer["agent"], "链家", "R3.6: the agent is on record");
    assert_eq!(claim["status"], "valid");
    let (_, h) = app.get(&format!("/api/v1/customers/{}/history", customer["id"]), &head).await;
    let late = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "late_submission").unwrap();
    assert_eq!(late["decision"]["rule"], "R3.1");
    assert!(late["decision"]["text"].as_str().unwrap().contains("允许"), "{late}");
    // Registered at 10:30: a recorded lateness that costs points (R3.12).
    app.post("/api/v1/clock/advance", &app.admin, json!({ "seconds": 5400 })).await;
    register(&li, "吴女士", "13900000022", yesterday_15).await;
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", li.staff_id), &head).await;
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{l}");
    assert_eq!((items[0]["rule"].as_str(), items[0]["points"].as_i64()), (Some("R3.12"), Some(-2)));
    assert!(items[0]["decision"]["text"].as_str().unwrap().contains("记迟交一次"), "{l}");
    // A contact in the future is refused.
    let future = (nine + jiff::SignedDuration::from_hours(48)).to_string();
    let (status, e) = app
        .post(&format!("/api/v1/customers/{}/claims", customer["id"]), &wang, json!({ "contact_at": future }))
        .await;
    // A time out of range is bad input (422), like a follow-up dated in the future.
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("contact_in_future")));
    // R3.3: Wang registers Zhou later; the earliest registration (Li's) owns.
    let (status, _) = app.post(&format!("/api/v1/customers/{}/claims", customer["id"]), &wang, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, o) = app.get(&format!("/api/v1/customers/{}/ownership", customer["id"]), &wang).await;
    assert_eq!((o["owner_id"].as_i64(), o["decision"]["rule"].as_str()), (Some(li.staff_id), Some("R3.3")));
    // R3.4: a walk-in who names Li is registered by the manager on duty in Li's name.
    let (_, walk_in) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "郑先生", "phones": ["13900000023"], "source": "到店" }))
        .await;
    let (status, c) = app
        .post(&format!("/api/v1/customers/{}/claims", walk_in["id"]), &wang, json!({ "staff_id": li.staff_id }))
        .await;
    assert_eq!((status, c["staff_id"].as_i64()), (StatusCode::CREATED, Some(li.staff_id)));
    // The same number again is found, with its owner, before anyone registers it twice.
    let (status, dup) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "郑先生", "phones": ["139 0000 0023"] }))
        .await;
    assert_eq!((status, dup["duplicates"][0]["owner_id"].as_i64()), (StatusCode::CONFLICT, Some(li.staff_id)));
});

both!(virtual r3_3_the_registration_time_on_a_form_handed_in_on_time_decides_ownership, |app: TestApp| async move {
    let admin = tenant_on(&app, "property-archives", "forms").await;
    let zhang = staff_of(&app, &admin, "zhangmanager", "张经理", "account_manager", None).await;
    let li = staff_of(&app, &admin, "limanager", "李经理", "account_manager", None).await;
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let (_, c) = app.get("/api/v1/clock", &admin).await;
    let now: jiff::Timestamp = c["now"].as_str().unwrap().parse().unwrap();
    let day = now.to_zoned(tz.clone()).date().tomorrow().unwrap();
    let at = |d: jiff::civil::Date, h: i8, m: i8| d.at(h, m, 0, 0).to_zoned(tz.clone()).unwrap().timestamp();
    let clock_to = |t: jiff::Timestamp| {
        let app = &app;
        async move {
            let (status, r) = app.post("/api/v1/clock/advance", &app.admin, json!({ "to": t.to_string() })).await;
            assert_eq!(status, StatusCode::OK, "{r}");
        }
    };
    let claim = |who: &Session, customer: &Value, met: jiff::Timestamp| {
        let (who, path) = (who.clone(), format!("/api/v1/customers/{}/claims", customer["id"]));
        let app = &app;
        async move {
            let (status, c) = app.post(&path, &who, json!({ "contact_at": met.to_string() })).await;
            assert_eq!(status, StatusCode::CREATED, "{c}");
            c
        }
    };
    let owner = |customer: &Value| {
        let path = format!("/api/v1/customers/{}/ownership", customer["id"]);
        let (app, admin) = (&app, admin.clone());
        async move { app.get(&path, &admin).await.1 }
    };
    // Zhang met 周先生 at 09:00 and hands his form in that evening; Li met him at 10:00 and
    // registered him at 10:30.
    clock_to(at(day, 10, 30)).await;
    let (_, zhou) = app
        .post("/api/v1/customers", &li, json!({ "kind": "person", "name": "周先生", "phones": ["13900000031"], "source": "walk_in" }))
        .await;
    claim(&li, &zhou, at(day, 10, 0)).await;
    clock_to(at(day, 19, 0)).await;
    claim(&zhang, &zhou, at(day, 9, 0)).await;
    // R3.3: the registration time on the form decides, not the moment of submission.
    let o = owner(&zhou).await;
    assert_eq!((o["owner_id"].as_i64(), o["decision"]["rule"].as_str()), (Some(zhang.staff_id), Some("R3.3")), "{o}");
    assert_eq!(o["decision"]["facts"]["winner"]["registered_on_form"], at(day, 9, 0).to_string());
    assert_eq!(o["decision"]["facts"]["winner"]["form"], "on_form");
    assert!(o["decision"]["text"].as_str().unwrap().contains("登记表上的登记时间为"), "{o}");
    // 吴女士: Li met her at 10:00 and handed the form in that evening; Zhang met her at 09:00 but
    // handed his in at 11:00 the next day, past the 10:00 grace (R3.1): his counts from then.
    let (_, wu) = app
        .post("/api/v1/customers", &li, json!({ "kind": "person", "name": "吴女士", "phones": ["13900000032"], "source": "来电" }))
        .await;
    assert_eq!(wu["source"], "inbound_call", "the source is stored as the policy's id");
    claim(&li, &wu, at(day, 10, 0)).await;
    clock_to(at(day.tomorrow().unwrap(), 11, 0)).await;
    claim(&zhang, &wu, at(day, 9, 0)).await;
    let o = owner(&wu).await;
    assert_eq!(o["owner_id"].as_i64(), Some(li.staff_id), "{o}");
    let late = o["decision"]["facts"]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["staff_id"] == zhang.staff_id)
        .unwrap()
        .clone();
    assert_eq!(late["form"], "late_form", "{late}");
    let from: jiff::Timestamp = late["counts_from"].as_str().unwrap().parse().unwrap();
    let eleven = at(day.tomorrow().unwrap(), 11, 0);
    assert!(from >= eleven && from < eleven + jiff::SignedDuration::from_mins(1), "{late}");
    // The late form is also a recorded lateness (R3.12).
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", zhang.staff_id), &admin).await;
    assert_eq!(l["items"][0]["rule"], "R3.12", "{l}");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual many_deadlines_due_at_once_each_fire_once_with_their_own_event, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
    let mut cards = Vec::new();
    for i in 0..5 {
        let (customer, card) = signed_card(&app, &wang, &leader, &format!("客户{i}"), &format!("1390000010{i}")).await;
        cards.push((customer, card));
    }
    // One of them is followed up, so it stays valid; a walk-in waits for its first SMS.
    follow_up(&app, &wang, cards[0].0, "call").await;
    let (_, _walk_in) = app
        .post(
            "/api/v1/customers",
            &wang,
            json!({ "kind": "person", "name": "到店客户", "phones": ["13900000199"], "source": "到店" }),
        )
        .await;
    // One sweep four days on (as `kehu sweep` or the serve loop would run after downtime):
    // everything due fires in one go, on SQLite as one batch.
    let later = app.state.now() + jiff::SignedDuration::from_hours(96);
    assert_eq!(kehu_server::lifecycle::sweep(&app.state, later).await.unwrap(), 5);
    assert_eq!(kehu_server::lifecycle::sweep(&app.state, later).await.unwrap(), 0);
    for (i, (customer, card)) in cards.iter().enumerate() {
        let c = claim(&app, &card["id"]).await;
        assert_eq!(c["status"], if i == 0 { "valid" } else { "void" }, "{c}");
        let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &leader).await;
        let voids = h["items"].as_array().unwrap().iter().filter(|e| e["action"] == "void").count();
        assert_eq!(voids, usize::from(i != 0));
    }
    let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={}", wang.staff_id), &leader).await;
    assert_eq!(l["items"].as_array().unwrap().len(), 1, "{l}");
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

both!(virtual r11_8_an_unserved_customer_returns_to_the_pool_where_the_first_claim_wins, |app: TestApp| async move {
    let admin = tenant_on(&app, "event-customers", "events").await;
    let wang = staff_of(&app, &admin, "xiaowang", "小王", "sales", None).await;
    let head = staff_of(&app, &admin, "head", "钱主任", "division_head", None).await;
    let mut others = Vec::new();
    for i in 0..12 {
        others.push(staff_of(&app, &admin, &format!("sales{i}"), &format!("销售{i}"), "sales", None).await);
    }
    // R11.4: Wang's invitation, confirmed by the division head.
    let (_, customer) = app
        .post("/api/v1/customers", &wang, json!({ "kind": "person", "name": "孙阿姨", "phones": ["13900000301"] }))
        .await;
    let cid = customer["id"].as_i64().unwrap();
    let (_, claim) = app.post(&format!("/api/v1/customers/{cid}/claims"), &wang, json!({})).await;
    let (status, claim) = app.post(&format!("/api/v1/claims/{}/confirm", claim["id"]), &head, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{claim}");
    // A visit a month later keeps the customer three months from then; Wang is warned a week
    // before the limit.
    advance(&app, 30 * 86400).await;
    // R11.7: a service is recorded as one of the policy's kinds.
    let (status, e) = app
        .post(&format!("/api/v1/customers/{cid}/activities"), &wang, json!({ "channel": "call", "kind": "gossip" }))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_kind")));
    let (status, visit) = app
        .post(&format!("/api/v1/customers/{cid}/activities"), &wang, json!({ "channel": "visit", "kind": "regular_care" }))
        .await;
    assert_eq!((status, visit["kind"].as_str()), (StatusCode::CREATED, Some("regular_care")), "{visit}");
    let (_, mine) = app.get("/api/v1/claims", &wang).await;
    let due = &mine["items"][0]["due"];
    assert_eq!(due["rule"], "R11.8");
    let limit = at(&due["at"]);
    let visited = at(&visit["at"]);
    assert!(limit > visited + jiff::SignedDuration::from_hours(24 * 89), "{due}");
    assert_eq!(at(&due["warn_from"]), limit - jiff::SignedDuration::from_hours(24 * 7));
    // Three months without service: the customer returns to the shared pool.
    let (_, clock) = app.get("/api/v1/clock", &admin).await;
    let to = limit + jiff::SignedDuration::from_mins(1);
    assert!(at(&clock["now"]) < to);
    let (_, r) = app.post("/api/v1/clock/advance", &app.admin, json!({ "to": to.to_string() })).await;
    assert_eq!(r["fired"], 1, "{r}");
    let c = claim_of(&app, &admin, &claim["id"]).await;
    assert_eq!((c["status"].as_str(), c["ended_rule"].as_str()), (Some("expired"), Some("R11.8")));
    let (_, cust) = app.get(&format!("/api/v1/customers/{cid}"), &admin).await;
    assert_eq!(cust["pool_id"], "shared");
    let (_, pools) = app.get("/api/v1/pools", &others[0]).await;
    assert_eq!((pools["items"][0]["id"].as_str(), pools["items"][0]["customers"].as_i64()), (Some("shared"), Some(1)));
    let (_, listed) = app.get("/api/v1/pools/shared/customers", &others[0]).await;
    assert_eq!(listed["items"][0]["id"], cid);
    let (status, _) = app.get("/api/v1/pools/shared/customers", &admin).await;
    assert_eq!(status, StatusCode::OK, "an admin sees every pool");
    // The former holder waits out the cooldown.
    let (status, e) = app.post("/api/v1/pools/shared/claims", &wang, json!({ "customer_id": cid })).await;
    assert_eq!((status, e["code"].as_str(), e["rule"].as_str()), (StatusCode::CONFLICT, Some("cooldown"), Some("R11.8")));
    // Twelve colleagues at once: exactly one gets the customer.
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = others
        .iter()
        .cloned()
        .map(|s| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/api/v1/pools/shared/claims", &s, json!({ "customer_id": cid })).await })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => won.push(body),
            StatusCode::CONFLICT => assert_eq!(body["code"], "not_in_pool", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    // Under R11.4 the invitation still waits for the division head's confirmation.
    assert_eq!((won[0]["from_pool"].as_str(), won[0]["status"].as_str()), (Some("shared"), Some("pending")));
    let (_, cust) = app.get(&format!("/api/v1/customers/{cid}"), &admin).await;
    assert_eq!(cust["pool_id"], Value::Null);
    let (_, listed) = app.get("/api/v1/pools/shared/customers", &others[0]).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
    assert_eq!(v["ok"], true, "{v}");
});

async fn claim_of(app: &TestApp, s: &Session, id: &Value) -> Value {
    let (status, c) = app.get(&format!("/api/v1/claims/{id}"), s).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

both!(
    r11_1_event_files_are_shared_out_evenly_among_the_staff_who_took_part,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "event-customers", "events").await;
        let crm = staff_of(&app, &admin, "crm", "CRM 中心", "crm_centre", None).await;
        let a = staff_of(&app, &admin, "salesa", "小赵", "sales", None).await;
        let b = staff_of(&app, &admin, "salesb", "小钱", "sales", None).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let (status, c) = app
            .post("/api/v1/customers", &crm, json!({ "kind": "person", "name": format!("会员{i}"), "phones": [format!("1390000040{i}")], "source": "活动" }))
            .await;
            assert_eq!(status, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().unwrap());
        }
        // Two of them already have an invitation: they are skipped, and the other three are
        // shared evenly (2 and 1), whichever positions the held ones had.
        app.post(&format!("/api/v1/customers/{}/claims", ids[0]), &a, json!({}))
            .await;
        app.post(&format!("/api/v1/customers/{}/claims", ids[2]), &a, json!({}))
            .await;
        let body = json!({ "customer_ids": ids, "staff_ids": [a.staff_id, b.staff_id] });
        let (status, e) = app.post("/api/v1/customers/share-out", &a, body.clone()).await;
        assert_eq!((status, e["rule"].as_str()), (StatusCode::FORBIDDEN, Some("R11.1")));
        let (status, r) = app.post("/api/v1/customers/share-out", &crm, body).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        let items = r["items"].as_array().unwrap();
        assert_eq!(items.iter().filter(|m| m["skipped"] == "already_held").count(), 2);
        let given = |s: &Session| items.iter().filter(|m| m["claim"]["staff_id"] == s.staff_id).count();
        assert_eq!((given(&a), given(&b)), (2, 1), "{r}");
        let (_, h) = app.get(&format!("/api/v1/customers/{}/history", ids[1]), &admin).await;
        let e = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "share_out")
            .unwrap();
        assert_eq!(e["decision"]["rule"], "R11.1");
        assert!(e["decision"]["text"].as_str().unwrap().contains("平均分配给"), "{e}");
        let (status, e) = app
            .post(
                "/api/v1/customers/share-out",
                &crm,
                json!({ "customer_ids": ids, "staff_ids": [] }),
            )
            .await;
        assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("no_targets")));
    }
);

both!(
    r7_8_12_a_leaving_persons_customers_are_redistributed_at_random,
    |app: TestApp| async move {
        // The car dealership adopts R7.8(12) for consultants on long leave.
        let (file, src) = crate::support::preset();
        let version = crate::support::preset_version();
        let src = format!(
            "{}\n[claims.redistribute]\nrule = \"R7.8(12)\"\nroles = [\"sales_manager\"]\nmethod = \"random\"\n",
            src.replacen(
                &format!("version = {version}"),
                &format!("version = {}", version + 1),
                1
            )
        );
        let policy = kehu_domain::Policy::parse(&src, &file).unwrap();
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let li = app.staff("liqiang", "李强", &["consultant"]).await;
        let liu = app.staff("liuyang", "刘洋", &["consultant"]).await;
        let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
        let manager = app.staff("manager", "孙经理", &["sales_manager"]).await;
        let mut cards = Vec::new();
        for i in 0..3 {
            cards.push(signed_card(&app, &wang, &leader, &format!("老客户{i}"), &format!("1390000050{i}")).await);
        }
        // The next version adopts R7.8(12) after the cards were signed; the policy cache rechecks
        // the active version every two seconds.
        kehu_store::tenants::activate_policy(
            &app.state.db,
            app.tenant_id,
            None,
            &policy,
            &src,
            &file,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
        tokio::time::sleep(kehu_server::POLICY_RECHECK).await;
        let body = json!({ "from_staff_id": wang.staff_id, "to_staff_ids": [li.staff_id, liu.staff_id] });
        let (status, _) = app.post("/api/v1/claims/redistribute", &leader, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, r) = app.post("/api/v1/claims/redistribute", &manager, body).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        let items = r["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{r}");
        for ((customer, card), m) in cards.iter().zip(items) {
            assert_eq!(m["customer_id"], *customer);
            let old = claim(&app, &card["id"]).await;
            assert_eq!(
                (old["status"].as_str(), old["ended_rule"].as_str()),
                (Some("cancelled"), Some("R7.8(12)"))
            );
            assert_eq!(
                (m["claim"]["status"].as_str(), m["claim"]["reassigned_from"].clone()),
                (Some("valid"), card["id"].clone())
            );
            let (_, o) = app
                .get(&format!("/api/v1/customers/{customer}/ownership"), &manager)
                .await;
            assert_eq!(o["owner_id"], m["staff_id"]);
            assert!([li.staff_id, liu.staff_id].contains(&m["staff_id"].as_i64().unwrap()));
        }
        let (_, h) = app
            .get(&format!("/api/v1/customers/{}/history", cards[0].0), &manager)
            .await;
        let e = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "redistribute")
            .unwrap();
        assert_eq!(e["decision"]["rule"], "R7.8(12)");
        assert_eq!(e["decision"]["facts"]["method"], "random");
        assert_eq!(e["decision"]["policy_version"], version + 1);
        // Changing the policy never rewrites past decisions: the signature was taken under the
        // preset's version and still says so.
        let signed = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "confirm")
            .unwrap();
        assert_eq!(
            (
                signed["decision"]["rule"].as_str(),
                signed["decision"]["policy_version"].as_i64()
            ),
            (Some("R5.1"), Some(i64::from(version)))
        );
    }
);

both!(
    r5_11_quota_shortfalls_are_fined_and_r5_13_a_referring_customer_is_rewarded,
    |app: TestApp| async move {
        let zhao = app.staff("zhaoda", "赵大客户", &["consultant"]).await;
        let manager = app.staff("manager", "孙经理", &["sales_manager"]).await;
        // R5.11: a day short of two visits and one call: three shortfalls, 20 yuan each.
        let (status, e) = app
        .post("/api/v1/ledger", &manager, json!({ "staff_id": zhao.staff_id, "code": "quota_shortfall", "quantity": 3, "note": "11月3日：拜访少2个，电话少1个" }))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        assert_eq!(
            (e["amount"].as_i64(), e["rule"].as_str(), e["flag"].clone()),
            (Some(6000), Some("R5.11"), Value::Null)
        );
        // More than five in the month flags dismissal review.
        let (_, e) = app
            .post(
                "/api/v1/ledger",
                &manager,
                json!({ "staff_id": zhao.staff_id, "code": "quota_shortfall", "quantity": 3 }),
            )
            .await;
        assert_eq!(
            (e["amount"].as_i64(), e["flag"].as_str()),
            (Some(6000), Some("dismissal_review"))
        );
        // R5.13: the customer who referred the buyer gets 200 yuan when the deal closes.
        let referrer = app.customer(&manager, "老客户钱先生", "13900000601").await;
        let (status, r) = app
            .post(
                "/api/v1/ledger",
                &manager,
                json!({ "customer_id": referrer, "code": "referral_reward", "note": "介绍的孙女士已提车" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(
            (r["kind"].as_str(), r["amount"].as_i64(), r["rule"].as_str()),
            (Some("reward"), Some(20000), Some("R5.13"))
        );
        assert_eq!(
            (r["customer_id"].as_i64(), r["staff_id"].clone()),
            (Some(referrer), Value::Null)
        );
        assert!(
            r["decision"]["text"].as_str().unwrap().contains("奖励 200.00 元"),
            "{r}"
        );
        let (status, e) = app
            .post(
                "/api/v1/ledger",
                &manager,
                json!({ "staff_id": zhao.staff_id, "customer_id": referrer, "code": "referral_reward" }),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_party"))
        );
        // The month's total counts the reward; the person's line does not.
        let (_, s) = app.get("/api/v1/ledger/statement", &manager).await;
        assert_eq!(
            (s["total"]["rewards"].as_i64(), s["total"]["penalties"].as_i64()),
            (Some(20000), Some(12000))
        );
    }
);

pub(crate) const PARTNERS: &str = r#"
[policy]
id = "partners"
rulebook = "R1"
version = 1
name = { zh = "合作伙伴管理", en = "Partner network" }

[[roles]]
id = "unit_staff"
name = { zh = "归口单位人员", en = "Unit staff" }
permissions = ["customers.read", "customers.create", "claims.create", "activities.create"]

[[roles]]
id = "senior_manager"
name = { zh = "高层领导", en = "Senior manager" }
permissions = ["customers.read", "activities.create"]

[[roles]]
id = "central"
name = { zh = "中心单位", en = "Central unit" }
permissions = ["customers.read", "customers.update", "claims.create_for_others", "staff.manage"]

[claims]
rule = "R1.6"
duplicates = "refuse"

[ownership]
rule = "R1.6"
basis = "earliest_effective"

[cadence]
rule = "R1.6"
channels = ["visit"]
grades = { A = "1 month", B = "2 months", C = "3 months", D = "6 months" }

[[cadence.tags]]
tag = "out_of_town"
rule = "R1.6"
every = "6 months"

[[cadence.tags]]
tag = "pending_project"
rule = "R1.7"
every = "2 weeks"

[[cadence.duties]]
rule = "R1.6"
roles = ["senior_manager"]
grades = ["A"]
tags = ["selected"]
every = "1 year"
"#;

both!(virtual r1_6_r1_7_visits_are_due_per_grade_and_tag_and_overdue_ones_are_listed, |app: TestApp| async move {
    let now = jiff::Timestamp::now();
    let policy = kehu_domain::Policy::parse(PARTNERS, "partners.toml").unwrap();
    let t = kehu_store::tenants::create(&app.state.db, "partners", "合作伙伴", &policy, PARTNERS, "partners.toml", now)
        .await
        .unwrap();
    let hash = kehu_server::auth::hash_password("tenant-admin-pw").unwrap();
    let mut admin = kehu_store::staff::NewStaff::admin(&hash);
    admin.username = "partnersadmin";
    kehu_store::staff::create(&app.state.db, t.id, None, admin, now).await.unwrap();
    let admin = app.login_with("partnersadmin", "tenant-admin-pw").await;
    let (_, unit) = app.post("/api/v1/units", &admin, json!({ "name": "华东区" })).await;
    let li = staff_of(&app, &admin, "liunit", "李工", "unit_staff", unit["id"].as_i64()).await;
    let boss = staff_of(&app, &admin, "boss", "周总", "senior_manager", None).await;
    let central = staff_of(&app, &admin, "central", "中心", "central", None).await;
    let partner = |name: &'static str, phone: &'static str, grade: &'static str| {
        let (app, li) = (&app, li.clone());
        async move {
            let (_, c) = app
                .post("/api/v1/customers", &li, json!({ "kind": "company", "name": name, "phones": [phone], "grade": grade }))
                .await;
            app.post(&format!("/api/v1/customers/{}/claims", c["id"]), &li, json!({})).await;
            c["id"].as_i64().unwrap()
        }
    };
    let p1 = partner("华信建设有限公司", "13900000701", "A").await;
    let p2 = partner("远航工程有限公司", "13900000702", "C").await;
    let p3 = partner("明德安装有限公司", "13900000703", "B").await;
    let (status, c) = app.call(axum::http::Method::PATCH, &format!("/api/v1/customers/{p2}"), Some(&central), Some(json!({ "tags": ["out_of_town"] }))).await;
    assert_eq!((status, c["tags"].clone()), (StatusCode::OK, json!(["out_of_town"])), "{c}");
    let (status, _) = app.call(axum::http::Method::PATCH, &format!("/api/v1/customers/{p2}"), Some(&li), Some(json!({ "grade": "A" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.call(axum::http::Method::PATCH, &format!("/api/v1/customers/{p3}"), Some(&central), Some(json!({ "tags": ["selected"] }))).await;
    follow_up(&app, &li, p1, "visit").await;
    // 35 days on: the A partner is overdue (monthly); the out-of-town C partner is not (half-yearly).
    advance(&app, 35 * 86400).await;
    let (status, l) = app.get("/api/v1/cadence", &li).await;
    assert_eq!(status, StatusCode::OK, "{l}");
    let ids: Vec<i64> = l["items"].as_array().unwrap().iter().map(|i| i["customer_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [p1], "{l}");
    let line = &l["items"][0];
    assert_eq!((line["overdue"].as_bool(), line["decision"]["rule"].as_str()), (Some(true), Some("R1.6")));
    assert!(line["decision"]["text"].as_str().unwrap().contains("须每 1 个月至少拜访一次"), "{line}");
    let (_, all) = app.get("/api/v1/cadence?show=all", &li).await;
    let p2_line = all["items"].as_array().unwrap().iter().find(|i| i["customer_id"] == p2).unwrap().clone();
    assert_eq!((p2_line["overdue"].as_bool(), p2_line["decision"]["facts"]["basis"].as_str()), (Some(false), Some("tag:out_of_town")));
    // R1.7: a pending cooperation project raises the frequency to every two weeks.
    app.call(axum::http::Method::PATCH, &format!("/api/v1/customers/{p2}"), Some(&central), Some(json!({ "tags": ["out_of_town", "pending_project"] }))).await;
    let (_, l) = app.get("/api/v1/cadence", &li).await;
    let r17 = l["items"].as_array().unwrap().iter().find(|i| i["customer_id"] == p2).unwrap().clone();
    assert_eq!((r17["overdue"].as_bool(), r17["decision"]["rule"].as_str()), (Some(true), Some("R1.7")));
    // Per unit, for the central unit; a unit member may not look at others.
    let (status, u) = app.get(&format!("/api/v1/cadence?unit_id={}", unit["id"]), &central).await;
    assert_eq!((status, u["items"].as_array().unwrap().len()), (StatusCode::OK, 2), "{u}");
    let (status, _) = app.get(&format!("/api/v1/cadence?staff_id={}", central.staff_id), &li).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Senior management: the A partner and the selected B partner once a year.
    let (_, duty) = app.get("/api/v1/cadence?show=all", &boss).await;
    let owed: Vec<i64> = duty["items"].as_array().unwrap().iter().filter(|i| i["duty_roles"] == json!(["senior_manager"])).map(|i| i["customer_id"].as_i64().unwrap()).collect();
    assert_eq!(owed.len(), 2, "{duty}");
    assert!(owed.contains(&p1) && owed.contains(&p3));
    advance(&app, 340 * 86400).await;
    let (_, duty) = app.get("/api/v1/cadence", &boss).await;
    assert_eq!(duty["items"].as_array().unwrap().len(), 2, "{duty}");
    follow_up(&app, &boss, p1, "visit").await;
    let (_, duty) = app.get("/api/v1/cadence", &boss).await;
    assert_eq!(duty["items"].as_array().unwrap().len(), 1, "{duty}");
    let (_, h) = app.get(&format!("/api/v1/customers/{p2}/history"), &admin).await;
    assert!(h["items"].as_array().unwrap().iter().any(|e| e["action"] == "update"));
});

both!(
    the_serve_scheduler_fires_a_deadline_when_it_falls_due,
    |app: TestApp| async move {
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        let leader = app.staff("leader", "赵组长", &["team_leader"]).await;
        let (_, card) = signed_card(&app, &wang, &leader, "冯先生", "13900000801").await;
        // The card was signed four days ago and its deadline is due now (as if the server had
        // been down over the limit).
        let now = app.state.now().as_millisecond();
        let day = 86_400_000i64;
        app.tamper(&format!(
            "UPDATE claims SET effective_at = {}, confirmed_at = {} WHERE id = {}",
            now - 4 * day,
            now - 4 * day,
            card["id"]
        ))
        .await;
        app.tamper(&format!(
            "UPDATE deadlines SET due_at = {} WHERE subject_id = {}",
            now - day,
            card["id"]
        ))
        .await;
        let scheduler = kehu_server::lifecycle::spawn(app.state.clone());
        let mut status = String::new();
        for _ in 0..50 {
            status = claim(&app, &card["id"]).await["status"].as_str().unwrap().to_string();
            if status == "void" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        scheduler.abort();
        assert_eq!(status, "void");
        let c = claim(&app, &card["id"]).await;
        assert_eq!(c["ended_rule"], "R5.2");
    }
);
