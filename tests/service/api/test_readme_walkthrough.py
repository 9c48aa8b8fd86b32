"""The README's API walk-through, run as written against `homevisit serve`.

The shell blocks of the section "The API, step by step" are run one after another in bash (with
curl), against a real `homevisit serve` on a free port with a fresh embedded database, and each
answer the README shows after a block is compared with what the block printed. The README and
the service cannot drift apart: a changed field, status or message fails here.

In an answer of the README, ``…`` stands for any text; a JSON answer lists a subset of the keys
(and the first items of a list) that the real answer must have with those values.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
SECTION = "### The API, step by step"
README_API = "http://127.0.0.1:8000"
ELLIPSIS = "…"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl"),
]


@dataclass
class Step:
    """A shell block of the walk-through and the answers shown after it."""

    script: str
    answers: list[tuple[str, str]] = field(default_factory=list)  # (language, text)


def walkthrough_steps(text: str) -> list[Step]:
    """The ``sh`` blocks of the section and the ``json``/``text`` blocks after each."""
    start = text.index(SECTION)
    end = text.find("\n## ", start)
    section = text[start : end if end != -1 else len(text)]
    steps: list[Step] = []
    for language, body in re.findall(r"```(\w+)\n(.*?)```", section, re.DOTALL):
        if language == "sh":
            steps.append(Step(body))
        else:
            assert steps, "an answer before any command"
            steps[-1].answers.append((language, body))
    return steps


def glob_match(expected: str, actual: str) -> bool:
    """``expected`` with ``…`` standing for any text (possibly empty) equals ``actual``."""
    pattern = ".*".join(re.escape(part) for part in expected.split(ELLIPSIS))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def json_match(expected: Any, actual: Any, where: str = "answer") -> list[str]:
    """Where ``actual`` differs from what the README shows (empty when it matches)."""
    if isinstance(expected, str) and ELLIPSIS in expected:
        return [] if glob_match(expected, str(actual)) else [f"{where}: {actual!r} !~ {expected!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        errors = []
        for key, value in expected.items():
            if key not in actual:
                errors.append(f"{where}: no key {key!r}")
            else:
                errors += json_match(value, actual[key], f"{where}.{key}")
        return errors
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) < len(expected):
            return [f"{where}: {actual!r} has fewer items than {expected!r}"]
        return [
            error
            for i, item in enumerate(expected)
            for error in json_match(item, actual[i], f"{where}[{i}]")
        ]
    return [] if expected == actual else [f"{where}: {actual!r} != {expected!r}"]


def printed_items(output: str) -> list[Any]:
    """What a block printed: JSON documents, and lines of text between them."""
    items: list[Any] = []
    decoder = json.JSONDecoder()
    position = 0
    while position < len(output):
        if output[position].isspace():
            position += 1
            continue
        if output[position] in "{[":
            try:
                document, position = decoder.raw_decode(output, position)
                items.append(document)
                continue
            except json.JSONDecodeError:
                pass
        end = output.find("\n", position)
        end = len(output) if end == -1 else end
        items.append(output[position:end].lstrip("\ufeff"))
        position = end
    return items


def check_answers(step: Step, output: str) -> list[str]:
    """Each answer of ``step`` against the next printed items, in order."""
    items = printed_items(output)
    errors: list[str] = []
    for language, body in step.answers:
        if language == "json":
            documents = [i for i in items if not isinstance(i, str)]
            if not documents:
                return [f"no JSON printed for {body.strip()[:60]}..."]
            first = items.index(documents[0])
            errors += json_match(json.loads(body), documents[0])
            items = items[first + 1 :]
        else:
            for line in body.strip("\n").splitlines():
                while items and not isinstance(items[0], str):
                    actual = json.dumps(items[0], ensure_ascii=False, separators=(",", ":"))
                    items[0] = actual
                if not items:
                    errors.append(f"nothing printed for {line!r}")
                    break
                actual = items.pop(0)
                if not glob_match(line, actual):
                    errors.append(f"{actual!r} !~ {line!r}")
    return errors


def test_the_readme_walkthrough_parses_into_commands_and_answers() -> None:
    """The section exists and every command block that prints something shows its answer."""
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    assert len(steps) >= 8
    assert all(step.answers for step in steps)
    joined = "".join(step.script for step in steps)
    for call in ("/auth/token", 'POST "$API/plans"', "/plan-jobs/", "/pins", "/resolve"):
        assert call in joined, call
    for call in ("/approve", "/export", "/imports"):
        assert call in joined, call


def test_an_answer_that_differs_from_the_readme_is_caught() -> None:
    """The comparison fails on a changed value, a missing key or a message of another shape."""
    shown = {"status": "approved", "revision": "…", "routes": [{"clinician_id": "MH03-…"}]}
    real = {"status": "approved", "revision": 3, "routes": [{"clinician_id": "MH03-T1-D"}, {}]}
    assert json_match(shown, real) == []
    assert json_match(shown, real | {"status": "draft"}) == ["answer.status: 'draft' != 'approved'"]
    assert json_match(shown, {"status": "approved", "routes": []}) != []
    assert glob_match('{"detail":"plan … is approved"}', '{"detail":"plan 7 is approved"}')
    assert not glob_match('{"detail":"plan … is approved"}', '{"detail":"plan 7 is a draft"}')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`homevisit serve` on a free port with a fresh embedded database; (URL, environment)."""
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOMEVISIT_DATA_DIR": str(tmp_path / "data"),
        "HOMEVISIT_GEOCODER": "none",
        "HOMEVISIT_SOLVE_WORKERS": "1",
        "HOMEVISIT_ACCESS_LOG": "0",
    }
    env.pop("HOMEVISIT_DATABASE_URL", None)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(bin_dir / "homevisit"), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120  # the first start loads the sample centre
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/openapi.json", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "homevisit serve did not answer"
                time.sleep(0.5)
        yield url, env
    finally:
        os.killpg(server.pid, signal.SIGINT)  # the server's own process group, as Ctrl-C does
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_readme_walkthrough_runs_as_written(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Every command of the walk-through works against the service and answers as shown."""
    url, env = served
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    marker = "@@step"
    script = ["set -euo pipefail"]
    for number, step in enumerate(steps):
        script.append(f"echo '{marker} {number}'")
        script.append(step.script.replace(README_API, url))
    work = tmp_path / "work"  # a folder like the repository's root, without its files
    work.mkdir()
    (work / "scenarios").symlink_to(ROOT / "scenarios")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    outputs = re.split(rf"^{marker} \d+\n", result.stdout, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(steps)
    for number, (step, output) in enumerate(zip(steps, outputs, strict=True)):
        errors = check_answers(step, output)
        assert not errors, f"step {number}:\n{step.script}\nprinted:\n{output}\n" + "\n".join(
            errors
        )
