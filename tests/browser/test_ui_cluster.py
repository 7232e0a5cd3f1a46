"""The web UI against the real API server on the local control plane, with the real controller
(``argosy.services.controller`` through ``argosy.bootstrap.runtime``) running in-process on the same
event loop as uvicorn, in its own namespace.

Git holds a ConfigMap and a Secret. ``manual`` has no automated policy (sync from the UI);
``dev`` gets the development profile (automated) from the example's sync-policies ConfigMap.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from argosy import bootstrap
from argosy.adapters.render import RenderTools
from argosy.api import ApiDeps
from argosy.core.manifests import parse_manifests
from argosy.core.passwords import hash_password
from argosy.deploy import CRD_NAMES, crd_text
from argosy.services.controller import ControllerSettings
from tests.browser.conftest import ServerThread, login, screenshot, serving
from tests.support.cluster import ControlPlane
from tests.support.gitserver import BareRepo, GitServer

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "examples" / "sophia-platform"
ADMIN_PASSWORD = "admin-ui-test-pw"
VIEWER_PASSWORD = "viewer-ui-test-pw"
SECRET_VALUE = "s3cr3t-do-not-show"
# SSO configuration for the login page's buttons; the issuer is a closed loopback port (no IdP runs:
# the test checks the links, and the server's answer to the GitHub one without following it).
OIDC_CONFIG = "name: Sophia SSO\nissuer: http://127.0.0.1:9/realms/sophia\nclientID: argosy-ui\n"
DEX_CONFIG = (
    "connectors:\n"
    "- type: github\n  id: github\n  name: GitHub\n"
    "  config:\n    clientID: gh-client-id\n    clientSecret: gh-client-secret\n"
)


def _cm(name: str, data: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def _secret() -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"token": SECRET_VALUE},
        }
    )


def _app(name: str, ns: str, repo: str, dest: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo, "targetRevision": "main", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": dest},
        },
    }


class World:
    def __init__(
        self, cp: ControlPlane, ns: str, repo: BareRepo, server: ServerThread, dests: dict[str, str]
    ):
        self.cp, self.ns, self.repo, self.server, self.dests = cp, ns, repo, server, dests

    def app(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.cp.get_json("-n", self.ns, "application", name)
        return result

    def wait(self, what: str, predicate: Any, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")

    def status(self, name: str) -> dict[str, Any]:
        return self.app(name).get("status") or {}


@pytest.fixture(scope="module")
def world(
    control_plane: ControlPlane, git_server: GitServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    cp = control_plane
    for crd in CRD_NAMES:
        cp.kubectl("apply", "--server-side", "-f", "-", input=crd_text(crd))
    cp.kubectl(
        "wait", "--for=condition=Established", "crd/applications.argoproj.io", "crd/appprojects.argoproj.io"
    )
    ns = cp.new_namespace()
    repo = git_server.create_repo(f"ui-{uuid.uuid4().hex[:8]}")
    (policies,) = parse_manifests((PLATFORM / "argocd/config/sync-policies.yaml").read_text(), file="sp.yaml")
    policies["metadata"]["namespace"] = ns
    objects: list[dict[str, Any]] = [
        policies,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "repo-ui",
                "namespace": ns,
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {
                "type": "git",
                "url": repo.http_url,
                "username": git_server.username,
                "password": git_server.password,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm", "namespace": ns},
            "data": {"accounts.viewer": "login", "oidc.config": OIDC_CONFIG, "dex.config": DEX_CONFIG},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-rbac-cm", "namespace": ns},
            "data": {"policy.default": "role:readonly"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": ns},
            "stringData": {
                "admin.password": hash_password(ADMIN_PASSWORD, cost=4),
                "admin.passwordMtime": "2026-01-01T00:00:00Z",
                "accounts.viewer.password": hash_password(VIEWER_PASSWORD, cost=4),
                "accounts.viewer.passwordMtime": "2026-01-01T00:00:00Z",
            },
        },
    ]
    for obj in objects:
        cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    v1 = repo.commit_files(
        {"app/settings.yaml": _cm("settings", {"v": "1"}), "app/creds.yaml": _secret()}, "v1: settings"
    )
    dests = {"manual": cp.new_namespace(), "dev": cp.new_namespace()}
    cp.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(_app("manual", ns, repo.http_url, dests["manual"], {"team": "ui"})),
    )
    cp.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            _app("dev", ns, repo.http_url, dests["dev"], {"team": "ui", "environment": "development"})
        ),
    )
    tmp = tmp_path_factory.mktemp("ui-controller")

    @contextlib.asynccontextmanager
    async def setup() -> AsyncIterator[ApiDeps]:
        tools = RenderTools(helm=cp.bin_dir / "helm", kubectl=cp.bin_dir / "kubectl")
        settings = ControllerSettings(
            namespace=ns, workers=4, wave_delay=0.2, poll_interval=0.2, reconciliation_timeout=30.0
        )
        async with (
            bootstrap.runtime(
                kubeconfig=str(cp.kubeconfig),
                namespace=ns,
                state_dir=tmp,
                leader_election=False,
                settings=settings,
                tools=tools,  # history: the SQL store (SQLite in tmp), as `argosy server` has it
            ) as rt,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(bootstrap.run_controller, rt)
            try:
                yield ApiDeps(
                    kube=rt.kube, namespace=ns, secure_cookies=False, initial_admin=True, history=rt.history
                )
            finally:
                rt.stop()

    with serving(setup) as server:
        w = World(cp, ns, repo, server, dests)
        w.wait(
            "dev synced at v1",
            lambda: (
                (w.status("dev").get("sync") or {}).get("revision") == v1
                and (w.status("dev").get("sync") or {}).get("status") == "Synced"
            ),
        )
        yield w


def test_list_app_tree_diff_sync(world: World, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    base = world.server.url
    login(page, base, "admin", ADMIN_PASSWORD)
    dev = page.locator('[data-testid=app-tile][data-app="dev"]')
    dev.wait_for()
    page.locator(
        '[data-testid=app-tile][data-app="dev"][data-sync="Synced"][data-health="Healthy"]'
    ).wait_for()
    manual = page.locator('[data-testid=app-tile][data-app="manual"]')
    assert manual.get_attribute("data-sync") == "OutOfSync"
    screenshot(page, "applications-list")

    # Sync "manual" from the UI and watch the operation finish, live (no reload).
    manual.click()
    page.get_by_test_id("sync-button").click()
    page.get_by_test_id("sync-dialog").wait_for()
    page.get_by_test_id("sync-submit").click()
    page.locator('[data-testid=operation][data-phase="Succeeded"]').wait_for(timeout=90000)
    page.locator(".toolbar [data-testid=sync-badge]", has_text="Synced").wait_for(timeout=60000)

    # Edit the ConfigMap with kubectl: the diff shows the field and its manager.
    world.cp.kubectl(
        "-n",
        world.dests["manual"],
        "patch",
        "configmap",
        "settings",
        "--type",
        "merge",
        "-p",
        json.dumps({"data": {"v": "edited"}}),
    )
    world.wait(
        "drift recorded",
        lambda: ((world.status("manual").get("argosy") or {}).get("drift") or {}).get("detected"),
    )
    page.get_by_test_id("tab-tree").click()
    page.get_by_test_id("expand-all").click()
    page.locator('[data-testid=tree-node][data-kind="ConfigMap"][data-name="settings"]').wait_for()
    page.locator('[data-testid=tree-node][data-kind="Secret"][data-name="creds"]').wait_for()
    page.locator('[data-testid=tree-node][data-name="settings"] button.link').click()
    diff = page.locator('[data-testid=resource-diff][data-name="settings"]')
    diff.wait_for()
    line = diff.locator('[data-testid=diff-line][data-path="data.v"]')
    line.wait_for(timeout=30000)
    assert "edited" in line.inner_text()
    assert line.get_by_test_id("drift-manager").inner_text().strip().startswith("kubectl")
    screenshot(page, "application-diff")

    # The Secret's diff and live manifest never show the value.
    page.locator('[data-testid=diff-resource][data-name="creds"]').click()
    secret = page.locator('[data-testid=resource-diff][data-name="creds"]')
    secret.wait_for()
    secret.locator("summary", has_text="Live manifest").click()
    assert SECRET_VALUE not in page.content()
    page.get_by_test_id("tab-summary").click()
    screenshot(page, "application-summary")
    context.close()


def test_rollback_from_history_sets_hold(world: World, chromium: Any) -> None:
    v2 = world.repo.commit_files({"app/settings.yaml": _cm("settings", {"v": "2"})}, "v2", replace=False)
    world.cp.kubectl(
        "-n", world.ns, "annotate", "--overwrite", "application", "dev", "argocd.argoproj.io/refresh=normal"
    )
    world.wait(
        "dev at v2",
        lambda: (
            (world.status("dev").get("sync") or {}).get("revision") == v2
            and len(world.status("dev").get("history") or []) >= 2
        ),
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, world.server.url, "admin", ADMIN_PASSWORD)
    page.goto(f"{world.server.url}/applications/dev?tab=history")
    page.get_by_test_id("rollback").first.click()
    page.get_by_test_id("rollback-confirm").click()
    page.get_by_test_id("tab-summary").click()
    hold = page.get_by_test_id("rollback-hold")
    try:
        hold.get_by_text("Auto-sync is paused").wait_for(timeout=60000)
    finally:
        screenshot(page, "application-rollback")
        context.close()


def test_read_only_user_has_no_sync_button(world: World, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, world.server.url, "viewer", VIEWER_PASSWORD)
    page.goto(f"{world.server.url}/applications/manual")
    page.get_by_test_id("app-page").wait_for()
    page.get_by_test_id("refresh").wait_for()
    page.wait_for_timeout(1000)  # can-i answers have arrived
    assert page.get_by_test_id("sync-button").count() == 0
    page.get_by_test_id("tab-history").click()
    assert page.get_by_test_id("rollback").count() == 0
    # role:readonly may get every application: the DORA page counts them for this user too.
    page.goto(f"{world.server.url}/delivery")
    _wait_for_series(page, "dev")
    context.close()


def _wait_for_series(page: Any, app: str) -> Any:
    """The series of ``app`` on the Delivery page (the controller writes the history in the background,
    so Refresh until it is there)."""
    page.get_by_test_id("delivery-page").wait_for()
    series = page.locator(f'[data-testid=dora-series][data-app="{app}"]')
    for _ in range(40):
        if series.count():
            return series
        unavailable = page.get_by_test_id("dora-unavailable")
        assert unavailable.count() == 0, unavailable.inner_text()
        page.get_by_test_id("dora-refresh").click()
        page.wait_for_timeout(500)
    series.wait_for(timeout=5000)
    return series


def test_delivery_page_shows_dora_figures_after_real_syncs(world: World, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, world.server.url, "admin", ADMIN_PASSWORD)
    page.goto(f"{world.server.url}/delivery")
    dev = _wait_for_series(page, "dev")
    assert page.get_by_test_id("dora-unavailable").count() == 0
    assert page.get_by_test_id("error").count() == 0
    # "dev" was auto-synced by the controller (and again at v2 if the rollback test ran).
    assert int(dev.get_attribute("data-deployments") or 0) >= 1
    assert dev.get_attribute("data-environment") == "development"
    frequency = dev.get_by_test_id("dora-frequency")
    assert "0.00 / day" not in frequency.inner_text()
    assert float(frequency.get_by_test_id("dora-chart").get_attribute("data-max") or 0) >= 1
    assert frequency.locator("rect.bar").count() >= 1
    page.locator('[data-testid=dora-row][data-app="dev"]').wait_for()
    screenshot(page, "delivery")

    # Filters go to the route: another environment has no series, and the page says so.
    page.get_by_test_id("dora-environment").select_option("development")
    page.locator('[data-testid=dora-series][data-app="dev"]').wait_for()
    page.goto(f"{world.server.url}/delivery?environment=no-such-env")
    page.get_by_test_id("dora-empty").wait_for()
    # A bad custom range shows the API's 422 message, not a blank page.
    page.goto(f"{world.server.url}/delivery?period=custom&from=2026-03-10&to=2026-03-01")
    error = page.get_by_test_id("error")
    error.wait_for()
    assert "must be before" in error.inner_text()
    context.close()


def test_login_page_offers_sso_buttons(world: World, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    base = world.server.url
    page.goto(f"{base}/applications/dev")
    page.get_by_label("Username").wait_for()
    oidc = page.get_by_test_id("sso-oidc")
    oidc.wait_for()
    assert oidc.inner_text().strip() == "Log in via Sophia SSO"
    return_url = f"{base}/applications/dev"
    assert oidc.get_attribute("href") == f"/auth/login?return_url={quote(return_url, safe='')}"
    github = page.locator("[data-testid=sso-dex][data-connector=github]")
    assert github.inner_text().strip() == "Log in via GitHub"
    href = github.get_attribute("href") or ""
    assert href == f"/auth/login?connector=github&return_url={quote(return_url, safe='')}"
    screenshot(page, "login-sso")
    # The server takes the link: a redirect to GitHub's authorize page (not followed: no traffic
    # leaves the machine), with the connector's client id.
    answer = page.request.get(f"{base}{href}", max_redirects=0)
    assert answer.status == 303, answer.text()
    location = answer.headers["location"]
    assert location.startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=gh-client-id" in location
    context.close()
