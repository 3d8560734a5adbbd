//! What the API answers, as documented types.

use kehu_domain::{Decision, Lang};
use kehu_store::activities::ActivityRow;
use kehu_store::claims::ClaimRow;
use kehu_store::history::EventRow;
use kehu_store::staff::StaffRow;
use kehu_store::ts;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::CustomerView;

fn t(ms: i64) -> String {
    ts(ms).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit_id: Option<i64>,
    pub roles: Vec<String>,
    pub active: bool,
}

impl From<&StaffRow> for StaffOut {
    fn from(s: &StaffRow) -> StaffOut {
        StaffOut {
            id: s.id,
            username: s.username.clone(),
            display_name: s.display_name.clone(),
            unit_id: s.unit_id,
            roles: s.role_list(),
            active: s.active,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerOut {
    pub id: i64,
    /// `person` or `company`.
    pub kind: String,
    pub name: String,
    pub phones: Vec<String>,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub agent: Option<String>,
    /// The staff member who owns the customer, derived from its claims by the policy.
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// The pool (公海) the customer is in, nobody holding it, and since when (R11.8).
    pub pool_id: Option<String>,
    pub pooled_at: Option<String>,
    /// Tags rules read (R1.6: `out_of_town`, `selected`; R1.7: `pending_project`).
    pub tags: Vec<String>,
}

impl From<CustomerView> for CustomerOut {
    fn from(v: CustomerView) -> CustomerOut {
        let r = v.row;
        let tags = r.tag_list();
        CustomerOut {
            id: r.id,
            kind: r.kind,
            name: r.name,
            phones: v.phones,
            grade: r.grade,
            source: r.source,
            referrer_id: r.referrer_id,
            agent: r.agent,
            owner_id: v.owner_id,
            owner_name: v.owner_name,
            created_by: r.created_by,
            created_at: t(r.created_at),
            updated_at: t(r.updated_at),
            tags,
            pool_id: r.pool_id,
            pooled_at: r.pooled_at.map(t),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerOut>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimOut {
    pub id: i64,
    pub customer_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    /// `pending`, `valid`, `expired`, `void` or `cancelled`.
    pub status: String,
    pub registered_at: String,
    pub registered_by: i64,
    pub effective_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<i64>,
    /// The limit the claim must be followed up by (R5.2), while it is valid.
    pub valid_until: Option<String>,
    pub policy_version: i64,
    /// When it stopped standing (lapsed or cancelled), and the rule that ended it.
    pub ended_at: Option<String>,
    pub ended_rule: Option<String>,
    /// A cancellation's written reason (R5.6).
    pub end_reason: Option<String>,
    /// The void claim this one was reassigned from (R5.3).
    pub reassigned_from: Option<i64>,
    /// When the contact took place, when given at registration (R3.1).
    pub contact_at: Option<String>,
    /// The pool the claim took the customer from (R11.8).
    pub from_pool: Option<String>,
    /// R11.3: the joint event this claim is an invitation to, the division (unit) it counts
    /// for, when it must be filed and when it was.
    pub event_id: Option<i64>,
    pub event_unit: Option<i64>,
    pub filing_due: Option<String>,
    pub filed_at: Option<String>,
}

impl From<&ClaimRow> for ClaimOut {
    fn from(c: &ClaimRow) -> ClaimOut {
        ClaimOut {
            id: c.id,
            customer_id: c.customer_id,
            staff_id: c.staff_id,
            staff_name: c.staff_name.clone(),
            status: c.status.clone(),
            registered_at: t(c.registered_at),
            registered_by: c.registered_by,
            effective_at: c.effective_at.map(t),
            confirmed_at: c.confirmed_at.map(t),
            confirmed_by: c.confirmed_by,
            valid_until: c.valid_until.map(t),
            policy_version: c.policy_version,
            ended_at: c.ended_at.map(t),
            ended_rule: c.ended_rule.clone(),
            end_reason: c.end_reason.clone(),
            reassigned_from: c.reassigned_from,
            contact_at: c.contact_at.map(t),
            from_pool: c.from_pool.clone(),
            event_id: c.event_id,
            event_unit: c.event_unit,
            filing_due: c.filing_due.map(t),
            filed_at: c.filed_at.map(t),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClaimList {
    pub items: Vec<ClaimOut>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DecisionOut {
    /// The rule of the rulebook (docs/rulebooks.md), e.g. `R5.5`.
    pub rule: String,
    /// Which sentence this is (`case.moved`, `claim.valid`; docs/api.md lists them): stable
    /// across releases and languages, for a client that words decisions itself from the key
    /// and the facts. Empty on decisions written before keys existed.
    pub key: String,
    pub policy_version: u32,
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    /// One sentence in the caller's language.
    pub text: String,
}

impl DecisionOut {
    pub fn new(d: &Decision, lang: Lang) -> DecisionOut {
        DecisionOut {
            rule: d.rule.to_string(),
            key: d.key.to_string(),
            policy_version: d.policy_version,
            facts: d.facts.clone(),
            text: d.text.get(lang).to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OwnershipOut {
    pub owner_id: Option<i64>,
    pub claim_id: Option<i64>,
    pub decision: DecisionOut,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: i64,
    pub customer_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    /// `call`, `visit`, `sms`, `meeting`, `walk_in` or `event`.
    pub channel: String,
    pub at: String,
    pub note: String,
    pub created_at: String,
    /// A leader's confirmation of the follow-up (R5.2).
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<i64>,
    /// The kind of service (R11.7).
    pub kind: Option<String>,
}

impl From<&ActivityRow> for ActivityOut {
    fn from(a: &ActivityRow) -> ActivityOut {
        ActivityOut {
            id: a.id,
            customer_id: a.customer_id,
            staff_id: a.staff_id,
            staff_name: a.staff_name.clone(),
            channel: a.channel.clone(),
            at: t(a.at),
            note: a.note.clone(),
            created_at: t(a.created_at),
            confirmed_at: a.confirmed_at.map(t),
            confirmed_by: a.confirmed_by,
            kind: a.kind.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActivityList {
    pub items: Vec<ActivityOut>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub seq: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub entity: String,
    pub entity_id: i64,
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub decision: Option<DecisionOut>,
    pub hash: String,
}

impl EventOut {
    pub fn new(e: &EventRow, lang: Lang) -> EventOut {
        let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str(s).ok());
        EventOut {
            seq: e.seq,
            at: t(e.at_ms),
            actor_id: e.actor_id,
            entity: e.entity.clone(),
            entity_id: e.entity_id,
            action: e.action.clone(),
            before: parse(&e.before_json),
            after: parse(&e.after_json),
            decision: e.decision().map(|d| DecisionOut::new(&d, lang)),
            hash: e.hash.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventOut>,
    pub next_cursor: Option<String>,
}
