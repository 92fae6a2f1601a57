"""tools/weights_report.py: the load report of a Detectron2 checkpoint in a DPSNet config, printed
and written as json; bad input stops with one line. (The checkpointer's key mapping itself:
tests/engine/test_checkpointer.py.)"""
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "configs" / "Base-DPSNet.yaml"
PREDICTOR = {f"roi_heads.box_predictor.{n}.{p}" for n in ("cls_score", "bbox_pred")
             for p in ("weight", "bias")}
SUMMARY = re.compile(r"^loaded (\d+) / (\d+) tensors from (.+) \((\d+) renamed")


def test_model_zoo_pkl_report_printed_and_written(
    run_tool, stock_r50_fpn, model_zoo_pkl, small_r50_fpn_opts, tmp_path
):
    weights = tmp_path / "model_final_stock.pkl"
    model_zoo_pkl(stock_r50_fpn, weights)
    output = tmp_path / "report" / "load.json"
    code, out, err = run_tool("weights_report", [
        "--config-file", BASE, "--weights", weights, "--output", output,
        *small_r50_fpn_opts, "MODEL.ROI_HEADS.NUM_CLASSES", "3"])
    assert code == 0, err
    report = json.loads(output.read_text())

    # every tensor of the stock model but its 80-class predictor loads; the total is DPSNet's
    stock = stock_r50_fpn.state_dict()
    assert report["loaded"] == len(stock) - 4
    assert report["total"] > report["loaded"] and report["unexpected"] == []
    assert report["renamed"] > 0 and report["source"] == str(weights)
    # the predictor is skipped and listed with both shapes (81 / 320 rows vs 3 classes: 4 / 12)
    skipped = {key: (ckpt, model) for key, ckpt, model in report["skipped"]}
    assert set(skipped) == PREDICTOR
    assert skipped["roi_heads.box_predictor.cls_score.weight"] == ([81, 64], [4, 64])
    assert skipped["roi_heads.box_predictor.bbox_pred.bias"] == ([320], [12])
    # only DPSNet's own modules (fusion, density head) are missing
    assert all("fusion" in k or k.startswith("density_head.") for k in report["missing"])

    # printed: the summary with the same counts, one line per skipped tensor
    lines = out.strip().splitlines()
    summary = SUMMARY.match(lines[0])
    assert summary and summary.groups() == (
        str(report["loaded"]), str(report["total"]), str(weights), str(report["renamed"]))
    assert sorted(lines[1:]) == sorted(
        f"  skipped {key}: checkpoint {ckpt} vs model {model}"
        for key, (ckpt, model) in skipped.items())


def test_zoo_architecture_gives_the_documented_count(run_tool):
    """docs/rpc.md quotes the report of a model-zoo R-50-FPN in the RPC R-50 config."""
    code, out, err = run_tool("weights_report", [
        "--config-file", REPO / "configs" / "RPC" / "dpsnet_R_50_FPN.yaml",
        "--zoo-architecture", "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml", "MODEL.DEVICE", "cpu"])
    assert code == 0, err
    summary = SUMMARY.match(out.splitlines()[0])
    loaded, total = int(summary.group(1)), int(summary.group(2))
    page = " ".join((REPO / "docs" / "rpc.md").read_text().split())
    assert f"{loaded} of DPSNet's {total} tensors" in page
    assert "skipped roi_heads.box_predictor.cls_score.weight: checkpoint [81, 1024] vs model " \
           "[201, 1024]" in out


def test_missing_weights_one_line_nothing_written(run_tool, tmp_path):
    output = tmp_path / "load.json"
    missing = tmp_path / "no_such_model.pkl"
    code, out, err = run_tool("weights_report", [
        "--config-file", BASE, "--weights", missing, "--output", output, "MODEL.DEVICE", "cpu"])
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and str(missing) in err
    assert not output.exists()
