"""``python -m scaffolder.validate_hook PATH...``: ``scaffolder validate`` for pre-commit.

The same checks, report and exit codes as ``scaffolder validate`` (it calls the same functions
of :mod:`scaffolder.validate`), started without the click command line: importing click and
every command's options costs more than checking a commit's configs. It reads only what
pre-commit passes (file names, and ``--format text|json`` / ``--no-ccxt-checks`` from a hook's
``args``); anything else (``--help``, an unknown option, no path, a path that names nothing)
is handed to ``scaffolder validate`` itself, so messages and usage errors are the command's.
"""

from __future__ import annotations

import sys


def _parse(argv: list[str]) -> tuple[list[str], str, bool] | None:
    """(paths, format, semantic) when ``argv`` holds only what this entry reads, else None."""
    paths: list[str] = []
    output_format, semantic = "text", True
    args = iter(argv)
    only_paths = False
    for arg in args:
        if only_paths or not arg.startswith("-") or arg == "-":
            paths.append(arg)
        elif arg == "--":
            only_paths = True
        elif arg == "--no-ccxt-checks":
            semantic = False
        elif arg == "--format" or arg.startswith("--format="):
            value = arg.partition("=")[2] if "=" in arg else next(args, None)
            if value not in ("text", "json"):
                return None
            output_format = value
        else:
            return None
    return (paths, output_format, semantic) if paths else None


def main(argv: list[str] | None = None) -> int:
    """Validate the configs named in ``argv``; 0 all valid, 1 any invalid, 2 usage error."""
    argv = sys.argv[1:] if argv is None else argv
    parsed = _parse(argv)
    if parsed is not None:
        from scaffolder.errors import ScaffolderError
        from scaffolder.validate import check_file, expand, render_json, render_text

        paths, output_format, semantic = parsed
        try:
            reports = [check_file(f, semantic=semantic) for f in expand(paths)]
        except Exception as exc:
            # The runtime's error tree only now: importing it costs valid files a twentieth.
            from brokers.errors import BrokerError

            if not isinstance(exc, (ScaffolderError, BrokerError)):
                raise
            # the command says what is wrong, in its words
        else:
            render = render_json if output_format == "json" else render_text
            sys.stdout.write(render(reports) + "\n")
            return 0 if all(r.ok for r in reports) else 1
    from scaffolder.cli import main as command

    command(["validate", *argv], prog_name="scaffolder")  # exits with the command's code
    return 2


if __name__ == "__main__":
    sys.exit(main())
