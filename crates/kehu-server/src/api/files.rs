//! Files attached to a case, for every workflow: attach one (`multipart/form-data`, its part
//! `file`), list a case's files, download one. Who sees the case reads and attaches its files.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kehu_domain::Text;
use kehu_domain::files::MAX_FILE_SIZE;
use kehu_store::files::FileRow;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Id, Ids};
use crate::auth::Caller;
use crate::case_files;
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_files, attach_file))
        .routes(routes!(get_file))
        // A file may be larger than other bodies; the policy's `max_file_size` decides within it.
        .layer(DefaultBodyLimit::max(UPLOAD_LIMIT))
}

/// The largest upload read: Kehu's largest file and room for the form around it.
pub const UPLOAD_LIMIT: usize = MAX_FILE_SIZE as usize + 64 * 1024;

#[derive(Serialize, ToSchema)]
pub struct FileOut {
    pub id: i64,
    pub case_id: i64,
    pub name: String,
    /// What its content is: `pdf`, `png`, `jpeg` or `webp`.
    pub kind: String,
    /// Bytes.
    pub size: i64,
    /// The SHA-256 of its content, in hex.
    pub sha256: String,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub at: String,
    /// Where to download it.
    pub href: String,
}

impl From<FileRow> for FileOut {
    fn from(f: FileRow) -> FileOut {
        FileOut {
            href: format!("/api/v1/cases/{}/files/{}", f.case_id, f.id),
            id: f.id,
            case_id: f.case_id,
            name: f.name,
            kind: f.kind,
            size: f.size,
            sha256: f.sha256,
            staff_id: f.staff_id,
            staff_name: f.staff_name,
            at: kehu_store::ts(f.at).to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FileList {
    pub items: Vec<FileOut>,
}

/// The form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Upload {
    /// The file, with its name.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The file part of a posted form: its name and bytes.
pub async fn file_part(
    mp: Result<Multipart, MultipartRejection>,
) -> Result<(String, Vec<u8>, Vec<(String, String)>), ApiError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            crate::edge::problem_for_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::bad_request(
                "invalid_body",
                Text::new("无法读取上传的表单", "The uploaded form cannot be read"),
            )
        }
    };
    let mut mp = mp.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            Text::new(
                "上传须为 multipart/form-data，文件在 file 一栏",
                "An upload is multipart/form-data with the file in its `file` part",
            ),
        )
    })?;
    let mut file = None;
    let mut others = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or_default().to_string();
                let bytes = field.bytes().await.map_err(unreadable)?;
                file = Some((name, bytes.to_vec()));
            }
            Some(other) => {
                let other = other.to_string();
                if others.len() < 20 {
                    let v = field.text().await.map_err(unreadable)?;
                    others.push((other, v));
                }
            }
            None => {}
        }
    }
    let (name, bytes) = file.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_file",
            Text::new("请选择要上传的文件", "Choose a file to upload"),
        )
    })?;
    Ok((name, bytes, others))
}

/// Attaches a file to a case. Its kind is read from its content (the policy's `file_types`;
/// by default PDF, PNG and JPEG) and its size held to the policy's `max_file_size`; the same
/// content attached again is kept once.
#[utoipa::path(post, path = "/api/v1/cases/{id}/files", tag = "cases", params(("id" = i64, Path)),
    request_body(content = Upload, content_type = "multipart/form-data"),
    responses((status = 201, body = FileOut), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn attach_file(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: axum::http::HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<FileOut>), ApiError> {
    let (name, bytes, others) = file_part(mp).await?;
    // A form can post multipart across sites, so a session (not a bearer token) shows its CSRF
    // token: the `X-CSRF-Token` header or the form's `csrf` part.
    if caller.csrf.is_some() {
        let posted = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| others.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()))
            .unwrap_or_default();
        if !crate::web::csrf_ok(&caller, posted) {
            return Err(ApiError::forbidden(Text::new(
                "上传须带上会话的 CSRF 令牌（X-CSRF-Token 头或表单的 csrf 一栏）",
                "An upload in a session carries its CSRF token (the X-CSRF-Token header or the form's csrf part)",
            )));
        }
    }
    let row = case_files::attach(&state, &caller, id, &name, bytes).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// A case's files, oldest first.
#[utoipa::path(get, path = "/api/v1/cases/{id}/files", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = FileList), (status = 404, body = Problem)))]
async fn list_files(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<FileList>, ApiError> {
    let items = case_files::of_case(&state, &caller, id).await?;
    Ok(Json(FileList {
        items: items.into_iter().map(FileOut::from).collect(),
    }))
}

/// The `Content-Disposition` of a download: the name as given, encoded (RFC 6266, RFC 5987).
pub fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// A file's content, as a download.
#[utoipa::path(get, path = "/api/v1/cases/{id}/files/{file}", tag = "cases",
    params(("id" = i64, Path), ("file" = i64, Path)),
    responses((status = 200, description = "The file's content, with the media type of its kind",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"),
                (Vec<u8> = "image/webp"), (Vec<u8> = "application/octet-stream"))),
        (status = 404, body = Problem)))]
async fn get_file(State(state): State<AppState>, caller: Caller, Ids(id, file): Ids) -> Result<Response, ApiError> {
    let (row, bytes) = case_files::read(&state, &caller, id, file).await?;
    let mime = kehu_domain::files::FileKind::parse(&row.kind).map_or("application/octet-stream", |k| k.mime());
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CONTENT_DISPOSITION, disposition(&row.name));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}
