//! The partner network (R1, presets/partner-network.toml) through the API, with no Rust of its
//! own: the admission dossier and its completeness (R1.1), the inspection where unclear counts
//! as no (R1.2), the cooperation-project guard (R1.3), the central review (R1.4) that gives the
//! grade (R1.5), the tag a pending project puts on the partner (R1.7), the documents an A or B
//! partner keeps valid (R1.10) and the grade change two units must approve (R1.11). On the
//! virtual clock; SQLite and PostgreSQL.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp, advance};
use crate::timed::{staff_of, tenant_on};

async fn partner(app: &TestApp, by: &Session, kind: &str, name: &str, phone: &str) -> i64 {
    let (s, c) = app
        .post(
            "/api/v1/customers",
            by,
            json!({ "kind": kind, "name": name, "phones": [phone] }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

pub(crate) async fn act(app: &TestApp, by: &Session, case: i64, action: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/cases/{case}/actions/{action}"), by, body)
        .await
}

pub(crate) fn refusal(r: &(StatusCode, Value)) -> (StatusCode, &str, &str) {
    (
        r.0,
        r.1["code"].as_str().unwrap_or_default(),
        r.1["rule"].as_str().unwrap_or_default(),
    )
}

/// The tenant's date `days` from the virtual clock's today, as a date field holds it.
fn day(app: &TestApp, days: i64) -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let today = app.state.now().to_zoned(tz).date();
    today.checked_add(jiff::Span::new().days(days)).unwrap().to_string()
}

async fn customer(app: &TestApp, by: &Session, id: i64) -> Value {
    let (s, c) = app.get(&format!("/api/v1/customers/{id}"), by).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c
}

both!(
    virtual r1_a_partner_is_admitted_graded_and_regraded_by_the_policy_alone,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "partner-network", "partners").await;
        let intro = staff_of(&app, &admin, "intro1", "吴业务", "introducer", None).await;
        let central = staff_of(&app, &admin, "central1", "郑审核", "central_reviewer", None).await;
        let central2 = staff_of(&app, &admin, "central2", "冯审核", "central_reviewer", None).await;
        let market = staff_of(&app, &admin, "market1", "陈开发", "market_development", None).await;
        let firm = partner(&app, &intro, "company", "华建工程有限公司", "13900001001").await;
        let person = partner(&app, &intro, "person", "张三", "13900001002").await;

        // R1.1: an admission is a company's, opened by the introducing unit.
        let open = |customer: i64, fields: Value| json!({ "workflow": "admission", "customer_id": customer, "fields": fields });
        let r = app.post("/api/v1/cases", &intro, open(person, json!({}))).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.1"), "{}", r.1);
        let r = app.post("/api/v1/cases", &market, open(firm, json!({}))).await;
        assert_eq!(refusal(&r), (StatusCode::FORBIDDEN, "forbidden", "R1.1"), "{}", r.1);

        // R1.3: no cooperation project before the admission.
        let project = json!({ "workflow": "cooperation_project", "customer_id": firm, "fields": { "project_name": "滨江大桥标段" } });
        let r = app.post("/api/v1/cases", &intro, project.clone()).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.3"), "{}", r.1);
        assert!(r.1["detail"].as_str().unwrap_or_default().contains("入网"), "{}", r.1);

        // R1.1: the dossier opens incomplete; its completeness is measured (11 fields, three of
        // them documents, and 3 inspection items: 2 of 14 there).
        let (s, c) = app
            .post(
                "/api/v1/cases",
                &intro,
                open(firm, json!({ "legal_representative": "刘建国", "address": "杭州市滨江区江南大道 1 号" })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        assert_eq!((c["state"].as_str(), c["completeness"].as_i64()), (Some("draft"), Some(14)), "{c}");
        let r = app.post("/api/v1/cases", &intro, open(firm, json!({}))).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.1"), "one dossier per partner: {}", r.1);

        // R1.2: the inspection; unclear counts as no.
        let (s, c) = act(
            &app,
            &intro,
            id,
            "inspect",
            json!({ "answers": { "site_address": "yes", "site_staff": "unclear", "site_equipment": "yes" } }),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["completeness"].as_i64(), Some(35), "5 of 14: {c}");
        // An incomplete dossier may be submitted (R1.1: completeness is shown, not required).
        let (s, c) = act(&app, &intro, id, "submit", json!({})).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("submitted")), "{c}");
        assert_eq!(c["waiting_on"][0]["roles"], json!(["central_reviewer"]), "{c}");

        // R1.4: the central unit decides; a reject needs its reason; R1.2 keeps an A grade from a
        // partner whose inspection left an item unclear.
        let r = act(&app, &central, id, "reject", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "note_required", "R1.4"), "{}", r.1);
        let r = act(&app, &intro, id, "accept", json!({ "fields": { "grade": "C" } })).await;
        assert_eq!(refusal(&r).0, StatusCode::FORBIDDEN, "{}", r.1);
        let r = act(&app, &central, id, "accept", json!({ "fields": { "grade": "A" } })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.2"), "{}", r.1);
        let (s, c) = act(&app, &central, id, "accept", json!({ "fields": { "grade": "C" } })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("admitted")), "{c}");
        // R1.5: the grade the central unit gave is the partner's.
        assert_eq!(customer(&app, &central, firm).await["grade"], "C");

        // R1.3: now a project opens, and (R1.7) the partner is tagged while it is pending.
        let (s, p) = app.post("/api/v1/cases", &intro, project.clone()).await;
        assert_eq!((s, p["state"].as_str()), (StatusCode::CREATED, Some("pending")), "{p}");
        assert_eq!(customer(&app, &intro, firm).await["tags"], json!(["在谈项目"]));
        let pid = p["id"].as_i64().unwrap();
        let (s, _) = act(&app, &intro, pid, "contract", json!({ "fields": { "contract_value": 120_000_000 } })).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(customer(&app, &intro, firm).await["tags"], json!([]));

        // R1.11: a grade change takes effect on the approvals of both units, by two people.
        let change = |grade: &str| json!({ "workflow": "grade_change", "customer_id": firm, "fields": { "grade": grade, "reason": "两年合作良好" } });
        let r = app.post("/api/v1/cases", &intro, change("C")).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.11"), "same grade: {}", r.1);
        // R1.10: B needs the partner's documents, which its dossier does not have yet.
        let r = app.post("/api/v1/cases", &intro, change("B")).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "guard_refused", "R1.10"), "{}", r.1);
        let docs = json!({ "fields": { "licence_until": day(&app, 400), "qualification_until": day(&app, 400), "safety_permit_until": day(&app, 400) } });
        let (s, c) = act(&app, &intro, id, "renew_documents", docs).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("admitted")), "{c}");
        let (s, g) = app.post("/api/v1/cases", &intro, change("B")).await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let gid = g["id"].as_i64().unwrap();
        let (s, g) = act(&app, &central, gid, "approve", json!({})).await;
        assert_eq!((s, g["state"].as_str()), (StatusCode::OK, Some("proposed")), "{g}");
        assert_eq!(customer(&app, &central, firm).await["grade"], "C", "not yet in effect");
        let r = act(&app, &central2, gid, "approve", json!({})).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "already_signed", "R1.11"), "one role signs once: {}", r.1);
        let (s, g) = act(&app, &market, gid, "approve", json!({})).await;
        assert_eq!((s, g["state"].as_str()), (StatusCode::OK, Some("approved")), "{g}");
        assert_eq!(customer(&app, &central, firm).await["grade"], "B");
        // R1.5: a grade change is internal, so no copy of it goes to the partner.
        let r = app.get(&format!("/api/v1/cases/{gid}/for-customer"), &central).await;
        assert_eq!((r.0, r.1["code"].as_str()), (StatusCode::CONFLICT, Some("internal_workflow")), "{}", r.1);
        let (s, html) = crate::support::page(&app, &central, &format!("/cases/{gid}")).await;
        assert!(s == StatusCode::OK && !html.contains("/for-customer"), "no link to a copy");
        // The change is in the partner's history with the decision that made it.
        let (_, h) = app.get(&format!("/api/v1/customers/{firm}/history"), &admin).await;
        let regraded = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entity"] == "customer" && e["after"]["grade"] == "B")
            .unwrap_or_else(|| panic!("{h}"));
        assert_eq!(regraded["decision"]["rule"], "R1.11", "{regraded}");

        // R1.4: a dossier waiting for the central unit is overdue after 5 days; a rejection
        // keeps its reason.
        let other = partner(&app, &intro, "company", "远大建设集团", "13900001003").await;
        let (_, c) = app.post("/api/v1/cases", &intro, open(other, json!({}))).await;
        let oid = c["id"].as_i64().unwrap();
        let (s, html) = crate::support::page(&app, &intro, &format!("/cases/{oid}/for-customer")).await;
        assert!(s == StatusCode::OK && html.contains("data-test=\"for-customer-empty\""), "nothing filled in yet: {html}");
        act(&app, &intro, oid, "submit", json!({})).await;
        advance(&app, 5 * 86_400 + 60).await;
        let (_, late) = app.get("/api/v1/cases?workflow=admission&overdue=true", &central).await;
        assert_eq!(late["items"][0]["id"].as_i64(), Some(oid), "{late}");
        let (s, c) = act(&app, &central, oid, "reject", json!({ "note": "无施工资质证书" })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("rejected")), "{c}");
        let (_, c) = app.get(&format!("/api/v1/cases/{oid}"), &intro).await;
        assert!(c.to_string().contains("无施工资质证书"), "{c}");
        // A rejected partner may apply again.
        let (s, _) = app.post("/api/v1/cases", &intro, open(other, json!({}))).await;
        assert_eq!(s, StatusCode::CREATED);

        // R1.10: an A or B partner needs its three documents valid, at acceptance and after.
        let third = partner(&app, &intro, "company", "江南路桥有限公司", "13900001004").await;
        let dossier = json!({ "legal_representative": "何伟", "licence_until": day(&app, -1), "qualification_until": day(&app, 400), "safety_permit_until": day(&app, 400) });
        let (_, c) = app.post("/api/v1/cases", &intro, open(third, dossier)).await;
        let tid = c["id"].as_i64().unwrap();
        let all_yes = json!({ "answers": { "site_address": "yes", "site_staff": "yes", "site_equipment": "yes" } });
        act(&app, &intro, tid, "inspect", all_yes).await;
        act(&app, &intro, tid, "submit", json!({})).await;
        let r = act(&app, &central, tid, "accept", json!({ "fields": { "grade": "B" } })).await;
        assert_eq!(refusal(&r), (StatusCode::CONFLICT, "requirement_missing", "R1.10"), "an expired licence: {}", r.1);
        assert!(r.1["detail"].as_str().unwrap().contains("营业执照"), "names the expired document: {}", r.1);
        let (s, c) = act(&app, &central, tid, "return", json!({ "note": "营业执照已过期，请补充新证" })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("draft")), "{c}");
        act(&app, &intro, tid, "fill", json!({ "fields": { "licence_until": day(&app, 30) } })).await;
        act(&app, &intro, tid, "submit", json!({})).await;
        let (s, c) = act(&app, &central, tid, "accept", json!({ "fields": { "grade": "B" } })).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("admitted")), "{c}");
        assert_eq!(customer(&app, &central, third).await["grade"], "B");
        // R1.5: the copy of the admission the partner may be given never carries the grade.
        let (s, shared) = app.get(&format!("/api/v1/cases/{tid}/for-customer"), &central).await;
        assert_eq!(s, StatusCode::OK, "{shared}");
        let ids: Vec<&str> = shared["fields"].as_array().unwrap().iter().filter_map(|f| f["id"].as_str()).collect();
        assert!(ids.contains(&"licence_until") && !ids.contains(&"grade"), "{shared}");
        assert!(!shared.to_string().contains("等级"), "{shared}");
        let (s, html) = crate::support::page(&app, &central, &format!("/cases/{tid}/for-customer")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("data-test=\"for-customer-fields\"") && !html.contains("等级"), "{html}");
        let (s, html) = crate::support::page(&app, &central, &format!("/cases/{tid}")).await;
        assert!(s == StatusCode::OK && html.contains("/for-customer"), "the case page links the copy");
        // The licence lapses: the daily check marks the admission overdue, and the renewal
        // waits on the introducer's Today until the documents are renewed.
        advance(&app, 32 * 86_400).await;
        let (_, c) = app.get(&format!("/api/v1/cases/{tid}"), &intro).await;
        assert!(c["overdue_since"].is_string(), "{c}");
        let (_, inbox) = app.get("/api/v1/inbox?kind=case", &intro).await;
        let todo = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"].as_i64() == Some(tid))
            .unwrap_or_else(|| panic!("{inbox}"));
        assert_eq!((todo["action"].as_str(), todo["overdue"].as_bool()), (Some("renew_documents"), Some(true)), "{todo}");
        assert!(
            !inbox["items"].as_array().unwrap().iter().any(|i| i["id"].as_i64() == Some(id)),
            "the first partner's documents are valid: {inbox}"
        );
        let (s, c) = act(&app, &intro, tid, "renew_documents", json!({ "fields": { "licence_until": day(&app, 365) } })).await;
        assert_eq!((s, c["overdue_since"].is_null()), (StatusCode::OK, true), "{c}");
    }
);

/// A partner admitted at `grade` with valid documents and a passed inspection; its admission.
async fn admitted(
    app: &TestApp,
    intro: &Session,
    central: &Session,
    name: &str,
    phone: &str,
    grade: &str,
) -> (i64, i64) {
    let firm = partner(app, intro, "company", name, phone).await;
    let fields = json!({ "address": "杭州市", "staff_list": "32 人", "licence_until": day(app, 800), "qualification_until": day(app, 800), "safety_permit_until": day(app, 800) });
    let (s, c) = app
        .post(
            "/api/v1/cases",
            intro,
            json!({ "workflow": "admission", "customer_id": firm, "fields": fields }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    let yes = json!({ "answers": { "site_address": "yes", "site_staff": "yes", "site_equipment": "yes" } });
    act(app, intro, id, "inspect", yes).await;
    act(app, intro, id, "submit", json!({})).await;
    let (s, c) = act(app, central, id, "accept", json!({ "fields": { "grade": grade } })).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("admitted")), "{c}");
    (firm, id)
}

both!(
    virtual r1_8_a_and_b_partners_are_snapshotted_every_half_year_and_on_demand,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "partner-network", "snaps").await;
        let intro = staff_of(&app, &admin, "intro1", "吴业务", "introducer", None).await;
        let central = staff_of(&app, &admin, "central1", "郑审核", "central_reviewer", None).await;
        let (b, b_case) = admitted(&app, &intro, &central, "华建工程有限公司", "13900002001", "B").await;
        let (c, _) = admitted(&app, &intro, &central, "远大建设集团", "13900002002", "C").await;
        let snaps = |id: i64| {
            let app = &app;
            let who = central.clone();
            async move {
                let (s, l) = app.get(&format!("/api/v1/customers/{id}/snapshots"), &who).await;
                assert_eq!(s, StatusCode::OK, "{l}");
                l["items"].as_array().unwrap().clone()
            }
        };
        assert!(snaps(b).await.is_empty());

        // Half a year on: the B partner is kept, the C partner is not.
        advance(&app, 183 * 86_400).await;
        let kept = snaps(b).await;
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0]["rule"], "R1.8", "{kept:?}");
        assert!(snaps(c).await.is_empty(), "C and D are kept current without snapshots");
        let (_, case) = app.get(&format!("/api/v1/cases/{b_case}"), &central).await;
        assert!(case["overdue_since"].is_null(), "a snapshot marks nothing overdue: {case}");

        // An extra one on demand, by the central unit only.
        let r = act(&app, &intro, b_case, "take_snapshot", json!({})).await;
        assert_eq!(r.0, StatusCode::FORBIDDEN, "{}", r.1);
        let (s, _) = act(&app, &central, b_case, "take_snapshot", json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let kept = snaps(b).await;
        assert_eq!(kept.len(), 2, "{kept:?}");

        // The profile changes; the snapshot does not, and shows what changed since.
        let (s, _) = app
            .call(
                axum::http::Method::PATCH,
                &format!("/api/v1/customers/{b}"),
                Some(&central),
                Some(json!({ "grade": "A" })),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        act(&app, &intro, b_case, "renew_documents", json!({ "fields": { "licence_until": day(&app, 900) } })).await;
        let first = kept[1]["id"].as_i64().unwrap();
        let (s, cmp) = app.get(&format!("/api/v1/customers/{b}/snapshots/{first}"), &central).await;
        assert_eq!(s, StatusCode::OK, "{cmp}");
        assert_eq!(cmp["content"]["customer"]["grade"], "B", "{cmp}");
        let changed: Vec<(String, String, String)> = cmp["differences"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["changed"] == true)
            .map(|d| {
                (
                    d["label"].as_str().unwrap_or_default().to_string(),
                    d["then"].as_str().unwrap_or_default().to_string(),
                    d["now"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(
            changed,
            [
                ("等级".to_string(), "B".to_string(), "A".to_string()),
                ("证件：营业执照有效期至".to_string(), day(&app, 800 - 183), day(&app, 900)),
            ],
            "{cmp}"
        );
        // Kept in the history; whoever does not see the customer does not see its snapshots.
        let (_, h) = app.get(&format!("/api/v1/customers/{b}/history"), &admin).await;
        assert!(h.to_string().contains("\"entity\":\"snapshot\""), "{h}");
        let other = tenant_on(&app, "partner-network", "othersnaps").await;
        let (s, _) = app.get(&format!("/api/v1/customers/{b}/snapshots/{first}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.get(&format!("/api/v1/customers/{b}/snapshots/999999"), &central).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // The pages: the customer lists its snapshots, one opens beside today.
        let (_, html) = crate::support::page(&app, &central, &format!("/customers/{b}")).await;
        assert!(html.contains("data-test=\"customer-snapshots\""), "{html}");
        let (s, html) = crate::support::page(&app, &central, &format!("/customers/{b}/snapshots/{first}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("与现状对照") && html.contains("data-test=\"changed\""), "{html}");
    }
);

both!(
    virtual r1_9_partners_are_ranked_by_completeness_and_the_top_with_a_clean_year_flagged,
    |app: TestApp| async move {
        use crate::web::get;
        let admin = tenant_on(&app, "partner-network", "ranks").await;
        let intro = staff_of(&app, &admin, "intro1", "吴业务", "introducer", None).await;
        let central = staff_of(&app, &admin, "central1", "郑审核", "central_reviewer", None).await;
        let market = staff_of(&app, &admin, "market1", "陈开发", "market_development", None).await;
        let (_, first) = admitted(&app, &intro, &central, "华建工程有限公司", "13900003001", "C").await;
        // The second dossier is the most complete: filled in further before it is submitted.
        let firm = partner(&app, &intro, "company", "远大建设集团", "13900003002").await;
        let dossier = json!({ "address": "宁波市", "staff_list": "50 人", "legal_representative": "何伟", "business_scope": "市政工程", "past_projects": "滨江大桥", "licence_until": day(&app, 800), "qualification_until": day(&app, 800), "safety_permit_until": day(&app, 800) });
        let (_, c) = app
            .post("/api/v1/cases", &intro, json!({ "workflow": "admission", "customer_id": firm, "fields": dossier }))
            .await;
        let fuller = c["id"].as_i64().unwrap_or_else(|| panic!("{c}"));
        act(&app, &intro, fuller, "inspect", json!({ "answers": { "site_address": "yes", "site_staff": "yes", "site_equipment": "yes" } })).await;
        act(&app, &intro, fuller, "submit", json!({})).await;
        let (s, c) = act(&app, &central, fuller, "accept", json!({ "fields": { "grade": "C" } })).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let (_, third) = admitted(&app, &intro, &central, "江南路桥有限公司", "13900003003", "C").await;
        // The central unit's yearly review: the first and the third had a clean year.
        for id in [first, third] {
            let (s, c) = act(&app, &central, id, "annual_review", json!({ "fields": { "clean_year": true } })).await;
            assert_eq!(s, StatusCode::OK, "{c}");
        }
        let r = act(&app, &intro, first, "annual_review", json!({ "fields": { "clean_year": true } })).await;
        assert_eq!(refusal(&r), (StatusCode::FORBIDDEN, "forbidden", "R1.9"), "the central unit reviews: {}", r.1);

        let ranking = |who: Session| {
            let app = &app;
            async move {
                let (s, r) = app.get("/api/v1/workflows/admission/rankings/standing", &who).await;
                assert_eq!(s, StatusCode::OK, "{r}");
                r
            }
        };
        let r = ranking(market.clone()).await;
        assert_eq!((r["rule"].as_str(), r["top"].as_u64()), (Some("R1.9"), Some(10)), "{r}");
        let order: Vec<(i64, u64, bool)> = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["case_id"].as_i64().unwrap(), i["place"].as_u64().unwrap(), i["flagged"].as_bool().unwrap()))
            .collect();
        // By completeness; the first and third are level, the older first; the flag needs the
        // clean year as well as a top place.
        assert_eq!(order, vec![(fuller, 1, false), (first, 2, true), (third, 3, true)], "{r}");
        let scores: Vec<i64> = r["items"].as_array().unwrap().iter().map(|i| i["score"].as_i64().unwrap()).collect();
        assert!(scores[0] > scores[1] && scores[1] == scores[2], "{r}");
        assert_eq!(r["items"][1]["decision"]["rule"], "R1.9", "{r}");
        assert!(r["items"][1]["decision"]["text"].as_str().unwrap_or_default().contains("第 2 名"), "{r}");
        let (s, _) = app.get("/api/v1/workflows/admission/rankings/nonesuch", &market).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.get("/api/v1/workflows/nonesuch/rankings/standing", &market).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // The page, linked from the admissions list.
        let list = get(&app, "/cases?workflow=admission", Some(&central)).await;
        assert!(list.has("href=\"/cases/rankings/admission/standing\""), "{}", list.html);
        let page = get(&app, "/cases/rankings/admission/standing", Some(&central)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.has("合作方排名") && page.has("可享费用优惠与优先服务"), "{}", page.html);
        assert!(page.has("data-test=\"flagged-count\">2<"), "{}", page.html);
        assert!(page.find_pos(&format!("data-case=\"{fuller}\"")) < page.find_pos(&format!("data-case=\"{first}\"")));

        // A year on, a review older than a year no longer counts: no flag until the next one,
        // and the yearly review waits on the central unit.
        advance(&app, 366 * 86_400).await;
        let r = ranking(market.clone()).await;
        assert!(r["items"].as_array().unwrap().iter().all(|i| i["flagged"] == false), "{r}");
        let (_, inbox) = app.get("/api/v1/inbox?kind=case", &central).await;
        assert!(
            inbox["items"].as_array().unwrap().iter().any(|i| i["id"].as_i64() == Some(first) && i["action"] == "annual_review"),
            "{inbox}"
        );
        act(&app, &central, first, "annual_review", json!({ "fields": { "clean_year": true } })).await;
        let r = ranking(market).await;
        let flagged: Vec<i64> = r["items"].as_array().unwrap().iter().filter(|i| i["flagged"] == true).map(|i| i["case_id"].as_i64().unwrap()).collect();
        assert_eq!(flagged, vec![first], "{r}");
    }
);
