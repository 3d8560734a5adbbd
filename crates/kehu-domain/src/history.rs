//! The tamper-evident history: each event hashes the one before it, per tenant, so an edited,
//! deleted or reordered event breaks the chain (R5.6: cards cannot be edited privately).

use sha2::{Digest, Sha256};

/// The hash that stands before a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event as stored; every field is covered by the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub tenant_id: i64,
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    pub entity: String,
    pub entity_id: i64,
    pub customer_id: Option<i64>,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub decision: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl EventRecord {
    /// The hash this event must carry, given its fields and its `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"kehu-event-v1");
        h.update(self.prev_hash.as_bytes());
        for n in [
            Some(self.tenant_id),
            Some(self.seq),
            Some(self.at_ms),
            self.actor_id,
            Some(self.entity_id),
            self.customer_id,
        ] {
            match n {
                Some(v) => {
                    h.update([1]);
                    h.update(v.to_be_bytes());
                }
                None => h.update([0]),
            }
        }
        for s in [
            Some(&self.entity),
            Some(&self.action),
            self.before.as_ref(),
            self.after.as_ref(),
            self.decision.as_ref(),
        ] {
            match s {
                Some(v) => {
                    h.update([1]);
                    h.update((v.len() as u64).to_be_bytes());
                    h.update(v.as_bytes());
                }
                None => h.update([0]),
            }
        }
        let digest = h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Fills `seq`, `prev_hash` and `hash` to follow the given head.
    pub fn seal(&mut self, last_seq: i64, last_hash: &str) {
        self.seq = last_seq + 1;
        self.prev_hash = last_hash.to_string();
        self.hash = self.compute_hash();
    }
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content does not match its hash: it was edited.
    Edited { seq: i64 },
    /// The event does not follow the one before it: one was deleted, inserted or reordered.
    Broken { seq: i64 },
    /// The last events are missing: the head records more than the table holds.
    Truncated { expected_last: i64, found_last: i64 },
}

impl Break {
    /// The sequence number of the first event that fails.
    pub fn first_bad_event(&self) -> i64 {
        match self {
            Break::Edited { seq } | Break::Broken { seq } => *seq,
            Break::Truncated { found_last, .. } => found_last + 1,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Break::Edited { .. } => "edited",
            Break::Broken { .. } => "missing_or_reordered",
            Break::Truncated { .. } => "truncated",
        }
    }
}

/// Checks a tenant's events one at a time, in `seq` order, without holding them all.
#[derive(Debug)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
    count: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
            count: 0,
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, e: &EventRecord) -> Result<(), Break> {
        if e.seq != self.last_seq + 1 || e.prev_hash != self.last_hash {
            return Err(Break::Broken { seq: e.seq });
        }
        if e.compute_hash() != e.hash {
            return Err(Break::Edited { seq: e.seq });
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
        self.count += 1;
        Ok(())
    }

    /// Compares the end of the chain with the head kept beside it. Returns the event count.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<i64, Break> {
        if head_seq != self.last_seq {
            return Err(Break::Truncated {
                expected_last: head_seq,
                found_last: self.last_seq,
            });
        }
        if head_hash != self.last_hash {
            return Err(Break::Edited { seq: self.last_seq });
        }
        Ok(self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<EventRecord> {
        let mut out: Vec<EventRecord> = Vec::new();
        for i in 0..n {
            let mut e = EventRecord {
                tenant_id: 1,
                seq: 0,
                at_ms: 1_790_000_000_000 + i,
                actor_id: Some(3),
                entity: "customer".into(),
                entity_id: i,
                customer_id: Some(i),
                action: "create".into(),
                before: None,
                after: Some(format!("{{\"name\":\"客户{i}\"}}")),
                decision: None,
                prev_hash: String::new(),
                hash: String::new(),
            };
            let (s, h) = out
                .last()
                .map(|l| (l.seq, l.hash.clone()))
                .unwrap_or((0, GENESIS.into()));
            e.seal(s, &h);
            out.push(e);
        }
        out
    }

    fn verify(events: &[EventRecord], head: (i64, &str)) -> Result<i64, Break> {
        let mut v = ChainVerifier::default();
        for e in events {
            v.push(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS)), Ok(0));
    }

    #[test]
    fn edits_deletions_and_reordering_are_found() {
        let c = chain(5);
        let head = (5, c[4].hash.as_str());
        let mut edited = c.clone();
        edited[2].after = Some("{\"name\":\"改过\"}".into());
        assert_eq!(verify(&edited, head), Err(Break::Edited { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, head), Err(Break::Broken { seq: 3 }));

        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped, head).unwrap_err().first_bad_event(), 3);

        let truncated = &c[..4];
        assert_eq!(verify(truncated, head).unwrap_err().reason(), "truncated");

        // Rewriting a whole tail with fresh hashes still disagrees with the head.
        let mut rewritten = c.clone();
        rewritten[4].after = Some("{}".into());
        let prev = rewritten[3].hash.clone();
        rewritten[4].seal(4, &prev);
        assert_eq!(verify(&rewritten, head), Err(Break::Edited { seq: 5 }));
    }
}
