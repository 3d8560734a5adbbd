//! Customers, their duplicate-detection keys and their search terms. The keys carry a unique
//! constraint, so two concurrent registrations of one person produce one customer.

use std::collections::HashMap;

use kehu_domain::Timestamp;
use kehu_domain::search::SearchPlan;
use serde_json::json;

use crate::db::{Arg, Db, Tx, placeholders};
use crate::history::{self, NewEvent};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct CustomerRow {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub name: String,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub agent: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The pool (公海) the customer is in, and since when.
    pub pool_id: Option<String>,
    pub pooled_at: Option<i64>,
    /// Comma-separated tags that rules read (R1.6, R1.7).
    pub tags: String,
}

impl CustomerRow {
    pub fn tag_list(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }
}

const COLUMNS: &str = "id, tenant_id, kind, name, grade, source, referrer_id, agent, created_by, created_at, updated_at, pool_id, pooled_at, tags";

/// A duplicate-detection key: `phone:+8613812345678` or `company:华信科技`.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    /// `phone` or `company_name`.
    pub kind: &'static str,
    /// What the user wrote.
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub kind: String,
    pub name: String,
    pub name_norm: String,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub agent: Option<String>,
    pub keys: Vec<Key>,
    /// A deadline the registration starts (R5.8: the first SMS by the end of the day).
    pub deadline: Option<(crate::deadlines::Kind<'static>, Timestamp, kehu_domain::RuleId)>,
}

/// An existing customer that holds one of the keys.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyMatch {
    pub customer_id: i64,
    pub name: String,
    pub kind: String,
    pub value: String,
}

pub enum Created {
    New(Box<CustomerRow>),
    Duplicate(Vec<KeyMatch>),
}

/// Registers a customer unless one of its keys is taken; the keys' unique constraint settles
/// races. On SQLite, registrations arriving together share one transaction (group commit): the
/// single writer then writes the pages they have in common once, and each registration is
/// still all-or-nothing (a duplicate undoes only its own rows).
pub async fn create(db: &Db, tenant_id: i64, actor: Option<i64>, c: NewCustomer, now: Timestamp) -> Result<Created> {
    if db.backend() == crate::Backend::Sqlite {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = CreateJob {
            tenant_id,
            actor,
            customer: c,
            now,
            reply,
        };
        if db.create_queue().send(job).is_err() {
            return Err(StoreError::Other("the customer writer has stopped".into()));
        }
        return answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Other("the customer writer has stopped".into())));
    }
    let mut tx = db.begin().await?;
    let created = create_tx(&mut tx, tenant_id, actor, &c, now).await?;
    match created {
        Created::New(_) => tx.commit().await?,
        Created::Duplicate(_) => tx.rollback().await?,
    }
    Ok(created)
}

/// Customers of the directory that a name names: by the normalised name, or a company's by
/// its duplicate key (R12.1: a development project is for a company not registered yet).
pub async fn named_tx(tx: &mut Tx, tenant_id: i64, name: &str) -> Result<Vec<(i64, String)>> {
    let norm = kehu_domain::normalize::normalize_name(name);
    let key = kehu_domain::normalize::company_directory_key(name);
    tx.fetch_all(
        "SELECT id, name FROM customers WHERE tenant_id = $1 AND (name_norm = $2 OR id IN \
         (SELECT customer_id FROM customer_keys WHERE tenant_id = $1 AND key = $3)) ORDER BY id LIMIT 5",
        args![tenant_id, norm, key],
    )
    .await
}

/// A registration waiting for the SQLite writer.
pub struct CreateJob {
    tenant_id: i64,
    actor: Option<i64>,
    customer: NewCustomer,
    now: Timestamp,
    reply: tokio::sync::oneshot::Sender<Result<Created>>,
}

/// Registrations taken into one transaction at most.
const GROUP: usize = 64;

/// The SQLite group-commit loop: takes the registrations waiting now (at least one), runs each
/// in the same transaction, commits once and answers each. A failed commit fails them all;
/// nothing of them is then stored.
pub(crate) async fn run_create_queue(db: Db, mut jobs: tokio::sync::mpsc::UnboundedReceiver<CreateJob>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut tx = match db.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                for j in batch {
                    let _ = j.reply.send(Err(StoreError::Other(msg.clone())));
                }
                continue;
            }
        };
        let mut results = Vec::with_capacity(batch.len());
        let mut failed = None;
        for j in &batch {
            match create_tx(&mut tx, j.tenant_id, j.actor, &j.customer, j.now).await {
                Ok(c) => results.push(Ok(c)),
                Err(StoreError::NotFound) => results.push(Err(StoreError::NotFound)),
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        let outcome = match failed {
            None => tx.commit().await.map_err(|e| e.to_string()),
            Some(msg) => {
                let _ = tx.rollback().await;
                Err(msg)
            }
        };
        match outcome {
            Ok(()) => {
                for (j, r) in batch.into_iter().zip(results) {
                    let _ = j.reply.send(r);
                }
            }
            Err(msg) => {
                for j in batch {
                    let _ = j.reply.send(Err(StoreError::Other(msg.clone())));
                }
            }
        }
    }
}

async fn find_keys_tx(tx: &mut Tx, tenant_id: i64, keys: &[Key]) -> Result<Vec<KeyMatch>> {
    let sql = format!(
        "SELECT k.customer_id, c.name, k.kind, k.value FROM customer_keys k \
         JOIN customers c ON c.tenant_id = k.tenant_id AND c.id = k.customer_id \
         WHERE k.tenant_id = $1 AND k.key IN ({}) ORDER BY k.customer_id",
        placeholders(2, keys.len())
    );
    let mut a = args![tenant_id];
    a.extend(keys.iter().map(|k| Arg::from(k.key.as_str())));
    tx.fetch_all(&sql, a).await
}

/// One registration inside a transaction the caller holds (the SQLite writer's batch, or a
/// case's effect, R12.6). A taken key undoes this registration's own rows and answers the
/// holders; `NotFound` means the referrer does not exist (nothing was written).
pub async fn create_tx(
    tx: &mut Tx,
    tenant_id: i64,
    actor: Option<i64>,
    c: &NewCustomer,
    now: Timestamp,
) -> Result<Created> {
    if let Some(r) = c.referrer_id {
        let exists: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM customers WHERE tenant_id = $1 AND id = $2",
                args![tenant_id, r],
            )
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    let row: CustomerRow = tx
        .fetch_one(
            &format!(
                "INSERT INTO customers (tenant_id, kind, name, name_norm, grade, source, referrer_id, agent, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLUMNS}"
            ),
            args![
                tenant_id,
                c.kind.as_str(),
                c.name.as_str(),
                c.name_norm.as_str(),
                c.grade.clone(),
                c.source.clone(),
                c.referrer_id,
                c.agent.clone(),
                actor,
                ms(now)
            ],
        )
        .await?;
    if !c.keys.is_empty() {
        // The duplicate check is the keys' unique constraint: a key someone holds is not
        // inserted. (On PostgreSQL a concurrent, uncommitted holder of the key is waited for.)
        let mut a: Vec<Arg> = Vec::new();
        let mut rows = Vec::new();
        for (i, k) in c.keys.iter().enumerate() {
            let b = i * 5 + 1;
            rows.push(format!("(${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4));
            a.extend(args![tenant_id, k.key.as_str(), row.id, k.kind, k.value.as_str()]);
        }
        let inserted: Vec<(String,)> = tx
            .fetch_all(
                &format!(
                    "INSERT INTO customer_keys (tenant_id, key, customer_id, kind, value) VALUES {} \
                     ON CONFLICT (tenant_id, key) DO NOTHING RETURNING key",
                    rows.join(", ")
                ),
                a,
            )
            .await?;
        if inserted.len() < c.keys.len() {
            tx.execute(
                "DELETE FROM customer_keys WHERE tenant_id = $1 AND customer_id = $2",
                args![tenant_id, row.id],
            )
            .await?;
            tx.execute(
                "DELETE FROM customers WHERE tenant_id = $1 AND id = $2",
                args![tenant_id, row.id],
            )
            .await?;
            return Ok(Created::Duplicate(find_keys_tx(tx, tenant_id, &c.keys).await?));
        }
    }
    tx.execute(
        "INSERT INTO search_queue (tenant_id, customer_id) VALUES ($1, $2)",
        args![tenant_id, row.id],
    )
    .await?;
    let phones: Vec<&str> = c
        .keys
        .iter()
        .filter(|k| k.kind == "phone")
        .map(|k| k.value.as_str())
        .collect();
    history::append(
        tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "customer",
            entity_id: row.id,
            customer_id: Some(row.id),
            action: "create",
            after: Some(json!({
                "kind": row.kind, "name": row.name, "phones": phones, "grade": row.grade,
                "source": row.source, "referrer_id": row.referrer_id, "agent": row.agent,
            })),
            ..Default::default()
        },
    )
    .await?;
    if let Some((kind, due, rule)) = &c.deadline {
        crate::deadlines::schedule(tx, tenant_id, kind, row.id, Some(row.id), *due, rule, now).await?;
    }
    Ok(Created::New(Box::new(row)))
}

#[derive(sqlx::FromRow)]
struct Pending {
    tenant_id: i64,
    customer_id: i64,
    name: String,
}

/// Moves up to `limit` queued customers into the term index, in one transaction, and answers
/// how many. `terms_of` turns a name and the customer's numbers (E.164) into terms (the domain
/// decides what a term is).
/// Batching is the point: terms of many customers land on the same hot index pages, written
/// once per batch instead of once per customer. Idempotent: indexing a customer twice is harmless.
pub async fn index_pending(db: &Db, limit: i64, terms_of: impl Fn(&str, &[&str]) -> Vec<String>) -> Result<usize> {
    let mut tx = db.begin().await?;
    let pending: Vec<Pending> = tx
        .fetch_all(
            "SELECT q.tenant_id, q.customer_id, c.name FROM search_queue q \
             JOIN customers c ON c.tenant_id = q.tenant_id AND c.id = q.customer_id \
             ORDER BY q.tenant_id, q.customer_id LIMIT $1",
            args![limit],
        )
        .await?;
    if pending.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    // Their numbers, read by customer id (the queue is ordered by tenant, then id).
    let mut numbers: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in pending.chunks(500) {
        let sql = format!(
            "SELECT customer_id, key AS name, kind, value FROM customer_keys WHERE customer_id IN ({}) AND kind = 'phone'",
            placeholders(1, chunk.len())
        );
        let found: Vec<KeyMatch> = tx
            .fetch_all(&sql, chunk.iter().map(|p| Arg::from(p.customer_id)).collect())
            .await?;
        for k in found {
            numbers.entry(k.customer_id).or_default().push(phone_of_key(&k.name));
        }
    }
    let mut rows: Vec<(i64, String, i64)> = Vec::new();
    for p in &pending {
        let phones: Vec<&str> = numbers
            .get(&p.customer_id)
            .map(|n| n.iter().map(String::as_str).collect())
            .unwrap_or_default();
        rows.extend(
            terms_of(&p.name, &phones)
                .into_iter()
                .map(|t| (p.tenant_id, t, p.customer_id)),
        );
    }
    rows.sort();
    for chunk in rows.chunks(300) {
        let mut a: Vec<Arg> = Vec::with_capacity(chunk.len() * 3);
        let mut values = Vec::with_capacity(chunk.len());
        for (i, (tenant_id, term, customer_id)) in chunk.iter().enumerate() {
            let b = i * 3 + 1;
            values.push(format!("(${}, ${}, ${})", b, b + 1, b + 2));
            a.extend(args![*tenant_id, term.as_str(), *customer_id]);
        }
        tx.execute(
            &format!(
                "INSERT INTO customer_terms (tenant_id, term, customer_id) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            ),
            a,
        )
        .await?;
    }
    let mut i = 0;
    while i < pending.len() {
        let tenant = pending[i].tenant_id;
        let ids: Vec<i64> = pending[i..]
            .iter()
            .take_while(|p| p.tenant_id == tenant)
            .map(|p| p.customer_id)
            .collect();
        i += ids.len();
        let mut a = args![tenant];
        a.extend(ids.iter().map(|id| Arg::from(*id)));
        tx.execute(
            &format!(
                "DELETE FROM search_queue WHERE tenant_id = $1 AND customer_id IN ({})",
                placeholders(2, ids.len())
            ),
            a,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(pending.len())
}

/// How many customers wait for the term index.
pub async fn pending_count(db: &Db) -> Result<i64> {
    let c: Count = db.fetch_one("SELECT COUNT(*) AS n FROM search_queue", args![]).await?;
    Ok(c.n)
}

#[derive(sqlx::FromRow, serde::Deserialize)]
struct CustomerWithPhone {
    #[sqlx(flatten)]
    #[serde(flatten)]
    row: CustomerRow,
    phone_key: Option<String>,
    valid_claims: Option<String>,
}

/// A customer as `GET /customers/{id}` shows it, read in one query (the hot path: each round
/// trip to the database costs more than the query itself).
#[derive(Debug, Clone)]
pub struct CustomerRead {
    pub row: CustomerRow,
    /// Its numbers (E.164), in the order of their keys.
    pub phones: Vec<String>,
    /// Its valid claims, oldest first, which decide who owns it.
    pub valid_claims: Vec<crate::claims::ClaimRow>,
}

/// A customer the reader sees, its phones and its valid claims, in one query; `NotFound`
/// outside the view.
pub async fn get_with_phones(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<CustomerRead> {
    let cols = prefixed_columns();
    let mut rows: Vec<CustomerWithPhone> = db
        .lookup_all(
            &format!(
                "SELECT {cols}, k.key AS phone_key, {} AS valid_claims FROM customers c \
                 LEFT JOIN customer_keys k ON k.tenant_id = c.tenant_id AND k.customer_id = c.id AND k.kind = 'phone' \
                 WHERE c.tenant_id = $1 AND c.id = $2{}",
                crate::claims::valid_as_json(db.backend()),
                visibility::customers(view, "c")
            ),
            args![tenant_id, id],
        )
        .await?;
    rows.sort_by(|a, b| a.phone_key.cmp(&b.phone_key));
    let phones = rows
        .iter()
        .filter_map(|r| r.phone_key.as_deref().map(phone_of_key))
        .collect();
    let first = rows.into_iter().next().ok_or(StoreError::NotFound)?;
    let mut valid_claims: Vec<crate::claims::ClaimRow> = match first.valid_claims.as_deref() {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| StoreError::Other(format!("valid claims of customer {id}: {e}")))?
        }
        None => Vec::new(),
    };
    valid_claims.sort_by_key(|c| c.id);
    Ok(CustomerRead {
        row: first.row,
        phones,
        valid_claims,
    })
}

/// A customer the reader sees; `NotFound` outside the view.
pub async fn get_in_view(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<CustomerRow> {
    db.fetch_one(
        &format!(
            "SELECT {COLUMNS} FROM customers c WHERE c.tenant_id = $1 AND c.id = $2{}",
            visibility::customers(view, "c")
        ),
        args![tenant_id, id],
    )
    .await
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> Result<CustomerRow> {
    db.fetch_one(
        &format!("SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<CustomerRow> {
    tx.fetch_one(
        &format!("SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// Sets a customer's grade and tags.
pub async fn set_grade_and_tags(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    grade: Option<&str>,
    tags: &str,
    at: Timestamp,
) -> Result<()> {
    tx.execute(
        "UPDATE customers SET grade = $3, tags = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, grade, tags, ms(at)],
    )
    .await?;
    Ok(())
}

/// Customers the reader sees that have a grade or tags: those the visit cadence applies to
/// (R1.6).
pub async fn graded(db: &Db, tenant_id: i64, view: &View) -> Result<Vec<CustomerRow>> {
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM customers c WHERE c.tenant_id = $1 AND (c.grade IS NOT NULL OR c.tags <> ''){} ORDER BY c.id",
            visibility::customers(view, "c")
        ),
        args![tenant_id],
    )
    .await
}

/// Puts a customer in a pool, or takes it out (`None`).
pub async fn set_pool(tx: &mut Tx, tenant_id: i64, id: i64, pool: Option<&str>, at: Timestamp) -> Result<()> {
    tx.execute(
        "UPDATE customers SET pool_id = $3, pooled_at = $4 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, pool, pool.map(|_| ms(at))],
    )
    .await?;
    Ok(())
}

/// The customers in a pool, longest there first; `after` pages by (pooled_at, id).
pub async fn in_pool(
    db: &Db,
    tenant_id: i64,
    pool: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<CustomerRow>> {
    let (at, id) = after.unwrap_or((i64::MIN, i64::MIN));
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND pool_id = $2 \
             AND (pooled_at > $3 OR (pooled_at = $3 AND id > $4)) ORDER BY pooled_at, id LIMIT $5"
        ),
        args![tenant_id, pool, at, id, limit],
    )
    .await
}

/// How many customers each pool holds.
pub async fn pool_counts(db: &Db, tenant_id: i64) -> Result<Vec<(String, i64)>> {
    db.fetch_all(
        "SELECT pool_id, COUNT(*) FROM customers WHERE tenant_id = $1 AND pool_id IS NOT NULL GROUP BY pool_id",
        args![tenant_id],
    )
    .await
}

/// Whether a customer has a phone number on file.
pub async fn has_phone_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<bool> {
    let found: Option<(i64,)> = tx
        .fetch_optional(
            "SELECT customer_id FROM customer_keys WHERE tenant_id + 0 = $1 AND customer_id = $2 AND kind = 'phone' LIMIT 1",
            args![tenant_id, id],
        )
        .await?;
    Ok(found.is_some())
}

/// Phone numbers (E.164, `+8617561502287`) of the given customers, in the order of their keys.
pub async fn phones(db: &Db, tenant_id: i64, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    // SQLite has no statistics and would rather scan the tenant's keys through the (tenant_id,
    // key) primary key than look up a list of ids (or sort by key): `tenant_id + 0` keeps the
    // tenant check but not as an index choice, and there is no ORDER BY (the key rides in
    // `name` and orders the phones here instead).
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "SELECT customer_id, key AS name, kind, value FROM customer_keys \
             WHERE tenant_id + 0 = $1 AND customer_id IN ({}) AND kind = 'phone'",
            placeholders(2, chunk.len())
        );
        let mut a = args![tenant_id];
        a.extend(chunk.iter().map(|i| Arg::from(*i)));
        let mut rows: Vec<KeyMatch> = db.fetch_all(&sql, a).await?;
        rows.sort_by(|a, b| (a.customer_id, &a.name).cmp(&(b.customer_id, &b.name)));
        for r in rows {
            out.entry(r.customer_id).or_default().push(phone_of_key(&r.name));
        }
    }
    Ok(out)
}

/// The number in a `phone:+86...` key.
fn phone_of_key(key: &str) -> String {
    key.strip_prefix("phone:").unwrap_or(key).to_string()
}

/// The largest batch of search candidates read at once.
const MAX_BATCH: i64 = 2_000;

/// The most queued (not yet indexed) customers a search reads; the indexer keeps the queue far
/// shorter than this.
const QUEUE_SCAN: i64 = 20_000;

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// One page of the customers the reader sees matching a search plan, newest first, with the
/// cursor of the next. Candidates come from the term index; each is confirmed against its name
/// and phones, so the answer is exact, never a table scan.
#[expect(clippy::too_many_arguments, reason = "a search is its plan, its page and its reader")]
pub async fn search(
    db: &Db,
    tenant_id: i64,
    view: &View,
    plan: &SearchPlan,
    q_norm: &str,
    default_cc: &str,
    cursor: Option<i64>,
    limit: i64,
) -> Result<(Vec<CustomerRow>, Option<i64>)> {
    let mut before = cursor.unwrap_or(i64::MAX);
    let seen = visibility::customers(view, "c");
    let cols = prefixed_columns();
    if let SearchPlan::All = plan {
        let rows: Vec<CustomerRow> = db
            .fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM customers c WHERE c.tenant_id = $1 AND c.id < $2{seen} ORDER BY c.id DESC LIMIT $3"
                ),
                args![tenant_id, before, limit + 1],
            )
            .await?;
        return Ok(page(rows, limit));
    }
    let terms = plan.terms();
    // Customers still waiting for the term index are few; they are read and matched
    // directly, so a customer is found the moment it is registered. The queue is read before
    // the index: a customer the indexer moves in between is then in the index. For a phone
    // query only queued customers with a number holding the digits are read.
    let (queue_filter, mut queue_args) = match plan {
        SearchPlan::Phone { digits, .. } => (
            " AND EXISTS (SELECT 1 FROM customer_keys k WHERE k.tenant_id = q.tenant_id AND k.customer_id = q.customer_id \
               AND k.kind = 'phone' AND k.key LIKE $3)",
            args![format!("%{digits}%")],
        ),
        _ => ("", Vec::new()),
    };
    let mut a = args![tenant_id, before];
    a.append(&mut queue_args);
    let queued: Vec<CustomerRow> = db
        .fetch_all(
            &format!(
                "SELECT {cols} FROM search_queue q JOIN customers c ON c.tenant_id = q.tenant_id AND c.id = q.customer_id \
                 WHERE q.tenant_id = $1 AND q.customer_id < $2{queue_filter}{seen} ORDER BY q.customer_id DESC LIMIT {QUEUE_SCAN}"
            ),
            a,
        )
        .await?;
    // Drive the scan by the rarest term (counted up to a bound; among terms past the bound, the
    // last one of the plan), check the rest by index.
    let mut ranked: Vec<(i64, std::cmp::Reverse<usize>, &String)> = Vec::new();
    let mut absent = terms.is_empty();
    for (i, t) in terms.iter().enumerate() {
        if terms.len() == 1 {
            ranked.push((0, std::cmp::Reverse(i), t));
            break;
        }
        let c: Count = db
            .fetch_one(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM customer_terms WHERE tenant_id = $1 AND term = $2 LIMIT 5000) x",
                args![tenant_id, t.as_str()],
            )
            .await?;
        absent |= c.n == 0;
        ranked.push((c.n, std::cmp::Reverse(i), t));
    }
    ranked.sort();
    let mut sql = format!(
        "SELECT {cols} FROM customer_terms t JOIN customers c ON c.tenant_id = t.tenant_id AND c.id = t.customer_id \
         WHERE t.tenant_id = $1 AND t.term = $2 AND t.customer_id < $3{seen}"
    );
    for i in 1..ranked.len() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM customer_terms t{i} WHERE t{i}.tenant_id = $1 AND t{i}.term = ${} AND t{i}.customer_id = t.customer_id)",
            i + 4
        ));
    }
    sql.push_str(" ORDER BY t.customer_id DESC LIMIT $4");
    let mut found: Vec<CustomerRow> = Vec::new();
    // A term nobody in the index has: only queued customers can match.
    if !absent {
        // Candidates that carry every term but fail the confirmation (the terms apart in the
        // name or number) are skipped in batches that grow, so a query whose terms are common
        // takes a few round trips, not hundreds.
        let mut batch_size = limit + 1;
        loop {
            let mut a = args![tenant_id, ranked[0].2.as_str(), before, batch_size];
            a.extend(ranked[1..].iter().map(|(_, _, t)| Arg::from(t.as_str())));
            let batch: Vec<CustomerRow> = db.fetch_all(&sql, a).await?;
            let exhausted = (batch.len() as i64) < batch_size;
            batch_size = (batch_size * 4).min(MAX_BATCH);
            if let Some(last) = batch.last() {
                before = last.id;
            }
            found.extend(confirm(db, tenant_id, plan, q_norm, default_cc, batch).await?);
            if exhausted || found.len() as i64 > limit {
                break;
            }
        }
    }
    found.extend(confirm(db, tenant_id, plan, q_norm, default_cc, queued).await?);
    found.sort_by_key(|c| std::cmp::Reverse(c.id));
    found.dedup_by_key(|c| c.id);
    Ok(page(found, limit))
}

/// The candidates that really match: the name holds the query, or a number holds the digits.
async fn confirm(
    db: &Db,
    tenant_id: i64,
    plan: &SearchPlan,
    q_norm: &str,
    default_cc: &str,
    rows: Vec<CustomerRow>,
) -> Result<Vec<CustomerRow>> {
    match plan {
        SearchPlan::Phone {
            digits, international, ..
        } => {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let phones = phones(db, tenant_id, &ids).await?;
            Ok(rows
                .into_iter()
                .filter(|r| {
                    let of: Vec<&str> = phones
                        .get(&r.id)
                        .map(|p| p.iter().map(String::as_str).collect())
                        .unwrap_or_default();
                    kehu_domain::search::phone_matches(digits, *international, default_cc, &of)
                })
                .collect())
        }
        _ => Ok(rows
            .into_iter()
            .filter(|c| kehu_domain::search::matches(q_norm, &c.name))
            .collect()),
    }
}

/// The customer columns with the `c.` alias, for joins (made once: it is on every read's path).
fn prefixed_columns() -> &'static str {
    static COLS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLS.get_or_init(|| {
        COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn page(mut rows: Vec<CustomerRow>, limit: i64) -> (Vec<CustomerRow>, Option<i64>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(|r| r.id);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// Number of customers in a tenant (for the generator and the list page).
pub async fn count(db: &Db, tenant_id: i64) -> Result<i64> {
    let c: Count = db
        .fetch_one(
            "SELECT COUNT(*) AS n FROM customers WHERE tenant_id = $1",
            args![tenant_id],
        )
        .await?;
    Ok(c.n)
}
