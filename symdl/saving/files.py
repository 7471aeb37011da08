"""A network as a saved model: its architecture and metrics described in model.json, rebuilt from it.

The directory, the header and the arrays are :mod:`symdl.saving.container`'s
(shared with graphs, :mod:`symdl.graph.files`); :func:`symdl.save` and
:func:`symdl.load` (:mod:`symdl.saving.models`) call these for a network.
The architecture is :func:`symdl.saving.describe.describe_network`'s
(formulas as text, read back through the safe parser, rule parameters exact).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..network.compiled import CompiledNetwork
from .container import SavedModel, read_header, read_params, write_model
from .describe import describe_network, rebuild_network
from .schema import SavedModelError
from .state import describe_metrics, rebuild_metrics

__all__ = ["FORMAT", "FORMAT_VERSION", "network_from_config", "save_network"]

FORMAT = "symdl-model"
FORMAT_VERSION = 1


def save_network(path: str | os.PathLike[str], network: CompiledNetwork, params: dict[str, Any],
                 state: dict[str, Any] | None = None, metrics: Sequence[Any] = (), *,
                 history: dict[str, Any] | None = None) -> Path:
    """Write ``network`` (architecture, optimizer), ``params``, the optimizer ``state`` and ``metrics`` to ``path``."""
    return write_model(path, network, describe_network(network.network), describe_metrics(metrics), params, state,
                       history, FORMAT)


def network_from_config(folder: Path, config: dict[str, Any]) -> SavedModel:
    """The network saved in ``folder`` with the checked model.json ``config``, rebuilt, its arrays read and checked."""
    dtype, opt = read_header(config)
    try:
        network = rebuild_network(config["network"], **({"optimizer": opt} if opt is not None else {})).compile(dtype)
    except SavedModelError:
        raise
    except (ValueError, TypeError) as error:
        raise SavedModelError(f"network: {str(error).splitlines()[0]}") from None
    metrics = rebuild_metrics(config["metrics"])
    params, state = read_params(folder, config, network)
    return SavedModel(network, params, state, metrics, config)
