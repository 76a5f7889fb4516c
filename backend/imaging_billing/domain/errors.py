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
    "EXAM_NOT_FOUND": ("未找到该检查", "No such exam"),
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
    "FORBIDDEN": ("无权执行此操作", "You are not allowed to do this"),
    "THRESHOLD_INVALID": ("余量提醒阈值须为非负整数", "The low-balance threshold must be >= 0"),
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
