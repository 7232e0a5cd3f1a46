"""Layer 3 adapter: the audit log file (spec §7.4), one JSON line per event, rotated by size.

May import: the standard library only (no ``argosy.core``: the caller injects the masking function).
"""

from argosy.adapters.audit.writer import AuditEvent, AuditLogWriter, AuditStats, mask_secret_objects

__all__ = ["AuditEvent", "AuditLogWriter", "AuditStats", "mask_secret_objects"]
