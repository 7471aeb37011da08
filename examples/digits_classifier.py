"""A digits classifier trained with Adam through ``symdl.fit``, saved and loaded back.

scikit-learn (and its 8×8 digits) is not a dependency of symdl, so the images
are drawn here with numpy: each digit from a 3×5 pixel font, placed at a
slightly random position in an 8×8 image, with random contrast and noise.
The network is [64, 32, 10] with ReLU and softmax cross-entropy on the logits.

Run: python examples/digits_classifier.py
"""

import tempfile
from pathlib import Path

import numpy as np

import symdl

FONT = {  # 5 rows × 3 columns per digit
    0: ["###", "#.#", "#.#", "#.#", "###"], 1: [".#.", "##.", ".#.", ".#.", "###"],
    2: ["###", "..#", "###", "#..", "###"], 3: ["###", "..#", ".##", "..#", "###"],
    4: ["#.#", "#.#", "###", "..#", "..#"], 5: ["###", "#..", "###", "..#", "###"],
    6: ["###", "#..", "###", "#.#", "###"], 7: ["###", "..#", ".#.", ".#.", ".#."],
    8: ["###", "#.#", "###", "#.#", "###"], 9: ["###", "#.#", "###", "..#", "###"],
}


def digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 64) in [0, 1] and their one-hot labels (n, 10)."""
    glyphs = np.array([[[c == "#" for c in row] for row in FONT[d]] for d in range(10)], dtype=float)
    labels = rng.integers(10, size=n)
    images = np.zeros((n, 8, 8))
    dy, dx = rng.integers(1, 3, size=n), rng.integers(2, 4, size=n)
    for i in range(n):
        images[i, dy[i]:dy[i] + 5, dx[i]:dx[i] + 3] = glyphs[labels[i]]
    images = images * rng.uniform(0.6, 1.0, (n, 1, 1)) + rng.normal(0, 0.15, images.shape)
    return np.clip(images, 0, 1).reshape(n, 64), np.eye(10)[labels]


rng = np.random.default_rng(0)
X, Y = digits(2000, rng)
X_test, Y_test = digits(500, rng)

net = symdl.Network([64, 32, 10], activation="relu", loss="softmax_cross_entropy",
                    optimizer=symdl.optim.optimizer("adam", lr=1e-2)).compile()
params = net.init(seed=0, scheme="he_uniform")
history = net.fit(params, X, Y, epochs=5, batch_size=32, metrics=["categorical_accuracy"], validation=(X_test, Y_test),
                  early_stopping=symdl.EarlyStopping(patience=2, restore_best_weights=True), seed=0)
for epoch, (loss, acc) in enumerate(zip(history.history["val_loss"], history.history["val_categorical_accuracy"]), 1):
    print(f"epoch {epoch}: val_loss {loss:.4f}, val_accuracy {acc:.3f}")

with tempfile.TemporaryDirectory() as tmp:
    symdl.save(Path(tmp) / "digits", net, params, history.state, metrics=["categorical_accuracy"])
    loaded = symdl.load(Path(tmp) / "digits")
    same = np.array_equal(loaded.network.forward(loaded.params, X_test), net.forward(params, X_test))
    test = symdl.training.evaluate(loaded.network, loaded.params, X_test, Y_test, loaded.metrics)
print(f"test: loss {test['loss']:.4f}, accuracy {test['categorical_accuracy']:.3f}; the loaded model predicts the same: {same}")
