"""Generated datasets, targets, the train/test split and the initialization schemes."""

import numpy as np
import pytest

from app.nn.datasets import FIXED, GENERATORS, generate, init_weights, split, targets


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- generators ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(set(GENERATORS) - FIXED))
def test_generators_give_the_asked_size_and_input_width(name: str) -> None:
    task, dim = GENERATORS[name]
    x, labels = generate(name, 101, 0.0, rng())
    assert x.shape == (101, dim) and len(labels) == 101
    assert np.isfinite(x).all()
    if task == "binary":
        assert set(labels.tolist()) == {0.0, 1.0}
    if task == "multiclass":
        assert set(labels.tolist()) == {0.0, 1.0, 2.0}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_repeat_from_the_same_seed(name: str) -> None:
    a, b = generate(name, 50, 0.3, rng(5)), generate(name, 50, 0.3, rng(5))
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_circle_is_a_disc_inside_a_ring() -> None:
    x, labels = generate("circle", 400, 0.0, rng())
    r = np.hypot(x[:, 0], x[:, 1])
    assert (r[labels == 1] <= 2.5).all() and ((r[labels == 0] >= 3.5) & (r[labels == 0] <= 5.0)).all()


def test_xor_labels_points_whose_coordinates_share_a_sign() -> None:
    x, labels = generate("xor", 400, 0.0, rng())
    np.testing.assert_array_equal(labels, (np.sign(x[:, 0]) == np.sign(x[:, 1])).astype(float))
    assert (np.abs(x) >= 0.3).all()  # kept off the axes


def test_regression_plane_is_the_scaled_sum() -> None:
    x, y = generate("regression_plane", 50, 0.0, rng())
    np.testing.assert_allclose(y[:, 0], (x[:, 0] + x[:, 1]) / 10, rtol=1e-15)


def test_spiral_arms_stay_within_radius_five() -> None:
    x, labels = generate("spiral", 200, 0.0, rng())
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 5.0
    assert labels.sum() == 100


@pytest.mark.parametrize("name, truth", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("xor_gate", [0, 1, 1, 0])])
def test_truth_tables(name: str, truth: list[int]) -> None:
    x, labels = generate(name, 500, 0.0, rng())  # fixed sets ignore the sample count
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert labels.tolist() == truth


def test_encoder_maps_each_one_hot_pattern_to_itself() -> None:
    x, y = generate("encoder_8_3_8", 500, 0.0, rng())
    assert x.tolist() == y.tolist() == np.eye(8).tolist()


def test_unknown_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="blob"):
        generate("blob", 10, 0.0, rng())


# --- noise -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gaussian", "moons", "three_class", "circle"])
def test_noise_is_gaussian_on_the_inputs_with_that_std(name: str) -> None:
    # the same seed draws the same clean points, then adds the noise
    clean, labels = generate(name, 6000, 0.0, rng(3))
    noisy, labels2 = generate(name, 6000, 0.5, rng(3))
    np.testing.assert_array_equal(labels, labels2)
    diff = noisy - clean
    assert abs(diff.mean()) < 0.02 and diff.std() == pytest.approx(0.5, rel=0.03)


def test_regression_sine_puts_its_noise_on_the_target() -> None:
    x, y = generate("regression_sine", 6000, 0.2, rng())
    assert (np.abs(x) <= np.pi).all()
    assert (y - np.sin(x)).std() == pytest.approx(0.2, rel=0.03)


# --- targets and split -----------------------------------------------------------------------
def test_binary_targets_use_the_low_label_with_one_output() -> None:
    labels = np.array([0.0, 1.0, 1.0])
    assert targets(labels, "binary", 1, -1.0).tolist() == [[-1.0], [1.0], [1.0]]
    assert targets(labels, "binary", 1, 0.0).tolist() == [[0.0], [1.0], [1.0]]


def test_two_outputs_and_multiclass_are_one_hot() -> None:
    assert targets(np.array([1.0, 0.0]), "binary", 2, -1.0).tolist() == [[0, 1], [1, 0]]
    assert targets(np.array([2.0, 0.0]), "multiclass", 3, 0.0).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_split_is_a_shuffled_partition_by_train_fraction() -> None:
    x = np.arange(20.0)[:, None]
    xtr, ytr, xte, yte = split(x, x * 2, 0.75, rng())
    assert len(xtr) == 15 and len(xte) == 5
    assert sorted(np.concatenate([xtr, xte]).ravel().tolist()) == list(range(20))
    np.testing.assert_array_equal(ytr, xtr * 2)  # rows stay paired
    assert xtr.ravel().tolist() != list(range(15))


# --- initialization --------------------------------------------------------------------------
LAYERS = [64, 64, 3]


def test_xavier_is_uniform_within_its_limit() -> None:
    ws, bs = init_weights(LAYERS, "xavier", rng())
    for w, (fan_in, fan_out) in zip(ws, [(64, 64), (64, 3)]):
        lim = np.sqrt(6 / (fan_in + fan_out))
        assert w.shape == (fan_out, fan_in) and np.abs(w).max() <= lim
        assert np.abs(w).max() > 0.9 * lim
    assert all((b == 0).all() for b in bs)


def test_he_has_std_sqrt_2_over_fan_in() -> None:
    w = init_weights(LAYERS, "he", rng())[0][0]
    assert w.std() == pytest.approx(np.sqrt(2 / 64), rel=0.05)


def test_uniform_uses_scale_and_bias() -> None:
    ws, bs = init_weights(LAYERS, "uniform", rng(), scale=0.2, bias=0.1)
    assert np.abs(ws[0]).max() <= 0.2 and np.abs(ws[0]).max() > 0.19
    assert bs[1].tolist() == [0.1, 0.1, 0.1]


def test_zeros_are_zero() -> None:
    assert all((w == 0).all() for w in init_weights(LAYERS, "zeros", rng())[0])


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="orthogonal"):
        init_weights(LAYERS, "orthogonal", rng())
