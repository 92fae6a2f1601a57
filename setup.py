#!/usr/bin/env python
"""dpsnet_d2: DPSNet (iterative knowledge distillation for automatic check-out) on Detectron2."""
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).resolve().parent
version = {}
exec((here / "dpsnet_d2" / "version.py").read_text(), version)

setup(
    name="dpsnet_d2",
    version=version["__version__"],
    description="DPSNet for automatic check-out (RPC) as a Detectron2 extension",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=("dpsnet_d2", "dpsnet_d2.*")),
    # detectron2 is not on PyPI: install it first (tools/install_detectron2.py or an official build)
    install_requires=[
        "torch>=1.10",
        "torchvision",
        "opencv-python-headless",
        "numpy",
        "fvcore",
        "pycocotools>=2.0.2",
        "matplotlib",
        "pillow",
        "pyyaml",
        "scipy",
        "tabulate",
        "tqdm",
    ],
    extras_require={"dev": ["pytest", "hypothesis"]},
)
