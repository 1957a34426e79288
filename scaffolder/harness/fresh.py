"""Brokers generated fresh from the template, loaded for the reliability runs.

The committed brokers carry hand edits; a claim about brokers must also hold for what the
template generates today. :func:`scaffolder.fresh_project.fresh_project` renders them into a
throwaway project (the generator's layer: the harness does not import it), and
:func:`fresh_broker_class` loads one of them under a module name of its own
(``fresh_<name>_broker``), so it lives beside the committed broker of the same name in one
interpreter. The runtime (``brokers``) is this repository's: only the generated package
differs.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

_LOADING = threading.Lock()
#: The suffix that tells a fresh broker's name in the runs (``binance-fresh``).
FRESH_SUFFIX = "-fresh"


def fresh_broker_class(project: Path, name: str) -> Any:
    """The broker class generated for ``name`` in ``project`` (not the committed one)."""
    module_name = f"fresh_{name}_broker_{abs(hash(project)) % 10**8}"
    with _LOADING:  # the runs load brokers from several threads at once
        module = sys.modules.get(module_name)
        if module is None:
            path = project / "brokers" / name / "broker.py"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load the fresh broker {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise
    [class_name] = [
        n
        for n, v in vars(module).items()
        if isinstance(v, type) and n.endswith("Broker") and v.__module__ == module_name
    ]
    return getattr(module, class_name)


def exchange_of(broker: str) -> str:
    """The exchange (and committed broker name) of a run's broker name."""
    return broker.removesuffix(FRESH_SUFFIX)
