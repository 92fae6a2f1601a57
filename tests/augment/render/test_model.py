"""The render CycleGAN: networks, losses, pool, schedule and checkpoint loading."""
import pytest
import torch

from dpsnet_d2.augment.render import (
    CycleGAN,
    CycleGANConfig,
    PatchDiscriminator,
    RenderCheckpointError,
    RenderCheckpointer,
    ResnetGenerator,
    load_model,
    load_renderer,
)
from dpsnet_d2.augment.render.image_pool import ImagePool
from dpsnet_d2.augment.render.losses import discriminator_loss, generator_losses, lsgan_loss
from dpsnet_d2.augment.render.model import lr_factor


def tiny_cfg(**kw):
    return CycleGANConfig(
        **{
            "image_size": 64,
            "load_size": 64,
            "gen_channels": 4,
            "num_blocks": 1,
            "disc_channels": 4,
            "max_iter": 10,
            **kw,
        }
    )


def test_default_blocks_follow_image_size():
    assert CycleGANConfig(image_size=256).num_blocks == 6
    assert CycleGANConfig(image_size=260, load_size=300).num_blocks == 9
    gen = ResnetGenerator(num_blocks=6, base_channels=4)
    assert sum(type(m).__name__ == "ResnetBlock" for m in gen.modules()) == 6


def test_shapes_and_reflection_padding():
    gen = ResnetGenerator(num_blocks=2, base_channels=4)
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    y = gen(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in gen.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in gen.modules())
    disc = PatchDiscriminator(base_channels=4)
    # 70x70 PatchGAN: 3 stride-2 and 2 stride-1 4x4 convolutions -> H/8 - 2 cells
    assert disc(x).shape == (2, 1, 64 // 8 - 2, 48 // 8 - 2)


def test_losses():
    ones, zeros = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    assert lsgan_loss(ones, True) == 0 and lsgan_loss(zeros, False) == 0
    assert lsgan_loss(zeros, True) == 1
    assert discriminator_loss(ones, zeros) == 0 and discriminator_loss(zeros, ones) == 1
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    terms = dict(
        real_a=a,
        real_b=b,
        fake_b=b,
        fake_a=a,
        rec_a=b,
        rec_b=b,
        idt_a=a,
        idt_b=a,
        score_fake_b=ones,
        score_fake_a=ones,
    )
    out = generator_losses(**terms, lambda_cycle=10.0, lambda_identity=0.5)
    assert out["loss_cycle_a"] == 10 and out["loss_cycle_b"] == 0  # lambda * |rec - real|_1
    assert out["loss_idt_a"] == 0 and out["loss_idt_b"] == 5  # 0.5 * lambda * |G(b) - b|_1
    no_idt = generator_losses(**{**terms, "idt_a": None, "idt_b": None}, lambda_identity=0.0)
    assert set(no_idt) == set(out) and no_idt["loss_idt_b"] == 0


def test_image_pool_keeps_at_most_size():
    pool = ImagePool(3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # not full yet: returns and stores the inputs
    seen = set()
    for k in range(40):
        seen |= set(pool.query(torch.full((1, 1, 1, 1), 10.0 + k)).flatten().tolist())
        assert len(pool.images) == 3
    assert seen & {0.0, 1.0, 2.0} and seen & {10.0 + k for k in range(40)}
    assert torch.equal(ImagePool(0).query(first), first)


def test_learning_rate_constant_then_linear_to_zero():
    cfg = tiny_cfg(max_iter=10, decay_start=6)
    factors = [lr_factor(cfg, i) for i in range(11)]
    assert factors[:7] == [1.0] * 7 and factors[10] == 0.0
    assert factors[8] == pytest.approx(0.5)


def test_image_pool_state_round_trip_moves_to_the_query_device():
    pool = ImagePool(2, seed=0)
    pool.query(torch.zeros(2, 1, 1, 1))
    restored = ImagePool(2, seed=5)
    restored.load_state_dict(pool.state_dict())
    new = torch.arange(1.0, 7.0).view(6, 1, 1, 1)
    assert torch.equal(restored.query(new), pool.query(new))  # same images, same draws
    on_meta = ImagePool(2)
    on_meta.load_state_dict(pool.state_dict())  # CPU images, queried on another device
    assert on_meta.query(new.to("meta")).device.type == "meta"


def test_generator_losses_leave_discriminators_trainable():
    model = CycleGAN(tiny_cfg())
    real = torch.rand(1, 3, 64, 64) * 2 - 1
    losses, fake_a, fake_b = model.generator_losses(real, real)
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.d_a.parameters())  # no gradient into D from G's loss
    assert all(p.requires_grad for p in model.parameters())
    assert fake_a.shape == fake_b.shape == real.shape
    d = model.discriminator_losses(real, real, fake_a.detach(), fake_b.detach())
    assert set(d) == {"loss_d_a", "loss_d_b"} and all(v > 0 for v in d.values())


def _old_format_checkpoint(path, model):
    """A file as the hand-written trainer before Detectron2's checkpointer wrote it."""
    state = {"format": "dpsnet_d2.render.cyclegan/1", "config": model.cfg.as_dict(),
             "model": model.state_dict(), "solver": None}
    torch.save(state, path)


def test_checkpointer_round_trip_and_old_format(tmp_path):
    model = CycleGAN(tiny_cfg(seed=1))
    checkpointer = RenderCheckpointer(model, str(tmp_path))
    checkpointer.save("model_final")
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # temp, then rename
    probe = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = model.eval().translate(probe)
        gen, cfg = load_renderer(str(tmp_path / "model_final.pth"))
        assert torch.equal(gen(probe), expected) and cfg == model.cfg
        _old_format_checkpoint(tmp_path / "old.pth", model)
        assert torch.equal(load_renderer(str(tmp_path / "old.pth"))[0](probe), expected)
    fresh = RenderCheckpointer(CycleGAN(tiny_cfg()), str(tmp_path))
    fresh.resume_or_load("", resume=True)
    assert torch.equal(fresh.model.eval().translate(probe), expected)
    with pytest.raises(RenderCheckpointError, match="older train-render.*cannot be resumed"):
        fresh.load(str(tmp_path / "old.pth"))


def test_bad_checkpoints(tmp_path):
    model = CycleGAN(tiny_cfg())
    RenderCheckpointer(model, str(tmp_path)).save("ckpt")
    path = str(tmp_path / "ckpt.pth")
    other = RenderCheckpointer(CycleGAN(tiny_cfg(gen_channels=16)), str(tmp_path))
    with pytest.raises(RenderCheckpointError, match="gen_channels 4 \\(requested 16\\)"):
        other.resume_or_load("", resume=True)
    foreign = str(tmp_path / "foreign.pth")
    torch.save({"model": model.state_dict()}, foreign)
    with pytest.raises(RenderCheckpointError, match="not a CycleGAN render checkpoint"):
        load_renderer(foreign)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(RenderCheckpointError, match="not a readable torch checkpoint") as info:
        load_renderer(str(garbage))
    assert "\n" not in str(info.value)
    json_file = tmp_path / "set.json"
    json_file.write_text('{"images": []}')
    with pytest.raises(RenderCheckpointError, match="not a readable torch checkpoint") as info:
        load_renderer(str(json_file))  # the weights-only unpickler's message is many lines
    assert "\n" not in str(info.value)
    with pytest.raises(RenderCheckpointError, match="no such checkpoint"):
        load_model(str(tmp_path / "missing.pth"))
    state = torch.load(path, weights_only=True)
    state["model"].pop("g_ab.net.1.weight")
    torch.save(state, foreign)
    with pytest.raises(RenderCheckpointError, match="weights do not fit"):
        load_renderer(foreign)
