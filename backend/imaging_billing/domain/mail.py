"""Notices by e-mail, for the people behind an account (R-ARR-2 delivery decision).

A notice to the BUSINESS platform is mailed to the account's administrators, one to the
MANAGEMENT platform to the operators, each in the language the person last chose in the
console; someone who never chose gets zh-CN, the default, with the English text below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .notices import NoticeKind


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


DEFAULT_LANGUAGES = (Language.ZH_CN, Language.EN)


def languages_for(chosen: str | None) -> tuple[Language, ...]:
    """A person's mail languages: the one they chose, or both when they never chose (or
    a stored value no longer names a language)."""
    try:
        return (Language(chosen),) if chosen else DEFAULT_LANGUAGES
    except ValueError:
        return DEFAULT_LANGUAGES


# {account} is the account's name; other fields come from the notice's detail and the
# figures at its instant (`figure_lines`).
SUBJECTS: dict[NoticeKind, dict[Language, str]] = {
    NoticeKind.LOW_BALANCE: {
        Language.ZH_CN: "{account}：可用检查余额不足",
        Language.EN: "{account}: exam balance is low",
    },
    NoticeKind.ARREARS_STARTED: {
        Language.ZH_CN: "{account}：已进入欠费",
        Language.EN: "{account}: arrears have started",
    },
    NoticeKind.UPLOADS_SUSPENDED: {
        Language.ZH_CN: "{account}：上传已暂停",
        Language.EN: "{account}: uploads are suspended",
    },
    NoticeKind.UPLOADS_RESUMED: {
        Language.ZH_CN: "{account}：上传已恢复",
        Language.EN: "{account}: uploads have resumed",
    },
    NoticeKind.LOT_EXPIRING_30D: {
        Language.ZH_CN: "{account}：有检查批次将在 30 天内到期",
        Language.EN: "{account}: an exam lot expires within 30 days",
    },
    NoticeKind.LOT_EXPIRING_7D: {
        Language.ZH_CN: "{account}：有检查批次将在 7 天内到期",
        Language.EN: "{account}: an exam lot expires within 7 days",
    },
    NoticeKind.LOT_EXPIRED: {
        Language.ZH_CN: "{account}：检查批次已到期，{forfeited} 次作废",
        Language.EN: "{account}: an exam lot expired, {forfeited} exams forfeited",
    },
    NoticeKind.AI_PACK_LOW: {
        Language.ZH_CN: "{account}：AI 调阅次数不足",
        Language.EN: "{account}: AI reading credit is low",
    },
    NoticeKind.AI_PACK_EXPIRED: {
        Language.ZH_CN: "{account}：AI 调阅包已到期，{forfeited} 次作废",
        Language.EN: "{account}: an AI reading pack expired, {forfeited} reads forfeited",
    },
}

LEADS: dict[NoticeKind, dict[Language, str]] = {
    NoticeKind.LOW_BALANCE: {
        Language.ZH_CN: "可用检查数已降至 {available}，低于提醒阈值 {threshold}。",
        Language.EN: "Available exams are down to {available}, below the threshold of {threshold}.",
    },
    NoticeKind.ARREARS_STARTED: {
        Language.ZH_CN: "已无可用检查，新上传的检查计入欠费。",
        Language.EN: "No exams are available; new uploads are counted as arrears.",
    },
    NoticeKind.UPLOADS_SUSPENDED: {
        Language.ZH_CN: "欠费已超过宽限期，上传已暂停，充值后恢复。",
        Language.EN: "Arrears outlasted the grace period; uploads resume after a recharge.",
    },
    NoticeKind.UPLOADS_RESUMED: {
        Language.ZH_CN: "欠费已结清，上传已恢复。",
        Language.EN: "Arrears are settled and uploads have resumed.",
    },
    NoticeKind.LOT_EXPIRING_30D: {
        Language.ZH_CN: "一个批次剩余 {remaining} 次检查，将于 {expiresAt} 到期，"
        "到期未用部分作废。",
        Language.EN: "A lot with {remaining} exams left expires at {expiresAt}; "
        "what is unused then is forfeited.",
    },
    NoticeKind.LOT_EXPIRING_7D: {
        Language.ZH_CN: "一个批次剩余 {remaining} 次检查，将于 {expiresAt} 到期，"
        "到期未用部分作废。",
        Language.EN: "A lot with {remaining} exams left expires at {expiresAt}; "
        "what is unused then is forfeited.",
    },
    NoticeKind.LOT_EXPIRED: {
        Language.ZH_CN: "一个 {quantity} 次的批次已于 {expiredAt} 到期（已用 {used}），"
        "未用的 {forfeited} 次已作废。",
        Language.EN: "A lot of {quantity} exams expired at {expiredAt} ({used} used); "
        "the {forfeited} unused are forfeited.",
    },
    NoticeKind.AI_PACK_LOW: {
        Language.ZH_CN: "AI 调阅剩余 {remaining} 次，已降至提醒阈值 {threshold} 以下。",
        Language.EN: "AI reads left: {remaining}, at or below the threshold of {threshold}.",
    },
    NoticeKind.AI_PACK_EXPIRED: {
        Language.ZH_CN: "一个 {quantity} 次的 AI 调阅包已于 {expiredAt} 到期（已用 {used}），"
        "未用的 {forfeited} 次已作废。",
        Language.EN: "An AI reading pack of {quantity} reads expired at {expiredAt} "
        "({used} used); the {forfeited} unused are forfeited.",
    },
}

FIGURES: tuple[tuple[str, dict[Language, str]], ...] = (
    ("available", {Language.ZH_CN: "可用", Language.EN: "Available"}),
    ("used", {Language.ZH_CN: "已用", Language.EN: "Used"}),
    ("arrears", {Language.ZH_CN: "欠费", Language.EN: "In arrears"}),
    ("expired", {Language.ZH_CN: "已作废", Language.EN: "Forfeited"}),
    ("bought", {Language.ZH_CN: "已购", Language.EN: "Bought"}),
)

HEADINGS = {
    Language.ZH_CN: "截至 {at} 的数字：",
    Language.EN: "Figures as of {at}:",
}

STATUS = {Language.ZH_CN: "状态", Language.EN: "Status"}

# The console's words for an account's status (frontend/src/locales `status`).
STATUS_WORDS: dict[str, dict[Language, str]] = {
    "ACTIVE": {Language.ZH_CN: "正常", Language.EN: "Active"},
    "IN_ARREARS": {Language.ZH_CN: "欠费中", Language.EN: "In arrears"},
    "SUSPENDED": {Language.ZH_CN: "已停止上传", Language.EN: "Uploads suspended"},
}


@dataclass(frozen=True)
class MailText:
    subject: str
    body: str


class _Blank(dict[str, object]):
    """A template field the notice does not carry reads as a dash, never an error."""

    def __missing__(self, key: str) -> str:
        return "-"


def compose(
    kind: NoticeKind,
    *,
    account: str,
    at: str,
    detail: Mapping[str, object],
    figures: Mapping[str, object],
    languages: tuple[Language, ...] = DEFAULT_LANGUAGES,
) -> MailText:
    """The mail of a notice: a subject and a plain-text body in each language, in order
    (the first language's subject first, the others after a slash)."""
    fields = _Blank({**detail, "account": account, "at": at})
    subject = " / ".join(SUBJECTS[kind][lang].format_map(fields) for lang in languages)
    parts = [_body(kind, lang, fields, figures) for lang in languages]
    return MailText(subject, "\n\n----\n\n".join(parts) + "\n")


def _body(kind: NoticeKind, lang: Language, fields: _Blank, figures: Mapping[str, object]) -> str:
    lines = [SUBJECTS[kind][lang].format_map(fields), "", LEADS[kind][lang].format_map(fields)]
    if figures:
        lines += ["", HEADINGS[lang].format_map(fields)]
        lines += [f"  {label[lang]}: {figures.get(key, '-')}" for key, label in FIGURES]
        status = str(figures.get("status", "-"))
        lines.append(f"  {STATUS[lang]}: {STATUS_WORDS.get(status, {}).get(lang, status)}")
    return "\n".join(lines)
