//! A test application on its own database: a fresh SQLite file, or a fresh PostgreSQL schema.
//! Every API test runs on both through `both!`. Without a reachable PostgreSQL the PostgreSQL
//! half prints that it is skipped, except in CI (`CI=true`), where it must run.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kehu_domain::Policy;
use kehu_server::AppState;
use kehu_store::Db;
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = "password123";

pub fn preset() -> (String, String) {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../presets/car-dealership.toml");
    (file.to_string(), std::fs::read_to_string(file).expect("preset file"))
}

/// The version the shipped car-dealership preset declares (tests read it rather than repeat it).
pub fn preset_version() -> u32 {
    let (file, src) = preset();
    Policy::parse(&src, &file).expect("preset parses").version
}

#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub staff_id: i64,
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub tenant_id: i64,
    pub admin: Session,
    /// The unit `staff` puts everyone in (the team leaders' `unit` scope covers it).
    pub unit_id: i64,
    file: Option<std::path::PathBuf>,
    pg: Option<sqlx::postgres::PgConnectOptions>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{}_{n}", std::process::id(), jiff::Timestamp::now().as_millisecond())
}

pub fn pg_url() -> String {
    std::env::var("KEHU_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

impl TestApp {
    pub async fn sqlite(virtual_clock: bool) -> TestApp {
        let file = std::env::temp_dir().join(format!("kehu-test-{}.db", unique()));
        let url = format!("sqlite://{}", file.display());
        let db = Db::connect(&url).await.expect("sqlite");
        let mut app = TestApp::on(db, virtual_clock).await;
        app.file = Some(file);
        app
    }

    /// `None` (and a note) when PostgreSQL is not reachable outside CI.
    pub async fn postgres(virtual_clock: bool) -> Option<TestApp> {
        let (db, opts) = empty_postgres().await?;
        kehu_store::migrate::run(&db).await.expect("migrations on PostgreSQL");
        let mut app = TestApp::on(db, virtual_clock).await;
        app.pg = Some(opts);
        Some(app)
    }

    /// Serves this test's database again with signed history checkpoints in `dir` (what
    /// `kehu serve` does); the sessions stay valid.
    pub async fn with_anchor(&mut self, dir: &std::path::Path) {
        let anchor = kehu_store::anchor::Anchor::open(dir, &self.state.db).expect("checkpoint folder");
        let mut state = AppState::new(self.state.db.clone(), self.state.clock.is_virtual())
            .await
            .expect("state")
            .with_anchor(anchor);
        if let Some(files) = &self.state.files {
            state = state.with_files(kehu_store::files::Blobs::open(files.dir()).expect("files folder"));
        }
        self.router = kehu_server::app(state.clone());
        self.state = state;
    }

    async fn on(db: Db, virtual_clock: bool) -> TestApp {
        let (file, src) = preset();
        let policy = Policy::parse(&src, &file).expect("preset parses");
        let now = jiff::Timestamp::now();
        let t = kehu_store::tenants::create(&db, "acme", "测试汽车有限公司", &policy, &src, &file, now)
            .await
            .expect("tenant");
        let hash = kehu_server::auth::hash_password(PASSWORD).unwrap();
        let admin = kehu_store::staff::create(&db, t.id, None, kehu_store::staff::NewStaff::admin(&hash), now)
            .await
            .expect("admin");
        let unit = kehu_store::units::create(&db, t.id, None, "销售部", None, now)
            .await
            .expect("unit");
        let state = AppState::new(db, virtual_clock)
            .await
            .expect("state")
            .with_files(kehu_store::files::Blobs::open(&files_dir()).expect("files folder"));
        let router = kehu_server::app(state.clone());
        let mut app = TestApp {
            state,
            router,
            unit_id: unit.id,
            tenant_id: t.id,
            admin: Session {
                cookie: String::new(),
                csrf: String::new(),
                staff_id: admin.id,
            },
            file: None,
            pg: None,
        };
        app.admin = app.login("admin").await;
        app
    }

    pub async fn login(&self, username: &str) -> Session {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> Session {
        let res = self
            .raw(
                Request::post("/api/v1/session")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        serde_json::json!({"username": username, "password": password}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login as {username}");
        let cookie = res
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        let body = body_json(res).await;
        Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_string(),
            staff_id: body["staff"]["id"].as_i64().unwrap(),
        }
    }

    /// A staff member with these roles in the test's unit (created by the admin through the
    /// API), logged in.
    pub async fn staff(&self, username: &str, display_name: &str, roles: &[&str]) -> Session {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/staff",
                Some(&self.admin),
                Some(serde_json::json!({"username": username, "password": PASSWORD, "display_name": display_name, "roles": roles, "unit_id": self.unit_id})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(username).await
    }

    pub async fn raw(&self, req: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(req).await.expect("router answers")
    }

    /// A JSON request as `session`; answers the status and the parsed body (Null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        session: Option<&Session>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let res = self
            .raw(json_request(method, path, session.map(|s| s.cookie.as_str()), body))
            .await;
        let status = res.status();
        (status, body_json(res).await)
    }

    pub async fn get(&self, path: &str, s: &Session) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(s), None).await
    }

    pub async fn post(&self, path: &str, s: &Session, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(s), Some(body)).await
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self, s: &Session, name: &str, phone: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/v1/customers",
                s,
                serde_json::json!({"kind": "person", "name": name, "phones": [phone]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// A second, independent handle on this test's database, as another process would have.
    pub async fn second_db(&self) -> Db {
        match (&self.file, &self.pg) {
            (Some(f), _) => Db::connect(&format!("sqlite://{}", f.display()))
                .await
                .expect("second sqlite handle"),
            (None, Some(o)) => Db::connect_pg(o.clone(), 4).await.expect("second pg handle"),
            (None, None) => unreachable!("a test app has a database"),
        }
    }

    /// Runs SQL directly on this test's database, as an intruder would.
    pub async fn tamper(&self, sql: &str) {
        let mut tx = self.state.db.begin().await.unwrap();
        tx.execute(sql, vec![]).await.expect("tamper SQL");
        tx.commit().await.unwrap();
    }
}

/// A JSON request (a body when given) with a session cookie (when given).
pub fn json_request(method: Method, path: &str, cookie: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// A database with nothing in it yet (no migrations): a fresh SQLite file.
pub async fn empty_sqlite() -> (Db, std::path::PathBuf) {
    let file = std::env::temp_dir().join(format!("kehu-test-{}.db", unique()));
    let db = Db::connect_sqlite(file.to_str().unwrap()).await.expect("sqlite");
    (db, file)
}

/// A database with nothing in it yet: a fresh PostgreSQL schema, and the options that reach
/// it. `None` (and a note) when PostgreSQL is not reachable outside CI.
pub async fn empty_postgres() -> Option<(Db, sqlx::postgres::PgConnectOptions)> {
    use sqlx::postgres::PgConnectOptions;
    let base = PgConnectOptions::from_str(&pg_url()).expect("KEHU_TEST_PG is a PostgreSQL URL");
    let admin = match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone()),
    )
    .await
    {
        Ok(Ok(p)) => p,
        other => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL at {} is required in CI: {other:?}", pg_url());
            }
            eprintln!("skipped: PostgreSQL not reachable at {} (set KEHU_TEST_PG)", pg_url());
            return None;
        }
    };
    drop_stale_schemas(&admin).await;
    let schema = format!("kehu_t_{}", unique());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let opts = base.options([("search_path", schema.as_str())]);
    let db = Db::connect_pg(opts.clone(), 24).await.expect("pg pool");
    Some((db, opts))
}

/// Drops schemas that earlier test runs left behind (older than an hour), so they do not pile up.
async fn drop_stale_schemas(pool: &sqlx::PgPool) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE 'kehu_t_%'")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let cutoff = jiff::Timestamp::now().as_millisecond() - 3_600_000;
    for (name,) in names {
        let made: Option<i64> = name.split('_').nth(3).and_then(|m| m.parse().ok());
        if made.is_some_and(|m| m < cutoff) {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                .execute(pool)
                .await;
        }
    }
}

pub async fn body_json(res: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024).await.unwrap();
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Defines a test that runs on SQLite and on PostgreSQL: `both!(name, |app| async move { ... })`.
/// `both!(virtual name, ...)` starts the app with the virtual clock.
#[macro_export]
macro_rules! both {
    (virtual $name:ident, $body:expr) => {
        $crate::both!(@def $name, true, $body);
    };
    ($name:ident, $body:expr) => {
        $crate::both!(@def $name, false, $body);
    };
    (@def $name:ident, $virtual:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports, reason = "not every test body uses the parent's imports")]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::sqlite($virtual).await;
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::support::TestApp::postgres($virtual).await {
                    ($body)(app).await;
                }
            }
        }
    };
}

/// A page as `who`: its status and HTML.
pub async fn page(app: &TestApp, who: &Session, path: &str) -> (StatusCode, String) {
    let res = app
        .raw(
            axum::http::Request::get(path)
                .header(axum::http::header::COOKIE, &who.cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 4 * 1024 * 1024).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Moves the virtual clock on by `seconds`, firing what falls due on the way; how many
/// deadlines fired.
pub async fn advance(app: &TestApp, seconds: i64) -> u64 {
    let (status, r) = app
        .post(
            "/api/v1/clock/advance",
            &app.admin,
            serde_json::json!({ "seconds": seconds }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r["fired"].as_u64().unwrap()
}

/// A time as the API writes it.
pub fn at(v: &Value) -> jiff::Timestamp {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

/// A folder of its own for each test's files (so a test can count what was kept).
pub fn files_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("kehu-test-files-{}-{n}", std::process::id()))
}
