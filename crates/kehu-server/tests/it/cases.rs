//! The case engine (issue 10) through the API: a workflow none of the rulebooks has, written
//! into a policy file by the test and activated, then run end to end with no Rust of its own:
//! opening with typed fields, who may act, a guard with its rule, a required note, the opener
//! kept from approving their own, visibility and a race of two approvals. SQLite and PostgreSQL.

use axum::http::StatusCode;
use kehu_domain::Policy;
use serde_json::{Value, json};

use crate::both;
use crate::support::{TestApp, page, preset};

/// A company's own process: sales proposes a credit line for a customer; the sales manager
/// approves up to 50,000 yuan, above that only the general manager.
const CREDIT: &str = r#"
[[workflows]]
id = "credit_line"
rule = "R90.1"
name = { zh = "授信申请", en = "Credit line request" }
subject = "customer"
initial = "proposed"
states = [
  { id = "proposed", name = { zh = "待审批", en = "proposed" } },
  { id = "approved", name = { zh = "已批准", en = "approved" } },
  { id = "rejected", name = { zh = "已驳回", en = "rejected" } },
]
fields = [
  { id = "amount", type = "money", required = true, name = { zh = "额度(分)", en = "Amount (fen)" } },
  { id = "reason", type = "text", name = { zh = "用途", en = "Purpose" } },
]
[[workflows.guards]]
rule = "R90.1"
when = "fields.amount > 0"
refusal = { zh = "授信额度须大于零", en = "A credit line is more than nothing" }
[[workflows.actions]]
id = "approve"
name = { zh = "批准", en = "Approve" }
from = ["proposed"]
to = "approved"
by = ["sales_manager", "general_manager"]
not_opener = true
guard = { rule = "R90.2", when = "fields.amount <= 5000000 || 'general_manager' in actor.roles", refusal = { zh = "超过 5 万元的授信由总经理批准", en = "Above 50,000 yuan the general manager approves" } }
[[workflows.actions]]
id = "reject"
name = { zh = "驳回", en = "Reject" }
from = ["proposed"]
to = "rejected"
by = ["sales_manager", "general_manager"]
note = true
"#;

async fn with_credit_line(app: &TestApp) {
    let (file, src) = preset();
    let src = format!("{}{CREDIT}", src.replacen("version = 4", "version = 5", 1));
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
            (c["state"].as_str(), c["waiting_on"].as_array().map(Vec::len)),
            (Some("approved"), Some(0)),
            "{c}"
        );
        assert_eq!(c["approvals"][0]["staff_id"].as_i64(), Some(gm.staff_id));
        let decisions: Vec<&str> = c["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["rule"].as_str().unwrap())
            .collect();
        assert_eq!(decisions, ["R90.1", "R90.1"], "{c}");
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
        assert_eq!(
            list["items"][1]["approvals"][0]["staff_id"].as_i64(),
            Some(gm.staff_id),
            "{list}"
        );
    }
);
