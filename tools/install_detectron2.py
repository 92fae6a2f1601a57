#!/usr/bin/env python
"""
Install detectron2 into the running Python, Python-only, when it is missing.

detectron2 is not published on PyPI with its compiled ops. This installer takes the
PyPI sdist ``pb1-detectron2==0.6`` (detectron2 0.6's Python sources, no csrc), checks its
sha256, applies seven mechanical compatibility fixes for current Python / NumPy / Pillow /
torch, and installs it as the distribution ``detectron2`` 0.6, including the
``detectron2.projects.*`` packages (PointRend, DeepLab, Panoptic-DeepLab).

An importable detectron2 (e.g. an official CUDA build) is never touched.

Usage::

    python tools/install_detectron2.py            # install if `import detectron2` fails
    python tools/install_detectron2.py --sdist F  # use a local copy of the sdist (offline)

Standard library only: it runs before anything else is installed.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

SDIST_NAME = "pb1-detectron2-0.6.tar.gz"
SDIST_URL = (
    "https://files.pythonhosted.org/packages/60/26/"
    "48f5bbb7ee492696a21da23303daeecdfe3942c498a70d34108acf63b2bd/" + SDIST_NAME
)
SDIST_SHA256 = "5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29"
DETECTRON2_VERSION = "0.6"

# detectron2 0.6's runtime requirements, without its `black` pin (a formatter, never imported
# at run time) and without the caffe2-only `future`/`pydot`.
RUNTIME_REQUIREMENTS = [
    "Pillow>=7.1",
    "matplotlib",
    "pycocotools>=2.0.2",
    "termcolor>=1.1",
    "yacs>=0.1.8",
    "tabulate",
    "cloudpickle",
    "tqdm>4.29.0",
    "tensorboard",
    "fvcore>=0.1.5,<0.1.6",
    "iopath>=0.1.7,<0.1.10",
    "omegaconf>=2.1",
    "hydra-core>=1.1",
]

# The same mapping as detectron2's own setup.py: small projects installed as detectron2.projects.*
PROJECTS = {
    "detectron2.projects.point_rend": "projects/PointRend/point_rend",
    "detectron2.projects.deeplab": "projects/DeepLab/deeplab",
    "detectron2.projects.panoptic_deeplab": "projects/Panoptic-DeepLab/panoptic_deeplab",
}

COMPILED_OPS_NOTE = (
    "compiled ops (deformable conv, rotated boxes, fast COCOeval) are unavailable in this "
    "Python-only build"
)


class PatchError(RuntimeError):
    """A compatibility fix did not find what it expected in the sources."""


@dataclass(frozen=True)
class Fix:
    """
    One named source substitution.

    ``pattern`` is a regular expression searched in every file matched by ``files`` (globs
    relative to the unpacked sdist); ``count`` is the exact number of matches expected over
    all those files together. Any other number raises :class:`PatchError`.
    """

    name: str
    files: Tuple[str, ...]
    pattern: str
    replacement: str
    count: int


_OPTIONAL_C = (
    "try:\n"
    "    from detectron2 import _C\n"
    "except ImportError:  # Python-only build: compiled ops are unavailable\n"
    "    _C = None\n"
)

FIXES: Tuple[Fix, ...] = (
    Fix(
        "1-optional-compiled-ops",
        (
            "detectron2/evaluation/fast_eval_api.py",
            "detectron2/layers/rotated_boxes.py",
            "detectron2/layers/deform_conv.py",
            "detectron2/layers/roi_align_rotated.py",
        ),
        r"^from detectron2 import _C\n",
        _OPTIONAL_C,
        4,
    ),
    Fix(
        "2-pillow-linear",
        ("detectron2/data/transforms/transform.py",),
        r"\bImage\.LINEAR\b",
        "Image.BILINEAR",
        1,
    ),
    Fix(
        "3-numpy-aliases",
        ("detectron2/**/*.py", "projects/**/*.py"),
        r"\bnp\.(bool|int|float)\b(?![_\d])",
        r"\1",
        18,
    ),
    Fix(
        "4a-pkg-resources-import",
        ("detectron2/model_zoo/model_zoo.py",),
        r"^import pkg_resources\n",
        "import importlib.resources\n",
        1,
    ),
    Fix(
        "4b-pkg-resources-call",
        ("detectron2/model_zoo/model_zoo.py",),
        r"pkg_resources\.resource_filename\(\s*\"detectron2\.model_zoo\", "
        r"os\.path\.join\(\"configs\", config_path\)\s*\)",
        'str(importlib.resources.files("detectron2.model_zoo") / "configs" / config_path)',
        1,
    ),
    Fix(
        "5-optional-caffe2-export",
        ("detectron2/export/__init__.py",),
        r"^from \.api import \*\n",
        "try:\n"
        "    from .api import *  # needs caffe2\n"
        "except ImportError:  # caffe2 is not part of current torch builds\n"
        "    pass\n",
        1,
    ),
    Fix(
        "6-torch2-lr-scheduler-state",
        ("detectron2/engine/hooks.py",),
        r"isinstance\(self\.scheduler, torch\.optim\.lr_scheduler\._LRScheduler\)",
        # torch >= 2 built-in schedulers subclass LRScheduler, not _LRScheduler
        'isinstance(self.scheduler, getattr(torch.optim.lr_scheduler, "LRScheduler", '
        "torch.optim.lr_scheduler._LRScheduler))",
        2,
    ),
    Fix(
        "7-sample-from-list",
        ("detectron2/data/common.py",),
        r"self\._rng\.sample\(self\._fallback_candidates, k=1\)",
        "self._rng.sample(sorted(self._fallback_candidates), k=1)",
        1,
    ),
)


def _files_of(root: Path, fix: Fix):
    seen = []
    for pattern in fix.files:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in seen:
                seen.append(path)
    return seen


def apply_fixes(root, fixes: Sequence[Fix] = FIXES) -> Dict[str, int]:
    """
    Apply ``fixes`` to the source tree at ``root``.

    Every fix is checked before any file is written, so a failing fix leaves the tree as it
    was. Returns {fix name: number of substitutions made}.

    Raises:
        PatchError: naming the fix and the files searched, when a fix does not match exactly
            its expected number of times.
    """
    root = Path(root)
    new_text: Dict[Path, str] = {}
    done: Dict[str, int] = {}
    for fix in fixes:
        regex = re.compile(fix.pattern, re.MULTILINE)
        files = _files_of(root, fix)
        total = 0
        for path in files:
            text = new_text.get(path)
            if text is None:
                text = path.read_text(encoding="utf-8")
            text, n = regex.subn(fix.replacement, text)
            if n:
                new_text[path] = text
                total += n
        if total != fix.count:
            raise PatchError(
                f"fix {fix.name!r}: expected {fix.count} match(es) of {fix.pattern!r} in "
                f"{list(fix.files)} under {root}, found {total}"
            )
        done[fix.name] = total
    for path, text in new_text.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return done


SETUP_PY = '''\
# Written by dpsnet_d2's tools/install_detectron2.py: detectron2 {version}, Python-only.
from setuptools import find_packages, setup

PROJECTS = {projects!r}

setup(
    name="detectron2",
    version="{version}",
    description="detectron2 {version} (Python-only build, no compiled ops)",
    packages=find_packages(exclude=("configs", "tests*", "tools*", "projects*"))
    + list(PROJECTS.keys()),
    package_dir=PROJECTS,
    package_data={{"detectron2.model_zoo": ["configs/**/*.yaml", "configs/**/*.py"]}},
    python_requires=">=3.7",
    install_requires={requirements!r},
)
'''


def write_setup_py(root) -> None:
    """Replace the sdist's setup.py (which compiles csrc) by a Python-only one."""
    root = Path(root)
    text = SETUP_PY.format(
        version=DETECTRON2_VERSION, projects=PROJECTS, requirements=RUNTIME_REQUIREMENTS
    )
    (root / "setup.py").write_text(text, encoding="utf-8")
    # the sdist's own metadata would name the distribution pb1-detectron2
    for info in root.glob("*.egg-info"):
        shutil.rmtree(info)


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_sdist(cache_dir: Path) -> Path:
    """Download the sdist into ``cache_dir`` (kept for later runs) and verify its sha256."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / SDIST_NAME
    if target.exists() and sha256_of(target) == SDIST_SHA256:
        return target
    print(f"[install_detectron2] downloading {SDIST_URL}", flush=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(SDIST_URL, timeout=120) as r:
            shutil.copyfileobj(r, out)
        digest = sha256_of(tmp)
        if digest != SDIST_SHA256:
            raise RuntimeError(
                f"sha256 of the downloaded {SDIST_NAME} is {digest}, expected {SDIST_SHA256}"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    (root,) = [p for p in dest.iterdir() if p.is_dir()]
    return root


def _pip(*args: str) -> None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


def detectron2_info():
    """Return (version, location) of an importable detectron2 in this Python, or None."""
    code = "import detectron2, os; print(detectron2.__version__); print(detectron2.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    version, location = proc.stdout.strip().splitlines()[-2:]
    return version, os.path.dirname(location)


def has_compiled_ops(location: str) -> bool:
    return any(Path(location).glob("_C*.so")) or any(Path(location).glob("_C*.pyd"))


def install(sdist=None, cache_dir=None) -> None:
    cache_dir = Path(cache_dir or Path.home() / ".cache" / "dpsnet_d2")
    sdist = Path(sdist) if sdist else fetch_sdist(cache_dir)
    if sha256_of(sdist) != SDIST_SHA256:
        raise RuntimeError(f"{sdist}: sha256 does not match the pinned {SDIST_SHA256}")
    _pip("setuptools", "wheel", *RUNTIME_REQUIREMENTS)
    with tempfile.TemporaryDirectory(prefix="detectron2-src-") as tmp:
        root = unpack(sdist, Path(tmp))
        for name, n in apply_fixes(root).items():
            print(f"[install_detectron2] fix {name}: {n} substitution(s)", flush=True)
        write_setup_py(root)
        _pip("--no-deps", "--no-build-isolation", str(root))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help="local copy of " + SDIST_NAME + " (skips the download)")
    parser.add_argument("--cache-dir", help="where the sdist is kept (default ~/.cache/dpsnet_d2)")
    parser.add_argument(
        "--force", action="store_true", help="reinstall even if detectron2 is importable"
    )
    args = parser.parse_args(argv)

    info = detectron2_info()
    if info is None or args.force:
        install(args.sdist, args.cache_dir)
        info = detectron2_info()
        if info is None:
            print("[install_detectron2] detectron2 still does not import", file=sys.stderr)
            return 1
    version, location = info
    if has_compiled_ops(location):
        print(f"[install_detectron2] using detectron2 {version} at {location} "
              "(compiled ops present)")
    else:
        print(f"[install_detectron2] using detectron2 {version} at {location}; {COMPILED_OPS_NOTE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
