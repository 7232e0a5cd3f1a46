"""Checks for the ``batch`` group: Job (built in) and CronJob (an Argo CD resource customization)."""

from __future__ import annotations

from datetime import datetime

from argosy.model.health import HealthResult

from ._util import (
    DEGRADED,
    HEALTHY,
    PROGRESSING,
    SUSPENDED,
    Obj,
    conditions,
    get,
    get_list,
    get_str,
    is_true,
    result,
)

GROUP = "batch"


def job(obj: Obj) -> HealthResult:
    failed = complete = suspended = False
    failed_msg = complete_msg = suspended_msg = ""
    for cond in conditions(obj):
        if cond.get("status") != "True":
            continue
        kind = cond.get("type")
        if kind == "Failed":
            failed, failed_msg = True, get_str(cond, "message")
        elif kind == "Complete":
            complete, complete_msg = True, get_str(cond, "message")
        elif kind == "Suspended":
            suspended, suspended_msg = True, get_str(cond, "message")
    if failed:
        return result(DEGRADED, failed_msg)
    if suspended:
        return result(SUSPENDED, suspended_msg)
    if complete:
        return result(HEALTHY, complete_msg)
    return result(PROGRESSING, "Job is running")


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def cron_job(obj: Obj) -> HealthResult:
    if is_true(get(obj, "spec", "suspend")):
        return result(HEALTHY, "CronJob is Suspended")
    last_schedule = get_str(obj, "status", "lastScheduleTime")
    if not last_schedule:
        return result(HEALTHY, "CronJob has not been scheduled yet")
    if get_list(obj, "status", "active"):
        return result(HEALTHY, "The job is running. Its last execution may not have been successful")
    last_success = get_str(obj, "status", "lastSuccessfulTime")
    if not last_success:
        return result(HEALTHY, "The CronJob never completed successfully. It may not be healthy")
    scheduled_at, succeeded_at = _parse_time(last_schedule), _parse_time(last_success)
    try:
        behind = (
            succeeded_at < scheduled_at if scheduled_at and succeeded_at else last_success < last_schedule
        )
    except TypeError:  # one timestamp has a zone and the other has none
        behind = last_success < last_schedule
    if behind:
        return result(DEGRADED, "CronJob has not completed its last execution successfully")
    return result(HEALTHY, "CronJob has completed its last execution successfully")


CHECKS = {(GROUP, "Job"): job}
CUSTOM_CHECKS = {(GROUP, "CronJob"): cron_job}
