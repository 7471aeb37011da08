"""A :class:`Backend`: everything that differs between array libraries when symdl prints code for one.

The generated code's mathematics is the same for every backend — it is
printed from the same SymPy expressions — and only its spelling differs:
the array module's name (``numpy``, ``jnp``, ``torch``), the dtype and
constant spelling, the imports, whether arrays may be written in place,
how random numbers are drawn (initialisation, dropout masks), how entry
points are wrapped (``jax.jit``, ``torch.no_grad``), how a custom gradient
is attached, and the runtime helpers (argument checks) the module carries.
Each backend is one subclass in one module, registered by
:func:`symdl.backends.register_backend`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ..codegen.module_text import dedented_source
from .runtime_keys import check_keys

__all__ = ["Backend", "emit_functions", "keys_block"]


def emit_functions(*functions: Callable[..., Any], names: Mapping[str, str] | None = None) -> str:
    """The source of ``functions``, dedented and separated by two blank lines: runtime helpers copied into a module.

    ``names`` renames whole identifiers (``{"_dtype": "_param_dtype"}``), outside attribute access.
    """
    text = "\n\n\n".join(dedented_source(f).strip("\n") for f in functions) + "\n"
    for old, new in (names or {}).items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, text)
    return text


def keys_block() -> str:
    """``_check_keys``, :func:`symdl.backends.runtime_keys.check_keys` as a generated module defines it: once, in the first
    runtime block (:meth:`Backend.network_runtime` and the like), for every later check of params or the state."""
    return emit_functions(check_keys, names={"check_keys": "_check_keys"})


class Backend:
    """How one array library spells the code symdl prints; subclass it and fill the hooks, then register it.

    Required (a subclass without them is refused by ``register_backend``):
    ``name``, ``module`` and ``printer_class``. The network-module hooks
    (``dtype_line``, ``network_runtime``, ``dropout_masks``, …) are needed
    only by :func:`symdl.export.network_modules.network_module_source`; the
    custom-gradient hooks only by :mod:`symdl.export.custom_gradient`. A
    hook a backend does not provide raises one clear error naming it.
    """

    #: The registry key and ``--backend`` choice ("jax").
    name: ClassVar[str] = ""
    #: The Python package that must be importable to run the generated code ("jax").
    library: ClassVar[str] = ""
    #: The array module as the generated code calls it ("jnp").
    module: ClassVar[str] = ""
    #: The printer class of element-wise expressions, and of last-axis index notation (softmax) or None.
    printer_class: ClassVar[type | None] = None
    index_printer_class: ClassVar[type | None] = None
    #: The library's name in prose ("JAX") and what its arrays are called ("JAX arrays").
    title: ClassVar[str] = ""
    noun: ClassVar[str] = "arrays"
    #: Element-wise calls may write into a dead buffer (``f(z, out=z)``).
    out_param: ClassVar[bool] = True
    #: ``multiply``, ``divide``, ``square`` and ``subtract`` as functions taking ``out=`` (None: updates are printed as expressions).
    out_functions: ClassVar[dict[str, str] | None] = None
    #: Arrays are immutable: updates are returned, not written in place (JAX).
    functional: ClassVar[bool] = False
    #: The import lines of a generated module.
    imports: ClassVar[tuple[str, ...]] = ()
    #: Import lines the network and graph modules' runtime checks read besides ``imports`` (JAX: numpy, for host data).
    runtime_imports: ClassVar[tuple[str, ...]] = ()
    #: The exclusive upper bound of a seed the library's generator takes, as printed ("2**31"), or None for any.
    seed_limit: ClassVar[str | None] = None
    #: Uniform draws for ``init_params``: (setup lines, draw template, constant template, generator prose).
    init_spelling: ClassVar[tuple[Sequence[str], str, str, str] | None] = None
    #: The last parameter of the printed training entry points when a layer draws masks, and its default.
    mask_parameter: ClassVar[str] = "seed=0"
    #: The dtype and tolerance ``symdl verify`` checks this backend's network modules in (None: not checked).
    verify_dtype: ClassVar[tuple[str, float] | None] = ("float64", 1e-10)

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "module", "printer_class")

    @classmethod
    def missing_hooks(cls) -> list[str]:
        """The required attributes this backend leaves empty."""
        return [hook for hook in cls.REQUIRED if not getattr(cls, hook, None)]

    def available(self) -> bool:
        """Whether the library the generated code imports is installed."""
        return importlib.util.find_spec(self.library or self.name) is not None

    def _unsupported(self, hook: str) -> NotImplementedError:
        return NotImplementedError(f"backend {self.name!r} does not provide {hook}")

    # --- printing ------------------------------------------------------------------------------------------------

    def printer(self, *, index: bool = False) -> Any:
        """A fresh printer of SymPy expressions in this library; ``index`` for last-axis index notation."""
        cls = self.index_printer_class if index else self.printer_class
        if cls is None:
            raise self._unsupported("an index-notation printer (softmax vector rules)" if index else "a printer")
        return cls()

    def kernel_constant(self, arg: str) -> str:
        """The ``_t = …`` line of a printed kernel: numbers as 0-d arrays of ``arg``'s dtype."""
        raise self._unsupported("kernel constants (_t)")

    # --- tensor creation: every array printed code makes comes from these hooks ----------------------------------

    def tensor_factory(self, kind: str, args: str, like: str) -> str:
        """A new array in printed code, ``kind`` being ``"ones"`` or ``"full"`` with the size arguments ``args``, in the
        module's dtype and where the array ``like`` lives (torch: ``device=like.device``; numpy and JAX: one device)."""
        return f"{self.module}.{kind}({args}, dtype=_dtype)"

    def mask_arguments(self, like: str) -> str:
        """What a training entry point passes to ``_masks`` after the seed: the batch size of ``like`` (torch: and its device)."""
        return f"{like}.shape[0]"

    def bind_constants(self, lines: Sequence[str], like: str) -> list[str]:
        """An entry point's body with the constant maker ``_t`` bound where ``like`` lives, if the body calls it.

        numpy and JAX use the module's ``_t``; torch binds ``_t`` to ``like``'s device after the line that unpacks the
        arguments, so a constant is never made on another device than the data.
        """
        return list(lines)

    def module_constant(self) -> str | None:
        """The module-level ``_t = …`` line (None: the entry points bind their own, see :meth:`bind_constants`)."""
        return f"_t = functools.partial({self.constant()}, dtype=_dtype)"

    def unchecked_entry_points(self, source: str, names: Sequence[str]) -> str | None:
        """``<name>_unchecked`` copies of the printed entry points ``names`` in ``source``, without argument checks, or None.

        JAX makes its unchecked functions in :meth:`entry_wrappers` (the jitted bodies); torch prints them here.
        """
        return None

    # --- network modules -----------------------------------------------------------------------------------------

    def dtype_line(self, dtype: np.dtype | str, target: str = "_dtype") -> str:
        """``_dtype = …`` (or ``target = …``): a dtype in this library's spelling; a name such as ``"bfloat16"`` where numpy has none."""
        raise self._unsupported("dtype_line")

    def mixed_runtime(self) -> list[str]:
        """Runtime helper blocks of a mixed-precision network module, in place of :meth:`network_runtime`'s: ``_check``
        (float32 masters checked, cast once to ``_dtype``), ``_masters(params)``, ``_master_grads(*grads)`` and the overflow helpers
        (see :mod:`symdl.export.mixed_precision`)."""
        raise self._unsupported("mixed precision (mixed_runtime)")

    def constant(self) -> str:
        """The callable that makes a constant array (bound as ``_t`` with ``dtype=_dtype``)."""
        raise self._unsupported("constant")

    def module_prelude(self, dtype: np.dtype) -> list[str]:
        """Lines a network module runs first when imported (JAX: switch on float64)."""
        return []

    def network_imports(self) -> list[str]:
        """Import lines of a network module (the standard library ones included)."""
        return ["import functools", "import numbers", "from collections.abc import Mapping", *self.imports, *self.runtime_imports]

    def network_runtime(self, seeded: bool) -> list[str]:
        """Runtime helper blocks of a network module: ``_batch``, ``_check_params`` (the arrays in order, which ``_check``
        and ``init_state`` call) and ``_check`` (what ``_check`` returns: see print_network).

        ``seeded``: a layer draws masks, so training entry points take a seed.
        """
        raise self._unsupported("network_runtime")

    def dropout_runtime(self) -> list[str]:
        """Runtime helper blocks a network with masks also needs, after ``_masks`` (JAX: the seed check)."""
        return []

    def batchnorm_scalars(self, eps: str, momentum: str) -> tuple[list[str], list[str]]:
        """The scalar lines of batch norm's functions: (m and ε in the forward ones, momentum and size in the update)."""
        return ["m = x.shape[0]", f"epsilon = {eps}"], [f"momentum = {momentum}", "size = m"]

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        """``_masks``: (its arguments, its body) — one Bernoulli(keep) mask per block in ``hidden`` for a batch of m rows.

        The backend's spelling of a mask draw; :meth:`symdl.layers.dropout_layer.Dropout.module_blocks` asks for it.
        """
        raise self._unsupported("dropout_masks")

    def entry_point(self, name: str) -> str:
        """What ``def NAME(`` of a printed entry point becomes (a decorator, or a renamed body that a wrapper calls)."""
        return f"def {name}("

    def entry_wrappers(self, seeded: bool, train_arguments: tuple[str, ...] = ("lr",)) -> str | None:
        """Source of public wrappers around the printed entry points (JAX: checks outside ``jax.jit``), or None.

        ``seeded``: the training entry points take ``seed=0`` (a layer draws masks); ``train_arguments``:
        what follows Y in ``train_step`` (``lr``, or ``state`` and unbound hyperparameters with an optimizer).
        """
        return None

    def init_placement(self) -> tuple[str, list[str]]:
        """``init_params``' arguments and its closing lines, which return the drawn dict ``params`` (JAX: on a device)."""
        return "seed=0", ["return params"]

    def device_count(self, count: str) -> str | None:
        """The test that an optimizer's step count ``count`` is an array on the device (its scalars then printed by
        this backend's printer, not with ``math``); None where a count is always a Python number."""
        return None

    def device_count_cast(self, count: str, like: str) -> str | None:
        """The step count ``count``, an array on the device, in the dtype of the parameter ``like``: what the step's
        scalars read (its bias corrections, η(t)); None where the count's own arithmetic needs no cast."""
        return None

    def store_state(self, state: str, key: str, value: str) -> str:
        """The statement of an in-place ``train_step`` that stores a new state value: ``state[key] = value``."""
        return f"{state}[{key!r}] = {value}"

    def state_scalar(self, literal: str, like: str, on_device: bool = False) -> str:
        """A global slot of ``init_state`` (the step t, a real scalar): ``literal``, or it placed with the array ``like``.

        ``on_device``: a 0-d array on ``like``'s device (the step count and ``like``'s dtype for a real), for a
        ``train_step`` that decides on the device whether the step happens (a loss-scaled step skipped on overflow).
        """
        if on_device:
            raise self._unsupported("state_scalar(on_device=True)")
        return literal

    def state_check(self, like: str) -> str:
        """train_step's check of the optimizer state, after params and the data (the input ``like``) are checked."""
        return "_check_state(state)"

    def optimizer_runtime(self) -> list[str]:
        """Runtime helper blocks of a module whose train_step applies an optimizer: ``_check_state`` (reads the module's
        ``_STATE``) and ``_check_hyper(name, value)``; ``_check_params`` comes with :meth:`network_runtime` (:meth:`graph_runtime`),
        ``_finite_real`` (which ``_check_hyper`` calls) with every module's ``_check_lr`` (:func:`symdl.export.standalone.lr_check_blocks`)."""
        raise self._unsupported("optimizer_runtime")

    def train_step_doc(self) -> str:
        """The docstring line saying how ``train_step`` changes ``params``."""
        return ("train_step(params, X, Y, lr): one step of gradient descent on the arrays of params, in place; "
                "returns the loss before it.")

    def network_module_class(self, seeded: bool, optimizer: bool, scaled: bool = False) -> list[str]:
        """Blocks of the library's module class in a network module (torch: ``Module``, a ``torch.nn.Module``), or none.

        ``seeded``: a layer draws masks; ``optimizer``: :meth:`optimizer_runtime`'s checks are already in the module;
        ``scaled``: a float16 module with a loss scale, whose ``_loss_and_grad_scaled`` takes the scale as an argument.
        """
        return []

    def graph_module_class(self, seeded: bool, inputs: Sequence[str], targets: Sequence[str], buffers: Sequence[str] = (),
                           scaled: bool = False) -> list[str]:
        """Blocks of the library's module class in a graph module (torch: ``Module``), or none.

        ``seeded``: the graph draws masks; ``inputs``, ``targets``: the names of the entry points' data arguments;
        ``buffers``: the names of the graph's buffers (batch norm's moving statistics); ``scaled``: as for networks.
        """
        return []

    def as_arrays(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        """numpy parameter arrays as this library's arrays (for ``symdl verify``)."""
        raise self._unsupported("as_arrays")

    # --- graph modules -------------------------------------------------------------------------------------------

    #: A normal draw for ``init_params`` of a graph module: template with {index}, {shape} and {std} (None: not provided).
    init_normal: ClassVar[str | None] = None

    def cast(self, code: str, dtype: str) -> str:
        """``code``'s array converted to the dtype named ``dtype`` (a module global such as ``_dtype``)."""
        return f"{code}.astype({dtype})"

    def stop_gradient(self, code: str) -> str:
        """``code``'s value with no derivative through it; ``code`` itself where nothing differentiates the printed code (numpy)."""
        return code

    def graph_masks(self, masks: Sequence[tuple[int, str, float]]) -> tuple[str, list[str]]:
        """``_masks``: (its arguments, its body) — a list with one (m, width) array per (width, draw, value) of ``masks``:
        ``"gaussian"`` (N(0, value²)) or ``"bernoulli"`` (1 with probability 1 − value, else 0), drawn from the seed."""
        raise self._unsupported("graph_masks")

    def graph_runtime(self, optimizer: bool) -> list[str]:
        """Runtime helper blocks of a graph module: ``_check`` and ``_check_forward`` (functional: ``_unpack`` …) with
        what they call; ``optimizer``: also ``_check_state`` and ``_check_hyper``."""
        raise self._unsupported("graph_runtime")

    def graph_mixed_runtime(self, optimizer: bool) -> list[str]:
        """Runtime helper blocks of a mixed-precision graph module, in place of :meth:`graph_runtime`'s: the checks of the
        float32 masters and data, ``_check``/``_unpack`` casting them once to ``_dtype``, ``_masters``, ``_master_grads`` and
        the overflow helpers (see :mod:`symdl.backends.runtime_graph_mixed`)."""
        raise self._unsupported("mixed precision (graph_mixed_runtime)")

    def master_block(self, block: str) -> str:
        """A block printed for ``_dtype`` (``init_params``, ``_masks``) as a mixed-precision module runs it: in float32
        (``_param_dtype``), so that the masters and the masks are the float32 module's numbers."""
        return re.sub(r"(?<![\w.])_dtype\b", "_param_dtype", block)

    def graph_entry_wrappers(self, entries: Sequence[tuple[str, str, str, bool]]) -> str | None:
        """Public wrappers around a graph module's printed entry points (JAX: checks outside ``jax.jit``), or None.

        ``entries``: (name, the printed body's arguments, the data arrays, whether it takes a seed).
        """
        return None

    # --- fit inside network and graph modules (symdl.export.module_fit) ------------------------------------------

    def fit_imports(self) -> list[str]:
        """Import lines of a module's ``fit``: ``sys`` and ``time`` (the status bar), ``functools`` (the loss mean's
        constants) and numpy (the shuffle: numpy's Generator, so every backend trains on the same batches)."""
        return ["import functools", "import sys", "import time", "import numpy"]

    def fit_runtime(self) -> list[str]:
        """Runtime helper blocks of a module's ``fit``: ``_fit_snapshot(params)`` (a copy, for restore_best_weights) and
        ``_fit_restore(params, saved)`` (the copy put back in params, returned), ``_fit_target(y, prediction)`` (a
        target batch where the printed metrics read it with the prediction). A backend without them prints no ``fit``."""
        raise self._unsupported("fit (fit_runtime)")

    # --- custom-gradient functions -------------------------------------------------------------------------------

    def custom_gradient_helpers(self) -> str:
        """Runtime helpers of a custom-gradient module: ``_prepare``, ``_finish``, ``_unbroadcast`` …"""
        raise self._unsupported("custom-gradient functions")

    def custom_gradient_wrapper(self, plan: Any) -> str:
        """The function with the symbolic derivative attached as its gradient, for a plan of the rule's kernels."""
        raise self._unsupported("custom-gradient functions")

    def custom_gradient_public(self, plan: Any) -> list[str]:
        """Extra public names of a custom-gradient module (torch: the ``autograd.Function`` class)."""
        return []

    def __repr__(self) -> str:
        return f"<symdl backend {self.name!r} ({self.module})>"
