"""The JAX network module runs data-parallel with jax.sharding: the docs' script on 4 CPU devices equals one device.

docs/scaling.md's ``scale_jax.py`` (batch norm, dropout and a penalty) shards each batch by rows over a mesh of
4 host devices, replicates the parameters and runs the module's jitted ``train_step_unchecked``; it asserts
the parameters after 3 steps equal one device's on the whole batch (rtol 1e-12, float64) and that XLA sums the
gradients with an all-reduce; here, that the printed loss falls over the steps (the example trains). It runs in
a new process: the device count is fixed when jax starts.
"""

from __future__ import annotations

import re

import pytest
from docs_scripts import run_docs_script

pytest.importorskip("jax")


@pytest.mark.slow
def test_the_docs_script_trains_sharded_over_4_devices_as_on_one(tmp_path):
    out = run_docs_script("scaling.md", "scale_jax.py", tmp_path, env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert out.count("on 4 devices") == 3  # three steps, each on the mesh of 4
    assert "X on each device: (16, 8) params: P()" in out  # 64 rows split in 4, the parameters whole on each
    losses = [float(v) for v in re.findall(r"loss (\S+) on 4 devices", out)]
    assert losses == sorted(losses, reverse=True) and losses[0] > losses[-1], out  # the example trains: the loss falls
