import math

import keras
import numpy as np
import pytest

from kclass import optim


def test_cosine_per_iteration_matches_paddle_formula():
    sched = optim.WarmupSchedule("cosine", 0.04, total_steps=4800)
    for k in (0, 1, 1200, 2400, 4799, 4800, 5000):
        want = 0.5 * 0.04 * (1 + math.cos(math.pi * min(k, 4800) / 4800))
        assert float(sched(k)) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_warmup_then_cosine_and_piecewise():
    sched = optim.WarmupSchedule("cosine", 0.1, total_steps=110, warmup_steps=10, start_lr=0.0)
    assert float(sched(5)) == pytest.approx(0.05)
    assert float(sched(10)) == pytest.approx(0.1)
    assert float(sched(60)) == pytest.approx(0.05, rel=1e-5)
    piece = optim.WarmupSchedule("piecewise", 0.1, 100, boundaries=[30, 60], values=[0.1, 0.01, 0.001])
    assert [round(float(piece(s)), 6) for s in (0, 29, 30, 59, 60, 99)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_schedule_length_comes_from_real_image_count():
    cfg = optim.OptimizerConfig(lr=0.04, schedule="cosine")
    sched = optim.build_schedule(cfg, global_batch=1024, steps_per_epoch=50000 // 1024, epochs=100)
    assert sched.total_steps == 4800
    scaled = optim.OptimizerConfig(lr=0.04, reference_batch=256)
    assert optim.effective_lr(scaled, 64) == pytest.approx(0.01)


def test_momentum_matches_paddle_update_with_coupled_l2():
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(2,)).astype(np.float32)
    w, b = keras.Variable(w0, name="w"), keras.Variable(b0, name="bias")
    lrs = [0.1, 0.05, 0.02]
    opt = optim.Momentum(optim.WarmupSchedule("piecewise", 0.1, 3, boundaries=[1, 2], values=lrs), momentum=0.9,
                         l2=1e-2, l2_exclude=lambda v: "bias" in v.name)
    ref_w, ref_b, vel_w, vel_b = w0.copy(), b0.copy(), np.zeros_like(w0), np.zeros_like(b0)
    for step in range(3):
        gw, gb = rng.normal(size=w0.shape).astype(np.float32), rng.normal(size=b0.shape).astype(np.float32)
        opt.apply_gradients([(gw, w), (gb, b)])
        vel_w = 0.9 * vel_w + gw + 1e-2 * ref_w   # Paddle: v = mu v + (g + l2 w); w -= lr v
        vel_b = 0.9 * vel_b + gb                   # excluded from L2
        ref_w, ref_b = ref_w - lrs[step] * vel_w, ref_b - lrs[step] * vel_b
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-5)
    np.testing.assert_allclose(b.numpy(), ref_b, rtol=1e-5)
