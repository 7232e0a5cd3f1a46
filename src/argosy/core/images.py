"""Image tag selection and write-back edits, compatible with Argo CD Image Updater (annotations, v0.x).

Layer 1 (``argosy.core``): pure. May import ``argosy.model``, the standard library (``re``,
``dataclasses``), ``semantic-version`` (version ordering and npm-style range grammar) and PyYAML
(only on text already in memory). No registry calls, no files, no clock: tags, their build dates
and digests are passed in as data by ``services.image_updater`` through the registry port.

Three parts, each a set of pure functions over frozen dataclasses:

* :func:`parse_annotations` reads the ``argocd-image-updater.argoproj.io/*`` annotations of an
  Application into an :class:`UpdaterConfig` (images with alias, constraint, strategy, tag
  filters, platforms, Helm/Kustomize placement; write-back method, target and branch).
  Problems raise :class:`ImageConfigError` with the annotation key named.
* :func:`newest_tag` / :func:`select_update` implement the tag pipeline: allow-tags, ignore-tags,
  sort by strategy, keep the candidates the constraint allows, take the last (highest) one.
  :class:`Constraint` gives Masterminds/semver v3 semantics (``,`` and spaces are AND, ``||`` is
  OR, ``~ ^ x-ranges``, hyphen ranges, ``!=``; a pre-release version matches only comparators
  that carry a pre-release themselves).
* :func:`kustomize_images`, :func:`helm_parameters`, :func:`source_after_update`,
  :func:`argocd_source_file` and :func:`kustomization_after_update` compute what
  ``spec.source`` (``argocd`` write-back) or the files in Git (``git`` write-back) must become.

See docs/images.md for the grammar and where Argosy differs from Image Updater.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

import yaml
from semantic_version import NpmSpec, Version

__all__ = [
    "ANNOTATION_PREFIX",
    "DEFAULT_HELM_IMAGE_NAME",
    "DEFAULT_HELM_IMAGE_TAG",
    "Constraint",
    "ConstraintError",
    "GitBranch",
    "HelmPlacement",
    "ImageChange",
    "ImageConfigError",
    "ImageRef",
    "ImageSpec",
    "Platform",
    "Selection",
    "TagInfo",
    "TagMatcher",
    "UpdateStrategy",
    "UpdaterConfig",
    "WriteBack",
    "WriteBackTarget",
    "argocd_source_file",
    "argocd_source_file_name",
    "filter_tags",
    "helm_parameters",
    "is_tag_ignored",
    "kustomization_after_update",
    "kustomize_images",
    "newest_tag",
    "parse_allow_tags",
    "parse_annotations",
    "parse_constraint",
    "parse_git_branch",
    "parse_image_ref",
    "parse_platform",
    "parse_tag_version",
    "select_update",
    "sort_tags",
    "source_after_update",
]

ANNOTATION_PREFIX = "argocd-image-updater.argoproj.io/"
IMAGE_LIST = ANNOTATION_PREFIX + "image-list"
WRITE_BACK_METHOD = ANNOTATION_PREFIX + "write-back-method"
WRITE_BACK_TARGET = ANNOTATION_PREFIX + "write-back-target"
GIT_BRANCH = ANNOTATION_PREFIX + "git-branch"
GIT_REPOSITORY = ANNOTATION_PREFIX + "git-repository"

DEFAULT_HELM_IMAGE_NAME = "image.name"
DEFAULT_HELM_IMAGE_TAG = "image.tag"


class ImageConfigError(ValueError):
    """An Image Updater annotation is malformed; the message names the annotation."""


class ConstraintError(ValueError):
    """A version constraint does not parse (Masterminds ``NewConstraint`` would fail)."""


# --- strategies ----------------------------------------------------------------------------------


class UpdateStrategy(StrEnum):
    SEMVER = "semver"
    NEWEST_BUILD = "newest-build"
    DIGEST = "digest"
    ALPHABETICAL = "alphabetical"


_LEGACY_STRATEGIES = {"latest": UpdateStrategy.NEWEST_BUILD, "name": UpdateStrategy.ALPHABETICAL}


def _parse_strategy(value: str, key: str) -> tuple[UpdateStrategy, str | None]:
    """The strategy and a deprecation warning for the old names ``latest`` and ``name``."""
    text = value.strip()
    if text in _LEGACY_STRATEGIES:
        new = _LEGACY_STRATEGIES[text]
        return new, f"{key}: update strategy {text!r} is deprecated, use {new.value!r}"
    try:
        return UpdateStrategy(text), None
    except ValueError:
        allowed = ", ".join([s.value for s in UpdateStrategy] + sorted(_LEGACY_STRATEGIES))
        raise ImageConfigError(f"{key}: unknown update strategy {text!r} (allowed: {allowed})") from None


# --- image references ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    """``name[:tag][@digest]``; ``name`` keeps the registry and path as written."""

    name: str
    tag: str | None = None
    digest: str | None = None

    def with_tag(self) -> str:
        """The reference as written in manifests: ``name:tag``, ``name@digest`` or ``name:tag@digest``."""
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def tag_value(self) -> str:
        """What goes into a Helm tag parameter: ``tag``, ``tag@digest`` or ``digest``."""
        if self.tag and self.digest:
            return f"{self.tag}@{self.digest}"
        return self.tag or self.digest or ""


def parse_image_ref(text: str) -> ImageRef:
    """Split ``[registry[:port]/]path[:tag][@digest]``: the tag follows the last ``:`` past any ``/``."""
    ref = text.strip()
    if not ref:
        raise ImageConfigError("empty image reference")
    digest: str | None = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not digest:
            raise ImageConfigError(f"image reference {text!r} has an empty digest")
    tag: str | None = None
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        ref, tag = ref[:colon], ref[colon + 1 :]
        if not tag:
            raise ImageConfigError(f"image reference {text!r} has an empty tag")
    if not ref or any(c.isspace() for c in ref):
        raise ImageConfigError(f"invalid image name in {text!r}")
    return ImageRef(name=ref, tag=tag, digest=digest)


# --- tag filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagMatcher:
    """allow-tags: ``any`` (or empty) matches all; ``regexp:<re>`` searches unanchored; else nothing."""

    kind: Literal["any", "regexp", "none"]
    pattern: str = ""
    reason: str = ""

    def matches(self, tag: str) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "regexp":
            return _compiled(self.pattern).search(tag) is not None
        return False


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _REGEX_CACHE.get(pattern)
    if found is None:
        found = re.compile(pattern)
        if len(_REGEX_CACHE) < 512:
            _REGEX_CACHE[pattern] = found
    return found


def parse_allow_tags(value: str | None) -> TagMatcher:
    """Image Updater's ``ParseMatch``: never raises; a bad value fails safe by matching nothing."""
    text = (value or "").strip()
    if text == "" or text.lower() == "any":
        return TagMatcher("any")
    fn, sep, arg = text.partition(":")
    if not sep:
        return TagMatcher("none", reason=f"allow-tags {text!r} is neither 'any' nor 'regexp:<re>'")
    if fn.lower() != "regexp":
        return TagMatcher("none", reason=f"allow-tags: unknown match function {fn!r}")
    try:
        _compiled(arg)
    except re.error as err:
        return TagMatcher("none", pattern=arg, reason=f"allow-tags: invalid regexp {arg!r}: {err}")
    return TagMatcher("regexp", pattern=arg)


def _go_glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Go ``filepath.Match`` as a regex: ``*`` and ``?`` stop at ``/``, ``[^..]`` negates, ``\\`` escapes.

    Returns None for a malformed pattern (Go's ``ErrBadPattern``), which then matches nothing.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 >= n:
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            items: list[str] = []
            while True:
                if j >= n:
                    return None
                if pattern[j] == "]" and items:
                    break
                lo = pattern[j]
                if lo == "\\":
                    j += 1
                    if j >= n:
                        return None
                    lo = pattern[j]
                elif lo in "-]":
                    return None
                j += 1
                if j < n and pattern[j] == "-":
                    j += 1
                    if j >= n:
                        return None
                    hi = pattern[j]
                    if hi == "\\":
                        j += 1
                        if j >= n:
                            return None
                        hi = pattern[j]
                    elif hi in "-]":
                        return None
                    if hi < lo:
                        return None
                    j += 1
                    items.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    items.append(re.escape(lo))
            body = "".join(items)
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error:
        return None


def is_tag_ignored(tag: str, patterns: Iterable[str]) -> bool:
    """True when any ignore-tags glob (Go ``filepath.Match`` syntax, whole-string) matches the tag."""
    for pattern in patterns:
        compiled = _go_glob_regex(pattern)
        if compiled is not None and compiled.match(tag):
            return True
    return False


# --- versions and constraints --------------------------------------------------------------------

_TAG_VERSION = re.compile(
    r"v?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def parse_tag_version(tag: str) -> Version | None:
    """Masterminds ``NewVersion`` coercion: ``v`` prefix, 1- or 2-part versions; None if not semver.

    Build metadata is dropped: Masterminds ignores it when comparing and matching.
    """
    m = _TAG_VERSION.fullmatch(tag)
    if m is None:
        return None
    pre = tuple(m["pre"].split(".")) if m["pre"] else ()
    try:
        return Version(
            major=int(m["major"]),
            minor=int(m["minor"] or 0),
            patch=int(m["patch"] or 0),
            prerelease=pre,
            build=(),
        )
    except ValueError:  # e.g. a numeric pre-release identifier with a leading zero
        return None


_OPS = {"": "=", "=": "=", "==": "=", "!=": "!=", ">": ">", "<": "<", ">=": ">=", "=>": ">="}
_OPS |= {"<=": "<=", "=<": "<=", "~": "~", "~>": "~", "^": "^"}
_PART = r"(?:[0-9]+|[xX*])"
_CVERSION = (
    rf"v?{_PART}(?:\.{_PART})?(?:\.{_PART})?"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_HYPHEN = re.compile(rf"\s*({_CVERSION})\s+-\s+({_CVERSION})\s*,?")
_COMPARATOR = re.compile(rf"\s*(!=|==|=>|=<|>=|<=|~>|[=<>~^]|)\s*({_CVERSION})\s*,?")
_CPARTS = re.compile(
    r"v?(?P<major>[0-9]+|[xX*])(?:\.(?P<minor>[0-9]+|[xX*]))?(?:\.(?P<patch>[0-9]+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)


@dataclass(frozen=True)
class _Comparator:
    """One Masterminds comparator. ``None`` parts are wildcards (``x``, ``*`` or left out)."""

    op: str
    major: int | None
    minor: int | None
    patch: int | None
    pre: tuple[str, ...]

    @property
    def base(self) -> Version:
        return Version(
            major=self.major or 0, minor=self.minor or 0, patch=self.patch or 0, prerelease=self.pre
        )

    @property
    def dirty(self) -> bool:
        return self.major is None or self.minor is None or self.patch is None

    @property
    def needs_own_check(self) -> bool:
        """Checked by :func:`_check` rather than ``NpmSpec``: ``!=`` and pre-releases (npm lacks
        or differs on them) and a bare wildcard (``<*`` and friends, which npm rejects)."""
        return bool(self.pre) or self.op == "!=" or self.major is None

    def npm(self) -> str:
        """The comparator in npm grammar, for ``NpmSpec``: the given parts only (``~1.2``, ``>=1``)."""
        parts = [str(p) for p in (self.major, self.minor, self.patch) if p is not None]
        return ("" if self.op == "=" else self.op) + ".".join(parts)


def _parse_comparator(op: str, text: str, constraint: str) -> _Comparator:
    m = _CPARTS.fullmatch(text)
    if m is None:  # pragma: no cover - _COMPARATOR already matched the same shape
        raise ConstraintError(f"invalid version {text!r} in constraint {constraint!r}")

    def part(name: str) -> int | None:
        value = m[name]
        return None if value is None or value in "xX*" else int(value)

    major, minor, patch = part("major"), part("minor"), part("patch")
    # A wildcard makes every later part a wildcard too (Masterminds: 1.x.3 is 1.x).
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    pre = tuple(m["pre"].split(".")) if m["pre"] else ()
    comparator = _Comparator(_OPS[op], major, minor, patch, pre)
    try:
        _ = comparator.base
    except ValueError as err:
        raise ConstraintError(f"invalid version {text!r} in constraint {constraint!r}: {err}") from None
    return comparator


def _cmp(a: Version, b: Version) -> int:
    """Semver precedence: -1, 0 or 1 (build metadata was dropped on parsing)."""
    ka, kb = a.precedence_key, b.precedence_key
    return 0 if ka == kb else (-1 if ka < kb else 1)


def _check(c: _Comparator, v: Version) -> bool:
    """Masterminds comparator semantics on a version that passed the pre-release gate."""
    order = _cmp(v, c.base)
    major, minor, patch = int(v.major), int(v.minor), int(v.patch)
    if c.op in ("=", "!="):
        equal = _in_xrange(c, v) if c.dirty else order == 0
        return equal if c.op == "=" else not equal
    if c.op == ">":
        if not c.dirty:
            return order > 0
        if c.major is None:
            return False
        if major != c.major:
            return major > c.major
        return c.minor is not None and minor > c.minor
    if c.op == ">=":
        return order >= 0
    if c.op == "<":
        return order < 0
    if c.op == "<=":
        if not c.dirty:
            return order <= 0
        if c.major is None:
            return True
        if major != c.major:
            return major < c.major
        return c.minor is None or minor <= c.minor
    if order < 0:
        return False
    if c.op == "~":
        return _in_xrange(c, v)
    # caret: the left-most non-zero part stays fixed
    if c.major is None:
        return True
    if c.major > 0 or c.minor is None:
        return major == c.major
    if c.minor > 0 or c.patch is None:
        return major == 0 and minor == c.minor
    return major == 0 and minor == 0 and patch == c.patch


def _in_xrange(c: _Comparator, v: Version) -> bool:
    """``>= base`` with the major (and the minor, when given) fixed: Masterminds' tilde and x-ranges."""
    if _cmp(v, c.base) < 0:
        return False
    if c.major is not None and int(v.major) != c.major:
        return False
    return c.minor is None or int(v.minor) == c.minor


@dataclass(frozen=True)
class _Group:
    """Comparators joined by AND; ``spec`` is the npm form of those ``NpmSpec`` can check."""

    comparators: tuple[_Comparator, ...]
    spec: NpmSpec | None

    def allows(self, v: Version) -> bool:
        if v.prerelease:
            # Masterminds: a pre-release only satisfies comparators that name a pre-release.
            if any(not c.pre for c in self.comparators):
                return False
            return all(_check(c, v) for c in self.comparators)
        if self.spec is not None and not bool(self.spec.match(v)):
            return False
        return all(_check(c, v) for c in self.comparators if c.needs_own_check)


@dataclass(frozen=True)
class Constraint:
    """A parsed Masterminds/semver v3 constraint. Build with :func:`parse_constraint`."""

    text: str
    groups: tuple[_Group, ...] = field(repr=False)

    def allows(self, version: Version) -> bool:
        v = version.truncate("prerelease")
        return any(g.allows(v) for g in self.groups)

    def allows_tag(self, tag: str) -> bool:
        v = parse_tag_version(tag)
        return v is not None and self.allows(v)

    @property
    def includes_prereleases(self) -> bool:
        return any(all(c.pre for c in g.comparators) for g in self.groups)


def parse_constraint(text: str | None) -> Constraint:
    """Masterminds grammar: ``,`` or whitespace is AND, ``||`` is OR; empty means ``*``.

    Comparators: ``= != > < >= <= ~ ~> ^`` (``=>`` and ``=<`` too), x-ranges (``1.2.x``, ``1.*``,
    ``2.x-0``), hyphen ranges ``1.2 - 1.4.5``; versions may carry a ``v`` prefix.
    """
    source = (text or "").strip() or "*"
    groups: list[_Group] = []
    for raw in source.split("||"):
        body = raw.strip()
        if not body:
            raise ConstraintError(f"empty alternative in constraint {source!r}")
        comparators: list[_Comparator] = []
        pos = 0
        while pos < len(body):
            hm = _HYPHEN.match(body, pos)
            if hm is not None:
                comparators.append(_parse_comparator(">=", hm[1], source))
                comparators.append(_parse_comparator("<=", hm[2], source))
                pos = hm.end()
                continue
            cm = _COMPARATOR.match(body, pos)
            if cm is None or cm.end() == pos:
                raise ConstraintError(f"invalid constraint {source!r} near {body[pos:]!r}")
            comparators.append(_parse_comparator(cm[1], cm[2], source))
            pos = cm.end()
        npm_parts = [c.npm() for c in comparators if not c.needs_own_check]
        spec: NpmSpec | None = None
        if npm_parts:
            try:
                spec = NpmSpec(" ".join(npm_parts))
            except ValueError as err:
                raise ConstraintError(f"invalid constraint {source!r}: {err}") from None
        groups.append(_Group(tuple(comparators), spec))
    return Constraint(text=source, groups=tuple(groups))


# --- tag pipeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagInfo:
    """A tag as the registry reports it; ``created`` (unix seconds) only for newest-build."""

    name: str
    created: float | None = None
    digest: str | None = None


def _as_infos(tags: Iterable[TagInfo | str]) -> list[TagInfo]:
    """De-duplicate by name, the later entry winning (Image Updater's tag list is keyed by name)."""
    by_name: dict[str, TagInfo] = {}
    for tag in tags:
        info = TagInfo(tag) if isinstance(tag, str) else tag
        by_name[info.name] = info
    return list(by_name.values())


def filter_tags(
    tags: Iterable[TagInfo | str], allow: TagMatcher, ignore: Sequence[str] = ()
) -> list[TagInfo]:
    return [t for t in _as_infos(tags) if allow.matches(t.name) and not is_tag_ignored(t.name, ignore)]


def sort_tags(tags: Iterable[TagInfo | str], by: UpdateStrategy | Literal["date"]) -> list[TagInfo]:
    """Ascending order as Image Updater sorts: semver (non-semver tags dropped; ties by name),
    date (ties by name), name (byte-wise). The digest strategy keeps the given order."""
    infos = _as_infos(tags)
    if by == UpdateStrategy.SEMVER:
        keyed = [(v, t) for t in infos if (v := parse_tag_version(t.name)) is not None]
        keyed.sort(key=lambda p: p[1].name.encode())
        keyed.sort(key=lambda p: p[0].precedence_key)
        return [t for _, t in keyed]
    if by in (UpdateStrategy.NEWEST_BUILD, "date"):
        return sorted(infos, key=lambda t: (t.created or 0.0, t.name.encode()))
    if by == UpdateStrategy.ALPHABETICAL:
        return sorted(infos, key=lambda t: t.name.encode())
    return infos


def newest_tag(
    tags: Iterable[TagInfo | str],
    *,
    strategy: UpdateStrategy = UpdateStrategy.SEMVER,
    constraint: str = "",
    allow: TagMatcher | None = None,
    ignore: Sequence[str] = (),
) -> TagInfo | None:
    """The tag Image Updater would pick, or None; :class:`ConstraintError` for a bad semver constraint."""
    candidates = _candidates(tags, strategy, constraint, allow or TagMatcher("any"), ignore)
    return candidates[-1] if candidates else None


def _candidates(
    tags: Iterable[TagInfo | str],
    strategy: UpdateStrategy,
    constraint: str,
    allow: TagMatcher,
    ignore: Sequence[str],
) -> list[TagInfo]:
    parsed = parse_constraint(constraint) if strategy == UpdateStrategy.SEMVER else None
    kept = filter_tags(tags, allow, ignore)
    if strategy == UpdateStrategy.DIGEST:
        return [t for t in kept if t.name == constraint]
    ordered = sort_tags(kept, strategy)
    if parsed is not None:
        ordered = [t for t in ordered if parsed.allows_tag(t.name)]
    return ordered


@dataclass(frozen=True)
class Selection:
    """The outcome for one image: ``update`` says whether ``tag``/``digest`` differ from the current image."""

    update: bool
    reason: str
    tag: str | None = None
    digest: str | None = None
    candidates: int = 0

    @property
    def new_ref(self) -> str | None:
        if self.tag is None:
            return None
        return self.tag + (f"@{self.digest}" if self.digest else "")


def select_update(spec: ImageSpec, current: ImageRef | None, tags: Iterable[TagInfo | str]) -> Selection:
    """Pick the tag for one configured image and say whether (and why) the current image must change."""
    strategy = spec.strategy
    listed = _as_infos(tags)
    if strategy == UpdateStrategy.DIGEST and not spec.constraint:
        return Selection(False, "digest strategy needs the tag to track as constraint (image:tag)")
    try:
        candidates = _candidates(listed, strategy, spec.constraint, spec.allow_tags, spec.ignore_tags)
    except ConstraintError as err:
        return Selection(False, f"no update: {err}")
    if not candidates:
        why = f"none of {len(listed)} tags"
        if spec.allow_tags.kind == "none":
            why += f" ({spec.allow_tags.reason})"
        if strategy == UpdateStrategy.SEMVER:
            why += f" is a semver version allowed by {spec.constraint or '*'!r}"
        elif strategy == UpdateStrategy.DIGEST:
            why += f" is the tracked tag {spec.constraint!r}"
        else:
            why += " passed allow-tags/ignore-tags"
        return Selection(False, f"no update: {why}")
    best = candidates[-1]
    n = len(candidates)
    if strategy == UpdateStrategy.DIGEST:
        if not best.digest:
            return Selection(False, f"no update: registry gave no digest for tag {best.name!r}", candidates=n)
        if current is not None and current.digest == best.digest:
            return Selection(
                False, f"no update: {best.name} is still at {best.digest}", best.name, best.digest, n
            )
        old = current.digest if current is not None and current.digest else "no digest"
        return Selection(
            True, f"digest of {best.name} moved from {old} to {best.digest}", best.name, best.digest, n
        )
    how = {
        UpdateStrategy.SEMVER: f"highest semver of {n} allowed by {spec.constraint or '*'!r}",
        UpdateStrategy.NEWEST_BUILD: f"newest build of {n} candidates",
        UpdateStrategy.ALPHABETICAL: f"last by name of {n} candidates",
    }[strategy]
    if current is not None and current.tag == best.name:
        return Selection(
            False, f"no update: current tag {best.name} is already the {how}", best.name, None, n
        )
    old = current.tag if current is not None and current.tag else "no tag"
    return Selection(True, f"{old} -> {best.name}: {how}", best.name, None, n)


# --- annotations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    os: str
    arch: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.arch, self.variant) if p)


def parse_platform(text: str) -> Platform:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageConfigError(f"platform {text!r} is not os/arch[/variant]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


@dataclass(frozen=True)
class HelmPlacement:
    """Helm parameter names: ``image_spec`` (one full reference) or ``image_name`` + ``image_tag``."""

    image_name: str = DEFAULT_HELM_IMAGE_NAME
    image_tag: str = DEFAULT_HELM_IMAGE_TAG
    image_spec: str | None = None


@dataclass(frozen=True)
class ImageSpec:
    """One entry of ``image-list`` with its per-alias settings."""

    alias: str | None
    image: ImageRef
    constraint: str = ""
    strategy: UpdateStrategy = UpdateStrategy.SEMVER
    allow_tags: TagMatcher = TagMatcher("any")
    ignore_tags: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    helm: HelmPlacement = HelmPlacement()
    kustomize_image_name: str | None = None
    force_update: bool = False
    pull_secret: str | None = None

    @property
    def name(self) -> str:
        return self.image.name

    @property
    def kustomize_name(self) -> str:
        return self.kustomize_image_name or self.image.name


@dataclass(frozen=True)
class GitBranch:
    """``git-branch``: check out ``base`` (None = ``spec.source.targetRevision``) and commit to ``target``."""

    base: str | None
    target: str | None

    @property
    def creates_branch(self) -> bool:
        return self.target is not None and self.target != self.base


def parse_git_branch(text: str | None) -> GitBranch:
    """``branch`` (check out and commit there), ``base:target`` or ``:target`` (base = targetRevision)."""
    value = (text or "").strip()
    if not value:
        return GitBranch(None, None)
    if ":" not in value:
        return GitBranch(value, value)
    base, target = value.split(":", 1)
    if not target.strip() or ":" in target:
        raise ImageConfigError(f"{GIT_BRANCH}: {value!r} must be 'branch', 'base:target' or ':target'")
    return GitBranch(base.strip() or None, target.strip())


@dataclass(frozen=True)
class WriteBackTarget:
    """Where git write-back writes: the ``.argocd-source-<app>.yaml`` file (default), a
    kustomization (``kustomization[:dir]``) or a Helm values file (``helmvalues:path``)."""

    kind: Literal["argocd-source", "kustomization", "helmvalues"] = "argocd-source"
    path: str = ""


@dataclass(frozen=True)
class WriteBack:
    method: Literal["argocd", "git"] = "argocd"
    credentials: str | None = None  # "secret:<ns>/<name>" or "repocreds"; None = Argo CD's repo creds
    target: WriteBackTarget = WriteBackTarget()
    branch: GitBranch = GitBranch(None, None)
    repository: str | None = None


@dataclass(frozen=True)
class UpdaterConfig:
    images: tuple[ImageSpec, ...]
    write_back: WriteBack
    warnings: tuple[str, ...] = ()

    def image(self, alias: str) -> ImageSpec:
        for spec in self.images:
            if spec.alias == alias:
                return spec
        raise KeyError(alias)


_ALIAS = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def _parse_write_back(annotations: Mapping[str, str]) -> WriteBack:
    method_text = annotations.get(WRITE_BACK_METHOD, "argocd").strip() or "argocd"
    credentials: str | None = None
    if method_text == "argocd":
        method: Literal["argocd", "git"] = "argocd"
    elif method_text == "git" or method_text.startswith("git:"):
        method = "git"
        creds = method_text[4:] if method_text.startswith("git:") else ""
        if creds:
            if creds != "repocreds" and not re.fullmatch(r"secret:[^/\s]+/[^/\s]+", creds):
                raise ImageConfigError(
                    f"{WRITE_BACK_METHOD}: credentials {creds!r} must be 'repocreds' or 'secret:<ns>/<name>'"
                )
            credentials = creds
    else:
        raise ImageConfigError(
            f"{WRITE_BACK_METHOD}: {method_text!r} is not 'argocd', 'git' or 'git:<creds>'"
        )

    target = WriteBackTarget()
    target_text = annotations.get(WRITE_BACK_TARGET, "").strip()
    if target_text:
        kind, _, path = target_text.partition(":")
        if kind == "kustomization":
            target = WriteBackTarget("kustomization", path.strip())
        elif kind == "helmvalues":
            if not path.strip():
                raise ImageConfigError(
                    f"{WRITE_BACK_TARGET}: helmvalues needs a file, e.g. helmvalues:values.yaml"
                )
            target = WriteBackTarget("helmvalues", path.strip())
        else:
            raise ImageConfigError(
                f"{WRITE_BACK_TARGET}: {target_text!r} is not 'kustomization[:dir]' or 'helmvalues:<file>'"
            )
    branch = parse_git_branch(annotations.get(GIT_BRANCH))
    repository = annotations.get(GIT_REPOSITORY, "").strip() or None
    return WriteBack(method, credentials, target, branch, repository)


def parse_annotations(annotations: Mapping[str, str]) -> UpdaterConfig | None:
    """The Image Updater configuration of an Application, or None when it has no ``image-list``.

    Raises :class:`ImageConfigError` for anything malformed, naming the annotation.
    """
    raw_list = annotations.get(IMAGE_LIST)
    if raw_list is None:
        return None
    warnings: list[str] = []
    specs: list[ImageSpec] = []
    seen: set[str] = set()
    for raw in raw_list.split(","):
        entry = raw.strip()
        if not entry:
            continue
        alias: str | None = None
        ref_text = entry
        head, sep, rest = entry.partition("=")
        if sep:
            alias, ref_text = head.strip(), rest.strip()
            if not _ALIAS.fullmatch(alias) or len(alias) > 63:
                raise ImageConfigError(
                    f"{IMAGE_LIST}: alias {alias!r} must be letters, digits, '-', '_' or '.' "
                    "(start and end alphanumeric, at most 63)"
                )
            if alias in seen:
                raise ImageConfigError(f"{IMAGE_LIST}: alias {alias!r} is used twice")
            seen.add(alias)
        try:
            ref = parse_image_ref(ref_text)
        except ImageConfigError as err:
            raise ImageConfigError(f"{IMAGE_LIST}: {err}") from None
        if ref.digest:
            raise ImageConfigError(f"{IMAGE_LIST}: {entry!r}: a digest cannot be a constraint")
        specs.append(_image_spec(alias, ref, annotations, warnings))
    if not specs:
        raise ImageConfigError(f"{IMAGE_LIST}: lists no image")
    return UpdaterConfig(tuple(specs), _parse_write_back(annotations), tuple(warnings))


def _image_spec(
    alias: str | None, ref: ImageRef, annotations: Mapping[str, str], warnings: list[str]
) -> ImageSpec:
    def get(option: str) -> tuple[str, str | None]:
        key = f"{ANNOTATION_PREFIX}{alias}.{option}"
        return key, (annotations.get(key) if alias is not None else None)

    constraint = ref.tag or ""
    spec = ImageSpec(alias=alias, image=ImageRef(ref.name), constraint=constraint)

    key, value = get("update-strategy")
    if value is not None and value.strip():
        strategy, warning = _parse_strategy(value, key)
        if warning:
            warnings.append(warning)
        spec = replace(spec, strategy=strategy)
    if spec.strategy == UpdateStrategy.SEMVER:
        try:
            parse_constraint(constraint)
        except ConstraintError as err:
            raise ImageConfigError(f"{IMAGE_LIST}: {ref.with_tag()!r}: {err}") from None
    elif spec.strategy == UpdateStrategy.DIGEST and not constraint:
        raise ImageConfigError(
            f"{IMAGE_LIST}: {ref.name!r} uses the digest strategy but names no tag to track"
        )
    elif constraint and spec.strategy != UpdateStrategy.DIGEST:
        warnings.append(
            f"{IMAGE_LIST}: constraint {constraint!r} of {ref.name} is ignored by {spec.strategy.value}"
        )

    key, value = get("allow-tags")
    if value is not None:
        matcher = parse_allow_tags(value)
        if matcher.kind == "none":
            raise ImageConfigError(f"{key}: {matcher.reason}")
        spec = replace(spec, allow_tags=matcher)
    key, value = get("ignore-tags")
    if value is not None:
        patterns = tuple(p.strip() for p in value.split(",") if p.strip())
        for pattern in patterns:
            if _go_glob_regex(pattern) is None:
                raise ImageConfigError(f"{key}: bad glob pattern {pattern!r}")
        spec = replace(spec, ignore_tags=patterns)
    key, value = get("platforms")
    if value is not None:
        try:
            platforms = tuple(parse_platform(p) for p in value.split(",") if p.strip())
        except ImageConfigError as err:
            raise ImageConfigError(f"{key}: {err}") from None
        spec = replace(spec, platforms=platforms)
    key, value = get("force-update")
    if value is not None:
        text = value.strip().lower()
        if text not in _TRUE | _FALSE:
            raise ImageConfigError(f"{key}: {value!r} is not true or false")
        spec = replace(spec, force_update=text in _TRUE)
    key, value = get("pull-secret")
    if value is not None and value.strip():
        spec = replace(spec, pull_secret=value.strip())

    helm = HelmPlacement()
    for option, attr in (
        ("helm.image-name", "image_name"),
        ("helm.image-tag", "image_tag"),
        ("helm.image-spec", "image_spec"),
    ):
        key, value = get(option)
        if value is not None:
            if not value.strip():
                raise ImageConfigError(f"{key}: empty Helm parameter name")
            helm = replace(helm, **{attr: value.strip()})
    key, value = get("kustomize.image-name")
    if value is not None:
        if not value.strip():
            raise ImageConfigError(f"{key}: empty image name")
        spec = replace(spec, kustomize_image_name=value.strip())
    return replace(spec, helm=helm)


# --- write-back edits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageChange:
    """An image to write: ``new`` carries the image name as configured plus the new tag and/or digest."""

    spec: ImageSpec
    new: ImageRef

    @classmethod
    def of(cls, spec: ImageSpec, selection: Selection) -> ImageChange:
        if not selection.update or selection.tag is None:
            raise ValueError(f"selection for {spec.name} is not an update: {selection.reason}")
        return cls(spec, ImageRef(spec.image.name, selection.tag, selection.digest))


def _kustomize_original(entry: str) -> str:
    """The image a ``kustomize.images`` entry overrides: the part before ``=``, else the name without tag."""
    if "=" in entry:
        return entry.split("=", 1)[0]
    return parse_image_ref(entry).name


def kustomize_images(existing: Sequence[str], changes: Iterable[ImageChange]) -> list[str]:
    """``spec.source.kustomize.images`` after the changes: an entry for the same image is replaced in place,
    others are appended, as ``kustomize edit set image <name>=<image>:<tag>`` would."""
    result = list(existing)
    for change in changes:
        entry = f"{change.spec.kustomize_name}={change.new.with_tag()}"
        for i, current in enumerate(result):
            if _kustomize_original(current) == change.spec.kustomize_name:
                result[i] = entry
                break
        else:
            result.append(entry)
    return result


def _helm_values(change: ImageChange) -> list[tuple[str, str]]:
    helm = change.spec.helm
    if helm.image_spec:
        return [(helm.image_spec, change.new.with_tag())]
    return [(helm.image_name, change.new.name), (helm.image_tag, change.new.tag_value())]


def helm_parameters(
    existing: Sequence[Mapping[str, Any]], changes: Iterable[ImageChange], *, force_string: bool = False
) -> list[dict[str, Any]]:
    """``helm.parameters`` after the changes (replaced by name, else appended)."""
    result = [dict(p) for p in existing]
    for change in changes:
        for name, value in _helm_values(change):
            param: dict[str, Any] = {"name": name, "value": value}
            if force_string:
                param["forcestring"] = True
            for i, current in enumerate(result):
                if current.get("name") == name:
                    result[i] = {**current, **param}
                    break
            else:
                result.append(param)
    return result


SourceType = Literal["Kustomize", "Helm"]


def source_after_update(
    source: Mapping[str, Any], changes: Sequence[ImageChange], source_type: SourceType
) -> dict[str, Any]:
    """``spec.source`` for the ``argocd`` write-back method (a new dict; the input is not modified)."""
    new = dict(source)
    if source_type == "Kustomize":
        kustomize = dict(new.get("kustomize") or {})
        kustomize["images"] = kustomize_images(list(kustomize.get("images") or []), changes)
        new["kustomize"] = kustomize
    else:
        helm = dict(new.get("helm") or {})
        helm["parameters"] = helm_parameters(list(helm.get("parameters") or []), changes)
        new["helm"] = helm
    return new


def argocd_source_file_name(app_name: str) -> str:
    return f".argocd-source-{app_name}.yaml"


def argocd_source_file(
    app_name: str, existing_text: str | None, changes: Sequence[ImageChange], source_type: SourceType
) -> tuple[str, str]:
    """Git write-back (default target): the file name and new text of ``.argocd-source-<app>.yaml``.

    Other keys of an existing file are kept; Helm parameters are written with ``forcestring: true``.
    """
    loaded = yaml.safe_load(existing_text) if existing_text and existing_text.strip() else None
    if loaded is not None and not isinstance(loaded, dict):
        raise ValueError(f"{argocd_source_file_name(app_name)} is not a YAML mapping")
    data: dict[str, Any] = dict(loaded or {})
    if source_type == "Kustomize":
        kustomize = dict(data.get("kustomize") or {})
        kustomize["images"] = kustomize_images(list(kustomize.get("images") or []), changes)
        data["kustomize"] = kustomize
    else:
        helm = dict(data.get("helm") or {})
        helm["parameters"] = helm_parameters(list(helm.get("parameters") or []), changes, force_string=True)
        data["helm"] = helm
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return argocd_source_file_name(app_name), text


def kustomization_after_update(
    kustomization: Mapping[str, Any], changes: Iterable[ImageChange]
) -> dict[str, Any]:
    """``write-back-target: kustomization``: the kustomization's ``images:`` as
    ``kustomize edit set image`` leaves them (``name`` kept, ``newName`` when it differs, ``newTag``
    and/or ``digest``)."""
    new = dict(kustomization)
    images = [dict(i) for i in new.get("images") or []]
    for change in changes:
        entry: dict[str, Any] = {"name": change.spec.kustomize_name}
        if change.new.name != change.spec.kustomize_name:
            entry["newName"] = change.new.name
        if change.new.tag:
            entry["newTag"] = change.new.tag
        if change.new.digest:
            entry["digest"] = change.new.digest
        for i, current in enumerate(images):
            if current.get("name") == entry["name"]:
                images[i] = entry
                break
        else:
            images.append(entry)
    new["images"] = images
    return new
