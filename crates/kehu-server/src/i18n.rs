//! Interface strings for the web pages, Chinese first. `tr(key, lang)` returns the string;
//! a missing key shows the key itself so it is noticed, and a test checks every key has both.

use kehu_domain::Lang;

static STRINGS: &[(&str, &str, &str)] = &[
    ("app.name", "客户", "Kehu"),
    ("app.tagline", "按您的制度管理客户", "Customer rules, enforced and explained"),
    ("nav.customers", "客户", "Customers"),
    ("nav.new_customer", "登记客户", "New customer"),
    ("nav.logout", "退出", "Log out"),
    ("nav.lang_switch", "English", "中文"),
    ("login.title", "登录", "Log in"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    ("list.title", "客户列表", "Customers"),
    ("list.search_placeholder", "按姓名任意部分或电话搜索", "Search any part of a name, or a phone"),
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
    ("new.duplicate", "该客户已经登记过：", "This customer is already registered:"),
    ("new.open", "查看", "Open"),
    ("new.check", "正在检查是否重复…", "Checking for duplicates…"),
    ("new.maybe_dup", "可能重复：", "Possible duplicate:"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.not_found", "页面不存在", "Page not found"),
    ("error.back", "返回客户列表", "Back to customers"),
    ("error.csrf", "页面已过期，请刷新后重试", "The page expired; reload and try again"),
    ("action.history_ok", "历史记录完整", "History intact"),
    ("event.customer.create", "登记客户", "Customer registered"),
    ("event.claim.register", "登记归属", "Claim registered"),
    ("event.claim.confirm", "确认登记", "Claim confirmed"),
    ("event.activity.create", "记录跟进", "Follow-up recorded"),
];

pub fn tr(key: &str, lang: Lang) -> &str {
    STRINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
        .unwrap_or(key)
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
    }
}
