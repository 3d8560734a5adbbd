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
    ("login.more", "登录其他企业", "Another company"),
    ("login.tenant", "企业代码", "Company code"),
    (
        "login.tenant_hint",
        "同一用户名在多家企业使用时填写，例如 acme",
        "Only needed when several companies use your username, e.g. acme",
    ),
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
    (
        "detail.claim_anyway",
        "仍然登记（重复登记）",
        "Claim anyway (a second claim)",
    ),
    ("detail.owned_by", "此客户已归 ", "This customer is owned by "),
    (
        "detail.owned_by_after",
        " 所有：你的登记将是重复登记，由归属规则决定谁的登记有效。",
        ": yours would be a second claim, and the ownership rule decides which one counts.",
    ),
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
    ("new.source_none", "未填写", "Not given"),
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
    ("nav.claims", "我的登记", "My claims"),
    ("nav.void", "作废的登记", "Void claims"),
    ("nav.ledger", "台账", "Ledger"),
    ("detail.kind", "服务类别", "Kind of service"),
    ("claims.title", "我的登记", "My claims"),
    ("claims.of", "的登记", "'s claims"),
    (
        "claims.intro",
        "期限按本公司所在时区显示。本制度的跟进规则：",
        "Times are in the company's zone. The follow-up rules of this policy:",
    ),
    ("claims.whose", "查看谁的登记", "Whose claims"),
    ("claims.show", "查看", "Show"),
    ("claims.standing", "进行中", "Standing"),
    ("claims.none_standing", "没有进行中的登记", "No standing claims"),
    ("claims.due", "待办", "Due"),
    ("claims.limit", "期限", "Limit"),
    ("claims.left", "剩余时间", "Time left"),
    ("claims.no_limit", "无期限", "No limit"),
    ("claims.ended", "已结束", "Ended"),
    ("claims.none_ended", "没有已结束的登记", "No ended claims"),
    ("claims.ended_at", "结束时间", "Ended"),
    ("claims.reason", "原因", "Reason"),
    ("claims.reassigned", "转交", "Reassigned"),
    ("void.title", "作废的登记", "Void claims"),
    (
        "void.then",
        "转交后，新登记人按同样的规则跟进。",
        "The new holder then follows up under the same rules.",
    ),
    ("void.empty", "没有待转交的作废登记", "No void claims to reassign"),
    (
        "void.empty_hint",
        "登记逾期未跟进而作废后，会显示在这里。",
        "Claims that lapse without a follow-up are listed here.",
    ),
    ("void.former_holder", "原登记人", "Former holder"),
    ("void.reassign_to", "转交给", "Reassign to"),
    ("void.choose", "请选择", "Choose…"),
    ("void.choose_holder", "选择接手人…", "Choose who takes it…"),
    ("void.reassign", "转交", "Reassign"),
    (
        "flash.reassign",
        "登记已转交，新登记人即日起按同样的规则跟进",
        "Claim reassigned; the new holder follows up under the same rules",
    ),
    (
        "flash.cancel",
        "登记已撤销，记录保留",
        "Claim cancelled; it is kept on record",
    ),
    ("flash.confirm_follow_up", "跟进已确认", "Follow-up confirmed"),
    ("flash.ledger_added", "台账记录已添加", "Ledger entry added"),
    ("flash.ledger_reversed", "已冲销", "Entry reversed"),
    ("cancel.open", "撤销…", "Cancel…"),
    ("cancel.title", "撤销此登记", "Cancel this claim"),
    ("cancel.reason", "撤销原因（必填）", "Reason for cancelling (required)"),
    (
        "cancel.placeholder",
        "请写明撤销的详细原因",
        "Write why the claim is cancelled",
    ),
    ("cancel.submit", "确认撤销", "Cancel the claim"),
    ("follow.confirmed", "已确认：", "Confirmed:"),
    ("follow.confirm", "确认此次跟进", "Confirm this follow-up"),
    ("claims.sign", "签字确认", "Sign to confirm"),
    ("ledger.title", "台账", "Ledger"),
    (
        "ledger.intro_reader",
        "本月的罚款、扣分与奖励，按人和部门汇总。记录不可修改，错误以冲销更正。",
        "The month's fines, points and rewards, totalled per person and unit. Entries are never edited; mistakes are reversed.",
    ),
    (
        "ledger.intro_own",
        "你本月的罚款、扣分与奖励。",
        "Your fines, points and rewards this month.",
    ),
    ("ledger.prev", "上个月", "Previous month"),
    ("ledger.next", "下个月", "Next month"),
    ("ledger.month", "月份", "Month"),
    ("ledger.empty_month", "本月暂无记录：", "No entries yet in"),
    (
        "ledger.showing_latest",
        "显示有记录的最近月份",
        "showing the latest month with entries,",
    ),
    ("ledger.person", "人员", "Person"),
    ("ledger.everyone", "全部人员", "Everyone"),
    ("ledger.add", "录入台账", "Add an entry"),
    ("ledger.code", "项目", "Item"),
    ("ledger.quantity", "次数", "Count"),
    (
        "ledger.add_hint",
        "金额和分数按本公司制度计算，包括同一项目在本月重复时的加价。",
        "The amount and points follow the company's policy, including the price of an item repeated in the same month.",
    ),
    ("ledger.add_submit", "录入", "Add entry"),
    ("ledger.statement", "月度汇总", "Monthly statement"),
    ("ledger.no_entries", "本月没有记录", "No entries this month"),
    ("ledger.by_person", "按人员汇总", "Per person"),
    ("ledger.entries", "笔数", "Entries"),
    ("ledger.fines", "罚款（元）", "Fines (yuan)"),
    ("ledger.rewards", "奖励（元）", "Rewards (yuan)"),
    ("ledger.points", "分数", "Points"),
    ("ledger.flag", "标记", "Flag"),
    ("ledger.total", "合计", "Total"),
    ("ledger.by_unit", "按部门汇总", "Per unit"),
    ("ledger.unit", "部门", "Unit"),
    ("ledger.entries_title", "明细", "Entries"),
    ("ledger.amount", "金额（元）", "Amount (yuan)"),
    ("ledger.reversal_of", "冲销", "Reverses"),
    ("ledger.reversed", "已冲销", "Reversed"),
    ("ledger.reverse", "冲销…", "Reverse…"),
    ("ledger.reverse_reason", "冲销原因（必填）", "Reason (required)"),
    ("ledger.reverse_submit", "确认冲销", "Reverse the entry"),
    ("ledger.yuan", "元", "yuan"),
    ("ledger.points_unit", "分", "points"),
    ("ledger.back", "返回台账", "Back to the ledger"),
    ("ledger.decision", "依据", "Decision"),
    ("ledger.facts", "决定所依据的事实", "The facts the decision used"),
    ("ledger.fact", "事实", "Fact"),
    ("ledger.value", "值", "Value"),
    ("ledger.entry", "记录", "Entry"),
    ("ledger.customer", "客户", "Customer"),
    ("ledger.event", "历史事件", "History event"),
    ("ledger.reverses", "冲销的记录", "Reverses"),
    ("ledger.reversed_by", "被冲销于", "Reversed by"),
    ("ledger.flag.dismissal_review", "需劝退审查", "Dismissal review"),
    ("ledger.kind.penalty", "罚款", "Fine"),
    ("ledger.kind.points", "扣分", "Points"),
    ("ledger.kind.reward", "奖励", "Reward"),
    ("fact.code", "项目", "Item"),
    ("fact.staff_id", "人员", "Person"),
    ("fact.entered_by", "录入人", "Entered by"),
    ("fact.at", "时间", "Time"),
    ("fact.quantity", "次数", "Count"),
    ("fact.occurrence_in_month", "本月第几次", "Number this month"),
    ("fact.amount", "金额", "Amount"),
    ("fact.points", "分数", "Points"),
    ("fact.flag", "标记", "Flag"),
    ("fact.note", "备注", "Note"),
    ("fact.reverses", "冲销的记录", "Reverses entry"),
    ("fact.reversed_by", "冲销人", "Reversed by"),
    ("fact.reason", "原因", "Reason"),
    ("fact.refers_to", "关联记录", "Refers to"),
    ("fact.customer_id", "客户", "Customer"),
    ("fact.channel", "方式", "Channel"),
    ("fact.source", "来源", "Source"),
    ("fact.receiver_id", "接待人", "Received by"),
    ("fact.registered_at", "登记时间", "Registered"),
    ("fact.due", "期限", "Due by"),
    ("fact.contact_at", "接待时间", "Met"),
    ("fact.late_until", "补交截止", "Late until"),
    ("fact.submitted_at", "提交时间", "Submitted"),
    ("fact.duplicate_claim_id", "重复的登记", "Duplicate claim"),
    ("fact.duplicate_staff_id", "重复登记人", "Registered again by"),
    ("fact.lapsed_claim_id", "作废的登记", "Void claim"),
    ("fact.lapsed_staff_id", "原登记人", "Earlier holder"),
    ("fact.lapsed_at", "作废时间", "Void since"),
    // The facts of the decisions behind ledger entries: complaints (R11.9), joint events
    // (R11.3), conflicts (R11.6), sales and referrals (R5.7, R11.2).
    ("fact.as_manager", "按部门负责人记账", "Charged as the manager"),
    ("fact.charged", "记账对象", "Charged to"),
    ("fact.complaint_id", "投诉", "Complaint"),
    ("fact.found_at", "查实时间", "Found"),
    ("fact.found_by", "查实人", "Found by"),
    ("fact.managers", "部门负责人", "Managers"),
    ("fact.to_boss", "投诉至老板", "Complained to the boss"),
    ("fact.due_at", "期限", "Due by"),
    ("fact.resolve_within", "解决时限", "To be resolved within"),
    ("fact.resolution", "解决情况", "Resolution"),
    ("fact.resolved_by", "解决人", "Resolved by"),
    ("fact.candidates", "候选接手人", "Candidates"),
    ("fact.in_time", "按时", "In time"),
    ("fact.unit_id", "部门", "Unit"),
    ("fact.staff_unit_id", "员工所在部门", "Staff member's unit"),
    ("fact.event_id", "联合会议", "Joint event"),
    ("fact.heads", "部门负责人", "Heads"),
    ("fact.unfiled", "未报送的邀约", "Unfiled invitations"),
    ("fact.conflict_id", "冲突", "Conflict"),
    ("fact.how", "处理方式", "How"),
    ("fact.how.settled", "协商解决", "Settled by sign-offs"),
    ("fact.how.decided", "裁决", "Ruled on"),
    ("fact.award_to", "客户判给", "Awarded to"),
    ("fact.loser", "失去客户的一方", "Party that lost the customer"),
    ("fact.argued", "在客户面前争执", "Argued in front of the customer"),
    ("fact.penalty", "罚款项目", "Penalty"),
    ("fact.signoffs", "处理意见", "Sign-offs"),
    ("fact.referrer_id", "介绍人（老顾客）", "Referring customer"),
    ("fact.per", "每满", "Per"),
    ("fact.times", "次数", "Times"),
    ("fact.yes", "是", "Yes"),
    ("fact.no", "否", "No"),
    ("event.claim.cancel", "撤销登记", "Claim cancelled"),
    ("event.claim.reassign", "转交登记", "Claim reassigned"),
    ("event.claim.void", "登记作废", "Claim void"),
    ("event.claim.expired", "登记到期", "Claim expired"),
    ("event.activity.confirm", "确认跟进", "Follow-up confirmed"),
    ("event.claim.claim_from_pool", "从客户池领取", "Claimed from a pool"),
    ("nav.pools", "公海", "Pools"),
    ("pools.title", "公海客户池", "Customer pools"),
    (
        "pools.intro",
        "无人跟进而退回的客户都在这里，先领先得。",
        "Customers nobody served come back here; the first to claim one gets it.",
    ),
    ("pools.empty", "池中暂时没有客户", "Nobody is in this pool right now"),
    (
        "pools.empty_hint",
        "客户超过跟进期限未被服务时，会自动退回这里。",
        "Customers return here on their own when their holder does not serve them in time.",
    ),
    ("pools.since", "入池时间", "In the pool since"),
    ("pools.claim", "领取", "Claim"),
    (
        "pools.claim_title",
        "从客户池领取该客户",
        "Claim this customer from the pool",
    ),
    (
        "flash.pool_claim",
        "已从客户池领取该客户",
        "You claimed the customer from the pool",
    ),
    ("nav.visits", "拜访计划", "Visits"),
    ("nav.events", "联合会议", "Joint events"),
    ("sales.title", "成交", "Sales"),
    ("sales.amount", "成交金额（元）", "Amount (yuan)"),
    ("sales.event", "会上成交", "At the event"),
    ("sales.no_event", "非会上成交", "Not at an event"),
    ("sales.record", "记录成交", "Record the sale"),
    ("sales.none", "还没有成交记录", "No sales yet"),
    ("sales.yuan", "元", "yuan"),
    ("sales.credited", "业绩归", "Credited to"),
    ("sales.closer", "成交人", "Closed by"),
    (
        "sales.change_credit",
        "特殊情况：改记业绩",
        "Special case: change the credit",
    ),
    ("sales.credit_to", "改记入", "Credit to"),
    ("sales.reason", "原因", "Reason"),
    ("sales.sign", "签字", "Sign"),
    ("flash.sale", "成交已记录", "The sale is recorded"),
    ("flash.credit", "已签字", "Signed"),
    ("events.helper", "允许协助", "Let help"),
    ("events.helper_submit", "同意", "Allow"),
    ("events.flash_consent", "已同意协助", "Help allowed"),
    ("events.attendance", "到会", "Attendance"),
    ("events.attended", "已签到", "Checked in"),
    ("events.check_in", "签到", "Check in"),
    ("events.flash_checked_in", "已签到到会", "Checked in at the event"),
    ("events.title", "联合会议", "Joint events"),
    (
        "events.intro",
        "几个部门联合举办的会议：各部门按时报送已确认的邀约，迟报的部门会失去期间被另一部门邀约的客户。",
        "Events held by several divisions together: each files its confirmed invitations on time; a division that files late loses customers another invites meanwhile.",
    ),
    ("events.list", "会议", "Events"),
    ("events.empty", "还没有安排联合会议", "No joint events scheduled yet"),
    ("events.name", "会议名称", "Event"),
    ("events.starts", "开始时间", "Starts"),
    ("events.session", "场次", "Session"),
    ("events.afternoon", "下午场", "Afternoon"),
    ("events.evening", "晚场", "Evening"),
    ("events.divisions", "举办部门", "Divisions"),
    ("events.closes", "邀约截止", "Invitations close"),
    ("events.held", "已举办", "Held"),
    ("events.schedule", "安排联合会议", "Schedule a joint event"),
    ("events.division1", "第一举办部门", "First division"),
    ("events.division2", "第二举办部门", "Second division"),
    ("events.division3", "第三举办部门", "Third division"),
    (
        "events.schedule_hint",
        "时间按本公司所在时区填写；排在前面的部门提前截止邀约。",
        "Times are in the company's time zone; a division listed first closes its invitations earlier.",
    ),
    ("events.schedule_submit", "安排会议", "Schedule"),
    ("events.back", "返回联合会议", "Back to joint events"),
    ("events.file", "报送本部门邀约", "File my division's invitations"),
    (
        "events.no_invitations",
        "没有你可以查看的该部门邀约",
        "No invitations of this division that you may see",
    ),
    ("events.inviter", "邀约人", "Invited by"),
    ("events.confirmed", "确认时间", "Confirmed"),
    ("events.filing", "报送", "Filing"),
    ("events.flash_scheduled", "会议已安排", "The event is scheduled"),
    (
        "events.flash_filed",
        "已报送本部门的邀约",
        "Your division's invitations are filed",
    ),
    ("detail.invite_to", "邀约参加", "Invite to"),
    ("detail.no_event", "不指定会议", "No event"),
    ("visits.title", "拜访计划", "Visits"),
    ("visits.of", "的拜访计划", "'s visits"),
    ("visits.everyone_title", "全部人员的拜访计划", "Everyone's visits"),
    (
        "visits.intro",
        "按客户等级和标记，每位客户须在期限内拜访；逾期的排在最前。",
        "Each customer is visited within the period its grade and tags set; overdue visits come first.",
    ),
    ("visits.whose", "查看谁的拜访计划", "Whose visits"),
    ("visits.mine", "我的", "Mine"),
    ("visits.everyone", "全部人员", "Everyone"),
    ("visits.units", "部门", "Units"),
    ("visits.people", "人员", "People"),
    ("visits.filter", "筛选", "Filter"),
    ("visits.overdue_only", "仅逾期", "Overdue only"),
    ("visits.all", "全部", "All"),
    ("visits.overdue_h", "逾期未拜访", "Overdue visits"),
    ("visits.due_h", "待拜访", "Visits due"),
    ("visits.none_overdue", "没有逾期未拜访的客户", "No visits are overdue"),
    ("visits.none", "没有待拜访的客户", "No visits are due"),
    ("visits.tags", "标记", "Tags"),
    ("visits.who", "负责人", "Responsible"),
    ("visits.due", "应拜访日期", "Visit due by"),
    ("visits.duty", "须亲自拜访", "Owed in person"),
    ("detail.tags", "标记", "Tags"),
    ("event.customer.update", "修改等级和标记", "Grade and tags changed"),
    ("profile.edit", "修改等级和标记", "Change grade and tags"),
    ("profile.tags_hint", "多个标记用逗号分隔", "Separate tags with commas"),
    ("profile.save", "保存", "Save"),
    ("flash.profile", "等级和标记已更新", "Grade and tags updated"),
    ("event.complaint.record", "查实投诉", "Complaint found"),
    ("nav.cases", "案件", "Cases"),
    ("nav.today", "今日", "Today"),
    (
        "cases.retired_title",
        "此流程已不在现行制度中",
        "The active policy no longer has this workflow",
    ),
    ("today.title", "今日待办", "Today"),
    (
        "today.intro",
        "等您处理的事：案件、签字、确认、跟进、报备、拜访，逾期的在前",
        "What waits for you: cases, signatures, confirmations, follow-ups, filings and visits, overdue first",
    ),
    ("today.waiting_sr", "待办事项：", "Waiting: "),
    ("today.waiting", "项待办", "waiting"),
    ("today.overdue", "项已逾期", "overdue"),
    ("today.list", "待办事项", "To do"),
    ("today.kinds", "按类别筛选", "Filter by kind"),
    ("today.all", "全部", "All"),
    ("today.none_title", "没有待办事项", "Nothing waits for you"),
    (
        "today.none",
        "需要您处理的案件、签字和跟进会出现在这里。",
        "Cases, signatures and follow-ups that need you will appear here.",
    ),
    ("today.no_due", "无截止时间", "No due time"),
    ("today.since", "始于", "Since"),
    (
        "today.more",
        "还有更多待办未列出；处理完上面的事项后刷新即可看到。",
        "More things wait than are listed; they appear as you deal with these.",
    ),
    ("cases.title", "案件", "Cases"),
    (
        "cases.intro",
        "各流程的案件：等待谁办理、何时到期，以及每一步依据的规则。",
        "Cases of every workflow: whom they wait on, when they fall due, and the rule behind every step.",
    ),
    ("cases.open", "新建：", "New: "),
    ("cases.workflow", "流程", "Workflow"),
    ("cases.all_workflows", "全部流程", "All workflows"),
    ("cases.state", "状态", "State"),
    ("cases.all_states", "全部状态", "All states"),
    ("cases.overdue_only", "只看逾期", "Overdue only"),
    ("cases.mine_only", "与我有关", "Mine"),
    ("cases.filter", "筛选", "Filter"),
    ("cases.list", "案件列表", "Cases"),
    ("cases.none", "没有符合条件的案件", "No cases match"),
    (
        "cases.no_workflows",
        "本公司规则未定义流程",
        "The company's policy declares no workflows",
    ),
    ("cases.case", "案件", "Case"),
    ("cases.waiting_on", "等待", "Waiting on"),
    ("cases.next_timer", "下一期限", "Next deadline"),
    ("cases.updated", "更新时间", "Updated"),
    ("cases.overdue", "已逾期", "Overdue"),
    ("cases.rules", "流程规则", "The workflow's rules"),
    ("cases.back", "返回案件列表", "Back to cases"),
    ("cases.for_customer", "客户：", "Customer: "),
    ("cases.no_fields", "此流程没有表单字段", "This workflow has no fields"),
    (
        "cases.amounts_placeholder",
        "差旅费 5000\n样品费 2000",
        "travel 5000\nsamples 2000",
    ),
    (
        "cases.amounts_help",
        "每行一项：名目和金额（元）",
        "One per line: a name and an amount in yuan",
    ),
    (
        "cases.budget_unfiled",
        "预算尚未编制：编制后才能记支出",
        "No budget filed yet: spending is recorded once it is",
    ),
    ("cases.budget_line", "名目", "Line"),
    ("cases.budget_planned", "预算（元）", "Budget (yuan)"),
    ("cases.budget_spent", "已支出（元）", "Spent (yuan)"),
    ("cases.budget_total", "合计", "Total"),
    ("cases.figures", "计算数据", "Figures"),
    ("cases.charges", "本案记账（罚款、积分）", "Charged by this case"),
    ("cases.points_unit", "分", "points"),
    ("cases.links", "关联案件", "Linked cases"),
    ("cases.attest", "本人声明：", "I state: "),
    ("cases.customer_copy", "给客户的版本", "Customer copy"),
    (
        "cases.customer_copy_empty",
        "尚未填写可交给客户的内容。",
        "Nothing that may be given to the customer is filled in yet.",
    ),
    (
        "cases.customer_copy_note",
        "此版本可交给客户：不含内部字段、经办人员、预算、审核清单、记账和处理意见。",
        "This copy may be given to the customer: it leaves out internal fields, who handled it, budgets, checklists, the ledger and the decisions.",
    ),
    ("cases.what_was_done", "办理经过", "What was done"),
    ("cases.requirements", "所需材料", "What each state needs"),
    ("cases.requires", "进入「{}」须具备", "To enter {}"),
    ("cases.present", "已具备", "present"),
    ("cases.lacking", "缺少或已过期", "missing or expired"),
    ("cases.link_from", "开启本案的案件", "Opened this case"),
    ("cases.files", "附件", "Files"),
    ("cases.files_empty", "还没有附件", "No files yet"),
    (
        "cases.files_hint",
        "可上传 {kinds}，每个不超过 {size}；同一文件只存一份",
        "{kinds}, each at most {size}; the same file is kept once",
    ),
    ("cases.file_choose", "选择文件", "Choose a file"),
    ("cases.file_attach", "上传附件", "Attach the file"),
    ("cases.file_by", "上传人", "Attached by"),
    ("cases.link_to", "由本案开启", "Opened by this case"),
    ("ranking.top", "前", "Top"),
    ("ranking.list", "排名", "Ranking"),
    ("ranking.none", "还没有可排名的案件", "No cases to rank yet"),
    ("ranking.place", "名次", "Place"),
    ("ranking.score", "得分", "Score"),
    ("ranking.decision", "结果", "Result"),
    ("cases.figure_unknown", "暂无法计算", "Not yet known"),
    ("cases.open_submit", "提交", "Open the case"),
    ("cases.choose", "请选择", "Choose"),
    ("cases.yes", "是", "Yes"),
    ("cases.no", "否", "No"),
    ("cases.opened_step", "开启", "Opened"),
    ("cases.overdue_since", "逾期自", "Overdue since"),
    ("cases.opened_at", "开启于", "Opened"),
    ("cases.diagram", "流程图", "Workflow"),
    ("cases.legend_current", "当前状态", "Now"),
    ("cases.legend_visited", "经过的状态", "Been there"),
    ("cases.legend_timed", "定时转换", "Moved by a timer"),
    ("cases.next", "下一步", "What happens next"),
    (
        "cases.nothing_waits",
        "此案件不再等待任何人办理",
        "Nothing waits on anyone now",
    ),
    ("cases.waits_for", "等待：", "Waiting for: "),
    ("cases.note", "备注", "Note"),
    ("cases.needs", "条件：", "Needs: "),
    ("cases.steps", "办理记录", "Steps"),
    ("cases.by_timer", "系统定时", "Timer"),
    ("cases.fields", "表单", "Form"),
    ("cases.completeness", "完整度", "Complete"),
    ("cases.unfilled", "未填写", "Not filled in"),
    ("flash.case_opened", "案件已开启", "The case is open"),
    ("flash.case_acted", "已办理", "Done"),
    ("flash.file_attached", "附件已上传", "The file is attached"),
    ("detail.cases", "案件", "Cases"),
    ("detail.no_cases", "此客户还没有案件", "No cases for this customer yet"),
    ("cases.answer_yes", "是", "Yes"),
    ("cases.answer_no", "否", "No"),
    ("cases.answer_unclear", "不确定", "Unclear"),
    ("cases.unanswered", "未回答", "Not answered"),
    ("event.case.open", "开启", "Opened"),
    ("event.snapshot.take", "存档档案快照", "Profile snapshot kept"),
    ("snapshots.title", "档案快照", "Profile snapshots"),
    (
        "snapshots.intro",
        "按制度存档的合作方档案，存档后不再改动，可与现状对照。",
        "Profiles kept as the policy says; they never change afterwards and can be compared with today.",
    ),
    ("snapshots.one", "档案快照", "Profile snapshot"),
    ("snapshots.compare", "与现状对照", "Compared with today"),
    ("snapshots.item", "项目", "Item"),
    ("snapshots.then", "存档时", "When kept"),
    ("snapshots.now", "现在", "Today"),
    ("snapshots.none", "（无）", "(none)"),
    ("snapshots.unchanged", "存档以来没有变化", "Nothing has changed since"),
    ("snapshots.changed", "有变化的项目：", "Items changed: "),
    (
        "snapshots.kept",
        "快照存档后不可修改；存档本身记录在客户的历史中。",
        "A snapshot cannot be changed once kept; keeping it is recorded in the customer's history.",
    ),
    ("event.complaint.resolve", "投诉已解决", "Complaint resolved"),
    (
        "event.complaint.escalate",
        "投诉逾期未解决",
        "Complaint not resolved in time",
    ),
    (
        "event.claim.complaint_handover",
        "投诉未解决，客户转交",
        "Handed over after an unresolved complaint",
    ),
    // The history of conflicts recorded before R11.6 ran on the case engine (issue 10): their
    // events stay in the chain as they were written.
    ("event.conflict.open", "记录冲突", "Conflict recorded"),
    ("event.conflict.sign", "签署冲突处理意见", "Conflict sign-off"),
    ("event.conflict.escalate", "冲突上报裁决", "Conflict escalated"),
    ("event.conflict.settle", "冲突协商解决", "Conflict settled"),
    ("event.conflict.decide", "冲突裁决", "Conflict decided"),
    (
        "event.claim.conflict_lost",
        "冲突处理：登记终止",
        "Claim ended by a conflict's outcome",
    ),
    (
        "event.claim.conflict_award",
        "冲突处理：客户判归",
        "Customer awarded by a conflict's outcome",
    ),
    ("nav.org", "组织与员工", "Organisation"),
    ("org.title", "组织与员工", "Organisation and staff"),
    (
        "org.intro",
        "建立公司的单位（公司、部门、小组），添加员工并授予角色。你能修改的内容取决于你的角色。",
        "Build the company's units (company, departments, teams) and add staff with their roles. What you may change depends on your roles.",
    ),
    ("org.units", "单位", "Units"),
    (
        "org.units_hint",
        "人数为直接在该单位的在职员工",
        "Counts are the active staff placed directly in each unit",
    ),
    ("org.units_empty", "还没有单位", "No units yet"),
    (
        "org.units_empty_hint",
        "先添加公司，再在它下面添加部门和小组。",
        "Add the company first, then its departments and teams under it.",
    ),
    ("org.add_unit", "添加单位", "Add a unit"),
    ("org.unit_name", "单位名称", "Unit name"),
    ("org.unit_name_placeholder", "例如：销售部", "e.g. Sales department"),
    ("org.parent", "上级单位", "Parent unit"),
    ("org.top", "（最上级）", "(top level)"),
    ("org.add_unit_submit", "添加单位", "Add unit"),
    ("org.edit", "修改…", "Edit…"),
    ("org.save", "保存", "Save"),
    ("org.staff", "员工", "Staff"),
    (
        "org.staff_hint",
        "只能管理角色都在你授权范围内的员工",
        "You manage only staff whose roles you may all grant",
    ),
    ("org.name", "姓名", "Name"),
    ("org.name_placeholder", "例如：王芳", "e.g. Wang Fang"),
    ("org.username", "用户名", "Username"),
    (
        "org.username_hint",
        "登录用：字母、数字、下划线、点或短横线",
        "For logging in: letters, digits, _ . or -",
    ),
    ("org.unit", "单位", "Unit"),
    ("org.no_unit", "不属于任何单位", "No unit"),
    ("org.roles", "角色", "Roles"),
    (
        "org.roles_hint",
        "只列出你可以授予的角色",
        "Only the roles you may grant are listed",
    ),
    ("org.status", "状态", "Status"),
    ("org.active", "在职", "Active"),
    ("org.inactive", "已停用", "Inactive"),
    ("org.you", "你", "You"),
    (
        "org.self_hint",
        "你自己的角色和账号状态须由另一位管理者修改。",
        "Another manager changes your own roles and access.",
    ),
    ("org.add_staff", "添加员工", "Add a staff member"),
    ("org.password", "初始密码", "Initial password"),
    (
        "org.password_hint",
        "至少 8 个字符；请当面或通过可靠途径告诉员工。",
        "At least 8 characters; tell the staff member in person or another safe way.",
    ),
    ("org.add_staff_submit", "添加员工", "Add staff member"),
    ("org.new_password", "新密码", "New password"),
    (
        "org.reset_hint",
        "重设后该员工须用新密码重新登录。",
        "They are logged out and log in again with the new password.",
    ),
    ("org.reset_password", "重设密码", "Reset password"),
    ("org.deactivate", "停用账号", "Deactivate"),
    (
        "org.deactivate_hint",
        "停用后立即退出登录，不能再登录；客户和记录保留。",
        "They are logged out at once and cannot log in; their customers and records stay.",
    ),
    ("org.reactivate", "恢复账号", "Reactivate"),
    (
        "org.reactivate_hint",
        "恢复后可以用原密码再次登录。",
        "They may log in again with their password.",
    ),
    ("org.flash_unit_added", "单位已添加", "The unit is added"),
    ("org.flash_unit_saved", "单位已更新", "The unit is saved"),
    (
        "org.flash_staff_added",
        "员工已添加，可以用初始密码登录",
        "The staff member is added and may log in with the initial password",
    ),
    ("org.flash_staff_saved", "员工信息已更新", "The staff member is saved"),
    (
        "org.flash_deactivated",
        "账号已停用，该员工已退出登录",
        "The account is deactivated; they are logged out",
    ),
    (
        "org.flash_reactivated",
        "账号已恢复，可以再次登录",
        "The account is reactivated; they may log in again",
    ),
    (
        "org.flash_password",
        "密码已重设，该员工须用新密码登录",
        "The password is reset; they log in with the new one",
    ),
    // History labels for every entity · action pair the code writes (a test reads the code).
    ("event.ledger.charge", "台账记录", "Ledger entry"),
    ("event.ledger.reverse", "台账冲销", "Ledger entry reversed"),
    ("event.customer.to_pool", "退回客户池", "Returned to a pool"),
    (
        "event.customer.helper_consent",
        "同意他人协助",
        "Help by another division allowed",
    ),
    (
        "event.claim.closed_sale",
        "成交人持有客户",
        "Held by whoever closed the sale",
    ),
    (
        "event.claim.closed_by_other",
        "他人成交，登记结束",
        "Claim ended: another closed the sale",
    ),
    ("event.claim.filing_late", "部门迟报邀约", "Invitations filed late"),
    (
        "event.claim.lost_to_division",
        "客户归另一部门，登记结束",
        "Claim ended: the customer went to another division",
    ),
    ("event.claim.redistribute", "客户重新分配", "Claim redistributed"),
    ("event.claim.share_out", "分配客户", "Customer shared out"),
    ("event.claim.hand_over", "开发成功移交销售", "Handed over to sales"),
    ("event.claim.late_submission", "逾期登记", "Registered late"),
    ("event.sale.record", "记录成交", "Sale recorded"),
    ("event.sale.credit_changed", "改记业绩", "Sale credit changed"),
    (
        "event.sale.credit_change_signed",
        "改记业绩已签字",
        "Credit change signed",
    ),
    ("event.event.schedule", "安排联合会议", "Joint event scheduled"),
    ("event.event.file_invitations", "报送邀约", "Invitations filed"),
    ("event.event.check_in", "到会签到", "Checked in at the event"),
    ("event.staff.create", "添加员工", "Staff member added"),
    ("event.staff.update", "修改员工", "Staff member changed"),
    ("event.staff.set_password", "设置密码", "Password set"),
    ("event.staff.reset_password", "重设密码", "Password reset"),
    ("event.unit.create", "添加单位", "Unit added"),
    ("event.unit.update", "修改单位", "Unit changed"),
    ("event.tenant.create", "创建企业", "Company created"),
    ("event.policy.activate", "启用制度", "Policy activated"),
    ("event.api_token.create", "创建 API 令牌", "API token created"),
    ("event.api_token.revoke", "吊销 API 令牌", "API token revoked"),
    ("event.clock.advance", "调整时间", "Clock moved"),
    ("event.other", "记录变更", "Change recorded"),
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

    /// The `"..."` literals of a line, in order.
    fn literals(line: &str) -> Vec<String> {
        line.split('"').skip(1).step_by(2).map(str::to_string).collect()
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }

    /// Every entity · action pair the store and the server write to the history has a label
    /// in both languages, so a customer's history never shows `ledger · charge`. The pairs are
    /// read from the code: each `entity: "..."` with the `action` after it; an action passed
    /// in (an ending's) is read where it is written.
    #[test]
    fn every_history_event_the_code_writes_has_a_label() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        sources(&root.join("src"), &mut files);
        sources(&root.join("../kehu-store/src"), &mut files);
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        // Claims ended through `lifecycle::end_claim` name their action in an `Ending`.
        let mut endings = Vec::new();
        for (_, text) in &files {
            let lines: Vec<&str> = text.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                if l.contains("Ending {") {
                    for next in lines.iter().skip(i).take(10) {
                        if let Some(a) = next.trim().strip_prefix("action: ") {
                            endings.extend(literals(a));
                            break;
                        }
                    }
                }
            }
        }
        assert!(endings.iter().any(|a| a == "cancel"), "endings read: {endings:?}");
        for (file, text) in &files {
            let lines: Vec<&str> = text.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                let Some(entity) = l.trim().strip_prefix("entity: \"").and_then(|e| e.split('"').next()) else {
                    continue;
                };
                if entity == "case" {
                    // A case's steps are the workflow's actions, named by the policy
                    // (`web::customers::case_label`); only the opening step has a key.
                    assert!(
                        lookup("event.case.open", Lang::Zh).is_some() && lookup("event.case.open", Lang::En).is_some()
                    );
                    continue;
                }
                let action = lines
                    .iter()
                    .skip(i + 1)
                    .take(6)
                    .map(|l| l.trim())
                    .find(|l| l.starts_with("action"))
                    .unwrap_or_else(|| panic!("{file}:{}: no action after the entity", i + 1));
                let mut actions = literals(action);
                if action.contains("status().as_str()") {
                    // A lapse: the claim's new status (R5.2 void, R7.7 and R11.8 expired).
                    actions.extend(["void".to_string(), "expired".to_string()]);
                } else if action.contains("e.action") {
                    actions.extend(endings.iter().cloned());
                }
                assert!(
                    !actions.is_empty(),
                    "{file}:{}: an action the test cannot read: {action}",
                    i + 1
                );
                for a in actions {
                    pairs.push((file.clone(), entity.to_string(), a));
                }
            }
        }
        assert!(pairs.len() > 40, "pairs read: {}", pairs.len());
        for (file, entity, action) in pairs {
            let key = format!("event.{entity}.{action}");
            assert!(
                lookup(&key, Lang::Zh).is_some() && lookup(&key, Lang::En).is_some(),
                "{file} writes {entity} · {action}: add `{key}` to the table"
            );
        }
    }
}
