"""What a Kubernetes API request is about, for ``argocd_app_k8s_request_total``.

Layer 3 (``argosy.adapters``). Follows Argo CD's ``kubeclientmetrics`` (argoproj/pkg): the verb comes
from the HTTP method (``POST`` Create, ``PUT`` Update, ``PATCH`` Patch, ``DELETE`` Delete; a ``GET``
is a Get when the path names an object, a Watch with ``watch=true``, else a List), the kind is the
resource's plural name in the path (``deployments``) and the namespace the path's namespace.
Discovery requests (``/api``, ``/apis/apps/v1``, ``/version``) are Gets with an empty kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RequestInfo", "request_info"]

_VERBS = {"POST": "Create", "PUT": "Update", "PATCH": "Patch", "DELETE": "Delete"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    verb: str
    resource: str
    namespace: str
    name: str = ""


def request_info(method: str, path: str, params: Mapping[str, str] | None = None) -> RequestInfo:
    """Verb, plural resource, namespace and name of a request to ``path`` (without the query)."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if segments[:1] == ["api"]:
        rest = segments[2:]
    elif segments[:1] == ["apis"]:
        rest = segments[3:]
    else:
        rest = []
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    upper = method.upper()
    if upper in _VERBS:
        verb = _VERBS[upper]
    elif upper == "GET":
        if name or not resource:
            verb = "Get"
        elif (params or {}).get("watch") in ("true", "1"):
            verb = "Watch"
        else:
            verb = "List"
    else:
        verb = "Unknown"
    return RequestInfo(verb, resource, namespace, name)
