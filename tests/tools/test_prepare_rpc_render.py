"""tools/prepare_rpc.py train-render / render: a tiny end-to-end run and the bad-input errors."""
import json
import os

import cv2
import numpy as np
import pytest

TINY = [
    "--image-size",
    "32",
    "--load-size",
    "48",
    "--gen-channels",
    "4",
    "--disc-channels",
    "4",
    "--num-blocks",
    "1",
    "--workers",
    "0",
    "--sample-period",
    "1",
    "--log-period",
    "1",
]


@pytest.fixture(scope="module")
def domains(tmp_path_factory, tiny_rpc_root):
    folder = tmp_path_factory.mktemp("target")
    rng = np.random.default_rng(0)
    for k in range(3):
        cv2.imwrite(str(folder / f"{k}.png"), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    return f"{tiny_rpc_root}/instances_val2019.json", str(folder)


@pytest.fixture(scope="module")
def trained(load_tool, domains, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("render_run"))
    a, b = domains
    args = ["train-render", "--domain-a", a, "--domain-b", b, "--out", out, *TINY]
    assert load_tool("prepare_rpc").main([*args, "--max-iter", "2"]) == 0
    assert load_tool("prepare_rpc").main([*args, "--max-iter", "3", "--resume"]) == 0
    return out, args


def test_train_writes_checkpoints_samples_and_resumes(trained):
    out, _ = trained
    assert {"last_checkpoint", "model_final.pth", "metrics.json"} <= set(os.listdir(out))
    assert open(os.path.join(out, "last_checkpoint")).read() == "model_final.pth"
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.json"))]
    # Detectron2 counts steps from 0: the resumed run went on after the first run's 2 steps
    assert [r["iteration"] for r in records] == [0, 1, 2]
    assert all(np.isfinite(r["loss_cycle_a"]) for r in records)
    assert sorted(os.listdir(os.path.join(out, "samples")))[-1] == "iter_0000003.jpg"


def test_render_keeps_boxes_and_sizes(load_tool, trained, tiny_rpc_root, tmp_path):
    out = str(tmp_path / "rendered")
    src = f"{tiny_rpc_root}/instances_val2019.json"
    args = [
        "render",
        "--checkpoint",
        f"{trained[0]}/model_final.pth",
        "--input",
        src,
        "--out",
        out,
        "--batch-size",
        "2",
        "--workers",
        "2",
    ]
    assert load_tool("prepare_rpc").main(args) == 0
    before, after = json.load(open(src)), json.load(open(f"{out}/instances_val2019.json"))
    assert after["annotations"] == before["annotations"] and after["images"] == before["images"]
    assert after["info"]["render"]["size"] == 48
    for record in before["images"]:
        old = cv2.imread(f"{tiny_rpc_root}/val2019/{record['file_name']}")
        new = cv2.imread(f"{out}/val2019/{record['file_name']}")
        assert new.shape == old.shape and np.abs(new.astype(int) - old).mean() > 1
    assert load_tool("prepare_rpc").main(args) == 2  # exists: refused without --overwrite
    assert load_tool("prepare_rpc").main([*args, "--overwrite"]) == 0


def test_bad_input_one_error(load_tool, trained, domains, tmp_path, capsys):
    run = load_tool("prepare_rpc").main
    empty = tmp_path / "empty"
    empty.mkdir()
    out, args = trained
    bad_a = [*args, "--max-iter", "3"]
    bad_a[bad_a.index("--domain-a") + 1] = str(empty)
    assert run(bad_a) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {empty}: folder has no images (.jpg, .jpeg, .png, .bmp)"
    )
    other = [*args, "--max-iter", "4", "--resume", "--gen-channels", "8"]
    assert run(other) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "gen_channels 4 (requested 8)" in err and "\n" not in err
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"xx")
    render = [
        "render",
        "--checkpoint",
        str(wrong),
        "--input",
        domains[0],
        "--out",
        str(tmp_path / "never"),
    ]
    assert run(render) == 2
    assert "not a readable torch checkpoint" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "never")
