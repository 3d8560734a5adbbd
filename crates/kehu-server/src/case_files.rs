//! Files attached to a case (licences, ID copies, inspection opinions), for every workflow:
//! whoever sees a case may attach a file to it and read its files. What a file may be is the
//! policy's (`kehu_domain::files::check_file`); its bytes are kept once per content
//! (`kehu_store::files::Blobs`), its row and a history event in one transaction.

use kehu_domain::Text;
use kehu_store::StoreError;
use kehu_store::cases as case_store;
use kehu_store::files::{self as store, FileRow, NewFile};
use kehu_store::history::{self, NewEvent};
use serde_json::json;

use crate::auth::Caller;
use crate::{AppState, Failure};

fn case_missing(e: StoreError) -> Failure {
    match e {
        StoreError::NotFound => crate::cases::not_found(),
        other => other.into(),
    }
}

fn file_missing(e: StoreError) -> Failure {
    match e {
        StoreError::NotFound => Failure::not_found(Text::new("找不到该附件", "No such file")),
        other => other.into(),
    }
}

fn blobs(state: &AppState) -> Result<&kehu_store::files::Blobs, Failure> {
    state.files.as_deref().ok_or_else(|| {
        tracing::error!("a file was attached, but this server keeps no files (no files folder)");
        Failure::internal()
    })
}

/// Attaches the file `name` with content `bytes` to case `case_id`.
pub async fn attach(
    state: &AppState,
    caller: &Caller,
    case_id: i64,
    name: &str,
    bytes: Vec<u8>,
) -> Result<FileRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    // What the file is, is the request's content: bad input (422), not a rule saying no.
    let (name, kind) =
        kehu_domain::files::check_file(&policy, name, &bytes).map_err(|r| Failure::invalid(r.code, r.text))?;
    let blobs = blobs(state)?.clone();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let tenant = caller.tenant_id;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let case = case_store::lock_in_view(&mut tx, tenant, case_id, &seen)
        .await
        .map_err(case_missing)?;
    // The bytes reach the disk before the row that names them commits.
    let size = bytes.len() as i64;
    let sha = tokio::task::spawn_blocking(move || blobs.put(&bytes))
        .await
        .map_err(|e| Failure::from(StoreError::Other(e.to_string())))??;
    let id = store::insert(
        &mut tx,
        tenant,
        NewFile {
            case_id,
            name: &name,
            kind: kind.id(),
            size,
            sha256: &sha,
            staff_id: Some(caller.id()),
            at: now,
        },
    )
    .await?;
    history::append(
        &mut tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "case",
            entity_id: case_id,
            customer_id: case.customer_id,
            action: "file_attached",
            before: None,
            after: Some(json!({ "file_id": id, "name": name, "kind": kind.id(), "size": size, "sha256": sha })),
            decision: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(store::get(&state.db, tenant, case_id, id).await?)
}

/// Refuses with 404 unless the caller sees case `case_id`.
async fn seen(state: &AppState, caller: &Caller, case_id: i64) -> Result<(), Failure> {
    let view = crate::visibility::view_of(state, caller).await?;
    case_store::get(&state.db, caller.tenant_id, case_id, &view)
        .await
        .map(drop)
        .map_err(case_missing)
}

/// The files of a case the caller sees, oldest first.
pub async fn of_case(state: &AppState, caller: &Caller, case_id: i64) -> Result<Vec<FileRow>, Failure> {
    seen(state, caller, case_id).await?;
    Ok(store::of_case(&state.db, caller.tenant_id, case_id).await?)
}

/// One file of a case the caller sees, with its bytes.
pub async fn read(
    state: &AppState,
    caller: &Caller,
    case_id: i64,
    file_id: i64,
) -> Result<(FileRow, Vec<u8>), Failure> {
    seen(state, caller, case_id).await?;
    let row = store::get(&state.db, caller.tenant_id, case_id, file_id)
        .await
        .map_err(file_missing)?;
    let blobs = blobs(state)?.clone();
    let sha = row.sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| Failure::from(StoreError::Other(e.to_string())))??;
    Ok((row, bytes))
}
