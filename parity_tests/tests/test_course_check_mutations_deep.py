"""For every course function of ``deep``: typical slips in an otherwise correct solution FAIL,
and the diagnosis names the slip (see ``test_course_check_mutations.py``)."""

from __future__ import annotations

import pytest

from parity_tests.tests.test_course_check_mutations import check_one, mutated

DP = "deep_solution.py"
HIDDEN = "hidden layers use the output activation's backward"
SIG, RELU = 'linear_activation_backward(dAL, current_cache, "sigmoid")', 'current_cache, "relu")'

# (function, old, new, phrase the diagnosis must contain)
MUTANTS = [
    ("sigmoid", "np.exp(-Z))", "np.exp(Z))", "sign in the exponent"),
    ("sigmoid", "1 / (1 + np.exp(-Z))", "1 / 1 + np.exp(-Z)", "parentheses"),
    ("sigmoid", "return A, cache", "return A", "returned only a (4, 7) array; the course returns (A, cache)"),
    ("relu", "np.maximum(0, Z)", "np.abs(Z)", "|Z| instead of max(0, Z)"),
    ("relu", "np.maximum(0, Z)", "np.maximum(0.01 * Z, Z)", "leaky ReLU"),
    ("relu", "return A, cache", "return cache, A", "returned (cache, A)"),
    ("sigmoid_backward", "dZ = dA * s * (1 - s)", "dZ = s * (1 - s)", "dA is not multiplied in"),
    ("sigmoid_backward", "dZ = dA * s * (1 - s)", "dZ = dA * Z * (1 - Z)", "computed from Z instead of s"),
    ("sigmoid_backward", "dZ = dA * s * (1 - s)", "dZ = dA * s", "the factor (1 − s) is missing"),
    ("sigmoid_backward", "dZ = dA * s * (1 - s)", "dZ = -dA * s * (1 - s)", "sign is flipped"),
    ("relu_backward", "dZ[Z <= 0] = 0", "dZ[Z < 0] = 0", "wrong only for inputs at exactly 0"),
    ("relu_backward", "dZ[Z <= 0] = 0", "dZ[Z > 0] = 0", "the mask is inverted"),
    ("relu_backward", "dZ[Z <= 0] = 0", "pass", "dA returned unchanged"),
    (
        "initialize_parameters",
        "np.random.randn(n_h, n_x) * 0.01",
        "np.random.randn(n_h, n_x)",
        "the scale (* 0.01) is missing",
    ),
    ("initialize_parameters", "np.random.randn(n_h, n_x)", "np.random.randn(n_x, n_h)", "transposed"),
    (
        "initialize_parameters",
        "W2 = np.random.randn(n_y, n_h) * 0.01",
        "W2 = np.zeros((n_y, n_h))",
        "symmetry is never broken",
    ),
    (
        "initialize_parameters_deep",
        "for l in range(1, L):",
        "for l in range(1, L - 1):",
        "missing ['W3', 'b3']",
    ),
    (
        "initialize_parameters_deep",
        "randn(layer_dims[l], layer_dims[l - 1])",
        "randn(layer_dims[l - 1], layer_dims[l])",
        "transposed",
    ),
    (
        "initialize_parameters_deep",
        "np.zeros((layer_dims[l], 1))",
        "np.zeros(layer_dims[l])",
        "shape (300,) instead of (300, 1)",
    ),
    ("initialize_parameters_deep", " * 0.01", "", "the scale (* 0.01) is missing"),
    ("linear_forward", "Z = np.dot(W, A) + b", "Z = np.dot(W, A)", "without + b"),
    ("linear_forward", "Z = np.dot(W, A) + b", "Z = np.dot(W, A) - b", "the bias is subtracted"),
    ("linear_forward", "return Z, cache", "return cache, Z", "returned (cache, Z)"),
    (
        "linear_activation_forward",
        "A, activation_cache = sigmoid(Z)",
        "A, activation_cache = relu(Z)",
        "activation='sigmoid' applies relu",
    ),
    (
        "linear_activation_forward",
        "A, activation_cache = relu(Z)",
        "A, activation_cache = Z, Z",
        "no activation is applied",
    ),
    ("linear_activation_forward", "return A, cache", "return cache, A", "returned (cache, A)"),
    ("L_model_forward", 'activation="relu")', 'activation="sigmoid")', "σ in the hidden layers"),
    ("L_model_forward", 'activation="sigmoid")', 'activation="relu")', "ReLU at the output layer"),
    ("L_model_forward", "    caches.append(cache)\n    return", "    return", "caches holds 2 entries"),
    ("L_model_forward", "L = len(parameters) // 2", "L = len(parameters)", "raised KeyError: 'W4'"),
    ("compute_cost", "cost = -1 / m *", "cost = -", "factor of m (m=7)"),
    ("compute_cost", "cost = -1 / m *", "cost = 1 / m *", "sign is flipped"),
    ("compute_cost", "cost = np.squeeze(cost)", "cost = np.reshape(cost, (1, 1))", "is a (1, 1) array"),
    ("linear_backward", "dW = 1 / m * np.dot", "dW = np.dot", "factor of m (m=7)"),
    (
        "linear_backward",
        "np.sum(dZ, axis=1, keepdims=True)",
        "np.sum(dZ, axis=1)",
        "shape (4,) instead of (4, 1)",
    ),
    ("linear_backward", "np.dot(dZ, A_prev.T)", "np.dot(A_prev, dZ.T)", "transposed"),
    (
        "linear_backward",
        "dA_prev = np.dot(W.T, dZ)",
        "dA_prev = 1 / m * np.dot(W.T, dZ)",
        "divided by m once too often",
    ),
    (
        "linear_activation_backward",
        "dZ = relu_backward(dA, activation_cache)",
        "dZ = sigmoid_backward(dA, activation_cache)",
        "activation='relu' uses sigmoid's derivative",
    ),
    (
        "linear_activation_backward",
        "dZ = sigmoid_backward(dA, activation_cache)",
        "dZ = dA",
        "dA is used as dZ",
    ),
    (
        "linear_activation_backward",
        "return dA_prev, dW, db",
        "return dW, dA_prev, db",
        "shape (4, 5) instead of (5, 7)",
    ),
    ("L_model_backward", "dAL = - (np.divide", "dAL = (np.divide", "sign is flipped"),
    ("L_model_backward", 'grads["dA" + str(L - 1)]', 'grads["dA" + str(L)]', "raised KeyError: 'dA2'"),
    ("L_model_backward", SIG, SIG.replace("sigmoid", "relu"), "ReLU′ at the output layer"),
    ("L_model_backward", RELU, RELU.replace("relu", "sigmoid"), "σ′ in the hidden layers"),
    ("update_parameters", "for l in range(L):", "for l in range(L - 1):", "W3 is returned unchanged"),
    ("update_parameters", '- learning_rate * grads["dW"', '+ learning_rate * grads["dW"', "sign is flipped"),
    ("update_parameters", '- learning_rate * grads["db"', '- grads["db"', "α = 0.3 is not applied"),
    (
        "two_layer_model",
        "update_parameters(parameters, grads, learning_rate)",
        "update_parameters(parameters, grads, learning_rate * learning_rate)",
        "is α = 0.05 applied twice",
    ),
    ("two_layer_model", "grads['db1'] = db1", "grads['db1'] = 0 * db1", "b1 never changes"),
    (
        "two_layer_model",
        'linear_activation_forward(X, W1, b1, "relu")',
        'linear_activation_forward(X, W1, b1, "sigmoid")',
        "first diverges at iteration 0 (of 201)",
    ),
    (
        "L_layer_model",
        "update_parameters(parameters, grads, learning_rate)",
        "update_parameters(parameters, grads, 0.5)",
        "a learning rate of 0.5 instead of α = 0.05",
    ),
    (
        "L_layer_model",
        "update_parameters(parameters, grads, learning_rate)",
        "update_parameters(parameters, grads, -learning_rate)",
        "sign is flipped",
    ),
    (
        "L_layer_model",
        "if i % 100 == 0 or i == num_iterations:",
        "if i % 50 == 0:",
        "the course records the cost at i = 0, 100, 200",
    ),
    # issue 19: a diagnosis that names the fix — the cache's builder blamed, not its reader ...
    ("sigmoid", "cache = Z", "cache = A", "its cache holds A = sigmoid(Z) instead of Z"),
    ("relu", "cache = Z", "cache = A", "its cache holds A = relu(Z) instead of Z"),
    (
        "linear_activation_forward",
        "cache = (linear_cache, activation_cache)",
        "cache = (activation_cache, linear_cache)",
        "its cache is (activation_cache, linear_cache)",
    ),
    (
        "linear_activation_backward",
        "linear_cache, activation_cache = cache",
        "activation_cache, linear_cache = cache",
        "linear_activation_backward passed sigmoid_backward a tuple as its cache; sigmoid_backward's "
        "cache is "
        "Z, the (n[l], m) = (4, 7) array sigmoid(Z) returned — check the order of linear_cache, "
        "activation_cache = "
        "cache in linear_activation_backward",
    ),
    # ... m from the wrong axis ...
    (
        "linear_backward",
        "m = A_prev.shape[1]",
        "m = A_prev.shape[0]",
        "m is taken from the wrong axis: the factor 1.4 = 7/5 is m/n[l−1] — m = A_prev.shape[1]",
    ),
    ("compute_cost", "m = Y.shape[1]", "m = Y.shape[0]", "or m = Y.shape[0] = 1 where m = Y.shape[1]"),
    # ... a mask or a derivative on the wrong array ...
    ("relu_backward", "dZ[Z <= 0] = 0", "dZ[dA <= 0] = 0", "the mask is applied on dA instead of Z"),
    (
        "linear_activation_backward",
        "dZ = relu_backward(dA, activation_cache)",
        "dZ = dA * (dA > 0)",
        "the ReLU mask is applied on dA instead of Z",
    ),
    # ... the fan of an init scale ...
    (
        "initialize_parameters_deep",
        " * 0.01",
        " * np.sqrt(2 / layer_dims[l])",
        "scaled by √(2/n[l]) (fan-out); He uses √(2/n[l−1]), the fan-in",
    ),
    (
        "initialize_parameters_deep",
        " * 0.01",
        " / np.sqrt(layer_dims[l])",
        "scaled by 1/√n[l] (fan-out); Xavier (and the course's application) uses 1/√n[l−1], the fan-in",
    ),
    # ... the output's backward in the hidden layers (it shows with hidden layers ≥ 2 units wide) ...
    ("L_model_backward", RELU, RELU.replace("relu", "sigmoid"), HIDDEN),
    (
        "two_layer_model",
        'linear_activation_backward(dA1, cache1, "relu")',
        'linear_activation_backward(dA1, cache1, "sigmoid")',
        HIDDEN,
    ),
    # ... and db squeezed to a number, or the learner's own assert.
    (
        "linear_backward",
        "db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
        "db = np.squeeze(np.sum(dZ)) / m",
        "db: a scalar (float) where the course's db has shape (n[l], 1) = (4, 1): "
        "db = 1/m · np.sum(dZ, axis=1, keepdims=True)",
    ),
    (
        "linear_backward",
        "db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
        "db = 1 / m * np.sum(dZ, axis=1, keepdims=True)\n    assert isinstance(db, float)",
        "linear_backward's own assert failed",
    ),
]


@pytest.mark.parametrize("function, old, new, phrase", MUTANTS, ids=[f"{m[0]}:{m[3][:40]}" for m in MUTANTS])
def test_slip_fails_with_its_diagnosis(function: str, old: str, new: str, phrase: str) -> None:
    result = check_one(mutated(DP, function, old, new), function, "deep")
    assert result.status == "FAIL", result.to_dict()
    assert phrase in (result.diagnosis or ""), (phrase, result.diagnosis)


def test_every_function_has_three_slips() -> None:
    from parity_tests.course.catalogue import CATALOGUE

    counts = {e.name: sum(m[0] == e.name for m in MUTANTS) for e in CATALOGUE["deep"]}
    assert all(n >= 3 for n in counts.values()), counts
