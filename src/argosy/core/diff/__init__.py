"""Resource diff (layer 1, pure): normalization, three-way and server-side comparison, ignore rules.

``diff(desired, live, ...)`` normalizes both objects the way Argo CD does, predicts the live object
after an apply (three-way from ``last-applied-configuration``, or the caller's server-side dry-run
result), removes ignored fields, and returns a :class:`ResourceDiff` with one :class:`FieldChange`
per differing field, each attributed to the field manager that last wrote it. Secrets are masked
before anything leaves this package. See docs/diff.md for the decisions (default mode, path format,
the supported jq subset, masks).

May import: the standard library, ``argosy.model`` and PyYAML (on text already in memory).
No files, sockets, subprocesses, asyncio or clock.
"""

from __future__ import annotations

from argosy.core.diff.compare import compare
from argosy.core.diff.engine import (
    DiffMode,
    DiffOptions,
    DiffPair,
    FieldChange,
    ResourceDiff,
    diff,
    diff_all,
)
from argosy.core.diff.ignore import (
    IgnoreRule,
    IgnoreRuleError,
    apply_ignore_rules,
    matching_rules,
    parse_app_ignore_differences,
    parse_system_ignore_differences,
    respect_ignore_differences,
)
from argosy.core.diff.jq import JqError, JqPath, compile_jq
from argosy.core.diff.managedfields import (
    FieldManager,
    ManagedFieldsEntry,
    ManagedFieldsError,
    applied_configuration,
    attribute,
    attribute_all,
    decode_fields_v1,
    managed_fields,
)
from argosy.core.diff.masking import MASK_CHAR, SecretMasker, is_secret, mask_secret
from argosy.core.diff.normalize import (
    StatusComparison,
    normalize,
    parse_compare_options,
    secret_string_data_to_data,
)
from argosy.core.diff.paths import (
    FieldPath,
    ItemKey,
    ItemValue,
    format_path,
    parse_json_pointer,
    plain_copy,
)
from argosy.core.diff.quantity import parse_quantity
from argosy.core.diff.threeway import applies_no_change, predict_live, three_way_merge_patch

__all__ = [
    "MASK_CHAR",
    "DiffMode",
    "DiffOptions",
    "DiffPair",
    "FieldChange",
    "FieldManager",
    "FieldPath",
    "IgnoreRule",
    "IgnoreRuleError",
    "ItemKey",
    "ItemValue",
    "JqError",
    "JqPath",
    "ManagedFieldsEntry",
    "ManagedFieldsError",
    "ResourceDiff",
    "SecretMasker",
    "StatusComparison",
    "applied_configuration",
    "applies_no_change",
    "apply_ignore_rules",
    "attribute",
    "attribute_all",
    "compare",
    "compile_jq",
    "decode_fields_v1",
    "diff",
    "diff_all",
    "format_path",
    "is_secret",
    "managed_fields",
    "mask_secret",
    "matching_rules",
    "normalize",
    "parse_app_ignore_differences",
    "parse_compare_options",
    "parse_json_pointer",
    "parse_quantity",
    "parse_system_ignore_differences",
    "plain_copy",
    "predict_live",
    "respect_ignore_differences",
    "secret_string_data_to_data",
    "three_way_merge_patch",
]
