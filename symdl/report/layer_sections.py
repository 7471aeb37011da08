"""Report sections of layer types and of weight initialisation: each layer type's section comes from the layer.

A layer type with a :attr:`~symdl.layers.base.Layer.report_section` key
gives its derivation through :meth:`~symdl.layers.base.Layer.report`; this
module only lays it out, so a new layer type's section needs no change here.
"""

from __future__ import annotations

import sympy as sp

from ..layers.base import Layer, layer_types
from ..layers.dropout import expectation_of
from .checks import proof_check
from .model import Math, Section, Step

__all__ = ["batchnorm_section", "dropout_section", "expectation_of", "init_section", "layer_section", "layer_section_keys"]


def layer_section_keys() -> tuple[str, ...]:
    """The section key of every layer type that has one, in the order the layer types are defined."""
    return tuple(t.report_section for t in layer_types() if t.report_section is not None)


def _layer_type(key: str) -> type[Layer]:
    for t in layer_types():
        if t.report_section == key:
            return t
    raise ValueError(f"no layer type has the report section {key!r}; known: {', '.join(layer_section_keys())}")


def layer_section(layer: type[Layer] | Layer | str, *, verify: bool = True) -> Section:
    """The section of a layer type (a class, an instance or its section key): its :meth:`~symdl.layers.base.Layer.report`.

    Checks are the layer's proofs (none without ``verify``).
    """
    kind = _layer_type(layer) if isinstance(layer, str) else layer if isinstance(layer, type) else type(layer)
    section = kind.report_section
    content = kind.report(verify=verify) if section is not None else None
    if content is None or section is None:
        raise ValueError(f"layer type {kind.__name__} has no report section")
    return Section(
        key=section,
        title=content.title,
        kind=section,
        summary=content.summary,
        definition=content.definition,
        steps=content.steps,
        checks=tuple(proof_check(label, proof) for label, proof in content.proofs.items()),
    )


def batchnorm_section(*, verify: bool = True) -> Section:
    """Batch norm's section: :meth:`symdl.layers.BatchNorm.report` (Ioffe & Szegedy, forward, backward, inference, folding)."""
    return layer_section("batchnorm", verify=verify)


def dropout_section(*, verify: bool = True) -> Section:
    """Dropout's section: :meth:`symdl.layers.Dropout.report` (training and inference forms, their expectations)."""
    return layer_section("dropout", verify=verify)


def init_section(*, verify: bool = True) -> Section:
    """Weight initialisation schemes: each distribution's variance (sympy.stats) and its target, with proofs."""
    from sympy import stats

    from ..layers import init_schemes as ini

    variance = sp.Function("Var")
    definition = []
    steps = []
    for name in ini.SCHEMES:
        scheme = ini.get_scheme(name)
        parameter = sp.Symbol({"limit": "a", "std": "s"}[scheme.parameter_name], positive=True)
        label = r"\,".join(rf"\mathrm{{{word}}}" for word in name.split("_"))  # upright words: glorot uniform
        w = sp.Symbol(rf"W_{{{label}}}")
        in_parameter = stats.variance(scheme.distribution(parameter))  # a²/3 or s², by sympy.stats
        definition.append(Math(sp.Symbol(rf"{parameter.name}_{{{label}}}", positive=True), scheme.parameter))
        variance_at = sp.simplify(in_parameter.subs(parameter, scheme.parameter))
        target = () if sp.simplify(variance_at - scheme.target) == 0 else (Math(variance(w), scheme.target),)
        steps.append(Step(
            f"{name}: W ∼ {'U(−a, a)' if scheme.family == 'uniform' else 'N(0, s²)'}",
            (Math(variance(w), in_parameter), Math(parameter, scheme.parameter), Math(variance(w), variance_at), *target),
            f"sympy.stats variance of the distribution, then the scheme's {scheme.parameter_name}; the result is the "
            f"scheme's target variance ({scheme.purpose})",
        ))
    return Section(
        key="init",
        title="Weight initialisation",
        kind="init",
        summary="Glorot, He and LeCun schemes: the variance of each distribution equals its target",
        definition=tuple(definition),
        steps=tuple(steps),
        checks=tuple(proof_check(label, proof) for label, proof in ini.prove_all().items()) if verify else (),
    )
