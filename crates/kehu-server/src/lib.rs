//! Kehu's HTTP server: the JSON API under `/api/v1` (with its OpenAPI document), the web pages,
//! authentication and the clock. Handlers parse and authorise; `service` loads, asks the domain,
//! and applies with history in one transaction.

pub mod api;
pub mod assign;
pub mod auth;
pub mod cadence;
pub mod case_files;
pub mod cases;
pub mod clock;
pub mod deadlines;
pub mod edge;
pub mod error;
pub mod events;
pub mod failure;
pub mod i18n;
pub mod inbox;
pub mod indexer;
pub mod ledger;
pub mod lifecycle;
pub mod organisation;
pub mod sales;
pub mod service;
pub mod snapshots;
pub mod visibility;
pub mod web;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use kehu_domain::{Policy, Timestamp};
use kehu_store::Db;

pub use error::ApiError;
pub use failure::Failure;

/// How long a cached policy is trusted before its tenant's active version is checked again.
pub const POLICY_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// A tenant's parsed policy, its version, and when that version was last checked.
type CachedPolicy = (Arc<Policy>, i64, std::time::Instant);

/// Everything a request handler needs, shared across the process.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub clock: clock::Clock,
    policies: RwLock<HashMap<i64, CachedPolicy>>,
    /// How the server is reached (HTTPS, trusted proxies).
    pub edge: edge::EdgeConfig,
    /// Wakes the search indexer when a customer is registered.
    pub index_wake: tokio::sync::Notify,
    /// Where signed checkpoints of the history go (none in tests that do not need them).
    pub anchor: Option<Arc<kehu_store::anchor::Anchor>>,
    /// Where the contents of files attached to cases are kept.
    pub files: Option<Arc<kehu_store::files::Blobs>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state; with `virtual_clock` an admin may move time forward through the API.
    pub async fn new(db: Db, virtual_clock: bool) -> Result<AppState, kehu_store::StoreError> {
        let offset = if virtual_clock {
            kehu_store::clock::offset(&db).await?
        } else {
            0
        };
        Ok(AppState(Arc::new(Inner {
            db,
            clock: clock::Clock::new(virtual_clock, offset),
            policies: RwLock::new(HashMap::new()),
            edge: edge::EdgeConfig::default(),
            index_wake: tokio::sync::Notify::new(),
            anchor: None,
            files: None,
        })))
    }

    /// Writes signed checkpoints of every tenant's history to `anchor` while serving; call right
    /// after [`AppState::new`], before cloning.
    pub fn with_anchor(mut self, anchor: kehu_store::anchor::Anchor) -> AppState {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.anchor = Some(Arc::new(anchor)),
            None => tracing::error!("with_anchor called on a shared state; no checkpoints are written"),
        }
        self
    }

    /// Writes a checkpoint of every tenant whose history moved; failures are logged.
    pub async fn checkpoint(&self) {
        if let Some(a) = &self.anchor {
            match a.write(&self.db).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(checkpoints = n, "history checkpoints written"),
                Err(e) => {
                    tracing::error!(error = %e, folder = %a.dir().display(), "writing history checkpoints failed")
                }
            }
        }
    }

    /// Keeps the files attached to cases in `blobs`; call right after [`AppState::new`],
    /// before cloning.
    pub fn with_files(mut self, blobs: kehu_store::files::Blobs) -> AppState {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.files = Some(Arc::new(blobs)),
            None => tracing::error!("with_files called on a shared state; no files are kept"),
        }
        self
    }

    /// Sets how the server is reached; call right after [`AppState::new`], before cloning.
    pub fn with_edge(mut self, edge: edge::EdgeConfig) -> AppState {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.edge = edge,
            None => tracing::error!("with_edge called on a shared state; the edge settings are ignored"),
        }
        self
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The tenant's active policy, parsed once per version. The active version is re-read at
    /// most every [`POLICY_RECHECK`], so another process's activation shows within that time.
    pub async fn policy(&self, tenant_id: i64) -> Result<Arc<Policy>, Failure> {
        if let Some((p, _, at)) = self.policies.read().expect("policy cache lock").get(&tenant_id)
            && at.elapsed() < POLICY_RECHECK
        {
            return Ok(p.clone());
        }
        let tenant = kehu_store::tenants::get(&self.db, tenant_id).await?;
        if let Some((p, v, at)) = self.policies.write().expect("policy cache lock").get_mut(&tenant_id)
            && *v == tenant.policy_version
        {
            *at = std::time::Instant::now();
            return Ok(p.clone());
        }
        let row = kehu_store::tenants::active_policy(&self.db, tenant_id).await?;
        let policy = Policy::parse(&row.source, &row.file_name).map_err(|e| {
            tracing::error!(tenant.id = tenant_id, error = %e, "stored policy no longer parses");
            Failure::internal()
        })?;
        let policy = Arc::new(policy);
        self.policies
            .write()
            .expect("policy cache lock")
            .insert(tenant_id, (policy.clone(), row.version, std::time::Instant::now()));
        Ok(policy)
    }
}

/// The whole application: API, OpenAPI document and web pages.
pub fn app(state: AppState) -> Router {
    let (api, mut openapi) = api::router().split_for_parts();
    api::document_errors(&mut openapi);
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(web::router())
        .fallback(api::fallback)
        .layer(axum::extract::DefaultBodyLimit::max(edge::BODY_LIMIT))
        .layer(axum::middleware::from_fn(edge::headers_and_problems))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// How often a serving process signs a checkpoint of each tenant's history (when it moved).
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves until Ctrl-C or SIGTERM, finishing requests in flight. With an anchor, a checkpoint of
/// every tenant's history is signed at start, every [`CHECKPOINT_EVERY`] and on the way out.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let indexer = indexer::spawn(state.clone());
    let scheduler = lifecycle::spawn(state.clone());
    state.checkpoint().await;
    let checkpoints = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                state.checkpoint().await;
            }
        })
    };
    let app = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    indexer.abort();
    scheduler.abort();
    checkpoints.abort();
    state.checkpoint().await;
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
