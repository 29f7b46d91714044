"""Usage and usage notifications (R22: every member): metering reports figures, and each
threshold a report crosses emails the subscription's active members once."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from accessgraph.models import OutboxEmail, SubscriptionRole
from accessgraph.resolvers import subscriptions
from accessgraph.schema.base import from_global_id
from accessgraph.services import Services
from tests.conftest import Api, Factory, RecordingMailer, World, payload

GIB = 1024**3

SET_NOTIFICATION = """
mutation($s: ID!, $metric: UsageMetric!, $pct: Int!) {
  setUsageNotification(input: {subscriptionId: $s, metric: $metric, thresholdPercent: $pct}) {
    notification { id metric thresholdPercent reached }
    errors { code }
  }
}
"""

USAGE = """
query($s: ID!) {
  subscription(id: $s) {
    usage { storageUsedBytes storageLimitBytes storagePercent transferPercent updatedAt }
    usageNotifications { metric thresholdPercent reached createdBy { email } }
  }
}
"""


def _pk(subscription_id: str) -> int:
    pk = from_global_id(subscription_id, "BillingSubscription")
    assert pk is not None
    return pk


async def _usage_emails(services: Services) -> list[OutboxEmail]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(OutboxEmail).where(col(OutboxEmail.subject).contains("Usage of"))
        )
        return list(rows.scalars())


async def test_record_usage_crossing_a_threshold_emails_active_members_once(
    api: Api, factory: Factory, world: World, services: Services, mailer: RecordingMailer
) -> None:
    sid = await factory.subscription("Acme", world.admin)  # 1024 GiB storage by default
    await factory.subscription_member(sid, world.dev, SubscriptionRole.FINANCE_MEMBER)
    payload(
        await api(SET_NOTIFICATION, {"s": sid, "metric": "STORAGE", "pct": 80}, as_=world.dev),
        "setUsageNotification",
    )

    await subscriptions.record_usage(services, _pk(sid), 700 * GIB, 0)  # 68%: below
    assert await _usage_emails(services) == []

    await subscriptions.record_usage(services, _pk(sid), 900 * GIB, 0)  # 88%: crossed
    sent = sorted(m.to for m in mailer.sent if "Usage of" in m.subject)
    assert sent == ["admin@acme.test", "dev@acme.test"]
    assert "storage is at 87.9% of the limit" in mailer.sent[-1].body

    await subscriptions.record_usage(services, _pk(sid), 950 * GIB, 0)  # still above: no repeat
    assert len(await _usage_emails(services)) == 2

    body = await api(USAGE, {"s": sid}, as_=world.dev)
    data = body["data"]["subscription"]
    assert data["usage"]["storageUsedBytes"] == 950 * GIB  # beyond 32 bits: the Bytes scalar
    assert data["usage"]["storagePercent"] == 92.77
    assert data["usageNotifications"] == [
        {
            "metric": "STORAGE",
            "thresholdPercent": 80,
            "reached": True,
            "createdBy": {"email": "dev@acme.test"},
        }
    ]


async def test_record_usage_dropping_and_rising_again_notifies_again(
    api: Api, factory: Factory, world: World, services: Services, mailer: RecordingMailer
) -> None:
    sid = await factory.subscription("Acme", world.admin)
    payload(
        await api(SET_NOTIFICATION, {"s": sid, "metric": "TRANSFER", "pct": 50}, as_=world.admin),
        "setUsageNotification",
    )
    for transfer in (600, 100, 600):  # a new period starts low, then crosses again
        await subscriptions.record_usage(services, _pk(sid), 0, transfer * GIB)
    assert [m.to for m in mailer.sent if "Usage of" in m.subject] == ["admin@acme.test"] * 2


async def test_record_usage_skips_members_who_have_not_signed_up(
    api: Api, factory: Factory, world: World, services: Services, mailer: RecordingMailer
) -> None:
    sid = await factory.subscription("Acme", world.admin)
    add = """mutation($s: ID!) { addSubscriptionMember(input: {subscriptionId: $s, email: "new@acme.test"}) { errors { code } } }"""
    payload(await api(add, {"s": sid}, as_=world.admin), "addSubscriptionMember")
    payload(
        await api(SET_NOTIFICATION, {"s": sid, "metric": "STORAGE", "pct": 10}, as_=world.admin),
        "setUsageNotification",
    )
    await subscriptions.record_usage(services, _pk(sid), 200 * GIB, 0)
    assert [m.to for m in mailer.sent if "Usage of" in m.subject] == ["admin@acme.test"]
