"""Prometheus metrics with Argo CD's names and labels (``prometheus_client``, own registry).

Layer 3 (``argosy.adapters``): may import ``argosy.model``, ``argosy.ports`` and I/O libraries.
Implements ``argosy.ports.metrics.Metrics``; :func:`exposition` renders the text format for a
``/metrics`` endpoint served by whatever HTTP server the process runs. See docs/metrics.md.
"""

from __future__ import annotations

from argosy.adapters.metrics.prometheus import CONTENT_TYPE, PrometheusMetrics, exposition

__all__ = ["CONTENT_TYPE", "PrometheusMetrics", "exposition"]
