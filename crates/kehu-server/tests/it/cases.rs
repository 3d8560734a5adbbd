//! The case engine (issue 10) through the API: a workflow none of the rulebooks has, written
//! into a policy file by the test and activated, then run end to end with no Rust of its own:
//! opening with typed fields, who may act, a guard with its rule, a required note, the opener
//! kept from approving their own, visibility and a race of two approvals; on the virtual clock,
//! its timers: a reminder after 2 days, a review every 30 days that charges the ledger when it
//! is missed. SQLite and PostgreSQL.

use axum::http::StatusCode;
use kehu_domain::Policy;
use serde_json::{Value, json};

use crate::both;
use crate::support::{TestApp, advance, at, page, preset};

/// A company's own process (docs/examples/credit-line.toml): sales proposes a credit line for
/// a customer; the sales manager approves up to 50,000 yuan, above that only the general manager.
const CREDIT: &str = include_str!("../../../../docs/examples/credit-line.toml");

async fn with_credit_line(app: &TestApp) {
    with_workflow(app, CREDIT).await;
}

/// Activates the preset with `extra` appended, as its next version.
async fn with_workflow(app: &TestApp, extra: &str) {
    activate(app, 5, extra).await;
}

/// Activates the preset with `extra` appended as `version`.
async fn activate(app: &TestApp, version: u32, extra: &str) {
    let (file, src) = preset();
    let src = format!(
        "{}{extra}",
        src.replacen("version = 4", &format!("version = {version}"), 1)
    );
    let policy = Policy::parse(&src, &file).expect("the credit line parses");
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
}

both!(
    a_workflow_written_into_the_policy_runs_end_to_end,
    |app: TestApp| async move {
        with_credit_line(&app).await;
        let sales = app.staff("wang", "王芳", &["consultant"]).await;
        let other = app.staff("li", "李强", &["consultant"]).await;
        let manager = app.staff("sun", "孙经理", &["sales_manager"]).await;
        let gm = app.staff("zhou", "周总", &["general_manager"]).await;
        let customer = app.customer(&sales, "北京华信", "13910000001").await;

        let (s, w) = app.get("/api/v1/workflows", &sales).await;
        assert_eq!(s, StatusCode::OK);
        let wf = &w["items"][0];
        assert_eq!(
            (wf["id"].as_str(), wf["initial"].as_str()),
            (Some("credit_line"), Some("proposed")),
            "{w}"
        );
        assert_eq!(wf["actions"][1]["note_required"], true);

        // Opening: typed fields, the customer, the opening guard, known workflows.
        for (body, code) in [
            (
                json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": "lots" } }),
                "invalid_field",
            ),
            (
                json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "reason": "备货" } }),
                "invalid_field",
            ),
            (
                json!({ "workflow": "credit_line", "fields": { "amount": 100 } }),
                "invalid_customer",
            ),
            (
                json!({ "workflow": "loan", "customer_id": customer }),
                "invalid_workflow",
            ),
        ] {
            let (s, p) = app.post("/api/v1/cases", &sales, body).await;
            assert_eq!(
                (s, p["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
                "{p}"
            );
        }
        let (s, p) = app
            .post(
                "/api/v1/cases",
                &sales,
                json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": 0 } }),
            )
            .await;
        assert_eq!(
            (s, p["code"].as_str(), p["rule"].as_str()),
            (StatusCode::CONFLICT, Some("guard_refused"), Some("R90.1")),
            "{p}"
        );
        let body = json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": 8_000_000, "reason": "年底备货" } });
        let (s, c) = app.post("/api/v1/cases", &sales, body).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        assert_eq!(
            (c["state"].as_str(), c["completeness"].as_i64()),
            (Some("proposed"), Some(100)),
            "{c}"
        );
        assert_eq!(
            c["waiting_on"][0],
            json!({ "action": "approve", "roles": ["sales_manager", "general_manager"] })
        );

        // Another consultant does not see it; the approvers do.
        let path = format!("/api/v1/cases/{id}");
        assert_eq!(app.get(&path, &other).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&path, &manager).await.0, StatusCode::OK);
        let (_, list) = app.get("/api/v1/cases?workflow=credit_line", &other).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");

        let approve = format!("/api/v1/cases/{id}/actions/approve");
        let (s, p) = app.post(&approve, &sales, json!({})).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{p}"
        );
        let (s, p) = app.post(&approve, &manager, json!({})).await;
        assert_eq!((s, p["rule"].as_str()), (StatusCode::CONFLICT, Some("R90.2")), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("总经理"), "{p}");
        let (s, p) = app
            .post(&format!("/api/v1/cases/{id}/actions/reject"), &manager, json!({}))
            .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::CONFLICT, Some("note_required")),
            "{p}"
        );
        let (s, p) = app
            .post(&format!("/api/v1/cases/{id}/actions/archive"), &gm, json!({}))
            .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_action")),
            "{p}"
        );
        let (s, c) = app.post(&approve, &gm, json!({ "note": "客户信用良好" })).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(
            (c["state"].as_str(), &c["waiting_on"]),
            (Some("approved"), &json!([{ "action": "review", "roles": ["opener"] }])),
            "now its opener reviews it: {c}"
        );
        assert_eq!(c["approvals"][0]["staff_id"].as_i64(), Some(gm.staff_id));
        let decisions: Vec<&str> = c["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["rule"].as_str().unwrap())
            .collect();
        assert_eq!(decisions, ["R90.1", "R90.1"], "{c}");
        // Each says which sentence it is, whatever the reader's language.
        let keys: Vec<&str> = c["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["case.opened", "case.moved"], "{c}");
        assert_eq!(c["steps"][1]["note"].as_str(), Some("客户信用良好"));
        let (s, p) = app.post(&approve, &gm, json!({})).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::CONFLICT, Some("action_not_available")),
            "{p}"
        );

        // The history holds both steps with their decisions.
        let (_, h) = app
            .get(&format!("/api/v1/customers/{customer}/history"), &app.admin)
            .await;
        let actions: Vec<String> = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entity"] == "case")
            .map(|e| e["action"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            actions.contains(&"open".to_string()) && actions.contains(&"approve".to_string()),
            "{h}"
        );
        // The customer's page names the steps as the policy does.
        let (s, html) = page(&app, &app.admin, &format!("/customers/{customer}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("授信申请 · 开启") && html.contains("授信申请 · 批准"),
            "{html}"
        );

        // The opener does not approve their own, whatever their role.
        let body = json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": 100_000 } });
        let (_, own) = app.post("/api/v1/cases", &manager, body.clone()).await;
        let (s, p) = app
            .post(
                &format!("/api/v1/cases/{}/actions/approve", own["id"]),
                &manager,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{p}");

        // Two approvals at once: one moves the case, the other finds it moved.
        let (_, race) = app.post("/api/v1/cases", &sales, body).await;
        let path = format!("/api/v1/cases/{}/actions/approve", race["id"]);
        let (a, b) = tokio::join!(app.post(&path, &manager, json!({})), app.post(&path, &gm, json!({})));
        let mut codes = [a.0, b.0];
        codes.sort();
        assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT], "{} {}", a.1, b.1);
        let (_, c) = app.get(&format!("/api/v1/cases/{}", race["id"]), &app.admin).await;
        assert_eq!(c["steps"].as_array().map(Vec::len), Some(2), "{c}");

        let (_, list) = app
            .get("/api/v1/cases?workflow=credit_line&state=approved", &manager)
            .await;
        let states: Vec<Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].clone())
            .collect();
        assert_eq!(states, [json!("approved"), json!("approved")], "{list}");
        assert_eq!(list["items"][0]["steps"].as_array().map(Vec::len), Some(2), "{list}");
        // Mine: the cases the caller opened or took a step on.
        let (_, mine) = app.get("/api/v1/cases?mine=true", &sales).await;
        assert_eq!(
            mine["items"].as_array().map(Vec::len),
            Some(2),
            "sales opened two: {mine}"
        );
        let (_, mine) = app.get("/api/v1/cases?mine=true", &gm).await;
        assert!(
            mine["items"].as_array().unwrap().iter().any(|c| c["id"] == id),
            "gm approved the first: {mine}"
        );
        let (s, p) = app.get("/api/v1/cases?mine=yes", &gm).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_mine"))
        );
        assert_eq!(
            list["items"][1]["approvals"][0]["staff_id"].as_i64(),
            Some(gm.staff_id),
            "{list}"
        );
    }
);

both!(
    virtual a_workflow_timer_reminds_and_charges_on_the_virtual_clock,
    |app: TestApp| async move {
        with_credit_line(&app).await;
        let sales = app.staff("wang", "王芳", &["consultant"]).await;
        let gm = app.staff("zhou", "周总", &["general_manager"]).await;
        let customer = app.customer(&sales, "北京华信", "13910000001").await;
        let open = |amount: i64| json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": amount } });
        let (_, c) = app.post("/api/v1/cases", &sales, open(8_000_000)).await;
        let id = c["id"].as_i64().unwrap();
        let path = format!("/api/v1/cases/{id}");
        assert_eq!(c["timers"][0]["id"], "remind", "{c}");
        assert_eq!(c["timers"][0]["name"], "审批提醒", "{c}");
        let due = at(&c["timers"][0]["due_at"]);
        assert_eq!(due.duration_since(at(&c["opened_at"])), jiff::SignedDuration::from_hours(48));
        assert!(c["overdue_since"].is_null(), "{c}");
        // A case rejected at once: its reminder goes with it.
        let (_, gone) = app.post("/api/v1/cases", &sales, open(200_000)).await;
        let (s, gone) = app
            .post(
                &format!("/api/v1/cases/{}/actions/reject", gone["id"]),
                &gm,
                json!({ "note": "额度不足" }),
            )
            .await;
        assert_eq!((s, gone["timers"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{gone}");

        // Not yet: a minute before the two days.
        assert_eq!(advance(&app, 2 * 86400 - 60).await, 0);
        assert!(app.get(&path, &sales).await.1["overdue_since"].is_null());
        assert_eq!(advance(&app, 120).await, 1, "the reminder, and only the one still standing");
        let (_, c) = app.get(&path, &sales).await;
        assert!(!c["overdue_since"].is_null(), "{c}");
        assert_eq!(c["timers"].as_array().map(Vec::len), Some(0), "after = once per stay");
        let step = c["steps"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (step["action"].as_str(), step["name"].as_str(), step["staff_id"].is_null()),
            (Some("remind"), Some("审批提醒"), true),
            "{c}"
        );
        let last = c["decisions"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["rule"].as_str(), last["key"].as_str()), (Some("R90.3"), Some("case.timer")), "{c}");
        assert_eq!(last["text"], "「审批提醒」：此案件已在「待审批」2 天，已逾期", "{c}");
        let (_, late) = app.get("/api/v1/cases?overdue=true", &gm).await;
        let late: Vec<i64> = late["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
        assert_eq!(late, [id]);
        let (s, p) = app.get("/api/v1/cases?overdue=yes", &gm).await;
        assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_overdue")));
        let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), &app.admin).await;
        let reminded = h["items"].as_array().unwrap().iter().find(|e| e["action"] == "remind").cloned();
        assert!(reminded.is_some_and(|e| e["actor_id"].is_null()), "a timer's event is nobody's: {h}");

        // Approved: no longer overdue; the review comes due every 30 days.
        let (_, c) = app.post(&format!("{path}/actions/approve"), &gm, json!({})).await;
        assert!(c["overdue_since"].is_null(), "{c}");
        assert_eq!(c["timers"][0]["id"], "review_due", "{c}");
        let first = at(&c["timers"][0]["due_at"]);
        assert_eq!(advance(&app, 30 * 86400).await, 1);
        let (_, c) = app.get(&path, &sales).await;
        assert!(!c["overdue_since"].is_null(), "{c}");
        assert_eq!(
            at(&c["timers"][0]["due_at"]).duration_since(first),
            jiff::SignedDuration::from_hours(30 * 24),
            "every = again, on its cadence: {c}"
        );
        let (_, l) = app
            .get(&format!("/api/v1/ledger?staff_id={}", sales.staff_id), &app.admin)
            .await;
        let entries = l["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{l}");
        assert_eq!(
            (entries[0]["code"].as_str(), entries[0]["points"].as_i64(), entries[0]["decision"]["rule"].as_str()),
            (Some("credit_unreviewed"), Some(-2), Some("R90.4")),
            "{l}"
        );

        // The review restarts the count and clears the mark.
        advance(&app, 5 * 86400).await;
        let (s, c) = app.post(&format!("{path}/actions/review"), &sales, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(c["overdue_since"].is_null(), "{c}");
        let next = at(&c["timers"][0]["due_at"]);
        assert_eq!(next.duration_since(at(&c["updated_at"])), jiff::SignedDuration::from_hours(30 * 24));
        assert_eq!(advance(&app, 25 * 86400).await, 0, "the old cadence is gone");
        assert_eq!(advance(&app, 5 * 86400 + 60).await, 1);
        let (_, l) = app
            .get(&format!("/api/v1/ledger?staff_id={}", sales.staff_id), &app.admin)
            .await;
        assert_eq!(l["items"].as_array().map(Vec::len), Some(2), "{l}");
    }
);

both!(
    the_case_pages_open_show_and_act_on_any_workflow,
    |app: TestApp| async move {
        use crate::web::{get, post};
        with_credit_line(&app).await;
        let sales = app.staff("wang", "王芳", &["consultant"]).await;
        let gm = app.staff("zhou", "周总", &["general_manager"]).await;
        let customer = app.customer(&sales, "北京华信", "13910000001").await;

        // The customer's page lists its cases and opens one of the policy's workflows.
        let p = get(&app, &format!("/customers/{customer}"), Some(&sales)).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.has("data-test=\"nav-cases\"") && p.has("data-test=\"open-credit_line\""),
            "{}",
            p.html
        );
        assert!(p.has("此客户还没有案件"));
        let form = get(
            &app,
            &format!("/cases/new?workflow=credit_line&customer_id={customer}"),
            Some(&sales),
        )
        .await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        assert!(
            form.has("name=\"f.amount\"") && form.has(">额度") && form.has("（元）"),
            "{}",
            form.html
        );
        assert!(
            form.has("授信额度须大于零"),
            "the opening condition in words: {}",
            form.html
        );
        let csrf = form.csrf();
        let cid = customer.to_string();
        // An amount the page cannot read is refused in words, and what was written stays.
        let open_with = |csrf: String, fields: Vec<(&'static str, &'static str)>| {
            let app = &app;
            let sales = &sales;
            let cid = cid.clone();
            async move {
                let mut form: Vec<(&str, &str)> = vec![
                    ("csrf", csrf.as_str()),
                    ("workflow", "credit_line"),
                    ("customer_id", cid.as_str()),
                ];
                form.extend(fields);
                post(app, "/cases", sales, &form).await
            }
        };
        let bad = open_with(csrf.clone(), vec![("f.amount", "很多"), ("f.reason", "备货")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(bad.has("应为金额（元）") && bad.has("value=\"备货\""), "{}", bad.html);
        let zero = open_with(csrf.clone(), vec![("f.amount", "0")]).await;
        assert_eq!(zero.status, StatusCode::CONFLICT);
        assert!(zero.has("R90.1") && zero.has("授信额度须大于零"), "{}", zero.html);
        let forged = open_with("x".to_string(), vec![("f.amount", "100")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let done = open_with(csrf.clone(), vec![("f.amount", "80,000"), ("f.reason", "年底备货")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let path = done.location().split('?').next().unwrap().to_string();
        let id: i64 = path.trim_start_matches("/cases/").parse().unwrap();

        // The case page: the diagram with the state marked, the form, what waits and the timer.
        let p = get(&app, &format!("{path}?done=open"), Some(&sales)).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.html);
        assert!(p.has("案件已开启") && p.has("<svg class=\"wf-diagram\""), "{}", p.html);
        assert!(
            p.has("class=\"wf-node wf-current\" data-state=\"proposed\""),
            "{}",
            p.html
        );
        assert!(
            p.has("80000.00 元") && p.has("年底备货") && p.has("完整度 100%"),
            "{}",
            p.html
        );
        assert!(p.has("等待：批准（销售经理、总经理）"), "{}", p.html);
        assert!(
            p.has("审批提醒") && p.has("R90.3"),
            "the reminder and its rule: {}",
            p.html
        );
        assert!(
            !p.has("data-test=\"action-approve\""),
            "the consultant does not approve"
        );
        let (_, api) = app.get(&format!("/api/v1/cases/{id}"), &sales).await;
        assert_eq!(
            api["fields"]["amount"], 8_000_000,
            "80,000 yuan is 8,000,000 fen: {api}"
        );

        // The general manager sees the actions he may take; a reject without a reason is refused.
        let p = get(&app, &path, Some(&gm)).await;
        assert!(
            p.has("data-test=\"action-approve\"") && p.has("data-test=\"action-reject\""),
            "{}",
            p.html
        );
        assert!(
            p.has("超过 5 万元的授信由总经理批准"),
            "the condition in words: {}",
            p.html
        );
        let csrf = p.csrf();
        let r = post(
            &app,
            &format!("{path}/actions/reject"),
            &gm,
            &[("csrf", &csrf), ("note", " ")],
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.html);
        assert!(r.has("需写明理由"), "{}", r.html);
        let ok = post(
            &app,
            &format!("{path}/actions/approve"),
            &gm,
            &[("csrf", &csrf), ("note", "信用良好")],
        )
        .await;
        assert_eq!(
            (ok.status, ok.location()),
            (StatusCode::SEE_OTHER, format!("{path}?done=act").as_str())
        );
        let p = get(&app, &path, Some(&sales)).await;
        assert!(p.has("data-state=\"approved\" aria-current=\"step\""), "{}", p.html);
        assert!(
            p.has("class=\"wf-node wf-visited\" data-state=\"proposed\""),
            "{}",
            p.html
        );
        assert!(
            p.has("周总（总经理）") && p.has("信用良好"),
            "who signed and why: {}",
            p.html
        );
        assert!(p.has("由「待审批」转为「已批准」"), "the decision: {}", p.html);
        assert!(
            p.has("data-test=\"action-review\""),
            "the opener reviews their own: {}",
            p.html
        );

        // The list with its filters, and the customer's page.
        let l = get(&app, "/cases?workflow=credit_line&state=approved", Some(&gm)).await;
        assert!(l.has(&format!("data-case=\"{id}\"")) && l.has("已批准"), "{}", l.html);
        let none = get(&app, "/cases?workflow=credit_line&state=rejected", Some(&gm)).await;
        assert!(none.has("没有符合条件的案件"), "{}", none.html);
        let mine = get(&app, "/cases?mine=on", Some(&sales)).await;
        assert!(
            mine.has(&format!("data-case=\"{id}\"")) && mine.has("name=\"mine\" value=\"on\" checked"),
            "{}",
            mine.html
        );
        let late = get(&app, "/cases?overdue=on", Some(&gm)).await;
        assert!(late.has("没有符合条件的案件"), "{}", late.html);
        let c = get(&app, &format!("/customers/{customer}"), Some(&sales)).await;
        assert!(c.has(&format!("href=\"/cases/{id}\"")), "{}", c.html);
        let other = app.staff("li", "李强", &["consultant"]).await;
        assert_eq!(get(&app, &path, Some(&other)).await.status, StatusCode::NOT_FOUND);
        let english = format!("{}; kehu_lang=en", sales.cookie);
        let p = crate::web::send(&app, axum::http::Method::GET, &path, Some(&english), None, &[]).await;
        assert!(
            p.has("Credit line request") && p.has("What happens next") && p.has("80000.00 yuan"),
            "{}",
            p.html
        );
    }
);

/// A supplier check of the company's own, with a checklist whose unclear answers count as no.
const SUPPLIER: &str = r#"
[[workflows]]
id = "supplier_check"
rule = "R91.1"
name = { zh = "供应商考察", en = "Supplier check" }
subject = "none"
initial = "inspecting"
states = [
  { id = "inspecting", name = { zh = "考察中", en = "being inspected" } },
  { id = "accepted", name = { zh = "已接受", en = "accepted" } },
]
fields = [{ id = "supplier", type = "text", required = true, name = { zh = "供应商", en = "Supplier" } }]
[[workflows.checklists]]
id = "inspection"
rule = "R91.2"
name = { zh = "考察清单", en = "Inspection" }
unclear = "no"
items = [
  { id = "licence", name = { zh = "营业执照", en = "Business licence" } },
  { id = "premises", name = { zh = "经营场地", en = "Premises" } },
]
[[workflows.actions]]
id = "inspect"
name = { zh = "考察", en = "Inspect" }
from = ["inspecting"]
by = ["sales_manager"]
answers = ["inspection"]
[[workflows.actions]]
id = "accept"
name = { zh = "接受", en = "Accept" }
from = ["inspecting"]
to = "accepted"
by = ["sales_manager"]
guard = { rule = "R91.2", when = "checklist.inspection.passed", refusal = { zh = "考察清单未通过（不确定按否计）", en = "The inspection has not passed (unclear counts as no)" } }
"#;

both!(
    a_checklist_is_answered_through_the_api_and_the_page,
    |app: TestApp| async move {
        use crate::web::{get, post};
        with_workflow(&app, SUPPLIER).await;
        let manager = app.staff("sun", "孙经理", &["sales_manager"]).await;
        let (_, w) = app.get("/api/v1/workflows", &manager).await;
        assert_eq!(w["items"][0]["checklists"][0]["items"][1]["id"], "premises", "{w}");
        assert_eq!(w["items"][0]["actions"][0]["answers"], json!(["inspection"]));
        let (s, c) = app
            .post(
                "/api/v1/cases",
                &manager,
                json!({ "workflow": "supplier_check", "fields": { "supplier": "华北铸造" } }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(
            (c["completeness"].as_i64(), c["checklists"][0]["answered"].as_i64()),
            (Some(33), Some(0)),
            "{c}"
        );
        let inspect = format!("/api/v1/cases/{}/actions/inspect", c["id"]);
        let accept = format!("/api/v1/cases/{}/actions/accept", c["id"]);
        for bad in [json!({ "licence": "maybe" }), json!({ "colour": "yes" })] {
            let (s, p) = app.post(&inspect, &manager, json!({ "answers": bad })).await;
            assert_eq!(
                (s, p["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_answer")),
                "{p}"
            );
        }
        let (s, c) = app
            .post(
                &inspect,
                &manager,
                json!({ "answers": { "licence": "yes", "premises": "unclear" } }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let list = &c["checklists"][0];
        assert_eq!(
            (
                list["answered"].as_i64(),
                list["failing"].as_i64(),
                list["passed"].as_bool()
            ),
            (Some(2), Some(1), Some(false)),
            "{c}"
        );
        assert_eq!(list["items"][1]["answer"], "unclear");
        assert_eq!(c["completeness"], 100);
        let (s, p) = app.post(&accept, &manager, json!({})).await;
        assert_eq!(
            (s, p["rule"].as_str()),
            (StatusCode::CONFLICT, Some("R91.2")),
            "unclear counts as no: {p}"
        );

        // The page shows the checklist and answers it with radio buttons.
        let path = format!("/cases/{}", c["id"]);
        let p = get(&app, &path, Some(&manager)).await;
        assert!(
            p.has("已答 2/2 项，未通过（0 项否，1 项不确定按否计）")
                && p.has("data-answer=\"premises-unclear\" checked"),
            "{}",
            p.html
        );
        let csrf = p.csrf();
        let done = post(
            &app,
            &format!("{path}/actions/inspect"),
            &manager,
            &[("csrf", &csrf), ("a.premises", "yes")],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let p = get(&app, &path, Some(&manager)).await;
        assert!(p.has("已答 2/2 项，通过"), "{}", p.html);
        let (s, c) = app.post(&accept, &manager, json!({})).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("accepted")), "{c}");
        let steps = c["steps"].as_array().unwrap();
        assert_eq!(steps[2]["action"], "inspect");
        let (_, h) = app.get(&format!("/api/v1/cases/{}", c["id"]), &manager).await;
        assert!(
            h["decisions"][1]["text"]
                .as_str()
                .unwrap()
                .contains("「考察清单」已答 2/2 项"),
            "{h}"
        );
    }
);

/// The inbox items of one kind as `(id, action, overdue)`.
async fn waiting(app: &TestApp, who: &crate::support::Session, kind: &str) -> Vec<(i64, String, bool)> {
    let (s, b) = app.get(&format!("/api/v1/inbox?kind={kind}"), who).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["kind"], kind, "{b}");
            (
                i["id"].as_i64().unwrap(),
                i["action"].as_str().unwrap().to_string(),
                i["overdue"].as_bool().unwrap(),
            )
        })
        .collect()
}

both!(
    virtual the_inbox_and_the_today_page_gather_what_waits_for_each_person,
    |app: TestApp| async move {
        with_credit_line(&app).await;
        let wang = app.staff("wang", "王芳", &["consultant"]).await;
        let leader = app.staff("zhao", "赵组长", &["team_leader"]).await;
        let manager = app.staff("sun", "孙经理", &["sales_manager"]).await;
        let idle = app.staff("qian", "钱内勤", &["sales_assistant"]).await;

        // R5.1: a new card waits for the leader's signature, and for nobody else's.
        let customer = app.customer(&wang, "北京华信", "13910000001").await;
        let (_, claim) = app
            .post(&format!("/api/v1/customers/{customer}/claims"), &wang, json!({}))
            .await;
        let claim_id = claim["id"].as_i64().unwrap();
        assert_eq!(waiting(&app, &leader, "card_signature").await, [(claim_id, "sign".to_string(), false)]);
        let (_, b) = app.get("/api/v1/inbox", &leader).await;
        assert_eq!(
            (b["items"][0]["rule"].as_str(), b["items"][0]["customer_name"].as_str()),
            (Some("R5.1"), Some("北京华信")),
            "{b}"
        );
        assert!(waiting(&app, &wang, "card_signature").await.is_empty());
        let (s, signed) = app
            .post(&format!("/api/v1/claims/{claim_id}/confirm"), &leader, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{signed}");
        assert!(waiting(&app, &leader, "card_signature").await.is_empty(), "signed, it waits no more");

        // R5.2: the holder's first follow-up appears a day before its limit, overdue never (the
        // card lapses at the limit).
        assert!(waiting(&app, &wang, "follow_up_due").await.is_empty(), "three days ahead");
        advance(&app, 2 * 86400 + 3600).await;
        let (_, b) = app.get("/api/v1/inbox?kind=follow_up_due", &wang).await;
        let item = &b["items"][0];
        assert_eq!((item["id"].as_i64(), item["rule"].as_str()), (Some(claim_id), Some("R5.2")), "{b}");
        let (_, c) = app.get(&format!("/api/v1/claims/{claim_id}"), &wang).await;
        assert_eq!(at(&item["due_at"]), at(&c["valid_until"]), "{b}");
        let follow = |channel: &'static str| {
            let app = &app;
            let wang = &wang;
            async move {
                let (s, a) = app
                    .post(
                        &format!("/api/v1/customers/{customer}/activities"),
                        wang,
                        json!({ "channel": channel }),
                    )
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{a}");
                a["id"].as_i64().unwrap()
            }
        };
        follow("call").await;
        assert!(waiting(&app, &wang, "follow_up_due").await.is_empty(), "followed up");
        // The second follow-up waits for the leader, who has 24 hours (R5.2); the holder has
        // nothing to do meanwhile.
        advance(&app, 86400).await;
        let second = follow("visit").await;
        assert_eq!(waiting(&app, &leader, "follow_up_confirmation").await, [(second, "confirm".to_string(), false)]);
        assert!(waiting(&app, &wang, "follow_up_due").await.is_empty());
        advance(&app, 25 * 3600).await;
        assert_eq!(
            waiting(&app, &leader, "follow_up_confirmation").await,
            [(second, "confirm".to_string(), true)],
            "past the 24 hours it is overdue"
        );

        // A case: the approvers see it, its opener does not (not_opener), nor does anyone else.
        let (s, c) = app
            .post(
                "/api/v1/cases",
                &wang,
                json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": 2_000_000 } }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let case = c["id"].as_i64().unwrap();
        assert_eq!(waiting(&app, &manager, "case").await, [(case, "approve".to_string(), false)]);
        let (_, b) = app.get("/api/v1/inbox?kind=case", &manager).await;
        assert_eq!(b["items"][0]["actions"], json!(["approve", "reject"]), "{b}");
        assert_eq!(at(&b["items"][0]["due_at"]), at(&c["timers"][0]["due_at"]), "{b}");
        assert_eq!(b["items"][0]["href"], format!("/cases/{case}"), "{b}");
        assert!(waiting(&app, &wang, "case").await.is_empty(), "the opener may not approve their own");
        assert!(waiting(&app, &idle, "case").await.is_empty());

        // Overdue things come first: the leader's late confirmation before anything else.
        let (_, all) = app.get("/api/v1/inbox", &leader).await;
        assert_eq!(all["items"][0]["kind"], "follow_up_confirmation", "{all}");
        assert_eq!(all["overdue"], 1, "{all}");
        // The reminder marks the case overdue (R90.3): first in the manager's inbox.
        advance(&app, 2 * 86400).await;
        assert_eq!(waiting(&app, &manager, "case").await, [(case, "approve".to_string(), true)]);

        // The pages: Today is home; the menu counts what waits, red when something is late.
        let (s, html) = page(&app, &manager, "/today").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("data-test=\"nav-today-count\""), "{html}");
        assert!(html.contains("nav-count-late"), "{html}");
        assert!(html.contains(&format!("href=\"/cases/{case}\"")), "{html}");
        assert!(html.contains("授信申请 #"), "{html}");
        assert!(html.contains("todo-late"), "{html}");
        let (_, html) = page(&app, &idle, "/today").await;
        assert!(html.contains("data-test=\"today-empty\"") && html.contains("没有待办事项"), "{html}");
        assert!(!html.contains("data-test=\"nav-today-count\""), "nothing to count: {html}");
        let (_, html) = page(&app, &leader, "/today?kind=follow_up_confirmation").await;
        assert!(html.contains("确认 王芳 的第 2 次跟进"), "{html}");
        assert!(html.contains("已逾期"), "{html}");

        // The manager approves: it leaves their inbox; the review is the opener's once it is
        // due (a step that leaves the case where it is waits only when a timer found it late).
        let (s, c) = app
            .post(&format!("/api/v1/cases/{case}/actions/approve"), &manager, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(waiting(&app, &manager, "case").await.is_empty());
        assert!(waiting(&app, &wang, "case").await.is_empty(), "the review is not due yet");
        let (s, _) = app
            .post(&format!("/api/v1/activities/{second}/confirm"), &leader, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(waiting(&app, &leader, "follow_up_confirmation").await.is_empty());
        advance(&app, 30 * 86_400 + 60).await;
        assert_eq!(waiting(&app, &wang, "case").await, [(case, "review".to_string(), true)]);

        // Bad queries are refused in words.
        let (s, p) = app.get("/api/v1/inbox?kind=lunch", &wang).await;
        assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_kind")), "{p}");
        let (s, p) = app.get("/api/v1/inbox?limit=0", &wang).await;
        assert_eq!((s, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_limit")), "{p}");
    }
);

both!(
    a_case_whose_workflow_a_later_policy_removed_is_read_only,
    |app: TestApp| async move {
        with_credit_line(&app).await;
        let wang = app.staff("wang", "王芳", &["consultant"]).await;
        let gm = app.staff("zhou", "周总", &["general_manager"]).await;
        let customer = app.customer(&wang, "北京华信", "13910000001").await;
        let (_, c) = app
            .post(
                "/api/v1/cases",
                &wang,
                json!({ "workflow": "credit_line", "customer_id": customer, "fields": { "amount": 2_000_000 } }),
            )
            .await;
        let id = c["id"].as_i64().unwrap();
        let (_, html) = page(&app, &gm, &format!("/cases/{id}")).await;
        assert!(
            html.contains("data-test=\"take-approve\"") && !html.contains("data-test=\"retired\""),
            "{html}"
        );

        // Version 6 drops the credit line.
        activate(&app, 6, "").await;

        // The page still shows the case, by the version it was opened under, with no action.
        let (s, html) = page(&app, &gm, &format!("/cases/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("data-test=\"retired\"") && html.contains("第 5 版"),
            "{html}"
        );
        assert!(
            html.contains("授信申请") && html.contains("待审批"),
            "its names, from version 5: {html}"
        );
        assert!(!html.contains("data-test=\"take-approve\""), "read only: {html}");
        let (s, _) = app.get(&format!("/api/v1/cases/{id}"), &gm).await;
        assert_eq!(s, StatusCode::OK);
        let (s, p) = app
            .post(&format!("/api/v1/cases/{id}/actions/approve"), &gm, json!({}))
            .await;
        assert_eq!(
            (s, p["code"].as_str()),
            (StatusCode::CONFLICT, Some("workflow_retired")),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains("授信申请"), "{p}");
        let (_, c) = app.get(&format!("/api/v1/cases/{id}"), &gm).await;
        assert_eq!(c["state"], "proposed", "nothing changed: {c}");
        let (_, b) = app.get("/api/v1/inbox?kind=case", &gm).await;
        assert_eq!(
            b["items"].as_array().map(Vec::len),
            Some(0),
            "nothing waits on a retired workflow: {b}"
        );
    }
);

/// A quota as a condition over the customer's other cases: at most two active passes for a
/// company and one for a person, one per holder (the shape of R10.1's access cards).
const PASSES: &str = r#"
[[workflows]]
id = "access_pass"
rule = "R92.1"
name = { zh = "出入证", en = "Access pass" }
initial = "active"
states = [
  { id = "active", name = { zh = "有效", en = "active" } },
  { id = "cancelled", name = { zh = "已注销", en = "cancelled" } },
]
fields = [{ id = "holder", type = "text", required = true, name = { zh = "持证人", en = "Holder" } }]
[[workflows.guards]]
rule = "R92.1"
when = "size(cases.filter(c, c.workflow == 'access_pass' && c.state == 'active')) < (customer.kind == 'company' ? 2 : 1)"
refusal = { zh = "有效出入证已满：单位 2 张，个人 1 张", en = "The passes are all issued: 2 for a company, 1 for a person" }
[[workflows.guards]]
rule = "R92.2"
when = "!cases.exists(c, c.workflow == 'access_pass' && c.state == 'active' && c.fields.holder == fields.holder)"
refusal = { zh = "此人已有有效出入证", en = "This person holds an active pass already" }
[[workflows.actions]]
id = "cancel"
name = { zh = "注销", en = "Cancel" }
from = ["active"]
to = "cancelled"
by = ["sales_manager"]
"#;

/// Sends every `(path, body)` as the admin at once; answers each one's status and rule, in order.
async fn all_at_once(app: &std::sync::Arc<TestApp>, posts: Vec<(String, Value)>) -> Vec<(StatusCode, String)> {
    let tasks: Vec<_> = posts
        .into_iter()
        .map(|(path, body)| {
            let app = app.clone();
            tokio::spawn(async move {
                let (s, b) = app.post(&path, &app.admin, body).await;
                (s, b["rule"].as_str().unwrap_or_default().to_string())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

both!(
    a_quota_over_the_customers_cases_holds_under_twenty_concurrent_openings,
    |app: TestApp| async move {
        with_workflow(&app, PASSES).await;
        let app = std::sync::Arc::new(app);
        let (s, firm) = app
            .post(
                "/api/v1/customers",
                &app.admin,
                json!({ "kind": "company", "name": "云栈数据有限公司", "phones": ["13900009001"] }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{firm}");
        let firm = firm["id"].as_i64().unwrap();
        let person = app.customer(&app.admin, "钱七", "13900009002").await;
        for (customer, quota) in [(firm, 2), (person, 1)] {
            let openings = (0..20)
                .map(|i| {
                    let body = json!({ "workflow": "access_pass", "customer_id": customer, "fields": { "holder": format!("持证人{i}") } });
                    ("/api/v1/cases".to_string(), body)
                })
                .collect();
            let results = all_at_once(&app, openings).await;
            let issued = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
            assert_eq!(issued, quota, "{results:?}");
            assert!(
                results
                    .iter()
                    .all(|(s, r)| *s == StatusCode::CREATED || (*s == StatusCode::CONFLICT && r == "R92.1")),
                "{results:?}"
            );
        }
        // One holder, one pass; a cancelled pass frees its place.
        let (_, list) = app
            .get(
                &format!("/api/v1/cases?workflow=access_pass&customer_id={firm}"),
                &app.admin,
            )
            .await;
        let first = &list["items"][0];
        let holder = first["fields"]["holder"].clone();
        let (s, _) = app
            .post(
                &format!("/api/v1/cases/{}/actions/cancel", first["id"]),
                &app.admin,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let again = json!({ "workflow": "access_pass", "customer_id": firm, "fields": { "holder": list["items"][1]["fields"]["holder"].clone() } });
        let (s, b) = app.post("/api/v1/cases", &app.admin, again).await;
        assert_eq!((s, b["rule"].as_str()), (StatusCode::CONFLICT, Some("R92.2")), "{b}");
        let (s, b) = app
            .post(
                "/api/v1/cases",
                &app.admin,
                json!({ "workflow": "access_pass", "customer_id": firm, "fields": { "holder": holder } }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
);

/// The same quota on an action: cards are requested freely and issued within it.
const CARDS: &str = r#"
[[workflows]]
id = "entry_card"
rule = "R92.3"
name = { zh = "门禁卡", en = "Entry card" }
initial = "requested"
states = [
  { id = "requested", name = { zh = "已申请", en = "requested" } },
  { id = "active", name = { zh = "有效", en = "active" } },
]
[[workflows.actions]]
id = "issue"
rule = "R92.3"
name = { zh = "发卡", en = "Issue" }
from = ["requested"]
to = "active"
by = ["sales_manager"]
guards = [{ rule = "R92.3", when = "size(cases.filter(c, c.workflow == 'entry_card' && c.state == 'active')) < (customer.kind == 'company' ? 2 : 1)", refusal = { zh = "有效门禁卡已满", en = "The cards are all issued" } }]
"#;

both!(
    a_quota_over_the_customers_cases_holds_under_twenty_concurrent_actions,
    |app: TestApp| async move {
        with_workflow(&app, CARDS).await;
        let app = std::sync::Arc::new(app);
        let (_, firm) = app
            .post(
                "/api/v1/customers",
                &app.admin,
                json!({ "kind": "company", "name": "云栈托管有限公司", "phones": ["13900009011"] }),
            )
            .await;
        let firm = firm["id"].as_i64().unwrap();
        let person = app.customer(&app.admin, "孙八", "13900009012").await;
        for (customer, quota) in [(firm, 2), (person, 1)] {
            let mut ids = Vec::new();
            for _ in 0..20 {
                let body = json!({ "workflow": "entry_card", "customer_id": customer });
                let (s, c) = app.post("/api/v1/cases", &app.admin, body).await;
                assert_eq!(s, StatusCode::CREATED, "{c}");
                ids.push(c["id"].as_i64().unwrap());
            }
            let issues = ids
                .into_iter()
                .map(|id| (format!("/api/v1/cases/{id}/actions/issue"), json!({})))
                .collect();
            let results = all_at_once(&app, issues).await;
            let issued = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
            assert_eq!(issued, quota, "{results:?}");
            assert!(
                results
                    .iter()
                    .all(|(s, r)| *s == StatusCode::OK || (*s == StatusCode::CONFLICT && r == "R92.3")),
                "{results:?}"
            );
        }
    }
);

/// A complaint about a staff member (the shape of R11.9): when it is still open after 3 days,
/// the staff member and whoever heads their unit are fined.
const GRIEVANCE: &str = r#"
[[workflows]]
id = "grievance"
rule = "R93.1"
name = { zh = "客户意见", en = "Grievance" }
head_roles = ["team_leader"]
initial = "open"
states = [
  { id = "open", name = { zh = "处理中", en = "open" } },
  { id = "resolved", name = { zh = "已解决", en = "resolved" } },
]
fields = [{ id = "against", type = "staff", required = true, name = { zh = "被投诉人", en = "About" } }]
[[workflows.actions]]
id = "resolve"
name = { zh = "解决", en = "Resolve" }
from = ["open"]
to = "resolved"
by = ["sales_manager"]
[[workflows.timers]]
id = "late"
rule = "R93.2"
name = { zh = "逾期未解决", en = "Not resolved in time" }
in = ["open"]
after = "3 days"
effects = [{ charge = "grievance_late", to = "[fields.against] + staff[string(fields.against)].heads" }]
[[ledger.codes]]
code = "grievance_late"
rule = "R93.2"
kind = "penalty"
name = { zh = "意见逾期未解决", en = "Grievance not resolved in time" }
amount = 50000
manual = false
"#;

both!(
    virtual a_staff_field_names_a_colleague_and_a_charge_reaches_whoever_heads_their_unit,
    |app: TestApp| async move {
        with_workflow(&app, GRIEVANCE).await;
        let wang = app.staff("wang", "王芳", &["consultant"]).await;
        let li = app.staff("li", "李组长", &["team_leader"]).await;
        let zhou = app.staff("zhou", "周经理", &["sales_manager"]).await;
        let customer = app.customer(&wang, "孙七", "13900009101").await;
        let open = |against: i64| json!({ "workflow": "grievance", "customer_id": customer, "fields": { "against": against } });
        let (s, b) = app.post("/api/v1/cases", &app.admin, open(999_999)).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")), "{b}");
        let (s, c) = app.post("/api/v1/cases", &app.admin, open(wang.staff_id)).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        // The form offers the staff by name, and the case shows whom it is about.
        let form = crate::web::get(&app, &format!("/cases/new?workflow=grievance&customer_id={customer}"), Some(&app.admin)).await;
        assert!(form.has(&format!("<option value=\"{}\">王芳</option>", wang.staff_id)), "{}", form.html);
        let page = crate::web::get(&app, &format!("/cases/{}", c["id"]), Some(&app.admin)).await;
        assert!(page.has("<dd>王芳</dd>"), "{}", page.html);

        advance(&app, 3 * 86_400 + 60).await;
        let fined = |who: i64| {
            let app = &app;
            async move {
                let (_, l) = app.get(&format!("/api/v1/ledger?staff_id={who}"), &app.admin).await;
                l["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["code"] == "grievance_late")
                    .count()
            }
        };
        assert_eq!(fined(wang.staff_id).await, 1, "the staff member");
        assert_eq!(fined(li.staff_id).await, 1, "the head of their unit");
        assert_eq!(fined(zhou.staff_id).await, 0, "a manager who heads nothing here");
        // A grievance about the head: nobody heads them in their own unit.
        let (_, c2) = app.post("/api/v1/cases", &app.admin, open(li.staff_id)).await;
        assert!(c2["id"].is_i64(), "{c2}");
        advance(&app, 3 * 86_400 + 60).await;
        assert_eq!(fined(li.staff_id).await, 2, "fined as the staff member, once more");
        assert_eq!(fined(wang.staff_id).await, 1);
    }
);

/// A dispute between two consultants of two teams over a customer (the shape of R11.6, in no
/// rulebook): the manager and the head of each party's team sign the same outcome, and the
/// customer goes to the party awarded; signatures that differ send it to the general manager.
const DISPUTE: &str = r#"
[[workflows]]
id = "dispute"
rule = "R94.1"
name = { zh = "归属争议", en = "Ownership dispute" }
open_by = ["sales_manager"]
head_roles = ["team_leader"]
initial = "open"
states = [
  { id = "open", name = { zh = "协商中", en = "open" } },
  { id = "escalated", name = { zh = "待总经理裁决", en = "with the general manager" } },
  { id = "settled", name = { zh = "已协商解决", en = "settled" } },
  { id = "ruled", name = { zh = "已裁决", en = "ruled" } },
]
fields = [
  { id = "party_a", type = "staff", required = true, name = { zh = "当事人甲", en = "First party" } },
  { id = "party_b", type = "staff", required = true, name = { zh = "当事人乙", en = "Second party" } },
  { id = "award_to", type = "staff", name = { zh = "客户判归", en = "Awarded to" } },
  { id = "argued", type = "bool", name = { zh = "在客户面前争执", en = "Argued in front of the customer" } },
]
[[workflows.guards]]
rule = "R94.1"
when = "fields.party_a != fields.party_b && staff[string(fields.party_a)].unit != staff[string(fields.party_b)].unit"
refusal = { zh = "争议发生在两个团队的两人之间", en = "A dispute is between two people of two teams" }
[[workflows.actions]]
id = "sign"
name = { zh = "签署处理意见", en = "Sign the outcome" }
from = ["open"]
to = "settled"
by = ["sales_manager", "head_of:party_a", "head_of:party_b"]
signoff = "all"
fields = ["award_to", "argued"]
agree = ["award_to", "argued"]
otherwise = "escalated"
guard = { rule = "R94.1", when = "fields.award_to == fields.party_a || fields.award_to == fields.party_b", refusal = { zh = "客户只能判归当事人之一", en = "The customer goes to one of the parties" } }
effects = [
  { transfer_to = "fields.award_to" },
  { charge = "dispute_argued", to = "[fields.party_a, fields.party_b]", when = "fields.argued == true" },
]
[[workflows.actions]]
id = "rule"
name = { zh = "总经理裁决", en = "Rule" }
from = ["escalated"]
to = "ruled"
by = ["general_manager"]
fields = ["award_to", "argued"]
guard = { rule = "R94.1", when = "fields.award_to == fields.party_a || fields.award_to == fields.party_b", refusal = { zh = "客户只能判归当事人之一", en = "The customer goes to one of the parties" } }
effects = [
  { transfer_to = "fields.award_to" },
  { charge = "dispute_argued", to = "[fields.party_a, fields.party_b]", when = "fields.argued == true" },
]
[[ledger.codes]]
code = "dispute_argued"
rule = "R94.1"
kind = "penalty"
name = { zh = "在客户面前争执", en = "Argued in front of the customer" }
amount = 10000
manual = false
"#;

both!(
    a_sign_off_by_the_heads_of_the_parties_units_must_agree_else_the_general_manager_rules,
    |app: TestApp| async move {
        use crate::timed::staff_of;
        with_workflow(&app, DISPUTE).await;
        let admin = &app.admin;
        let unit = |name: &'static str| {
            let app = &app;
            async move { app.post("/api/v1/units", admin, json!({ "name": name })).await.1["id"].as_i64() }
        };
        let (t1, t2) = (unit("一组").await, unit("二组").await);
        let lead1 = staff_of(&app, admin, "lead1", "赵组长", "team_leader", t1).await;
        let lead2 = staff_of(&app, admin, "lead2", "钱组长", "team_leader", t2).await;
        let wang = staff_of(&app, admin, "wang", "王芳", "consultant", t1).await;
        let li = staff_of(&app, admin, "li", "李强", "consultant", t2).await;
        let zhou = staff_of(&app, admin, "zhou", "周经理", "sales_manager", None).await;
        let gm = staff_of(&app, admin, "gm", "吴总", "general_manager", None).await;
        let customer = app.customer(&zhou, "孙先生", "13900009401").await;
        let open = |a: &crate::support::Session, b: &crate::support::Session| json!({ "workflow": "dispute", "customer_id": customer, "fields": { "party_a": a.staff_id, "party_b": b.staff_id } });
        let signed = |to: &crate::support::Session, argued: bool| json!({ "fields": { "award_to": to.staff_id, "argued": argued } });
        let (s, e) = app.post("/api/v1/cases", &zhou, open(&wang, &wang)).await;
        assert_eq!(
            (s, e["code"].as_str(), e["rule"].as_str()),
            (StatusCode::CONFLICT, Some("guard_refused"), Some("R94.1")),
            "{e}"
        );
        let (s, c) = app.post("/api/v1/cases", &zhou, open(&wang, &li)).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let path = format!("/api/v1/cases/{}", c["id"]);
        let sign = format!("{path}/actions/sign");
        assert_eq!(
            c["waiting_on"][0]["roles"],
            json!(["sales_manager", "head_of:party_a", "head_of:party_b"]),
            "{c}"
        );

        // A party signs nothing; the general manager does not rule before it is escalated; the
        // award goes to a party.
        let (s, e) = app.post(&sign, &li, signed(&li, true)).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{e}"
        );
        assert!(
            e["detail"].as_str().unwrap().contains("「当事人乙」所在部门的负责人"),
            "{e}"
        );
        let (s, e) = app.post(&format!("{path}/actions/rule"), &gm, signed(&li, true)).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("action_not_available")),
            "{e}"
        );
        let (s, e) = app.post(&sign, &lead2, signed(&zhou, true)).await;
        assert_eq!((s, e["rule"].as_str()), (StatusCode::CONFLICT, Some("R94.1")), "{e}");

        // The head of the second party's team signs in that seat, once; the case page offers the
        // first party's head the signature, and the party none.
        let (s, c) = app.post(&sign, &lead2, signed(&li, true)).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("open")), "{c}");
        assert_eq!(c["steps"][1]["role"], "head_of:party_b", "{c}");
        let (_, e) = app.post(&sign, &lead2, signed(&li, true)).await;
        assert_eq!(e["code"], "already_signed", "{e}");
        let page_path = format!("/cases/{}", c["id"]);
        let page = crate::web::get(&app, &page_path, Some(&lead1)).await;
        assert!(page.has(r#"data-test="take-sign""#), "{}", page.html);
        let page = crate::web::get(&app, &page_path, Some(&wang)).await;
        assert!(!page.has(r#"data-test="take-sign""#), "{}", page.html);

        // The manager and the first head sign the same: settled, the customer goes to the party
        // awarded, and both parties are fined for arguing in front of the customer.
        let (_, c) = app.post(&sign, &zhou, signed(&li, true)).await;
        assert_eq!(c["state"], "open", "{c}");
        let (s, c) = app.post(&sign, &lead1, signed(&li, true)).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("settled")), "{c}");
        let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), admin).await;
        assert_eq!(o["owner_id"].as_i64(), Some(li.staff_id), "{o}");
        // The head sees the fines of their own team; the admin sees both.
        assert_eq!(c["charges"].as_array().unwrap().len(), 1, "{c}");
        let (_, c) = app.get(&path, admin).await;
        let fined: Vec<(i64, String)> = c["charges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["staff_id"].as_i64().unwrap(), e["code"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            fined,
            vec![
                (wang.staff_id, "dispute_argued".into()),
                (li.staff_id, "dispute_argued".into())
            ]
        );

        // Heads who sign differently send it up; the general manager alone rules, and the
        // customer moves from the holder to the party awarded.
        let (_, c) = app.post("/api/v1/cases", &zhou, open(&wang, &li)).await;
        let path = format!("/api/v1/cases/{}", c["id"]);
        let sign = format!("{path}/actions/sign");
        app.post(&sign, &lead1, signed(&wang, false)).await;
        let (s, c) = app.post(&sign, &lead2, signed(&li, false)).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("escalated")), "{c}");
        let last = c["decisions"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["facts"]["disagreed"], json!(["award_to"]), "{last}");
        assert!(last["text"].as_str().unwrap().contains("不一致"), "{last}");
        let (s, e) = app
            .post(&format!("{path}/actions/rule"), &lead1, signed(&wang, false))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        let (s, c) = app
            .post(&format!("{path}/actions/rule"), &gm, signed(&wang, false))
            .await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("ruled")), "{c}");
        let (_, o) = app.get(&format!("/api/v1/customers/{customer}/ownership"), admin).await;
        assert_eq!(o["owner_id"].as_i64(), Some(wang.staff_id), "{o}");
        assert_eq!(c["charges"].as_array().unwrap().len(), 0, "nobody argued: {c}");
        let (_, h) = app.get(&format!("/api/v1/customers/{customer}/history"), admin).await;
        let ended = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "hand_over" && e["after"]["status"] == "cancelled")
            .cloned()
            .unwrap_or_default();
        assert_eq!(ended["decision"]["rule"], "R94.1", "{h}");
        assert!(
            ended["decision"]["text"].as_str().unwrap().contains("由李强转交给王芳"),
            "{ended}"
        );
    }
);

/// A quote the customer declines opens a new quote linked to it at 90% of the old price; a
/// quote nobody answers in 7 days lapses and opens one at 80%. Neither rule is in a rulebook: the
/// workflows are written here, so the engine's `open` effect is the only thing at work.
const REQUOTE: &str = r#"
[[workflows]]
id = "quote"
rule = "R95.1"
name = { zh = "报价", en = "Quote" }
subject = "customer"
initial = "offered"
states = [
  { id = "offered", name = { zh = "已报价", en = "offered" } },
  { id = "declined", name = { zh = "客户拒绝", en = "declined" } },
  { id = "lapsed", name = { zh = "已过期", en = "lapsed" } },
]
fields = [
  { id = "amount", type = "money", required = true, name = { zh = "金额", en = "Amount" } },
]
[[workflows.actions]]
id = "decline"
rule = "R95.2"
name = { zh = "客户拒绝", en = "Declined" }
from = ["offered"]
to = "declined"
by = ["consultant", "sales_manager"]
effects = [{ open = "requote", fields = { previous = "case.id", amount = "fields.amount * 9 / 10" } }]
[[workflows.timers]]
id = "lapse"
rule = "R95.3"
name = { zh = "报价过期", en = "Quote lapses" }
in = ["offered"]
after = "7 days"
to = "lapsed"
effects = [{ open = "requote", fields = { previous = "case.id", amount = "fields.amount * 8 / 10" } }]

[[workflows]]
id = "requote"
rule = "R95.2"
name = { zh = "重新报价", en = "New quote" }
subject = "customer"
open_by = ["sales_manager"]
initial = "drafted"
states = [
  { id = "drafted", name = { zh = "待发出", en = "drafted" } },
  { id = "sent", name = { zh = "已发出", en = "sent" }, requires = { rule = "R95.5", fields = ["valid_until"] } },
]
fields = [
  { id = "previous", type = "number", name = { zh = "原报价", en = "Earlier quote" } },
  { id = "amount", type = "money", required = true, name = { zh = "金额", en = "Amount" } },
  { id = "valid_until", type = "date", name = { zh = "报价有效期至", en = "Quote valid until" } },
]
[[workflows.guards]]
rule = "R95.4"
when = "fields.amount >= 100000"
refusal = { zh = "重新报价不低于 1000 元", en = "A new quote is at least 1,000 yuan" }
[[workflows.actions]]
id = "send"
name = { zh = "发出", en = "Send" }
from = ["drafted"]
to = "sent"
by = ["consultant"]
fields = ["valid_until"]
attest = { zh = "新报价未附带任何回扣承诺", en = "the new quote promises no kickback" }
"#;

both!(
    virtual a_step_opens_a_linked_case_for_the_same_customer,
    |app: TestApp| async move {
        with_workflow(&app, REQUOTE).await;
        let wang = app.staff("wang", "王芳", &["consultant"]).await;
        let customer = app.customer(&wang, "北京华信", "13910000011").await;
        let quote = |amount: i64| json!({ "workflow": "quote", "customer_id": customer, "fields": { "amount": amount } });

        // By hand, only the sales manager opens a new quote; a step opens it for whoever took it.
        let (s, e) = app
            .post("/api/v1/cases", &wang, json!({ "workflow": "requote", "customer_id": customer, "fields": { "amount": 500_000 } }))
            .await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
        let (_, q) = app.post("/api/v1/cases", &wang, quote(1_000_000)).await;
        let id = q["id"].as_i64().unwrap();
        let (s, c) = app
            .post(&format!("/api/v1/cases/{id}/actions/decline"), &wang, json!({}))
            .await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("declined")), "{c}");
        let (s, linked) = app.get(&format!("/api/v1/cases?linked_from={id}"), &wang).await;
        assert_eq!(s, StatusCode::OK, "{linked}");
        let items = linked["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{linked}");
        let new = &items[0];
        assert_eq!(
            (
                new["workflow"].as_str(),
                new["state"].as_str(),
                new["customer_id"].as_i64(),
                new["linked_from"].as_i64(),
                new["opened_by"].as_i64()
            ),
            (Some("requote"), Some("drafted"), Some(customer), Some(id), Some(wang.staff_id)),
            "{new}"
        );
        assert_eq!(new["fields"]["amount"], 900_000, "{new}");
        assert_eq!(new["fields"]["previous"], id, "{new}");
        let opened = &new["decisions"][0];
        assert_eq!(opened["rule"], "R95.2", "{opened}");
        assert_eq!(opened["facts"]["linked_from"], id, "{opened}");
        assert!(
            opened["text"].as_str().unwrap().contains(&format!("案件 #{id}「报价」的「客户拒绝」开启了关联的「重新报价」")),
            "{opened}"
        );
        let (_, solo) = app.get(&format!("/api/v1/cases/{id}"), &wang).await;
        assert_eq!(solo["linked_from"], Value::Null, "{solo}");
        // Both case pages link the other.
        let page = crate::web::get(&app, &format!("/cases/{id}"), Some(&wang)).await;
        assert!(page.has(&format!(r#"href="/cases/{}""#, new["id"])), "{}", page.html);
        let page = crate::web::get(&app, &format!("/cases/{}", new["id"]), Some(&wang)).await;
        assert!(page.has(r#"data-test="links""#) && page.has(&format!(r#"href="/cases/{id}""#)), "{}", page.html);
        // Sending it needs the statement confirmed, which the step keeps.
        let send = format!("/api/v1/cases/{}/actions/send", new["id"]);
        assert!(page.has(r#"data-test="attest-send""#), "{}", page.html);
        let (s, e) = app.post(&send, &wang, json!({})).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("attestation_required")), "{e}");
        assert!(e["detail"].as_str().unwrap().contains("新报价未附带任何回扣承诺"), "{e}");
        // And a quote is sent only with the date it is valid until, not one already past.
        assert!(page.has(r#"data-test="requirements""#) && page.has("进入「已发出」须具备"), "{}", page.html);
        for until in [Value::Null, json!("2020-01-01")] {
            let (s, e) = app
                .post(&send, &wang, json!({ "attest": true, "fields": { "valid_until": until } }))
                .await;
            assert_eq!(
                (s, e["code"].as_str(), e["rule"].as_str()),
                (StatusCode::CONFLICT, Some("requirement_missing"), Some("R95.5")),
                "{e}"
            );
        }
        let (s, c) = app
            .post(&send, &wang, json!({ "attest": true, "fields": { "valid_until": "2099-12-31" } }))
            .await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("sent")), "{c}");
        let last = c["decisions"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["facts"]["attested"]["zh"], "新报价未附带任何回扣承诺", "{last}");
        assert!(last["text"].as_str().unwrap().ends_with("王芳声明：新报价未附带任何回扣承诺"), "{last}");
        let (s, e) = app.get("/api/v1/cases?linked_from=x", &wang).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_linked_from")), "{e}");

        // The linked case's guard holds for a linked opening too: the step that would open a
        // quote under 1,000 yuan is refused with that rule, and nothing of it is kept.
        let (_, q) = app.post("/api/v1/cases", &wang, quote(100_000)).await;
        let small = q["id"].as_i64().unwrap();
        let (s, e) = app
            .post(&format!("/api/v1/cases/{small}/actions/decline"), &wang, json!({}))
            .await;
        assert_eq!(
            (s, e["code"].as_str(), e["rule"].as_str()),
            (StatusCode::CONFLICT, Some("linked_case_refused"), Some("R95.4")),
            "{e}"
        );
        assert!(e["detail"].as_str().unwrap().contains("不低于 1000 元"), "{e}");
        let (_, c) = app.get(&format!("/api/v1/cases/{small}"), &wang).await;
        assert_eq!(c["state"], "offered", "{c}");
        let (_, linked) = app.get(&format!("/api/v1/cases?linked_from={small}"), &wang).await;
        assert_eq!(linked["items"].as_array().unwrap().len(), 0, "{linked}");

        // A timer's step opens one too, for the case's opener; where the linked case is refused
        // the timer's step still happens, without it.
        assert_eq!(advance(&app, 7 * 86400 + 60).await, 1, "the declined quote's timer went with its state");
        let (_, c) = app.get(&format!("/api/v1/cases/{small}"), &wang).await;
        assert_eq!(c["state"], "lapsed", "{c}");
        let (_, linked) = app.get(&format!("/api/v1/cases?linked_from={small}"), &wang).await;
        assert_eq!(linked["items"].as_array().unwrap().len(), 0, "{linked}");
        let (_, q) = app.post("/api/v1/cases", &wang, quote(2_000_000)).await;
        let late = q["id"].as_i64().unwrap();
        assert_eq!(advance(&app, 7 * 86400 + 60).await, 1);
        let (_, linked) = app.get(&format!("/api/v1/cases?linked_from={late}"), &wang).await;
        let new = &linked["items"][0];
        assert_eq!(
            (new["fields"]["amount"].as_i64(), new["opened_by"].as_i64()),
            (Some(1_600_000), Some(wang.staff_id)),
            "{linked}"
        );
        assert!(
            new["decisions"][0]["text"].as_str().unwrap().contains("「报价过期」"),
            "{new}"
        );
    }
);

/// A step the customer's holder takes: the manager asks the holder to confirm the customer's
/// details. The holder sees only their own cases, yet sees this one, as one waiting for them;
/// another consultant does not.
const CONFIRM: &str = r#"
[[workflows]]
id = "details_check"
rule = "R96.1"
name = { zh = "资料核对", en = "Details check" }
open_by = ["sales_manager"]
initial = "asked"
states = [
  { id = "asked", name = { zh = "待核对", en = "asked" } },
  { id = "confirmed", name = { zh = "已核对", en = "confirmed" } },
]
fields = [{ id = "what", type = "text", required = true, name = { zh = "核对内容", en = "What to check" } }]
[[workflows.actions]]
id = "confirm"
name = { zh = "确认", en = "Confirm" }
from = ["asked"]
to = "confirmed"
by = ["owner"]
"#;

both!(
    the_holder_of_a_customer_sees_the_case_that_waits_for_them,
    |app: TestApp| async move {
        with_workflow(&app, CONFIRM).await;
        let wang = app.staff("wang", "王芳", &["consultant"]).await;
        let li = app.staff("li", "李强", &["consultant"]).await;
        let zhou = app.staff("zhou", "周经理", &["sales_manager"]).await;
        let customer = app.customer(&wang, "北京华信", "13910000021").await;
        let (_, claim) = app
            .post(&format!("/api/v1/customers/{customer}/claims"), &wang, json!({}))
            .await;
        let (_, claim) = app
            .post(
                &format!("/api/v1/claims/{}/confirm", claim["id"]),
                &app.admin,
                json!({}),
            )
            .await;
        assert_eq!(claim["status"], "valid", "{claim}");
        let (s, c) = app
            .post(
                "/api/v1/cases",
                &zhou,
                json!({ "workflow": "details_check", "customer_id": customer, "fields": { "what": "开票信息" } }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let path = format!("/api/v1/cases/{}", c["id"]);
        let (s, _) = app.get(&path, &wang).await;
        assert_eq!(s, StatusCode::OK, "the holder sees the case");
        let (_, list) = app.get("/api/v1/cases?workflow=details_check", &wang).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let (s, _) = app.get(&path, &li).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another consultant does not");
        let (_, list) = app.get("/api/v1/cases?workflow=details_check", &li).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
        let (s, c) = app.post(&format!("{path}/actions/confirm"), &wang, json!({})).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("confirmed")), "{c}");
    }
);

/// A `multipart/form-data` body with `file` (named `name`) and, when given, the `csrf` part.
fn upload(name: &str, bytes: &[u8], csrf: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "kehu-test-boundary-7d3f";
    let mut body = Vec::new();
    if let Some(t) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{t}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_file(
    app: &TestApp,
    path: &str,
    cookie: &str,
    header_csrf: Option<&str>,
    (content_type, body): (String, Vec<u8>),
) -> (StatusCode, Value, axum::http::HeaderMap) {
    use axum::http::{Request, header};
    let mut req = Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(t) = header_csrf {
        req = req.header("x-csrf-token", t);
    }
    let res = app.raw(req.body(axum::body::Body::from(body)).unwrap()).await;
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
}

fn blobs_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| if e.path().is_dir() { blobs_in(&e.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

both!(
    files_attach_to_any_case_by_content_kind_and_size_and_are_kept_once,
    |app: TestApp| async move {
        use axum::http::{Request, header};
        with_workflow(&app, CARDS).await;
        let customer = app.customer(&app.admin, "周九", "13900009021").await;
        let (_, c) = app
            .post(
                "/api/v1/cases",
                &app.admin,
                json!({ "workflow": "entry_card", "customer_id": customer }),
            )
            .await;
        let id = c["id"].as_i64().unwrap();
        let files = format!("/api/v1/cases/{id}/files");
        let cookie = app.admin.cookie.clone();
        let csrf = Some(app.admin.csrf.as_str());
        let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();

        let (s, f, _) = post_file(&app, &files, &cookie, csrf, upload("营业执照.pdf", &pdf, None)).await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        assert_eq!(
            (f["name"].as_str(), f["kind"].as_str(), f["size"].as_i64()),
            (Some("营业执照.pdf"), Some("pdf"), Some(pdf.len() as i64)),
            "{f}"
        );
        assert_eq!(f["sha256"], kehu_store::files::sha256(&pdf));
        assert_eq!(f["staff_id"].as_i64(), Some(app.admin.staff_id));
        // The same content under another name is a second attachment of one kept file.
        let (s, g, _) = post_file(&app, &files, &cookie, csrf, upload("执照副本.pdf", &pdf, None)).await;
        assert_eq!((s, &g["sha256"]), (StatusCode::CREATED, &f["sha256"]), "{g}");
        let dir = app.state.files.as_ref().unwrap().dir().to_path_buf();
        assert_eq!(blobs_in(&dir), 1, "kept once in {}", dir.display());
        let (_, list) = app.get(&files, &app.admin).await;
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["营业执照.pdf", "执照副本.pdf"]);

        // The download is the bytes, as the kind their content is.
        let href = f["href"].as_str().unwrap();
        let res = app
            .raw(
                Request::get(href)
                    .header(header::COOKIE, &cookie)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/pdf");
        let disposition = res.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''%E8%90%A5"),
            "{disposition}"
        );
        assert_eq!(
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap()
                .as_ref(),
            pdf.as_slice()
        );

        // The kind is read from the content, not the name; the size is held to the policy.
        let (s, e, _) = post_file(
            &app,
            &files,
            &cookie,
            csrf,
            upload("letter.pdf", b"MZ\x90\0 not a pdf", None),
        )
        .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("file_type_not_allowed")),
            "{e}"
        );
        let big = [b"%PDF-1.7\n".as_slice(), &vec![b' '; 10 * 1024 * 1024]].concat();
        let (s, e, _) = post_file(&app, &files, &cookie, csrf, upload("big.pdf", &big, None)).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("file_too_large")),
            "{e}"
        );
        let (s, e, _) = post_file(
            &app,
            &files,
            &cookie,
            csrf,
            (String::from("application/json"), b"{}".to_vec()),
        )
        .await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")),
            "{e}"
        );
        // A session's upload carries its CSRF token (a header or the form's `csrf`).
        let (s, e, _) = post_file(&app, &files, &cookie, None, upload("a.pdf", &pdf, None)).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{e}"
        );
        let (s, _, _) = post_file(&app, &files, &cookie, None, upload("a.pdf", &pdf, csrf)).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(blobs_in(&dir), 1, "nothing refused was kept");

        // Who does not see the case sees none of its files.
        let other = app.staff("li", "李强", &["consultant"]).await;
        assert_eq!(app.get(&files, &other).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get(href, &other).await.0, StatusCode::NOT_FOUND);
        let (s, _, _) = post_file(
            &app,
            &files,
            &other.cookie,
            Some(&other.csrf),
            upload("x.pdf", &pdf, None),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(
            app.get(&format!("/api/v1/cases/{id}/files/999999"), &app.admin).await.0,
            StatusCode::NOT_FOUND
        );

        // Each attachment is on the customer's history.
        let (_, h) = app
            .get(&format!("/api/v1/customers/{customer}/history"), &app.admin)
            .await;
        assert_eq!(h.to_string().matches("file_attached").count(), 3, "{h}");

        // The case page lists the files and takes one from its form.
        let (_, p) = page(&app, &app.admin, &format!("/cases/{id}")).await;
        assert!(p.contains("营业执照.pdf") && p.contains("data-test=\"attach\""), "{p}");
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let (s, _, headers) = post_file(
            &app,
            &format!("/cases/{id}/files"),
            &cookie,
            None,
            upload("照片.png", &png, csrf),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(
            headers[header::LOCATION]
                .to_str()
                .unwrap()
                .starts_with(&format!("/cases/{id}?done=file"))
        );
        let (_, p) = page(&app, &app.admin, &format!("/cases/{id}?done=file")).await;
        assert!(p.contains("照片.png") && p.contains("附件已上传"), "{p}");
        let (s, _, _) = post_file(
            &app,
            &format!("/cases/{id}/files"),
            &cookie,
            None,
            upload("x.png", &png, None),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a page's upload without its token is refused");
        let (s, _, _) = post_file(
            &app,
            &format!("/cases/{id}/files"),
            &cookie,
            None,
            upload("x.exe", b"MZ", csrf),
        )
        .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the page shows the refusal in its form"
        );
    }
);
