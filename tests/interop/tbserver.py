"""The real ``tensorboard`` server on a small, static log dir, for tests.

    with tensorboard_server(logdir, load_fast=True) as server:
        runs = server.get_json("data/runs")
        points = server.get_json("data/plugin/scalars/scalars", run="train", tag="loss")

It runs ``<venv>/bin/tensorboard`` (the one next to ``sys.executable``) in a process group of
its own, with ``--host 127.0.0.1 --port 0`` (the OS picks a free port: no race between picking
one and binding it) and ``--reload_interval 0``, so the log dir is loaded exactly once and
nothing changes under a test after that. The server is ready when it serves HTTP *and* has
finished that one load, which each loader tells in its own way:

- Python loader (``load_fast=False``): ``--reload_task blocking`` makes TensorBoard load every
  run before it even builds its HTTP server, so serving implies loaded.
- Rust data server (``load_fast=True``): with ``--reload_interval 0`` TensorBoard starts the
  data server with ``--reload=once``, and with ``--verbosity 0`` (absl's INFO) it also passes
  ``--verbose``, so the data server logs ``Finished load cycle`` on the stderr it shares with
  TensorBoard once every run is committed. Serving is not enough here: TensorBoard starts
  serving as soon as the data server answers, possibly before the load cycle ends.

Serving is TensorBoard's own ``TensorBoard X at http://127.0.0.1:PORT/`` line, confirmed by a
``GET data/runs`` that answers 200. Both signals are read from the server's output (a file,
so a chatty server can never block on a full pipe); no sleeping on a guess. On exit the whole
process group (TensorBoard and its data server) gets SIGTERM, then SIGKILL; if the server
does not come up, :class:`TensorBoardStartError` carries everything it printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

TENSORBOARD = os.path.join(os.path.dirname(sys.executable), "tensorboard")
_SERVING = re.compile(r"TensorBoard \S+ at (http://127\.0\.0\.1:\d+/)")
_LOADED = "Finished load cycle"  # rustboard_core::cli, with --verbose


class TensorBoardStartError(RuntimeError):
    """TensorBoard exited or did not get ready in time; the message has its output."""


def skip_unless_tensorboard() -> None:
    """pytest.skip (at module level too) unless tensorboard and its launcher are installed."""
    pytest.importorskip("tensorboard")
    if not os.access(TENSORBOARD, os.X_OK):
        pytest.skip(f"no tensorboard launcher next to {sys.executable}", allow_module_level=True)


class TensorBoardServer:
    """A running TensorBoard: its ``url`` and small HTTP helpers relative to it."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: str, load_fast: bool) -> None:
        self.process = process
        self.log_path = log_path
        self.load_fast = load_fast
        self.url = ""  # http://127.0.0.1:PORT/, once serving

    def output(self) -> str:
        """Everything TensorBoard and its data server printed so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def _url(self, route: str, params: dict[str, Any]) -> str:
        url = self.url + route.lstrip("/")
        return url + ("?" + urllib.parse.urlencode(params) if params else "")

    def get_bytes(self, route: str, timeout: float = 30, **params: Any) -> bytes:
        """GET ``route`` (e.g. ``data/plugin/images/individualImage``) with query ``params``."""
        with urllib.request.urlopen(self._url(route, params), timeout=timeout) as response:
            data: bytes = response.read()
            return data

    def get_json(self, route: str, timeout: float = 30, **params: Any) -> Any:
        return json.loads(self.get_bytes(route, timeout=timeout, **params))

    def post_json(self, route: str, form: dict[str, Any], timeout: float = 30) -> Any:
        """POST ``form`` url-encoded (values that are not str are sent as JSON) and decode the JSON answer.

        The time series plugin takes its queries so: ``post_json("data/plugin/timeseries/timeSeries",
        {"requests": [{"plugin": "scalars", "tag": "loss", "run": "train"}]})``.
        """
        body = urllib.parse.urlencode(
            {key: value if isinstance(value, str) else json.dumps(value) for key, value in form.items()}
        ).encode()
        request = urllib.request.Request(
            self._url(route, {}),
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def _ready(self) -> bool:
        output = self.output()
        match = _SERVING.search(output)
        if match is None or (self.load_fast and _LOADED not in output):
            return False
        self.url = match.group(1)
        try:
            self.get_bytes("data/runs", timeout=5)
        except (OSError, urllib.error.URLError):
            return False
        return True

    def _stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after 10 s; then wait for the group to be gone."""
        pgid = self.process.pid  # start_new_session: the group's id is the leader's pid
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:  # the data server is not our child: poll for it
                if not live_processes(pgid):
                    return
                time.sleep(0.05)


def live_processes(pgid: int) -> list[int]:
    """The pids in process group ``pgid`` that still run (zombies excluded).

    When TensorBoard exits, its data server is reparented to PID 1 and, once dead, stays a
    zombie until PID 1 reaps it, which some container inits do only every second or two:
    ``os.killpg(pgid, 0)`` still finds it, so on Linux /proc is read instead.
    """
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:  # gone meanwhile
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            pids.append(int(entry))
    return pids


@contextlib.contextmanager
def tensorboard_server(
    logdir: str, *, load_fast: bool, extra_args: Sequence[str] = (), timeout: float = 60, reload_interval: float = 0
) -> Iterator[TensorBoardServer]:
    """Run TensorBoard on ``logdir`` until the block ends; yield it once it has loaded ``logdir``.

    ``load_fast`` picks the Rust data server (True) or the Python loader (False), both with
    the setting's hard-fail value rather than "auto". ``extra_args`` go last on the command
    line (e.g. ``["--samples_per_plugin", "images=100"]``). A ``reload_interval`` above 0
    keeps reloading (for tests of a live log dir): the Python loader then loads in the
    background, so it is yielded once it serves, before its first load has ended.
    """
    args = [
        TENSORBOARD,
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        f"--load_fast={'true' if load_fast else 'false'}",
        "--reload_interval",
        str(reload_interval),
        "--verbosity",
        "0",  # absl INFO: TensorBoard passes --verbose to the data server, which then logs its load cycles
    ]
    if not load_fast and not reload_interval:
        args += ["--reload_task", "blocking"]
    args += list(extra_args)
    log_fd, log_path = tempfile.mkstemp(prefix="tensorboard-", suffix=".log")
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        os.close(log_fd)
    server = TensorBoardServer(process, log_path, load_fast)
    try:
        deadline = time.monotonic() + timeout
        while not server._ready():
            if process.poll() is not None:
                raise TensorBoardStartError(
                    f"tensorboard exited with {process.returncode}: {' '.join(args)}\n{server.output()}"
                )
            if time.monotonic() > deadline:
                raise TensorBoardStartError(
                    f"tensorboard not ready after {timeout:.0f} s: {' '.join(args)}\n{server.output()}"
                )
            time.sleep(0.05)
        yield server
    finally:
        server._stop()
        os.unlink(log_path)
