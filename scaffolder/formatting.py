"""Formatting rendered Python with the project's ruff, only where a line needs it.

The template renders formatted code for names and URLs of ordinary length; only a file with a
line longer than any ruff setting allows is given to ``ruff format`` (one run for a batch).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path


def _ruff() -> str | None:
    """The ruff executable of this environment (or on PATH), or None when there is none."""
    import importlib.util

    if importlib.util.find_spec("ruff") is not None:
        try:
            from ruff.__main__ import find_ruff_bin

            return str(find_ruff_bin())
        except (ImportError, FileNotFoundError):
            pass
    return shutil.which("ruff")


def format_python(staged: Path, root: Path) -> None:
    """``ruff format`` the rendered Python with the project's settings, where ruff is installed.

    The template's output is already formatted for names and URLs of ordinary length; a very
    long name or URL makes lines ruff would wrap, and only files with such lines are given to
    ruff (one run for a whole batch). Without ruff (a project that does not use it) the files
    stay as rendered: valid, just unwrapped.
    """
    sources = sorted(str(p) for p in staged.rglob("*.py") if _may_need_formatting(p))
    ruff = _ruff() if sources else None
    if ruff is None:
        return
    done = subprocess.run(
        [ruff, "format", "--quiet", *sources], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:  # e.g. the project's ruff settings are broken: say so, go on
        logging.getLogger(__name__).warning(
            "ruff format failed, the broker is written as rendered: %s", done.stderr.strip()
        )


#: ruff's default line length: code within it is left alone by any ruff setting in use.
_SAFE_LINE_LENGTH = 88


def _may_need_formatting(path: Path) -> bool:
    """Whether a code line (docstrings aside: formatters leave them) is longer than any ruff
    setting needs; only then is ruff run, so an ordinary render costs no subprocess."""
    import io
    import tokenize

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if all(len(line) <= _SAFE_LINE_LENGTH for line in lines):
        return False
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    statement: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skip and token.type != tokenize.ENDMARKER:
            statement.append(token)
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) and statement:
            docstring = len(statement) == 1 and statement[0].type == tokenize.STRING
            rows = range(statement[0].start[0], statement[-1].end[0] + 1)
            if not docstring and any(len(lines[row - 1]) > _SAFE_LINE_LENGTH for row in rows):
                return True
            statement = []
    return False
