r"""A custom layer that behaves differently in training: hˢ = f_train(hᵘ, ε; θ) in training, f_infer(hᵘ; θ) at inference.

Keras' ``call(self, X, training=None)`` with one branch per mode — the
notebook's ``MyGaussianNoise``, X + noise in training and X otherwise — is two
:func:`symdl.formula_layer` s and the noise arrays the training one reads:

>>> import symdl
>>> from symdl.graph import Input, Model, TrainingFormula
>>> noisy = symdl.formula_layer("y[i] = x[i] + 0.1*eps[i]", inputs={"x": "n", "eps": "n"}, name="mynoise")
>>> clean = symdl.formula_layer("y[i] = x[i]", inputs={"x": "n"}, name="mynoise")
>>> x = Input(3)
>>> model = Model(x, TrainingFormula(noisy, clean, noise={"eps": "normal"})(x), losses="mse")
>>> [str(eq.rhs) for eq in model.equations(training=False).forward]
['x']

Each mode is a :class:`~symdl.graph.formula.Formula` of its own formula (its
VJPs derived and proven in index notation); a noise array is a per-use mask
of the output's width, drawn from the seed with the noise and dropout of
:class:`~symdl.graph.GaussianNoise` and :class:`~symdl.graph.Dropout` and
held fixed through the call: ``"normal"`` is ε ~ N(0, 1) (the scale is the
formula's), ``("dropout", p)`` is r ∈ {0, 1} kept with probability 1 − p.
Nothing flows back to a mask. The inference formula is required: Keras' layer
that returns ``None`` when ``training`` is false is refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..arguments import drop_probability
from ..formula_layers.layer import FormulaLayer
from .formula import Formula, _lower, _Lowered, _reduces
from .nodes import Mask

__all__ = ["TrainingFormula"]

_DRAWS = ('"normal"', '("dropout", p)')


def _mask(name: str, spec: object, what: str) -> Mask:
    """``"normal"`` → ε ~ N(0, 1); ``("dropout", p)`` → r kept (1) with probability 1 − p."""
    if spec == "normal":
        return Mask(name, "gaussian", 1.0)
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == "dropout":
        return Mask(name, "bernoulli", drop_probability(spec[1]))
    raise ValueError(f"{what}: noise {name!r} must be {' or '.join(_DRAWS)}, got {spec!r}")


class TrainingFormula(Formula):
    """hˢ = f_train(hᵘ¹, …, ε; θ) in training (ε drawn from the seed), hˢ = f_infer(hᵘ¹, …; θ) at inference.

    ``training`` and ``inference`` are :func:`symdl.formula_layer` s with the
    same node inputs (names and axes, in order) and the same output axis;
    the training formula also reads each array of ``noise`` (name → ``"normal"``
    or ``("dropout", p)``), whose axis is the output's. The inference formula
    may use fewer parameters than the training one (a learned noise scale),
    never others. ``sizes``, ``init`` and ``name`` as :class:`Formula`.
    """

    def __init__(self, training: FormulaLayer, inference: FormulaLayer | None, noise: Mapping[str, object] | None = None,
                 sizes: Mapping[str, int] | None = None, init: Mapping[str, str | float] | None = None,
                 name: str | None = None) -> None:
        what = "TrainingFormula"
        if not isinstance(training, FormulaLayer):
            raise TypeError(f"{what}: training must be a symdl.formula_layer(...), got {type(training).__name__}")
        what = f"TrainingFormula {training.name!r}"
        if inference is None:
            raise ValueError(f"{what}: no inference formula; a layer that behaves differently in training must say what it "
                             "computes at inference too (a Keras call(X, training) that returns None there is this mistake): "
                             "for the identity give symdl.formula_layer('y[i] = x[i]', inputs={'x': 'n'})")
        if not isinstance(inference, FormulaLayer):
            raise TypeError(f"{what}: inference must be a symdl.formula_layer(...), got {type(inference).__name__}")
        noise = {} if noise is None else noise
        if not isinstance(noise, Mapping):
            raise TypeError(f"{what}: noise must map an input of the training formula to {' or '.join(_DRAWS)}")
        super().__init__(training, sizes, init, name)
        out_axes = next(iter(training.outputs.values()))
        masks = []
        for n, spec in noise.items():
            if n not in training.inputs:
                raise ValueError(f"{what}: noise {n!r} is not an input of the training formula; its inputs: {', '.join(training.inputs)}")
            if training.inputs[n] != out_axes:
                raise ValueError(f"{what}: noise {n!r} has axes {training.inputs[n]}; a noise array has the output's axis {out_axes}")
            masks.append(_mask(n, spec, what))
        nodes = {n: axes for n, axes in training.inputs.items() if n not in noise}
        if not nodes:
            raise ValueError(f"{what}: every input is noise; the layer needs a node input")
        if len(inference.outputs) != 1 or next(iter(inference.outputs.values())) != out_axes:
            raise ValueError(f"{what}: the inference formula's output has axes {tuple(inference.outputs.values())}; "
                             f"the training formula's is {out_axes}")
        if inference.inputs != nodes or list(inference.inputs) != list(nodes):
            raise ValueError(f"{what}: the inference formula's inputs {inference.inputs} must be the training formula's "
                             f"without the noise, {nodes}, in the same order")
        for n, axes in inference.params.items():
            if training.params.get(n) != axes:
                raise ValueError(f"{what}: the inference formula's param {n!r} {axes} is not a param of the training formula "
                                 f"with those axes ({training.params.get(n)})")
        unknown = sorted(set(inference.dims) - set(training.dims))
        if unknown:
            raise ValueError(f"{what}: the inference formula's dimension {unknown[0]!r} is not one of the training formula's")
        self.inference, self.noise = inference, {m.stem: noise[m.stem] for m in masks}
        self._masks = tuple(masks)
        self._noise = frozenset(noise)
        self.arity = len(nodes)
        self._inference_lowered = _lower(inference)
        self.computes_in_float32 = _reduces(training) or _reduces(inference)

    def _mode(self, training: bool) -> tuple[FormulaLayer, _Lowered]:
        return (self.layer, self._lowered) if training else (self.inference, self._inference_lowered)

    def masks(self) -> tuple[Mask, ...]:
        return self._masks

    # --- config ---------------------------------------------------------------------------------------------------

    def config(self) -> dict[str, object]:
        return {"training": self.layer.name, "inference": self.inference.name, "noise": self.noise, "sizes": self.sizes, "init": self.init}

    def to_config(self) -> dict[str, object]:
        noise = {n: spec if isinstance(spec, str) else list(spec) for n, spec in self.noise.items()}  # type: ignore[call-overload]
        return {"training": self.layer.to_config(), "inference": self.inference.to_config(), "noise": noise,
                "sizes": dict(self.sizes), "init": dict(self.init)}

    @classmethod
    def from_config(cls, config: dict[str, object]) -> TrainingFormula:
        keys = ("training", "inference", "noise", "sizes", "init")
        extra = sorted(set(config) - set(keys))
        if extra:
            raise ValueError(f"TrainingFormula: unknown key {extra[0]!r}; keys: {', '.join(keys)}")
        training = FormulaLayer.from_config(config.get("training"))  # type: ignore[arg-type]
        inference = None if config.get("inference") is None else FormulaLayer.from_config(config["inference"])  # type: ignore[arg-type]
        return cls(training, inference, config.get("noise"), config.get("sizes"), config.get("init"))  # type: ignore[arg-type]
