"""Notice mails in the recipient's language (R-ARR-2 delivery decision): the console
language a person last chose, or zh-CN with English below for someone who never chose."""

from __future__ import annotations

import re

import pytest

from imaging_billing.api.context import Services
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.mail import Language
from imaging_billing.services import people
from imaging_billing.services.principals import Principal, Role
from imaging_billing.store import access

from ..factories import create_account
from ..support.smtp import MailServer
from .test_mail import server, smtp_worker, upload_into_arrears  # noqa: F401 (fixture)

CHINESE = re.compile(r"[\u4e00-\u9fff]")


async def admin(services: Services, email: str, account_id: int) -> Principal:
    async with services.db.write() as conn:
        user_id = await access.insert_user(
            conn,
            email=email,
            name=email,
            password_hash="-",
            role=Role.ACCOUNT_ADMIN.value,
            account_id=account_id,
            created_at=services.clock.now(),
            created_by="test",
        )
    return Principal(Role.ACCOUNT_ADMIN, user_id, email, account_id=account_id, kind="user")


async def test_each_admin_reads_the_notice_in_the_language_they_chose(
    services: Services,
    server: MailServer,  # noqa: F811
) -> None:
    # given three admins of one account: one chose English, one Chinese, one never chose
    account_id = await create_account(services, name="Alpha Hospital")
    english = await admin(services, "en@alpha.example.cn", account_id)
    chinese = await admin(services, "zh@alpha.example.cn", account_id)
    await admin(services, "unset@alpha.example.cn", account_id)
    assert await people.set_my_language(services.db, english, Language.EN) is Language.EN
    await people.set_my_language(services.db, chinese, Language.ZH_CN)
    # when the account goes into arrears and the mails are sent
    await upload_into_arrears(services, account_id)
    await smtp_worker(services, server).run_once()
    mails = {m.recipients[0]: m.message for m in server.accepted}
    assert set(mails) == {"en@alpha.example.cn", "zh@alpha.example.cn", "unset@alpha.example.cn"}
    # then each reads in their language, and the one who never chose gets both
    assert mails["en@alpha.example.cn"]["Subject"] == "Alpha Hospital: arrears have started"
    assert not CHINESE.search(mails["en@alpha.example.cn"].get_content())
    assert mails["zh@alpha.example.cn"]["Subject"] == "Alpha Hospital：已进入欠费"
    assert "arrears" not in mails["zh@alpha.example.cn"].get_content().lower()
    both = mails["unset@alpha.example.cn"]
    assert both["Subject"] == "Alpha Hospital：已进入欠费 / Alpha Hospital: arrears have started"


@pytest.mark.parametrize(
    "principal",
    [
        Principal(Role.OPERATOR, 1, "ops", kind="token"),
        Principal(Role.INSTITUTION, 1, "gateway", account_id=1, institution_id=1),
    ],
    ids=["operator-token", "institution"],
)
async def test_only_people_have_a_language(services: Services, principal: Principal) -> None:
    with pytest.raises(RuleViolation) as refused:
        await people.set_my_language(services.db, principal, Language.EN)
    assert refused.value.code == "FORBIDDEN"
