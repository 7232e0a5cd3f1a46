"""API errors in Argo CD's grpc-gateway shape: ``{"error": msg, "code": <gRPC code>, "message": msg}``."""

from __future__ import annotations

from typing import Any

from argosy.ports.kube import ErrorKind, error_kind

__all__ = ["ApiError", "bad_request", "from_kube", "not_found", "permission_denied", "unauthenticated"]

# gRPC codes Argo CD's gateway puts in the body
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5
GRPC_ALREADY_EXISTS = 6
GRPC_PERMISSION_DENIED = 7
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_FAILED_PRECONDITION = 9
GRPC_UNAVAILABLE = 14
GRPC_UNAUTHENTICATED = 16

PERMISSION_DENIED = "permission denied"


class ApiError(Exception):
    def __init__(self, status: int, message: str, grpc_code: int, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.grpc_code = grpc_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.grpc_code, "message": self.message}


def unauthenticated(message: str = "no session information") -> ApiError:
    return ApiError(401, message, GRPC_UNAUTHENTICATED)


def permission_denied() -> ApiError:
    return ApiError(403, PERMISSION_DENIED, GRPC_PERMISSION_DENIED)


def not_found(message: str) -> ApiError:
    return ApiError(404, message, GRPC_NOT_FOUND)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, GRPC_INVALID_ARGUMENT)


def precondition(message: str) -> ApiError:
    return ApiError(400, message, GRPC_FAILED_PRECONDITION)


def from_kube(exc: BaseException, what: str) -> ApiError:
    """Map a Kubernetes API failure to an API error; the message never carries request bodies."""
    kind = error_kind(exc)
    if kind is ErrorKind.NOT_FOUND:
        return not_found(f"{what} not found")
    if kind is ErrorKind.ALREADY_EXISTS:
        return ApiError(409, f"{what} already exists", GRPC_ALREADY_EXISTS)
    if kind is ErrorKind.CONFLICT:
        return ApiError(409, f"{what} was modified concurrently; retry", GRPC_FAILED_PRECONDITION)
    if kind is ErrorKind.INVALID or getattr(exc, "status", None) == 400:
        reason = str(getattr(exc, "message", "") or "the object is invalid")
        return bad_request(f"{what}: {reason}"[:500])
    return ApiError(503, "the Kubernetes API is unavailable", GRPC_UNAVAILABLE)
