"""What a notice's e-mail says (R-ARR-2): every kind in zh-CN and English, the
notice's own figures in its text, nothing missing turning into an error."""

from __future__ import annotations

import pytest

from imaging_billing.domain.mail import LEADS, SUBJECTS, Language, compose
from imaging_billing.domain.notices import NoticeKind

FIGURES = {"available": 3, "used": 97, "arrears": 0, "expired": 0, "bought": 100, "status": "OK"}


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_notice_kind_has_a_subject_and_lead_in_both_languages(kind: NoticeKind) -> None:
    assert set(SUBJECTS[kind]) == set(LEADS[kind]) == set(Language)


def test_a_low_balance_mail_names_the_figures_in_chinese_then_english() -> None:
    # given a low-balance notice of 3 exams against a threshold of 10
    text = compose(
        NoticeKind.LOW_BALANCE,
        account="Alpha Hospital",
        at="2026-03-01T08:00:00Z",
        detail={"available": 3, "threshold": 10},
        figures=FIGURES,
    )
    # then the subject and body read zh-CN first, English below
    assert text.subject == "Alpha Hospital：可用检查余额不足 / Alpha Hospital: exam balance is low"
    zh, en = text.body.split("\n\n----\n\n")
    assert "可用检查数已降至 3，低于提醒阈值 10。" in zh
    assert "  已购: 100" in zh
    assert "Available exams are down to 3, below the threshold of 10." in en
    assert "Figures as of 2026-03-01T08:00:00Z:" in en


def test_a_field_the_notice_lacks_reads_as_a_dash() -> None:
    # given an expiry notice without its detail
    text = compose(
        NoticeKind.LOT_EXPIRING_7D,
        account="A",
        at="now",
        detail={},
        figures={},
        languages=(Language.EN,),
    )
    # then it still reads, in English only when asked, with dashes for what is missing
    assert text.subject == "A: an exam lot expires within 7 days"
    assert "A lot with - exams left expires at -;" in text.body
    assert "Figures" not in text.body
