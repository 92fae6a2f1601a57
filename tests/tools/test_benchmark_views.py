"""tools/benchmark_views.py on a tiny set: the tables, the curve and the JSON of a checkpoint."""
import json

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog, MetadataCatalog

from dpsnet_d2 import DPSNetTrainer
from dpsnet_d2.data.datasets import register_rpc_splits


def test_views_of_one_checkpoint(tiny_dpsnet_cfg, true_store, tiny_embedded_root, tmp_path,
                                 run_tool):
    datasets, metadata = dict(DatasetCatalog), dict(MetadataCatalog)
    try:
        register_rpc_splits(tiny_embedded_root, "viewsbench_{split}")
        cfg = tiny_dpsnet_cfg(
            "MODEL.ROI_HEADS.NUM_CLASSES", "10",
            "INPUT.SYNTHESIS.CUTOUT_STORE", true_store.folder,
            "INPUT.SYNTHESIS.REFERENCE_SIZE", "128", "INPUT.SYNTHESIS.CANVAS_SIZE", "128")
        config = tmp_path / "cfg.yaml"
        config.write_text(cfg.dump())
        model = DPSNetTrainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_0000009")
        code, out, err = run_tool("benchmark_views", [
            "--config-file", config, "--weights", tmp_path, "--target", "viewsbench_val",
            "--calibration", "2", "--heldout", "2", "--output", tmp_path / "views"])
    finally:
        DatasetCatalog.clear()
        DatasetCatalog.update(datasets)
        MetadataCatalog.clear()
        MetadataCatalog.update(metadata)
    assert code == 0, err
    (row,) = json.loads((tmp_path / "views" / "views.json").read_text())
    assert row["counting_target"]["images"] == 2 and row["counting_heldout"]["images"] == 2
    assert {q["mode"] for q in row["consistency"]} == {"published", "calibrated"}
    assert "| model_0000009.pth |" in (tmp_path / "views" / "views.md").read_text()
    assert (tmp_path / "views" / "views.png").read_bytes()[:4] == b"\x89PNG"
