"""The NumPy reference ops equal their loop versions and torch.nn.functional, forward and backward."""

import ast
import doctest
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.learn import ref

trace_module = importlib.import_module("cnnlab.learn.ref.trace")

RNG = np.random.default_rng(0)
CONV_CASES = [  # (N, C, H, W, K, kh, kw, stride, padding)
    (1, 1, 3, 3, 1, 2, 2, 1, 0), (2, 1, 7, 7, 3, 3, 3, 1, 1), (2, 3, 8, 6, 4, 3, 3, 2, 0), (1, 3, 9, 9, 2, 5, 5, 2, 2),
    (3, 2, 5, 7, 2, 1, 1, 1, 0), (1, 4, 6, 6, 5, 3, 2, 3, 1), (2, 3, 10, 10, 2, 4, 4, 2, 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_loops_vectorized_torch_forward_and_backward(case):
    n, c, h, w, k, kh, kw, s, p = case
    x = RNG.standard_normal((n, c, h, w))
    wt = RNG.standard_normal((k, c, kh, kw))
    b = RNG.standard_normal(k)
    fast = ref.conv2d(x, wt, b, s, p)
    np.testing.assert_allclose(ref.conv2d_loops(x, wt, b, s, p), fast, rtol=1e-10, atol=1e-10)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, wt, b))
    ty = F.conv2d(tx, tw, tb, stride=s, padding=p)
    np.testing.assert_allclose(fast, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    dout = RNG.standard_normal(fast.shape)
    ty.backward(torch.tensor(dout))
    dx, dw, db = ref.conv2d_backward(dout, x, wt, s, p)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_multichannel_conv_is_the_sum_of_per_channel_convs():
    x = RNG.standard_normal((1, 3, 6, 6))
    wt = RNG.standard_normal((1, 3, 3, 3))
    per_channel = [ref.conv2d(x[:, c:c + 1], wt[:, c:c + 1]) for c in range(3)]
    np.testing.assert_allclose(sum(per_channel), ref.conv2d(x, wt), atol=1e-12)


@pytest.mark.parametrize("shape,size,stride", [((1, 1, 4, 4), 2, 2), ((2, 3, 7, 7), 2, 2), ((2, 2, 9, 8), 3, 2),
                                               ((1, 3, 6, 6), 3, 3), ((3, 1, 5, 5), 2, 1)])
def test_max_pool_loops_vectorized_torch(shape, size, stride):
    x = RNG.standard_normal(shape)
    out, where = ref.max_pool2d(x, size, stride)
    out_l, where_l = ref.max_pool2d_loops(x, size, stride)
    np.testing.assert_array_equal(out, out_l)
    np.testing.assert_array_equal(where, where_l)
    tx = torch.tensor(x, requires_grad=True)
    ty, idx = F.max_pool2d(tx, size, stride, return_indices=True)
    np.testing.assert_allclose(out, ty.detach().numpy())
    np.testing.assert_array_equal(where[..., 0] * shape[3] + where[..., 1], idx.numpy())
    dout = RNG.standard_normal(out.shape)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(ref.max_pool2d_backward(dout, x.shape, where), tx.grad.numpy(), atol=1e-12)


def test_dense_relu_flatten_softmax_cross_entropy_against_torch():
    x = RNG.standard_normal((4, 2, 3, 3))
    w = RNG.standard_normal((18, 5))
    b = RNG.standard_normal(5)
    labels = np.array([0, 4, 2, 2])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    h = ref.dense(ref.flatten(x), w, b)
    z = ref.relu(h)
    loss, dz = ref.softmax_cross_entropy(z, labels)
    tz = F.relu(tx.flatten(1) @ tw + tb)
    tloss = F.cross_entropy(tz, torch.tensor(labels))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-10)
    dh = ref.relu_backward(dz, h)
    dflat, dw, db = ref.dense_backward(dh, ref.flatten(x), w)
    np.testing.assert_allclose(dw, tw.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(db, tb.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dflat.reshape(x.shape), tx.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_against_torch(shape, training):
    c = shape[1]
    x = RNG.standard_normal(shape) * 3 + 2
    gamma, beta = RNG.standard_normal(c), RNG.standard_normal(c)
    rm, rv = RNG.standard_normal(c), RNG.random(c) + 0.5
    out, cache, rm2, rv2 = ref.batch_norm(x, gamma, beta, rm.copy(), rv.copy(), training)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = F.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(out, ty.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(rm2, trm.numpy(), atol=1e-12)  # running statistics updated (or not) alike
    np.testing.assert_allclose(rv2, trv.numpy(), atol=1e-12)
    dout = RNG.standard_normal(shape)
    ty.backward(torch.tensor(dout))
    dx, dg, db = ref.batch_norm_backward(dout, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(dg, tg.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(db, tb.grad.numpy(), atol=1e-9)


def test_batch_norm_training_output_has_zero_mean_unit_variance():
    x = RNG.standard_normal((64, 3)) * 5 + 7
    out, *_ = ref.batch_norm(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(0), 1, atol=1e-3)


def test_dropout_train_and_eval():
    x = np.ones((200, 50))
    out, mask = ref.dropout(x, 0.3, True, np.random.default_rng(1))
    assert abs(1 - mask.mean() - 0.3) < 0.02  # about 30% dropped
    assert set(np.unique(out)) == {0.0, 1 / 0.7}  # survivors scaled up
    assert abs(out.mean() - 1) < 0.03  # expectation unchanged
    ev, m = ref.dropout(x, 0.3, False)
    assert ev is x and m.all()
    d = ref.dropout_backward(np.ones_like(x), mask, 0.3)
    np.testing.assert_array_equal(d, out)


def test_normalize():
    x = RNG.standard_normal(1000) * 4 + 10
    out, mean, std = ref.normalize(x)
    assert abs(out.mean()) < 1e-12 and abs(out.var() - 1) < 1e-12


def numerical_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def test_numerical_gradient_checks():
    x = RNG.standard_normal((2, 2, 5, 5))
    w = RNG.standard_normal((3, 2, 3, 3))
    dout = RNG.standard_normal((2, 3, 3, 3))
    f = lambda: (ref.conv2d(x, w, None, 2, 1) * dout).sum()  # noqa: E731
    dx, dw, _ = ref.conv2d_backward(dout, x, w, 2, 1)
    np.testing.assert_allclose(dx, numerical_grad(f, x), atol=1e-6)
    np.testing.assert_allclose(dw, numerical_grad(f, w), atol=1e-6)
    z = RNG.standard_normal((3, 4))
    labels = np.array([1, 0, 3])
    _, dz = ref.softmax_cross_entropy(z, labels)
    np.testing.assert_allclose(dz, numerical_grad(lambda: ref.softmax_cross_entropy(z, labels)[0], z), atol=1e-7)
    xb = RNG.standard_normal((6, 3))
    g, b = RNG.standard_normal(3), RNG.standard_normal(3)
    do = RNG.standard_normal((6, 3))
    fb = lambda: (ref.batch_norm(xb, g, b, np.zeros(3), np.ones(3), True)[0] * do).sum()  # noqa: E731
    dxb, _, _ = ref.batch_norm_backward(do, ref.batch_norm(xb, g, b, np.zeros(3), np.ones(3), True)[1])
    np.testing.assert_allclose(dxb, numerical_grad(fb, xb), atol=1e-6)


def test_traces_of_the_lecture_image():
    img = np.array(ref.LECTURE_IMAGE)
    steps = ref.trace(img, [[0, 1], [1, 0]])
    assert len(steps) == 4 and [s.value for s in steps] == [510, 255, 255, 510]
    assert steps[3].rows == (1, 2) and steps[3].window.tolist() == [[0, 255], [255, 255]]
    conv = ref.conv2d(img[None, None].astype(float), np.array([[[[0, 1], [1, 0]]]], float))
    assert [s.value for s in steps] == conv.ravel().tolist()
    pool = ref.trace(img, pool=2)
    assert len(pool) == 1 and pool[0].value == 255 and pool[0].where == (0, 0)
    assert "sum of products = 510" in ref.trace_text(steps)
    failures, _ = doctest.testmod(trace_module)
    assert failures == 0


def code_lines(source: str) -> int:
    """Lines of code: not blank, not a comment, not part of a docstring (documentation helps reading)."""
    doc = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            doc.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i, line in enumerate(source.splitlines(), 1)
               if i not in doc and line.strip() and not line.strip().startswith("#"))


def test_ref_stays_readable_in_one_sitting():
    lines = sum(code_lines(p.read_text()) for p in Path(ref.__file__).parent.glob("*.py"))
    assert lines < 400, f"ref/ has {lines} lines of code; keep the teaching code under 400"


def test_every_ref_example_runs():
    for name in ("conv", "layers", "trace"):
        module = importlib.import_module(f"cnnlab.learn.ref.{name}")
        failures, tried = doctest.testmod(module)
        assert failures == 0 and tried > 5, name
