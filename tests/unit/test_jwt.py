"""TokenSigner (R13): HS256 pinned, issuer, audience, kind and every claim checked, the clock's
notion of expiry; and the hashing helpers the database relies on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from accessgraph.auth import tokens as tokens_module
from accessgraph.auth.tokens import (
    NEVER_EXPIRES,
    REQUIRED_CLAIMS,
    Claims,
    InvalidToken,
    KeySet,
    TokenKind,
    TokenSigner,
    peek_kind,
    same_digest,
    sha256_hex,
)

KEY = "unit-test-signing-key-" + "k" * 50
OTHER_KEY = "another-deployments-key-" + "z" * 50
ISSUER = "accessgraph"
AUDIENCE = "accessgraph-api"
# Ahead of the wall clock, so that only the tests about expiry depend on what time it is.
NOW = datetime(2099, 1, 1, 12, 0, tzinfo=UTC)
# A moment the wall clock has long passed: only the injected clock may decide expiry (STYLE 7).
PAST = datetime(2001, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(KEY, issuer=ISSUER, audience=AUDIENCE)


def issue(
    signer: TokenSigner,
    kind: TokenKind = TokenKind.ACCESS,
    *,
    now: datetime = NOW,
    expires_at: datetime | None = NOW + HOUR,
) -> str:
    return signer.issue(
        kind, subject=7, org_id=3, jti="agt-0123456789abcdef", now=now, expires_at=expires_at
    )


def claims_of(value: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(value, options={"verify_signature": False})
    return decoded


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(
    header: dict[str, Any], claims: dict[str, Any], key: str = KEY, digest: Any = hashlib.sha256
) -> str:
    """A JWT built by hand, so that any header (e.g. a lying `alg`) can be produced."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def valid_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "7",
        "org": 3,
        "typ": "access",
        "jti": "agt-0123456789abcdef",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + HOUR).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# --- issue / verify ---------------------------------------------------------------------------


def test_verify_round_trip_returns_the_claims(signer: TokenSigner) -> None:
    claims = signer.verify(issue(signer), TokenKind.ACCESS, now=NOW)
    assert claims == Claims(TokenKind.ACCESS, 7, 3, "agt-0123456789abcdef")


def test_verify_round_trip_session(signer: TokenSigner) -> None:
    claims = signer.verify(issue(signer, TokenKind.SESSION), TokenKind.SESSION, now=NOW)
    assert claims == Claims(TokenKind.SESSION, 7, 3, "agt-0123456789abcdef")


def test_issue_header_is_hs256_jwt(signer: TokenSigner) -> None:
    assert jwt.get_unverified_header(issue(signer)) == {"alg": "HS256", "typ": "JWT"}


def test_issue_carries_every_required_claim(signer: TokenSigner) -> None:
    claims = claims_of(issue(signer))
    assert claims == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "7",
        "org": 3,
        "typ": "access",
        "jti": "agt-0123456789abcdef",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + HOUR).timestamp()),
    }
    assert set(REQUIRED_CLAIMS) <= set(claims)


def test_issue_without_expiry_still_has_exp_far_ahead(signer: TokenSigner) -> None:
    claims = claims_of(issue(signer, expires_at=None))
    assert claims["exp"] == int((NOW + NEVER_EXPIRES).timestamp())


def test_issue_with_the_same_inputs_and_another_key_differs(signer: TokenSigner) -> None:
    other = TokenSigner(OTHER_KEY, issuer=ISSUER, audience=AUDIENCE)
    assert issue(signer) != issue(other)


def test_signer_without_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        TokenSigner("", issuer=ISSUER, audience=AUDIENCE)


# --- tampering and algorithm confusion ----------------------------------------------------------


def test_verify_tampered_payload_is_refused(signer: TokenSigner) -> None:
    head, _, signature = issue(signer).split(".")
    forged_claims = b64(json.dumps(valid_claims(sub="1")).encode())
    with pytest.raises(InvalidToken):
        signer.verify(f"{head}.{forged_claims}.{signature}", TokenKind.ACCESS, now=NOW)


def test_verify_tampered_signature_is_refused(signer: TokenSigner) -> None:
    head, body, signature = issue(signer).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidToken):
        signer.verify(f"{head}.{body}.{flipped}", TokenKind.ACCESS, now=NOW)


def test_verify_hand_signed_with_our_key_is_accepted(signer: TokenSigner) -> None:
    # The control for the forgeries below: the hand-made JWT itself is well formed.
    value = hand_signed({"alg": "HS256", "typ": "JWT"}, valid_claims())
    assert signer.verify(value, TokenKind.ACCESS, now=NOW).subject == 7


def test_verify_alg_none_is_refused(signer: TokenSigner) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(valid_claims()).encode())
    for value in (f"{header}.{body}.", jwt.encode(valid_claims(), key=None, algorithm="none")):
        with pytest.raises(InvalidToken):
            signer.verify(value, TokenKind.ACCESS, now=NOW)


def test_verify_hs512_with_the_same_key_is_refused(signer: TokenSigner) -> None:
    value = jwt.encode(valid_claims(), KEY, algorithm="HS512")
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW)


def test_verify_hs256_with_another_key_is_refused(signer: TokenSigner) -> None:
    value = jwt.encode(valid_claims(), OTHER_KEY, algorithm="HS256")
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "HS384", "EdDSA"])
def test_verify_header_claiming_another_algorithm_is_refused(signer: TokenSigner, alg: str) -> None:
    # The classic confusion: the signature is a valid HMAC under our key, the header lies.
    value = hand_signed({"alg": alg, "typ": "JWT"}, valid_claims())
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW)


def test_verify_garbage_is_refused(signer: TokenSigner) -> None:
    for value in ("", "not-a-jwt", "a.b.c", "....."):
        with pytest.raises(InvalidToken):
            signer.verify(value, TokenKind.ACCESS, now=NOW)


# --- issuer, audience, claims -------------------------------------------------------------------


def test_verify_wrong_issuer_is_refused(signer: TokenSigner) -> None:
    other = TokenSigner(KEY, issuer="someone-else", audience=AUDIENCE)
    with pytest.raises(InvalidToken):
        signer.verify(issue(other), TokenKind.ACCESS, now=NOW)


def test_verify_wrong_audience_is_refused(signer: TokenSigner) -> None:
    other = TokenSigner(KEY, issuer=ISSUER, audience="another-api")
    with pytest.raises(InvalidToken):
        signer.verify(issue(other), TokenKind.ACCESS, now=NOW)


@pytest.mark.parametrize("missing", [*REQUIRED_CLAIMS, "org"])
def test_verify_missing_claim_is_refused(signer: TokenSigner, missing: str) -> None:
    claims = valid_claims()
    del claims[missing]
    with pytest.raises(InvalidToken):
        signer.verify(jwt.encode(claims, KEY, algorithm="HS256"), TokenKind.ACCESS, now=NOW)


@pytest.mark.parametrize(
    ("claim", "value"), [("sub", "seven"), ("org", "acme"), ("typ", "refresh"), ("exp", "soon")]
)
def test_verify_malformed_claim_is_refused(signer: TokenSigner, claim: str, value: Any) -> None:
    token = hand_signed({"alg": "HS256", "typ": "JWT"}, valid_claims(**{claim: value}))
    with pytest.raises(InvalidToken):
        signer.verify(token, TokenKind.ACCESS, now=NOW)


# --- expiry by the injected clock ---------------------------------------------------------------


def test_verify_at_expiry_by_the_clock_is_refused(signer: TokenSigner) -> None:
    value = issue(signer)
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW + HOUR)


def test_verify_after_expiry_by_the_clock_is_refused(signer: TokenSigner) -> None:
    # Far in the future for the wall clock, yet expired for the service's clock.
    value = issue(signer, expires_at=NOW + timedelta(days=36500))
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW + timedelta(days=36500, seconds=1))


def test_verify_one_second_before_expiry_by_the_clock_is_accepted(signer: TokenSigner) -> None:
    value = issue(signer, expires_at=NOW + timedelta(days=36500))
    claims = signer.verify(value, TokenKind.ACCESS, now=NOW + timedelta(days=36500, seconds=-1))
    assert claims.subject == 7


def test_verify_expiry_is_decided_by_the_injected_clock_not_the_wall_clock(
    signer: TokenSigner,
) -> None:
    # STYLE 7: one injectable clock. Valid for another 30 minutes by the service's clock; the
    # wall clock is long past `exp`, which must not matter.
    value = issue(signer, now=PAST, expires_at=PAST + HOUR)
    claims = signer.verify(value, TokenKind.ACCESS, now=PAST + HOUR / 2)
    assert claims.subject == 7


def test_verify_session_issued_by_a_frozen_test_clock_is_accepted(signer: TokenSigner) -> None:
    # The shape of every console session in the test suite: 12 hours from the frozen START.
    value = issue(signer, TokenKind.SESSION, now=PAST, expires_at=PAST + timedelta(hours=12))
    assert signer.verify(value, TokenKind.SESSION, now=PAST).jti == "agt-0123456789abcdef"


# --- kinds ---------------------------------------------------------------------------------------


def test_verify_session_token_is_not_an_access_token(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(issue(signer, TokenKind.SESSION), TokenKind.ACCESS, now=NOW)


def test_verify_access_token_is_not_a_session_token(signer: TokenSigner) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(issue(signer, TokenKind.ACCESS), TokenKind.SESSION, now=NOW)


def test_peek_kind_reads_the_claimed_kind(signer: TokenSigner) -> None:
    assert peek_kind(issue(signer, TokenKind.SESSION)) == TokenKind.SESSION
    assert peek_kind(issue(signer, TokenKind.ACCESS)) == TokenKind.ACCESS


def test_peek_kind_of_garbage_or_unknown_kind_is_none() -> None:
    assert peek_kind("not-a-jwt") is None
    assert peek_kind(jwt.encode(valid_claims(typ="refresh"), KEY, algorithm="HS256")) is None


# --- verified signatures remembered (issue 8) ---------------------------------------------------


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each verifying decode PyJWT makes."""
    seen: list[str] = []
    original = jwt.decode

    def counted(value: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("options", {}).get("verify_signature", True):
            seen.append(value)
        return original(value, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    return seen


def test_a_verified_value_is_not_decoded_again(signer: TokenSigner, decodes: list[str]) -> None:
    value = issue(signer)
    for _ in range(3):
        assert signer.verify(value, TokenKind.ACCESS, now=NOW).jti == "agt-0123456789abcdef"
        assert signer.kind_of(value) == TokenKind.ACCESS
    assert decodes == [value]


def test_a_remembered_value_is_still_checked_for_expiry_and_kind(signer: TokenSigner) -> None:
    value = issue(signer, expires_at=NOW + HOUR)
    signer.verify(value, TokenKind.ACCESS, now=NOW)
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW + HOUR)
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.SESSION, now=NOW)


def test_a_refused_value_is_not_remembered(signer: TokenSigner, decodes: list[str]) -> None:
    value = issue(signer)
    tampered = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    for _ in range(2):
        with pytest.raises(InvalidToken):
            signer.verify(tampered, TokenKind.ACCESS, now=NOW)
    assert decodes == [tampered, tampered]


def test_a_new_key_set_forgets_what_a_retired_key_signed(signer: TokenSigner) -> None:
    signer.use(KeySet({"k1": signer.derive("salt-1")}, current="k1"))
    value = issue(signer)
    signer.verify(value, TokenKind.ACCESS, now=NOW)
    signer.use(KeySet({"k2": signer.derive("salt-2")}, current="k2"))  # k1 retired
    with pytest.raises(InvalidToken):
        signer.verify(value, TokenKind.ACCESS, now=NOW)


def test_the_memory_is_bounded(signer: TokenSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 3)
    for n in range(10):
        value = signer.issue(
            TokenKind.ACCESS, subject=n, org_id=3, jti=f"agt-{n}", now=NOW, expires_at=None
        )
        signer.verify(value, TokenKind.ACCESS, now=NOW)
        assert len(signer._verified) <= 3


# --- hashing -------------------------------------------------------------------------------------


def test_sha256_hex_is_the_standard_digest() -> None:
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_same_digest_compares_exactly() -> None:
    assert same_digest(sha256_hex("a"), sha256_hex("a"))
    assert not same_digest(sha256_hex("a"), sha256_hex("b"))
    assert not same_digest(sha256_hex("a"), sha256_hex("a")[:-1])
