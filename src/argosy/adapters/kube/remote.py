"""Connections to destination clusters described by Argo CD cluster Secrets.

Layer 3 (``argosy.adapters``). :class:`RemoteClusters` satisfies the controller's
``argosy.services.clusters.ClusterConnector`` structurally: ``connect(spec)`` reads the attributes of
a ``ClusterSpec`` (server, bearer token or basic auth, CA / client certificate PEM, insecure, server
name) and returns a :class:`RemoteCluster`: a :class:`KubeClient` and its own started
:class:`ClusterCache`. Nothing secret is logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from argosy.adapters.kube.client import KubeClient
from argosy.adapters.kube.config import KubeConfig
from argosy.adapters.kube.livecache import CacheOptions, ClusterCache, ResourceSettings
from argosy.ports.metrics import ClusterEventObserver, ClusterStats, KubeRequestObserver

__all__ = ["RemoteCluster", "RemoteClusters", "kube_config_for"]

log = logging.getLogger(__name__)


class _Spec(Protocol):
    """What :func:`kube_config_for` reads (``argosy.services.clusters.ClusterSpec`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def bearer_token(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def ca_data(self) -> str: ...
    @property
    def cert_data(self) -> str: ...
    @property
    def key_data(self) -> str: ...
    @property
    def insecure(self) -> bool: ...
    @property
    def server_name(self) -> str: ...


def _ssl_context(spec: _Spec) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if spec.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif spec.ca_data:
        try:
            context.load_verify_locations(cadata=spec.ca_data)
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"cluster {spec.name!r}: caData is not a PEM bundle: {exc}") from None
    if spec.cert_data and spec.key_data:
        # ssl loads a certificate chain only from files: a private directory, removed at once.
        with tempfile.TemporaryDirectory(prefix="argosy-cluster-") as tmp:
            cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for file, content in ((cert_file, spec.cert_data), (key_file, spec.key_data)):
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(content)
            try:
                context.load_cert_chain(str(cert_file), str(key_file))
            except ssl.SSLError:
                raise ValueError(f"cluster {spec.name!r}: certData/keyData cannot be loaded") from None
    return context


def kube_config_for(spec: _Spec) -> KubeConfig:
    """The :class:`KubeConfig` of a cluster Secret's spec."""
    return KubeConfig(
        server=spec.server,
        ssl_context=_ssl_context(spec) if spec.server.startswith("https://") else None,
        token=spec.bearer_token or None,
        basic_auth=(spec.username, spec.password) if spec.username and not spec.bearer_token else None,
        cluster=spec.name,
        tls_server_name=spec.server_name or None,
    )


class RemoteCluster:
    """A client and a started live cache for one destination cluster."""

    def __init__(self, kube: KubeClient, cache: ClusterCache) -> None:
        self._kube = kube
        self._cache = cache
        self.closed = False

    def stats(self) -> ClusterStats | None:
        """The cache's ``argocd_cluster_*`` figures while connected (None once closed)."""
        return None if self.closed else self._cache.stats()

    @property
    def kube(self) -> KubeClient:
        return self._kube

    @property
    def cache(self) -> ClusterCache:
        return self._cache

    async def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await self._cache.stop()
        await self._kube.aclose()


class RemoteClusters:
    """``connect(spec)``: a :class:`RemoteCluster` whose cache has listed what it could within
    ``sync_timeout`` seconds (types the identity may not list keep retrying in the background)."""

    def __init__(
        self,
        *,
        resource_settings: ResourceSettings | None = None,
        options: CacheOptions | None = None,
        sync_timeout: float = 60.0,
        observer: KubeRequestObserver | None = None,
        cache_observer: ClusterEventObserver | None = None,
        add_cluster_source: Callable[[Callable[[], ClusterStats | None]], None] | None = None,
    ) -> None:
        """``observer`` sees every request of the clients (``argocd_app_k8s_request_total``),
        ``cache_observer`` every watch event, and ``add_cluster_source`` gets each connection's
        ``stats`` (``argocd_cluster_*``; docs/metrics.md)."""
        self.resource_settings = resource_settings or ResourceSettings()
        self.options = options or CacheOptions()
        self.sync_timeout = sync_timeout
        self.observer = observer
        self.cache_observer = cache_observer
        self.add_cluster_source = add_cluster_source

    async def connect(self, spec: _Spec) -> RemoteCluster:
        kube = KubeClient(kube_config_for(spec), user_agent="argosy-controller", observer=self.observer)
        cache = ClusterCache(
            kube,
            settings=self.resource_settings,
            options=self.options,
            cluster=spec.server,
            observer=self.cache_observer,
            cluster_name=spec.name,
        )
        try:
            await cache.start(wait=False)
            try:
                await cache.wait_synced(timeout=self.sync_timeout)
            except TimeoutError:
                failing = ", ".join(sorted(str(gk) for gk in cache.last_errors)) or "some types"
                log.warning("cluster %s: not every type could be listed yet (%s)", spec.name, failing)
        except BaseException:
            await cache.stop()
            await kube.aclose()
            raise
        log.info("cluster %s (%s): connected, %d objects cached", spec.name, spec.server, len(cache))
        remote = RemoteCluster(kube, cache)
        if self.add_cluster_source is not None:
            self.add_cluster_source(remote.stats)
        return remote
