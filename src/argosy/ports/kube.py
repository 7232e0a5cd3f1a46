"""The Kubernetes port: what the sync executor and the compare service need from a cluster.

``argosy.adapters.kube.KubeClient`` satisfies :class:`Kube` structurally (tests check it with
mypy); objects are plain ``dict``s. Services must tell a few failures apart without importing the
adapter's exception classes, so this module classifies any exception by the ``status`` (HTTP code)
and ``reason`` attributes that the adapter's errors carry: :func:`is_not_found`,
:func:`is_already_exists`, :func:`is_conflict`, :func:`is_invalid` and :func:`error_kind`.

May import: ``argosy.model`` and the standard library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from enum import StrEnum
from typing import Any, Literal, Protocol

__all__ = [
    "ErrorKind",
    "Kube",
    "KubeListWatch",
    "KubeObjects",
    "KubePatchType",
    "KubePropagation",
    "KubeWatch",
    "ObjectList",
    "ResourceType",
    "WatchedEvent",
    "error_kind",
    "is_already_exists",
    "is_conflict",
    "is_invalid",
    "is_not_found",
]

KubePatchType = Literal["merge", "json", "strategic"]
KubePropagation = Literal["Foreground", "Background", "Orphan"]


class ResourceType(Protocol):
    """One served resource type (``argosy.adapters.kube.APIResource``)."""

    @property
    def kind(self) -> str: ...

    @property
    def namespaced(self) -> bool: ...


class KubeObjects(Protocol):
    """Reading and writing single objects. Writes return the object the server returns."""

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]: ...

    async def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]: ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any] | list[Any],
        namespace: str | None = None,
        *,
        patch_type: KubePatchType = "merge",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]: ...

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: KubePropagation | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None: ...


class Kube(KubeObjects, Protocol):
    """The subset of ``KubeClient`` the services use: single objects, types and server-side apply."""

    async def resource(self, api_version: str, kind: str) -> ResourceType: ...

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        validate: bool | None = None,
    ) -> dict[str, Any]: ...


class ObjectList(Protocol):
    """The result of a list (``argosy.adapters.kube.ListResult``)."""

    @property
    def items(self) -> list[dict[str, Any]]: ...

    @property
    def resource_version(self) -> str: ...


class WatchedEvent(Protocol):
    """One watch event (``argosy.adapters.kube.WatchEvent``): ADDED, MODIFIED, DELETED or BOOKMARK."""

    @property
    def type(self) -> str: ...

    @property
    def object(self) -> dict[str, Any]: ...


class KubeListWatch(Protocol):
    """Listing and watching a type. An expired resourceVersion raises an error with ``status`` 410:
    list again."""

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> ObjectList: ...

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchedEvent]: ...


class KubeWatch(Kube, KubeListWatch, Protocol):
    """:class:`Kube` plus list and watch, for the controller (``KubeClient`` satisfies it)."""


class ErrorKind(StrEnum):
    """The failures the services distinguish."""

    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    INVALID = "Invalid"
    OTHER = "Other"


def error_kind(exc: BaseException) -> ErrorKind:
    """Classify an exception raised through the port by its ``status`` and ``reason`` attributes."""
    status = getattr(exc, "status", None)
    reason = str(getattr(exc, "reason", "") or "")
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 409:
        return ErrorKind.ALREADY_EXISTS if reason == "AlreadyExists" else ErrorKind.CONFLICT
    if status == 422:
        return ErrorKind.INVALID
    return ErrorKind.OTHER


def is_not_found(exc: BaseException) -> bool:
    return error_kind(exc) is ErrorKind.NOT_FOUND


def is_already_exists(exc: BaseException) -> bool:
    return error_kind(exc) is ErrorKind.ALREADY_EXISTS


def is_conflict(exc: BaseException) -> bool:
    """A 409 that is not AlreadyExists: a resourceVersion or field-manager conflict."""
    return error_kind(exc) is ErrorKind.CONFLICT


def is_invalid(exc: BaseException) -> bool:
    """A 422: validation failed, or an immutable field was changed."""
    return error_kind(exc) is ErrorKind.INVALID
