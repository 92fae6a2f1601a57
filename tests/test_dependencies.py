"""setup.py's install_requires match what dpsnet_d2 and tools/ import."""
import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"cv2": "opencv-python-headless", "PIL": "pillow", "yaml": "pyyaml"}
# installed by other means (README: detectron2 is not on PyPI), or the package itself
NOT_DECLARED = {"detectron2", "dpsnet_d2", "setuptools"}
REQUIRED_ONLY = {"torchvision"}  # detectron2 needs it; dpsnet_d2 does not import it


def imported_distributions():
    names = set()
    for path in list((REPO / "dpsnet_d2").rglob("*.py")) + list((REPO / "tools").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    third_party = {n for n in names if n not in sys.stdlib_module_names}
    return {DISTRIBUTIONS.get(n, n) for n in third_party}


def declared_distributions():
    text = (REPO / "setup.py").read_text()
    block = text.split("install_requires=[", 1)[1].split("]", 1)[0]
    return {re.split(r"[<>=!~ ]", s)[0] for s in re.findall(r'"([^"]+)"', block)}


def test_declared_dependencies_match_imports():
    imported, declared = imported_distributions(), declared_distributions()
    assert imported - NOT_DECLARED <= declared, imported - NOT_DECLARED - declared
    assert declared - REQUIRED_ONLY <= imported, declared - REQUIRED_ONLY - imported
    assert "scikit-image" not in declared and "matplotlib" in declared
