//! R5.8: a phone number left by an inbound caller or a visitor gets a first SMS the same day,
//! from a template naming the consultant; missing it costs the receiver a fine.

use serde_json::json;

use crate::Timestamp;
use crate::decision::{Decision, RuleId};
use crate::lifecycle::FollowUp;
use crate::policy::{FirstContact, Policy};
use crate::text::Text;

/// The customer as the first-contact rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub customer_id: i64,
    pub customer_name: String,
    pub source: Option<String>,
    pub has_phone: bool,
    pub registered_at: Timestamp,
    /// Who took the call or received the visit: the staff member who registered the customer.
    pub receiver_id: i64,
    pub receiver_name: String,
}

fn applies(policy: &Policy, fc: &FirstContact, c: &NewContact) -> bool {
    c.has_phone && policy.source_in(c.source.as_deref(), &fc.sources)
}

/// When the first contact is due for a newly registered customer, or `None` when the rule does
/// not apply (no such rule, another source, no phone number).
pub fn first_contact_due(policy: &Policy, c: &NewContact) -> Option<(Timestamp, RuleId)> {
    let fc = policy.customers.first_contact.as_ref()?;
    if !applies(policy, fc, c) {
        return None;
    }
    Some((fc.by.after(c.registered_at, &policy.tz), fc.rule.clone()))
}

/// The SMS text the receiver sends, with their name filled in.
pub fn first_message(policy: &Policy, receiver: &str) -> Option<Text> {
    let fc = policy.customers.first_contact.as_ref()?;
    let m = fc.message.as_ref()?;
    Some(Text::new(
        m.zh.replace("{consultant}", receiver),
        m.en.replace("{consultant}", receiver),
    ))
}

/// What the rule says when the cut-off `due` has come: `None` when the receiver sent the first
/// message in time; else the decision for the fine and the ledger code to charge.
pub fn decide_first_contact(
    policy: &Policy,
    c: &NewContact,
    activities: &[FollowUp],
    due: Timestamp,
) -> Option<(String, Decision)> {
    let fc = policy.customers.first_contact.as_ref()?;
    if !applies(policy, fc, c) {
        return None;
    }
    let met = activities
        .iter()
        .any(|a| a.staff_id == c.receiver_id && a.channel == fc.channel && a.at >= c.registered_at && a.at <= due);
    if met {
        return None;
    }
    let code = policy.ledger.code(fc.penalty.as_ref()?)?;
    let (reg, by, ch) = (
        policy.local_time(c.registered_at),
        policy.local_time(due),
        fc.channel.label(),
    );
    let fine = crate::ledger::yuan(code.amount);
    Some((
        code.code.clone(),
        Decision {
            key: "contact.late".into(),
            rule: fc.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "customer_id": c.customer_id,
                "source": c.source,
                "registered_at": c.registered_at.to_string(),
                "receiver_id": c.receiver_id,
                "channel": fc.channel.as_str(),
                "due": due.to_string(),
                "code": code.code,
                "amount": code.amount,
            }),
            text: Text::new(
                format!(
                    "{}于 {reg} 接待留电客户{}，{by} 前没有发出首次{}回访：罚款 {fine} 元（{}）",
                    c.receiver_name, c.customer_name, ch.zh, fc.rule
                ),
                format!(
                    "{} received {} at {reg} and sent no first {} by {by}: fine {fine} yuan ({})",
                    c.receiver_name, c.customer_name, ch.en, fc.rule
                ),
            ),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Channel;
    use crate::policy::tests::sample;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn walk_in() -> NewContact {
        NewContact {
            customer_id: 3,
            customer_name: "钱先生".into(),
            source: Some("到店".into()),
            has_phone: true,
            // 15:00 in Shanghai.
            registered_at: t("2026-11-03T07:00:00Z"),
            receiver_id: 1,
            receiver_name: "王芳".into(),
        }
    }

    #[test]
    fn r5_8_the_first_sms_is_due_by_the_end_of_the_local_day() {
        let p = sample();
        let (due, rule) = first_contact_due(&p, &walk_in()).unwrap();
        // Midnight in Shanghai is 16:00 UTC.
        assert_eq!((due, rule.as_str()), (t("2026-11-03T16:00:00Z"), "R5.8"));
        let mut no_phone = walk_in();
        no_phone.has_phone = false;
        assert!(first_contact_due(&p, &no_phone).is_none());
        let mut own = walk_in();
        own.source = Some("自主开发".into());
        assert!(first_contact_due(&p, &own).is_none());
        assert_eq!(first_message(&p, "王芳").unwrap().zh, "您好，我是示范汽车销售顾问王芳");
    }

    #[test]
    fn r5_8_no_sms_that_day_is_fined_and_one_in_time_is_not() {
        let p = sample();
        let due = t("2026-11-03T16:00:00Z");
        let sms = |staff_id, at: &str| FollowUp {
            id: 1,
            staff_id,
            channel: Channel::Sms,
            at: t(at),
            confirmed_at: None,
        };
        assert!(decide_first_contact(&p, &walk_in(), &[sms(1, "2026-11-03T08:00:00Z")], due).is_none());
        let (code, d) = decide_first_contact(&p, &walk_in(), &[], due).unwrap();
        assert_eq!((code.as_str(), d.rule.as_str()), ("no_first_sms", "R5.8"));
        assert!(d.text.zh.contains("罚款 20.00 元"), "{}", d.text.zh);
        // Late, or sent by someone else, does not count.
        assert!(decide_first_contact(&p, &walk_in(), &[sms(1, "2026-11-03T16:30:00Z")], due).is_some());
        assert!(decide_first_contact(&p, &walk_in(), &[sms(2, "2026-11-03T08:00:00Z")], due).is_some());
    }
}
