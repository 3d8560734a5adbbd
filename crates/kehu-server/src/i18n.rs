//! Interface strings for the web pages, Chinese first. `tr(key, lang)` returns the string;
//! a missing key shows the key itself so it is noticed, and a test checks every key has both.

use kehu_domain::Lang;

static STRINGS: &[(&str, &str, &str)] = &[
    ("app.name", "客户", "Kehu"),
    (
        "app.tagline",
        "按您的制度管理客户",
        "Customer rules, enforced and explained",
    ),
    ("nav.customers", "客户列表", "Customers"),
    ("nav.new_customer", "登记客户", "New customer"),
    ("nav.logout", "退出", "Log out"),
    ("nav.lang_switch", "English", "中文"),
    ("login.title", "登录", "Log in"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    ("list.title", "客户列表", "Customers"),
    (
        "list.search_placeholder",
        "按姓名任意部分或电话搜索",
        "Search any part of a name, or a phone",
    ),
    ("list.search", "搜索", "Search"),
    ("list.name", "名称", "Name"),
    ("list.kind", "类型", "Kind"),
    ("list.phones", "电话", "Phones"),
    ("list.owner", "归属", "Owner"),
    ("list.created", "登记时间", "Registered"),
    ("list.empty", "没有找到客户", "No customers found"),
    ("list.next", "下一页", "Next page"),
    ("list.first", "第一页", "First page"),
    ("kind.person", "个人", "Person"),
    ("kind.company", "单位", "Company"),
    ("owner.none", "暂无归属", "No owner"),
    ("detail.ownership", "归属", "Ownership"),
    ("detail.claims", "登记", "Claims"),
    ("detail.activities", "跟进记录", "Follow-ups"),
    ("detail.history", "变更历史", "History"),
    ("detail.profile", "客户资料", "Profile"),
    ("detail.grade", "等级", "Grade"),
    ("detail.source", "来源", "Source"),
    ("detail.agent", "中介", "Agent"),
    ("detail.claim_me", "登记为我的客户", "Claim for me"),
    ("detail.confirm", "确认", "Confirm"),
    ("detail.add_activity", "记录跟进", "Record follow-up"),
    ("detail.channel", "方式", "Channel"),
    ("detail.note", "备注", "Note"),
    ("detail.save", "保存", "Save"),
    ("detail.no_claims", "还没有登记", "No claims yet"),
    ("detail.no_activities", "还没有跟进记录", "No follow-ups yet"),
    ("detail.holder", "登记人", "Holder"),
    ("detail.status", "状态", "Status"),
    ("detail.registered", "登记时间", "Registered"),
    ("detail.effective", "生效时间", "Effective"),
    ("detail.actor", "操作人", "By"),
    ("detail.rule", "依据", "Rule"),
    ("detail.system", "系统", "System"),
    ("new.title", "登记新客户", "Register a customer"),
    ("new.kind", "客户类型", "Kind"),
    ("new.name", "名称", "Name"),
    ("new.phones", "电话（每行一个）", "Phones (one per line)"),
    ("new.source", "来源", "Source"),
    ("new.agent", "中介（如有）", "Agent (if any)"),
    ("new.grade", "等级", "Grade"),
    ("new.submit", "登记", "Register"),
    (
        "new.duplicate",
        "该客户已经登记过：",
        "This customer is already registered:",
    ),
    ("new.open", "查看", "Open"),
    ("new.maybe_dup", "可能重复：", "Possible duplicate:"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.not_found", "页面不存在", "Page not found"),
    ("error.back", "返回客户列表", "Back to customers"),
    (
        "error.csrf",
        "页面已过期，请刷新后重试",
        "The page expired; reload and try again",
    ),
    ("action.history_ok", "历史记录完整", "History intact"),
    ("event.customer.create", "登记客户", "Customer registered"),
    ("event.claim.register", "登记归属", "Claim registered"),
    ("event.claim.confirm", "确认登记", "Claim confirmed"),
    ("event.activity.create", "记录跟进", "Follow-up recorded"),
    ("app.brand", "客户 Kehu", "客户 Kehu"),
    ("nav.main", "主导航", "Main navigation"),
    ("nav.signed_in", "当前用户", "Signed in as"),
    ("nav.switch_title", "Switch to English", "切换到中文"),
    (
        "login.intro",
        "请使用您的工作账号登录",
        "Sign in with your work account",
    ),
    ("list.clear", "清除", "Clear"),
    ("list.results_for", "搜索结果：", "Results for:"),
    (
        "list.empty_hint",
        "试试输入姓名中的一个字，或电话号码的一部分。",
        "Try one character of the name, or part of a phone number.",
    ),
    ("list.empty_all", "还没有客户", "No customers yet"),
    (
        "list.empty_all_hint",
        "登记第一位客户后，会显示在这里。",
        "Customers you register will be listed here.",
    ),
    ("list.paging", "分页", "Pagination"),
    (
        "list.more_hint",
        "每页显示 50 位客户，按登记时间从新到旧排列。",
        "50 customers per page, newest first.",
    ),
    (
        "new.intro",
        "登记前系统会按电话和单位名称检查是否重复。",
        "Kehu checks phones and company names for duplicates before registering.",
    ),
    ("new.required", "必填", "required"),
    ("new.optional", "选填", "optional"),
    (
        "new.name_placeholder",
        "例如：张三 或 华信科技有限公司",
        "e.g. Zhang San, or Huaxin Technology Co., Ltd.",
    ),
    (
        "new.phones_hint",
        "手机或座机均可，系统会自动识别重复号码。",
        "Mobile or landline; duplicate numbers are detected automatically.",
    ),
    ("new.grade_placeholder", "例如：A", "e.g. A"),
    ("new.cancel", "取消", "Cancel"),
    ("new.dup_title", "可能重复登记", "Possible duplicate"),
    (
        "new.dup_hint",
        "请不要重复登记。如需跟进，请打开已有的客户。",
        "Please do not register it twice; open the existing customer to follow up.",
    ),
    ("new.matched_phone", "电话相同", "Same phone"),
    ("new.matched_company", "单位名称相同", "Same company name"),
    ("source.inbound_call", "来电", "Inbound call"),
    ("source.walk_in", "到店", "Walk-in"),
    ("source.self", "自主开发", "Self-sourced"),
    ("source.referral", "老客户介绍", "Referral"),
    ("source.event", "活动", "Event"),
    ("detail.policy_version", "制度版本", "Policy version"),
    ("detail.created_by", "录入人", "Entered by"),
    ("detail.none", "未填写", "Not given"),
    ("detail.time", "时间", "Time"),
    ("detail.confirmed_by", "确认人", "Confirmed by"),
    ("detail.staff", "跟进人", "Staff"),
    ("detail.event", "事件", "Event"),
    ("detail.actions", "操作", "Actions"),
    ("detail.you_hold", "你已登记该客户", "You hold a claim on this customer"),
    (
        "detail.note_placeholder",
        "沟通内容、客户意向、下一步安排",
        "What was discussed, the customer's intent, next steps",
    ),
    ("detail.no_history", "暂无历史记录", "No history yet"),
    (
        "detail.history_hint",
        "每条记录写入后不可修改，并以哈希链校验。",
        "Entries cannot be changed once written; they are hash-chained.",
    ),
    ("detail.back", "返回客户列表", "Back to customers"),
    ("flash.created", "客户已登记", "Customer registered"),
    ("flash.claim", "登记已提交", "Claim registered"),
    ("flash.confirm", "登记已确认", "Claim confirmed"),
    ("flash.activity", "跟进已记录", "Follow-up recorded"),
    ("error.forbidden", "请求被拒绝", "Request refused"),
    (
        "error.not_found_hint",
        "您访问的页面不存在，或已被移动。",
        "The page you asked for does not exist or has moved.",
    ),
    ("punct.colon", "：", ": "),
];

pub fn tr(key: &str, lang: Lang) -> &str {
    lookup(key, lang).unwrap_or(key)
}

/// The string for `key`, or `None` when there is none (for labels built from data, such as
/// `event.claim.register`, that fall back to something else).
pub fn lookup(key: &str, lang: Lang) -> Option<&'static str> {
    STRINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut keys: Vec<&str> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate i18n key");
        for (k, zh, en) in STRINGS {
            assert!(!zh.is_empty() && !en.is_empty(), "{k} lacks a language");
        }
        assert_eq!(tr("nav.customers", Lang::En), "Customers");
        assert_eq!(tr("no.such.key", Lang::Zh), "no.such.key");
        assert_eq!(lookup("no.such.key", Lang::En), None);
    }
}
