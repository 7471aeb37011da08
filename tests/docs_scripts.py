"""Run a script that a docs page shows in full ("Save as `NAME`:" then a python block) as a user would: a file, a new process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["run_docs_script"]

ROOT = Path(__file__).resolve().parent.parent


def run_docs_script(page: str, name: str, folder: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """The stdout of the block after "Save as `name`" on docs/``page``, run as ``python name`` in ``folder``; fails on exit ≠ 0.

    ``env`` adds to the environment; its ``PYTHONPATH``, if any, is searched before the repository and the caller's.
    """
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = re.search(rf"Save as `{re.escape(name)}`.*?```python\n(.*?)```", text, re.DOTALL)
    assert found, f"docs/{page} shows no script {name}"
    (folder / name).write_text(found.group(1))
    first = [env["PYTHONPATH"]] if env and "PYTHONPATH" in env else []
    environment = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([*first, str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, name], cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout
