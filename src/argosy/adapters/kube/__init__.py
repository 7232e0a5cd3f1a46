"""Layer 3 adapter: the Kubernetes API through our own thin async REST client on httpx.

May import: ``argosy.model``, the standard library, ``httpx`` (with ``h2``) and PyYAML (kubeconfig
files). Never ``argosy.core`` or another adapter. Modules: ``config`` (kubeconfig), ``errors``
(typed API errors), ``discovery`` (resource types), ``client`` (``KubeClient``) and ``livecache``
(the per-cluster ``ClusterCache``). See docs/kube.md.
"""

from argosy.adapters.kube.client import KubeClient, ListResult, PatchType, PropagationPolicy, WatchEvent
from argosy.adapters.kube.config import KubeConfig, KubeConfigError, load_kubeconfig, parse_kubeconfig
from argosy.adapters.kube.discovery import APIResource, Discovery
from argosy.adapters.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    MethodNotAllowed,
    NotFound,
    ServerError,
    Timeout,
    TooManyRequests,
    Transient,
    Unauthorized,
    Unprocessable,
)

__all__ = [
    "APIResource",
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Discovery",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeClient",
    "KubeConfig",
    "KubeConfigError",
    "KubeError",
    "ListResult",
    "MethodNotAllowed",
    "NotFound",
    "PatchType",
    "PropagationPolicy",
    "ServerError",
    "Timeout",
    "TooManyRequests",
    "Transient",
    "Unauthorized",
    "Unprocessable",
    "WatchEvent",
    "load_kubeconfig",
    "parse_kubeconfig",
]
