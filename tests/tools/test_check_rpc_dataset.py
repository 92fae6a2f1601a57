"""tools/check_rpc_dataset.py summarises each split of an RPC-layout folder and reports errors."""
import json
import os
import shutil


def test_summary_of_a_good_folder(load_tool, tiny_rpc_root, tiny_rpc_split, capsys):
    assert load_tool("check_rpc_dataset").main([tiny_rpc_root, "--check-files"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = []
    for split in ("train", "val", "test"):
        data = tiny_rpc_split(split)[0]
        classes = len({a["category_id"] for a in data["annotations"]})
        levels = "none" if split == "train" else "easy 1 / medium 1 / hard 1"
        expected.append(
            f"{split:5s}: {len(data['images'])} images, {len(data['annotations'])} boxes, "
            f"{classes}/4 classes, levels: {levels}, image files: all present"
        )
    assert [line for line in lines if line[:5].strip() in ("train", "val", "test")] == expected


def test_errors_are_one_line_each(load_tool, tiny_rpc_root, tmp_path, capsys):
    root = tmp_path / "rpc"
    shutil.copytree(tiny_rpc_root, root)
    os.remove(root / "val2019" / "val_01.jpg")
    with open(root / "instances_test2019.json") as f:
        data = json.load(f)
    data["images"][2]["level"] = "extreme"
    with open(root / "instances_test2019.json", "w") as f:
        json.dump(data, f)

    tool = load_tool("check_rpc_dataset")
    assert tool.main([str(root), "--splits", "val"]) == 0  # image files not checked
    assert tool.main([str(root), "--check-files"]) == 1
    out = capsys.readouterr().out
    assert "train: 4 images" in out
    assert f"val  : ERROR {root}/instances_val2019.json: images[1] (id=15): image file" in out
    assert (
        f"test : ERROR {root}/instances_test2019.json: images[2] (id=25): 'level' must be one of "
        "easy, medium, hard, got 'extreme'" in out
    )
    assert "Traceback" not in out
