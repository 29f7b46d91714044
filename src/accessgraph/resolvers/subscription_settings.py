"""What subscription roles manage (R22): billing details, network settings, usage
notifications and the subscription's API tokens. Each write is decided, inside its
transaction, on the caller's current role in the subscription (`authorized`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.policy import Action
from accessgraph.auth.principal import Principal
from accessgraph.errors import Rejected, not_found
from accessgraph.models import (
    AccessToken,
    Subscription,
    UsageMetric,
    UsageNotification,
)
from accessgraph.resolvers.subscriptions import authorized, record
from accessgraph.resolvers.tokens import (
    CreateTokenInput,
    delete_locked,
    insert_token,
    load_token,
    mark_revoked,
)
from accessgraph.resolvers.validation import clean_email, has_control
from accessgraph.services import Services

MAX_IP_RANGES = 200


@dataclass(frozen=True, slots=True)
class CardInput:
    number: str
    exp_month: int
    exp_year: int


_UNSET = object()


@dataclass(frozen=True, slots=True)
class BillingInput:
    """Fields left as _UNSET keep their value; None clears an optional one."""

    contact_name: object = _UNSET
    contact_email: object = _UNSET
    company: object = _UNSET
    address_line1: object = _UNSET
    address_line2: object = _UNSET
    city: object = _UNSET
    postal_code: object = _UNSET
    country: object = _UNSET
    vat_id: object = _UNSET
    card: object = _UNSET  # a CardInput; None removes the card on file


UNSET = _UNSET


def _text(value: object, field_name: str, limit: int) -> str | None:
    if value is None:
        return None
    assert isinstance(value, str)
    cleaned = " ".join(value.split())
    if not cleaned:
        return None
    if len(cleaned) > limit or has_control(cleaned):
        raise Rejected(
            "INVALID_BILLING_DETAILS",
            f"Use at most {limit} printable characters.",
            [field_name],
        )
    return cleaned


def _card_brand(number: str) -> str:
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"34", "37"}:
        return "AMEX"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "MASTERCARD"
    if number.startswith(("6011", "65")):
        return "DISCOVER"
    return "CARD"


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _check_card(card: CardInput, now: datetime) -> tuple[str, str]:
    number = "".join(card.number.split()).replace("-", "")
    if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
        raise Rejected("INVALID_CARD", "The card number is not valid.", ["card", "number"])
    if not 1 <= card.exp_month <= 12:
        raise Rejected("INVALID_CARD", "The expiry month must be 1 to 12.", ["card", "expMonth"])
    if (card.exp_year, card.exp_month) < (now.year, now.month):
        raise Rejected("INVALID_CARD", "The card has expired.", ["card", "expYear"])
    if card.exp_year > now.year + 30:
        raise Rejected("INVALID_CARD", "The expiry year is too far ahead.", ["card", "expYear"])
    return _card_brand(number), number[-4:]


def changed_fields(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    """What the audit log keeps of a billing or network change: which fields changed, never
    their values. The log is for team admins, who may not read these fields (R22, R35)."""
    return {"changed": sorted(k for k in after if before.get(k) != after[k])}


def billing_snapshot(subscription: Subscription) -> dict[str, object]:
    return {
        "contactName": subscription.billing_contact_name,
        "contactEmail": subscription.billing_contact_email,
        "company": subscription.billing_company,
        "address": [
            subscription.billing_address_line1,
            subscription.billing_address_line2,
            subscription.billing_postal_code,
            subscription.billing_city,
            subscription.billing_country,
        ],
        "vatId": subscription.billing_vat_id,
        "card": [
            subscription.card_brand,
            subscription.card_last4,
            subscription.card_exp_month,
            subscription.card_exp_year,
        ],
    }


def _clean_billing(data: BillingInput, now: datetime) -> dict[str, object]:
    """Column -> new value for every field given, validated; INVALID_... otherwise."""
    changes: dict[str, object] = {}
    plain = {
        "contact_name": ("billing_contact_name", "contactName", 200),
        "company": ("billing_company", "company", 200),
        "address_line1": ("billing_address_line1", "addressLine1", 200),
        "address_line2": ("billing_address_line2", "addressLine2", 200),
        "city": ("billing_city", "city", 100),
        "postal_code": ("billing_postal_code", "postalCode", 20),
    }
    for attr, (column, field_name, limit) in plain.items():
        value = getattr(data, attr)
        if value is not _UNSET:
            changes[column] = _text(value, field_name, limit)
    if data.contact_email is not _UNSET:
        email = data.contact_email
        changes["billing_contact_email"] = (
            clean_email(email, "contactEmail")[0]
            if isinstance(email, str) and email.strip()
            else None
        )
    if data.country is not _UNSET:
        country = _text(data.country, "country", 2)
        if country is not None and not (
            len(country) == 2 and country.isascii() and country.isalpha()
        ):
            raise Rejected(
                "INVALID_BILLING_DETAILS", "Use the two-letter ISO 3166 country code.", ["country"]
            )
        changes["billing_country"] = country.upper() if country else None
    if data.vat_id is not _UNSET:
        vat = _text(data.vat_id, "vatId", 20)
        if vat is not None and not (
            vat.replace(" ", "").isascii() and vat.replace(" ", "").isalnum()
        ):
            raise Rejected(
                "INVALID_BILLING_DETAILS", "A VAT ID has letters and digits only.", ["vatId"]
            )
        changes["billing_vat_id"] = vat.replace(" ", "").upper() if vat else None
    if data.card is None:
        changes.update(card_brand=None, card_last4=None, card_exp_month=None, card_exp_year=None)
    elif isinstance(data.card, CardInput):
        brand, last4 = _check_card(data.card, now)
        changes.update(
            card_brand=brand,
            card_last4=last4,
            card_exp_month=data.card.exp_month,
            card_exp_year=data.card.exp_year,
        )
    return changes


async def update_billing(
    services: Services, principal: Principal, subscription_id: int, data: BillingInput
) -> Subscription:
    now = services.clock.now()
    changes = _clean_billing(data, now)
    async with services.db.write() as session:
        subscription = await authorized(
            services, session, principal, subscription_id, Action.UPDATE_BILLING
        )
        before = billing_snapshot(subscription)
        for column, value in changes.items():
            setattr(subscription, column, value)
        changed = changed_fields(before, billing_snapshot(subscription))
        if changed["changed"]:
            subscription.billing_updated_at = now
            record(
                session, principal, "subscription.billing_update", subscription, now, after=changed
            )
    return subscription


@dataclass(frozen=True, slots=True)
class NetworkInput:
    allowed_ip_ranges: list[str] | None = None  # None: unchanged
    private_link_enabled: bool | None = None
    private_link_service_name: object = _UNSET


def clean_ip_ranges(raw: list[str]) -> list[str]:
    """CIDR ranges (IPv4 or IPv6; a bare address is a /32 or /128), normalized, duplicates
    dropped, in the order given. Host bits set (10.0.0.1/8) are refused: likely a typo."""
    if len(raw) > MAX_IP_RANGES:
        raise Rejected(
            "TOO_MANY_IP_RANGES", f"At most {MAX_IP_RANGES} ranges.", ["allowedIpRanges"]
        )
    ranges: list[str] = []
    for index, text in enumerate(raw):
        try:
            if "%" in text:  # an IPv6 zone (fe80::1%eth0) names a local interface, not a range
                raise ValueError("zone IDs are not allowed")
            network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            raise Rejected(
                "INVALID_IP_RANGE",
                f"{text!r} is not an IP range in CIDR notation: {exc}.",
                ["allowedIpRanges", str(index)],
            ) from None
        if str(network) not in ranges:
            ranges.append(str(network))
    return ranges


def _clean_service_name(value: object) -> str | None:
    if value is None:
        return None
    assert isinstance(value, str)
    name = value.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-_:/")
    if not name or len(name) > 200 or not set(name.lower()) <= allowed:
        raise Rejected(
            "INVALID_PRIVATE_LINK",
            "The private link service name has 1 to 200 letters, digits and . - _ : /.",
            ["privateLinkServiceName"],
        )
    return name


def network_snapshot(subscription: Subscription) -> dict[str, object]:
    return {
        "allowedIpRanges": list(subscription.allowed_ip_ranges),
        "privateLinkEnabled": subscription.private_link_enabled,
        "privateLinkServiceName": subscription.private_link_service_name,
    }


async def update_network(
    services: Services, principal: Principal, subscription_id: int, data: NetworkInput
) -> Subscription:
    ranges = clean_ip_ranges(data.allowed_ip_ranges) if data.allowed_ip_ranges is not None else None
    service_name = (
        _clean_service_name(data.private_link_service_name)
        if data.private_link_service_name is not _UNSET
        else _UNSET
    )
    now = services.clock.now()
    async with services.db.write() as session:
        subscription = await authorized(
            services, session, principal, subscription_id, Action.UPDATE_NETWORK
        )
        before = network_snapshot(subscription)
        if ranges is not None:
            subscription.allowed_ip_ranges = ranges
        if service_name is not _UNSET:
            subscription.private_link_service_name = service_name  # type: ignore[assignment]
        if data.private_link_enabled is not None:
            subscription.private_link_enabled = data.private_link_enabled
        if subscription.private_link_enabled and not subscription.private_link_service_name:
            raise Rejected(
                "INVALID_PRIVATE_LINK",
                "Name the private link service to enable private link.",
                ["privateLinkServiceName"],
            )
        changed = changed_fields(before, network_snapshot(subscription))
        if changed["changed"]:
            subscription.network_updated_at = now
            record(
                session, principal, "subscription.network_update", subscription, now, after=changed
            )
    return subscription


async def set_usage_notification(
    services: Services,
    principal: Principal,
    subscription_id: int,
    metric: UsageMetric,
    threshold_percent: int,
) -> UsageNotification:
    """Any member defines "tell us at N% of the storage (or transfer) limit"; setting the same
    metric and threshold again changes nothing."""
    if not 1 <= threshold_percent <= 100:
        raise Rejected(
            "INVALID_THRESHOLD",
            "The threshold is a percentage from 1 to 100.",
            ["thresholdPercent"],
        )
    now = services.clock.now()
    async with services.db.write() as session:
        subscription = await authorized(
            services, session, principal, subscription_id, Action.MANAGE_USAGE_NOTIFICATIONS
        )
        existing = await session.scalar(
            select(UsageNotification).where(
                col(UsageNotification.subscription_id) == subscription_id,
                col(UsageNotification.metric) == metric,
                col(UsageNotification.threshold_percent) == threshold_percent,
            )
        )
        if existing is not None:
            return existing
        assert principal.user_id is not None
        notification = UsageNotification(
            subscription_id=subscription_id,
            metric=metric,
            threshold_percent=threshold_percent,
            created_by_id=principal.user_id,
            created_at=now,
        )
        session.add(notification)
        await session.flush()
        record(
            session,
            principal,
            "subscription.usage_notification_set",
            subscription,
            now,
            after={"metric": metric.value, "thresholdPercent": threshold_percent},
        )
    return notification


async def remove_usage_notification(
    services: Services, principal: Principal, notification_id: int
) -> int:
    now = services.clock.now()
    async with services.db.write() as session:
        notification = await session.get(UsageNotification, notification_id)
        if notification is None:
            raise not_found("UsageNotification", ["notificationId"])
        subscription = await authorized(
            services,
            session,
            principal,
            notification.subscription_id,
            Action.MANAGE_USAGE_NOTIFICATIONS,
        )
        record(
            session,
            principal,
            "subscription.usage_notification_remove",
            subscription,
            now,
            before={
                "metric": notification.metric.value,
                "thresholdPercent": notification.threshold_percent,
            },
        )
        await session.delete(notification)
    return notification_id


async def create_token(
    services: Services, principal: Principal, subscription_id: int, data: CreateTokenInput
) -> tuple[AccessToken, str]:
    """A subscription API token (R22: PRIMARY_ADMIN only). It acts as its creator within this
    subscription only (their current role there, capped by its permission)."""
    if principal.user_id is not None:
        await services.rate_limiter.token_created(principal.user_id)
    async with services.db.write() as session:
        await authorized(
            services, session, principal, subscription_id, Action.MANAGE_SUBSCRIPTION_TOKENS
        )
        return await insert_token(
            services, session, principal, data, subscription_id=subscription_id
        )


async def _locked_token(
    services: Services, session: AsyncSession, principal: Principal, token_id: int
) -> AccessToken:
    """A subscription token the caller manages, locked. The organization lock comes first,
    then the token's row: the order every other write that revokes tokens (deleting a user)
    takes, so the two never deadlock."""
    found = await session.get(AccessToken, token_id)
    if found is None or found.subscription_id is None or found.org_id != principal.org_id:
        raise not_found("Token", ["tokenId"])
    await authorized(
        services, session, principal, found.subscription_id, Action.MANAGE_SUBSCRIPTION_TOKENS
    )
    return await load_token(session, principal, token_id, subscription=True)


async def revoke_token(services: Services, principal: Principal, token_id: int) -> AccessToken:
    now = services.clock.now()
    async with services.db.write() as session:
        token = await _locked_token(services, session, principal, token_id)
        if token.revoked_at is not None:
            raise Rejected("TOKEN_ALREADY_REVOKED", "This token is already revoked.", ["tokenId"])
        mark_revoked(session, principal, token, now)
    return token


async def delete_token(services: Services, principal: Principal, token_id: int) -> int:
    """R16 for a subscription's tokens: only EXPIRED or REVOKED ones leave the list."""
    now = services.clock.now()
    async with services.db.write() as session:
        token = await _locked_token(services, session, principal, token_id)
        await delete_locked(session, principal, token, now)
    return token_id
