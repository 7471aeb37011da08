"""symdl.training.fit: seeded batches, history, progress, early stopping, resuming, bad input."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.training import EarlyStopping, fit
from symdl.training.batches import batch_slices, epoch_rng


class ClassicSGD:
    """A compiled network's classic ``train_step(params, X, Y, lr)`` seen through the optimizer-state contract."""

    def __init__(self, net, lr):
        self.net, self.lr, self.network = net, lr, net.network

    def init_state(self, params):
        return {"t": 0}

    def train_step(self, params, X, Y, state, **seed):
        state["t"] += 1
        return self.net.train_step(params, X, Y, self.lr, **seed)

    def forward(self, params, X):
        return self.net.forward(params, X)

    def inference_loss(self, params, X, Y):
        return self.net.inference_loss(params, X, Y)


class Recorder:
    """A model that records the batches it sees; its loss is the batch's mean of X (known to the test)."""

    def __init__(self, seeded=False):
        self.batches, self.seeds, self.seeded = [], [], seeded

    def init_state(self, params):
        return {"t": 0}

    def train_step(self, params, X, Y, state, **seed):
        self.batches.append(X[:, 0].copy())
        self.seeds.extend(seed.values())
        state["t"] += 1
        params["w"] += 1.0
        return float(X.mean())

    def forward(self, params, X):
        return X

    def inference_loss(self, params, X, Y):
        return float(X.mean())


class AbsError:
    """A test double of a streaming metric: mean |y − ŷ| over everything seen (hand-written reference)."""

    name = "mae"

    def __init__(self):
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        self.total += float(np.abs(y_true - y_pred).sum())
        self.count += y_true.size

    def result(self):
        return self.total / self.count

    def config(self):
        return {"name": "mae"}


def data(n=50, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.tanh(X[:, :2])


@pytest.fixture(scope="module")
def net():
    return symdl.Network([3, 6, 2], activation="tanh").compile()


def run(net, seed=0, epochs=3, **options):
    X, Y = data()
    params = net.init(0)
    h = fit(ClassicSGD(net, 0.1), params, X, Y, epochs=epochs, batch_size=8, seed=seed, verbose=0, **options)
    return h, params


def test_same_seed_same_history_and_params_bit_for_bit(net):
    h1, p1 = run(net, validation=data(10, 2))
    h2, p2 = run(net, validation=data(10, 2))
    assert h1.history == h2.history
    assert all(np.array_equal(p1[k], p2[k]) for k in p1)
    h3, p3 = run(net, seed=1)
    assert h3.history["loss"] != h1.history["loss"]
    assert not np.array_equal(p3["W1"], p1["W1"])


def test_training_lowers_the_loss(net):
    h, _ = run(net, epochs=5)
    assert h.history["loss"][-1] < h.history["loss"][0] / 2


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 20), seed=st.integers(0, 2**32 - 1), epoch=st.integers(0, 5))
def test_batches_are_a_permutation_cut_with_a_partial_last_batch(n, batch_size, seed, epoch):
    batches = batch_slices(n, batch_size, epoch_rng(seed, epoch))
    sizes = [len(b) for b in batches]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))


def test_fit_keeps_the_partial_last_batch_and_weights_the_epoch_loss_by_batch_size():
    X = np.arange(10.0).reshape(10, 1)
    model = Recorder()
    params = {"w": np.zeros(1)}
    h = fit(model, params, X, X, epochs=2, batch_size=4, verbose=0)
    assert [len(b) for b in model.batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate(model.batches[:3])) == list(range(10))
    assert model.batches[0].tolist() != model.batches[3].tolist()  # reshuffled each epoch
    # each batch's loss is its mean of X; weighted by batch size, the epoch's mean is the mean of all X
    assert h.history["loss"] == pytest.approx([4.5, 4.5], abs=1e-12)
    assert h.state == {"t": 6} and params["w"][0] == 6
    model = Recorder()
    fit(model, {"w": np.zeros(1)}, X, X, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert [b.tolist() for b in model.batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_history_keys_follow_keras(net):
    h, _ = run(net, epochs=2, metrics=[AbsError()], validation=data(10, 2))
    assert list(h.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert all(len(v) == 2 for v in h.history.values()) and h.epoch == [0, 1]
    Xv, Yv = data(10, 2)
    assert h.history["val_loss"][-1] == pytest.approx(float(net.inference_loss(h.weights, Xv, Yv)), rel=1e-12)
    assert h.history["val_mae"][-1] == pytest.approx(float(np.abs(net.forward(h.weights, Xv) - Yv).mean()), rel=1e-12)


def test_seeded_models_get_a_deterministic_seed_per_step():
    X = np.arange(12.0).reshape(12, 1)
    a, b = Recorder(seeded=True), Recorder(seeded=True)
    fit(a, {"w": np.zeros(1)}, X, X, epochs=2, batch_size=5, verbose=0, seed=3)
    fit(b, {"w": np.zeros(1)}, X, X, epochs=2, batch_size=5, verbose=0, seed=3)
    assert a.seeds == b.seeds and len(a.seeds) == 6 and len(set(a.seeds)) == 6


def test_a_module_whose_train_step_takes_a_seed_gets_one():
    X = np.arange(6.0).reshape(6, 1)
    seen = []

    class Module:  # a generated module: functions only, no `seeded` attribute
        @staticmethod
        def init_state(params):
            return {}

        @staticmethod
        def train_step(params, X, Y, state, seed=0):
            seen.append(seed)
            return 0.0

    fit(Module, {}, X, X, epochs=1, batch_size=2, verbose=0)
    assert len(seen) == 3 and len(set(seen)) == 3
    Module.train_step = staticmethod(lambda params, X, Y, state: seen.append("no seed") or 0.0)
    fit(Module, {}, X, X, epochs=1, batch_size=2, verbose=0)
    assert seen[3:] == ["no seed"] * 3


def test_resuming_at_initial_epoch_equals_an_uninterrupted_run(net):
    X, Y = data()
    model = ClassicSGD(net, 0.1)
    whole = net.init(0)
    h = fit(model, whole, X, Y, epochs=4, batch_size=8, verbose=0)
    part = net.init(0)
    h1 = fit(model, part, X, Y, epochs=2, batch_size=8, verbose=0)
    h2 = fit(model, part, X, Y, epochs=4, batch_size=8, verbose=0, initial_epoch=2, state=h1.state)
    assert h1.history["loss"] + h2.history["loss"] == h.history["loss"]
    assert h2.epoch == [2, 3] and h2.state == h.state == {"t": 28}
    assert all(np.array_equal(whole[k], part[k]) for k in whole)


class ScriptedLoss(Recorder):
    """Validation losses from a script, one per epoch (the epoch is read from the step count)."""

    def __init__(self, script):
        super().__init__()
        self.script, self.steps_per_epoch = script, 1

    def inference_loss(self, params, X, Y):
        return self.script[int(params["w"][0]) - 1]


def test_early_stopping_follows_keras_and_restores_the_best_weights():
    X = np.ones((4, 1))
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    params = {"w": np.zeros(1)}
    h = fit(ScriptedLoss([5.0, 3.0, 4.0, 3.5, 1.0]), params, X, X, epochs=5, batch_size=4, verbose=0,
            validation=(X, X), early_stopping=stop)
    assert h.history["val_loss"] == [5.0, 3.0, 4.0, 3.5]  # epochs 2 and 3 no better than 3.0: stop after epoch 3
    assert h.stopped_epoch == 3 and stop.best_epoch == 1
    assert params["w"][0] == 2.0  # the weights after epoch 1 (two steps), not after epoch 3
    # min_delta: an improvement of 0.5 does not count when min_delta is 1
    params = {"w": np.zeros(1)}
    stop = EarlyStopping(patience=1, min_delta=1.0)
    h = fit(ScriptedLoss([5.0, 4.5, 4.4, 1.0]), params, X, X, epochs=4, batch_size=4, verbose=0,
            validation=(X, X), early_stopping=stop)
    assert h.history["val_loss"] == [5.0, 4.5] and params["w"][0] == 2.0  # no restore without the flag


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_and_quiet_elsewhere(net):
    tty = FakeTTY()
    X, Y = data()
    fit(ClassicSGD(net, 0.1), net.init(0), X, Y, epochs=2, batch_size=8, metrics=[AbsError()], stream=tty)
    text = tty.getvalue()
    lines = text.split("\n")
    assert len(lines) == 3 and lines[-1] == ""
    assert "\r\x1b[Kepoch 1/2 - 1/7 - loss: " in lines[0]
    final = lines[0].rsplit("\r\x1b[K", 1)[1]
    assert final.startswith("epoch 1/2 - 7/7 - loss: ") and " - mae: " in final
    for stream, verbose in ((io.StringIO(), "auto"), (FakeTTY(), 0)):
        fit(ClassicSGD(net, 0.1), net.init(0), X, Y, epochs=2, batch_size=8, verbose=verbose, stream=stream)
        assert stream.getvalue() == ""
    plain = io.StringIO()
    fit(ClassicSGD(net, 0.1), net.init(0), X, Y, epochs=2, batch_size=8, verbose=2, stream=plain)
    assert [line.split(" - loss")[0] for line in plain.getvalue().splitlines()] == ["epoch 1/2 - 7/7", "epoch 2/2 - 7/7"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epochs": 0}, "epochs: expected an integer >= 1"),
        ({"epochs": 2, "batch_size": 0}, "batch_size: expected an integer >= 1"),
        ({"epochs": 2, "seed": -1}, "seed: expected a non-negative integer"),
        ({"epochs": 2, "verbose": 3}, "verbose: expected 'auto', 0, 1 or 2"),
        ({"epochs": 2, "initial_epoch": 2}, "initial_epoch: 2 leaves no epoch"),
        ({"epochs": 2, "validation": (np.ones((3, 3)), np.ones((4, 2)))}, "X_val, Y_val: 3 samples"),
        ({"epochs": 2, "metrics": "mae"}, "metrics: expected a list"),
        ({"epochs": 2, "metrics": [object()]}, "has no update_state()"),
        # a Metric class has update_state as a function: it was taken as a metric, then failed inside fit
        ({"epochs": 2, "metrics": [symdl.metrics.Precision]}, "metric: Precision is a class; give an instance, Precision(), or its name 'precision'"),
        # a loss is a metric as Keras' MeanMetricWrapper makes it, but an element-wise one, and a function gives per-sample values
        ({"epochs": 2, "metrics": [symdl.rule("softmax_cross_entropy")]}, "is a vector loss; accepted: a loss rule (mse, mae, huber, log_cosh, binary_cross_entropy)"),
        ({"epochs": 2, "metrics": [lambda y_true, y_pred: 0.0]}, "metrics: lambda returned values of shape (); expected per-sample values"),
        ({"epochs": 2, "early_stopping": "val_loss"}, "early_stopping: expected"),
        # a Callback or a str where a list is expected: not Python's 'Value after * must be an iterable' (or a letter)
        ({"epochs": 2, "callbacks": EarlyStopping()}, "callbacks: expected a list of symdl.training.Callback objects, got <symdl.training.callbacks.EarlyStopping"),
        ({"epochs": 2, "callbacks": "EarlyStopping"}, "callbacks: expected a list of symdl.training.Callback objects, got 'EarlyStopping'"),
        ({"epochs": 2, "stream": 5}, "stream: expected None (stderr) or a text stream with write() and flush(), such as sys.stdout or io.StringIO(), got 5"),
    ],
)
def test_bad_arguments_are_one_line(net, options, message):
    X, Y = data()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        fit(ClassicSGD(net, 0.1), net.init(0), X, Y, **options)
    assert "\n" not in str(info.value)


def test_callbacks_none_is_no_callback_as_keras_default(net):
    X, Y = data()
    runs = [fit(ClassicSGD(net, 0.1), net.init(0), X, Y, epochs=2, **options).history for options in ({}, {"callbacks": None})]
    assert runs[0] == runs[1]


def test_auto_mode_minimises_a_loss_whatever_its_output_is_named():
    """An output named 'accel' (or 'precision_head') logs accel_loss: "acc" in the name made auto maximise the loss,
    so a falling validation loss counted as no improvement and training stopped at patience."""
    from symdl.training.callbacks import TrainingRun

    for key in ("loss", "val_loss", "val_accel_loss", "precision_head_loss", "val_f1_out_loss"):
        assert EarlyStopping(key).mode == "min", key
    for key in ("val_binary_accuracy", "val_precision", "recall", "f1_score", "val_auc", "main_categorical_accuracy"):
        assert EarlyStopping(key).mode == "max", key
    stop = EarlyStopping("val_accel_loss", patience=1)
    run = TrainingRun({}, None)
    for epoch, value in enumerate((1.0, 0.5, 0.25)):
        stop.on_epoch_end(epoch, {"val_accel_loss": value}, run)
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.25, 2, None)


def test_restore_best_weights_is_a_bool_numpy_bools_too():
    with pytest.raises(ValueError, match="^restore_best_weights: expected True or False, got 'no'$"):
        EarlyStopping(restore_best_weights="no")
    assert EarlyStopping(restore_best_weights=np.bool_(True)).restore_best_weights is True


def test_bad_data_and_a_model_without_state(net):
    with pytest.raises(ValueError, match="X, Y: 5 samples in X but 4 in Y"):
        fit(ClassicSGD(net, 0.1), net.init(0), np.ones((5, 3)), np.ones((4, 2)), epochs=1)
    with pytest.raises(ValueError, match="X: expected a 2-d array"):
        fit(ClassicSGD(net, 0.1), net.init(0), np.ones(5), np.ones((5, 2)), epochs=1)
    with pytest.raises(ValueError, match="has no optimizer"):
        fit(net, net.init(0), *data(), epochs=1)
    params = net.init(0)
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match="monitor 'val_loss' is not logged; logged: loss$"):
        fit(ClassicSGD(net, 0.1), params, *data(), epochs=1, verbose=0, early_stopping=EarlyStopping())
    assert all(np.array_equal(before[k], params[k]) for k in params)  # refused before any step


def test_the_bar_is_rewritten_at_most_every_interval(net, monkeypatch):
    from symdl.training.progress import ProgressBar

    monkeypatch.setattr(ProgressBar, "interval", 1e9)
    tty = FakeTTY()
    X, Y = data()
    fit(ClassicSGD(net, 0.1), net.init(0), X, Y, epochs=1, batch_size=8, stream=tty)
    assert tty.getvalue().count("\r\x1b[K") == 2  # the first batch, then the epoch's final line


def test_logged_loss_and_metric_are_those_of_the_batches_before_their_steps(net):
    """A hand-written replay of one epoch: each batch's prediction and loss before its step, then the streamed values."""
    X, Y = data()
    params = net.init(0)
    h = fit(ClassicSGD(net, 0.1), params, X, Y, epochs=1, batch_size=8, metrics=[symdl.metric("mae")], verbose=0)
    replay = net.init(0)
    losses, sizes, errors = [], [], []
    for rows in batch_slices(len(X), 8, epoch_rng(0, 0)):
        errors.append(np.abs(net.forward(replay, X[rows]) - Y[rows]))
        losses.append(float(net.train_step(replay, X[rows], Y[rows], 0.1)))
        sizes.append(len(rows))
    assert list(h.history) == ["loss", "mean_absolute_error"]
    assert h.history["loss"][0] == pytest.approx(np.dot(losses, sizes) / sum(sizes), rel=1e-14)
    assert h.history["mean_absolute_error"][0] == pytest.approx(np.concatenate(errors).mean(), rel=1e-14)
    assert all(np.array_equal(params[k], replay[k]) for k in params)


@pytest.mark.parametrize("graph", [False, True])
def test_an_optimizer_with_its_rate_left_to_each_call_is_refused_before_training(graph):
    """optimizer("adam", lr=None) prints train_step(…, lr); fit passes no lr: it was Python's TypeError
    "train_step() missing 1 required positional argument: 'lr'" from the first step."""
    opt = symdl.optimizer("adam", lr=None)
    if graph:
        from symdl.graph import Dense, Input, Model

        x = Input(2)
        model = Model(x, Dense(1)(x)).compile(optimizer=opt)
    else:
        model = symdl.Network([2, 3, 1], optimizer=opt).compile()
    params = model.init(0)
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match=r"^fit: the optimizer 'adam' leaves lr to each train_step call, which fit does "
                                         r"not pass; give a value, e.g. symdl.optimizer\('adam', lr=0.01\)$"):
        fit(model, params, np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)
    assert all(np.array_equal(params[k], before[k]) for k in params)


def test_a_non_finite_loss_stops_fit_at_its_step_in_one_line():
    """The loss mean refused it only when the epoch's logs were read, naming no epoch or step."""
    X, Y = data()
    net = symdl.Network([3, 8, 2], optimizer=symdl.optimizer("sgd", lr=1e3)).compile()
    seen = []
    with np.errstate(all="ignore"):  # the weights blow up
        with pytest.raises(ValueError) as error:
            fit(net, net.init(0), X, Y, epochs=50, batch_size=8, verbose=0, metrics=["mae"])
        replay = net.init(0)  # the same steps by hand, up to the first non-finite loss
        state = net.init_state(replay)
        for epoch in range(50):
            for rows in batch_slices(len(X), 8, epoch_rng(0, epoch)):
                loss = net.train_step(replay, X[rows], Y[rows], state)  # params and state in place
                seen.append((epoch, float(loss)))
                if not np.isfinite(loss):
                    break
            if not np.isfinite(seen[-1][1]):
                break
    epoch, loss = seen[-1]
    step = sum(1 for e, _ in seen if e == epoch)
    assert not np.isfinite(loss)
    assert str(error.value) == (f"fit: the loss is {loss} at epoch {epoch + 1}, step {step} of 7: training diverged (a "
                                "smaller learning rate?) or the data hold NaN; params and state hold the steps up to it")


@pytest.mark.parametrize(("samples", "batch_size"), [(9, 4), (9, 1), (1, 32)])
def test_a_batch_of_one_row_for_batch_norm_is_refused_before_the_first_step(samples, batch_size):
    """The network's train_step refuses it (PyTorch's BatchNorm1d too); fit stopped there, after the epochs before."""
    X, Y = data(samples)
    net = symdl.Network([3, 4, 2], batchnorm=True, optimizer="adam").compile()
    params = net.init(0)
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match=rf"^fit: {samples} samples in batches of {batch_size} leave a batch of 1 row, "
                                         r"and batch norm trains on at least 2 \(its running variance is m/\(m−1\)·σ²_B\); "
                                         r"choose another batch size$"):
        net.fit(params, X, Y, epochs=3, batch_size=batch_size, verbose=0)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    if samples > 1:  # without batch norm the same batches train
        plain = symdl.Network([3, 4, 2], optimizer="adam").compile()
        assert len(plain.fit(plain.init(0), X, Y, epochs=2, batch_size=batch_size, verbose=0).history["loss"]) == 2
