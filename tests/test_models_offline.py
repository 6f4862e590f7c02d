"""timm:NAME with pretrained weights, offline: fail within seconds (timm's download retried for ~50 s),
and use weights already in the cache without any network.

The network is made unreachable the way an offline proxy setting would: HTTPS_PROXY points at a port
nobody listens on, so every connection (cnnlab's probe and the Hugging Face download alike) is refused.
This holds on machines with internet too, so these tests never download anything.
"""

import time

import pytest
import torch

from cnnlab.errors import PretrainedError
from cnnlab.models import create_model
from cnnlab.models.hub import cached_weights, can_connect


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network (connections refused) and an empty Hugging Face cache."""
    from huggingface_hub import constants

    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "hf-cache"


def test_pretrained_timm_model_offline_fails_fast_and_says_what_to_use(offline):
    t0 = time.monotonic()
    with pytest.raises(PretrainedError) as e:
        create_model("timm:resnet18", num_classes=3, pretrained=True)
    elapsed = time.monotonic() - t0
    assert elapsed < 15, f"took {elapsed:.0f} s: a hang guard, timm's own retries took about 50 s"
    msg = str(e.value)
    assert "timm:resnet18" in msg and "offline" in msg and "efficientnet_lite0" in msg and "no internet" in msg


def test_hf_hub_offline_setting_is_respected_without_probing(offline, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PretrainedError, match=r"offline \(HF_HUB_OFFLINE is set\)"):
        create_model("timm:resnet18", num_classes=3, pretrained=True)


def test_cached_weights_load_offline_without_network(offline):
    """Weights in the Hugging Face cache are loaded from their file: offline works, nothing is retried."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = timm.create_model("test_efficientnet")  # tiny; its weights live at timm/test_efficientnet.r160_in1k
    for p in source.parameters():
        p.data.normal_()
    repo = offline / "models--timm--test_efficientnet.r160_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()},
              str(repo / "snapshots" / "0123abcd" / "model.safetensors"))
    assert cached_weights(timm.models.get_pretrained_cfg("test_efficientnet").to_dict()).endswith("model.safetensors")

    t0 = time.monotonic()
    model = create_model("timm:test_efficientnet", num_classes=1000, pretrained=True).eval()
    assert time.monotonic() - t0 < 15  # hang guard
    torch.testing.assert_close(model.backbone.conv_stem.weight, source.conv_stem.weight)
    torch.testing.assert_close(model.get_classifier().weight, source.get_classifier().weight)  # ImageNet head kept
    assert model.pretrained_cfg["input_size"] == [3, 160, 160]


def test_without_pretrained_weights_nothing_is_probed(offline, monkeypatch):
    import cnnlab.models.hub as hub

    monkeypatch.setattr(hub, "can_connect", lambda *a, **k: pytest.fail("probed the network"))
    assert create_model("timm:resnet18", num_classes=2)(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)).shape == (1, 2)


def test_can_connect_is_false_for_a_closed_port_and_honours_proxies(monkeypatch):
    assert not can_connect("http://127.0.0.1:9", timeout=1.0)
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        port = server.getsockname()[1]
        assert can_connect(f"http://127.0.0.1:{port}", timeout=1.0)
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")  # the probe goes to the proxy
        monkeypatch.setenv("no_proxy", "")
        assert can_connect("https://no-such-host.invalid", timeout=1.0)
    finally:
        server.close()
