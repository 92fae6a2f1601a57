"""The traced DPSNet gives the Python model's boxes, scores, classes and density."""
import torch

from detectron2.modeling import build_model

from dpsnet_d2.export import export_dpsnet, exported_outputs


def test_exported_outputs_equal_python_outputs(tiny_dpsnet_cfg):
    cfg = tiny_dpsnet_cfg("MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    sample = torch.rand(3, 64, 80, generator=torch.Generator().manual_seed(1)) * 255
    traced = export_dpsnet(model, sample)
    # the traced size, then another one (Detectron2's traceable paths keep sizes dynamic)
    for size in ((64, 80), (96, 64)):
        check_size(model, traced, size)


def check_size(model, traced, size, **tol):
    image = torch.rand(3, *size, generator=torch.Generator().manual_seed(size[0])) * 255
    photo = (size[0] * 2, size[1] * 2)  # the photo the input was resized from
    with torch.no_grad():
        python = model([{"image": image, "height": photo[0], "width": photo[1]}])[0]
        exported = exported_outputs(traced(image), input_size=size, output_size=photo,
                                    stride=model.density_head.stride)
    theirs, ours = exported["instances"], python["instances"]
    assert len(ours) > 0 and len(theirs) == len(ours)
    torch.testing.assert_close(theirs.pred_boxes.tensor, ours.pred_boxes.tensor, **tol)
    torch.testing.assert_close(theirs.scores, ours.scores, **tol)
    assert torch.equal(theirs.pred_classes, ours.pred_classes)
    assert exported["density"].shape == python["density"].shape
    torch.testing.assert_close(exported["density"], python["density"], **tol)
    torch.testing.assert_close(exported["counts"], python["counts"], **tol)


def test_channels_last_export_survives_save_and_load(tiny_dpsnet_cfg):
    """export_model.py's default: weights in channels-last, saved and loaded back, the same
    outputs as the Python model in the usual layout."""
    import io

    from dpsnet_d2.engine.cpu_autocast import till_layout

    cfg = tiny_dpsnet_cfg("MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    fast = build_model(cfg).eval()
    fast.load_state_dict(model.state_dict())
    till_layout(fast, "channels_last")
    assert fast.backbone.fpn.bottom_up.stem.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    buffer = io.BytesIO()
    torch.jit.save(export_dpsnet(fast, torch.rand(3, 64, 80) * 255), buffer)
    buffer.seek(0)
    # another summation order: equal to float32 rounding (boxes within 1e-3 px)
    check_size(model, torch.jit.load(buffer), (64, 80), atol=1e-3, rtol=1e-4)
