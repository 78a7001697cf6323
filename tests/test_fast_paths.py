"""The speed machinery: fused conv + pool, sharded conv, thread helpers and reused buffers.

Each fast path is checked against the plain layers it replaces, value for value.
"""

import threading

import numpy as np
import pytest

from code_base import buffers, parallel
from code_base.conv import conv_backward_cn, conv_forward_cn, im2col
from code_base.conv_pool import conv_max_pool_backward_cn, conv_max_pool_forward_cn, pool_tiles
from code_base.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from code_base.layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward


def reference_conv_relu_pool(x, w, b, conv_param, pool_param, dout):
    """conv -> ReLU -> pool and its backward pass through the plain, one-thread layers."""
    a, conv_cache = conv_forward(x, w, b, conv_param, num_threads=1)
    out, pool_cache = max_pool_forward(np.maximum(a, 0), pool_param)
    da = max_pool_backward(dout, pool_cache) * (a > 0)
    return out, conv_backward(da, conv_cache, num_threads=1)


CASES = [  # x shape, filters, kernel, conv stride, total pad, (pool h, pool w, stride), path
    ((9, 3, 16, 16), 4, 3, 1, 2, (2, 2, 2), "fused"),  # the model's case
    ((3, 2, 13, 13), 5, 3, 2, 4, (2, 2, 2), "fused"),  # strided conv
    ((7, 3, 12, 12), 4, 5, 1, 4, (3, 3, 3), "fused"),  # 3x3 tiling pool
    ((5, 3, 13, 13), 4, 3, 1, 2, (3, 3, 2), "layers"),  # overlapping pool
    ((4, 2, 8, 11), 3, 3, 1, 2, (2, 3, 2), "layers"),  # rectangular pool, not tiling
]


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("case", CASES, ids=[f"pool{c[5]}-stride{c[3]}" for c in CASES])
def test_conv_relu_pool_equals_the_plain_layers(case, num_threads):
    x_shape, F, k, stride, pad, (ph, pw, ps), path = case
    rng = np.random.default_rng(sum(x_shape) + num_threads)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((F, x_shape[1], k, k))
    b = rng.standard_normal(F)
    conv_param = {"stride": stride, "pad": pad}
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": ps}
    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param, num_threads)
    dout = rng.standard_normal(out.shape)
    ref_out, (ref_dx, ref_dw, ref_db) = reference_conv_relu_pool(x, w, b, conv_param,
                                                                 pool_param, dout)
    dx, dw, db = conv_relu_pool_backward(dout, cache, num_threads=num_threads)
    assert cache[0][0] == path
    # Bias before or after the pool: equal up to rounding; the same windows are chosen.
    for got, want in ((out, ref_out), (dx, ref_dx), (dw, ref_dw), (db, ref_db)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fused_path_is_taken_for_the_models_pool_only():
    conv = (2, 4, 8, 8)  # (N, F, H_out, W_out)
    assert pool_tiles(conv, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert not pool_tiles(conv, {"pool_height": 2, "pool_width": 2, "stride": 1})
    assert not pool_tiles((2, 4, 9, 9), {"pool_height": 3, "pool_width": 3, "stride": 2})


def test_fused_pool_sends_ties_to_the_first_maximum_in_row_major_order():
    # One channel, a 2x2 input, a 1x1 filter of weight 1 and no padding: the conv output
    # is the input, so each window below has a tie whose first maximum we know.
    conv_param = {"stride": 1, "pad": 0}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    w = np.ones((1, 1, 1, 1))
    for window, first in [([[1, 3], [3, 3]], (0, 1)), ([[2, 0], [2, 1]], (0, 0)),
                          ([[0, 1], [5, 5]], (1, 0)), ([[7, 7], [7, 7]], (0, 0))]:
        x = np.array(window, dtype=float)[None, None]
        pooled, cache = conv_max_pool_forward_cn(x, w, conv_param, pool_param)
        assert pooled.item() == x.max()
        dx, _ = conv_max_pool_backward_cn(np.full((1, 1, 1, 1), 2.0), cache)
        expected = np.zeros((2, 2))
        expected[first] = 2.0
        np.testing.assert_array_equal(dx[0, 0], expected)
        _, pool_cache = max_pool_forward(x, pool_param)  # the plain layer agrees
        np.testing.assert_array_equal(max_pool_backward(np.full((1, 1, 1, 1), 2.0), pool_cache),
                                      dx)


def test_fused_backward_rejects_a_wrong_gradient_shape():
    x = np.zeros((2, 1, 4, 4))
    _, cache = conv_max_pool_forward_cn(x, np.ones((3, 1, 3, 3)), {"stride": 1, "pad": 2},
                                        {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"upstream gradient has shape \(3, 2, 3, 3\)"):
        conv_max_pool_backward_cn(np.zeros((3, 2, 3, 3)), cache)


@pytest.mark.parametrize("num_threads", [2, 3, 8])
@pytest.mark.parametrize("with_bias", [True, False])
def test_sharded_conv_equals_one_thread(num_threads, with_bias):
    rng = np.random.default_rng(num_threads)
    x = rng.standard_normal((5, 3, 9, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4) if with_bias else None
    conv_param = {"stride": 2, "pad": 2}
    out1, cache1 = conv_forward_cn(x, w, b, conv_param, num_threads=1)
    outk, cachek = conv_forward_cn(x, w, b, conv_param, num_threads=num_threads)
    np.testing.assert_allclose(outk, out1, rtol=1e-13, atol=1e-13)
    dout = rng.standard_normal(out1.shape)
    for got, want in zip(conv_backward_cn(dout, cachek, num_threads=num_threads),
                         conv_backward_cn(dout, cache1, num_threads=1)):
        if want is None:
            assert got is None and not with_bias
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bias_row_gives_the_same_outputs_and_db_as_an_explicit_sum():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    b = np.array([0.5, -1.0, 2.0])
    conv_param = {"stride": 1, "pad": 2}
    with_b, cache = conv_forward_cn(x, w, b, conv_param)
    without_b, _ = conv_forward_cn(x, w, None, conv_param)
    np.testing.assert_allclose(with_b, without_b + b[:, None, None, None], rtol=1e-13)
    dout = rng.standard_normal(with_b.shape)
    _, _, db = conv_backward_cn(dout, cache)
    np.testing.assert_allclose(db, dout.sum(axis=(1, 2, 3)), rtol=1e-12)


def test_conv_backward_names_the_expected_dout_shape():
    x = np.zeros((2, 1, 4, 4))
    _, cache = conv_forward(x, np.zeros((3, 1, 3, 3)), np.zeros(3), {"stride": 1, "pad": 2})
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4, 3\), expected \(2, 3, 4, 4\)"):
        conv_backward(np.zeros((2, 3, 4, 3)), cache)


def test_im2col_fills_a_block_of_columns_in_place():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 4))
    whole = np.full((2 * 3 * 3 + 1, 3 * 2 * 16), -1.0)
    im2col(x, 3, 3, 1, 2, out=whole[:18, 16:48])
    np.testing.assert_array_equal(whole[:18, 16:48], im2col(x, 3, 3, 1, 2))
    assert (whole[:, :16] == -1).all() and (whole[18] == -1).all()  # nothing else touched
    with pytest.raises(ValueError, match=r"out must be an array of shape \(18, 32\)"):
        im2col(x, 3, 3, 1, 2, out=np.zeros((18, 31)))
    with pytest.raises(ValueError, match="contiguous rows"):
        im2col(x, 3, 3, 1, 2, out=np.zeros((18, 64))[:, ::2])


# ----------------------------------------------------------------------------- parallel


@pytest.mark.parametrize("n, parts, sizes", [(10, 3, [3, 3, 4]), (2, 5, [1, 1]), (0, 2, [0]),
                                             (7, 1, [7])])
def test_split_covers_the_range_in_near_equal_pieces(n, parts, sizes):
    pieces = parallel.split(n, parts)
    assert [s.stop - s.start for s in pieces] == sizes
    assert pieces[0].start == 0 and pieces[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))


def test_parallel_map_keeps_order_and_runs_nested_calls_inline():
    def job(k):
        inner = parallel.parallel_map(lambda j: (k, j), range(3), 2)  # nested: no deadlock
        return k * 10, inner

    results = parallel.parallel_map(job, range(5), 2)
    assert [r[0] for r in results] == [0, 10, 20, 30, 40]
    assert results[2][1] == [(2, 0), (2, 1), (2, 2)]
    assert parallel.parallel_map(lambda k: k + 1, [5], 4) == [6]


def test_parallel_map_runs_jobs_at_the_same_time():
    # Both jobs must reach the barrier before either may pass: run one after the other,
    # the first would wait for the timeout and the barrier would break.
    barrier = threading.Barrier(2, timeout=10)
    names = parallel.parallel_map(lambda _: (barrier.wait(), threading.current_thread().name)[1],
                                  range(2), 2)
    assert names[0] == threading.current_thread().name  # the caller takes the first job
    assert names[1].startswith("code_base")


def test_parallel_map_waits_for_every_job_before_raising():
    finished = []

    def job(k):
        if k == 0:
            raise RuntimeError("job 0 failed")
        threading.Event().wait(0.05)
        finished.append(k)

    with pytest.raises(RuntimeError, match="job 0 failed"):
        parallel.parallel_map(job, range(2), 2)
    assert finished == [1]


def test_map_shards_limits_blas_to_one_thread_while_workers_run():
    from threadpoolctl import threadpool_info

    seen = parallel.map_shards(lambda s: [d["num_threads"] for d in threadpool_info()
                                          if d["user_api"] == "blas"], 4, 2)
    assert len(seen) == 2 and all(n == 1 for shard in seen for n in shard)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "2"])
def test_resolve_threads_rejects_bad_values(value):
    with pytest.raises(ValueError, match="where: num_threads must be"):
        parallel.resolve_threads("where", value)
    assert parallel.resolve_threads("where", None) == parallel.default_threads() >= 1


# ----------------------------------------------------------------------------- buffers


def test_buffers_are_reused_only_when_nothing_references_them():
    buffers.release()
    shape = (512, 1024)  # 2 MiB of float32: above MIN_BYTES
    a = buffers.empty(shape, np.float32)
    address = a.__array_interface__["data"][0]
    view = a[3:5]
    del a
    b = buffers.empty(shape, np.float32)  # the view keeps the first buffer alive
    assert b.__array_interface__["data"][0] != address
    del view
    c = buffers.empty((1024, 512), np.float32)  # same size, other shape: reused
    assert c.__array_interface__["data"][0] == address
    assert c.shape == (1024, 512) and c.dtype == np.float32 and c.flags.c_contiguous
    d = buffers.empty((1024, 256), np.float64)  # same byte count, other dtype
    assert d.__array_interface__["data"][0] not in (address, b.__array_interface__["data"][0])
    assert buffers.kept_bytes() == 3 * 2**21
    buffers.release()
    assert buffers.kept_bytes() == 0


def test_small_arrays_are_plain_numpy_arrays():
    small = buffers.empty((10, 10), np.float32)
    assert small.flags.owndata and small.nbytes < buffers.MIN_BYTES
