//! The history: every change is an event written in the change's own transaction, chained by
//! hash per tenant. The head row is locked last, so writers never wait on each other in a cycle.

use kehu_domain::Decision;
use kehu_domain::history::{Break, ChainVerifier, EventRecord, GENESIS};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::db::{Backend, Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms};

/// A change to record.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub actor_id: Option<i64>,
    pub entity: &'a str,
    pub entity_id: i64,
    pub customer_id: Option<i64>,
    pub action: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub decision: Option<&'a Decision>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub tenant_id: i64,
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    pub entity: String,
    pub entity_id: i64,
    pub customer_id: Option<i64>,
    pub action: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub decision_json: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRow {
    pub fn into_record(self) -> EventRecord {
        EventRecord {
            tenant_id: self.tenant_id,
            seq: self.seq,
            at_ms: self.at_ms,
            actor_id: self.actor_id,
            entity: self.entity,
            entity_id: self.entity_id,
            customer_id: self.customer_id,
            action: self.action,
            before: self.before_json,
            after: self.after_json,
            decision: self.decision_json,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }

    pub fn decision(&self) -> Option<Decision> {
        self.decision_json.as_deref().and_then(|d| serde_json::from_str(d).ok())
    }
}

#[derive(sqlx::FromRow)]
struct Head {
    last_seq: i64,
    last_hash: String,
}

/// Starts a tenant's chain.
pub async fn init(tx: &mut Tx, tenant_id: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO history_heads (tenant_id, last_seq, last_hash) VALUES ($1, 0, $2)",
        args![tenant_id, GENESIS],
    )
    .await?;
    Ok(())
}

/// Appends one event to the tenant's chain. Call it last in a transaction: on PostgreSQL it
/// locks the chain's head until commit.
///
/// The head is moved with an update conditional on the head this process last saw, so the
/// usual case is two statements; when another writer moved the head (or a transaction that
/// moved it rolled back), the condition fails and the head is read, locked, and used instead.
pub async fn append(tx: &mut Tx, tenant_id: i64, at: kehu_domain::Timestamp, e: NewEvent<'_>) -> Result<i64> {
    let seqs = append_many(tx, tenant_id, at, vec![e]).await?;
    Ok(seqs[0])
}

/// Appends several events to the tenant's chain in order, with one head move and one insert:
/// what a scheduler firing a batch of deadlines in one transaction writes. Returns their
/// sequence numbers.
pub async fn append_many(
    tx: &mut Tx,
    tenant_id: i64,
    at: kehu_domain::Timestamp,
    events: Vec<NewEvent<'_>>,
) -> Result<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let to_text = |v: Option<Value>| v.map(|v| v.to_string());
    let mut recs = Vec::with_capacity(events.len());
    for e in events {
        recs.push(EventRecord {
            tenant_id,
            seq: 0,
            at_ms: ms(at),
            actor_id: e.actor_id,
            entity: e.entity.to_string(),
            entity_id: e.entity_id,
            customer_id: e.customer_id,
            action: e.action.to_string(),
            before: to_text(e.before),
            after: to_text(e.after),
            decision: e
                .decision
                .map(|d| serde_json::to_string(d).map_err(|err| StoreError::Other(err.to_string())))
                .transpose()?,
            prev_hash: String::new(),
            hash: String::new(),
        });
    }
    let seal_all = |recs: &mut Vec<EventRecord>, mut seq: i64, mut hash: String| {
        for r in recs.iter_mut() {
            r.seal(seq, &hash);
            seq = r.seq;
            hash = r.hash.clone();
        }
    };
    let mut moved = false;
    if let Some((seq, hash)) = tx.cached_head(tenant_id) {
        seal_all(&mut recs, seq, hash.clone());
        let last = recs.last().expect("not empty");
        moved = tx
            .execute(
                "UPDATE history_heads SET last_seq = $2, last_hash = $3 WHERE tenant_id = $1 AND last_seq = $4 AND last_hash = $5",
                args![tenant_id, last.seq, last.hash.as_str(), seq, hash],
            )
            .await?
            == 1;
    }
    if !moved {
        let sql = format!(
            "SELECT last_seq, last_hash FROM history_heads WHERE tenant_id = $1{}",
            tx.for_update()
        );
        let head: Head = tx.fetch_one(&sql, args![tenant_id]).await?;
        seal_all(&mut recs, head.last_seq, head.last_hash);
        let last = recs.last().expect("not empty");
        tx.execute(
            "UPDATE history_heads SET last_seq = $2, last_hash = $3 WHERE tenant_id = $1",
            args![tenant_id, last.seq, last.hash.as_str()],
        )
        .await?;
    }
    // 13 values a row, 32 rows a statement: SQLite looks a bound value's name up by walking the
    // statement's parameter list, so binding costs grow with the square of the values in one
    // statement (3,328 values for 256 rows took a third of a sweep's time).
    for chunk in recs.chunks(32) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut a = Vec::with_capacity(chunk.len() * 13);
        for (i, r) in chunk.iter().enumerate() {
            let b = i * 13;
            let ps: Vec<String> = (1..=13).map(|k| format!("${}", b + k)).collect();
            rows.push(format!("({})", ps.join(", ")));
            a.extend(args![
                tenant_id,
                r.seq,
                r.at_ms,
                r.actor_id,
                r.entity.as_str(),
                r.entity_id,
                r.customer_id,
                r.action.as_str(),
                r.before.clone(),
                r.after.clone(),
                r.decision.clone(),
                r.prev_hash.as_str(),
                r.hash.as_str()
            ]);
        }
        tx.execute(
            &format!(
                "INSERT INTO events (tenant_id, seq, at_ms, actor_id, entity, entity_id, customer_id, action, before_json, \
                 after_json, decision_json, prev_hash, hash) VALUES {}",
                rows.join(", ")
            ),
            a,
        )
        .await?;
    }
    let last = recs.last().expect("not empty");
    tx.remember_head(tenant_id, last.seq, &last.hash);
    Ok(recs.iter().map(|r| r.seq).collect())
}

const COLUMNS: &str = "tenant_id, seq, at_ms, actor_id, entity, entity_id, customer_id, action, before_json, after_json, decision_json, prev_hash, hash";

/// Events read per query when verifying.
const VERIFY_PAGE: i64 = 5000;

/// An event as one JSON array of [`COLUMNS`], in their order.
type EventTuple = (
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn tuple_record(e: EventTuple) -> EventRecord {
    EventRecord {
        tenant_id: e.0,
        seq: e.1,
        at_ms: e.2,
        actor_id: e.3,
        entity: e.4,
        entity_id: e.5,
        customer_id: e.6,
        action: e.7,
        before: e.8,
        after: e.9,
        decision: e.10,
        prev_hash: e.11,
        hash: e.12,
    }
}

/// Where a tenant's chain ends, with the tenant's short name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantHead {
    pub tenant_id: i64,
    pub slug: String,
    pub last_seq: i64,
    pub last_hash: String,
}

/// Every tenant's chain end, by tenant id.
pub async fn heads(db: &Db) -> Result<Vec<TenantHead>> {
    db.fetch_all(
        "SELECT h.tenant_id, t.slug, h.last_seq, h.last_hash FROM history_heads h \
         JOIN tenants t ON t.id = h.tenant_id ORDER BY h.tenant_id",
        args![],
    )
    .await
}

/// A customer's events, newest first, before `cursor` (a sequence number).
pub async fn for_customer(
    db: &Db,
    tenant_id: i64,
    customer_id: i64,
    cursor: Option<i64>,
    limit: i64,
    view: &View,
) -> Result<Vec<EventRow>> {
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM events e WHERE e.tenant_id = $1 AND e.customer_id = $2 AND e.seq < $3{} \
             ORDER BY e.seq DESC LIMIT $4",
            visibility::history(view, "e")
        ),
        args![tenant_id, customer_id, cursor.unwrap_or(i64::MAX), limit],
    )
    .await
}

/// Checks the tenant's whole chain against its head and against `anchors`, the hashes signed
/// checkpoints recorded (sequence number to hash; see [`crate::anchor`]). `Ok(Ok(n))`: n events
/// verified. The head is read first and only events up to it are checked, so writes during the
/// check are no alarm.
pub async fn verify(
    db: &Db,
    tenant_id: i64,
    anchors: BTreeMap<i64, String>,
) -> Result<std::result::Result<i64, Break>> {
    let head: Option<Head> = db
        .fetch_optional(
            "SELECT last_seq, last_hash FROM history_heads WHERE tenant_id = $1",
            args![tenant_id],
        )
        .await?;
    let (head_seq, head_hash) = head
        .map(|h| (h.last_seq, h.last_hash))
        .unwrap_or((0, GENESIS.to_string()));
    let mut v = ChainVerifier::anchored(anchors);
    let mut after = 0i64;
    // A page of events comes as one JSON array in one row: on SQLite each row crosses from the
    // connection's thread to this one on its own, and at a million events those hand-offs, not
    // the hashing, took most of the time (perf: half in futex waits).
    let page_sql = match db.backend() {
        Backend::Sqlite => format!(
            "SELECT json_group_array(json_array({COLUMNS})) FROM (SELECT {COLUMNS} FROM events \
             WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT {VERIFY_PAGE})"
        ),
        Backend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({COLUMNS}) ORDER BY seq), '[]')::text FROM (SELECT {COLUMNS} \
             FROM events WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT {VERIFY_PAGE}) p"
        ),
    };
    loop {
        let (json,): (String,) = db.fetch_one(&page_sql, args![tenant_id, after, head_seq]).await?;
        let mut page: Vec<EventTuple> =
            serde_json::from_str(&json).map_err(|e| StoreError::Other(format!("reading events: {e}")))?;
        page.sort_unstable_by_key(|e| e.1);
        let Some(last) = page.last() else { break };
        after = last.1;
        for e in page {
            if let Err(b) = v.push(&tuple_record(e)) {
                return Ok(Err(b));
            }
        }
    }
    // An event added past the head by hand is found too: a real append moves the head in the
    // same transaction, so reading the highest seq before the head again sees both.
    let (max_seq,): (Option<i64>,) = db
        .fetch_one("SELECT MAX(seq) FROM events WHERE tenant_id = $1", args![tenant_id])
        .await?;
    let head_now: Option<Head> = db
        .fetch_optional(
            "SELECT last_seq, last_hash FROM history_heads WHERE tenant_id = $1",
            args![tenant_id],
        )
        .await?;
    if max_seq.unwrap_or(0) > head_now.map(|h| h.last_seq).unwrap_or(0) {
        return Ok(Err(Break::Broken { seq: head_seq + 1 }));
    }
    Ok(v.finish(head_seq, &head_hash))
}
