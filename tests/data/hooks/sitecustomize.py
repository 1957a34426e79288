"""Test hook: with HOLD_RENDER=<file>, ``scaffolder new`` touches <file> once the broker is
rendered in its scratch directory and then waits, so a test can signal it mid-generation."""

import os

if os.environ.get("HOLD_RENDER"):
    import pathlib
    import time

    import scaffolder.generate as _generate

    _real = _generate._check_rendered

    def _holding(out, name):
        _real(out, name)
        pathlib.Path(os.environ["HOLD_RENDER"]).touch()
        time.sleep(120)

    _generate._check_rendered = _holding
