//! Who may see what (issue 8 §1), as a matrix: every role of two presets (car-dealership and
//! event-customers) against every endpoint that returns records, on both backends, including
//! another tenant's ids. The expected answer of each cell is worked out here from the preset's
//! rules in words (a consultant sees her own and unowned customers, a leader their team, a
//! manager everything), not from Kehu's own code; a record outside the view answers 404 and is
//! left out of lists.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::support::{Session, TestApp, page};
use crate::timed::{staff_of, tenant_on};

fn ids(v: &Value) -> BTreeSet<i64> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect()
}

async fn unit(app: &TestApp, admin: &Session, name: &str, parent: Option<i64>) -> i64 {
    let (status, u) = app
        .post("/api/v1/units", admin, json!({ "name": name, "parent_id": parent }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_i64().unwrap()
}

async fn customer(app: &TestApp, who: &Session, name: &str, phone: &str) -> i64 {
    let (status, c) = app
        .post(
            "/api/v1/customers",
            who,
            json!({ "kind": "person", "name": name, "phones": [phone] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

/// `holder` registers a claim on `customer` and `signer` confirms it: the claim's id.
async fn held(app: &TestApp, holder: &Session, signer: &Session, customer: i64) -> i64 {
    let (status, c) = app
        .post(&format!("/api/v1/customers/{customer}/claims"), holder, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let (status, c) = app
        .post(&format!("/api/v1/claims/{}/confirm", c["id"]), signer, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c["id"].as_i64().unwrap()
}

async fn fine(app: &TestApp, manager: &Session, staff: &Session, code: &str) -> i64 {
    let (status, e) = app
        .post(
            "/api/v1/ledger",
            manager,
            json!({ "staff_id": staff.staff_id, "code": code, "note": "矩阵" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    e["id"].as_i64().unwrap()
}

/// One cell: `path` as `who` answers `want` (200 or 404, or 403 for a role without the
/// permission at all).
async fn cell(app: &TestApp, who: (&str, &Session), path: &str, want: StatusCode, count: &mut usize) {
    let (status, body) = app.get(path, who.1).await;
    assert_eq!(status, want, "{} GET {path}: {body}", who.0);
    if status.is_client_error() {
        assert_eq!(
            body["code"].as_str(),
            Some(if want == StatusCode::FORBIDDEN {
                "forbidden"
            } else {
                "not_found"
            })
        );
    }
    *count += 1;
}

fn ok(seen: bool) -> StatusCode {
    if seen { StatusCode::OK } else { StatusCode::NOT_FOUND }
}

both!(
    car_dealership_every_role_sees_its_scope_on_every_endpoint,
    |app: TestApp| async move {
        let admin = app.admin.clone();
        let dept = unit(&app, &admin, "销售部", None).await;
        let team1 = unit(&app, &admin, "销售一组", Some(dept)).await;
        let team2 = unit(&app, &admin, "销售二组", Some(dept)).await;
        let a = staff_of(&app, &admin, "wangfang", "王芳", "consultant", Some(team1)).await;
        let b = staff_of(&app, &admin, "liqiang", "李强", "consultant", Some(team1)).await;
        let c = staff_of(&app, &admin, "zhangwei", "张伟", "consultant", Some(team2)).await;
        let leader1 = staff_of(&app, &admin, "leader1", "赵组长", "team_leader", Some(team1)).await;
        let leader2 = staff_of(&app, &admin, "leader2", "孙组长", "team_leader", Some(team2)).await;
        let manager = staff_of(&app, &admin, "manager", "钱经理", "sales_manager", Some(dept)).await;
        let assistant = staff_of(&app, &admin, "chenjing", "陈静", "sales_assistant", Some(dept)).await;
        let gm = staff_of(&app, &admin, "gm", "周总", "general_manager", None).await;

        // The records: A's customer (and her card, follow-up, sale, fine), B's in the same team,
        // C's in the other team, one nobody owns, and another tenant's.
        let cust_a = customer(&app, &a, "甲客户", "13900001001").await;
        let claim_a = held(&app, &a, &leader1, cust_a).await;
        app.post(
            &format!("/api/v1/customers/{cust_a}/activities"),
            &a,
            json!({ "channel": "call" }),
        )
        .await;
        let (status, _) = app
            .post(
                &format!("/api/v1/customers/{cust_a}/sales"),
                &a,
                json!({ "amount": 10_000_000 }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let cust_b = customer(&app, &b, "乙客户", "13900001002").await;
        let claim_b = held(&app, &b, &leader1, cust_b).await;
        let cust_c = customer(&app, &c, "丙客户", "13900001003").await;
        let claim_c = held(&app, &c, &leader2, cust_c).await;
        app.post(
            &format!("/api/v1/customers/{cust_c}/activities"),
            &c,
            json!({ "channel": "visit" }),
        )
        .await;
        let cust_u = customer(&app, &admin, "无主客户", "13900001004").await;
        let fine_a = fine(&app, &manager, &a, "lateness").await;
        let fine_c = fine(&app, &manager, &c, "lateness").await;
        let other = tenant_on(&app, "car-dealership", "other").await;
        let other_c = customer(&app, &other, "别家客户", "13900001005").await;
        let other_claim = app
            .post(&format!("/api/v1/customers/{other_c}/claims"), &other, json!({}))
            .await
            .1["id"]
            .as_i64()
            .unwrap();
        let other_fine = {
            let o = staff_of(&app, &other, "otherone", "外人", "consultant", None).await;
            fine(&app, &other, &o, "lateness").await
        };

        // Who sees which: by team for the leaders, everything for the managers.
        #[derive(Clone, Copy, PartialEq)]
        enum Of {
            A,
            B,
            C,
            Unowned,
        }
        // (who, session, whose records they see, whether they read histories)
        type Viewer<'a> = (&'a str, &'a Session, &'a dyn Fn(Of) -> bool, bool);
        let viewers: Vec<Viewer> = vec![
            ("consultant A", &a, &|o| matches!(o, Of::A | Of::Unowned), false),
            ("leader of team 1", &leader1, &|o| o != Of::C, true),
            (
                "leader of team 2",
                &leader2,
                &|o| matches!(o, Of::C | Of::Unowned),
                true,
            ),
            ("sales manager", &manager, &|_| true, true),
            ("sales assistant", &assistant, &|_| true, true),
            ("general manager", &gm, &|_| true, true),
            ("admin", &admin, &|_| true, true),
        ];
        let customers = [(cust_a, Of::A), (cust_b, Of::B), (cust_c, Of::C), (cust_u, Of::Unowned)];
        let claims = [(claim_a, Of::A), (claim_b, Of::B), (claim_c, Of::C)];
        let fines = [(fine_a, Of::A), (fine_c, Of::C)];
        let mut n = 0;
        for (who, s, sees, history) in &viewers {
            let who = (*who, *s);
            // Every customer endpoint, and another tenant's customer: not found.
            for (id, of) in customers.iter().copied().chain([(other_c, Of::C)]) {
                let seen = id != other_c && sees(of);
                for sub in ["", "/ownership", "/claims", "/activities", "/sales"] {
                    cell(&app, who, &format!("/api/v1/customers/{id}{sub}"), ok(seen), &mut n).await;
                }
                // The history needs history.read, which consultants lack (403 whatever the id).
                let want = if *history { ok(seen) } else { StatusCode::FORBIDDEN };
                cell(&app, who, &format!("/api/v1/customers/{id}/history"), want, &mut n).await;
            }
            // The list and every search shape show exactly what they see: all, a name part, a
            // whole number and a number's ending.
            let seen: BTreeSet<i64> = customers.iter().filter(|(_, o)| sees(*o)).map(|(id, _)| *id).collect();
            for (q, matching) in [
                ("", None),
                ("?q=客户", None),
                ("?q=13900001003", Some(cust_c)),
                ("?q=1003", Some(cust_c)),
            ] {
                let (_, list) = app.get(&format!("/api/v1/customers{q}"), s).await;
                let got: BTreeSet<i64> = ids(&list)
                    .into_iter()
                    .filter(|i| customers.iter().any(|(c, _)| c == i))
                    .collect();
                let want: BTreeSet<i64> = seen
                    .iter()
                    .copied()
                    .filter(|id| matching.is_none_or(|m| m == *id))
                    .collect();
                assert_eq!(got, want, "{} /customers{q}", who.0);
                n += 1;
            }
            for (id, of) in claims.iter().copied().chain([(other_claim, Of::C)]) {
                cell(
                    &app,
                    who,
                    &format!("/api/v1/claims/{id}"),
                    ok(id != other_claim && sees(of)),
                    &mut n,
                )
                .await;
            }
            // The sub-lists of a customer one sees leave out records one does not: a leader of
            // team 2 sees the unowned customer but no card of team 1 on it (there is none), and
            // A's follow-up only where A's records are seen.
            let (_, acts) = app.get(&format!("/api/v1/customers/{cust_a}/activities"), s).await;
            if sees(Of::A) {
                assert_eq!(acts["items"].as_array().unwrap().len(), 1, "{}: {acts}", who.0);
            }
            // The pages go through the same view: a customer's page, the list, the ledger.
            let names = [
                (cust_a, "甲客户"),
                (cust_b, "乙客户"),
                (cust_c, "丙客户"),
                (cust_u, "无主客户"),
            ];
            for ((id, of), (_, name)) in customers.iter().zip(names) {
                let (status, _) = page(&app, s, &format!("/customers/{id}")).await;
                assert_eq!(status, ok(sees(*of)), "{} page /customers/{id}", who.0);
                let (_, list) = page(&app, s, "/customers").await;
                assert_eq!(list.contains(name), sees(*of), "{} page /customers and {name}", who.0);
                n += 2;
            }
            let (status, _) = page(&app, s, &format!("/customers/{other_c}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            for (id, of) in fines {
                let (status, _) = page(&app, s, &format!("/ledger/{id}")).await;
                assert_eq!(status, ok(sees(of)), "{} page /ledger/{id}", who.0);
                n += 1;
            }
            // The ledger: each entry, the list and the month's statement.
            for (id, of) in fines.iter().copied().chain([(other_fine, Of::C)]) {
                cell(
                    &app,
                    who,
                    &format!("/api/v1/ledger/{id}"),
                    ok(id != other_fine && sees(of)),
                    &mut n,
                )
                .await;
            }
            let (_, list) = app.get("/api/v1/ledger", s).await;
            let want: BTreeSet<i64> = fines.iter().filter(|(_, o)| sees(*o)).map(|(id, _)| *id).collect();
            assert_eq!(ids(&list), want, "{} /ledger", who.0);
            let (_, st) = app.get("/api/v1/ledger/statement", s).await;
            let people: BTreeSet<i64> = st["people"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["id"].as_i64())
                .collect();
            let want: BTreeSet<i64> = [(a.staff_id, Of::A), (c.staff_id, Of::C)]
                .into_iter()
                .filter(|(_, o)| sees(*o))
                .map(|(id, _)| id)
                .collect();
            assert_eq!(people, want, "{} /ledger/statement: {st}", who.0);
            n += 2;
        }
        // Writes on a customer outside the view are refused as not found, and change nothing.
        let (status, _) = app
            .post(
                &format!("/api/v1/customers/{cust_c}/activities"),
                &a,
                json!({ "channel": "call" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .post(
                &format!("/api/v1/claims/{claim_c}/cancel"),
                &leader1,
                json!({ "reason": "看不到的卡" }),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, acts) = app
            .get(&format!("/api/v1/customers/{cust_c}/activities"), &manager)
            .await;
        assert_eq!(acts["items"].as_array().unwrap().len(), 1);
        // The duplicate check still works across the tenant and names only id, name, owner.
        let (status, dup) = app
            .post(
                "/api/v1/customers",
                &a,
                json!({ "kind": "person", "name": "丙", "phones": ["13900001003"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let d = &dup["duplicates"][0];
        assert_eq!(
            (d["id"].as_i64(), d["owner_id"].as_i64()),
            (Some(cust_c), Some(c.staff_id)),
            "{dup}"
        );
        let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "matched_on", "name", "owner_id"]);
        eprintln!("car-dealership visibility matrix: {n} cells");
        assert!(n > 300, "{n}");
    }
);

both!(
    virtual event_customers_every_role_sees_its_scope_on_every_endpoint,
    |app: TestApp| async move {
        let admin = tenant_on(&app, "event-customers", "events").await;
        let d1 = unit(&app, &admin, "一部", None).await;
        let d2 = unit(&app, &admin, "二部", None).await;
        let d3 = unit(&app, &admin, "三部", None).await;
        let s1 = staff_of(&app, &admin, "sales1", "小王", "sales", Some(d1)).await;
        let s2 = staff_of(&app, &admin, "sales2", "小李", "sales", Some(d2)).await;
        let h1 = staff_of(&app, &admin, "head1", "钱主任", "division_head", Some(d1)).await;
        let h2 = staff_of(&app, &admin, "head2", "吴主任", "division_head", Some(d2)).await;
        let crm = staff_of(&app, &admin, "crm", "CRM 小周", "crm_centre", None).await;
        let coord = staff_of(&app, &admin, "coord", "郑协调", "coordinator", None).await;
        let gm = staff_of(&app, &admin, "gm", "钱总", "general_manager", None).await;
        let now: jiff::Timestamp = app.get("/api/v1/clock", &admin).await.1["now"].as_str().unwrap().parse().unwrap();
        // An afternoon ten days on, at 14:00 in the tenant's zone (after the event day's cut-off).
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let day = now.to_zoned(tz.clone()).date().checked_add(jiff::Span::new().days(10)).unwrap();
        let start = day.at(14, 0, 0, 0).to_zoned(tz).unwrap().timestamp().to_string();
        let event = |name: &'static str, divisions: Vec<i64>| {
            let (app, coord, start) = (&app, &coord, start.clone());
            async move {
                let (status, e) = app
                    .post("/api/v1/events", coord, json!({ "name": name, "starts_at": start, "session": "afternoon", "division_ids": divisions }))
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{e}");
                e["id"].as_i64().unwrap()
            }
        };
        let both_divisions = event("两部联合会", vec![d1, d2]).await;
        let second_only = event("二三部联合会", vec![d2, d3]).await;
        let c1 = customer(&app, &s1, "李阿姨", "13900002001").await;
        held(&app, &s1, &h1, c1).await;
        let c2 = customer(&app, &s2, "王大爷", "13900002002").await;
        held(&app, &s2, &h2, c2).await;
        // A complaint about the second division's seller; a conflict between the two.
        let (status, complaint) = app
            .post("/api/v1/cases", &h2, json!({ "workflow": "complaint", "customer_id": c2, "fields": { "summary": "服务态度", "to_boss": false } }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{complaint}");
        let complaint = complaint["id"].as_i64().unwrap();
        let (status, conflict) = app
            .post("/api/v1/cases", &coord, json!({ "workflow": "conflict", "customer_id": c1, "fields": { "party_a": s1.staff_id, "party_b": s2.staff_id, "summary": "都说邀约了" } }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{conflict}");
        let conflict = conflict["id"].as_i64().unwrap();
        let other = tenant_on(&app, "event-customers", "otherev").await;
        let other_event = {
            let (_, u) = app.post("/api/v1/units", &other, json!({ "name": "外部" })).await;
            let (_, v) = app.post("/api/v1/units", &other, json!({ "name": "外二部" })).await;
            let (status, e) = app
                .post("/api/v1/events", &other, json!({ "name": "别家会", "starts_at": start, "session": "afternoon", "division_ids": [u["id"], v["id"]] }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{e}");
            e["id"].as_i64().unwrap()
        };

        // (name, session, division 1's records, division 2's records)
        let viewers: Vec<(&str, &Session, bool, bool)> = vec![
            ("seller of division 1", &s1, true, false),
            ("seller of division 2", &s2, false, true),
            ("head of division 1", &h1, true, false),
            ("head of division 2", &h2, false, true),
            ("CRM centre", &crm, true, true),
            ("coordinator", &coord, true, true),
            ("general manager", &gm, true, true),
            ("admin", &admin, true, true),
        ];
        let mut n = 0;
        for (who, s, d1_seen, d2_seen) in &viewers {
            let w = (*who, *s);
            // Joint events: one of divisions 1 and 2, one of divisions 2 and 3, another tenant's.
            cell(&app, w, &format!("/api/v1/events/{both_divisions}"), StatusCode::OK, &mut n).await;
            cell(&app, w, &format!("/api/v1/events/{second_only}"), ok(*d2_seen), &mut n).await;
            cell(&app, w, &format!("/api/v1/events/{other_event}"), StatusCode::NOT_FOUND, &mut n).await;
            let (_, list) = app.get("/api/v1/events", s).await;
            let want: BTreeSet<i64> = [(both_divisions, true), (second_only, *d2_seen)]
                .into_iter()
                .filter(|(_, seen)| *seen)
                .map(|(id, _)| id)
                .collect();
            assert_eq!(ids(&list), want, "{who} /events");
            // Complaints about division 2's seller.
            cell(&app, w, &format!("/api/v1/cases/{complaint}"), ok(*d2_seen), &mut n).await;
            let (_, list) = app.get("/api/v1/cases?workflow=complaint", s).await;
            assert_eq!(ids(&list).contains(&complaint), *d2_seen, "{who} complaint cases");
            // The conflict between the two divisions' sellers: both sides see it (the parties
            // are its people).
            cell(&app, w, &format!("/api/v1/cases/{conflict}"), StatusCode::OK, &mut n).await;
            let (_, list) = app.get("/api/v1/cases?workflow=conflict", s).await;
            assert!(ids(&list).contains(&conflict), "{who} conflict cases");
            // Customers: divisions compete for them, so every seller sees every customer; the
            // cards on them only as far as the role sees claims.
            for (cid, own_division) in [(c1, *d1_seen), (c2, *d2_seen)] {
                cell(&app, w, &format!("/api/v1/customers/{cid}"), StatusCode::OK, &mut n).await;
                let (_, claims) = app.get(&format!("/api/v1/customers/{cid}/claims"), s).await;
                assert_eq!(claims["items"].as_array().unwrap().is_empty(), !own_division, "{who} claims of {cid}: {claims}");
                n += 1;
            }
        }
        eprintln!("event-customers visibility matrix: {n} cells");
        assert!(n > 60, "{n}");
    }
);

both!(
    pages_offer_only_what_the_caller_may_do_and_say_who_owns_before_a_claim,
    |app: TestApp| async move {
        let admin = app.admin.clone();
        let team = unit(&app, &admin, "销售一组", None).await;
        let a = staff_of(&app, &admin, "wangfang", "王芳", "consultant", Some(team)).await;
        let b = staff_of(&app, &admin, "liqiang", "李强", "consultant", Some(team)).await;
        let leader = staff_of(&app, &admin, "leader1", "赵组长", "team_leader", Some(team)).await;
        let cust = customer(&app, &a, "甲客户", "13900003001").await;
        held(&app, &a, &leader, cust).await;
        let path = format!("/customers/{cust}");
        // The owner: no warning, her sale form.
        let (_, html) = page(&app, &a, &path).await;
        assert!(!html.contains("claim-owned-warning") && html.contains(r#"data-test="sale-form""#));
        // The leader sees the team's customer: before a claim, the page says who owns it.
        let (_, html) = page(&app, &leader, &path).await;
        assert!(html.contains(r#"data-test="claim-owned-warning""#), "{html}");
        assert!(html.contains("此客户已归 <strong>王芳</strong> 所有"), "{html}");
        assert!(html.contains("仍然登记（重复登记）"));
        // A colleague who registered a second card sees the customer, but is not offered a sale
        // that would count for the owner.
        let (status, _) = app
            .post(&format!("/api/v1/customers/{cust}/claims"), &b, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, html) = page(&app, &b, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains(r#"data-test="sale-form""#), "{html}");
        assert!(!html.contains(r#"data-test="claim""#), "she holds a card already");

        // Event-customers: another division's confirmed invitation keeps a seller from
        // inviting (R11.4); the page says so instead of offering the claim.
        let eadmin = tenant_on(&app, "event-customers", "events").await;
        let d1 = unit(&app, &eadmin, "一部", None).await;
        let d2 = unit(&app, &eadmin, "二部", None).await;
        let s1 = staff_of(&app, &eadmin, "sales1", "小王", "sales", Some(d1)).await;
        let s2 = staff_of(&app, &eadmin, "sales2", "小李", "sales", Some(d2)).await;
        let h1 = staff_of(&app, &eadmin, "head1", "钱主任", "division_head", Some(d1)).await;
        let c1 = customer(&app, &s1, "李阿姨", "13900003002").await;
        held(&app, &s1, &h1, c1).await;
        let (status, html) = page(&app, &s2, &format!("/customers/{c1}")).await;
        assert_eq!(status, StatusCode::OK, "sellers see every customer");
        assert!(
            html.contains(r#"data-test="claim-refused""#) && html.contains("R11.4"),
            "{html}"
        );
        assert!(!html.contains(r#"data-test="claim""#));
    }
);
