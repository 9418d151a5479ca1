"""Every shell block of the README runs as written against a started stack, so it cannot drift.

The stack is the README's own `make run` block (the background block serving the stack's ports
8000 and 8080), started on free ports in a temp data dir and kept until the end; later blocks find
its URLs and credentials in ``$BERTH_DATA_DIR/stack.json`` as the README shows. Each block runs
under ``bash -euo pipefail`` in a scratch copy of the checkout (files it writes stay there);
markers and port rewriting: ``tests/support/readme.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.stack import STACK_FILE, StackInfo, running
from tests.conftest import _free_port
from tests.support.readme import (
    README_PORTS,
    SKIP_REASONS,
    Block,
    rewrite_ports,
    shell_blocks,
)

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
VENV_BIN = Path(sys.executable).parent
STACK_PORTS = (8000, 8080)  # cloud and gateway of `make run`
READY_BOUND = 180.0  # seconds; generous: the machine may be busy, we poll for the condition


def _wait(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes],
          log: Path) -> None:
    deadline = time.monotonic() + READY_BOUND
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready after {READY_BOUND} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started (make and its children), then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Background:
    block: Block
    proc: subprocess.Popen[bytes]
    log: Path


class ReadmeRun:
    """The scratch checkout, the environment and the background servers of one README run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.work = tmp / "checkout"
        self.work.mkdir()
        for entry in REPO.iterdir():  # the checkout as a user has it; writes stay in tmp
            if entry.name not in (".git", "var", ".venv"):
                (self.work / entry.name).symlink_to(entry)
        (self.work / ".venv").symlink_to(VENV_BIN.parent)  # the venv running these tests
        self.data = tmp / "stack"
        self.ports = {port: _free_port() for port in README_PORTS}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BERTH_", "MAKE", "MFLAGS")) or k == "BERTH_REQUIRE_POSTGRES"}
        env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", BERTH_MDNS="false")
        self.env = env
        self.background: list[Background] = []
        self.stack: subprocess.Popen[bytes] | None = None

    def block_env(self, data_dir: Path, ports: dict[int, int]) -> dict[str, str]:
        return dict(self.env, BERTH_DATA_DIR=str(data_dir), BERTH_CLOUD_PORT=str(ports[8000]),
                    BERTH_GATEWAY_PORT=str(ports[8080]))

    def start_stack(self, block: Block) -> None:
        """`make run`, on the test's ports: ready once stack.json is written and both answer."""
        assert self.stack is None, f"{block}: a second stack"
        log = self.tmp / "stack.log"
        with log.open("wb") as out:
            self.stack = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", rewrite_ports(block.text, self.ports)],
                cwd=self.work, env=self.block_env(self.data, self.ports), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        stack_file = self.data / STACK_FILE
        _wait(lambda: stack_file.exists() and running(StackInfo.load(stack_file)), str(block),
              self.stack, log)

    def run(self, block: Block) -> None:
        assert self.stack is not None, f"{block} runs before the README starts the stack"
        text = rewrite_ports(block.text, self.ports)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=self.work,
                              env=self.block_env(self.data, self.ports), capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, (
            f"{block} exited with {done.returncode}\n--- block as run:\n{text}"
            f"--- stdout:\n{done.stdout[-3000:]}\n--- stderr:\n{done.stderr[-3000:]}")

    def start_background(self, block: Block) -> None:
        """The block's own data dir; the stack's ports it waits on become fresh ones."""
        ports = dict(self.ports)
        ports.update({p: _free_port() for p in block.ports if p in STACK_PORTS})
        data = self.tmp / f"background-{block.line}"
        log = self.tmp / f"background-{block.line}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c",
                                     rewrite_ports(block.text, ports)],
                                    cwd=self.work, env=self.block_env(data, ports), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append(Background(block, proc, log))
        _wait(lambda: all(_answers(ports[p]) for p in block.ports), str(block), proc, log)

    def stop_background(self) -> None:
        """End of a section: its servers must still be running; stop them."""
        running_ones, self.background = self.background, []
        for bg in running_ones:
            alive = bg.proc.poll() is None
            _stop(bg.proc)
            assert alive, (f"{bg.block} exited with {bg.proc.returncode}:\n"
                           f"{bg.log.read_text()[-3000:]}")

    def close(self) -> None:
        for bg in self.background:
            _stop(bg.proc)
        if self.stack is not None:
            _stop(self.stack)


@pytest.fixture
def readme_run(tmp_path: Path) -> Iterator[ReadmeRun]:
    for tool in ("curl", "jq", "make"):
        assert shutil.which(tool), f"the README's walk-throughs need {tool}: apt-get install {tool}"
    stamp = VENV_BIN.parent / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < (REPO / "pyproject.toml").stat().st_mtime:
        # `make run` in the scratch checkout would reinstall Berth from there
        pytest.skip("the README's `make` blocks need the venv that `make` installed: run "
                    "`make test`")
    run = ReadmeRun(tmp_path)
    try:
        yield run
    finally:
        run.close()


@pytest.mark.timeout(900)
def test_every_readme_shell_block_runs_as_written(readme_run: ReadmeRun) -> None:
    blocks = shell_blocks(README)
    section = None
    for block in blocks:
        if block.section != section:
            readme_run.stop_background()
            section = block.section
        if block.kind == "skip":
            continue
        if block.kind == "background" and set(block.ports) >= set(STACK_PORTS):
            readme_run.start_stack(block)
        elif block.kind == "background":
            readme_run.start_background(block)
        else:
            readme_run.run(block)
    readme_run.stop_background()


def test_readme_markers_are_the_documented_ones() -> None:
    blocks = shell_blocks(README)  # an unknown or misplaced marker raises here
    assert {b.reason for b in blocks if b.kind == "skip"} <= SKIP_REASONS
    assert sum(b.kind == "run" for b in blocks) >= 3
    assert any(b.kind == "background" and set(b.ports) >= set(STACK_PORTS)
               and "make run" in b.text for b in blocks)


def test_the_block_parser_refuses_what_it_cannot_honour(tmp_path: Path) -> None:
    cases = {
        "unknown marker": "<!-- readme-test: maybe -->\n```sh\ntrue\n```\n",
        "marker before prose": "<!-- readme-test: background -->\ntext\n```sh\ntrue\n```\n",
        "marker on a python block": "<!-- readme-test: background -->\n```python\npass\n```\n",
        "unlisted port": "<!-- readme-test: background 9999 -->\n```sh\ntrue\n```\n",
    }
    for what, text in cases.items():
        readme = tmp_path / "README.md"
        readme.write_text(text)
        with pytest.raises(ValueError):
            shell_blocks(readme)
        assert what
    readme.write_text("# A\n<!-- readme-test: skip: why -->\n```sh\nmake test\n```\n"
                      "## B\n```bash\necho 8000 18000\n```\n")
    skip, run = shell_blocks(readme)
    assert (skip.kind, skip.reason, skip.section) == ("skip", "why", "A")
    assert (run.kind, run.section) == ("run", "B")
    assert rewrite_ports(run.text, {8000: 1234}) == "echo 1234 18000\n"
