"""Keep every file a render touches inside its repository checkout, and within the size limit."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from argosy.adapters.render._types import RenderError

__all__ = ["check_file", "check_tree", "resolve_inside"]


def resolve_inside(root: Path, relative: str, *, app: str, what: str) -> Path:
    """``root/relative`` with symlinks resolved, or a :class:`RenderError` when it leaves ``root``.

    ``..`` segments are allowed as long as the resolved path stays inside the repository, as in
    Argo CD; absolute paths are refused.
    """
    text = relative.strip()
    if (
        text.startswith(("/", "\\"))
        or PurePosixPath(text).is_absolute()
        or (len(text) > 1 and text[1] == ":")
    ):
        raise RenderError(
            app, f"{what} {relative!r} is an absolute path; it must be relative to the repository"
        )
    real_root = root.resolve()
    candidate = (real_root / text).resolve()
    if not candidate.is_relative_to(real_root):
        raise RenderError(app, f"{what} {relative!r} resolves outside the repository")
    return candidate


def check_file(path: Path, root: Path, *, app: str, what: str, max_bytes: int) -> None:
    """``path`` (already resolved) must be a regular file inside ``root`` and at most ``max_bytes``."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise RenderError(app, f"{what} {_show(path, root)} resolves outside the repository")
    if not path.is_file():
        raise RenderError(app, f"{what} {_show(path, root)} is not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise RenderError(
            app, f"{what} {_show(path, root)} is {size} bytes, over the limit of {max_bytes} bytes"
        )


def check_tree(root: Path, *, app: str, max_bytes: int) -> None:
    """Walk the checkout (without ``.git``): no symlink may point outside it, no file may be too big.

    This mirrors Argo CD's out-of-bounds symlink check, run before any tool sees the tree.
    """
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(real_root, followlinks=False):
        base = Path(dirpath)
        if base == real_root and ".git" in dirnames:
            dirnames.remove(".git")
        for name in (*dirnames, *filenames):
            entry = base / name
            if entry.is_symlink():
                target = entry.resolve()
                if not target.is_relative_to(real_root):
                    raise RenderError(
                        app,
                        f"the symlink {_show(entry, real_root)} points outside the repository "
                        f"({entry.readlink()})",
                    )
        for name in filenames:
            entry = base / name
            if entry.is_symlink():
                continue  # the target is inside the tree and checked on its own
            size = entry.lstat().st_size
            if size > max_bytes:
                raise RenderError(
                    app,
                    f"the file {_show(entry, real_root)} is {size} bytes, "
                    f"over the limit of {max_bytes} bytes",
                )


def _show(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)
