"""`tca report` in a real browser: Chromium's headless shell (Debian `chromium-headless-shell`, installed by
`make deps`) driven over the Chrome DevTools Protocol on a pipe (`--remote-debugging-pipe`: NUL-terminated JSON
messages, commands on fd 3, replies on fd 4), with nothing but the standard library.

The demo pipeline runs in a temporary store, `tca report` writes its page, and the browser loads it from a file:
no exception, console error or log error; every chart has drawn marks and text; nothing is fetched; and a
full-page screenshot (kept, its path printed) is not blank. Without the browser the test is skipped, unless
TCA_REQUIRE_SHARED_DATA=1 or CI=true, where it fails.
"""
import base64
import collections
import fcntl
import json
import os
import pathlib
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

import pytest

from conftest import BIN, REQUIRE_SHARED, ROOT, run_pipeline

BROWSERS = ["chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell", "chromium", "google-chrome"]
TIMEOUT = 60.0


def find_browser() -> str:
    for name in [os.environ.get("TCA_CHROMIUM")] + BROWSERS:
        path = name and shutil.which(name)
        if path:
            return path
    message = "no headless Chromium found (install the Debian package chromium-headless-shell: `make deps`)"
    if REQUIRE_SHARED or os.environ.get("CI") == "true":
        pytest.fail(message + " and TCA_REQUIRE_SHARED_DATA=1 or CI=true")
    pytest.skip(message)


class DevTools:
    """One browser process and one page, spoken to over the DevTools pipe."""

    def __init__(self, browser: str, profile: pathlib.Path, log: pathlib.Path):
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()
        # The browser reads commands from fd 3 and writes replies to fd 4; move our ends above them first.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write)]

        def attach():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        arguments = [browser, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                     "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                     f"--user-data-dir={profile}", "about:blank"]
        self.log = log.open("wb")
        self.process = subprocess.Popen(arguments, pass_fds=(3, 4), preexec_fn=attach, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log)
        for fd in [commands_read, replies_write, *high]:
            os.close(fd)
        self.next_id = 0
        self.buffer = b""
        self.events = []
        self.session = None

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.commands)
        os.close(self.replies)
        self.log.close()

    def receive(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.replies], [], [], remaining)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"the browser closed the pipe (exit {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self.receive(deadline)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + TIMEOUT
        while True:
            event = self.receive(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unexpected PNG format: depth {depth}, colour type {color}"
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    raw = zlib.decompress(compressed)
    channels = 3 if color == 2 else 4
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


# Every chart: its marks (path, rect, circle, line inside `.marks`) with a non-empty box, its text, its size.
INSPECT = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const marks = [...svg.querySelectorAll('.marks path, .marks rect, .marks circle, .marks line')];
    const drawn = marks.filter(mark => { const box = mark.getBBox(); return box.width > 0 || box.height > 0; });
    const box = svg.getBoundingClientRect();
    return {label: svg.getAttribute('aria-label'), marks: marks.length, drawn: drawn.length,
            texts: [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).length,
            width: box.width, height: box.height};
  });
  return {title: document.title, charts,
          sections: [...document.querySelectorAll('section[id]')].map(section => section.id),
          missing: [...document.querySelectorAll('.notice.missing')].length,
          links: [...document.querySelectorAll('[src], [href]')].map(e => e.getAttribute('src') || e.getAttribute('href')),
          resources: performance.getEntriesByType('resource').map(entry => entry.name),
          scripts: document.scripts.length,
          width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight};
})()"""


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    work = tmp_path_factory.mktemp("report")
    home = work / "home"
    run_pipeline("demo", home)
    output = work / "demo.html"
    env = dict(os.environ, TCA_HOME=str(home), TCA_PIPELINES=str(ROOT / "Pipelines"))
    result = subprocess.run([str(BIN / "tca"), "report", "demo", "-o", str(output)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return output


def test_report_loads_without_errors_and_every_chart_has_content(demo_report):
    browser = find_browser()
    keep = pathlib.Path(tempfile.mkdtemp(prefix="tca-report-screenshot-"))
    tools = DevTools(browser, keep / "profile", keep / "browser.log")
    try:
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        tools.events.clear()
        tools.call("Page.navigate", url=demo_report.as_uri())
        tools.wait_for("Page.loadEventFired")
        page = tools.call("Runtime.evaluate", expression=INSPECT, returnByValue=True)["result"]["value"]

        errors = [event for event in tools.events if event.get("method") == "Runtime.exceptionThrown"
                  or (event.get("method") == "Runtime.consoleAPICalled"
                      and event["params"]["type"] in ("error", "assert"))
                  or (event.get("method") == "Log.entryAdded" and event["params"]["entry"]["level"] == "error")]
        assert errors == [], f"the page logged errors: {errors}"
        assert page["title"] == "demo: TCA4Rec pipeline report"
        assert page["sections"] == ["overview", "data", "titles", "models", "soft-labels"]
        assert page["missing"] == 0
        assert page["scripts"] == 0
        assert page["resources"] == [], f"the page fetched {page['resources']}"
        assert all(link.startswith("#") for link in page["links"]), page["links"]
        # The DAG, 2 prepare charts + 2 degree charts, trie depths, 2 cf curves, 4 soft-label charts.
        assert len(page["charts"]) == 12, [chart["label"] for chart in page["charts"]]
        for chart in page["charts"]:
            assert chart["drawn"] > 0 and chart["texts"] > 0, f"chart {chart['label']!r} is empty: {chart}"
            assert chart["width"] > 200 and chart["height"] > 100, f"chart {chart['label']!r} is not laid out: {chart}"
        summary = {chart["label"]: f"{chart['drawn']}/{chart['marks']} marks, {chart['texts']} texts"
                   for chart in page["charts"]}
        print(json.dumps(summary, indent=1))

        # A full-page screenshot for people, and a quarter-scale one this test decodes.
        height = page["height"]
        tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1,
                   mobile=False)
        full = base64.b64decode(tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        screenshot = keep / "demo-report.png"
        screenshot.write_bytes(full)
        print(f"screenshot of the demo report ({page['width']}×{height}): {screenshot}")
        small = base64.b64decode(tools.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 0.25})["data"])
    finally:
        tools.close()

    assert struct.unpack(">II", full[16:24]) == (1280, height)
    width, rows_count, channels, rows = decode_png(small)
    assert width >= 300 and rows_count >= height // 4 - 2
    pixels = collections.Counter(row[i:i + 3] for row in rows for i in range(0, len(row), channels))
    background, background_count = pixels.most_common(1)[0]
    total = sum(pixels.values())
    ink = 1 - background_count / total
    print(f"screenshot: {len(pixels)} colours, {ink:.1%} of pixels differ from the background {background.hex()}")
    assert background == b"\xff\xff\xff", "the page background is not white"
    assert len(pixels) > 200, "the screenshot has almost no colours: blank?"
    assert ink > 0.05, "almost every pixel is background: the page looks blank"
    # The header band is dark, so the top rows are not background.
    assert rows[4][:3] != background
