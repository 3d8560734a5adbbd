//! The yardstick of the GET benchmark (`scripts/bench/run`): a bare axum endpoint on the same
//! runtime and framework as Kehu, answering a customer-sized JSON body with no authentication,
//! no database and no middleware. Kehu's `GET /api/v1/customers/{id}` is reported as a share of
//! what this answers on the same machine in the same run.
//!
//! `cargo run --release -p kehu-server --example bare -- 127.0.0.1:18901`

use axum::Router;
use axum::extract::Path;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18901".to_string());
    let app = Router::new().route(
        "/api/v1/customers/{id}",
        get(|Path(id): Path<i64>| async move {
            axum::Json(serde_json::json!({
                "id": id, "kind": "person", "name": "张伟明", "phones": ["138 0013 8000"],
                "grade": null, "source": null, "referrer_id": null, "agent": null,
                "owner_id": null, "owner_name": null, "created_by": 1,
                "created_at": "2026-11-27T08:00:00Z", "updated_at": "2026-11-27T08:00:00Z",
                "pool_id": null, "pooled_at": null, "tags": [],
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare axum endpoint on http://{addr}/api/v1/customers/1");
    axum::serve(listener, app).await
}
