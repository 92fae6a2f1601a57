"""
Where a tool may write: every output path is resolved inside the tool's output folder, and a
folder holding a finished run is not written over without ``--resume`` or ``--overwrite``.

    target = path_inside(out, record["file_name"], f"{json_file}: images[3]")
    check_run_folder(out, ("model_final.pth",), resume=args.resume, overwrite=args.overwrite,
                     what="--out")
"""
import os
from typing import Iterable, Optional

from .cli import UserError

__all__ = ["check_run_folder", "finished_marker", "path_inside"]


def path_inside(root: str, name: str, what: str) -> str:
    """
    ``root/name`` as an absolute path, when it lies inside ``root``; else a :class:`UserError`
    naming ``what`` (the file and record the name came from). Rejects absolute names and names
    whose ``..`` parts leave ``root``; symbolic links already inside ``root`` are not followed.
    """
    if not isinstance(name, str) or not name or os.path.isabs(name):
        raise UserError(f"{what}: file name {name!r} must be a relative path")
    root = os.path.abspath(root)
    path = os.path.normpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root or path == root:
        raise UserError(f"{what}: file name {name!r} leaves its folder {root}")
    return path


def finished_marker(folder: str, markers: Iterable[str]) -> Optional[str]:
    """The first of ``markers`` (names, glob-free) that exists in ``folder``, or None."""
    for name in markers:
        if os.path.lexists(os.path.join(folder, name)):
            return name
    return None


def check_run_folder(folder: str, markers: Iterable[str], *, resume: bool = False,
                     overwrite: bool = False, what: str = "--out",
                     resume_flag: Optional[str] = "--resume") -> None:
    """
    ``folder`` holds no earlier run (none of ``markers`` exists in it), or the user said what to
    do with it (``resume`` or ``overwrite``); else a :class:`UserError` naming the folder and
    the file found. ``resume_flag`` None: the tool cannot resume, only ``--overwrite``.
    """
    if resume or overwrite or not os.path.isdir(folder):
        return
    found = finished_marker(folder, markers)
    if found is not None:
        how = f"{resume_flag} to continue it or --overwrite" if resume_flag else "--overwrite"
        raise UserError(f"{what} {folder} already holds a run ({found}): pass {how} to "
                        "replace it")
