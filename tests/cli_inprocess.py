"""Run `nazorat ...` in this test process: `mission.cli.main(argv)` with the environment,
standard input, output and error of a command-line run, as a `subprocess.CompletedProcess`.

A `python -m mission.cli` subprocess pays for the interpreter and every import at each run
(a second or more on a loaded machine), so a test that runs the CLI many times does that
here and keeps one real subprocess run as the proof that the entry point works. What main()
changes in this process is put back: the environment (it pops secrets before `serve`), the
root logger's level and handlers (`logs.configure`), and the standard streams.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from unittest import mock

from mission import cli
from mission.auth.passwords import FAST_HASHING_ENV


def command_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any NAZORAT_ setting or DATABASE_URL of the
    developer's, plus `extra` (what an operator's shell would give the command)."""
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("NAZORAT_") or k == FAST_HASHING_ENV) and k != "DATABASE_URL"}
    env.update(extra)
    return env


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)


def run_cli(argv: list[str], env: Mapping[str, str],
            stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`nazorat *argv` with exactly `env` as its environment; argparse's exits count as the
    exit code, as they would for the process."""
    out, err = io.StringIO(), io.StringIO()
    with (mock.patch.dict(os.environ, env, clear=True), _root_logger_kept(),
          mock.patch.object(sys, "stdin", io.StringIO(stdin)),
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(err)):
        try:
            code = cli.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
    return subprocess.CompletedProcess(["nazorat", *argv], code, out.getvalue(), err.getvalue())
