"""A model as data: its layers, wiring and loss terms as JSON values, and back (no code runs from the text).

``to_config(model)`` writes the inputs' widths (and their names, where any is
named), each distinct layer once (its type by class name, its name where it
has one, and :meth:`~symdl.graph.nodes.GraphLayer.to_config`; rules
by registered name or formula text, parameters exact), every node as
(layer, input nodes), the outputs and the loss terms. ``from_config`` rebuilds
it: a layer type must be a registered :class:`~symdl.graph.nodes.GraphLayer`
subclass, a formula goes through the safe parser (:func:`symdl.formula_rule`),
and one layer object is called at each of its nodes, so shared layers stay
shared. Names are checked (identifier-like, unique among inputs and layers),
never evaluated; a config written before names were saved loads unnamed. A
bad config is one :class:`symdl.saving.schema.SavedModelError`.
"""

from __future__ import annotations

from typing import Any

from ..excerpt import excerpt
from ..saving.describe import describe_rule, rebuild_rule
from ..saving.schema import SavedModelError, expect, fields, finite, integer, string
from .model import Model
from .nodes import (
    GraphLayer,
    Input,
    Node,
    check_name,
    check_unique_names,
    graph_layer_types,
)

__all__ = ["from_config", "to_config"]


def to_config(model: Model) -> dict[str, Any]:
    """The model's full description as JSON values (``json.dumps`` takes it as it is)."""
    nodes = model.nodes
    index = {n.uid: k for k, n in enumerate(nodes)}
    layers = list(model.layers)
    check_unique_names([n.name for n in model.inputs] + [l.name for l in layers], ValueError)
    names = {"input_names": [n.name for n in model.inputs]} if any(n.name for n in model.inputs) else {}
    return {
        "inputs": [n.width for n in model.inputs],
        **names,
        "layers": [{"type": l.config_name, "config": l.to_config(), **({"name": l.name} if l.name else {})} for l in layers],
        "nodes": [{"layer": next(k for k, l in enumerate(layers) if l is n.layer), "inputs": [index[c.uid] for c in n.inputs]}
                  for n in nodes[len(model.inputs):]],
        "outputs": [index[n.uid] for n in model.outputs],
        "losses": [{"node": index[t.node.uid], "rule": describe_rule(t.rule), "weight": t.weight, "reduction": t.reduction,
                    "target": None if t.target is None else index[t.target.uid], "auxiliary": t.auxiliary}
                   for t in model.terms],
    }


def _name(value: object, where: str) -> str | None:
    """A saved name: None or identifier-like (:func:`~symdl.graph.nodes.check_name`); never evaluated."""
    if value is None:
        return None
    try:
        return check_name(string(value, where, 100), where)
    except ValueError as error:
        raise SavedModelError(str(error)) from None


def _layer(value: object, k: int) -> GraphLayer:
    where = f"layers[{k}]"
    item: dict[str, Any] = expect(value, dict, where)
    spec = fields(item, where, ("type", "config", "name") if "name" in item else ("type", "config"))  # old form: no name
    kind = string(spec["type"], f"{where}.type", 100)
    types = graph_layer_types()
    if kind not in types:
        raise SavedModelError(f"{where}.type: unknown graph layer {kind!r}; known: {', '.join(sorted(types))}")
    name = _name(spec.get("name"), f"{where}.name")
    try:
        layer = types[kind].from_config(expect(spec["config"], dict, f"{where}.config"))
    except (ValueError, TypeError) as error:  # the layer's refusals (and its rules'), on one line
        raise SavedModelError(f"{where}: {str(error).splitlines()[0][:300]}") from None
    layer.name = name
    return layer


def from_config(value: object) -> Model:
    """The model :func:`to_config` describes, or one :class:`~symdl.saving.schema.SavedModelError`."""
    graph: dict[str, Any] = expect(value, dict, "graph")
    keys = ("inputs", "layers", "nodes", "outputs", "losses")
    spec = fields(graph, "graph", (*keys, "input_names") if "input_names" in graph else keys)  # old form: no names
    widths = [integer(w, f"inputs[{k}]", 1) for k, w in enumerate(expect(spec["inputs"], list, "inputs"))]
    names = expect(spec.get("input_names", [None] * len(widths)), list, "input_names")
    if len(names) != len(widths):
        raise SavedModelError(f"input_names: {len(names)} names for {len(widths)} inputs")
    nodes: list[Node] = [Input(w, _name(n, f"input_names[{k}]")) for k, (w, n) in enumerate(zip(widths, names))]
    first = len(nodes)
    layers = [_layer(v, k) for k, v in enumerate(expect(spec["layers"], list, "layers"))]
    check_unique_names([n.name for n in nodes] + [l.name for l in layers], SavedModelError,
                       [f"input_names[{k}]" for k in range(first)] + [f"layers[{k}].name" for k in range(len(layers))])
    for k, item in enumerate(expect(spec["nodes"], list, "nodes")):
        where = f"nodes[{k}]"
        item = fields(expect(item, dict, where), where, ("layer", "inputs"))
        layer = layers[integer(item["layer"], f"{where}.layer", 0, len(layers) - 1)]
        reads = [nodes[integer(i, f"{where}.inputs", 0, len(nodes) - 1)] for i in expect(item["inputs"], list, f"{where}.inputs")]
        try:
            nodes.append(layer(*reads))
        except (ValueError, TypeError) as error:
            raise SavedModelError(f"{where}: {str(error).splitlines()[0][:300]}") from None
    # an input may be an output (Model(x, [Dense(1)(x), x])), as the model allows
    outputs = [nodes[integer(i, "outputs", 0, len(nodes) - 1)] for i in expect(spec["outputs"], list, "outputs")]
    model = Model(nodes[:first], outputs, losses=[None] * len(outputs))
    for k, term in enumerate(expect(spec["losses"], list, "losses")):
        where = f"losses[{k}]"
        term = fields(expect(term, dict, where), where, ("node", "rule", "weight", "reduction", "target", "auxiliary"))
        node = nodes[integer(term["node"], f"{where}.node", 0, len(nodes) - 1)]
        target = None if term["target"] is None else nodes[integer(term["target"], f"{where}.target", 0, first - 1)]
        reduction = string(term["reduction"], f"{where}.reduction", 10)
        if not isinstance(term["auxiliary"], bool):  # null, 0 or [] read as false, "no" as true
            raise SavedModelError(f"{where}.auxiliary: expected true or false, got {excerpt(term['auxiliary'])}")
        # one loss of Model(losses=) per place the node holds among the outputs (Model(x, [o, o]) lists o twice)
        taken = sum(t.node is node and not t.auxiliary for t in model.terms)
        if not term["auxiliary"] and not (target is None and taken < sum(node is o for o in outputs)):
            raise SavedModelError(f"{where}: a loss of Model(losses=) is one per output with a data target (target "
                                  "null); a loss on another node or with an input as its target has auxiliary true")
        try:
            model._add(node, rebuild_rule(term["rule"], f"{where}.rule"), finite(term["weight"], f"{where}.weight"),
                       reduction, target, auxiliary=term["auxiliary"])
        except SavedModelError:
            raise
        except (ValueError, TypeError) as error:
            raise SavedModelError(f"{where}: {str(error).splitlines()[0][:300]}") from None
    return model
