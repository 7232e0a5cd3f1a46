"""Parse manifest text (multi-document YAML or JSON) into plain, JSON-compatible dicts, safely.

Layer 1 (``argosy.core``), pure: works on text already in memory; imports PyYAML and the stdlib.

Rules (see docs/rendering.md):

* PyYAML's ``CSafeLoader`` (``SafeLoader`` when libyaml is missing) with the implicit timestamp
  resolver removed, so ``2026-01-02`` stays the string Kubernetes would see; an explicit
  ``!!timestamp`` is kept as its text and ``!!binary`` as its base64 text.
* A key repeated in one mapping is an error naming the key and its line (Kubernetes' YAML decoder
  rejects it too). Keys merged in with ``<<`` may be overridden, as YAML intends.
* Anchors and aliases are allowed, but every document's size *with aliases expanded* is bounded
  (:attr:`ParseLimits.max_nodes`), so a "billion laughs" document is rejected before anything is
  built from it; recursive aliases and nesting deeper than :attr:`ParseLimits.max_depth` are
  rejected too. Documents that use aliases are copied so no two places share one object.
* At most :attr:`ParseLimits.max_documents` documents and :attr:`ParseLimits.max_text_chars`
  characters per text.
* Empty documents (``---`` with nothing, or ``null``) are skipped; ``kind: List`` (or any
  ``*List`` kind with ``items``) is flattened into its items.
* Every object must be a mapping with string ``apiVersion`` and ``kind`` and a ``metadata.name`` or
  ``metadata.generateName``.

Every problem is a :class:`ManifestError` carrying the file name and a message that names the
document index (1-based, counted over the documents in that file).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "DEFAULT_PARSE_LIMITS",
    "ManifestError",
    "ParseLimits",
    "load_yaml_documents",
    "parse_manifests",
    "validate_manifest",
]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BINARY_TAG = "tag:yaml.org,2002:binary"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class ManifestError(ValueError):
    """Manifest text that cannot be accepted; ``file`` names where it came from."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds applied to every text parsed by :func:`parse_manifests`."""

    max_text_chars: int = 64 * 1024 * 1024
    max_documents: int = 10_000
    max_nodes: int = 1_000_000
    """YAML nodes in one document, counted with every alias expanded."""
    max_depth: int = 200


DEFAULT_PARSE_LIMITS = ParseLimits()

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader: no timestamp resolution, duplicate keys rejected, non-string keys stringified."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[tuple[type, Any], int] = {}
        for key_node, _value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node, deep=False)
            marker = (type(key), key)  # 1 == True in Python, but not in YAML
            if marker in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first defined on line {seen[marker]})",
                    key_node.start_mark,
                )
            seen[marker] = key_node.start_mark.line + 1
        self.flatten_mapping(node)  # resolves ``<<`` merges; explicit keys come last and win
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, tuple):
                raise yaml.constructor.ConstructorError(
                    None, None, "found a non-scalar mapping key", key_node.start_mark
                )
            mapping[_key_text(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _key_text(key: Hashable) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _construct_as_text(loader: yaml.SafeLoader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP_TAG, _construct_as_text)
_Loader.add_constructor(_BINARY_TAG, _construct_as_text)


def _check_expansion(root: Node, limits: ParseLimits) -> bool:
    """Raise ``ValueError`` when ``root`` expands past the limits; return whether aliases occur.

    Iterative post-order walk with memoised subtree sizes, so shared (aliased) nodes cost one visit
    and the expanded size is computed without expanding anything.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    visits = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > limits.max_nodes:
                raise ValueError(
                    f"the document expands to more than {limits.max_nodes} YAML nodes "
                    "(an anchor/alias bomb or an oversized document)"
                )
            sizes[key] = total
            on_path.discard(key)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ValueError(f"recursive alias at line {node.start_mark.line + 1}")
        visits += 1
        on_path.add(key)
        if len(on_path) > limits.max_depth:
            raise ValueError(
                f"nesting deeper than {limits.max_depth} levels at line {node.start_mark.line + 1}"
            )
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))
    return sizes[id(root)] > visits


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _unshare(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unshare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshare(v) for v in value]
    return value


def load_yaml_documents(text: str, *, file: str, limits: ParseLimits = DEFAULT_PARSE_LIMITS) -> list[Any]:
    """Every document of ``text`` (YAML or JSON) as plain Python data, ``None`` for empty ones."""
    if len(text) > limits.max_text_chars:
        raise ManifestError(file, f"the text is larger than {limits.max_text_chars} characters")
    documents: list[Any] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            if len(documents) >= limits.max_documents:
                raise ManifestError(file, f"more than {limits.max_documents} YAML documents")
            index = len(documents) + 1
            node = loader.get_node()
            if node is None:
                documents.append(None)
                continue
            try:
                shared = _check_expansion(node, limits)
            except ValueError as exc:
                raise ManifestError(file, f"document {index}: {exc}") from None
            try:
                data = loader.construct_document(node)
            except RecursionError:
                raise ManifestError(file, f"document {index}: nesting too deep") from None
            documents.append(_unshare(data) if shared else data)
    except yaml.YAMLError as exc:
        raise ManifestError(file, f"document {len(documents) + 1}: invalid YAML: {_describe(exc)}") from None
    finally:
        loader.dispose()
    return documents


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return "; ".join(parts) + where if parts else str(exc).splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def validate_manifest(obj: object) -> str | None:
    """Why ``obj`` is not a Kubernetes object (``None`` when it is one)."""
    if not isinstance(obj, Mapping):
        return f"expected a Kubernetes object (a mapping), got {_type_name(obj)}"
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if not isinstance(value, str) or not value:
            return f"the object has no {field}"
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return f"{obj['kind']} has no metadata"
    name, generate_name = metadata.get("name"), metadata.get("generateName")
    if not (isinstance(name, str) and name) and not (isinstance(generate_name, str) and generate_name):
        return f"{obj['kind']} has no metadata.name or metadata.generateName"
    return None


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else type(value).__name__


def _is_list_kind(obj: Mapping[str, Any]) -> bool:
    """``kind: List``, or a typed ``*List`` (``ConfigMapList``) with ``items`` and no object name."""
    kind = obj.get("kind")
    if kind == "List":
        return True
    if not (isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)):
        return False
    metadata = obj.get("metadata")
    return not (isinstance(metadata, Mapping) and (metadata.get("name") or metadata.get("generateName")))


def parse_manifests(
    text: str, *, file: str, limits: ParseLimits = DEFAULT_PARSE_LIMITS
) -> list[dict[str, Any]]:
    """The Kubernetes objects in ``text``, in document order (``kind: List`` flattened)."""
    manifests: list[dict[str, Any]] = []
    for index, doc in enumerate(load_yaml_documents(text, file=file, limits=limits), start=1):
        if doc is None:
            continue
        if isinstance(doc, Mapping) and _is_list_kind(doc):
            items = doc.get("items")
            if items is None:
                continue
            if not isinstance(items, list):
                raise ManifestError(file, f"document {index}: {doc['kind']}.items must be a list")
            for item_index, item in enumerate(items):
                problem = validate_manifest(item)
                if problem is not None:
                    raise ManifestError(file, f"document {index}, items[{item_index}]: {problem}")
                manifests.append(dict(item))
            continue
        problem = validate_manifest(doc)
        if problem is not None:
            raise ManifestError(file, f"document {index}: {problem}")
        manifests.append(dict(doc))
    if len(manifests) > limits.max_documents:
        raise ManifestError(file, f"more than {limits.max_documents} objects")
    return manifests
