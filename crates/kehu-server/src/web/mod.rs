//! The web pages (server-rendered, assets embedded).

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}

pub fn not_found_page(_headers: &HeaderMap) -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Html("not found"))
}
