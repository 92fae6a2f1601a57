"""tools/make_synthetic_rpc.py: generate a tiny set, refuse to overwrite it, preview it."""

import json
import os

import pytest

from dpsnet_d2.utils.cli import UserError


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("make_synthetic_rpc")


def test_cli_generate_and_preview(tool, tmp_path, capsys):
    out = str(tmp_path / "synthetic_rpc")
    args = [
        "--out",
        out,
        "--num-skus",
        "3",
        "--views",
        "2",
        "--val",
        "3",
        "--test",
        "3",
        "--size",
        "96",
        "--workers",
        "1",
    ]
    tool.main(tool.get_parser().parse_args(args))
    assert out in capsys.readouterr().out
    with open(os.path.join(out, "instances_val2019.json")) as f:
        data = json.load(f)
    assert [im["level"] for im in data["images"]] == ["easy", "medium", "hard"]
    assert len(os.listdir(os.path.join(out, "train2019"))) == 3 * 2
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        tool.main(tool.get_parser().parse_args(args))
    preview = str(tmp_path / "preview.png")
    tool.main(tool.get_parser().parse_args(["--out", out, "--preview", preview]))
    assert os.path.getsize(preview) > 0 and preview in capsys.readouterr().out
