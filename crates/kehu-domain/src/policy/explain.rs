//! A policy in plain language (`kehu policy explain`): one line per setting, with its rule ID,
//! in Chinese and English, so a manager can check the file says what the rulebook says.

use super::{ClaimAction, DuplicateClaims, EffectiveAt, LedgerKind, OnMiss, OwnershipBasis, Policy};
use crate::decision::RuleId;
use crate::ledger::yuan;
use crate::text::Text;

/// One line of the explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Indentation level: 0 for sections, 1 for their settings.
    pub depth: usize,
    pub rule: Option<RuleId>,
    pub text: Text,
}

fn line(depth: usize, rule: Option<&RuleId>, zh: impl Into<String>, en: impl Into<String>) -> Line {
    Line {
        depth,
        rule: rule.cloned(),
        text: Text::new(zh, en),
    }
}

fn roles(p: &Policy, ids: &[String]) -> Text {
    let names: Vec<Text> = ids.iter().map(|r| p.role_name(r)).collect();
    Text::new(
        names.iter().map(|n| n.zh.clone()).collect::<Vec<_>>().join("、"),
        names.iter().map(|n| n.en.clone()).collect::<Vec<_>>().join(", "),
    )
}

fn action(p: &Policy, out: &mut Vec<Line>, a: &ClaimAction, zh: &str, en: &str) {
    let r = roles(p, &a.roles);
    let mut z = format!("{}可以{zh}", r.zh);
    let mut e = format!("{} may {en}", r.en);
    if a.signer_only {
        z.push_str("（仅限签字确认该登记的人）");
        e.push_str(" (only the one who signed the claim)");
    }
    if a.reason_min_chars > 0 {
        z.push_str(&format!(
            "，须写明至少 {} 个字的原因；登记保留，不删除",
            a.reason_min_chars
        ));
        e.push_str(&format!(
            ", with a written reason of at least {} characters; the claim is kept, never deleted",
            a.reason_min_chars
        ));
    }
    out.push(line(1, Some(&a.rule), z, e));
}

/// The policy's rules, section by section.
pub fn explain(p: &Policy) -> Vec<Line> {
    let mut out = Vec::new();
    out.push(line(
        0,
        None,
        format!("{}（{} 第 {} 版，时区 {}）", p.name.zh, p.id, p.version, p.time_zone),
        format!(
            "{} ({} version {}, time zone {})",
            p.name.en, p.id, p.version, p.time_zone
        ),
    ));

    out.push(line(0, None, "角色", "Roles"));
    for r in &p.roles {
        let perms: Vec<&str> = r.permissions.iter().map(|x| x.as_str()).collect();
        out.push(line(
            1,
            None,
            format!("{}（{}）：{}", r.name.zh, r.id, perms.join("、")),
            format!("{} ({}): {}", r.name.en, r.id, perms.join(", ")),
        ));
        if r.id != super::ADMIN_ROLE {
            out.push(sees_line(r));
            if !r.grants.is_empty() {
                let g = roles(p, &r.grants);
                out.push(line(
                    2,
                    None,
                    format!("除自己的角色外，还可授予：{}", g.zh),
                    format!("Besides their own role, may grant: {}", g.en),
                ));
            }
        }
    }
    out.push(line(
        1,
        None,
        if p.separation_of_duties {
            "职责分离：任何人不能确认自己的登记或自己的跟进，须由另一位有权的人确认"
        } else {
            "职责分离已关闭：有权确认的人也可以确认自己的登记和跟进"
        },
        if p.separation_of_duties {
            "Separation of duties: nobody confirms their own claim or follow-up; someone else who may must"
        } else {
            "Separation of duties is off: whoever may confirm may also confirm their own claims and follow-ups"
        },
    ));
    let l = &p.limits;
    let (back, ahead) = (l.backdate.text(), l.ahead.text());
    out.push(line(0, None, "录入范围", "What may be entered"));
    out.push(line(
        1,
        None,
        format!(
            "金额须大于 0、不超过 {} 元；跟进与接待时间最多补记 {}；活动最多提前 {} 安排",
            yuan(l.max_amount),
            back.zh,
            ahead.zh
        ),
        format!(
            "Amounts are more than 0 and at most {} yuan; a follow-up or contact may be dated at most {} back; an event scheduled at most {} ahead",
            yuan(l.max_amount),
            back.en,
            ahead.en
        ),
    ));

    if !p.customers.sources.is_empty() {
        out.push(line(0, None, "客户来源", "Customer sources"));
        let zh: Vec<String> = p
            .customers
            .sources
            .iter()
            .map(|s| format!("{}（{}）", s.name.zh, s.id))
            .collect();
        let en: Vec<String> = p
            .customers
            .sources
            .iter()
            .map(|s| format!("{} ({})", s.name.en, s.id))
            .collect();
        out.push(line(
            1,
            None,
            format!("客户来源须为以下之一：{}；其他来源不予登记", zh.join("、")),
            format!("A customer's source is one of: {}; any other is refused", en.join(", ")),
        ));
    }
    if let Some(fc) = &p.customers.first_contact {
        let names = sources_text(p, &fc.sources);
        let ch = fc.channel.label();
        let mut zh = format!(
            "来源为{}且留有电话的新客户：接待人须在当天以{}首次回访",
            names.zh, ch.zh
        );
        let mut en = format!(
            "A new customer from {} who left a phone number gets a first {} from the receiver the same day",
            names.en, ch.en
        );
        if let Some(code) = fc.penalty.as_deref().and_then(|c| p.ledger.code(c)) {
            zh.push_str(&format!("，未回访罚款 {} 元（{}）", yuan(code.amount), code.code));
            en.push_str(&format!(
                "; missing it is a fine of {} yuan ({})",
                yuan(code.amount),
                code.code
            ));
        }
        out.push(line(1, Some(&fc.rule), zh, en));
    }

    out.push(line(0, None, "登记与归属", "Claims and ownership"));
    let c = &p.claims;
    match &c.confirmation {
        Some(conf) => {
            let r = roles(p, &conf.roles);
            let (z, e) = match conf.effective {
                EffectiveAt::AtConfirmation => ("自确认时起生效", "it takes effect at the confirmation"),
                EffectiveAt::AtRegistration => (
                    "确认后自登记时起生效",
                    "once confirmed it takes effect from the registration",
                ),
            };
            out.push(line(
                1,
                Some(&conf.rule),
                format!("登记须由{}确认，{z}", r.zh),
                format!("A claim must be confirmed by a {}; {e}", r.en.to_lowercase()),
            ));
        }
        None => out.push(line(
            1,
            Some(&c.rule),
            "登记即时生效",
            "A claim takes effect when it is registered",
        )),
    }
    if let Some(sub) = &c.submission {
        let (zh, en) = match sub.late_until {
            Some(t) => (
                format!("当天接待的客户须在当天下班前提交登记，特殊情况可延至次日 {t} 前；更晚提交记迟交一次"),
                format!(
                    "The day's registrations are submitted by the end of the day, or until {t} the next day; later is a recorded late submission"
                ),
            ),
            None => (
                "当天接待的客户须在当天下班前提交登记；更晚提交记迟交一次".to_string(),
                "The day's registrations are submitted by the end of the day; later is a recorded late submission"
                    .to_string(),
            ),
        };
        out.push(line(1, Some(&sub.rule), zh, en));
    }
    match (c.duplicates, p.ownership.basis) {
        (DuplicateClaims::Allow, OwnershipBasis::EarliestRegisteredOnForm) => out.push(line(
            1,
            Some(&p.ownership.rule),
            "同一客户可有多张登记；按时上交的登记表上登记时间最早者拥有该客户，迟交的登记表按上交时间计",
            "One customer may have several registrations; the one whose form, handed in on time, names the earliest registration time owns the customer; a form handed in late counts from its submission",
        )),
        (DuplicateClaims::Allow, OwnershipBasis::EarliestEffective) => out.push(line(
            1,
            Some(&p.ownership.rule),
            "同一客户可有多张登记；最早生效的有效登记者拥有该客户",
            "One customer may have several claims; the valid claim that took effect first owns the customer",
        )),
        (DuplicateClaims::Refuse, _) => out.push(line(
            1,
            Some(&p.ownership.rule),
            "已被有效登记的客户不能再登记",
            "A customer with a standing claim cannot be claimed again",
        )),
    }
    if let Some(od) = &c.one_division {
        out.push(line(
            1,
            Some(&od.rule),
            "已有部门邀约并确认的客户，其他部门不能再邀约：其他部门的登记不予受理、不予确认（联合会议同样适用）；逾期未报送的联合会议邀约除外",
            "Once one division's invitation of a customer is confirmed, no other division may invite them: another division's claim is neither registered nor confirmed (at joint events too), unless the confirmed one is an invitation to a joint event overdue for filing",
        ));
    }

    if let Some(lc) = &c.lifecycle {
        out.push(line(0, None, "登记有效期与跟进", "How a claim stays valid"));
        let ch: Vec<Text> = lc.follow_up_channels.iter().map(|c| c.label()).collect();
        out.push(line(
            1,
            Some(&lc.rule),
            format!(
                "持有人的以下跟进计入：{}",
                ch.iter().map(|c| c.zh.clone()).collect::<Vec<_>>().join("、")
            ),
            format!(
                "The holder's follow-ups that count: {}",
                ch.iter().map(|c| lower(&c.en)).collect::<Vec<_>>().join(", ")
            ),
        ));
        let (miss_zh, miss_en) = match lc.on_miss {
            OnMiss::Void => ("作废", "void"),
            OnMiss::Expire => ("过期", "expired"),
            OnMiss::Release => ("到期，客户退回公海", "expired, and the customer returns to the pool"),
        };
        let pool_name = lc
            .release_to
            .as_deref()
            .and_then(|id| p.pool(id))
            .map(|pool| pool.name.clone());
        let (miss_zh, miss_en) = match (&pool_name, lc.on_miss) {
            (Some(n), OnMiss::Release) => (
                format!("到期，客户退回{}", n.zh),
                format!("expired, and the customer returns to {}", n.en),
            ),
            _ => (miss_zh.to_string(), miss_en.to_string()),
        };
        if let Some(f) = lc.first_within {
            let t = f.text();
            out.push(line(
                1,
                Some(&lc.rule),
                format!("生效后 {}内须首次跟进，否则登记{miss_zh}", t.zh),
                format!(
                    "The first follow-up is due within {} of taking effect, else the claim is {miss_en}",
                    t.en
                ),
            ));
        }
        if let Some(conf) = &lc.confirm_follow_up {
            let r = roles(p, &conf.roles);
            let w = conf.within.text();
            out.push(line(
                1,
                Some(&conf.rule),
                format!(
                    "第 {} 次跟进须由{}确认；{}内确认按跟进时间计，超过则按确认时间计",
                    conf.number, r.zh, w.zh
                ),
                format!(
                    "Follow-up {} is confirmed by a {}; confirmed within {} it counts from the follow-up, later from the confirmation",
                    conf.number,
                    r.en.to_lowercase(),
                    w.en
                ),
            ));
        }
        if let Some(t) = lc.then_within {
            let t = t.text();
            out.push(line(
                1,
                Some(&lc.rule),
                format!("每次跟进使登记保持有效 {}；逾期未跟进，登记{miss_zh}", t.zh),
                format!(
                    "Each follow-up keeps the claim valid for {}; missing one makes it {miss_en}",
                    t.en
                ),
            ));
        }
        if let Some(v) = lc.valid_for {
            let v = v.text();
            out.push(line(
                1,
                Some(&lc.rule),
                format!("登记自生效起 {}后{miss_zh}，无论是否跟进", v.zh),
                format!(
                    "A claim is {miss_en} {} after taking effect, whatever the follow-ups",
                    v.en
                ),
            ));
        }
        for (grade, p) in &lc.grades {
            let t = p.text();
            out.push(line(
                1,
                Some(&lc.rule),
                format!("{grade} 类客户的跟进期限为 {}", t.zh),
                format!("Grade {grade} customers: the follow-up window is {}", t.en),
            ));
        }
        if let Some(w) = lc.warn_before {
            let t = w.text();
            out.push(line(
                1,
                Some(&lc.rule),
                format!("到期前 {}提醒持有人", t.zh),
                format!("The holder is warned {} before the limit", t.en),
            ));
        }
        for run in &lc.invalid_runs {
            let ch = run.channel.label();
            out.push(line(
                1,
                Some(&run.rule),
                format!("连续 {} 次跟进都是{}，不算有效跟进，登记作废", run.consecutive, ch.zh),
                format!(
                    "{} follow-ups in a row by {} do not count: the claim is void",
                    run.consecutive,
                    lower(&ch.en)
                ),
            ));
        }
        if let Some(code) = lc.duplicate_penalty.as_ref().and_then(|c| p.ledger.code(c)) {
            out.push(line(
                1,
                Some(&code.rule),
                format!(
                    "因未及时跟进登记作废、客户又被他人登记：原持有人罚款 {} 元（{}）",
                    yuan(code.amount),
                    code.code
                ),
                format!(
                    "A claim voided for a missed follow-up, then claimed by someone else: the lapsed holder is fined {} yuan ({})",
                    yuan(code.amount),
                    code.code
                ),
            ));
        }
    }
    if let Some(a) = &c.reassign {
        action(
            p,
            &mut out,
            a,
            "将作废的登记转交他人",
            "reassign a void claim to someone else",
        );
    }
    if let Some(a) = &c.cancel {
        action(p, &mut out, a, "撤销登记", "cancel a claim");
    }

    for pool in &p.pools {
        let r = roles(p, &pool.members);
        let mut zh = format!("{}（{}）：{}可以领取，先到先得", pool.name.zh, pool.id, r.zh);
        let mut en = format!(
            "{} ({}): {} may claim from it, first come first served",
            pool.name.en, pool.id, r.en
        );
        if let Some(c) = pool.cooldown {
            let t = c.text();
            zh.push_str(&format!("；原持有人退回后 {}内不得再领取", t.zh));
            en.push_str(&format!("; a former holder waits {} before reclaiming", t.en));
        }
        if let Some(m) = pool.max_claims_per_day {
            zh.push_str(&format!("；每人每天最多领取 {m} 个"));
            en.push_str(&format!("; at most {m} a day per person"));
        }
        out.push(line(0, Some(&pool.rule), zh, en));
    }
    if !p.activities.kinds.is_empty() {
        let zh: Vec<String> = p.activities.kinds.iter().map(|k| k.name.zh.clone()).collect();
        let en: Vec<String> = p.activities.kinds.iter().map(|k| k.name.en.to_lowercase()).collect();
        out.push(line(
            0,
            p.activities.kinds.first().map(|k| &k.rule),
            format!("服务分为：{}", zh.join("、")),
            format!("Kinds of service: {}", en.join(", ")),
        ));
    }
    if let Some(cad) = &p.cadence {
        out.push(line(0, None, "拜访频次", "Visit cadence"));
        let ch: Vec<Text> = cad.channels.iter().map(|c| c.label()).collect();
        for (grade, period) in &cad.grades {
            let t = period.text();
            out.push(line(
                1,
                Some(&cad.rule),
                format!(
                    "{grade} 类客户至少每 {}{}一次",
                    t.zh,
                    ch.iter().map(|c| c.zh.clone()).collect::<Vec<_>>().join("或")
                ),
                format!(
                    "Grade {grade} customers: a {} at least every {}",
                    ch.iter().map(|c| lower(&c.en)).collect::<Vec<_>>().join(" or "),
                    t.en
                ),
            ));
        }
        for tag in &cad.tags {
            let t = tag.every.text();
            out.push(line(
                1,
                Some(&tag.rule),
                format!("标记为“{}”的客户：至少每 {}一次", tag.tag, t.zh),
                format!("Customers tagged `{}`: at least every {}", tag.tag, t.en),
            ));
        }
        for d in &cad.duties {
            let r = roles(p, &d.roles);
            let t = d.every.text();
            let mut which_zh: Vec<String> = d.grades.iter().map(|g| format!("{g} 类")).collect();
            which_zh.extend(d.tags.iter().map(|t| format!("标记为“{t}”的")));
            let mut which_en: Vec<String> = d.grades.iter().map(|g| format!("grade {g}")).collect();
            which_en.extend(d.tags.iter().map(|t| format!("tagged `{t}`")));
            out.push(line(
                1,
                Some(&d.rule),
                format!("{}每 {}亲自拜访{}客户一次", r.zh, t.zh, which_zh.join("及")),
                format!(
                    "{} visit every {} customer in person every {}",
                    r.en,
                    which_en.join(" and "),
                    t.en
                ),
            ));
        }
    }
    for w in &p.workflows {
        workflow(p, &mut out, w);
    }
    if !p.ledger.codes.is_empty() {
        out.push(line(
            0,
            None,
            "台账（罚款、积分、奖励）",
            "Ledger (penalties, points, rewards)",
        ));
        let r = roles(p, &p.ledger.managers);
        out.push(line(
            1,
            None,
            format!("{}可以录入和冲销；冲销是一条新记录，不修改原记录", r.zh),
            format!(
                "{} may enter and reverse entries; a reversal is a new entry, never an edit",
                r.en
            ),
        ));
        for code in &p.ledger.codes {
            let mut zh = format!("{}（{}）：", code.name.zh, code.code);
            let mut en = format!("{} ({}): ", code.name.en, code.code);
            let mut parts_zh = Vec::new();
            let mut parts_en = Vec::new();
            if code.amount != 0 {
                let (z, e) = match code.kind {
                    LedgerKind::Penalty => ("罚款", "fine"),
                    _ => ("奖励", "reward"),
                };
                parts_zh.push(format!("{z} {} 元", yuan(code.amount)));
                parts_en.push(format!("{e} {} yuan", yuan(code.amount)));
            }
            if code.points != 0 {
                parts_zh.push(format!("{} 分", code.points));
                parts_en.push(format!("{} points", code.points));
            }
            for step in &code.escalation {
                let mut z = format!("本月第 {} 次起", step.from);
                let mut e = format!("from the {} time in a month", ordinal(step.from));
                if let Some(a) = step.amount {
                    z.push_str(&format!("每次 {} 元", yuan(a)));
                    e.push_str(&format!(", {} yuan each", yuan(a)));
                }
                if let Some(pts) = step.points {
                    z.push_str(&format!("每次 {pts} 分"));
                    e.push_str(&format!(", {pts} points each"));
                }
                if let Some(f) = step.flag {
                    z.push_str(&format!("，{}", f.label().zh));
                    e.push_str(&format!(", {}", f.label().en.to_lowercase()));
                }
                parts_zh.push(z);
                parts_en.push(e);
            }
            parts_zh.push(
                if code.manual {
                    "由管理人员录入"
                } else {
                    "由规则自动记账"
                }
                .into(),
            );
            parts_en.push(
                if code.manual {
                    "entered by a manager"
                } else {
                    "charged by its rule"
                }
                .into(),
            );
            zh.push_str(&parts_zh.join("；"));
            en.push_str(&parts_en.join("; "));
            out.push(line(1, Some(&code.rule), zh, en));
        }
    }
    if let Some(ev) = &p.events {
        out.push(line(0, None, "联合会议", "Joint events"));
        let org = p.roles_text(&ev.organisers);
        let filers = p.roles_text(&ev.filers);
        let w = ev.window.text();
        out.push(line(
            1,
            Some(&ev.rule),
            format!(
                "{}安排联合会议并指定举办部门；会前 {} 内，各部门{}每天 {} 前报送当天确认的邀约，{} 以后确认的算作第二天",
                org.zh, w.zh, filers.zh, ev.daily_cutoff, ev.daily_cutoff
            ),
            format!(
                "A {} schedules a joint event and names its divisions; in the {} before it, each division's {} files the day's confirmed invitations by {}; those confirmed from {} on count as the next day's",
                lower(&org.en),
                w.en,
                lower(&filers.en),
                ev.daily_cutoff,
                ev.daily_cutoff
            ),
        ));
        out.push(line(
            1,
            Some(&ev.rule),
            format!(
                "会议当天：下午场 {} 前、晚场 {} 前报送，之后不再接受新的邀约",
                ev.afternoon_cutoff, ev.evening_cutoff
            ),
            format!(
                "On the event day: by {} for an afternoon event, by {} for an evening one; no invitations are confirmed after that",
                ev.afternoon_cutoff, ev.evening_cutoff
            ),
        ));
        if let Some(lead) = ev.lead {
            let t = lead.text();
            out.push(line(
                1,
                Some(&ev.rule),
                format!("排在前面的部门比后一个部门提前 {} 完成邀约", t.zh),
                format!(
                    "Each division closes its invitations {} ahead of the one after it",
                    t.en
                ),
            ));
        }
        let mut zh = "迟报的部门：另一部门在此期间邀约并确认的客户判归另一部门".to_string();
        let mut en = "A division that files late loses a customer the other division invited and confirmed meanwhile"
            .to_string();
        if let Some(code) = ev.late_penalty.as_deref().and_then(|c| p.ledger.code(c)) {
            zh.push_str(&format!("；部门负责人按“{}”记账（每天一次）", code.name.zh));
            en.push_str(&format!("; the head is charged \"{}\" (once a day)", code.name.en));
        }
        out.push(line(1, Some(&ev.rule), zh, en));
        let att = p.roles_text(&ev.attendance.roles);
        out.push(line(
            1,
            Some(&ev.attendance.rule),
            format!("会议当天由{}为到会的受邀顾客签到，每位顾客每场一次", att.zh),
            format!(
                "On the event day a {} checks invited customers in, once per customer and event",
                lower(&att.en)
            ),
        ));
    }
    if let Some(sa) = &p.sales {
        out.push(line(0, None, "成交业绩", "Sales credit"));
        out.push(line(
            1,
            Some(&sa.rule),
            "成交记入客户归属人的业绩；客户暂无归属时记入成交人",
            "A sale counts for the customer's owner; with no owner, for whoever closed it",
        ));
        if let Some(r) = &sa.referred {
            let names = sources_text(p, &r.sources);
            out.push(line(
                1,
                Some(&r.rule),
                format!("来源为{}的客户归最终成交的人：成交即转归成交人", names.zh),
                format!(
                    "Customers from {} belong to whoever closes: the sale moves the customer to the closer",
                    names.en
                ),
            ));
        }
        if let Some(s) = &sa.special {
            let all = Text::new(
                s.roles.iter().map(|x| p.role_name(x).zh).collect::<Vec<_>>().join("和"),
                s.roles
                    .iter()
                    .map(|x| lower(&p.role_name(x).en))
                    .collect::<Vec<_>>()
                    .join(" and "),
            );
            out.push(line(
                1,
                Some(&s.rule),
                format!("特殊情况由{}共同签字改记业绩，须写明原因", all.zh),
                format!(
                    "Special cases: the {} both sign a change of credit, with a reason",
                    all.en
                ),
            ));
        }
        if let Some(r) = &sa.referral {
            let pts = |c: &Option<String>| c.as_deref().and_then(|c| p.ledger.code(c)).map(|c| c.points);
            if let Some(n) = pts(&r.new_customer) {
                out.push(line(
                    1,
                    Some(&r.rule),
                    format!("老顾客带来的新顾客参加会议（在会上签到）：老顾客得 {n} 分（每位新顾客每场一次）"),
                    format!("A new customer an existing one brought takes part in an event (is checked in there): the existing customer earns {n} points (once per new customer and event)"),
                ));
            }
            if let Some(n) = pts(&r.sales) {
                out.push(line(
                    1,
                    Some(&r.rule),
                    format!("新顾客会上成交：每满 {} 元，老顾客得 {n} 分", yuan(r.per)),
                    format!(
                        "What the new customer buys at the event: {n} points to the existing customer per full {} yuan",
                        yuan(r.per)
                    ),
                ));
            }
        }
        if let Some(e) = &sa.at_events {
            out.push(line(
                1,
                Some(&e.rule),
                "会上成交记入客户当前邀约人的业绩；原跟进人须经当前邀约人同意才能协助",
                "A sale at an event counts for the current inviter; an earlier follower helps only with the inviter's consent",
            ));
        }
    }
    out
}

/// A workflow in words: its states, what opening needs, and each action with who takes it.
fn workflow(p: &Policy, out: &mut Vec<Line>, w: &crate::workflow::Workflow) {
    use crate::workflow::Signoff;
    let r = Some(&w.rule);
    let state = |id: &str| w.state(id).map(|s| s.name.clone()).unwrap_or_else(|| Text::new(id, id));
    out.push(line(
        0,
        None,
        format!("流程：{}", w.name.zh),
        format!("Workflow: {}", w.name.en),
    ));
    let states: Vec<Text> = w.states.iter().map(|s| s.name.clone()).collect();
    out.push(line(
        1,
        r,
        format!(
            "状态：{}；从「{}」开始",
            states.iter().map(|s| s.zh.as_str()).collect::<Vec<_>>().join("、"),
            state(&w.initial).zh
        ),
        format!(
            "States: {}; a case starts {}",
            states.iter().map(|s| s.en.as_str()).collect::<Vec<_>>().join(", "),
            state(&w.initial).en
        ),
    ));
    for c in &w.checklists {
        let zh: Vec<&str> = c.items.iter().map(|i| i.name.zh.as_str()).collect();
        let en: Vec<&str> = c.items.iter().map(|i| i.name.en.as_str()).collect();
        let (uz, ue) = match c.unclear {
            crate::workflow::Unclear::No => ("不确定按否计", "unclear counts as no"),
            crate::workflow::Unclear::Yes => ("不确定按是计", "unclear counts as yes"),
        };
        out.push(line(
            1,
            Some(&c.rule),
            format!("清单「{}」：{}；每项回答是、否或不确定，{uz}；全部答完且没有按否计的项才通过", c.name.zh, zh.join("、")),
            format!(
                "Checklist “{}”: {}; each answered yes, no or unclear, {ue}; it passes when all are answered and none counts as no",
                c.name.en,
                en.join(", ")
            ),
        ));
    }
    for g in &w.guards {
        out.push(line(
            1,
            Some(&g.rule),
            format!("开启前检查，不符合时拒绝：{}", g.text.zh),
            format!("Checked before a case opens; when it fails: {}", g.text.en),
        ));
    }
    if !w.open_by.is_empty() {
        let who = roles(p, &w.open_by);
        out.push(line(1, r, format!("由{}开启", who.zh), format!("Opened by {}", who.en)));
    }
    let field_name = |id: &str| w.field_name(id);
    for s in &w.states {
        let Some(req) = &s.requires else { continue };
        let names: Vec<Text> = req.fields.iter().map(|f| field_name(f)).collect();
        let names = Text::quoted_list(&names);
        let (cz, ce) = if req.when.is_some() {
            ("（视情况而定）", " (when its condition holds)")
        } else {
            ("", "")
        };
        out.push(line(
            1,
            Some(&req.rule),
            format!("进入「{}」须具备{}{cz}，日期须未过期", s.name.zh, names.zh),
            format!("A case enters {} only with {}{ce}, dates not past", s.name.en, names.en),
        ));
    }
    for f in &w.fields {
        if let Some(rule) = &f.not_in_directory {
            out.push(line(
                1,
                Some(rule),
                format!("「{}」不能是客户名录中已有的客户", f.name.zh),
                format!("“{}” may not name a customer already in the directory", f.name.en),
            ));
        }
    }
    if let Some(seen) = &w.visible_to {
        let who = roles(p, &seen.roles);
        out.push(line(
            1,
            Some(&seen.rule),
            format!("案件只有{}和案件本身的人员（开启人、经办过的人）可以看到", who.zh),
            format!(
                "Its cases are seen only by {} and the case's own people (who opened it or took a step on it)",
                who.en
            ),
        ));
    }
    if let Some(b) = &w.budget {
        let (mut z, mut e) = (
            format!(
                "「{}」：按「{}」中的名目编制，支出逐项记入，与日常费用分开",
                b.name.zh,
                field_name(&b.lines).zh
            ),
            format!(
                "“{}”: filed as the lines of “{}”, spending recorded line by line, apart from ordinary costs",
                b.name.en,
                field_name(&b.lines).en
            ),
        );
        z.push_str(&format!("；单项支出最多超出该项预算 {}%", b.tolerance_percent));
        e.push_str(&format!(
            "; a line may be overspent by at most {}%",
            b.tolerance_percent
        ));
        if let Some(cap) = b.cap {
            let (uz, ue) = if b.until.is_some() {
                ("取得实质性进展前", "until substantive progress")
            } else {
                ("", "always")
            };
            z.push_str(&format!("；{uz}支出合计不超过 {} 元", yuan(cap)));
            e.push_str(&format!(
                "; {ue}, all spending together stays within {} yuan",
                yuan(cap)
            ));
        }
        out.push(line(1, Some(&b.rule), z, e));
    }
    for k in &w.rankings {
        let within: Vec<&str> = k
            .states
            .iter()
            .filter_map(|s| w.state(s))
            .map(|s| s.name.zh.as_str())
            .collect();
        let within_en: Vec<&str> = k
            .states
            .iter()
            .filter_map(|s| w.state(s))
            .map(|s| s.name.en.as_str())
            .collect();
        let (cz, ce) = if k.flag_when.is_some() {
            ("且符合条件的", " that meet its conditions")
        } else {
            ("", "")
        };
        out.push(line(
            1,
            Some(&k.rule),
            format!(
                "「{}」：「{}」的案件按得分排名，前 {} 名{cz}标为「{}」",
                k.name.zh,
                within.join("、"),
                k.top,
                k.flag.zh
            ),
            format!(
                "“{}”: cases {} are ranked by their score, and the top {}{ce} are flagged “{}”",
                k.name.en,
                within_en.join(" or "),
                k.top,
                k.flag.en
            ),
        ));
    }
    for f in &w.figures {
        out.push(line(
            1,
            Some(&f.rule),
            format!("按案件数据计算「{}」", f.name.zh),
            format!("“{}” is worked out from the case", f.name.en),
        ));
    }
    let opening = effects(p, w, &w.on_open);
    if !opening.is_empty() {
        let (zh, en): (Vec<String>, Vec<String>) = opening.into_iter().unzip();
        out.push(line(
            1,
            r,
            format!("开启时{}", zh.join("；")),
            format!("Opening a case {}", en.join("; ")),
        ));
    }
    for a in &w.actions {
        // The policy's role names, and the workflow's names for its relations (the opener, the
        // customer's holder, the head of a named person's unit).
        let names: Vec<Text> =
            a.by.iter()
                .map(|r| {
                    if p.role(r).is_some() || r == crate::workflow::OPENER {
                        p.role_name(r)
                    } else {
                        w.roles_text(&[r])
                    }
                })
                .collect();
        let who = Text::new(
            names.iter().map(|n| n.zh.as_str()).collect::<Vec<_>>().join("、"),
            names.iter().map(|n| n.en.as_str()).collect::<Vec<_>>().join(", "),
        );
        let from: Vec<Text> = a.from.iter().map(|f| state(f)).collect();
        let from = Text::new(
            from.iter().map(|s| s.zh.as_str()).collect::<Vec<_>>().join("、"),
            from.iter().map(|s| s.en.as_str()).collect::<Vec<_>>().join(" or "),
        );
        let (mut z, mut e) = match &a.to {
            _ if !a.routes.is_empty() => {
                let ways: Vec<(String, String)> = a
                    .routes
                    .iter()
                    .map(|r| {
                        let why = &r.name;
                        (
                            format!("{}时转为「{}」", why.zh, state(&r.to).zh),
                            format!("to {} when {}", state(&r.to).en, why.en),
                        )
                    })
                    .chain(a.to.iter().map(|t| {
                        (
                            format!("否则转为「{}」", state(t).zh),
                            format!("otherwise to {}", state(t).en),
                        )
                    }))
                    .collect();
                (
                    format!(
                        "{}在「{}」时可以「{}」：{}",
                        who.zh,
                        from.zh,
                        a.name.zh,
                        ways.iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join("，")
                    ),
                    format!(
                        "{} may “{}” when it is {}: it goes {}",
                        who.en,
                        a.name.en,
                        from.en,
                        ways.iter().map(|w| w.1.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            }
            Some(to) => (
                format!(
                    "{}在「{}」时可以「{}」，转为「{}」",
                    who.zh,
                    from.zh,
                    a.name.zh,
                    state(to).zh
                ),
                format!(
                    "{} may “{}” when it is {}, and it becomes {}",
                    who.en,
                    a.name.en,
                    from.en,
                    state(to).en
                ),
            ),
            None => (
                format!("{}在「{}」时可以「{}」", who.zh, from.zh, a.name.zh),
                format!("{} may “{}” when it is {}", who.en, a.name.en, from.en),
            ),
        };
        if let Some(statement) = &a.attest {
            z.push_str(&format!("；须声明：{}", statement.zh));
            e.push_str(&format!("; whoever takes it states: {}", statement.en));
        }
        if let Some(c) = &a.count {
            let name = field_name(c);
            match a.at_most {
                Some(n) => {
                    z.push_str(&format!("；最多 {n} 次，次数记在「{}」", name.zh));
                    e.push_str(&format!("; at most {n} times, counted in “{}”", name.en));
                }
                None => {
                    z.push_str(&format!("；次数记在「{}」", name.zh));
                    e.push_str(&format!("; the times are counted in “{}”", name.en));
                }
            }
        }
        match a.signoff {
            Signoff::Any => {}
            Signoff::All => {
                z.push_str("；每个角色各签一次，由不同的人签，最后一人签后生效");
                e.push_str("; each role signs, each by a different person, and it takes effect on the last");
            }
            Signoff::Sequence => {
                z.push_str("；按所列顺序逐一签署，由不同的人签，最后一人签后生效");
                e.push_str("; each role signs in the order listed, each by a different person, and it takes effect on the last");
            }
            Signoff::Quorum(n) => {
                z.push_str(&format!("；须 {n} 人签署（不同的人），第 {n} 人签后生效"));
                e.push_str(&format!(
                    "; {n} different people sign, and it takes effect on the {n}th"
                ));
            }
        }
        if let (false, Some(o)) = (a.agree.is_empty(), &a.otherwise) {
            let names: Vec<Text> = a.agree.iter().map(|f| field_name(f)).collect();
            let zh: Vec<String> = names.iter().map(|n| format!("「{}」", n.zh)).collect();
            let en: Vec<String> = names.iter().map(|n| format!("“{}”", n.en)).collect();
            z.push_str(&format!(
                "；各人所签的{}须一致，不一致时转为「{}」",
                zh.join("、"),
                state(o).zh
            ));
            e.push_str(&format!(
                "; each signs the same {}, and when one differs it becomes {}",
                en.join(" and "),
                state(o).en
            ));
        }
        if a.not_opener {
            z.push_str("；开启案件的人不能进行");
            e.push_str("; not by whoever opened the case");
        }
        if a.note {
            z.push_str("；须写明理由");
            e.push_str("; with a note giving the reason");
        }
        for g in &a.guards {
            z.push_str(&format!("；先检查条件，不符合时拒绝：{}", g.text.zh));
            e.push_str(&format!(
                "; its condition is checked first, and when it fails: {}",
                g.text.en
            ));
        }
        for id in &a.answers {
            if let Some(c) = w.checklist(id) {
                z.push_str(&format!("；回答清单「{}」", c.name.zh));
                e.push_str(&format!("; answers the checklist “{}”", c.name.en));
            }
        }
        if let (Some(_), Some(b)) = (&a.spend, &w.budget) {
            z.push_str(&format!("；记入「{}」的支出", b.name.zh));
            e.push_str(&format!("; records spending against the “{}”", b.name.en));
        }
        for (from, to) in &a.adds {
            z.push_str(&format!("；「{}」累计入「{}」", field_name(from).zh, field_name(to).zh));
            e.push_str(&format!(
                "; “{}” adds up into “{}”",
                field_name(from).en,
                field_name(to).en
            ));
        }
        for (zh, en) in effects(p, w, &a.effects) {
            z.push_str(&format!("；{zh}"));
            e.push_str(&format!("; {en}"));
        }
        out.push(line(1, Some(&a.rule), z, e));
    }
    for t in &w.timers {
        let within: Vec<Text> = t.states.iter().map(|s| state(s)).collect();
        let within = Text::new(
            within.iter().map(|s| s.zh.as_str()).collect::<Vec<_>>().join("、"),
            within.iter().map(|s| s.en.as_str()).collect::<Vec<_>>().join(" or "),
        );
        let period = t.period.text();
        let restart: Vec<&crate::workflow::Action> = t.restarted_by.iter().filter_map(|a| w.action(a)).collect();
        let (mut z, mut e) = if restart.is_empty() {
            (
                format!(
                    "「{}」：案件在「{}」{} {}",
                    t.name.zh,
                    within.zh,
                    if t.repeat { "每满" } else { "满" },
                    period.zh
                ),
                if t.repeat {
                    format!("“{}”: every {} while a case is {}", t.name.en, period.en, within.en)
                } else {
                    format!("“{}”: when a case has been {} for {}", t.name.en, within.en, period.en)
                },
            )
        } else {
            let zh: Vec<&str> = restart.iter().map(|a| a.name.zh.as_str()).collect();
            let en: Vec<&str> = restart.iter().map(|a| a.name.en.as_str()).collect();
            (
                format!(
                    "「{}」：案件在「{}」时 {} 没有「{}」",
                    t.name.zh,
                    within.zh,
                    period.zh,
                    zh.join("、")
                ),
                format!(
                    "“{}”: when a case that is {} goes {} without “{}”",
                    t.name.en,
                    within.en,
                    period.en,
                    en.join("” or “")
                ),
            )
        };
        if t.unless.is_some() {
            z.push_str("（符合例外条件的案件除外）");
            e.push_str(" (except cases its exception covers)");
        }
        if let Some(to) = &t.to {
            z.push_str(&format!("，转为「{}」", state(to).zh));
            e.push_str(&format!(", it becomes {}", state(to).en));
        } else if t.overdue {
            z.push_str("，标为逾期");
            e.push_str(", it is marked overdue");
        }
        for (zh, en) in effects(p, w, &t.effects) {
            z.push_str(&format!("；{zh}"));
            e.push_str(&format!("; {en}"));
        }
        out.push(line(1, Some(&t.rule), z, e));
    }
}

/// Effects in words: the ledger code by its name, and whom it is charged to when that is the
/// opener (an expression's source is for `kehu policy check`, not for readers).
fn effects(p: &Policy, w: &crate::workflow::Workflow, defs: &[crate::workflow::Declared]) -> Vec<(String, String)> {
    defs.iter()
        .map(|d| (d, effect(p, w, &d.effect)))
        .map(|(d, (zh, en))| match &d.when {
            Some(c) => {
                // A condition in words: by the fields it reads (the expression is in the file).
                let names: Vec<Text> = crate::workflow::fields_read(&c.source)
                    .iter()
                    .filter_map(|f| w.field(f))
                    .map(|f| f.name.clone())
                    .collect();
                if names.is_empty() {
                    (format!("{zh}（有条件）"), format!("{en} (under a condition)"))
                } else {
                    let names = Text::quoted_list(&names);
                    (
                        format!("{zh}（视{}而定）", names.zh),
                        format!("{en} (depending on {})", names.en),
                    )
                }
            }
            None => (zh, en),
        })
        .collect()
}

fn effect(p: &Policy, w: &crate::workflow::Workflow, d: &crate::workflow::EffectDef) -> (String, String) {
    {
        match d {
            crate::workflow::EffectDef::Charge { code, to } => {
                let name = p.ledger.code(code).map(|c| c.name.clone()).unwrap_or_default();
                let named: Vec<Text> = crate::workflow::fields_read(&to.source)
                    .iter()
                    .filter_map(|f| w.field(f))
                    .map(|f| f.name.clone())
                    .collect();
                let (wz, we) = if to.source.trim() == "case.opened_by" {
                    ("开启案件的人".to_string(), "whoever opened the case".to_string())
                } else if let [one] = named.as_slice() {
                    if to.source.contains(".heads") {
                        (
                            format!("「{}」及其部门负责人", one.zh),
                            format!("“{}” and the head of their unit", one.en),
                        )
                    } else {
                        (format!("「{}」", one.zh), format!("“{}”", one.en))
                    }
                } else {
                    ("条件所指的人员".to_string(), "the staff it names".to_string())
                };
                (
                    format!("按「{}」记给{wz}", name.zh),
                    format!("charges “{}” to {we}", name.en),
                )
            }
            crate::workflow::EffectDef::SetGrade { .. } => (
                "客户的等级随之更新".to_string(),
                "the customer's grade is set from the case".to_string(),
            ),
            crate::workflow::EffectDef::Tag { tag, on: true } => {
                (format!("给客户加上标记「{tag}」"), format!("tags the customer “{tag}”"))
            }
            crate::workflow::EffectDef::Snapshot => (
                "存档一份客户档案快照（此后不变）".to_string(),
                "keeps a snapshot of the customer's profile (unchanged from then on)".to_string(),
            ),
            crate::workflow::EffectDef::Tag { tag, on: false } => (
                format!("去掉客户的标记「{tag}」"),
                format!("takes the tag “{tag}” off the customer"),
            ),
            crate::workflow::EffectDef::Set { field, .. } => {
                let name = w
                    .field(field)
                    .map(|f| f.name.clone())
                    .unwrap_or_else(|| Text::new(field, field));
                (
                    format!("更新案件的「{}」", name.zh),
                    format!("sets the case's “{}”", name.en),
                )
            }
            crate::workflow::EffectDef::Register { role, .. } => {
                let who = p.role_name(role);
                (
                    format!("把客户登记进客户名录，交给客户最少的{}", who.zh),
                    format!(
                        "registers the customer in the directory and hands it to the {} holding the fewest customers",
                        who.en
                    ),
                )
            }
            crate::workflow::EffectDef::TransferTo { to } => {
                let named: Vec<Text> = crate::workflow::fields_read(&to.source)
                    .iter()
                    .filter_map(|f| w.field(f))
                    .map(|f| f.name.clone())
                    .collect();
                match named.as_slice() {
                    [one] => (
                        format!("结束其他人的认领，把客户交给「{}」", one.zh),
                        format!("ends the others' claims and hands the customer to “{}”", one.en),
                    ),
                    _ => (
                        "结束其他人的认领，把客户交给条件所指的员工".to_string(),
                        "ends the others' claims and hands the customer to the staff member it names".to_string(),
                    ),
                }
            }
            crate::workflow::EffectDef::Open { workflow, .. } => {
                let name = p
                    .workflow(workflow)
                    .map(|o| o.name.clone())
                    .unwrap_or_else(|| Text::new(workflow, workflow));
                (
                    format!("为同一客户开启关联的「{}」", name.zh),
                    format!("opens a linked “{}” for the same customer", name.en),
                )
            }
            crate::workflow::EffectDef::Transfer { role, outside } => {
                let who = p.role_name(role);
                let (oz, oe) = if outside.is_some() {
                    ("其他部门", " in another unit")
                } else {
                    ("", "")
                };
                (
                    format!("结束现有认领，把客户转交{oz}客户最少的{}", who.zh),
                    format!(
                        "ends the customer's claims and hands it to the {}{oe} holding the fewest customers",
                        who.en
                    ),
                )
            }
        }
    }
}

/// The explanation as the pages show it: the same sentences without the IDs in parentheses
/// that `kehu policy explain` prints for whoever edits the file (`（complaint_to_boss）`,
/// `(duplicate_card)`): staff read the names the policy gives, not its internal codes.
pub fn explain_plain(p: &Policy) -> Vec<Line> {
    let ids: Vec<&str> = p
        .roles
        .iter()
        .map(|r| r.id.as_str())
        .chain(p.customers.sources.iter().map(|s| s.id.as_str()))
        .chain(p.pools.iter().map(|x| x.id.as_str()))
        .chain(p.ledger.codes.iter().map(|c| c.code.as_str()))
        .collect();
    let strip = |s: &str, open: &str, close: &str| {
        ids.iter()
            .fold(s.to_string(), |s, id| s.replace(&format!("{open}{id}{close}"), ""))
    };
    explain(p)
        .into_iter()
        .map(|l| Line {
            text: Text::new(strip(&l.text.zh, "（", "）"), strip(&l.text.en, " (", ")")),
            ..l
        })
        .collect()
}

/// Sources by name, `“来电”“来访”` / `Inbound call, Walk-in`; free text as written.
/// What someone holding `r` sees, in words: the default and each kind set otherwise.
fn sees_line(r: &super::Role) -> Line {
    use super::visibility::{RecordKind, Scope};
    // In words: the scope of all records, then of one kind.
    let all_of = |s: Scope| match s {
        Scope::Own => ("本人的记录", "their own records".to_string()),
        Scope::Unit => (
            "本部门及下级部门的记录",
            "the records of their unit and the units below".to_string(),
        ),
        Scope::All => ("全部记录", "all records".to_string()),
    };
    let kind = |k: RecordKind| match k {
        RecordKind::Customers => ("客户", "customers"),
        RecordKind::Claims => ("登记", "claims"),
        RecordKind::Activities => ("跟进", "follow-ups"),
        RecordKind::Ledger => ("台账", "ledger entries"),
        RecordKind::History => ("历史", "history"),
        RecordKind::Sales => ("成交", "sales"),
        RecordKind::Events => ("联合会议", "joint events"),
        RecordKind::Cases => ("案件", "cases"),
    };
    let one = |s: Scope, k: RecordKind| {
        let (z, e) = kind(k);
        match s {
            Scope::Own => (format!("本人的{z}"), format!("their own {e}")),
            Scope::Unit => (
                format!("本部门及下级部门的{z}"),
                format!("the {e} of their unit and below"),
            ),
            Scope::All => (format!("全部{z}"), format!("all {e}")),
        }
    };
    let mut counts = std::collections::BTreeMap::new();
    for k in RecordKind::ALL {
        *counts.entry(r.sees.scope(k)).or_insert(0) += 1;
    }
    let default = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(s, _)| *s)
        .unwrap_or(Scope::All);
    let (dz, de) = all_of(default);
    let mut zh = format!("可以查看{dz}");
    let mut en = format!("Sees {de}");
    let others: Vec<RecordKind> = RecordKind::ALL
        .into_iter()
        .filter(|k| r.sees.scope(*k) != default)
        .collect();
    if !others.is_empty() {
        let (z, e): (Vec<String>, Vec<String>) = others.iter().map(|k| one(r.sees.scope(*k), *k)).unzip();
        zh.push_str(&format!("，但{}", z.join("、")));
        en.push_str(&format!(", but {}", e.join(", ")));
    }
    if r.sees.unowned_customers && r.sees.scope(RecordKind::Customers) != Scope::All {
        zh.push_str("；也能看到无人归属的客户");
        en.push_str("; also customers nobody owns");
    }
    line(2, None, zh, en)
}

fn sources_text(p: &Policy, ids: &[String]) -> Text {
    let names: Vec<Text> = ids.iter().map(|s| p.source_name(s)).collect();
    Text::new(
        format!(
            "“{}”",
            names.iter().map(|n| n.zh.as_str()).collect::<Vec<_>>().join("”“")
        ),
        names.iter().map(|n| n.en.as_str()).collect::<Vec<_>>().join(", "),
    )
}

/// A label inside a sentence: "Call" becomes "call", "SMS" stays "SMS".
fn lower(label: &str) -> String {
    if label.chars().all(|c| !c.is_lowercase()) {
        label.to_string()
    } else {
        label.to_lowercase()
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::sample;

    #[test]
    fn the_plain_explanation_names_things_without_their_ids() {
        let p = sample();
        let code = &p.ledger.codes[0];
        let with = explain(&p);
        let plain = explain_plain(&p);
        assert_eq!(with.len(), plain.len());
        assert!(with.iter().any(|l| l.text.zh.contains(&format!("（{}）", code.code))));
        for l in &plain {
            for c in &p.ledger.codes {
                assert!(!l.text.zh.contains(&format!("（{}）", c.code)), "{}", l.text.zh);
                assert!(!l.text.en.contains(&format!("({})", c.code)), "{}", l.text.en);
            }
        }
        assert!(plain.iter().any(|l| l.text.zh.contains(&code.name.zh)));
    }

    #[test]
    fn every_rule_of_the_sample_is_explained_in_both_languages() {
        let lines = explain(&sample());
        let rules: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.rule.as_ref().map(|r| r.as_str()))
            .collect();
        for r in ["R5.1", "R5.2", "R5.3", "R5.4", "R5.5", "R5.6", "R5.17", "R6.1"] {
            assert!(rules.contains(&r), "{r} missing from {rules:?}");
        }
        let all_zh: String = lines.iter().map(|l| l.text.zh.as_str()).collect::<Vec<_>>().join("\n");
        assert!(all_zh.contains("生效后 3 天内须首次跟进，否则登记作废"), "{all_zh}");
        assert!(all_zh.contains("本月第 2 次起每次 40.00 元"), "{all_zh}");
        assert!(all_zh.contains("本月第 3 次起，需劝退审查"), "{all_zh}");
        let all_en: String = lines.iter().map(|l| l.text.en.as_str()).collect::<Vec<_>>().join("\n");
        assert!(
            all_en.contains("from the 3rd time in a month, dismissal review"),
            "{all_en}"
        );
        assert!(lines.iter().all(|l| !l.text.zh.is_empty() && !l.text.en.is_empty()));
    }

    fn explained(src: &str) -> (String, String) {
        let lines = explain(&Policy::parse(src, "preset.toml").unwrap());
        assert!(lines.iter().all(|l| !l.text.zh.is_empty() && !l.text.en.is_empty()));
        let zh = lines.iter().map(|l| l.text.zh.as_str()).collect::<Vec<_>>().join("\n");
        let en = lines.iter().map(|l| l.text.en.as_str()).collect::<Vec<_>>().join("\n");
        (zh, en)
    }

    #[test]
    fn the_new_settings_of_the_presets_are_explained_in_both_languages() {
        // R5.8 and R5.7 name sources from the policy's list; R5.17 early leave escalates.
        let (zh, en) = explained(include_str!("../../../../presets/car-dealership.toml"));
        assert!(
            zh.contains("来访（walk_in）") && en.contains("Walk-in (walk_in)"),
            "{zh}"
        );
        assert!(zh.contains("来源为“来电”“来访”且留有电话的新客户"), "{zh}");
        assert!(
            en.contains("from Inbound call, Walk-in who left a phone number"),
            "{en}"
        );
        assert!(
            zh.contains("来源为“朋友介绍”“老客户转介绍”的客户归最终成交的人"),
            "{zh}"
        );
        assert!(
            zh.contains("早退（early_leave）：罚款 20.00 元；本月第 2 次起每次 40.00 元；本月第 3 次起，需劝退审查"),
            "{zh}"
        );
        // R3.3 by the time on the form, R3.1 the cut-off it depends on.
        let (zh, en) = explained(include_str!("../../../../presets/property-archives.toml"));
        assert!(zh.contains("按时上交的登记表上登记时间最早者拥有该客户"), "{zh}");
        assert!(en.contains("a form handed in late counts from its submission"), "{en}");
        assert!(zh.contains("次日 10:00 前"), "{zh}");
        // R11.4 keeps other divisions off; R11.2 points come with the check-in.
        let (zh, en) = explained(include_str!("../../../../presets/event-customers.toml"));
        assert!(zh.contains("已有部门邀约并确认的客户，其他部门不能再邀约"), "{zh}");
        assert!(en.contains("no other division may invite them"), "{en}");
        assert!(zh.contains("由协调助理或总经理为到会的受邀顾客签到"), "{zh}");
        assert!(
            zh.contains("老顾客带来的新顾客参加会议（在会上签到）：老顾客得 100 分"),
            "{zh}"
        );
        assert!(!zh.contains("确认参会"), "{zh}");
    }

    #[test]
    fn who_sees_what_who_grants_what_and_the_limits_are_explained() {
        let (zh, en) = explained(include_str!("../../../../presets/car-dealership.toml"));
        assert!(zh.contains("可以查看本人的记录；也能看到无人归属的客户"), "{zh}");
        assert!(
            en.contains("Sees the records of their unit and the units below; also customers nobody owns"),
            "{en}"
        );
        assert!(
            en.contains("Besides their own role, may grant: Sales consultant, Team leader, Sales assistant"),
            "{en}"
        );
        assert!(zh.contains("职责分离：任何人不能确认自己的登记"), "{zh}");
        assert!(en.contains("dated at most 90 days back"), "{en}");
        let (_, en) = explained(include_str!("../../../../presets/event-customers.toml"));
        assert!(en.contains("Sees their own records, but all customers"), "{en}");
    }

    #[test]
    fn r11_9_the_complaint_workflow_is_explained_with_its_conditions_and_handover() {
        let src = include_str!("../../../../presets/event-customers.toml");
        let p = Policy::parse(src, "event-customers.toml").unwrap();
        let lines = explain(&p);
        let r119: Vec<&Line> = lines
            .iter()
            .filter(|l| l.rule.as_ref().is_some_and(|r| r.as_str() == "R11.9"))
            .collect();
        let zh: Vec<&str> = r119.iter().map(|l| l.text.zh.as_str()).collect();
        assert!(
            zh.iter()
                .any(|z| z.contains("按「客户投诉至老板」记给「被投诉员工」及其部门负责人（视「投诉至老板」而定）")),
            "{zh:?}"
        );
        assert!(
            zh.iter()
                .any(|z| z.contains("3 天") && z.contains("转交其他部门客户最少的销售员")),
            "{zh:?}"
        );
        assert!(r119.iter().any(|l| l.text.en.contains("Division head")), "{r119:?}");
    }
}
