"""A real headless Chromium for the web-client tests, driven over the DevTools protocol.

Started with Chromium's fake camera and microphone (a moving test pattern and a beep), media
permission granted, autoplay allowed and loopback ICE candidates allowed; each instance has its
own profile folder and is killed at the end. :meth:`Chromium.evaluate` runs an expression in
the page (awaiting a promise) and returns its JSON value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Any

import aiohttp

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-port=0",
    "--window-size=1024,768",
]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class ChromiumError(AssertionError):
    pass


def chromium_binary() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise ChromiumError("chromium is not installed: run scripts/setup.sh")
    return path


class Chromium:
    def __init__(self, url: str) -> None:
        self._profile = tempfile.TemporaryDirectory(
            prefix="holocall-chromium-", ignore_cleanup_errors=True
        )
        self.proc = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self._profile.name}", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its renderer, GPU and crash helpers go with it
        )
        self.stderr: list[str] = []
        browser_ws: list[str] = []
        found = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = _LISTENING.search(line)
                if m and not browser_ws:
                    browser_ws.append(m.group(1))
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.close()
            raise ChromiumError(f"chromium did not start: {''.join(self.stderr[-10:])}")
        self.http = browser_ws[0].replace("ws://", "http://").split("/devtools/")[0]
        self.page_ws = self._page_target()

    def _page_target(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.http}/json/list", timeout=5) as resp:
                targets = json.load(resp)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.2)
        raise ChromiumError("chromium opened no page")

    def evaluate(self, expression: str, timeout: float = 20.0) -> Any:
        """The JSON value of ``expression`` in the page (a promise is awaited)."""
        return asyncio.run(self._evaluate(expression, timeout))

    async def _evaluate(self, expression: str, timeout: float) -> Any:
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.page_ws, max_msg_size=0) as ws,
        ):
            await ws.send_json({"id": 1, "method": "Runtime.evaluate", "params": params})
            async with asyncio.timeout(timeout):
                while True:
                    msg = await ws.receive_json()
                    if msg.get("id") == 1:
                        break
        if "error" in msg:
            raise ChromiumError(f"DevTools: {msg['error']}")
        result = msg["result"]
        if "exceptionDetails" in result:
            raise ChromiumError(f"the page threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Evaluate ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except ChromiumError:
                value = None  # the page is still loading
            if value:
                return value
            time.sleep(0.3)
        stats = self.stats_or_error()
        raise ChromiumError(f"timed out waiting for {what}; the page: {stats}")

    def stats_or_error(self) -> Any:
        try:
            return self.evaluate("window.holocall && window.holocall.stats()")
        except ChromiumError as exc:
            return str(exc)

    def close(self) -> None:
        """Kill the browser and every helper process it started, then remove its profile."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # helpers may still be writing as they die
            shutil.rmtree(self._profile.name, ignore_errors=True)
            if not os.path.exists(self._profile.name):
                break
            time.sleep(0.2)
        self._profile.cleanup()
