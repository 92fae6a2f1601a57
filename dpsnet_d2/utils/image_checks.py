"""
Cheap checks of image files before long work: the file exists and is not empty, its header
parses as an image (PIL reads only the header), its size is the one the dataset states, and a
JPEG / PNG ends with its end marker (a truncated download or copy). A few hundred microseconds an
image; what only a full decode finds is skipped and reported when it happens.

    problem = image_problem(path, height=480, width=640)   # None, or "is empty (0 bytes)"
"""
import os
from typing import Optional

from PIL import Image, UnidentifiedImageError

__all__ = ["image_problem"]

# The last bytes a complete file of each format holds (searched in its last _TAIL bytes: some
# writers append a few bytes after the JPEG end marker).
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND"}
_TAIL = 1024


def image_problem(path: str, height: Optional[int] = None, width: Optional[int] = None
                  ) -> Optional[str]:
    """
    What is wrong with the image file ``path`` in a few words ("does not exist", "is empty
    (0 bytes)", "is not an image", "is truncated", "is 64x48, the dataset says 64x64"), or None.
    ``height`` / ``width``: the size the dataset states, checked when given.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return "does not exist"
    if os.path.isdir(path):
        return "is a folder, not an image"
    if size == 0:
        return "is empty (0 bytes)"
    try:
        with Image.open(path) as img:
            fmt, (w, h) = img.format, img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "is not an image (its header cannot be read)"
    marker = _END_MARKERS.get(fmt)
    if marker is not None:
        with open(path, "rb") as f:
            f.seek(max(0, size - _TAIL))
            if marker not in f.read():
                return f"is truncated (a {fmt} file without its end)"
    if height is not None and width is not None and (int(height), int(width)) != (h, w):
        return f"is {w}x{h}, the dataset says {int(width)}x{int(height)}"
    return None
