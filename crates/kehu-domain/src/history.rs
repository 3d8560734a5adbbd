//! The tamper-evident history: each event hashes the one before it, per tenant, so an edited,
//! deleted or reordered event breaks the chain (R5.6: cards cannot be edited privately).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Lower-case hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The bytes a hexadecimal string stands for, or `None` if it is not one.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

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
        hex(&h.finalize())
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
    /// The event's hash is not the one a signed checkpoint recorded for it: the chain was
    /// re-hashed from this event on (possible with SQL access alone, not with the signing key).
    DiffersFromCheckpoint { seq: i64 },
    /// A signed checkpoint records a longer chain than the database holds: the end was cut off
    /// and the head rewritten to match.
    ShorterThanCheckpoint { checkpoint_seq: i64, found_last: i64 },
}

impl Break {
    /// The sequence number of the first event that fails.
    pub fn first_bad_event(&self) -> i64 {
        match self {
            Break::Edited { seq } | Break::Broken { seq } => *seq,
            Break::Truncated { found_last, .. } | Break::ShorterThanCheckpoint { found_last, .. } => found_last + 1,
            Break::DiffersFromCheckpoint { seq } => *seq,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Break::Edited { .. } => "edited",
            Break::Broken { .. } => "missing_or_reordered",
            Break::Truncated { .. } => "truncated",
            Break::DiffersFromCheckpoint { .. } => "differs_from_checkpoint",
            Break::ShorterThanCheckpoint { .. } => "shorter_than_checkpoint",
        }
    }
}

/// Checks a tenant's events one at a time, in `seq` order, without holding them all.
#[derive(Debug)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
    count: i64,
    /// Hashes signed checkpoints recorded, by sequence number.
    anchors: BTreeMap<i64, String>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
            count: 0,
            anchors: BTreeMap::new(),
        }
    }
}

impl ChainVerifier {
    /// A verifier that also holds the chain to hashes recorded outside the database (signed
    /// checkpoints, already checked): each event a checkpoint names must carry that hash, and the
    /// chain must reach the newest checkpoint.
    pub fn anchored(anchors: BTreeMap<i64, String>) -> Self {
        ChainVerifier {
            anchors,
            ..ChainVerifier::default()
        }
    }

    pub fn push(&mut self, e: &EventRecord) -> Result<(), Break> {
        if e.seq != self.last_seq + 1 || e.prev_hash != self.last_hash {
            return Err(Break::Broken { seq: e.seq });
        }
        if e.compute_hash() != e.hash {
            return Err(Break::Edited { seq: e.seq });
        }
        if let Some(h) = self.anchors.get(&e.seq)
            && *h != e.hash
        {
            return Err(Break::DiffersFromCheckpoint { seq: e.seq });
        }
        self.last_seq = e.seq;
        self.last_hash.clone_from(&e.hash);
        self.count += 1;
        Ok(())
    }

    /// Compares the end of the chain with the head kept beside it and with the newest
    /// checkpoint. Returns the event count.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<i64, Break> {
        if let Some((&seq, _)) = self.anchors.last_key_value()
            && seq > self.last_seq
        {
            return Err(Break::ShorterThanCheckpoint {
                checkpoint_seq: seq,
                found_last: self.last_seq,
            });
        }
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

/// A signed statement of where a tenant's chain stood: written outside the database (a file per
/// tenant in the checkpoint folder), so that someone with SQL access alone cannot rewrite the
/// chain up to it without the signature failing. The idea is a certificate-transparency log's
/// signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The tenant's short name, for people reading the file.
    pub tenant: String,
    pub tenant_id: i64,
    /// The last event's sequence number and hash.
    pub seq: i64,
    pub hash: String,
    /// When it was signed (real time, milliseconds since the Unix epoch).
    pub at_ms: i64,
    /// The signer's public key (hex), so a file signed by another key says which.
    pub key: String,
    /// Ed25519 signature (hex) of [`Checkpoint::message`].
    pub signature: String,
}

/// A key that signs checkpoints.
pub struct CheckpointKey(ed25519_dalek::SigningKey);

impl CheckpointKey {
    /// The key from its 32 secret bytes (as kept in the key file).
    pub fn from_secret(secret: [u8; 32]) -> CheckpointKey {
        CheckpointKey(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    /// The public half, hex: what verifies this key's checkpoints.
    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// A signed checkpoint of the given head.
    pub fn sign(&self, tenant: &str, tenant_id: i64, seq: i64, hash: &str, at_ms: i64) -> Checkpoint {
        use ed25519_dalek::Signer;
        let mut c = Checkpoint {
            tenant: tenant.to_string(),
            tenant_id,
            seq,
            hash: hash.to_string(),
            at_ms,
            key: self.public_hex(),
            signature: String::new(),
        };
        c.signature = hex(&self.0.sign(&c.message()).to_bytes());
        c
    }
}

/// Why a checkpoint cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("signed by another key ({0}), not this server's")]
    OtherKey(String),
    #[error("its signature does not match its contents (edited after signing)")]
    BadSignature,
    #[error("not a public key: {0}")]
    BadKey(String),
}

impl Checkpoint {
    /// The bytes signed: every field but the signature, in a fixed order.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "kehu-checkpoint-v1\n{}\n{}\n{}\n{}\n{}\n{}",
            self.tenant_id, self.tenant, self.seq, self.hash, self.at_ms, self.key
        )
        .into_bytes()
    }

    /// Checks the signature against the trusted public key (hex).
    pub fn check(&self, public_hex: &str) -> Result<(), CheckpointError> {
        use ed25519_dalek::Verifier;
        let bytes: [u8; 32] = unhex(public_hex)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CheckpointError::BadKey(public_hex.to_string()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| CheckpointError::BadKey(public_hex.to_string()))?;
        if !self.key.eq_ignore_ascii_case(public_hex) {
            return Err(CheckpointError::OtherKey(self.key.clone()));
        }
        let sig: [u8; 64] = unhex(&self.signature)
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::BadSignature)?;
        key.verify(&self.message(), &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| CheckpointError::BadSignature)
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

    #[test]
    fn checkpoints_hold_the_chain_to_what_was_signed() {
        let c = chain(6);
        let anchors = |seqs: &[usize]| -> BTreeMap<i64, String> {
            seqs.iter().map(|&i| (c[i - 1].seq, c[i - 1].hash.clone())).collect()
        };
        let run = |events: &[EventRecord], a: BTreeMap<i64, String>| {
            let mut v = ChainVerifier::anchored(a);
            for e in events {
                v.push(e)?;
            }
            let last = events
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS.into()));
            v.finish(last.0, &last.1)
        };
        assert_eq!(run(&c, anchors(&[2, 4, 6])), Ok(6));
        // Cut after event 4 with the head rewritten to match: the checkpoint at 6 finds it.
        assert_eq!(
            run(&c[..4], anchors(&[2, 4, 6])),
            Err(Break::ShorterThanCheckpoint {
                checkpoint_seq: 6,
                found_last: 4
            })
        );
        // The whole chain re-hashed after an edit of event 3: consistent in itself, not with
        // the checkpoint at 4.
        let mut rehashed = c.clone();
        rehashed[2].after = Some("{\"name\":\"改过\"}".into());
        for i in 2..rehashed.len() {
            let prev = rehashed[i - 1].hash.clone();
            rehashed[i].seal(i as i64, &prev);
        }
        let err = run(&rehashed, anchors(&[2, 4, 6])).unwrap_err();
        assert_eq!(err, Break::DiffersFromCheckpoint { seq: 4 });
        assert_eq!((err.first_bad_event(), err.reason()), (4, "differs_from_checkpoint"));
    }

    #[test]
    fn a_checkpoint_verifies_only_with_its_own_key_and_unchanged() {
        let key = CheckpointKey::from_secret([7; 32]);
        let other = CheckpointKey::from_secret([8; 32]);
        let cp = key.sign("acme", 1, 42, &"ab".repeat(32), 1_790_000_000_000);
        assert_eq!(cp.check(&key.public_hex()), Ok(()));
        let forged = other.sign("acme", 1, 42, &"cd".repeat(32), 1_790_000_000_000);
        assert!(matches!(
            forged.check(&key.public_hex()),
            Err(CheckpointError::OtherKey(_))
        ));
        // Another key's signature under this key's name does not verify either.
        let mut renamed = forged.clone();
        renamed.key = key.public_hex();
        assert_eq!(renamed.check(&key.public_hex()), Err(CheckpointError::BadSignature));
        let mut moved = cp.clone();
        moved.seq = 41;
        assert_eq!(moved.check(&key.public_hex()), Err(CheckpointError::BadSignature));
        assert!(matches!(cp.check("zz"), Err(CheckpointError::BadKey(_))));
        let line = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&line).unwrap(), cp);
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
