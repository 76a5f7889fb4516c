"""Typed refusals. Every code names the rule of shared/domain.md it enforces.

A refusal carries the rule code, the input field it concerns and a message in
zh-CN and en, so every client can show it next to the field in either language.
"""

from __future__ import annotations

import dataclasses

# code -> (zh-CN, en). Messages may hold {placeholders} filled from `params`.
MESSAGES: dict[str, tuple[str, str]] = {
    "R_EXAM_1_UNIT": (
        "云检查资源须按 10,000 例的整数倍购买（最少 10,000 例）",
        "Cloud-exam lots are sold in whole 10,000s of exams (minimum 10,000)",
    ),
    "R_EXAM_1_YEARS": (
        "按年购买的存储年限须为不少于 1 的整数年",
        "An ANNUAL lot needs a whole number of storage years, at least 1",
    ),
    "R_EXAM_4_STUDY_UID": (
        "检查实例 UID 无效（须为 1–64 位数字与点组成的 DICOM UID）",
        "Invalid Study Instance UID (a DICOM UID of 1-64 digits and dots)",
    ),
    "R_EXAM_5_UPLOAD_TIME": (
        "上传时间须在当前时间之前 24 小时以内，且不晚于当前时间",
        "The upload time must lie within the last 24 hours and not in the future",
    ),
    "R_ARR_3_SUSPENDED": (
        "欠费已超过 24 小时，新上传已暂停；充值结清欠费后自动恢复",
        "Arrears are older than 24 hours: new uploads are suspended until a recharge settles them",
    ),
    "R_GEN_2_NO_AGREEMENT": (
        "该账户尚未登记线下合作协议",
        "This account has no offline cooperation agreement on record",
    ),
    "R_GEN_2_AGREEMENT_FIELDS": (
        "合作协议须填写协议编号、签署日期和渠道合作方",
        "An agreement needs its number, signing date and channel partner",
    ),
    "R_GEN_5_REASON_REQUIRED": (
        "操作员更正须填写原因",
        "An operator correction needs a reason",
    ),
    "R_GEN_6_NAIVE_TIME": (
        "时间须带时区",
        "Times must carry a time zone",
    ),
    "R_GEN_6_TIME_RANGE": (
        "时间超出可接受范围（1900–2200 年）",
        "The time is out of range (years 1900-2200)",
    ),
    "EXAM_NOT_FOUND": ("未找到该检查", "No such exam"),
    "RECONCILE_WINDOW": (
        "对账时间窗的结束时间须晚于开始时间",
        "The reconciliation window must end after it starts",
    ),
    "EXAM_ALREADY_VOIDED": ("该检查已作废", "This exam is already voided"),
    "ACCOUNT_NOT_FOUND": ("未找到该账户", "No such account"),
    "INSTITUTION_NOT_FOUND": ("未找到该机构", "No such institution"),
    "NAME_REQUIRED": ("名称不能为空（最多 200 字）", "A name is required (at most 200 characters)"),
    "BATCH_TOO_LARGE": ("每批最多 {limit} 条", "At most {limit} items per batch"),
    "IDEMPOTENCY_KEY_REUSED": (
        "该幂等键已用于不同的请求",
        "This idempotency key was already used for a different request",
    ),
    "IDEMPOTENCY_KEY_INVALID": (
        "幂等键须为 1–200 个字符",
        "An idempotency key has 1-200 characters",
    ),
    "PAGE_SIZE": ("每页条数须在 1 到 100 之间", "`first` must be between 1 and 100"),
    "CURSOR_INVALID": ("分页游标无效", "Invalid cursor"),
    "NODE_NOT_FOUND": ("未找到该对象", "No such object"),
    "R_AI_1_UNIT": (
        "AI 调阅次数须按 1,000 次的整数倍购买（最少 1,000 次）",
        "AI reading packs are sold in whole 1,000s of reads (minimum 1,000)",
    ),
    "R_AI_1_PRODUCT": (
        "AI 调阅包仅适用于青光眼 AI",
        "AI reading packs are sold for glaucoma AI only",
    ),
    "R_AI_3_NO_CREDIT": (
        "AI 调阅次数已用完，请先购买调阅包",
        "No AI reading credit left: buy a reading pack first",
    ),
    "R_AI_4_OFFLINE_ONLY": (
        "AI 一次性授权仅支持线下购买，由运营人员录入",
        "One-time AI licences are sold offline only and recorded by an operator",
    ),
    "R_AI_4_ALREADY_HELD": (
        "该机构已持有此 AI 授权",
        "The institution already holds this AI licence",
    ),
    "R_LIC_4_BASE_REQUIRED": (
        "选购功能须在已有或同时购买基础软件的机构上开通",
        "An optional feature needs the base suite, held or bought in the same order",
    ),
    "R_LIC_4_ALREADY_HELD": (
        "该机构已持有（或已有待支付订单包含）此授权",
        "The institution already holds this licence (or a pending order includes it)",
    ),
    "R_LIC_1_QUANTITY": (
        "每个机构每项授权只需购买 1 份",
        "A licence is bought once per institution (quantity 1)",
    ),
    "R_SVC_3_YEARS": (
        "维保服务须按不少于 1 的整数年购买",
        "Maintenance is bought in whole years, at least 1",
    ),
    "R_SVC_3_START": (
        "维保开始日期须在购买后一年之内",
        "Maintenance must start within one year of purchase",
    ),
    "R_SVC_4_REMARK": (
        "服务订单须注明机构（已上平台的机构填写机构 ID，否则填写机构名称）",
        "A service line names its institution (its ID when on the platform, else its name)",
    ),
    "R_SVC_2_STATE": (
        "服务当前状态不允许此操作",
        "The service's current state does not allow this",
    ),
    "R_ORD_2_TERMS": ("请先阅读并同意服务条款", "Accept the service terms first"),
    "R_ORD_2_INSTITUTION": (
        "该商品按机构购买，请选择机构",
        "This product is bought per institution: choose the institution",
    ),
    "R_GEN_5_NO_REFUND": (
        "订单已支付，不可取消或退款；如需更正请联系运营人员调整",
        "A paid order cannot be cancelled or refunded; an operator adjustment corrects it",
    ),
    "R_GEN_5_CONTRACT_REQUIRED": (
        "须填写合同编号",
        "A contract reference is required",
    ),
    "R_GEN_3_AMOUNT": ("金额无效", "Invalid amount"),
    "ORDER_EMPTY": ("订单至少包含一项商品", "An order has at least one line"),
    "ORDER_NOT_FOUND": ("未找到该订单", "No such order"),
    "ORDER_NOT_PAYABLE": ("该订单不在待支付状态", "This order is not awaiting payment"),
    "PAYMENT_AMOUNT_MISMATCH": (
        "支付金额与订单金额不符",
        "The amount paid does not match the order total",
    ),
    "PAYMENT_REFERENCE_REUSED": (
        "该支付流水号已用于其他订单",
        "This payment reference was already used for another order",
    ),
    "PRODUCT_UNKNOWN": ("未知商品", "Unknown product"),
    "PRICE_MISSING": ("该商品尚未定价", "This product has no price yet"),
    "PRICE_EFFECTIVE_PAST": (
        "新价格的生效时间不能早于当前时间",
        "A new price cannot take effect in the past",
    ),
    "LOT_NOT_FOUND": ("未找到该资源包", "No such lot"),
    "ADJUSTMENT_INVALID": (
        "调整数量无效（不能为 0，且调整后不能少于已用量）",
        "Invalid adjustment (non-zero, and not below what is already used)",
    ),
    "SERVICE_NOT_FOUND": ("未找到该服务", "No such service"),
    "LOGIN_FAILED": ("邮箱或密码错误", "Wrong email or password"),
    "LOGIN_THROTTLED": (
        "登录失败次数过多，请 15 分钟后再试",
        "Too many failed logins: try again in 15 minutes",
    ),
    "EMAIL_INVALID": ("邮箱地址无效", "Invalid email address"),
    "EMAIL_TAKEN": ("该邮箱已被使用", "This email address is already in use"),
    "INVITATION_INVALID": (
        "邀请无效或已过期",
        "This invitation is invalid or has expired",
    ),
    "ROLE_NOT_ALLOWED": ("不能授予该角色", "You cannot grant this role"),
    "THROTTLED": (
        "请求过于频繁，请稍后再试",
        "Too many requests: slow down and retry shortly",
    ),
    "FORBIDDEN": ("无权执行此操作", "You are not allowed to do this"),
    # Requests that cannot be read as one GraphQL operation (api/requests.py).
    "REQUEST_CONTENT_TYPE": (
        "请使用 Content-Type: application/json",
        "Use Content-Type: application/json",
    ),
    "CSRF": (
        "以会话 Cookie 发送的请求须使用 Content-Type: application/json",
        "A request with a session cookie must use Content-Type: application/json",
    ),
    "REQUEST_TOO_LARGE": ("请求体超过 2 MiB", "The request body is larger than 2 MiB"),
    "REQUEST_NOT_JSON": ("请求不是有效的 JSON", "The request is not valid JSON"),
    "REQUEST_SHAPE": (
        "请求须为一个 JSON 对象：字符串 query，可选的对象 variables 和字符串 operationName",
        "Send one JSON object: a string `query`, optionally an object `variables` and a string"
        " `operationName`",
    ),
    "OPERATION_NAME_REQUIRED": (
        "文档含多个操作时须给出 operationName",
        "The document holds several operations: give `operationName`",
    ),
    "OPERATION_UNKNOWN": (
        "文档中没有名为 {name} 的操作",
        "The document has no operation named {name}",
    ),
    "GET_RUNS_QUERIES_ONLY": (
        "GET 只能执行查询；变更请用 POST",
        "GET runs queries only: send mutations by POST",
    ),
    "SUBSCRIPTION_NEEDS_WEBSOCKET": (
        "订阅须通过 WebSocket（graphql-transport-ws）连接 /graphql",
        "Subscriptions run over a WebSocket to /graphql (graphql-transport-ws)",
    ),
    "WEBSOCKET_RUNS_SUBSCRIPTIONS_ONLY": (
        "WebSocket 只执行订阅；查询与变更请用 HTTP POST /graphql",
        "The WebSocket runs subscriptions only: send queries and mutations by POST to /graphql",
    ),
    "THRESHOLD_INVALID": ("余量提醒阈值须为非负整数", "The low-balance threshold must be >= 0"),
    # The shape of a GraphQL document, refused before validation (api/shape.py).
    "QUERY_TOO_LONG": (
        "查询文本超过 {limit} 个字符；数据请放在 variables 中",
        "The query text is longer than {limit} characters: send data in `variables`",
    ),
    "QUERY_TOO_MANY_TOKENS": (
        "查询超过 {limit} 个词法单元",
        "The query has more than {limit} tokens",
    ),
    "TOO_MANY_FRAGMENTS": (
        "查询定义的片段超过 {limit} 个",
        "The query defines more than {limit} fragments",
    ),
    "TOO_MANY_FRAGMENT_SPREADS": (
        "查询展开片段超过 {limit} 次",
        "The query spreads fragments more than {limit} times",
    ),
    "TOO_MANY_FIELDS": (
        "查询选择的字段超过 {limit} 个",
        "The query selects more than {limit} fields",
    ),
    "DUPLICATE_ROOT_FIELD": (
        "根字段 {name} 被选择了多次；每次请使用不同的别名",
        "The root field {name} is selected more than once: give each its own alias",
    ),
    "DUPLICATE_FIELD": (
        "字段 {name} 在同一选择集中出现多次；请只选择一次或使用别名",
        "The field {name} is selected more than once in one selection set: select it once"
        " or give each an alias",
    ),
    "QUERY_TOO_DEEP": (
        "查询嵌套超过 {limit} 层",
        "The query exceeds the maximum depth of {limit} levels",
    ),
    "TOO_MANY_ALIASES": (
        "查询使用的别名超过 {limit} 个",
        "The query uses more than {limit} aliases",
    ),
    # The payment provider's callback (api/payments_http.py), refused before any change.
    "CALLBACK_DISABLED": (
        "未配置支付回调密钥，回调未启用",
        "No payment callback secret is configured: the callback is off",
    ),
    "CALLBACK_TOO_LARGE": ("回调请求体超过 64 KiB", "The callback body is larger than 64 KiB"),
    "CALLBACK_HEADER_INVALID": (
        "{header} 缺失或格式无效（时间戳为 ASCII 数字的毫秒数，签名为 64 位十六进制）",
        "{header} is missing or malformed (timestamp: ASCII digits, milliseconds;"
        " signature: 64 hex digits)",
    ),
    "CALLBACK_STALE": (
        "回调时间戳与服务器时间相差超过 {seconds} 秒",
        "The callback timestamp is more than {seconds} s from the server clock",
    ),
    "CALLBACK_SIGNATURE_INVALID": ("回调签名不正确", "The callback signature is wrong"),
    "CALLBACK_BODY_INVALID": (
        "回调请求体须为 JSON 对象：字符串 paymentId、订单 ID orderId、整数 amountFen",
        "The callback body must be a JSON object: string paymentId, order ID orderId,"
        " integer amountFen",
    ),
    # Orders: line cap, quantities naming their rule, payment references, usage days.
    "ORDER_TOO_MANY_LINES": (
        "一个订单最多 {limit} 项商品",
        "An order has at most {limit} lines",
    ),
    "R_SVC_3_QUANTITY": (
        "服务须按整数份购买（每项 1–100 份；维保另按整年计）",
        "Services are bought as a whole number, 1 to 100 a line (maintenance also in whole years)",
    ),
    "PAYMENT_REFERENCE_REQUIRED": (
        "须填写支付流水号（最多 200 个字符）",
        "A payment reference is required (at most 200 characters)",
    ),
    "USAGE_DAYS": (
        "统计天数须在 1 到 {limit} 之间",
        "`days` must be between 1 and {limit}",
    ),
    # People and least privilege: passwords, names, disabling, invitations, resets, tokens.
    "PASSWORD_TOO_SHORT": ("密码至少 {limit} 个字符", "A password has at least {limit} characters"),
    "PASSWORD_TOO_LONG": ("密码最多 {limit} 个字符", "A password has at most {limit} characters"),
    "PASSWORD_BLANK": ("密码不能只由空白字符组成", "A password cannot be only spaces"),
    "PASSWORD_IS_EMAIL": ("密码不能与邮箱地址相同", "A password cannot be the email address"),
    "PASSWORD_CHARACTERS": (
        "密码不能包含控制字符",
        "A password cannot contain control characters",
    ),
    "TEXT_CHARACTERS": (
        "不能包含控制字符、格式字符（如双向文本覆盖符、零宽字符）或换行",
        "Control, formatting (such as bidi overrides or zero-width) or line-break characters "
        "are not allowed",
    ),
    "USER_NOT_FOUND": ("未找到该用户", "No such user"),
    "USER_DISABLED": ("该用户已停用", "This user is disabled"),
    "NOT_ON_YOURSELF": ("不能对自己执行此操作", "You cannot do this to yourself"),
    "INVITATION_NOT_FOUND": ("未找到该待接受的邀请", "No such pending invitation"),
    "RESET_INVALID": (
        "密码重置链接无效或已过期",
        "This password reset link is invalid or has expired",
    ),
    "OPERATOR_TOKEN_NOT_FOUND": ("未找到该操作员令牌", "No such operator token"),
    "VARIABLES_LIST_TOO_LONG": (
        "variables 中的列表最多 {limit} 项",
        "A list in `variables` holds at most {limit} items",
    ),
    # Lists and exports of the console (numbered pages, day groups, search, CSV).
    "PAGE_JUMP_TOO_FAR": (
        "最多跳转到第 {limit} 条记录，请缩小筛选范围",
        "A page can start at most {limit} rows in; narrow the filters",
    ),
    "DAY_RANGE": (
        "按日汇总最多 {limit} 天",
        "Day totals cover at most {limit} days",
    ),
    "SEARCH_TOO_LONG": (
        "搜索词最多 {limit} 个字符",
        "Search words are at most {limit} characters",
    ),
    "EXPORT_ARGUMENT": (
        "导出参数无效：{name}",
        "Invalid export argument: {name}",
    ),
    "IMPORT_COLUMNS": (
        "导入文件缺少列：{names}",
        "The import file lacks the columns: {names}",
    ),
    "IMPORT_VALUE": (
        "无法读取该值：{name}",
        "This value cannot be read: {name}",
    ),
    # Webhook endpoints: where notices are delivered (R-ARR-2 delivery decision).
    "R_ARR_2_WEBHOOK_URL_INVALID": (
        "Webhook 地址无效（须为带主机名的完整 URL，最多 2000 个字符，不含用户名和密码）",
        "Invalid webhook URL (a full URL with a host, at most 2000 characters, no user "
        "name or password)",
    ),
    "R_ARR_2_WEBHOOK_URL_SCHEME": (
        "Webhook 地址只能使用 http 或 https",
        "A webhook URL must use http or https",
    ),
    "R_ARR_2_WEBHOOK_URL_PRIVATE": (
        "Webhook 地址不能指向本机、内网或链路本地地址",
        "A webhook URL cannot point to a loopback, private or link-local address",
    ),
    "R_ARR_2_WEBHOOK_URL_UNRESOLVED": (
        "无法解析 Webhook 地址的主机名",
        "The webhook URL's host name does not resolve",
    ),
    "R_ARR_2_WEBHOOK_DESCRIPTION": (
        "Webhook 说明最多 500 个字符",
        "A webhook description has at most 500 characters",
    ),
    "R_ARR_2_WEBHOOK_OVERLAP": (
        "新旧密钥并行期须在 0 到 7 天之间",
        "The overlap of old and new secrets must be between 0 and 7 days",
    ),
    "WEBHOOK_ENDPOINT_NOT_FOUND": ("未找到该 Webhook 端点", "No such webhook endpoint"),
    "WEBHOOK_DELIVERY_NOT_FOUND": ("未找到该 Webhook 投递", "No such webhook delivery"),
    # Paying by transfer: the payee operators set (R-ORD-1).
    "PAYEE_NAME_REQUIRED": (
        "须填写收款单位名称（最多 200 个字符）",
        "The payee's name is required (at most 200 characters)",
    ),
    "PAYEE_BANK_REQUIRED": (
        "须填写开户银行（最多 200 个字符）",
        "The payee's bank is required (at most 200 characters)",
    ),
    "PAYEE_ACCOUNT_NUMBER_INVALID": (
        "银行账号须为 8–32 位数字（可用空格或短横线分组）",
        "The account number must be 8-32 digits (spaces or hyphens between groups allowed)",
    ),
}


# Not frozen: the exception machinery (contextlib among it) assigns __traceback__.
@dataclasses.dataclass(eq=False)
class RuleViolation(Exception):
    """An expected refusal: nothing was written; the client is told why."""

    code: str
    field: str | None = None
    params: dict[str, object] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise KeyError(f"unknown rule code {self.code}")

    @property
    def message_zh(self) -> str:
        return MESSAGES[self.code][0].format(**self.params)

    @property
    def message_en(self) -> str:
        return MESSAGES[self.code][1].format(**self.params)

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"


class _Unfilled(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "…"


def describe(code: str, english: bool) -> str | None:
    """The words for a code recorded without its parameters (an audit result): each
    parameter the message names reads "…"; None for a code with no message."""
    messages = MESSAGES.get(code)
    if messages is None:
        return None
    return (messages[1] if english else messages[0]).format_map(_Unfilled())
