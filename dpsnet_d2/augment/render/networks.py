"""
The two CycleGAN networks: a ResNet generator and a 70x70 PatchGAN discriminator.

Shapes: N images, 3 colour channels, H x W pixels; images are in [-1, 1].

Generator (Johnson et al.'s image transformation network, as CycleGAN uses it): a 7x7 stem,
two stride-2 downsampling convolutions, ``num_blocks`` residual blocks at 1/4 resolution, two
stride-2 transposed convolutions and a 7x7 output convolution with tanh. Reflection padding on
every 3x3 and 7x7 convolution (no border artefacts), instance normalisation (per-image
statistics: style, not batch content). 6 blocks for images of at most 256 px, 9 above
(:func:`default_num_blocks`).

Discriminator: four 4x4 convolutions (64-128-256-512 channels, the first three with stride 2)
and a 1-channel 4x4 output; each output cell sees a 70x70 patch, so it judges local texture and
light, not the layout. No normalisation on the first layer, LeakyReLU 0.2.
"""
from torch import nn

__all__ = ["ResnetGenerator", "PatchDiscriminator", "default_num_blocks", "init_weights"]


def default_num_blocks(image_size: int) -> int:
    """Generator residual blocks for training crops of ``image_size`` px: 6 up to 256, else 9."""
    return 6 if image_size <= 256 else 9


def _conv_norm_relu(in_ch, out_ch, kernel, stride=1, reflect_pad=0, padding=0):
    layers = [nn.ReflectionPad2d(reflect_pad)] if reflect_pad else []
    layers += [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=True),
        nn.InstanceNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]
    return layers


class ResnetBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, IN, ReLU, reflect-pad, 3x3 conv, IN)(x); N x C x H x W."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_norm_relu(channels, channels, 3, reflect_pad=1),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """
    Image-to-image generator, fully convolutional.

    Args:
        num_blocks: residual blocks at 1/4 resolution (6 at <= 256 px, 9 above).
        base_channels: channels of the stem (64 published); 2x and 4x after each downsampling.
    """

    def __init__(self, *, num_blocks: int = 9, base_channels: int = 64):
        super().__init__()
        c = base_channels
        layers = _conv_norm_relu(3, c, 7, reflect_pad=3)
        layers += _conv_norm_relu(c, 2 * c, 3, stride=2, padding=1)
        layers += _conv_norm_relu(2 * c, 4 * c, 3, stride=2, padding=1)
        layers += [ResnetBlock(4 * c) for _ in range(num_blocks)]
        for ch in (4 * c, 2 * c):
            layers += [
                nn.ConvTranspose2d(
                    ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=True
                ),
                nn.InstanceNorm2d(ch // 2),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, 3, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.num_blocks = num_blocks
        self.base_channels = base_channels

    def forward(self, x):
        """
        Args:
            x: N x 3 x H x W in [-1, 1]; H and W multiples of 4.
        Returns:
            N x 3 x H x W in [-1, 1].
        """
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """
    70x70 PatchGAN: N x 3 x H x W -> N x 1 x (H/8 - 2) x (W/8 - 2) raw scores (LSGAN: no sigmoid).

    Args:
        base_channels: channels of the first layer (64 published), doubled up to 8x.
    """

    def __init__(self, *, base_channels: int = 64):
        super().__init__()
        c = base_channels
        layers = [nn.Conv2d(3, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        for in_ch, out_ch, stride in ((c, 2 * c, 2), (2 * c, 4 * c, 2), (4 * c, 8 * c, 1)):
            layers += [
                nn.Conv2d(in_ch, out_ch, 4, stride=stride, padding=1, bias=True),
                nn.InstanceNorm2d(out_ch),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(8 * c, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)
        self.base_channels = base_channels

    def forward(self, x):
        return self.net(x)


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's initialisation: conv weights ~ N(0, 0.02), biases 0 (the norms have no affine)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
