"""Unit tests for argosy.core.images: annotations, constraints, selection and write-back edits."""

from __future__ import annotations

import pytest
import yaml

from argosy.core.images import (
    ANNOTATION_PREFIX,
    ConstraintError,
    GitBranch,
    HelmPlacement,
    ImageChange,
    ImageConfigError,
    ImageRef,
    ImageSpec,
    Platform,
    Selection,
    TagInfo,
    UpdateStrategy,
    WriteBackTarget,
    _check,
    argocd_source_file,
    helm_parameters,
    is_tag_ignored,
    kustomization_after_update,
    kustomize_images,
    newest_tag,
    parse_allow_tags,
    parse_annotations,
    parse_constraint,
    parse_git_branch,
    parse_image_ref,
    parse_tag_version,
    select_update,
    source_after_update,
)

P = ANNOTATION_PREFIX


# --- image references ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("nginx", ImageRef("nginx")),
        ("nginx:1.2", ImageRef("nginx", "1.2")),
        ("localhost:5000/team/app:~1.2", ImageRef("localhost:5000/team/app", "~1.2")),
        ("localhost:5000/team/app", ImageRef("localhost:5000/team/app")),
        ("jannfis/test:latest@sha:1234567", ImageRef("jannfis/test", "latest", "sha:1234567")),
        ("ghcr.io/a/b@sha256:abc", ImageRef("ghcr.io/a/b", None, "sha256:abc")),
    ],
)
def test_parse_image_ref(text: str, ref: ImageRef) -> None:
    assert parse_image_ref(text) == ref


@pytest.mark.parametrize("text", ["", "nginx:", "nginx@", "my image:1"])
def test_parse_image_ref_rejects(text: str) -> None:
    with pytest.raises(ImageConfigError):
        parse_image_ref(text)


def test_image_ref_rendering() -> None:
    assert ImageRef("a/b", "1.0").with_tag() == "a/b:1.0"
    assert ImageRef("a/b", "latest", "sha256:x").with_tag() == "a/b:latest@sha256:x"
    assert ImageRef("a/b", "latest", "sha256:x").tag_value() == "latest@sha256:x"
    assert ImageRef("a/b", None, "sha256:x").tag_value() == "sha256:x"


# --- annotations ---------------------------------------------------------------------------------


def test_spec_example_from_section_8_2() -> None:
    """The seed spec's Application: block scalar with a trailing newline, regexp allow-tags, git branch."""
    config = parse_annotations(
        {
            P + "image-list": "artemis=ghcr.io/sophia-intel-ai/artemis-orchestrator\n",
            P + "artemis.update-strategy": "semver",
            P + "artemis.allow-tags": "regexp:^v[0-9]+\\.[0-9]+\\.[0-9]+$",
            P + "write-back-method": "git",
            P + "git-branch": "image-updates",
        }
    )
    assert config is not None
    (spec,) = config.images
    assert spec.alias == "artemis"
    assert spec.image == ImageRef("ghcr.io/sophia-intel-ai/artemis-orchestrator")
    assert spec.strategy is UpdateStrategy.SEMVER
    assert spec.allow_tags.matches("v1.2.3") and not spec.allow_tags.matches("v1.2.3-rc1")
    assert config.write_back.method == "git"
    assert config.write_back.branch == GitBranch("image-updates", "image-updates")
    assert not config.write_back.branch.creates_branch
    assert config.warnings == ()


def test_no_image_list_means_not_managed() -> None:
    assert parse_annotations({"other": "x"}) is None


def test_full_alias_options() -> None:
    config = parse_annotations(
        {
            P + "image-list": "web=ghcr.io/org/web:^1.2, api=docker.io/org/api:latest, plain/img",
            P + "web.ignore-tags": "latest, *-debug ,dev?",
            P + "web.platforms": "linux/amd64,linux/arm64/v8",
            P + "web.helm.image-name": "web.image.repository",
            P + "web.helm.image-tag": "web.image.tag",
            P + "web.force-update": "true",
            P + "web.pull-secret": "pullsecret:argocd/ghcr",
            P + "api.update-strategy": "digest",
            P + "api.kustomize.image-name": "org/api",
            P + "api.helm.image-spec": "api.image",
            P + "write-back-method": "git:secret:argocd/git-creds",
            P + "write-back-target": "kustomization:../base",
            P + "git-branch": "main:image-updater-{{.SHA256}}",
            P + "git-repository": "https://git.example/org/deploy.git",
        }
    )
    assert config is not None
    web, api, plain = config.images
    assert web.constraint == "^1.2"
    assert web.ignore_tags == ("latest", "*-debug", "dev?")
    assert web.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64", "v8"))
    assert str(web.platforms[1]) == "linux/arm64/v8"
    assert web.helm == HelmPlacement("web.image.repository", "web.image.tag", None)
    assert web.force_update and web.pull_secret == "pullsecret:argocd/ghcr"
    assert api.strategy is UpdateStrategy.DIGEST and api.constraint == "latest"
    assert api.kustomize_name == "org/api" and api.helm.image_spec == "api.image"
    assert plain.alias is None and plain.name == "plain/img" and plain.kustomize_name == "plain/img"
    assert config.image("web") is web
    wb = config.write_back
    assert wb.credentials == "secret:argocd/git-creds"
    assert wb.target == WriteBackTarget("kustomization", "../base")
    assert wb.branch == GitBranch("main", "image-updater-{{.SHA256}}") and wb.branch.creates_branch
    assert wb.repository == "https://git.example/org/deploy.git"


def test_legacy_strategy_names_warn() -> None:
    config = parse_annotations(
        {
            P + "image-list": "a=x/a, b=x/b",
            P + "a.update-strategy": "latest",
            P + "b.update-strategy": "name",
        }
    )
    assert config is not None
    assert [s.strategy for s in config.images] == [UpdateStrategy.NEWEST_BUILD, UpdateStrategy.ALPHABETICAL]
    assert len(config.warnings) == 2 and "deprecated" in config.warnings[0]


def test_constraint_ignored_by_non_semver_strategy_warns() -> None:
    config = parse_annotations({P + "image-list": "a=x/a:1.x", P + "a.update-strategy": "newest-build"})
    assert config is not None
    assert "ignored by newest-build" in config.warnings[0]


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({P + "image-list": " , "}, "lists no image"),
        ({P + "image-list": "a=x/a, a=x/b"}, "used twice"),
        ({P + "image-list": "-bad=x/a"}, "alias '-bad'"),
        ({P + "image-list": "a=x/a:latest"}, "invalid constraint 'latest'"),
        ({P + "image-list": "a=x/a@sha256:abc"}, "digest cannot be a constraint"),
        ({P + "image-list": "a=x/a", P + "a.update-strategy": "newest"}, "unknown update strategy 'newest'"),
        ({P + "image-list": "a=x/a", P + "a.update-strategy": "digest"}, "names no tag to track"),
        ({P + "image-list": "a=x/a", P + "a.allow-tags": "regexp:[a-"}, "invalid regexp"),
        ({P + "image-list": "a=x/a", P + "a.allow-tags": "glob:*"}, "unknown match function"),
        ({P + "image-list": "a=x/a", P + "a.ignore-tags": "v[1"}, "bad glob pattern"),
        ({P + "image-list": "a=x/a", P + "a.platforms": "linux"}, "os/arch"),
        ({P + "image-list": "a=x/a", P + "a.force-update": "maybe"}, "not true or false"),
        ({P + "image-list": "a=x/a", P + "a.helm.image-tag": " "}, "empty Helm parameter"),
        ({P + "image-list": "a=x/a", P + "a.kustomize.image-name": ""}, "empty image name"),
        ({P + "image-list": "a=x/a", P + "write-back-method": "svn"}, "write-back-method"),
        ({P + "image-list": "a=x/a", P + "write-back-method": "git:token"}, "credentials 'token'"),
        ({P + "image-list": "a=x/a", P + "write-back-target": "values.yaml"}, "write-back-target"),
        ({P + "image-list": "a=x/a", P + "write-back-target": "helmvalues:"}, "needs a file"),
        ({P + "image-list": "a=x/a", P + "git-branch": "main:"}, "git-branch"),
    ],
)
def test_annotation_errors_name_the_key(annotations: dict[str, str], message: str) -> None:
    with pytest.raises(ImageConfigError, match=None) as info:
        parse_annotations(annotations)
    assert message in str(info.value)
    assert "argocd-image-updater.argoproj.io/" in str(info.value)


@pytest.mark.parametrize(
    ("text", "branch"),
    [
        ("", GitBranch(None, None)),
        ("main", GitBranch("main", "main")),
        ("main:updates", GitBranch("main", "updates")),
        (":updates", GitBranch(None, "updates")),
    ],
)
def test_git_branch_forms(text: str, branch: GitBranch) -> None:
    assert parse_git_branch(text) == branch


def test_git_write_back_defaults() -> None:
    config = parse_annotations({P + "image-list": "x/a", P + "write-back-method": "git:repocreds"})
    assert config is not None
    assert config.write_back.credentials == "repocreds"
    assert config.write_back.target == WriteBackTarget()
    default = parse_annotations({P + "image-list": "x/a"})
    assert default is not None and default.write_back.method == "argocd"


# --- tag filters ---------------------------------------------------------------------------------


def test_allow_tags_is_unanchored_search() -> None:
    assert parse_allow_tags("regexp:rc").matches("1.0-rc1")
    assert parse_allow_tags("regexp:^1\\.").matches("1.0") and not parse_allow_tags("regexp:^1\\.").matches(
        "21.0"
    )
    assert parse_allow_tags(None).kind == "any"


@pytest.mark.parametrize(
    ("tag", "patterns", "ignored"),
    [
        ("latest", ["*"], True),
        ("v1-debug", ["*-debug"], True),
        ("v1", ["v[0-9]"], True),
        ("v1", ["v[^0-9]"], False),
        ("a*b", ["a\\*b"], True),
        ("axb", ["a\\*b"], False),
        ("a/b", ["a*"], False),  # '*' does not cross '/', as in Go filepath.Match
        ("v1", ["v[1"], False),  # bad pattern matches nothing
    ],
)
def test_ignore_tags_go_globs(tag: str, patterns: list[str], ignored: bool) -> None:
    assert is_tag_ignored(tag, patterns) is ignored


# --- versions and constraints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [("v1", "1.0.0"), ("1.2", "1.2.0"), ("v1.2.3-rc.1+build.5", "1.2.3-rc.1"), ("01.2.3", "1.2.3")],
)
def test_tag_coercion(tag: str, parsed: str) -> None:
    version = parse_tag_version(tag)
    assert version is not None and str(version) == parsed


@pytest.mark.parametrize("tag", ["latest", "1.2.3.4", "v", "1.2.3-01", "release-1.2", "1.2.3-"])
def test_non_semver_tags(tag: str) -> None:
    assert parse_tag_version(tag) is None


TAGS = [
    "0.9.0",
    "1.0.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-rc.1",
    "1.10.2",
    "v2.0.0",
    "2.1.0-rc.1",
    "2.1.0",
    "3.0.0-beta",
]


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [
        ("", ["0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.10.2", "v2.0.0", "2.1.0"]),
        ("*", ["0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.10.2", "v2.0.0", "2.1.0"]),
        ("~1.2", ["1.2.0", "1.2.5"]),
        ("~1", ["1.0.0", "1.2.0", "1.2.5", "1.10.2"]),
        ("^1.0", ["1.0.0", "1.2.0", "1.2.5", "1.10.2"]),
        ("^0.9", ["0.9.0"]),
        ("1.2.x", ["1.2.0", "1.2.5"]),
        ("1.*", ["1.0.0", "1.2.0", "1.2.5", "1.10.2"]),
        (">=1.2,<2", ["1.2.0", "1.2.5", "1.10.2"]),
        (">= 1.2 < 2", ["1.2.0", "1.2.5", "1.10.2"]),
        (">=v1.2, <v2", ["1.2.0", "1.2.5", "1.10.2"]),
        ("=>1.2, =<1.3", ["1.2.0", "1.2.5"]),
        ("^1 || ^2", ["1.0.0", "1.2.0", "1.2.5", "1.10.2", "v2.0.0", "2.1.0"]),
        ("1.2 - 1.3", ["1.2.0", "1.2.5"]),  # partial upper bound: <= 1.3 covers 1.3.x
        ("1.0.0 - 1.2.0", ["1.0.0", "1.2.0"]),
        ("!=1.2.5, ~1.2", ["1.2.0"]),
        ("!=1.2", ["0.9.0", "1.0.0", "1.10.2", "v2.0.0", "2.1.0"]),
        (">1.2", ["1.10.2", "v2.0.0", "2.1.0"]),
        ("<=1.2", ["0.9.0", "1.0.0", "1.2.0", "1.2.5"]),
        ("=2", ["v2.0.0", "2.1.0"]),
        ("~>1.2", ["1.2.0", "1.2.5"]),
        # pre-releases only when a comparator opts in, and only if every comparator of the group does
        ("2.x-0", ["v2.0.0", "2.1.0-rc.1", "2.1.0"]),
        (">=2.1.0-0", ["2.1.0-rc.1", "2.1.0", "3.0.0-beta"]),
        ("^1.2.0-0", ["1.2.0", "1.2.5", "1.3.0-rc.1", "1.10.2"]),
        (">=1.3.0-0, <2", ["1.10.2"]),
        (">=1.3.0-0 <2.0.0-0", ["1.3.0-rc.1", "1.10.2"]),
        ("~1.2 || >=2.1.0-0", ["1.2.0", "1.2.5", "2.1.0-rc.1", "2.1.0", "3.0.0-beta"]),
    ],
)
def test_constraint_semantics(constraint: str, allowed: list[str]) -> None:
    parsed = parse_constraint(constraint)
    assert [t for t in TAGS if parsed.allows_tag(t)] == allowed


def test_includes_prereleases_flag() -> None:
    assert parse_constraint("2.x-0").includes_prereleases
    assert not parse_constraint("^2").includes_prereleases
    assert not parse_constraint(">=2.0.0-0 <3").includes_prereleases


@pytest.mark.parametrize(
    "constraint", ["latest", ">=", "1.2 ||", "|| 1.2", "1.2.3.4", "~1.2 foo", ">=1.0.0-01"]
)
def test_invalid_constraints(constraint: str) -> None:
    with pytest.raises(ConstraintError):
        parse_constraint(constraint)


# --- selection -----------------------------------------------------------------------------------


def _spec(**kwargs: object) -> ImageSpec:
    return ImageSpec(alias="a", image=ImageRef("x/a"), **kwargs)  # type: ignore[arg-type]


def test_select_semver_update_and_reason() -> None:
    sel = select_update(_spec(constraint="~1.2"), ImageRef("x/a", "1.2.0"), TAGS)
    assert sel == Selection(True, sel.reason, "1.2.5", None, 2)
    assert "1.2.0 -> 1.2.5" in sel.reason and "'~1.2'" in sel.reason
    assert sel.new_ref == "1.2.5"


def test_select_already_current() -> None:
    sel = select_update(_spec(constraint="~1.2"), ImageRef("x/a", "1.2.5"), TAGS)
    assert not sel.update and sel.tag == "1.2.5" and "already" in sel.reason


def test_select_no_candidates_reason_mentions_filters() -> None:
    spec = _spec(allow_tags=parse_allow_tags("bogus"))
    sel = select_update(spec, None, TAGS)
    assert not sel.update and "neither 'any' nor 'regexp" in sel.reason
    ignored = select_update(_spec(ignore_tags=("*",)), ImageRef("x/a", "1.0.0"), TAGS)
    assert not ignored.update and ignored.reason.startswith("no update")


def test_select_invalid_constraint_is_no_update() -> None:
    sel = select_update(_spec(constraint="latest"), None, TAGS)
    assert not sel.update and "invalid constraint" in sel.reason


def test_select_newest_build_and_alphabetical() -> None:
    tags = [TagInfo("b", 30), TagInfo("c", 10), TagInfo("a", 30), TagInfo("latest", 5)]
    newest = select_update(_spec(strategy=UpdateStrategy.NEWEST_BUILD), ImageRef("x/a", "c"), tags)
    assert newest.tag == "b" and newest.update
    alpha = select_update(
        _spec(strategy=UpdateStrategy.ALPHABETICAL, ignore_tags=("latest",)), ImageRef("x/a", "c"), tags
    )
    assert alpha.tag == "c" and not alpha.update


def test_select_digest() -> None:
    spec = _spec(strategy=UpdateStrategy.DIGEST, constraint="latest")
    tags = [TagInfo("latest", digest="sha256:new"), TagInfo("1.0", digest="sha256:other")]
    moved = select_update(spec, ImageRef("x/a", "latest", "sha256:old"), tags)
    assert moved.update and moved.digest == "sha256:new" and moved.new_ref == "latest@sha256:new"
    same = select_update(spec, ImageRef("x/a", "latest", "sha256:new"), tags)
    assert not same.update
    missing = select_update(spec, None, [TagInfo("latest")])
    assert not missing.update and "no digest" in missing.reason
    assert not select_update(_spec(strategy=UpdateStrategy.DIGEST), None, tags).update


def test_newest_tag_prerelease_opt_in() -> None:
    assert newest_tag(["1.0.0", "1.1.0-rc.1"]) == TagInfo("1.0.0")
    assert newest_tag(["1.0.0", "1.1.0-rc.1"], constraint=">=1.0.0-0") == TagInfo("1.1.0-rc.1")


# --- write-back edits ----------------------------------------------------------------------------


def _change(spec: ImageSpec, tag: str, digest: str | None = None) -> ImageChange:
    return ImageChange(spec, ImageRef(spec.image.name, tag, digest))


def test_image_change_requires_an_update() -> None:
    spec = _spec()
    with pytest.raises(ValueError, match="not an update"):
        ImageChange.of(spec, Selection(False, "no update: x"))
    assert ImageChange.of(spec, Selection(True, "r", "1.2", "sha256:d")).new == ImageRef(
        "x/a", "1.2", "sha256:d"
    )


def test_kustomize_images_replace_and_append() -> None:
    web = ImageSpec("web", ImageRef("ghcr.io/org/web"), kustomize_image_name="org/web")
    api = ImageSpec("api", ImageRef("ghcr.io/org/api"))
    existing = ["org/web=ghcr.io/org/web:1.0", "busybox:1.36"]
    result = kustomize_images(existing, [_change(web, "1.1"), _change(api, "latest", "sha256:abc")])
    assert result == [
        "org/web=ghcr.io/org/web:1.1",
        "busybox:1.36",
        "ghcr.io/org/api=ghcr.io/org/api:latest@sha256:abc",
    ]
    assert existing[0].endswith(":1.0")  # input untouched
    # An entry without '=' is matched by its image name.
    assert kustomize_images(["ghcr.io/org/api:0.1"], [_change(api, "0.2")]) == [
        "ghcr.io/org/api=ghcr.io/org/api:0.2"
    ]


def test_helm_parameters_default_names_and_spec() -> None:
    plain = ImageSpec("a", ImageRef("x/a"))
    spec_param = ImageSpec("b", ImageRef("x/b"), helm=HelmPlacement(image_spec="b.image"))
    existing = [{"name": "image.tag", "value": "1.0"}, {"name": "replicas", "value": "2"}]
    result = helm_parameters(existing, [_change(plain, "1.1"), _change(spec_param, "2.0")])
    assert result == [
        {"name": "image.tag", "value": "1.1"},
        {"name": "replicas", "value": "2"},
        {"name": "image.name", "value": "x/a"},
        {"name": "b.image", "value": "x/b:2.0"},
    ]


def test_source_after_update_kustomize_and_helm() -> None:
    spec = ImageSpec("a", ImageRef("x/a"))
    source = {"repoURL": "https://git.example/r.git", "path": "app", "kustomize": {"namePrefix": "p-"}}
    new = source_after_update(source, [_change(spec, "1.1")], "Kustomize")
    assert new["kustomize"] == {"namePrefix": "p-", "images": ["x/a=x/a:1.1"]}
    assert "images" not in source["kustomize"]
    helm = source_after_update({"repoURL": "r", "chart": "c"}, [_change(spec, "1.1")], "Helm")
    assert helm["helm"] == {
        "parameters": [{"name": "image.name", "value": "x/a"}, {"name": "image.tag", "value": "1.1"}]
    }


def test_argocd_source_file_merges_existing() -> None:
    spec = ImageSpec("a", ImageRef("x/a"), helm=HelmPlacement("app.image.repository", "app.image.tag"))
    existing = (
        "helm:\n  parameters:\n  - name: app.image.tag\n    value: '1.0'\n    forcestring: true\n"
        "  valueFiles: [v.yaml]\n"
    )
    name, text = argocd_source_file("shop", existing, [_change(spec, "1.1")], "Helm")
    assert name == ".argocd-source-shop.yaml"
    assert yaml.safe_load(text) == {
        "helm": {
            "parameters": [
                {"name": "app.image.tag", "value": "1.1", "forcestring": True},
                {"name": "app.image.repository", "value": "x/a", "forcestring": True},
            ],
            "valueFiles": ["v.yaml"],
        }
    }
    _, kustomize_text = argocd_source_file("shop", None, [_change(spec, "1.1")], "Kustomize")
    assert yaml.safe_load(kustomize_text) == {"kustomize": {"images": ["x/a=x/a:1.1"]}}
    with pytest.raises(ValueError, match="not a YAML mapping"):
        argocd_source_file("shop", "- a\n", [_change(spec, "1.1")], "Helm")


def test_kustomization_after_update() -> None:
    web = ImageSpec("web", ImageRef("ghcr.io/org/web"), kustomize_image_name="web")
    api = ImageSpec("api", ImageRef("ghcr.io/org/api"))
    kustomization = {"resources": ["d.yaml"], "images": [{"name": "web", "newTag": "1.0"}]}
    new = kustomization_after_update(kustomization, [_change(web, "1.1"), _change(api, "latest", "sha256:d")])
    assert new == {
        "resources": ["d.yaml"],
        "images": [
            {"name": "web", "newName": "ghcr.io/org/web", "newTag": "1.1"},
            {"name": "ghcr.io/org/api", "newTag": "latest", "digest": "sha256:d"},
        ],
    }
    assert kustomization["images"] == [{"name": "web", "newTag": "1.0"}]


@pytest.mark.parametrize(
    ("constraint", "allowed"),
    [("<*", []), (">x", []), ("~*", ["1.0.0", "2.1.0"]), ("<=x", ["1.0.0", "2.1.0"]), (">1.x", ["2.1.0"])],
)
def test_bare_wildcard_comparators(constraint: str, allowed: list[str]) -> None:
    parsed = parse_constraint(constraint)
    assert [t for t in ["1.0.0", "2.1.0", "2.2.0-rc.1"] if parsed.allows_tag(t)] == allowed


GRID = [f"{a}.{b}.{c}" for a in range(3) for b in range(3) for c in range(3)]


@pytest.mark.parametrize(
    "constraint",
    ["~1.2", "~1", "^1.1", "^0.1", "^0.0.1", "^0.0", "^0", "1.x", "1.1.x", ">1.1", ">=1.1", "<1.1", "<=1.1",
     ">1", "<=1", "1.1 - 2.1", "1 - 1.1.1", "=1.1", "1", ">=0.1.1 <2.0.1"],
)  # fmt: skip
def test_npm_path_agrees_with_masterminds_rules(constraint: str) -> None:
    """Release versions go through NpmSpec; the comparator-level Masterminds rules must agree."""
    parsed = parse_constraint(constraint)
    for tag in GRID:
        version = parse_tag_version(tag)
        assert version is not None
        own = any(all(_check(c, version) for c in g.comparators) for g in parsed.groups)
        assert parsed.allows(version) == own, tag
