"""The ordering tables and the sort of sync tasks: phase -> wave -> kind rank -> name.

Kind ranks follow Argo CD's table (itself taken from Helm's install order): each listed kind gets
``index - len(table)``, so the first is the most negative, and every unlisted kind (custom resources
included) gets 0 and sorts after all listed kinds. Kinds are compared by kind only, not by group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from argosy.core.plan.tasks import SyncTask
from argosy.model.annotations import SyncPhase

__all__ = ["KIND_ORDER", "kind_rank", "order_tasks", "phase_waves", "sort_key", "sort_tasks"]

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: index - len(KIND_ORDER) for index, kind in enumerate(KIND_ORDER)}


def kind_rank(kind: str) -> int:
    """Rank of a kind in the apply order: ``Namespace`` is -35, ``APIService`` -1, unknown kinds 0."""
    return _KIND_RANK.get(kind, 0)


def sort_key(task: SyncTask) -> tuple[int, int, int, int, str, str, str, str, str]:
    """Phase, wave, prunes before applies, kind rank, name; then tie-breakers for a total order.

    Argo CD compares only phase, wave, kind and name; the extra keys make equal tasks sort the same
    way every time. Prunes go first within a wave because that is the order the wave executes in.
    """
    return (
        task.phase.rank,
        task.wave,
        0 if task.is_prune else 1,
        kind_rank(task.key.kind),
        task.key.name,
        task.generate_name,
        task.key.namespace,
        task.key.group,
        task.key.kind,
    )


def sort_tasks(tasks: Iterable[SyncTask]) -> list[SyncTask]:
    """Tasks sorted by :func:`sort_key`, without dependency adjustment."""
    return sorted(tasks, key=sort_key)


_Dep = Callable[[SyncTask], str | None]


def _namespace_provided(task: SyncTask) -> str | None:
    key = task.key
    return key.name if key.kind == "Namespace" and key.group == "" and key.name else None


def _namespace_needed(task: SyncTask) -> str | None:
    return task.key.namespace or None


def _crd_provided(task: SyncTask) -> str | None:
    return str(task.defines) if task.defines is not None else None


def _crd_needed(task: SyncTask) -> str | None:
    return str(task.key.group_kind)


def _bubble(tasks: list[SyncTask], provides: _Dep, needs: _Dep) -> list[SyncTask]:
    """Move each provider in front of the first earlier task that needs it, inheriting its phase/wave."""
    out = list(tasks)
    first_user: dict[str, int] = {}
    for index, task in enumerate(list(out)):
        if task.is_prune:
            continue
        provided = provides(task)
        if provided is not None:
            target = first_user.get(provided)
            if target is None:
                continue
            anchor = out[target]
            note = f"moved ahead of {anchor.key.kind}/{anchor.key.name} (takes its phase and wave)"
            moved = replace(task, phase=anchor.phase, wave=anchor.wave, reason=f"{task.reason}; {note}")
            del out[index]
            out.insert(target, moved)
            for dep, position in first_user.items():
                if position >= target:
                    first_user[dep] = position + 1
            continue
        needed = needs(task)
        if needed is not None and needed not in first_user:
            first_user[needed] = index
    return out


def order_tasks(tasks: Iterable[SyncTask]) -> list[SyncTask]:
    """Sort, then move Namespaces and CRDs ahead of the first task that depends on them.

    A core-group Namespace is a dependency of every applied task whose namespace is its name; a
    CRD is a dependency of every applied task of the group/kind it defines. Prune tasks neither
    provide nor need anything. The moved task takes the phase and wave of the task it now precedes.
    """
    ordered = _bubble(sort_tasks(tasks), _namespace_provided, _namespace_needed)
    return _bubble(ordered, _crd_provided, _crd_needed)


def phase_waves(tasks: Sequence[SyncTask]) -> list[tuple[SyncPhase, int]]:
    """The distinct (phase, wave) groups of already ordered tasks, in order of first appearance."""
    seen: list[tuple[SyncPhase, int]] = []
    for task in tasks:
        group = (task.phase, task.wave)
        if group not in seen:
            seen.append(group)
    return seen
