//! The organisation page (组织与员工, issue 8 §5): a new company builds its unit tree and adds
//! its staff on the page, under the same rules as the API (`units.manage`, `staff.manage`,
//! only grantable roles, never one's own roles or access).

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::both;
use crate::support::{PASSWORD, Session, TestApp};
use crate::web::{Page, get, post, send};

/// The record id at the end of a redirect such as `/admin?done=unit_added#unit-7`.
fn id_in(location: &str) -> i64 {
    location
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an id at the end of {location}"))
}

/// Follows a form post's redirect to the page it lands on.
async fn posted(app: &TestApp, s: &Session, path: &str, fields: &[(&str, &str)]) -> (String, Page) {
    let res = post(app, path, s, fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}: {}", res.html);
    let to = res.location().to_string();
    let page = get(app, to.split('#').next().unwrap(), Some(s)).await;
    assert_eq!(page.status, StatusCode::OK);
    (to, page)
}

async fn add_unit(app: &TestApp, s: &Session, name: &str, parent: Option<i64>) -> (i64, Page) {
    let parent = parent.map(|p| p.to_string()).unwrap_or_default();
    let (to, page) = posted(
        app,
        s,
        "/admin/units",
        &[("csrf", &s.csrf), ("name", name), ("parent_id", &parent)],
    )
    .await;
    assert!(to.starts_with("/admin?done=unit_added#unit-"), "{to}");
    (id_in(&to), page)
}

/// The `<tr>` of the staff member with this username.
fn staff_row<'a>(page: &'a Page, username: &str) -> &'a str {
    let at = page
        .html
        .find(&format!(r#"data-username="{username}""#))
        .unwrap_or_else(|| panic!("{username} is in the staff table"));
    let end = page.html[at..].find("</tr>").map_or(page.html.len(), |e| at + e);
    &page.html[at..end]
}

both!(
    an_admin_builds_the_tree_and_adds_staff_who_then_log_in,
    |app: TestApp| async move {
        // A company just made with `kehu init`: no units yet.
        let admin = crate::timed::tenant_on(&app, "car-dealership", "neu").await;
        let page = get(&app, "/admin", Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.has(r#"data-test="nav-org""#) && page.has("组织与员工"));
        assert!(page.has(r#"data-test="units-empty""#), "a new company has no units yet");

        let (company, _) = add_unit(&app, &admin, "都慧汽车", None).await;
        let (sales, _) = add_unit(&app, &admin, "销售部", Some(company)).await;
        let (team, page) = add_unit(&app, &admin, "一组", Some(sales)).await;
        assert!(page.has("单位已添加"), "the confirmation");
        // The tree is indented: parents before children, each one step deeper.
        let (a, b, c) = (
            page.find_pos(&format!(r#"class="org-unit depth-0" id="unit-{company}""#)),
            page.find_pos(&format!(r#"class="org-unit depth-1" id="unit-{sales}""#)),
            page.find_pos(&format!(r#"class="org-unit depth-2" id="unit-{team}""#)),
        );
        assert!(a < b && b < c && c < usize::MAX, "an indented tree");

        // A staff member in the team, with a role and an initial password; she logs in.
        let team_s = team.to_string();
        let (to, page) = posted(
            &app,
            &admin,
            "/admin/staff",
            &[
                ("csrf", &admin.csrf),
                ("display_name", "王芳"),
                ("username", "wangfang"),
                ("unit_id", &team_s),
                ("roles", "consultant"),
                ("password", "first-day-1"),
            ],
        )
        .await;
        assert!(to.starts_with("/admin?done=staff_added#staff-"), "{to}");
        assert!(page.has("员工已添加"));
        let row = staff_row(&page, "wangfang");
        assert!(
            row.contains("王芳") && row.contains("一组") && row.contains("销售顾问") && row.contains("在职"),
            "{row}"
        );
        assert!(page.has(r#"data-test="unit-staff">1 人<"#), "the team counts her");
        let wang = app.login_with("wangfang", "first-day-1").await;
        assert_eq!(wang.staff_id, id_in(&to));
        let list = get(&app, "/customers", Some(&wang)).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(
            !list.has(r#"data-test="nav-org""#),
            "a consultant has no organisation entry"
        );

        // Rename and move the team; a move below itself is refused with the reason, not a code.
        let company_s = company.to_string();
        let (_, page) = posted(
            &app,
            &admin,
            &format!("/admin/units/{team}"),
            &[("csrf", &admin.csrf), ("name", "销售一组"), ("parent_id", &company_s)],
        )
        .await;
        assert!(page.has("单位已更新") && page.has("销售一组"));
        assert!(page.has(&format!(r#"class="org-unit depth-1" id="unit-{team}""#)));
        let refused = post(
            &app,
            &format!("/admin/units/{company}"),
            &admin,
            &[("csrf", &admin.csrf), ("name", "都慧汽车"), ("parent_id", &team_s)],
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("不能把单位移到它自己或它的下级单位之下"),
            "{}",
            refused.html
        );
        assert!(!refused.has("unit_cycle"));
        // A refused new staff member keeps what was typed, but not the password.
        let refused = post(
            &app,
            "/admin/staff",
            &admin,
            &[
                ("csrf", &admin.csrf),
                ("display_name", "李强"),
                ("username", "wangfang"),
                ("roles", "team_leader"),
                ("password", "secret-typed"),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.has("用户名“wangfang”已被使用") && refused.has(r#"value="李强""#));
        assert!(!refused.has("secret-typed"));
        let refused = post(
            &app,
            "/admin/staff",
            &admin,
            &[
                ("csrf", &admin.csrf),
                ("display_name", "李强"),
                ("username", "liqiang"),
                ("password", "secret-typed"),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.has("至少需要一个角色"));

        // Change her name, unit and roles; reset her password (her session ends).
        let wid = wang.staff_id.to_string();
        let (_, page) = posted(
            &app,
            &admin,
            &format!("/admin/staff/{wid}"),
            &[
                ("csrf", &admin.csrf),
                ("display_name", "王芳芳"),
                ("unit_id", &company_s),
                ("roles_shown", "1"),
                ("roles", "consultant"),
                ("roles", "team_leader"),
            ],
        )
        .await;
        let row = staff_row(&page, "wangfang");
        assert!(
            row.contains("王芳芳") && row.contains("都慧汽车") && row.contains("销售顾问") && row.contains("销售组长"),
            "{row}"
        );
        let (_, page) = posted(
            &app,
            &admin,
            &format!("/admin/staff/{wid}/password"),
            &[("csrf", &admin.csrf), ("password", "second-day-2")],
        )
        .await;
        assert!(page.has("密码已重设"));
        assert_eq!(app.get("/api/v1/me", &wang).await.0, StatusCode::UNAUTHORIZED);
        app.login_with("wangfang", "second-day-2").await;

        // The admin's own row: no roles to change, no deactivation.
        let own = staff_row(&page, "neuadmin");
        assert!(
            own.contains(r#"data-test="staff-edit""#) && !own.contains("roles_shown"),
            "{own}"
        );
        assert!(!own.contains("staff-deactivate"));

        // In English the roles are the policy's English names.
        let en = get(&app, "/admin?lang=en", Some(&admin)).await;
        assert!(en.has("Organisation and staff") && en.has("Team leader") && en.has("Sales consultant"));
        let (_, h) = app.get("/api/v1/history/verify", &admin).await;
        assert_eq!(h["ok"], true, "{h}");
    }
);

both!(
    a_sales_manager_grants_only_their_roles_and_cannot_touch_the_general_manager,
    |app: TestApp| async move {
        let gm = app.staff("gm", "总经理甲", &["general_manager"]).await;
        let manager = app.staff("manager", "销售经理乙", &["sales_manager"]).await;
        app.staff("wangfang", "王芳", &["consultant"]).await;
        let page = get(&app, "/admin", Some(&manager)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.has(r#"data-test="nav-org""#));
        // The role choices of the new-staff form: the manager's own and its `grants`.
        let at = page.find_pos(r#"data-test="grantable-roles""#);
        let choices = &page.html[at..at + page.html[at..].find("</div>").unwrap()];
        for role in ["consultant", "team_leader", "sales_manager", "sales_assistant"] {
            assert!(choices.contains(&format!(r#"value="{role}""#)), "{role} in {choices}");
        }
        for role in ["general_manager", "admin"] {
            assert!(
                !choices.contains(&format!(r#"value="{role}""#)),
                "{role} not in {choices}"
            );
        }
        assert!(!page.has(r#"value="general_manager""#), "no form anywhere offers it");
        // The general manager's and the admin's rows have no controls; the consultant's do.
        for who in ["gm", "admin"] {
            let row = staff_row(&page, who);
            assert!(!row.contains("<form") && !row.contains("staff-edit"), "{who}: {row}");
        }
        assert!(staff_row(&page, "gm").contains("总经理"));
        assert!(staff_row(&page, "wangfang").contains(r#"data-test="staff-deactivate""#));

        // Posting anyway is refused with the reason on the page.
        let refused = post(
            &app,
            &format!("/admin/staff/{}/active", gm.staff_id),
            &manager,
            &[("csrf", &manager.csrf), ("active", "0")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.has("总经理甲担任“总经理”，这是你不能授予的角色"),
            "{}",
            refused.html
        );
        assert!(
            refused.has(r#"data-test="staff-add""#),
            "the page again, not a bare error"
        );
        assert_eq!(app.get("/api/v1/me", &gm).await.0, StatusCode::OK, "still logged in");
        let refused = post(
            &app,
            "/admin/staff",
            &manager,
            &[
                ("csrf", &manager.csrf),
                ("display_name", "新总经理"),
                ("username", "gm2"),
                ("roles", "general_manager"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.has("你不能授予“总经理”角色"), "{}", refused.html);
        assert!(!refused.has("general_manager"), "the reason names roles, not their ids");
        // Nor may the manager deactivate themself.
        let refused = post(
            &app,
            &format!("/admin/staff/{}/active", manager.staff_id),
            &manager,
            &[("csrf", &manager.csrf), ("active", "0")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.has("不能停用自己"), "{}", refused.html);
        // A consultant the manager may grant is added.
        let (to, _) = posted(
            &app,
            &manager,
            "/admin/staff",
            &[
                ("csrf", &manager.csrf),
                ("display_name", "李强"),
                ("username", "liqiang"),
                ("roles", "consultant"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert!(to.contains("done=staff_added"));
        app.login("liqiang").await;
    }
);

both!(a_consultant_has_no_organisation_page, |app: TestApp| async move {
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let page = get(&app, "/admin", Some(&wang)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("只有可以管理单位或员工的角色可以打开此页"), "{}", page.html);
    assert!(!page.has(r#"data-test="nav-org""#));
    let list = get(&app, "/customers", Some(&wang)).await;
    assert!(!list.has(r#"data-test="nav-org""#) && !list.has(r#"href="/admin""#));
    let refused = post(
        &app,
        "/admin/units",
        &wang,
        &[("csrf", &wang.csrf), ("name", "我的部门"), ("parent_id", "")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let (_, units) = app.get("/api/v1/units", &app.admin).await;
    assert_eq!(
        units["items"].as_array().map(Vec::len),
        Some(1),
        "the test's own unit only"
    );
});

both!(
    deactivating_on_the_page_ends_the_session_and_reactivating_lets_back_in,
    |app: TestApp| async move {
        let admin = app.admin.clone();
        let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
        assert_eq!(get(&app, "/customers", Some(&wang)).await.status, StatusCode::OK);
        let id = wang.staff_id;
        let (to, page) = posted(
            &app,
            &admin,
            &format!("/admin/staff/{id}/active"),
            &[("csrf", &admin.csrf), ("active", "0")],
        )
        .await;
        assert_eq!(to, format!("/admin?done=deactivated#staff-{id}"));
        assert!(page.has("账号已停用"));
        let row = staff_row(&page, "wangfang");
        assert!(row.contains("已停用") && row.contains("staff-reactivate"), "{row}");
        // Her open page session is over: the next page sends her to the login page.
        let after = get(&app, "/customers", Some(&wang)).await;
        assert_eq!(after.status, StatusCode::SEE_OTHER);
        assert!(after.location().starts_with("/login"), "{}", after.location());
        let res = app
            .call(
                Method::POST,
                "/api/v1/session",
                None,
                Some(json!({"username": "wangfang", "password": PASSWORD})),
            )
            .await;
        assert_eq!(res.0, StatusCode::UNAUTHORIZED, "nor can she log in");
        let (_, page) = posted(
            &app,
            &admin,
            &format!("/admin/staff/{id}/active"),
            &[("csrf", &admin.csrf), ("active", "1")],
        )
        .await;
        assert!(page.has("账号已恢复") && staff_row(&page, "wangfang").contains("在职"));
        app.login("wangfang").await;
    }
);

both!(organisation_forms_need_the_csrf_token, |app: TestApp| async move {
    let admin = app.admin.clone();
    let wang = app.staff("wangfang", "王芳", &["consultant"]).await;
    let id = wang.staff_id;
    let forms: [(String, Vec<(&str, &str)>); 5] = [
        ("/admin/units".into(), vec![("name", "销售部"), ("parent_id", "")]),
        (
            "/admin/staff".into(),
            vec![
                ("display_name", "李强"),
                ("username", "liqiang"),
                ("roles", "consultant"),
                ("password", PASSWORD),
            ],
        ),
        (format!("/admin/staff/{id}"), vec![("display_name", "改名")]),
        (format!("/admin/staff/{id}/active"), vec![("active", "0")]),
        (
            format!("/admin/staff/{id}/password"),
            vec![("password", "another-one-1")],
        ),
    ];
    for (path, fields) in &forms {
        for csrf in [None, Some("forged")] {
            let mut f = fields.clone();
            if let Some(t) = csrf {
                f.push(("csrf", t));
            }
            let p = send(&app, Method::POST, path, Some(&admin.cookie), Some(&f), &[]).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} with {csrf:?}");
            assert!(p.has("页面已过期"), "{path}");
        }
    }
    // Nothing happened.
    let (_, units) = app.get("/api/v1/units", &admin).await;
    assert_eq!(
        units["items"].as_array().map(Vec::len),
        Some(1),
        "the test's own unit only"
    );
    let (_, me) = app.get("/api/v1/me", &wang).await;
    assert_eq!(me["display_name"], "王芳", "{me}");
    // A bearer token cannot post the forms either.
    let (_, t) = app.post("/api/v1/tokens", &admin, json!({"name": "script"})).await;
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let p = send(
        &app,
        Method::POST,
        "/admin/units",
        None,
        Some(&[("name", "销售部"), ("csrf", "")]),
        &[(header::AUTHORIZATION, &bearer)],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
});
