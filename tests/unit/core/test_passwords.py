"""argosy.core.passwords: bcrypt, the 72-byte rule, initial admin password, login rate limiting."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from argosy.core.passwords import (
    INITIAL_ADMIN_SECRET,
    LoginLimiter,
    PasswordError,
    PasswordTooLong,
    RateLimitPolicy,
    generate_initial_password,
    hash_password,
    initial_admin_secret,
    validate_new_password,
    verify_password,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_hash_and_verify() -> None:
    hashed = hash_password("correct horse", cost=4)
    assert hashed.startswith("$2b$04$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong horse", hashed)
    assert not verify_password("correct horse", None)
    assert not verify_password("", hashed)
    assert not verify_password("correct horse", "not-a-hash")


def test_go_style_2a_hash_verifies() -> None:
    hashed = hash_password("password", cost=4).replace("$2b$", "$2a$", 1)
    assert verify_password("password", hashed)


def test_72_byte_limit_is_deliberate() -> None:
    exactly = "a" * 72
    assert verify_password(exactly, hash_password(exactly, cost=4))
    too_long = "é" * 37  # 74 bytes in UTF-8
    with pytest.raises(PasswordTooLong):
        hash_password(too_long, cost=4)
    # bcrypt would compare only 72 bytes; we refuse instead of silently truncating.
    assert not verify_password(exactly + "b", hash_password(exactly, cost=4))
    with pytest.raises(PasswordError):
        hash_password("")


def test_validate_new_password() -> None:
    validate_new_password("longenough")
    with pytest.raises(PasswordError, match="pattern"):
        validate_new_password("short")
    with pytest.raises(PasswordError) as exc:
        validate_new_password("x" * 40)
    assert "x" * 40 not in str(exc.value)
    with pytest.raises(PasswordTooLong):
        validate_new_password("x" * 80, pattern=".*")
    with pytest.raises(PasswordError, match="valid regular"):
        validate_new_password("whatever1", pattern="(")


def test_initial_password_and_secret() -> None:
    pw = generate_initial_password()
    assert len(pw) == 16 and pw.isalnum() and pw != generate_initial_password()
    chars = itertools.cycle("ab")
    assert generate_initial_password(8, choose=lambda _alphabet: next(chars)) == "abababab"
    with pytest.raises(ValueError):
        generate_initial_password(4)
    secret = initial_admin_secret(pw, "argocd")
    assert secret["metadata"] == {
        "name": INITIAL_ADMIN_SECRET,
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/part-of": "argocd"},
    }
    data = secret["data"]
    assert isinstance(data, dict) and base64.b64decode(data["password"]).decode() == pw


def test_user_lockout_after_n_failures_and_release_after_window() -> None:
    limiter = LoginLimiter(RateLimitPolicy(max_failures_per_user=5, window=timedelta(seconds=300)))
    for i in range(4):
        assert limiter.record_failure("admin", "10.0.0.1", T0 + timedelta(seconds=i)).allowed
    assert limiter.failures("admin", T0 + timedelta(seconds=4)) == 4
    decision = limiter.record_failure("admin", "10.0.0.1", T0 + timedelta(seconds=4))
    assert not decision.allowed and decision.reason == "user"
    assert decision.retry_after == timedelta(seconds=300)
    # still locked just before the window ends, even with the right password (check comes first)
    assert not limiter.check("admin", "10.0.0.9", T0 + timedelta(seconds=303)).allowed
    # other users are not affected
    assert limiter.check("alice", "10.0.0.9", T0 + timedelta(seconds=5)).allowed
    released = T0 + timedelta(seconds=304)
    assert limiter.check("admin", "10.0.0.1", released).allowed
    assert limiter.failures("admin", released) == 0


def test_backoff_doubles_and_is_capped_then_forgotten() -> None:
    policy = RateLimitPolicy(
        max_failures_per_user=2, window=timedelta(seconds=60), max_lockout=timedelta(seconds=200)
    )
    limiter = LoginLimiter(policy)
    now = T0
    lockouts = []
    for _ in range(4):
        limiter.record_failure("u", None, now)
        decision = limiter.record_failure("u", None, now)
        assert not decision.allowed
        lockouts.append(decision.retry_after.total_seconds())
        now += decision.retry_after
        assert limiter.check("u", None, now).allowed
    assert lockouts == [60, 120, 200, 200]
    # a quiet window resets the backoff
    now += timedelta(seconds=61)
    limiter.record_failure("u", None, now)
    assert limiter.record_failure("u", None, now).retry_after == timedelta(seconds=60)


def test_failures_outside_the_window_do_not_count() -> None:
    limiter = LoginLimiter(RateLimitPolicy(max_failures_per_user=3, window=timedelta(seconds=60)))
    limiter.record_failure("u", None, T0)
    limiter.record_failure("u", None, T0 + timedelta(seconds=10))
    assert limiter.record_failure("u", None, T0 + timedelta(seconds=69)).allowed
    assert limiter.failures("u", T0 + timedelta(seconds=69)) == 2


def test_source_address_lockout_spans_users() -> None:
    limiter = LoginLimiter(RateLimitPolicy(max_failures_per_user=100, max_failures_per_source=3))
    for name in ("a", "b"):
        assert limiter.record_failure(name, "192.0.2.7", T0).allowed
    decision = limiter.record_failure("c", "192.0.2.7", T0)
    assert not decision.allowed and decision.reason == "source"
    assert not limiter.check("d", "192.0.2.7", T0).allowed
    assert limiter.check("d", "192.0.2.8", T0).allowed


def test_success_clears_user_but_not_source() -> None:
    limiter = LoginLimiter(RateLimitPolicy(max_failures_per_user=3, max_failures_per_source=3))
    limiter.record_failure("u", "s", T0)
    limiter.record_failure("u", "s", T0)
    limiter.record_success("u", "s", T0)
    assert limiter.failures("u", T0) == 0
    assert not limiter.record_failure("v", "s", T0).allowed


def test_tracked_keys_are_bounded() -> None:
    limiter = LoginLimiter(RateLimitPolicy(max_tracked_keys=10))
    for i in range(50):
        limiter.record_failure(f"user{i}", None, T0)
    assert len(limiter.tracked()) == 10
