"""Update rules in code_base.optim: values, state, dtypes, in-place semantics, config checks."""
import numpy as np
import pytest

from code_base import fast

from code_base import optim
from code_base.optim import adam, rmsprop, sgd, sgd_momentum

N, D = 4, 5


def cs231n_arrays():
    """The inputs of the CS231n optimiser checks (float64)."""
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    a = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    b = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    return w, dw, a, b


def test_sgd_matches_formula():
    w, dw, _, _ = cs231n_arrays()
    next_w, config = sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, w - 0.1 * dw, rtol=0, atol=1e-15)
    assert config["learning_rate"] == 0.1


def test_sgd_momentum_cs231n_reference():
    w, dw, v, _ = cs231n_arrays()
    next_w, config = sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": v})
    expected_v = 0.9 * v - 1e-3 * dw
    np.testing.assert_allclose(config["velocity"], expected_v, rtol=1e-12)
    np.testing.assert_allclose(next_w, w + expected_v, rtol=1e-12)
    np.testing.assert_allclose(next_w[0], [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                               atol=1e-8)
    assert next_w[-1, -1] == pytest.approx(1.4096)


def test_rmsprop_cs231n_reference():
    w, dw, cache, _ = cs231n_arrays()
    next_w, config = rmsprop(w, dw, {"learning_rate": 1e-2, "cache": cache})
    expected_cache = 0.99 * cache + 0.01 * dw ** 2
    np.testing.assert_allclose(config["cache"], expected_cache, rtol=1e-12)
    np.testing.assert_allclose(next_w, w - 1e-2 * dw / (np.sqrt(expected_cache) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(next_w[0], [-0.39223849, -0.34037513, -0.28849239, -0.23659121,
                                           -0.18467247], atol=1e-8)


def test_adam_cs231n_reference():
    w, dw, m, v = cs231n_arrays()
    next_w, config = adam(w, dw, {"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    t = 6
    expected_m = 0.9 * m + 0.1 * dw
    expected_v = 0.999 * v + 0.001 * dw ** 2
    m_hat, v_hat = expected_m / (1 - 0.9 ** t), expected_v / (1 - 0.999 ** t)
    assert config["t"] == t
    np.testing.assert_allclose(config["m"], expected_m, rtol=1e-12)
    np.testing.assert_allclose(config["v"], expected_v, rtol=1e-12)
    np.testing.assert_allclose(next_w, w - 1e-2 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    # Published CS231n values: the first four agree to 1e-8; the fifth as published differs from
    # the formula by 6e-7, still far below the 4e-5 that a wrong t (5 instead of 6) would cause.
    np.testing.assert_allclose(next_w[0], [-0.40094747, -0.34836187, -0.29577703, -0.24319299,
                                           -0.19061034], atol=1e-6)


def test_adam_first_step_is_minus_lr_times_sign():
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    next_w, config = adam(w, dw, {"learning_rate": 1e-3})
    np.testing.assert_allclose(next_w - w, -1e-3 * np.sign(dw), rtol=1e-6)
    assert config["t"] == 1


def test_adam_defaults_and_state_evolution():
    w, dw = np.ones(3), np.array([1.0, -2.0, 0.5])
    config = None
    for step in range(1, 4):
        w, config = adam(w, dw, config)
        assert config["t"] == step
    assert config["learning_rate"] == 1e-3 and config["beta1"] == 0.9
    assert config["beta2"] == 0.999 and config["epsilon"] == 1e-8
    np.testing.assert_allclose(config["m"], (1 - 0.9 ** 3) * dw, rtol=1e-12)
    np.testing.assert_allclose(config["v"], (1 - 0.999 ** 3) * dw ** 2, rtol=1e-12)
    # With a constant gradient every bias-corrected step is lr * sign(dw).
    np.testing.assert_allclose(w, 1 - 3e-3 * np.sign(dw), rtol=1e-7)


@pytest.mark.parametrize("rule, defaults", [
    (sgd, {"learning_rate": 1e-2}),
    (sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
    (rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
    (adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}),
])
def test_defaults(rule, defaults):
    _, config = rule(np.zeros(2), np.ones(2))
    assert {k: config[k] for k in defaults} == defaults
    assert config["inplace"] is False


def test_momentum_velocity_accumulates():
    w, dw = np.zeros(2), np.array([1.0, -1.0])
    _, config = sgd_momentum(w, dw, {"learning_rate": 0.1, "momentum": 0.5})
    np.testing.assert_allclose(config["velocity"], [-0.1, 0.1])
    w2, config = sgd_momentum(w, dw, config)
    np.testing.assert_allclose(config["velocity"], [-0.15, 0.15])
    np.testing.assert_allclose(w2, [-0.15, 0.15])


RULES = [sgd, sgd_momentum, rmsprop, adam]


@pytest.mark.parametrize("rule", RULES)
def test_float32_stays_float32(rule):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    dw = rng.standard_normal((4, 3)).astype(np.float32)
    config = {"learning_rate": np.float64(1e-2)}  # a NumPy float64 must not upcast either
    for _ in range(2):
        w, config = rule(w, dw, config)
        assert w.dtype == np.float32
        for key in rule.state_arrays:
            assert config[key].dtype == np.float32, key


@pytest.mark.parametrize("rule", RULES)
def test_not_in_place_by_default(rule):
    w, dw = np.linspace(0, 1, 6), np.linspace(-1, 1, 6)
    w_before = w.copy()
    state = {key: np.full(6, 0.5) for key in rule.state_arrays}
    config = {"learning_rate": 0.1, **state}
    next_w, new_config = rule(w, dw, config)
    np.testing.assert_array_equal(w, w_before)
    assert not np.shares_memory(next_w, w)
    assert not np.allclose(next_w, w)
    for key in rule.state_arrays:
        np.testing.assert_array_equal(config[key], np.full(6, 0.5))  # caller's state untouched
    assert new_config is not config and "inplace" not in config


@pytest.mark.parametrize("rule", RULES)
def test_inplace_flag_matches_out_of_place(rule, kernel_path):
    rng = np.random.default_rng(2)
    w, dw = rng.standard_normal(5), rng.standard_normal(5)
    expected_w, expected_config = rule(w, dw, {"learning_rate": 0.1})
    expected_w, expected_config = rule(expected_w, dw, expected_config)
    w_inplace = w.copy()
    next_w, config = rule(w_inplace, dw, {"learning_rate": 0.1, "inplace": True})
    state_arrays = {key: config[key] for key in rule.state_arrays}
    next_w, config = rule(next_w, dw, config)
    assert next_w is w_inplace
    np.testing.assert_allclose(w_inplace, expected_w, rtol=1e-12)
    for key, arr in state_arrays.items():
        assert config[key] is arr  # state updated in its own buffer
        np.testing.assert_allclose(arr, expected_config[key], rtol=1e-12)


@pytest.mark.parametrize("rule, bad_key", [
    (sgd, "learning_Rate"), (sgd, "momentum"), (sgd_momentum, "velocity_"),
    (rmsprop, "decay"), (adam, "beta_1"), (adam, "eps"),
])
def test_unknown_key_is_named(rule, bad_key):
    with pytest.raises(ValueError, match=bad_key):
        rule(np.zeros(2), np.ones(2), {bad_key: 0.5})


@pytest.mark.parametrize("rule, key, value", [
    (sgd, "learning_rate", 0.0), (sgd, "learning_rate", -1e-3),
    (sgd, "learning_rate", float("nan")),
    (sgd, "learning_rate", "0.1"), (sgd, "learning_rate", True),
    (sgd_momentum, "momentum", 1.0), (sgd_momentum, "momentum", -0.1),
    (rmsprop, "decay_rate", 1.5), (rmsprop, "epsilon", 0.0),
    (adam, "beta1", 1.0), (adam, "beta2", -0.5), (adam, "t", -1), (adam, "t", 1.5),
    (adam, "inplace", "yes"),
])
def test_bad_values_are_rejected(rule, key, value):
    with pytest.raises(ValueError, match=key):
        rule(np.zeros(2), np.ones(2), {key: value})


def test_shape_and_type_errors():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        sgd(np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="velocity"):
        sgd_momentum(np.zeros(2), np.ones(2), {"velocity": np.zeros(3)})
    with pytest.raises(TypeError, match="int64"):
        sgd(np.zeros(2, dtype=np.int64), np.ones(2))
    with pytest.raises(TypeError, match="list"):
        sgd([0.0, 1.0], np.ones(2))


def test_registry_and_validate_config():
    assert optim.UPDATE_RULES == {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop,
                                  "adam": adam}
    config = {"learning_rate": 5e-3}
    filled = optim.validate_config(adam, config)
    assert filled == {"learning_rate": 5e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                      "inplace": False, "t": 0}
    assert config == {"learning_rate": 5e-3}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_blocked_inplace_adam_matches_formula_over_many_steps(dtype, rtol):
    # More elements than one block, and an odd remainder, over several steps.
    rng = np.random.default_rng(0)
    shape = (3, 40_001)
    w = rng.standard_normal(shape).astype(dtype)
    w_ref = w.astype(np.float64)
    m_ref = np.zeros(shape)
    v_ref = np.zeros(shape)
    config = {"learning_rate": 1e-2, "inplace": True}
    for t in range(1, 4):
        dw = rng.standard_normal(shape).astype(dtype)
        w, config = adam(w, dw, config)
        m_ref = 0.9 * m_ref + 0.1 * dw
        v_ref = 0.999 * v_ref + 0.001 * dw.astype(np.float64) ** 2
        w_ref = w_ref - 1e-2 * (m_ref / (1 - 0.9 ** t)) / (np.sqrt(v_ref / (1 - 0.999 ** t)) + 1e-8)
    assert w.dtype == dtype and config["t"] == 3
    np.testing.assert_allclose(w, w_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(config["m"], m_ref, rtol=rtol, atol=rtol)


def test_inplace_adam_updates_non_contiguous_arrays():
    base = np.arange(24.0).reshape(4, 6)
    w = base[:, ::2]  # a strided view: updated whole, in place
    expected, _ = adam(w.copy(), np.ones_like(w), {"learning_rate": 0.5})
    next_w, _ = adam(w, np.ones_like(w), {"learning_rate": 0.5, "inplace": True})
    assert next_w is w
    np.testing.assert_allclose(base[:, ::2], expected, rtol=1e-12)
    np.testing.assert_array_equal(base[:, 1::2], np.arange(24.0).reshape(4, 6)[:, 1::2])


@pytest.mark.parametrize("num_threads", [2, 3, 16])
def test_threaded_inplace_adam_equals_one_thread_exactly(num_threads, monkeypatch):
    # Small blocks, so that a modest array spans many blocks and every thread gets some.
    monkeypatch.setattr("code_base.fast.adam._ADAM_BLOCK", 1000)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((7, 1001)).astype(np.float32)
    states = {}
    for threads in (1, num_threads):
        wt = w.copy()
        config = {"learning_rate": 1e-2, "inplace": True}
        with fast.configure(num_threads=threads):
            for _ in range(3):
                wt, config = adam(wt, np.sin(3 * wt), config)
        states[threads] = (wt, config["m"], config["v"])
    for a, b in zip(states[1], states[num_threads]):
        np.testing.assert_array_equal(a, b)  # each element sees the same operations
    assert not np.array_equal(states[1][0], w)


def test_thread_counts_are_not_an_update_rule_option():
    # Threads are set once, by fast.configure, not per rule.
    for rule in (sgd, adam):
        with pytest.raises(ValueError, match=r"unknown config key\(s\) \['num_threads'\]"):
            rule(np.zeros(2), np.ones(2), {"num_threads": 2})
