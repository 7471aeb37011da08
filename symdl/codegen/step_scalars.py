"""The step's scalars of an eager optimizer module: t, 1/(1 − β₁ᵗ), a schedule's η(t), printed as Python or as the count's own.

An optimizer's update (:mod:`symdl.codegen.optimizer`) computes the
subexpressions of the step count and the hyperparameters alone once per step.
In an eager backend they are Python floats printed with ``math``
(:class:`ScalarPrinter`); where the count may be a 0-d tensor on the device
(torch, for ``torch.compile`` and CUDA graphs), the scalars whose spelling
differs are printed a second time with torch's functions, so that nothing is
read back to the host (:func:`scalar_lines`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

__all__ = ["ScalarPrinter", "scalar_lines"]


# math's functions that the array module (torch) has under the same name, taking one array: a count's own spelling.
_DEVICE_FUNCTIONS = frozenset({
    "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1", "floor",
    "lgamma", "log", "log10", "log1p", "log2", "sin", "sinh", "sqrt", "tan", "tanh",
})


class ScalarPrinter(PythonCodePrinter):
    """Python scalars with ``math``: the step's own numbers (t, 1/(1 − β₁ᵗ), η(t)) in an eager backend.

    ``torch.cos`` takes no Python float, and ``numpy.cos`` would return a
    float64 scalar that promotes a float32 network's arithmetic; ``math.cos``
    gives a Python float, which both treat as weak. A remainder a mod b is
    printed as a − b·⌊a/b⌋ with ``//`` (``((t + 6) - (7)*((t + 6) // (7)))``,
    Python's ``%`` for the whole numbers of a step schedule): torch.compile
    fails on ``%`` of a count it traces as a dynamic integer.

    With ``functions="torch"`` and ``tensors`` (the symbols that are 0-d
    tensors on the device: the step count and what is computed from it), what
    reads a tensor is printed with the array module's functions, so that
    nothing is read back to the host: cos(t) as ``torch.cos(t)``, min(a, b)
    as ``torch.minimum(a, b)`` (``torch.clamp(a, max=b)`` with b a number),
    a Piecewise as nested ``torch.where``, ``&``, ``|``, ``~`` for its
    conditions, sign as ``torch.sign``. A Piecewise whose values are all
    numbers selects from ``torch.full_like(like, value)``: a value in the
    dtype of ``like`` (the count in the params' dtype), not torch's default
    float32. What reads no tensor stays Python's; so do gamma and factorial
    (torch has no such function) and atan2 and hypot (torch's take two
    tensors), which read a tensor back.
    """

    def __init__(self, functions: str = "math", tensors: set[sp.Symbol] | None = None, like: str | None = None) -> None:
        super().__init__({"fully_qualified_modules": True})
        self.functions = functions  # the module of the functions (cos, floor …): "torch" for a count kept on the device
        self.tensors = set() if tensors is None else tensors  # grown by the caller as tensor scalars are named
        self.like = like
        self._node: sp.Basic | None = None  # the expression being printed (its math function's module follows it)

    def _print(self, expr: object, **kwargs: object) -> str:
        outer, self._node = self._node, expr if isinstance(expr, sp.Basic) else self._node
        try:
            return super()._print(expr, **kwargs)
        finally:
            self._node = outer

    def on_device(self, expr: sp.Basic) -> bool:
        """Whether ``expr`` is a tensor: it reads one of ``tensors`` (printed with the array module's functions)."""
        return self.functions != "math" and bool(expr.free_symbols & self.tensors)

    def _module_format(self, fqn: str, register: bool = True) -> str:
        module, _, name = fqn.partition(".")
        node = self._node
        if module == "math" and name in _DEVICE_FUNCTIONS and node is not None and self.on_device(node):
            fqn = f"{self.functions}.{name}"
        return super()._module_format(fqn, register)

    def _print_Mod(self, expr: sp.Mod) -> str:
        a, b = (self._print(arg) for arg in expr.args)
        return f"(({a}) - ({b})*(({a}) // ({b})))"

    def _extremum(self, expr: sp.Expr, pair: str, bound: str) -> str:
        """Min/Max of tensors: ``torch.minimum`` of the tensors, then ``torch.clamp(…, max=)`` at Python's min of the rest."""
        tensors = [a for a in expr.args if self.on_device(a)]
        rest = [a for a in expr.args if not self.on_device(a)]
        code = self._print(tensors[0])
        for a in tensors[1:]:
            code = f"{self.functions}.{pair}({code}, {self._print(a)})"
        if rest:
            python = self.known_functions[type(expr).__name__]
            limit = self._print(rest[0]) if len(rest) == 1 else f"{python}({', '.join(self._print(a) for a in rest)})"
            code = f"{self.functions}.clamp({code}, {bound}={limit})"
        return code

    def _print_Min(self, expr: sp.Min) -> str:
        return self._extremum(expr, "minimum", "max") if self.on_device(expr) else super()._print_Min(expr)

    def _print_Max(self, expr: sp.Max) -> str:
        return self._extremum(expr, "maximum", "min") if self.on_device(expr) else super()._print_Max(expr)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if not self.on_device(expr):
            return super()._print_Piecewise(expr)
        *pieces, (last, last_cond) = expr.args
        if last_cond != sp.true:  # SymPy's value where no condition holds
            pieces, last = [*pieces, (last, last_cond)], sp.nan
        code, tensor, number = self._print(last), self.on_device(last), last.is_number
        for value, cond in reversed(pieces):
            if not self.on_device(cond):  # a Python bool: Python's conditional
                code = f"(({self._print(value)}) if ({self._print(cond)}) else ({code}))"
                tensor, number = tensor and self.on_device(value), number and value.is_number
                continue
            if not tensor and not self.on_device(value) and self.like is not None:
                # torch.where of two Python numbers would give torch's default dtype (float32)
                code = (f"{self.functions}.full_like({self.like}, {code})" if number
                        else f"({self.functions}.zeros_like({self.like}) + {code})")
            code, tensor = f"{self.functions}.where({self._print(cond)}, {self._print(value)}, {code})", True
        return code

    def _print_sign(self, expr: sp.sign) -> str:
        if not self.on_device(expr):
            return super()._print_sign(expr)
        return f"{self.functions}.sign({self._print(expr.args[0])})"

    def _logic(self, expr: sp.Basic, operator: str) -> str:
        return f" {operator} ".join(f"({self._print(a)})" for a in sorted(expr.args, key=sp.default_sort_key))

    def _print_And(self, expr: sp.And) -> str:
        return self._logic(expr, "&") if self.on_device(expr) else super()._print_And(expr)

    def _print_Or(self, expr: sp.Or) -> str:
        return self._logic(expr, "|") if self.on_device(expr) else super()._print_Or(expr)

    def _print_Not(self, expr: sp.Not) -> str:
        return f"~({self._print(expr.args[0])})" if self.on_device(expr) else super()._print_Not(expr)


def scalar_lines(values: Sequence[tuple[sp.Symbol, sp.Expr]], eager: Callable[[sp.Expr], str],
                  device: ScalarPrinter | None, on_device: str | None) -> list[str]:
    """``s = value`` for the step's scalars; where the step count may be a tensor on the device (``on_device``, the
    test of it) and the array library's spelling differs, both spellings: the count's own (torch.cos) and Python's
    (math.cos, which would read a device tensor back and cannot be captured). A line spelled alike both ways (and
    reading no scalar that is not) is printed once, before the test. A scalar computed from a tensor is a
    tensor: ``device`` learns its name before the next line is printed."""
    plain = [f"{s} = {eager(v)}" for s, v in values]
    if device is None or on_device is None:
        return plain
    shared: list[str] = []
    printed: list[tuple[str, str]] = []
    differs: set[sp.Basic] = set()
    for (s, v), python in zip(values, plain):
        line = f"{s} = {device.doprint(v)}"
        if device.on_device(v):
            device.tensors.add(s)
        if line == python and not (v.free_symbols & differs):  # one spelling for both: said once, before the test
            shared.append(line)
        else:
            differs.add(s)
            printed.append((line, python))
    if not printed:
        return shared
    return [*shared, f"if {on_device}:  # the step count kept on the device: the scalars computed there, nothing read back",
            *(f"    {line}" for line, _ in printed), "else:", *(f"    {python}" for _, python in printed)]
