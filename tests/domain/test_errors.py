"""Typed refusals: every code names its rule and speaks Chinese and English
("What bad input gets" in shared/domain.md)."""

from __future__ import annotations

import re
import string

import pytest

from imaging_billing.domain.errors import MESSAGES, RuleViolation

CODES = sorted(MESSAGES)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_messages_table_is_not_empty() -> None:
    # given the catalogue of refusal codes / then there is something to refuse with
    assert len(MESSAGES) >= 10


@pytest.mark.parametrize("code", CODES)
def test_every_code_has_non_empty_chinese_and_english_text(code: str) -> None:
    # given a refusal code
    zh, en = MESSAGES[code]
    # then both messages are non-blank, the Chinese one is written in Chinese
    # and the English one is not
    assert zh.strip()
    assert en.strip()
    assert _CJK.search(zh), f"{code}: zh message has no Chinese characters"
    assert not _CJK.search(en), f"{code}: en message contains Chinese characters"


@pytest.mark.parametrize("code", CODES)
def test_every_code_uses_the_same_placeholders_in_both_languages(code: str) -> None:
    # given a refusal code's two messages
    zh, en = MESSAGES[code]
    # then they ask for the same parameters, so one `params` fills both
    assert _placeholders(zh) == _placeholders(en)


@pytest.mark.parametrize("code", CODES)
def test_every_code_is_constructible_and_renders_both_messages(code: str) -> None:
    # given any known code and values for its placeholders
    zh, _ = MESSAGES[code]
    params: dict[str, object] = {name: 7 for name in _placeholders(zh)}
    # when a refusal is raised with it
    with pytest.raises(RuleViolation) as caught:
        raise RuleViolation(code, "field", params)
    # then it carries the code and field and renders both messages without placeholders left
    error = caught.value
    assert error.code == code
    assert error.field == "field"
    assert "{" not in error.message_zh
    assert "{" not in error.message_en
    assert str(error) == f"{code}: {error.message_en}"


@pytest.mark.parametrize("code", [c for c in CODES if c.startswith("R_")])
def test_rule_codes_follow_the_r_area_number_pattern(code: str) -> None:
    # given a code that cites a rule / then it spells R_<AREA>_<n>[_DETAIL]
    # (R-EXAM-3 -> R_EXAM_3_...), so it can be traced to shared/domain.md
    assert re.fullmatch(r"R_(GEN|EXAM|ARR|AI|LIC|SVC|ORD)_\d+(_[A-Z0-9]+)*", code)


@pytest.mark.parametrize("code", ["R_EXAM_99", "", "r_exam_1_unit", "NOT_A_RULE"])
def test_unknown_code_is_a_programming_error(code: str) -> None:
    # given a code that is not in the catalogue
    # when a refusal is built with it / then it fails loudly with KeyError
    with pytest.raises(KeyError, match="unknown rule code"):
        RuleViolation(code)


@pytest.mark.parametrize("limit", [1, 100, 500])
def test_batch_too_large_names_its_limit_in_both_languages(limit: int) -> None:
    # given a batch over the limit
    # when the refusal is built with the limit
    error = RuleViolation("BATCH_TOO_LARGE", "items", {"limit": limit})
    # then both messages state the limit
    assert error.message_zh == f"每批最多 {limit} 条"
    assert error.message_en == f"At most {limit} items per batch"
    assert str(error) == f"BATCH_TOO_LARGE: At most {limit} items per batch"


def test_field_and_params_default_to_empty() -> None:
    # given a refusal that concerns no single field
    error = RuleViolation("FORBIDDEN")
    # then it has no field, no params, and still renders both messages
    assert error.field is None
    assert error.params == {}
    assert error.message_en == "You are not allowed to do this"
    assert error.message_zh == "无权执行此操作"


def test_params_are_not_shared_between_refusals() -> None:
    # given two refusals built without params
    first = RuleViolation("FORBIDDEN")
    second = RuleViolation("FORBIDDEN")
    # when one's params are changed / then the other's are not
    first.params["x"] = 1
    assert second.params == {}


def test_rule_violation_is_an_exception_with_a_traceback() -> None:
    # given a refusal raised inside a function
    def refuse() -> None:
        raise RuleViolation("R_GEN_6_NAIVE_TIME", "at")

    # when it propagates / then it is catchable as Exception and carries its traceback
    with pytest.raises(Exception, match="R_GEN_6_NAIVE_TIME") as caught:
        refuse()
    assert isinstance(caught.value, RuleViolation)
    assert caught.value.__traceback__ is not None
