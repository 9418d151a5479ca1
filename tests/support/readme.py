"""The README's shell blocks, as the README test runs them.

Every fenced ``sh`` (or ``bash``/``shell``) block runs as written. A block may carry one marker, an
HTML comment on the line right before its fence:

- ``<!-- readme-test: background PORT... -->``: it starts a server that runs until stopped. The test
  starts it in the background (fresh data dir, and the README ports listed fresh), waits until
  those ports answer (with no port: until the rest of its section has run, and it must still be
  running then), and stops it at the end of its section (the next heading).
- ``<!-- readme-test: skip: REASON -->``: not run; REASON must be one of ``SKIP_REASONS``.

The README's ports (``README_PORTS``) are rewritten to free ones, so a stack of the developer's
own on 8000/8080 never meets the test's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = {"sh", "bash", "shell"}
SKIP_REASONS = {"this is the test suite"}  # `make test` would run the test that runs it
# The ports the README names: the stack's cloud and gateway, a second gateway, a TCP simulator,
# a webhook receiver, the fleet stack's cloud, gateway and broker.
README_PORTS = (8000, 8080, 8081, 5000, 9000, 8001, 8082, 1883)
MARKER = re.compile(r"^<!--\s*readme-test:\s*(?P<body>.*?)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced shell block of the README."""

    line: int  # 1-based line of its opening fence
    section: str  # the heading it sits under
    text: str
    kind: str = "run"  # run, background or skip
    ports: tuple[int, ...] = ()  # background: README ports that answer when it is ready
    reason: str = ""  # skip: why

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.section}): {self.text.splitlines()[0]}"


def parse_marker(body: str, line: int) -> tuple[str, tuple[int, ...], str]:
    """``background 8000 8080`` or ``skip: reason`` -> (kind, ports, reason)."""
    if body.startswith("skip:"):
        return "skip", (), body.removeprefix("skip:").strip()
    words = body.split()
    if words and words[0] == "background" and all(w.isdigit() for w in words[1:]):
        ports = tuple(int(w) for w in words[1:])
        unknown = set(ports) - set(README_PORTS)
        if unknown:
            raise ValueError(f"README.md:{line}: ports {sorted(unknown)} are not in README_PORTS")
        return "background", ports, ""
    raise ValueError(f"README.md:{line}: unknown readme-test marker {body!r}")


def shell_blocks(readme: Path) -> list[Block]:
    """Every shell block in order, with its marker; a marker not followed by one is an error."""
    blocks: list[Block] = []
    lines = readme.read_text().splitlines()
    section, marker, fence_lang, start, body = "", None, None, 0, []
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if fence_lang is not None:  # inside a fence
            if line.strip() == "```":
                if fence_lang in SHELL_LANGUAGES:
                    kind, ports, reason = marker[0] if marker else ("run", (), "")
                    blocks.append(Block(start, section, "\n".join(body) + "\n", kind, ports,
                                        reason))
                elif marker:
                    raise ValueError(f"README.md:{marker[1]}: marker before a non-shell block")
                fence_lang, marker, body = None, None, []
            else:
                body.append(line)
            continue
        if fence:
            fence_lang, start = fence["lang"], number
            continue
        if marker:
            raise ValueError(f"README.md:{marker[1]}: a marker must sit right above a fence")
        if found := MARKER.match(line.strip()):
            marker = (parse_marker(found["body"], number), number)
        elif line.startswith("#"):
            section = line.lstrip("#").strip()
    return blocks


def rewrite_ports(text: str, ports: dict[int, int]) -> str:
    """The block with each README port replaced by the test's."""
    for old, new in ports.items():
        text = re.sub(rf"(?<![\d.]){old}(?!\d)", str(new), text)
    return text
