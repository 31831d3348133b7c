"""Command outputs in README.md and docs/*.md, written by the commands themselves.

A generated block is marked in the Markdown file by the command that produces it::

    <!-- output: twinsim decompose rwanda_tpn --replicates 200 --table-format md -->
    ...what the command prints on stdout...
    <!-- /output -->

``python docs/gen_outputs.py --write`` runs every marked command (``twinsim`` is this checkout's, run as
``python -m twinsim``, from the repository root) and replaces each block's content with its stdout;
``--check`` (the default) exits 1 and names each block whose content differs. tests/test_generated_docs.py runs the
check, so a documented figure cannot go stale.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- output: (?P<command>.+?) -->\n)(?P<body>.*?)(<!-- /output -->)", re.S)


def blocks(text: str) -> list[re.Match[str]]:
    """The generated blocks of a Markdown text."""
    return list(BLOCK.finditer(text))


@functools.cache
def output(command: str) -> str:
    """What ``command`` prints on stdout (``twinsim`` or a ``python docs/...`` script, from this checkout).

    Each command runs once per process: the facts of docs/facts.py read the same outputs.
    """
    argv = shlex.split(command)
    if argv[0] == "twinsim":
        argv = [sys.executable, "-m", "twinsim", *argv[1:], "--quiet"]
    elif argv[0] == "python" and len(argv) == 2 and argv[1].startswith("docs/"):
        argv = [sys.executable, argv[1]]  # a script of docs/ that prints a table from a shipped file
    else:
        raise SystemExit(f"gen_outputs: only twinsim commands and docs/ scripts are run (got {command!r})")
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"gen_outputs: {command!r} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.rstrip() + "\n"


def refresh(path: Path, write: bool) -> list[str]:
    """Run the file's commands; return the stale ones (and rewrite the file when ``write``)."""
    text = path.read_text(encoding="utf-8")
    stale, pieces, last = [], [], 0
    for match in blocks(text):
        body = output(match["command"])
        if body != match["body"]:
            stale.append(match["command"])
        pieces += [text[last : match.start("body")], body]
        last = match.end("body")
    if write and stale:
        path.write_text("".join(pieces) + text[last:], encoding="utf-8")
    return stale


def main() -> None:
    """Check (or with --write, refresh) every generated block."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite stale blocks (default: only check)")
    args = parser.parse_args()
    stale = {path: refresh(path, args.write) for path in FILES}
    for path, commands in stale.items():
        for command in commands:
            print(f"{'updated' if args.write else 'stale'}: {path.relative_to(ROOT)}: {command}")
    if not args.write and any(stale.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
