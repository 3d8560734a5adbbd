//! New-customer development (R12, presets/new-customer-development.toml) through the API, with
//! no Rust of its own: the thresholds and the directory check (R12.1), the approvals in order
//! (R12.2), tracking every 30 days (R12.3), the checkpoints at 3, 6 and 12 months (R12.4),
//! pausing and terminating (R12.5), success handing the customer to sales (R12.6), the budget
//! with its 7 days, its cap and its tolerance (R12.7), the year-end reward (R12.8) and who sees a
//! project (R12.9). On the virtual clock; SQLite and PostgreSQL.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::partners::{act, refusal};
use crate::support::{Session, TestApp, advance};
use crate::timed::{staff_of, tenant_on};

const DAY: i64 = 86_400;

fn project(name: &str, category: &str, expected_annual: i64) -> Value {
    json!({
        "workflow": "development_project",
        "fields": { "target_name": name, "category": category, "expected_annual": expected_annual },
    })
}

/// Opens a project and takes it through its three approvals and its budget.
async fn developing(app: &TestApp, people: &People, name: &str, lines: Value) -> i64 {
    let (s, c) = app
        .post("/api/v1/cases", &people.dev, project(name, "equipment", 300_000_000))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    for (by, action) in [
        (&people.group, "assess"),
        (&people.deputy, "review"),
        (&people.leader, "approve"),
    ] {
        let (s, c) = act(app, by, id, action, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{action}: {c}");
    }
    let (s, c) = act(app, &people.dev, id, "budget", json!({ "fields": { "lines": lines } })).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("developing")), "{c}");
    id
}

struct People {
    dev: Session,
    group: Session,
    deputy: Session,
    leader: Session,
}

both!(
    virtual r12_a_development_project_runs_from_application_to_hand_over_by_the_policy_alone,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "new-customer-development", "develop").await;
        let people = People {
            dev: staff_of(&app, &admin, "dev1", "周开发", "developer", None).await,
            group: staff_of(&app, &admin, "group1", "钱评审", "review_group", None).await,
            deputy: staff_of(&app, &admin, "deputy1", "孙副总", "deputy_leader", None).await,
            leader: staff_of(&app, &admin, "leader1", "李总", "leader", None).await,
        };
        let People { dev, group, deputy, leader } = &people;
        let other_dev = staff_of(&app, &admin, "dev2", "吴开发", "developer", None).await;
        let sales1 = staff_of(&app, &admin, "sales1", "郑销售", "sales", None).await;
        let sales2 = staff_of(&app, &admin, "sales2", "王销售", "sales", None).await;
        // A customer of the directory, held by the second salesperson.
        let (s, known) = app
            .post(
                "/api/v1/customers",
                &sales2,
                json!({ "kind": "company", "name": "东方铸造有限公司", "phones": ["13900002001"] }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{known}");
        let (s, c) = app
            .post(&format!("/api/v1/customers/{}/claims", known["id"]), &sales2, json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");

        // R12.1: the thresholds, per category; a customer already in the directory is not a
        // development project, however its name is written; a project has no customer_id.
        let r = app.post("/api/v1/cases", dev, project("宏达机械有限公司", "castings", 200_000_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R12.1"), "{}", r.1);
        let r = app.post("/api/v1/cases", dev, project("东方铸造股份有限公司", "castings", 400_000_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "already_a_customer", "R12.1"), "{}", r.1);
        assert!(r.1["detail"].as_str().unwrap_or_default().contains("东方铸造有限公司"), "{}", r.1);
        let mut with_customer = project("宏达机械有限公司", "castings", 400_000_000);
        with_customer["customer_id"] = known["id"].clone();
        let r = app.post("/api/v1/cases", &admin, with_customer).await;
        assert_eq!(refusal(&r).1, "invalid_customer", "{}", r.1);
        // What a later step records is given by that step, not at the application.
        let mut early = project("宏达机械有限公司", "castings", 400_000_000);
        early["fields"]["monthly_volume"] = json!(40_000_000);
        let r = app.post("/api/v1/cases", dev, early).await;
        assert_eq!(refusal(&r), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "R12.1"), "{}", r.1);
        let r = app.post("/api/v1/cases", group, project("宏达机械有限公司", "castings", 400_000_000)).await;
        assert_eq!(refusal(&r).0, StatusCode::FORBIDDEN, "only developers apply: {}", r.1);
        let (s, c) = app.post("/api/v1/cases", dev, project("宏达机械有限公司", "castings", 500_000_000)).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::CREATED, Some("applied")), "{c}");
        assert_eq!(c["customer_id"], Value::Null);
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["waiting_on"][0]["roles"], json!(["review_group"]), "{c}");

        // R12.2: assessment, review and approval, in that order, each by its own role.
        let r = act(&app, deputy, id, "review", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "action_not_available", "R12.2"), "{}", r.1);
        let r = act(&app, leader, id, "approve", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "action_not_available", "R12.2"), "{}", r.1);
        let r = act(&app, dev, id, "assess", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::FORBIDDEN, "forbidden", "R12.2"), "{}", r.1);
        for (by, action, to) in [(group, "assess", "assessed"), (deputy, "review", "reviewed"), (leader, "approve", "approved")] {
            let (s, c) = act(&app, by, id, action, json!({})).await;
            assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some(to)), "{c}");
        }

        // R12.9: the review group, the leaders and the project's own people see it; another
        // developer and sales do not, in the list or by id.
        for who in [dev, group, deputy, leader] {
            let (s, _) = app.get(&format!("/api/v1/cases/{id}"), who).await;
            assert_eq!(s, StatusCode::OK);
        }
        for who in [&other_dev, &sales1] {
            let (s, _) = app.get(&format!("/api/v1/cases/{id}"), who).await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            let (_, list) = app.get("/api/v1/cases?workflow=development_project", who).await;
            assert_eq!(list["items"], json!([]), "{list}");
        }

        // R12.7: the budget is due within 7 days of approval; spending waits for it.
        let r = act(&app, dev, id, "expense", json!({ "fields": { "line": "差旅费", "amount": 10_000 } })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "action_not_available", "R12.7"), "{}", r.1);
        advance(&app, 7 * DAY + 60).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{id}"), dev).await;
        assert!(c["overdue_since"].is_string(), "{c}");
        let lines = json!({ "差旅费": 1_000_000, "样品试制": 2_000_000 });
        let (s, c) = act(&app, dev, id, "budget", json!({ "fields": { "lines": lines } })).await;
        assert_eq!((s, c["state"].as_str(), c["overdue_since"].is_null()), (StatusCode::OK, Some("developing"), true), "{c}");

        // R12.7: a line may pass its budget by 5% at most; until substantive progress all
        // spending stays within 30,000 yuan; a line must be one of the budget's.
        let spend = |line: &str, amount: i64| json!({ "fields": { "line": line, "amount": amount } });
        let r = act(&app, dev, id, "expense", spend("招待费", 10_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "budget_line_unknown", "R12.7"), "{}", r.1);
        let (s, c) = act(&app, dev, id, "expense", spend("差旅费", 1_040_000)).await;
        assert_eq!(s, StatusCode::OK, "4% over the line: {c}");
        let r = act(&app, dev, id, "expense", spend("差旅费", 20_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "budget_line_exceeded", "R12.7"), "{}", r.1);
        let r = act(&app, dev, id, "expense", spend("样品试制", 2_000_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "budget_cap_exceeded", "R12.7"), "{}", r.1);
        assert!(r.1["detail"].as_str().unwrap_or_default().contains("30000.00"), "{}", r.1);
        let (s, c) = act(&app, dev, id, "expense", spend("样品试制", 1_900_000)).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        // The preset words the step itself.
        let said = c["decisions"].as_array().unwrap().last().unwrap()["text"].as_str().unwrap_or_default().to_string();
        assert_eq!(said, "周开发记开发费用「样品试制」19000.00 元：该项已支出 19000.00 元（预算 20000.00 元），开发费用合计 29400.00 元");
        // The budget-execution report; development costs stay on the project.
        assert_eq!(c["budget"]["spent"], 2_940_000, "{c}");
        assert_eq!(c["budget"]["budget"], 3_000_000, "{c}");
        assert_eq!(c["budget"]["cap"], 3_000_000, "{c}");
        let travel = c["budget"]["lines"].as_array().unwrap().iter().find(|l| l["line"] == "差旅费").unwrap();
        assert_eq!((travel["spent"].as_i64(), travel["limit"].as_i64()), (Some(1_040_000), Some(1_050_000)), "{c}");
        let (_, ledger) = app.get("/api/v1/ledger", &admin).await;
        assert_eq!(ledger["items"], json!([]), "development costs are not ordinary costs: {ledger}");
        // R12.4: substantive progress lifts the cap (the line's tolerance stays).
        let (s, _) = act(&app, dev, id, "progress", json!({ "note": "样品通过客户检测" })).await;
        assert_eq!(s, StatusCode::OK);
        let (s, c) = act(&app, dev, id, "expense", spend("样品试制", 150_000)).await;
        assert_eq!((s, c["budget"]["spent"].as_i64(), c["budget"]["cap"].is_null()), (StatusCode::OK, Some(3_090_000), true), "{c}");

        // R12.3: a tracking record at least every 30 days.
        advance(&app, 30 * DAY + 60).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{id}"), dev).await;
        assert!(c["overdue_since"].is_string(), "30 days without a tracking record: {c}");
        let (_, inbox) = app.get("/api/v1/inbox?kind=case", dev).await;
        assert!(
            inbox["items"].as_array().unwrap().iter().any(|i| i["id"].as_i64() == Some(id) && i["action"] == "track"),
            "{inbox}"
        );
        let r = act(&app, dev, id, "track", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "note_required", "R12.3"), "{}", r.1);
        let (s, c) = act(&app, dev, id, "track", json!({ "note": "拜访采购部", "fields": { "monthly_volume": 20_000_000 } })).await;
        assert_eq!((s, c["overdue_since"].is_null()), (StatusCode::OK, true), "{c}");

        // R12.8: payments add up, and the year-end reward follows the scale and the payments.
        for _ in 0..2 {
            let (s, _) = act(&app, dev, id, "payment", json!({ "fields": { "payment": 5_000_000 } })).await;
            assert_eq!(s, StatusCode::OK);
        }
        let (_, c) = app.get(&format!("/api/v1/cases/{id}"), leader).await;
        assert_eq!(c["fields"]["collected"], 10_000_000, "{c}");
        let reward = c["figures"].as_array().unwrap().iter().find(|f| f["id"] == "year_end_reward").unwrap();
        assert_eq!((reward["value"].as_i64(), reward["rule"].as_str()), (Some(700_000), Some("R12.8")), "{c}");

        // R12.6: success needs the monthly volume; then the project closes and its customer goes
        // to the salesperson with the fewest customers.
        let r = act(&app, leader, id, "succeed", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R12.6"), "{}", r.1);
        act(&app, dev, id, "track", json!({ "note": "批量订货", "fields": { "monthly_volume": 45_000_000 } })).await;
        let (s, c) = act(&app, leader, id, "succeed", json!({})).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("succeeded")), "{c}");
        let said = c["decisions"].as_array().unwrap().last().unwrap()["text"].as_str().unwrap_or_default().to_string();
        assert_eq!(said, "李总确认「宏达机械有限公司」开发成功，客户移交销售");
        let customer = c["customer_id"].as_i64().unwrap_or_else(|| panic!("{c}"));
        let (s, cust) = app.get(&format!("/api/v1/customers/{customer}"), &sales1).await;
        assert_eq!(s, StatusCode::OK, "{cust}");
        assert_eq!((cust["name"].as_str(), cust["kind"].as_str()), (Some("宏达机械有限公司"), Some("company")));
        let (_, own) = app.get(&format!("/api/v1/customers/{customer}/ownership"), &sales1).await;
        assert_eq!(own["owner_id"], sales1_id(&app, &admin).await, "{own}");
        let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &admin).await;
        let handed = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "hand_over").unwrap_or_else(|| panic!("{h}"));
        assert_eq!(handed["decision"]["rule"], "R12.6", "{handed}");
        // Now it is in the directory: no second project for it.
        let r = app.post("/api/v1/cases", dev, project("宏达机械有限公司", "castings", 500_000_000)).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "already_a_customer", "R12.1"), "{}", r.1);

        // R12.4: a project without progress: special attention at 3 months, a review whether to
        // go on at 6, a written report and a decision at 12.
        let slow = developing(&app, &people, "远景装备制造有限公司", json!({ "差旅费": 500_000 })).await;
        advance(&app, 92 * DAY).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{slow}"), leader).await;
        assert_eq!(c["fields"]["attention"], true, "{c}");
        let r = act(&app, leader, slow, "go_on", json!({ "note": "继续" })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R12.4"), "nothing to decide yet: {}", r.1);
        act(&app, dev, slow, "track", json!({ "note": "电话沟通" })).await;
        advance(&app, 92 * DAY).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{slow}"), leader).await;
        assert_eq!(c["fields"]["continuation_review"], true, "{c}");
        let (s, c) = act(&app, leader, slow, "go_on", json!({ "note": "再给半年" })).await;
        assert_eq!((s, c["fields"]["continuation_review"].as_bool()), (StatusCode::OK, Some(false)), "{c}");
        advance(&app, 183 * DAY).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{slow}"), leader).await;
        assert_eq!(c["fields"]["year_report_due"], true, "{c}");
        let r = act(&app, leader, slow, "go_on", json!({ "note": "继续" })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R12.4"), "the report comes first: {}", r.1);
        let (s, _) = act(&app, dev, slow, "year_report", json!({ "note": "客户预算推迟到明年" })).await;
        assert_eq!(s, StatusCode::OK);

        // R12.5: a pause needs its reason; a termination is requested in writing with the
        // costs accounted and approved by the leader; a terminated project takes no step, and
        // the company may be applied for again as a new project.
        let r = act(&app, dev, slow, "pause", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "note_required", "R12.5"), "{}", r.1);
        let (s, c) = act(&app, dev, slow, "pause", json!({ "note": "客户重组" })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("paused")), "{c}");
        act(&app, dev, slow, "resume", json!({ "note": "重组完成" })).await;
        act(&app, dev, slow, "expense", spend("差旅费", 120_000)).await;
        let r = act(&app, dev, slow, "request_termination", json!({ "note": "客户取消采购计划", "fields": { "final_costs": 100_000 } })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R12.5"), "{}", r.1);
        let (s, c) = act(&app, dev, slow, "request_termination", json!({ "note": "客户取消采购计划", "fields": { "final_costs": 120_000 } })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("terminating")), "{c}");
        let (s, c) = act(&app, leader, slow, "terminate", json!({ "note": "同意终止" })).await;
        assert_eq!((s, c["state"].as_str(), c["waiting_on"].as_array().map(Vec::len)), (StatusCode::OK, Some("terminated"), Some(0)), "{c}");
        let r = act(&app, dev, slow, "resume", json!({ "note": "重新开始" })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "action_not_available", "R12.5"), "{}", r.1);
        let (s, _) = app.post("/api/v1/cases", dev, project("远景装备制造有限公司", "equipment", 300_000_000)).await;
        assert_eq!(s, StatusCode::CREATED, "a new application");
    }
);

async fn sales1_id(app: &TestApp, admin: &Session) -> Value {
    let (_, staff) = app.get("/api/v1/staff", admin).await;
    staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "sales1")
        .map(|s| s["id"].clone())
        .unwrap_or_else(|| panic!("{staff}"))
}

both!(
    virtual r12_7_the_project_page_shows_the_budget_execution_and_the_reward,
    |app: TestApp| async move {
        use crate::web::{get, post};
        let admin = tenant_on(&app, "new-customer-development", "devpage").await;
        let people = People {
            dev: staff_of(&app, &admin, "dev1", "周开发", "developer", None).await,
            group: staff_of(&app, &admin, "group1", "钱评审", "review_group", None).await,
            deputy: staff_of(&app, &admin, "deputy1", "孙副总", "deputy_leader", None).await,
            leader: staff_of(&app, &admin, "leader1", "李总", "leader", None).await,
        };
        // The opening form asks for the application, not for what the project's steps set.
        let form = get(&app, "/cases/new?workflow=development_project", Some(&people.dev)).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        for asked in ["target_name", "category", "expected_annual", "plan"] {
            assert!(form.has(&format!("data-field=\"{asked}\"")), "{asked}: {}", form.html);
        }
        for set_later in ["lines", "spent", "amount", "collected", "attention", "final_costs"] {
            assert!(!form.has(&format!("data-field=\"{set_later}\"")), "{set_later}: {}", form.html);
        }
        let csrf = form.csrf();
        let opened = post(
            &app,
            "/cases",
            &people.dev,
            &[
                ("csrf", &csrf),
                ("workflow", "development_project"),
                ("f.target_name", "宏达机械有限公司"),
                ("f.category", "equipment"),
                ("f.expected_annual", "3,000,000"),
            ],
        )
        .await;
        let id: i64 = opened
            .location()
            .trim_start_matches("/cases/")
            .split('?')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{} {}", opened.status, opened.html));
        for (by, action) in [(&people.group, "assess"), (&people.deputy, "review"), (&people.leader, "approve")] {
            let (s, c) = act(&app, by, id, action, json!({})).await;
            assert_eq!(s, StatusCode::OK, "{c}");
        }
        let path = format!("/cases/{id}");
        let page = get(&app, &path, Some(&people.dev)).await;
        assert!(page.has("data-test=\"budget-unfiled\""), "{}", page.html);
        assert!(page.has("placeholder=\"差旅费 5000"), "the lines are written one per line: {}", page.html);
        // A line the page cannot read is refused in words; nothing is filed.
        let csrf = page.csrf();
        let bad = post(&app, &format!("/cases/{id}/actions/budget"), &people.dev, &[("csrf", &csrf), ("f.lines", "差旅费 很多")]).await;
        assert!(bad.has("每行写一项"), "{}", bad.html);
        let filed = post(
            &app,
            &format!("/cases/{id}/actions/budget"),
            &people.dev,
            &[("csrf", &csrf), ("f.lines", "差旅费 10000\n样品试制：20,000.50\n")],
        )
        .await;
        assert!(filed.status.is_redirection(), "{} {}", filed.status, filed.html);
        let (_, c) = act(&app, &people.dev, id, "expense", json!({ "fields": { "line": "差旅费", "amount": 1_040_000 } })).await;
        assert_eq!(c["budget"]["spent"], 1_040_000, "{c}");
        act(&app, &people.dev, id, "payment", json!({ "fields": { "payment": 10_000_000 } })).await;
        let page = get(&app, &path, Some(&people.dev)).await;
        assert!(page.has("data-test=\"budget\"") && page.has("开发预算") && page.has("R12.7"), "{}", page.html);
        assert!(page.has("20000.50") && page.has("10400.00") && page.has("104%"), "{}", page.html);
        assert!(page.has("class=\"row-changed\""), "the overspent line is marked: {}", page.html);
        assert!(page.has("取得实质性进展前，支出合计上限 30000.00 元"), "{}", page.html);
        assert!(page.has("data-test=\"figures\"") && page.has("年终奖励") && page.has("7000.00 元"), "{}", page.html);
        // The spending form suggests the budget's lines and starts empty.
        assert!(page.has("<option value=\"样品试制\">"), "{}", page.html);
        assert!(!page.has("data-field=\"amount\" value=\"10400.00\""), "{}", page.html);
        let english = format!("{}; kehu_lang=en", people.dev.cookie);
        let p = crate::web::send(&app, axum::http::Method::GET, &path, Some(&english), None, &[]).await;
        assert!(p.has("Development budget") && p.has("Year-end reward") && p.has("Spent (yuan)"), "{}", p.html);
    }
);
