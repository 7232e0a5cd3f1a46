"""Application sources as Argo CD writes them (``spec.source`` and ``spec.sources[]``).

Layer 0 (``argosy.model``): standard library only.

The dataclasses use Python names; :meth:`ApplicationSource.from_dict` reads Argo CD's camelCase
JSON/YAML form and :meth:`ApplicationSource.to_dict` writes it back (canonical, suitable for a cache
key). Parsers reject wrong types with a :class:`SourceError` naming the field path, e.g.
``spec.source.helm.parameters[2].name: expected a string, got int``.

Unknown fields are ignored (the Argo CD API server prunes them too). Fields Argosy does not
implement but which would change the rendered output (Jsonnet settings, Kustomize ``patches`` and
``components``, config-management ``plugin``, Helm v2) are rejected when they carry a value, so a
source never renders silently to something different from what Argo CD would produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ApplicationSource",
    "DirectorySource",
    "HelmFileParameter",
    "HelmParameter",
    "HelmSource",
    "KustomizeReplica",
    "KustomizeSource",
    "SourceError",
    "sources_of_spec",
]


class SourceError(ValueError):
    """A source specification that is malformed or uses an unsupported feature."""


_EMPTY: Mapping[str, str] = MappingProxyType({})


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceError(f"{where}: expected an object, got {_type_name(value)}")
    for key in value:
        if not isinstance(key, str):
            raise SourceError(f"{where}: keys must be strings, got {_type_name(key)}")
    return value


def _opt_obj(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    return None if value is None else _obj(value, f"{where}.{key}")


def _str(data: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SourceError(f"{where}.{key}: expected a string, got {_type_name(value)}")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SourceError(f"{where}.{key}: expected true or false, got {_type_name(value)}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(f"{where}.{key}: expected a list, got {_type_name(value)}")
    return value


def _str_list(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _list(data, key, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise SourceError(f"{where}.{key}[{i}]: expected a string, got {_type_name(item)}")
    return tuple(items)


def _str_map(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, str]:
    value = data.get(key)
    if value is None:
        return _EMPTY
    mapping = _obj(value, f"{where}.{key}")
    for k, v in mapping.items():
        if not isinstance(v, str):
            raise SourceError(f"{where}.{key}.{k}: expected a string, got {_type_name(v)}")
    return MappingProxyType(dict(mapping))


def _reject(data: Mapping[str, Any], key: str, where: str, why: str) -> None:
    if data.get(key) not in (None, "", [], {}, False):
        raise SourceError(f"{where}.{key}: {why}")


def _plain(value: Any) -> Any:
    """A deep, plain-``dict``/``list`` copy (for ``to_dict`` and for ``valuesObject``)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class DirectorySource:
    """``spec.source.directory``: plain manifests. ``include``/``exclude`` are Argo CD globs."""

    recurse: bool = False
    include: str = ""
    exclude: str = ""

    @classmethod
    def from_dict(cls, data: object, where: str = "directory") -> DirectorySource:
        d = _obj(data, where)
        jsonnet = _opt_obj(d, "jsonnet", where)
        if jsonnet is not None:
            for key in ("extVars", "tlas", "libs"):
                _reject(jsonnet, key, f"{where}.jsonnet", "Jsonnet is not supported by Argosy")
        return cls(
            recurse=_bool(d, "recurse", where),
            include=_str(d, "include", where),
            exclude=_str(d, "exclude", where),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.recurse:
            out["recurse"] = True
        if self.include:
            out["include"] = self.include
        if self.exclude:
            out["exclude"] = self.exclude
        return out


@dataclass(frozen=True, slots=True)
class KustomizeReplica:
    """One ``kustomize.replicas[]`` entry: the workload name and its replica count."""

    name: str
    count: int

    @classmethod
    def from_dict(cls, data: object, where: str) -> KustomizeReplica:
        d = _obj(data, where)
        name = _str(d, "name", where)
        if not name:
            raise SourceError(f"{where}.name: required")
        raw = d.get("count")
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise SourceError(f"{where}.count: expected an integer, got {_type_name(raw)}")
        try:
            count = int(raw)
        except ValueError:
            raise SourceError(f"{where}.count: expected an integer, got {raw!r}") from None
        if count < 0:
            raise SourceError(f"{where}.count: must not be negative, got {count}")
        return cls(name=name, count=count)


@dataclass(frozen=True, slots=True)
class KustomizeSource:
    """``spec.source.kustomize`` overrides. ``version`` is read but ignored (one Kustomize build)."""

    images: tuple[str, ...] = ()
    name_prefix: str = ""
    name_suffix: str = ""
    common_labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    common_annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    label_without_selector: bool = False
    namespace: str = ""
    replicas: tuple[KustomizeReplica, ...] = ()
    version: str = ""

    @classmethod
    def from_dict(cls, data: object, where: str = "kustomize") -> KustomizeSource:
        d = _obj(data, where)
        _reject(d, "patches", where, "Kustomize patches in the Application are not supported by Argosy")
        _reject(d, "components", where, "Kustomize components in the Application are not supported by Argosy")
        _reject(d, "commonAnnotationsEnvsubst", where, "commonAnnotationsEnvsubst is not supported by Argosy")
        for key in ("forceCommonLabels", "forceCommonAnnotations"):
            _bool(d, key, where)  # type-checked; a no-op here (Argosy never edits the app's kustomization)
        images = _str_list(d, "images", where)
        for i, image in enumerate(images):
            if not image.strip():
                raise SourceError(f"{where}.images[{i}]: empty image override")
        return cls(
            images=images,
            name_prefix=_str(d, "namePrefix", where),
            name_suffix=_str(d, "nameSuffix", where),
            common_labels=_str_map(d, "commonLabels", where),
            common_annotations=_str_map(d, "commonAnnotations", where),
            label_without_selector=_bool(d, "labelWithoutSelector", where),
            namespace=_str(d, "namespace", where),
            replicas=tuple(
                KustomizeReplica.from_dict(r, f"{where}.replicas[{i}]")
                for i, r in enumerate(_list(d, "replicas", where))
            ),
            version=_str(d, "version", where),
        )

    @property
    def has_overrides(self) -> bool:
        return bool(
            self.images
            or self.name_prefix
            or self.name_suffix
            or self.common_labels
            or self.common_annotations
            or self.namespace
            or self.replicas
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.images:
            out["images"] = list(self.images)
        for key, value in (
            ("namePrefix", self.name_prefix),
            ("nameSuffix", self.name_suffix),
            ("namespace", self.namespace),
            ("version", self.version),
        ):
            if value:
                out[key] = value
        if self.common_labels:
            out["commonLabels"] = dict(self.common_labels)
        if self.common_annotations:
            out["commonAnnotations"] = dict(self.common_annotations)
        if self.label_without_selector:
            out["labelWithoutSelector"] = True
        if self.replicas:
            out["replicas"] = [{"name": r.name, "count": r.count} for r in self.replicas]
        return out


@dataclass(frozen=True, slots=True)
class HelmParameter:
    """``helm.parameters[]``: ``--set name=value`` (``--set-string`` when ``force_string``)."""

    name: str
    value: str
    force_string: bool = False

    @classmethod
    def from_dict(cls, data: object, where: str) -> HelmParameter:
        d = _obj(data, where)
        name = _str(d, "name", where)
        if not name:
            raise SourceError(f"{where}.name: required")
        return cls(name=name, value=_str(d, "value", where), force_string=_bool(d, "forceString", where))


@dataclass(frozen=True, slots=True)
class HelmFileParameter:
    """``helm.fileParameters[]``: ``--set-file name=path`` (path inside the repository)."""

    name: str
    path: str

    @classmethod
    def from_dict(cls, data: object, where: str) -> HelmFileParameter:
        d = _obj(data, where)
        name, path = _str(d, "name", where), _str(d, "path", where)
        if not name:
            raise SourceError(f"{where}.name: required")
        if not path:
            raise SourceError(f"{where}.path: required")
        return cls(name=name, path=path)


@dataclass(frozen=True, slots=True)
class HelmSource:
    """``spec.source.helm``. ``passCredentials`` is read but ignored; only Helm 3 is supported."""

    value_files: tuple[str, ...] = ()
    values: str = ""
    values_object: Mapping[str, Any] | None = None
    parameters: tuple[HelmParameter, ...] = ()
    file_parameters: tuple[HelmFileParameter, ...] = ()
    release_name: str = ""
    namespace: str = ""
    skip_crds: bool = False
    skip_schema_validation: bool = False
    skip_tests: bool = False
    ignore_missing_value_files: bool = False
    pass_credentials: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    version: str = ""

    @classmethod
    def from_dict(cls, data: object, where: str = "helm") -> HelmSource:
        d = _obj(data, where)
        version = _str(d, "version", where)
        if version not in ("", "v3"):
            raise SourceError(f"{where}.version: only Helm v3 is supported, got {version!r}")
        values_object = _opt_obj(d, "valuesObject", where)
        raw_values = d.get("values")
        if isinstance(raw_values, Mapping) and values_object is None:
            # Argo CD accepts an object under ``values`` too and treats it like ``valuesObject``.
            values_object, values = _obj(raw_values, f"{where}.values"), ""
        else:
            values = _str(d, "values", where)
        return cls(
            value_files=_str_list(d, "valueFiles", where),
            values=values,
            values_object=None if values_object is None else MappingProxyType(_plain(values_object)),
            parameters=tuple(
                HelmParameter.from_dict(p, f"{where}.parameters[{i}]")
                for i, p in enumerate(_list(d, "parameters", where))
            ),
            file_parameters=tuple(
                HelmFileParameter.from_dict(p, f"{where}.fileParameters[{i}]")
                for i, p in enumerate(_list(d, "fileParameters", where))
            ),
            release_name=_str(d, "releaseName", where),
            namespace=_str(d, "namespace", where),
            skip_crds=_bool(d, "skipCrds", where),
            skip_schema_validation=_bool(d, "skipSchemaValidation", where),
            skip_tests=_bool(d, "skipTests", where),
            ignore_missing_value_files=_bool(d, "ignoreMissingValueFiles", where),
            pass_credentials=_bool(d, "passCredentials", where),
            kube_version=_str(d, "kubeVersion", where),
            api_versions=_str_list(d, "apiVersions", where),
            version=version,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.value_files:
            out["valueFiles"] = list(self.value_files)
        if self.values:
            out["values"] = self.values
        if self.values_object is not None:
            out["valuesObject"] = _plain(self.values_object)
        if self.parameters:
            out["parameters"] = [
                {"name": p.name, "value": p.value, **({"forceString": True} if p.force_string else {})}
                for p in self.parameters
            ]
        if self.file_parameters:
            out["fileParameters"] = [{"name": p.name, "path": p.path} for p in self.file_parameters]
        for key, text in (
            ("releaseName", self.release_name),
            ("namespace", self.namespace),
            ("kubeVersion", self.kube_version),
            ("version", self.version),
        ):
            if text:
                out[key] = text
        for key, flag in (
            ("skipCrds", self.skip_crds),
            ("skipSchemaValidation", self.skip_schema_validation),
            ("skipTests", self.skip_tests),
            ("ignoreMissingValueFiles", self.ignore_missing_value_files),
            ("passCredentials", self.pass_credentials),
        ):
            if flag:
                out[key] = True
        if self.api_versions:
            out["apiVersions"] = list(self.api_versions)
        return out


@dataclass(frozen=True, slots=True)
class ApplicationSource:
    """One Application source. ``chart`` set means a Helm chart from a Helm repository or OCI."""

    repo_url: str
    path: str = ""
    target_revision: str = ""
    chart: str = ""
    ref: str = ""
    name: str = ""
    directory: DirectorySource | None = None
    kustomize: KustomizeSource | None = None
    helm: HelmSource | None = None

    @classmethod
    def from_dict(cls, data: object, where: str = "source") -> ApplicationSource:
        d = _obj(data, where)
        repo_url = _str(d, "repoURL", where)
        if not repo_url:
            raise SourceError(f"{where}.repoURL: required")
        _reject(d, "plugin", where, "config management plugins are not supported by Argosy")
        directory = _opt_obj(d, "directory", where)
        kustomize = _opt_obj(d, "kustomize", where)
        helm = _opt_obj(d, "helm", where)
        source = cls(
            repo_url=repo_url,
            path=_str(d, "path", where),
            target_revision=_str(d, "targetRevision", where),
            chart=_str(d, "chart", where),
            ref=_str(d, "ref", where),
            name=_str(d, "name", where),
            directory=None
            if directory is None
            else DirectorySource.from_dict(directory, f"{where}.directory"),
            kustomize=None
            if kustomize is None
            else KustomizeSource.from_dict(kustomize, f"{where}.kustomize"),
            helm=None if helm is None else HelmSource.from_dict(helm, f"{where}.helm"),
        )
        if source.chart and source.path:
            raise SourceError(
                f"{where}: set either chart (a Helm repository) or path (a Git directory), not both"
            )
        if source.ref and not source.ref.replace("-", "").replace("_", "").isalnum():
            raise SourceError(f"{where}.ref: must be letters, digits, '-' or '_', got {source.ref!r}")
        return source

    @property
    def is_helm_repository_chart(self) -> bool:
        return bool(self.chart)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"repoURL": self.repo_url}
        for key, text in (
            ("path", self.path),
            ("targetRevision", self.target_revision),
            ("chart", self.chart),
            ("ref", self.ref),
            ("name", self.name),
        ):
            if text:
                out[key] = text
        if self.directory is not None:
            out["directory"] = self.directory.to_dict()
        if self.kustomize is not None:
            out["kustomize"] = self.kustomize.to_dict()
        if self.helm is not None:
            out["helm"] = self.helm.to_dict()
        return out


def sources_of_spec(spec: object, where: str = "spec") -> tuple[ApplicationSource, ...]:
    """The sources of an Application ``spec``: ``sources[]`` when present, else ``[source]``."""
    d = _obj(spec, where)
    if d.get("sources") is not None:
        items = _list(d, "sources", where)
        if not items:
            raise SourceError(f"{where}.sources: at least one source is required")
        return tuple(ApplicationSource.from_dict(s, f"{where}.sources[{i}]") for i, s in enumerate(items))
    if d.get("source") is None:
        raise SourceError(f"{where}: either source or sources is required")
    return (ApplicationSource.from_dict(d["source"], f"{where}.source"),)
