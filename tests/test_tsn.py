"""TSN ResNet-50 (table A1's R2D): layout, parameter count, per-frame independence, torchvision
ImageNet weights, the extension points CT-Net and TAda2D use, errors."""

import pytest
import torch
import torch.nn as nn
import torchvision
from einops import rearrange
from torch.testing import assert_close

from stconv_lite.models import create
from stconv_lite.models.tsn import BatchNormReLU3d, Bottleneck, TSNResNet, load_imagenet_resnet50


def meta_model(name: str, **options):
    with torch.device("meta"):
        return create(name, **options)


def test_tsn_r50_parameters_equal_resnet50():
    model = meta_model("tsn50_2d", num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032  # torchvision resnet50
    assert sum(p.numel() for p in meta_model("tsn50_2d", num_classes=174).parameters()) == 23_864_558


def test_table_a1_layout_no_maxpool_stride_2_in_res2_time_kept():
    model = create("tsn50_2d_small", num_classes=5, in_channels=1, width=4)
    assert isinstance(model.maxpool, nn.Identity)
    sizes = {}
    for name, stage in zip(("res2", "res3", "res4", "res5"), model.stages):
        stage.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, tuple(o.shape[2:])))
    model(torch.rand(1, 1, 3, 64, 64))
    assert sizes == {"res2": (3, 16, 16), "res3": (3, 8, 8), "res4": (3, 4, 4), "res5": (3, 2, 2)}
    pooled = create("tsn50_2d_small", num_classes=5, in_channels=1, width=4, maxpool=True)
    assert pooled.features(torch.rand(1, 1, 3, 64, 64)).shape == (1, 128, 3, 2, 2)


def test_frames_are_processed_independently():
    model = create("tsn50_2d_small", num_classes=3, in_channels=1, width=4).eval()
    x = torch.rand(2, 1, 4, 32, 32)
    y = x.clone()
    y[:, :, 1] = torch.rand(2, 1, 32, 32)
    changed = (model.features(x) - model.features(y)).abs().amax(dim=(0, 1, 3, 4)) > 0
    assert changed.tolist() == [False, True, False, False]


def test_imagenet_weights_reproduce_torchvision_per_frame():
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(num_classes=7).eval()
    for module in reference.modules():  # non-trivial BN statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    model = create("tsn50_2d", num_classes=7, maxpool=True).eval()
    assert load_imagenet_resnet50(model, reference.state_dict()) == []
    clip = torch.rand(2, 3, 3, 32, 32)
    per_frame = rearrange(reference(rearrange(clip, "b c t h w -> (b t) c h w")), "(b t) k -> b t k", b=2)
    assert_close(model(clip), per_frame.mean(dim=1), atol=1e-4, rtol=1e-4)


def test_grey_stem_sums_the_rgb_kernels():
    reference = torchvision.models.resnet50().state_dict()
    model = create("tsn50_2d", num_classes=10, in_channels=1)
    untouched = load_imagenet_resnet50(model, reference)
    assert untouched == ["fc.bias", "fc.weight"]
    assert_close(model.conv1.weight[:, :, 0], reference["conv1.weight"].sum(dim=1, keepdim=True))


def test_extension_points_build_other_networks():
    seen = []

    class Doubling(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv = nn.Conv3d(cin, cout, (3, 3, 3), (1, stride, stride), 1, bias=False)

        def forward(self, x):
            return self.conv(x)

    def block(in_channels, mid_channels, stride, *, stage, index):
        seen.append((stage, index))
        return Bottleneck(in_channels, mid_channels, stride, spatial_conv=Doubling, spatial_norm=BatchNormReLU3d)

    model = TSNResNet(4, 1, layers=(1, 2, 1, 1), width=4, block=block)
    assert seen == [(1, 0), (2, 0), (2, 1), (3, 0), (4, 0)]
    assert isinstance(model.layer2[1].conv2, Doubling)
    x = torch.rand(2, 1, 4, 32, 32)
    y = x.clone()
    y[:, :, 0] += 1
    mixed = (model.features(x) - model.features(y)).abs().amax(dim=(0, 1, 3, 4)) > 0
    assert mixed.all()  # a temporal 3x3x3 conv plugged in makes frames interact


def test_small_model_trains_one_step():
    torch.manual_seed(0)
    model = create("tsn50_2d_small", num_classes=10, in_channels=1)
    logits = model(torch.rand(2, 1, 4, 28, 28))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bad_inputs_raise_clear_errors():
    model = create("tsn50_2d_small", num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match=r"expects \(B, C=1, T, H, W\); got \(2, 1, 28, 28\)"):
        model(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="layers must be 4"):
        TSNResNet(10, layers=(1, 1, 1))
    with pytest.raises(ValueError, match="width"):
        TSNResNet(10, width=0)
    with pytest.raises(ValueError, match="pretrained weights need"):
        create("tsn50_2d_small", num_classes=10, pretrained=True)
    with pytest.raises(ValueError, match="no counterpart"):
        load_imagenet_resnet50(model, {"layer9.0.conv1.weight": torch.zeros(1)})
