"""Checks for the ``argoproj.io`` group.

Workflow is built in (as in gitops-engine). Rollout, AnalysisRun, Experiment, ApplicationSet and
CronWorkflow mirror Argo CD's shipped resource customizations. Application health is *not* registered
by default (Argo CD removed it in v1.8); :func:`application` is the opt-in equivalent of the snippet
that ``docs/operator-manual/health.md`` suggests for app-of-apps.
"""

from __future__ import annotations

from argosy.model.health import HealthResult, HealthStatus

from ._util import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    Obj,
    conditions,
    get,
    get_int,
    get_list,
    get_map,
    get_str,
    has,
    is_true,
    result,
)

GROUP = "argoproj.io"


def workflow(obj: Obj) -> HealthResult:
    phase = get_str(obj, "status", "phase")
    message = get_str(obj, "status", "message")
    if phase in ("", "Pending", "Running"):
        return result(PROGRESSING, message)
    if phase == "Succeeded":
        return result(HEALTHY, message)
    if phase in ("Failed", "Error"):
        return result(DEGRADED, message)
    return result(UNKNOWN, message)


def application(obj: Obj) -> HealthResult:
    """Opt-in Application health: the child app's own reported health, Progressing until it has one."""
    status = HealthStatus.parse(get_str(obj, "status", "health", "status"))
    if status is None:
        return result(PROGRESSING)
    return result(status, get_str(obj, "status", "health", "message"))


# --- Rollout -------------------------------------------------------------------------------------

_WAITING_SPEC = "Waiting for rollout spec update to be observed"
_WAIT_PREFIX = "Waiting for roll out to finish: "


def _rollout_spec_observed(obj: Obj) -> bool:
    observed = get(obj, "status", "observedGeneration")
    generation = get_int(obj, "metadata", "generation")
    # Controllers before v0.10 stored a pod-template hash here; only a decimal generation can be compared.
    comparable = isinstance(observed, int | str) and str(observed).isdigit()
    if comparable and has(obj, "metadata", "generation") and int(str(observed)) < generation:
        return False
    wanted = get(obj, "metadata", "annotations", "rollout.argoproj.io/workload-generation")
    if wanted is not None:
        seen = get(obj, "status", "workloadObservedGeneration")
        if seen is None or str(seen) != str(wanted):
            return False
    return True


def rollout(obj: Obj) -> HealthResult:
    if not isinstance(get(obj, "status"), dict) or not _rollout_spec_observed(obj):
        return result(PROGRESSING, _WAITING_SPEC)
    status_message = get_str(obj, "status", "message")
    phase = get_str(obj, "status", "phase")
    if phase:  # v1.0+ controllers compute the phase themselves
        parsed = {
            "Healthy": HEALTHY,
            "Degraded": DEGRADED,
            "Paused": SUSPENDED,
            "Progressing": PROGRESSING,
        }.get(phase)
        if parsed is not None:
            return result(parsed, status_message)
    for cond in conditions(obj):
        if cond.get("type") == "InvalidSpec" and cond.get("status") == "True":
            return result(DEGRADED, get_str(cond, "message"))
    progressing = next((c for c in conditions(obj) if c.get("type") == "Progressing"), None)
    if is_true(get(obj, "status", "abort")) or get_str(progressing, "reason") == "RolloutAborted":
        return result(DEGRADED, get_str(progressing, "message") or "Rollout is aborted")
    if get_str(progressing, "reason") == "ProgressDeadlineExceeded":
        return result(DEGRADED, get_str(progressing, "message"))
    if (
        is_true(get(obj, "spec", "paused"))
        or is_true(get(obj, "status", "controllerPause"))
        or get_list(obj, "status", "pauseConditions")
        or get_str(progressing, "reason") == "RolloutPaused"
    ):
        return result(SUSPENDED, "Rollout is paused")
    wanted = get_int(obj, "spec", "replicas", default=1) if has(obj, "spec", "replicas") else 1
    updated = get_int(obj, "status", "updatedReplicas")
    available = get_int(obj, "status", "availableReplicas")
    total = get_int(obj, "status", "replicas")
    if updated < wanted:
        return result(PROGRESSING, _WAIT_PREFIX + "More replicas need to be updated")
    if available < updated:
        return result(PROGRESSING, _WAIT_PREFIX + "updated replicas are still becoming available")
    pod_hash = get_str(obj, "status", "currentPodHash")
    if has(obj, "spec", "strategy", "blueGreen"):
        active = get_str(obj, "status", "blueGreen", "activeSelector") or get_str(
            obj, "status", "activeSelector"
        )
        if active and active != pod_hash:
            return result(PROGRESSING, _WAIT_PREFIX + "switching to the new ReplicaSet")
        return result(HEALTHY)
    if total > updated:
        return result(PROGRESSING, _WAIT_PREFIX + "old replicas are pending termination")
    stable = get_str(obj, "status", "stableRS") or get_str(obj, "status", "canary", "stableRS")
    if stable and stable != pod_hash:
        return result(PROGRESSING, _WAIT_PREFIX + "waiting for the canary to become stable")
    return result(HEALTHY)


# --- AnalysisRun / Experiment --------------------------------------------------------------------


def analysis_run(obj: Obj) -> HealthResult:
    if not get_map(obj, "status"):
        return result(PROGRESSING, "Waiting for analysis run to finish: status has not been reconciled.")
    message = get_str(obj, "status", "message")
    phase = get_str(obj, "status", "phase")
    if phase in ("", "Pending", "Running"):
        return result(PROGRESSING, message or "Analysis run is running")
    if phase == "Successful":
        return result(HEALTHY, message or "Analysis run completed successfully")
    if phase == "Failed":
        return result(DEGRADED, message or "Analysis run failed")
    if phase == "Error":
        return result(DEGRADED, message or "Analysis run had an error")
    if phase == "Inconclusive":
        return result(UNKNOWN, message or "Analysis run was inconclusive")
    return result(UNKNOWN, message or f"Unexpected analysis run phase {phase!r}")


_EXPERIMENT_PHASES: dict[str, HealthResult] = {
    "Pending": result(PROGRESSING, "Experiment is pending"),
    "Running": result(PROGRESSING, "Experiment is running"),
    "Successful": result(HEALTHY, "Experiment is successful"),
    "Failed": result(DEGRADED, "Experiment has failed"),
    "Error": result(DEGRADED, "Experiment had an error"),
}


def experiment(obj: Obj) -> HealthResult:
    phase = get_str(obj, "status", "phase")
    known = _EXPERIMENT_PHASES.get(phase)
    if known is not None:
        return known
    if not phase:
        return result(PROGRESSING, "Waiting for experiment to finish: status has not been reconciled.")
    return result(UNKNOWN, f"Unexpected experiment phase {phase!r}")


# --- ApplicationSet / CronWorkflow ---------------------------------------------------------------


def application_set(obj: Obj) -> HealthResult:
    conds = conditions(obj)
    for cond in conds:
        if cond.get("type") == "ErrorOccurred" and cond.get("status") == "True":
            return result(DEGRADED, get_str(cond, "message"))
    for cond in conds:
        if cond.get("type") == "ResourcesUpToDate" and cond.get("status") == "False":
            return result(DEGRADED, get_str(cond, "message"))
    for cond in conds:
        if cond.get("type") == "RolloutProgressing" and cond.get("status") == "True":
            return result(PROGRESSING, get_str(cond, "message"))
    for cond in conds:
        if cond.get("type") == "ResourcesUpToDate" and cond.get("status") == "True":
            return result(HEALTHY, get_str(cond, "message"))
    return result(PROGRESSING, "Waiting for the status to be reported")


def cron_workflow(obj: Obj) -> HealthResult:
    conds = conditions(obj)
    for cond in conds:
        if cond.get("type") in ("SpecError", "SubmissionError") and cond.get("status") == "True":
            return result(DEGRADED, get_str(cond, "message"))
    for cond in conds:
        if cond.get("type") == "Completed" and cond.get("status") == "True":
            return result(HEALTHY, get_str(cond, "message"))
    return result(HEALTHY, "CronWorkflow is healthy.")


CHECKS = {(GROUP, "Workflow"): workflow}
CUSTOM_CHECKS = {
    (GROUP, "Rollout"): rollout,
    (GROUP, "AnalysisRun"): analysis_run,
    (GROUP, "Experiment"): experiment,
    (GROUP, "ApplicationSet"): application_set,
    (GROUP, "CronWorkflow"): cron_workflow,
}
APPLICATION_CHECK = {(GROUP, "Application"): application}
