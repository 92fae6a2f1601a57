"""The detectron2 installer: its source fixes on a fake sdist tree and on the real one."""
import py_compile
import tarfile
from pathlib import Path

import pytest


@pytest.fixture
def inst(load_tool):
    return load_tool("install_detectron2")


# One file per fix target, holding exactly the lines each fix expects (as in detectron2 0.6).
FAKE_SOURCES = {
    "detectron2/evaluation/fast_eval_api.py": "import copy\nfrom detectron2 import _C\n",
    "detectron2/layers/rotated_boxes.py": "from detectron2 import _C\n",
    "detectron2/layers/deform_conv.py": "import math\nfrom detectron2 import _C\n\nX = 1\n",
    "detectron2/layers/roi_align_rotated.py": "from detectron2 import _C\n",
    "detectron2/data/transforms/transform.py": "def f(interp=Image.LINEAR):\n    pass\n",
    "detectron2/structures/masks.py": "a = x.astype(np.bool)\nb = np.float32\nc = np.int_\n"
    + "d = np.zeros(3, dtype=np.int)\n" * 10
    + "e = np.full(3, 0, dtype=np.float)\n" * 7,
    "detectron2/model_zoo/model_zoo.py": "import os\nimport pkg_resources\nimport torch\n"
    "def get_config_file(config_path):\n"
    "    cfg_file = pkg_resources.resource_filename(\n"
    '        "detectron2.model_zoo", os.path.join("configs", config_path)\n'
    "    )\n",
    "detectron2/export/__init__.py": "from .api import *\nfrom .flatten import TracingAdapter\n",
    "detectron2/engine/hooks.py": (
        "if isinstance(self.scheduler, torch.optim.lr_scheduler._LRScheduler):\n    pass\n" * 2
    ),
    "detectron2/data/common.py": "cur_idx = self._rng.sample(self._fallback_candidates, k=1)[0]\n",
}


def make_fake_tree(root):
    for rel, text in FAKE_SOURCES.items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Path(root)


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def test_each_fix_applied_its_expected_number_of_times(inst, tmp_path):
    root = make_fake_tree(tmp_path)
    done = inst.apply_fixes(root)
    assert done == {fix.name: fix.count for fix in inst.FIXES}
    assert len(done) == 8  # seven fixes, the fourth in two parts

    masks = (root / "detectron2/structures/masks.py").read_text()
    assert "np.bool" not in masks
    assert "dtype=np.int)" not in masks and "dtype=np.float)" not in masks
    assert "np.float32" in masks and "np.int_" in masks  # real dtypes stay
    zoo = (root / "detectron2/model_zoo/model_zoo.py").read_text()
    assert "pkg_resources" not in zoo and "importlib.resources.files" in zoo
    assert "Image.BILINEAR" in (root / "detectron2/data/transforms/transform.py").read_text()
    assert "sorted(self._fallback_candidates)" in (root / "detectron2/data/common.py").read_text()
    hooks = (root / "detectron2/engine/hooks.py").read_text()
    assert hooks.count('"LRScheduler"') == 2
    for rel in FAKE_SOURCES:
        py_compile.compile(str(root / rel), doraise=True)


def test_fixes_fail_loudly_when_applied_twice(inst, tmp_path):
    root = make_fake_tree(tmp_path)
    inst.apply_fixes(root)
    with pytest.raises(inst.PatchError, match="expected 4 match"):
        inst.apply_fixes(root)


def test_missing_pattern_raises_and_writes_nothing(inst, tmp_path):
    root = make_fake_tree(tmp_path)
    (root / "detectron2/data/common.py").write_text("cur_idx = 0\n")
    before = snapshot(root)
    with pytest.raises(inst.PatchError, match="7-sample-from-list"):
        inst.apply_fixes(root)
    assert snapshot(root) == before


def test_extra_match_raises(inst, tmp_path):
    root = make_fake_tree(tmp_path)
    path = root / "detectron2/data/transforms/transform.py"
    path.write_text(path.read_text() + "y = Image.LINEAR\n")
    with pytest.raises(inst.PatchError, match="2-pillow-linear.*found 2"):
        inst.apply_fixes(root)


def test_written_setup_py_is_python_only(inst, tmp_path):
    (tmp_path / "pb1_detectron2.egg-info").mkdir()
    inst.write_setup_py(tmp_path)
    text = (tmp_path / "setup.py").read_text()
    compile(text, "setup.py", "exec")
    assert 'name="detectron2"' in text and "ext_modules" not in text
    assert "detectron2.projects.point_rend" in text and "black" not in text
    assert not (tmp_path / "pb1_detectron2.egg-info").exists()


def test_fixes_match_the_real_sdist(inst, tmp_path):
    sdist = Path.home() / ".cache" / "dpsnet_d2" / inst.SDIST_NAME
    if not sdist.exists():
        pytest.skip("the sdist is cached by `make setup`")
    assert inst.sha256_of(sdist) == inst.SDIST_SHA256
    root = inst.unpack(sdist, tmp_path)
    done = inst.apply_fixes(root)
    assert done == {fix.name: fix.count for fix in inst.FIXES}
    for fix in inst.FIXES:
        for path in inst._files_of(root, fix):
            py_compile.compile(str(path), doraise=True)
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(name.endswith("projects/PointRend/point_rend/__init__.py") for name in names)
