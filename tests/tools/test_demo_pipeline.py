"""
tools/demo.py end to end at a minimal size: a tiny synthetic RPC, a tiny model, a few iterations
per stage; every stage writes its artifacts, and a second run skips them all.
"""
import os

from dpsnet_d2.data.synthetic_rpc import SynthConfig, generate_synthetic_rpc

# keys of the tiny overrides that the demo sets itself
_DEMO_KEYS = (
    "DATASETS.TRAIN", "DATASETS.TEST", "OUTPUT_DIR", "SOLVER.MAX_ITER", "MODEL.WEIGHTS",
)


def test_every_stage_runs_and_a_second_run_skips_them(load_tool, tiny_rcnn_opts, tmp_path,
                                                       capsys):
    data = tmp_path / "data"
    generate_synthetic_rpc(str(data / "synthetic_rpc"),
                           SynthConfig(num_skus=3, views=4, num_val=2, num_test=3, num_counters=2,
                                       size=128))
    tiny = tiny_rcnn_opts("unused", "unused", num_classes=3)
    opts = [v for k, v in zip(tiny[::2], tiny[1::2]) if k not in _DEMO_KEYS for v in (k, v)]
    opts += ["INPUT.SYNTHESIS.CANVAS_SIZE", "128", "INPUT.SYNTHESIS.REFERENCE_SIZE", "128",
             "INPUT.SYNTHESIS.EPOCH_SIZE", "8", "TEST.RPC_COMPUTE_MAP", "False",
             "DISTILL.ROUNDS", "1",
             # 64 px inputs: P6 is 1 x 1, too small for the config's GroupNorm
             "MODEL.FPN.NORM", "", "MODEL.BIPYRAMID.NORM", "", "MODEL.DENSITY_HEAD.NORM", ""]
    out = tmp_path / "out"
    argv = ["--datasets", str(data), "--output-dir", str(out), "--max-iter", "2",
            "--round-iters", "1", "--saliency-steps", "2", "--receipts", "1", "--", *opts]
    demo = load_tool("demo")

    assert demo.main(argv) == 0
    for path in ("cutouts/cutouts/index.json", "synth/model_final.pth",
                 "synth/inference/synth_rpc_val/rpc_results.json",
                 "distill/round_0/pseudo_labels.json", "distill/round_0/round_summary.json",
                 "distill/distill_summary.md", "distill/model_final.pth",
                 "distill/inference/synth_rpc_val/rpc_results.json",
                 "receipts/receipts.json"):
        assert os.path.isfile(out / path), path
    printed = capsys.readouterr().out
    assert "after training on synthesized scenes" in printed
    assert "after distillation" in printed and "what distillation changed" in printed

    assert demo.main(argv) == 0
    printed = capsys.readouterr().out
    for stage in ("2/5 cut-outs: using", "3/5 trained on synthesized scenes: using",
                  "4/5 distilled: using", "5/5 receipts: using"):
        assert stage in printed
