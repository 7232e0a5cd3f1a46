"""argosy.core.tokens: HS256 session/API/project tokens, verified against an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from argosy.core.accounts import Accounts, format_rfc3339, parse_accounts, tokens_json
from argosy.core.tokens import (
    ISSUER,
    TokenConfigError,
    TokenError,
    generate_server_key,
    issue_api_token,
    issue_project_token,
    issue_session_token,
    project_role_tokens,
    server_key,
    verify_token,
)

KEY = b"0123456789abcdef0123456789abcdef-test-key"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CM = {"accounts.ci": "apiKey", "accounts.alice": "apiKey, login"}


def _accounts(secret: dict[str, str] | None = None, cm: dict[str, str] | None = None) -> Accounts:
    return parse_accounts(cm if cm is not None else CM, secret or {})


def _reason(exc: pytest.ExceptionInfo[TokenError]) -> str:
    return exc.value.reason


def test_session_token_round_trip() -> None:
    issued = issue_session_token(KEY, "alice", NOW, groups=["devs"])
    p = verify_token(issued.token, KEY, NOW + timedelta(hours=1), accounts=_accounts())
    assert (p.subject, p.kind, p.groups) == ("alice", "session", ("devs",))
    assert p.expires_at == int((NOW + timedelta(hours=24)).timestamp())
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER == "argosy" and claims["cap"] == "login"
    assert set(claims) >= {"sub", "jti", "iat", "nbf", "exp"}
    assert issued.token not in repr(issued)


def test_expired_token_is_rejected() -> None:
    issued = issue_session_token(KEY, "admin", NOW, ttl=timedelta(minutes=5))
    accounts = _accounts()
    verify_token(issued.token, KEY, NOW + timedelta(minutes=4, seconds=59), accounts=accounts)
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW + timedelta(minutes=5), accounts=accounts)
    assert _reason(exc) == "expired"
    # leeway
    verify_token(
        issued.token, KEY, NOW + timedelta(minutes=5), accounts=accounts, leeway=timedelta(seconds=30)
    )


def test_not_yet_valid_is_rejected() -> None:
    issued = issue_session_token(KEY, "admin", NOW)
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW - timedelta(seconds=10), accounts=_accounts())
    assert _reason(exc) == "not_yet_valid"


def test_session_token_issued_before_password_change_is_rejected() -> None:
    issued = issue_session_token(KEY, "admin", NOW)
    before = _accounts({"admin.passwordMtime": format_rfc3339(NOW - timedelta(days=1))})
    assert verify_token(issued.token, KEY, NOW, accounts=before).subject == "admin"
    after = _accounts({"admin.passwordMtime": format_rfc3339(NOW + timedelta(minutes=1))})
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW + timedelta(minutes=2), accounts=after)
    assert _reason(exc) == "password_changed"
    # A session started after the change is fine.
    fresh = issue_session_token(KEY, "admin", NOW + timedelta(minutes=2))
    verify_token(fresh.token, KEY, NOW + timedelta(minutes=3), accounts=after)


def test_logged_out_session_is_rejected() -> None:
    issued = issue_session_token(KEY, "admin", NOW)
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=_accounts(), revoked_sessions={issued.record.id})
    assert _reason(exc) == "revoked"


def test_api_token_valid_while_listed_and_revoked_when_removed() -> None:
    issued = issue_api_token(KEY, "ci", NOW)
    listed = _accounts({"accounts.ci.tokens": tokens_json([issued.record])})
    p = verify_token(issued.token, KEY, NOW + timedelta(days=400), accounts=listed)
    assert (p.subject, p.kind, p.expires_at) == ("ci", "apiKey", None)
    revoked = _accounts({"accounts.ci.tokens": "[]"})
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=revoked)
    assert _reason(exc) == "revoked"


def test_api_token_for_deleted_account_is_rejected() -> None:
    issued = issue_api_token(KEY, "ci", NOW)
    secret = {"accounts.ci.tokens": tokens_json([issued.record])}
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=parse_accounts({}, secret))
    assert _reason(exc) == "unknown_account"


def test_disabled_account_and_missing_capability() -> None:
    issued = issue_api_token(KEY, "ci", NOW)
    secret = {"accounts.ci.tokens": tokens_json([issued.record])}
    with pytest.raises(TokenError) as exc:
        verify_token(
            issued.token, KEY, NOW, accounts=_accounts(secret, {**CM, "accounts.ci.enabled": "false"})
        )
    assert _reason(exc) == "disabled"
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=_accounts(secret, {"accounts.ci": "login"}))
    assert _reason(exc) == "capability"
    session = issue_session_token(KEY, "ci", NOW)
    with pytest.raises(TokenError) as exc:
        verify_token(session.token, KEY, NOW, accounts=_accounts(secret))
    assert _reason(exc) == "capability"


def test_api_token_expiry_from_jwt_and_from_list() -> None:
    issued = issue_api_token(KEY, "ci", NOW, expires_in=timedelta(hours=1))
    assert issued.record.expires_at == int((NOW + timedelta(hours=1)).timestamp())
    accounts = _accounts({"accounts.ci.tokens": tokens_json([issued.record])})
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW + timedelta(hours=2), accounts=accounts)
    assert _reason(exc) == "expired"


def test_wrong_key_tampered_and_foreign_tokens() -> None:
    issued = issue_session_token(KEY, "admin", NOW)
    accounts = _accounts()
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, b"another-key-another-key-another-key!", NOW, accounts=accounts)
    assert _reason(exc) == "signature"
    head, body, sig = issued.token.split(".")
    with pytest.raises(TokenError) as exc:
        verify_token(f"{head}.{body}x.{sig}", KEY, NOW, accounts=accounts)
    assert _reason(exc) in {"signature", "malformed"}
    foreign = jwt.encode(
        {"iss": "argocd", "sub": "admin", "iat": 1, "jti": "x", "cap": "login"}, KEY, "HS256"
    )
    with pytest.raises(TokenError) as exc:
        verify_token(foreign, KEY, NOW, accounts=accounts)
    assert _reason(exc) == "issuer"
    unsigned = jwt.encode({"iss": "argosy", "sub": "admin", "iat": 1}, None, algorithm="none")
    with pytest.raises(TokenError) as exc:
        verify_token(unsigned, KEY, NOW, accounts=accounts)
    assert _reason(exc) == "malformed"
    with pytest.raises(TokenError):
        verify_token("garbage", KEY, NOW, accounts=accounts)
    assert "garbage" not in str(exc.value)


def test_project_tokens() -> None:
    issued = issue_project_token(KEY, "artemis", "ci", NOW)
    legacy_claims = {"iss": "argosy", "sub": "proj:artemis:ci", "iat": 1700000000, "nbf": 1700000000}
    legacy = jwt.encode(legacy_claims, KEY, algorithm="HS256")
    project = {
        "metadata": {"name": "artemis"},
        "spec": {"roles": [{"name": "ci", "jwtTokens": [{"iat": 1700000000}]}, {"name": "empty"}]},
        "status": {"jwtTokensByRole": {"ci": {"items": [issued.record.to_json()]}}},
    }
    lookup = project_role_tokens([project])
    p = verify_token(issued.token, KEY, NOW, accounts=_accounts(), project_tokens=lookup)
    assert p.kind == "project" and p.project_role == ("artemis", "ci")
    assert verify_token(legacy, KEY, NOW, accounts=_accounts(), project_tokens=lookup).token_id == ""
    # revoked: the role no longer lists it
    project["status"] = {}
    with pytest.raises(TokenError) as exc:
        verify_token(
            issued.token, KEY, NOW, accounts=_accounts(), project_tokens=project_role_tokens([project])
        )
    assert _reason(exc) == "revoked"
    # the role (or project) is gone
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=_accounts(), project_tokens=project_role_tokens([]))
    assert _reason(exc) == "unknown_role"
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=_accounts())
    assert _reason(exc) == "unknown_role"


def test_server_key_rules() -> None:
    assert server_key({"server.secretkey": "x" * 32}) == b"x" * 32
    with pytest.raises(TokenConfigError):
        server_key({})
    with pytest.raises(TokenConfigError):
        server_key({"server.secretkey": "short"})
    with pytest.raises(TokenConfigError):
        issue_session_token(b"short", "admin", NOW)
    assert len(generate_server_key()) >= 32 and generate_server_key() != generate_server_key()


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        issue_session_token(KEY, "admin", datetime(2025, 1, 1))
