"""Local-account passwords: bcrypt hashes, the initial admin password and login rate limiting.

Pure (layer 1) apart from bcrypt (a C extension with no I/O) and the operating system's random source
behind :mod:`secrets`, which callers may replace by passing ``choose``. The clock is always passed in.

**72-byte limit.** bcrypt only reads the first 72 bytes of a password. Go's ``x/crypto/bcrypt`` (which
Argo CD uses) refuses longer passwords when hashing, and bcrypt 5 for Python raises ``ValueError``.
We refuse them too, on purpose, rather than truncating: :func:`hash_password` raises
:class:`PasswordTooLong`, and :func:`verify_password` returns ``False`` for such a password without
calling bcrypt (no hash we accept can have come from it). Pre-hashing would make our hashes
incompatible with Argo CD's, which must keep working when argocd-secret is shared.

**Rate limiting.** :class:`LoginLimiter` is a deterministic state machine fed with ``now``. It counts
failures per user and per source address inside a sliding window; reaching the limit locks that key for
a lockout period that doubles with each consecutive lockout (capped). The per-user defaults are
Argo CD's documented ``ARGOCD_SESSION_FAILURE_MAX_FAIL_COUNT`` (5) and
``ARGOCD_SESSION_FAILURE_WINDOW_SECONDS`` (300); the per-source limit and the backoff are Argosy's.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import bcrypt

__all__ = [
    "BCRYPT_MAX_BYTES",
    "DEFAULT_BCRYPT_COST",
    "DEFAULT_PASSWORD_PATTERN",
    "INITIAL_ADMIN_SECRET",
    "LoginDecision",
    "LoginLimiter",
    "PasswordError",
    "PasswordTooLong",
    "RateLimitPolicy",
    "generate_initial_password",
    "hash_password",
    "initial_admin_secret",
    "validate_new_password",
    "verify_password",
]

BCRYPT_MAX_BYTES = 72
DEFAULT_BCRYPT_COST = 10  # Go's bcrypt.DefaultCost, which Argo CD uses
DEFAULT_PASSWORD_PATTERN = r"^.{8,32}$"  # noqa: S105 - Argo CD's default argocd-cm passwordPattern
INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"  # noqa: S105 - a Secret name
_INITIAL_ALPHABET = string.ascii_letters + string.digits


class PasswordError(ValueError):
    """A new password is not acceptable. The message never contains the password."""


class PasswordTooLong(PasswordError):
    pass


def _encode(password: str) -> bytes:
    return password.encode("utf-8")


def hash_password(password: str, *, cost: int = DEFAULT_BCRYPT_COST) -> str:
    """Return a ``$2b$`` bcrypt hash (Argo CD reads ``$2a$``/``$2b$``/``$2y$`` alike)."""
    raw = _encode(password)
    if len(raw) > BCRYPT_MAX_BYTES:
        raise PasswordTooLong(f"passwords are limited to {BCRYPT_MAX_BYTES} bytes by bcrypt")
    if not raw:
        raise PasswordError("the password is empty")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=cost)).decode("ascii")


def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password against a bcrypt hash. Never raises: a malformed hash is simply no match."""
    if not hashed or not password:
        return False
    raw = _encode(password)
    if len(raw) > BCRYPT_MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(raw, hashed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def validate_new_password(password: str, pattern: str = DEFAULT_PASSWORD_PATTERN) -> None:
    """Apply argocd-cm ``passwordPattern`` and the bcrypt byte limit to a password being set."""
    if len(_encode(password)) > BCRYPT_MAX_BYTES:
        raise PasswordTooLong(f"passwords are limited to {BCRYPT_MAX_BYTES} bytes by bcrypt")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise PasswordError(f"passwordPattern is not a valid regular expression: {exc.msg}") from None
    if not compiled.search(password):
        raise PasswordError(f"the password does not match the required pattern {pattern}")


def generate_initial_password(length: int = 16, *, choose: Callable[[str], str] = secrets.choice) -> str:
    """A random alphanumeric password, as Argo CD generates for ``argocd-initial-admin-secret``."""
    if length < 8:
        raise ValueError("initial passwords are at least 8 characters")
    return "".join(choose(_INITIAL_ALPHABET) for _ in range(length))


def initial_admin_secret(password: str, namespace: str) -> dict[str, object]:
    """The Secret manifest the service layer writes once, next to ``admin.password`` in argocd-secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": INITIAL_ADMIN_SECRET,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "argocd"},
        },
        "type": "Opaque",
        "data": {"password": base64.b64encode(_encode(password)).decode("ascii")},
    }


# -- login rate limiting -------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitPolicy:
    max_failures_per_user: int = 5
    max_failures_per_source: int = 20
    window: timedelta = timedelta(seconds=300)
    lockout: timedelta | None = None  # first lockout; None means the window
    max_lockout: timedelta = timedelta(hours=1)
    max_tracked_keys: int = 10_000

    @property
    def first_lockout(self) -> timedelta:
        return self.lockout if self.lockout is not None else self.window


@dataclass(frozen=True)
class LoginDecision:
    allowed: bool
    retry_after: timedelta = timedelta(0)
    reason: str = ""  # "user" or "source" when refused


@dataclass
class _KeyState:
    failures: list[datetime] = field(default_factory=list)
    locked_until: datetime | None = None
    lockouts: int = 0  # consecutive lockouts, for the backoff
    calm_from: datetime | None = None  # the last failure, or the end of the last lockout


class LoginLimiter:
    """Failed-login bookkeeping. Call :meth:`check` before verifying a password, then
    :meth:`record_failure` or :meth:`record_success`. Not thread-safe: the caller serialises access.

    SSO logins are not limited here (the identity provider owns that), as in Argo CD.
    """

    def __init__(self, policy: RateLimitPolicy | None = None) -> None:
        self.policy = policy or RateLimitPolicy()
        self._states: OrderedDict[str, _KeyState] = OrderedDict()

    @staticmethod
    def _keys(user: str, source: str | None) -> list[tuple[str, str]]:
        keys = [("user", f"user:{user}")]
        if source:
            keys.append(("source", f"source:{source}"))
        return keys

    def _limit(self, kind: str) -> int:
        return self.policy.max_failures_per_user if kind == "user" else self.policy.max_failures_per_source

    def _state(self, key: str, now: datetime) -> _KeyState:
        state = self._states.get(key)
        if state is None:
            state = _KeyState()
            self._states[key] = state
            while len(self._states) > self.policy.max_tracked_keys:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        self._expire(state, now)
        return state

    def _expire(self, state: _KeyState, now: datetime) -> None:
        if state.locked_until is not None and now >= state.locked_until:
            state.locked_until = None
            state.failures.clear()
        horizon = now - self.policy.window
        state.failures[:] = [t for t in state.failures if t > horizon]
        # A whole quiet window (no failure, no lockout) forgets the backoff.
        if (
            state.locked_until is None
            and state.calm_from is not None
            and now - state.calm_from >= self.policy.window
        ):
            state.lockouts = 0

    def check(self, user: str, source: str | None, now: datetime) -> LoginDecision:
        worst: LoginDecision = LoginDecision(allowed=True)
        for kind, key in self._keys(user, source):
            state = self._states.get(key)
            if state is None:
                continue
            self._expire(state, now)
            if state.locked_until is not None:
                wait = state.locked_until - now
                if worst.allowed or wait > worst.retry_after:
                    worst = LoginDecision(allowed=False, retry_after=wait, reason=kind)
        return worst

    def record_failure(self, user: str, source: str | None, now: datetime) -> LoginDecision:
        for kind, key in self._keys(user, source):
            state = self._state(key, now)
            if state.locked_until is not None:
                continue
            state.failures.append(now)
            state.calm_from = now
            if len(state.failures) >= self._limit(kind):
                state.lockouts += 1
                factor = 2 ** min(state.lockouts - 1, 30)
                duration = min(self.policy.first_lockout * factor, self.policy.max_lockout)
                state.locked_until = now + duration
                state.calm_from = state.locked_until
        return self.check(user, source, now)

    def record_success(self, user: str, source: str | None, now: datetime) -> None:
        """A good password clears the user's record; the source address keeps its count."""
        self._states.pop(f"user:{user}", None)

    def failures(self, user: str, now: datetime) -> int:
        state = self._states.get(f"user:{user}")
        if state is None:
            return 0
        self._expire(state, now)
        return len(state.failures)

    def tracked(self) -> Sequence[str]:
        return list(self._states)
