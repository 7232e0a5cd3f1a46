"""Layer 3 adapter: a real Kubernetes control plane on loopback, built from the Go module proxy.

``toolchain`` builds and caches etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kubectl and kwok (outside the repository, keyed by version); ``pki`` writes the certificates;
``plane`` starts, checks and stops named clusters. The versions, flags and the start/stop order
follow ../shared/reference/local-control-plane.md §V.

May import: the standard library, ``cryptography``, ``httpx`` and ``PyYAML``.
"""
