"""The main job's run, as a person sees it: TensorBoard's own frontend in headless Chromium.

examples/tutorial.py writes a small run (the bundled digits, 200 batches), the real TensorBoard
serves it (tbserver.py), and Debian's Chromium, driven by Playwright, opens the Time Series,
Graphs and Projector dashboards and checks what they draw in the live DOM: the loss chart's
lines and legend, the image card's picture, LeNet-5's layers as graph nodes, the Projector's
100 points. Real time throughout: every wait is on a page condition, with a timeout.

Screenshots of each view go to $EVENTWRITER_ARTIFACTS if set, else to the test's tmp_path.

Needs `apt-get install chromium` (skipped without it) and the playwright package; never
`playwright install`: the browser is Debian's, launched by path.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from tbserver import skip_unless_tensorboard, tensorboard_server

skip_unless_tensorboard()
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install 'playwright>=1.49'"
)
Image = pytest.importorskip("PIL.Image")

pytestmark = [pytest.mark.slow, pytest.mark.needs_tensorboard]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium not installed: apt-get install chromium", allow_module_level=True)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIAL = os.path.join(ROOT, "examples", "tutorial.py")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # root, in a container
    "--disable-gpu",  # WebGL still works, on SwiftShader
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 60_000  # for any one page condition
MIN_LINE_PIXELS = 100  # each loss line crosses the ~300-pixel-wide chart: some 350 pixels in its colour
LOSS_TAG = "Training vs. Validation Loss"
LOSS_RUNS = [f"{LOSS_TAG}_Training", f"{LOSS_TAG}_Validation"]
IMAGE_TAG = "Four digits Images"
LENET_LAYERS = ["Conv2d[conv1]", "MaxPool2d[pool]", "Conv2d[conv2]", "Linear[fc1]", "Linear[fc2]", "Linear[fc3]"]


@pytest.fixture
def artifacts(tmp_path):
    directory = os.environ.get("EVENTWRITER_ARTIFACTS") or str(tmp_path / "screenshots")
    os.makedirs(directory, exist_ok=True)
    print(f"screenshots in {directory}")
    return directory


@pytest.fixture
def tutorial_run(tmp_path):
    logdir = str(tmp_path / "run")
    result = subprocess.run(
        [
            sys.executable,
            TUTORIAL,
            "--dataset",
            "digits",
            "--epochs",
            "1",
            "--max-batches",
            "200",  # two points per loss line, at steps 99 and 199
            "--validation-batches",
            "5",
            "--data-dir",
            str(tmp_path / "data"),
            "--logdir",
            logdir,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return logdir


@pytest.fixture
def browser_page(tmp_path):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.errors = []  # uncaught exceptions in the page, for the failure messages
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            yield page
        finally:
            context.close()


def pixels_near(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of ``png`` are within ``tolerance`` (per channel) of ``rgb``."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance).all(axis=-1).sum())


def parse_rgb(css: str) -> tuple[int, int, int]:
    red, green, blue = (int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return red, green, blue


def check_time_series(page, server, artifacts):
    """The loss chart: both runs in its data table with the logged values, and both lines drawn.

    The chart is WebGL (three.js; SwiftShader with --disable-gpu) drawn by a worker into an
    OffscreenCanvas, so its lines are not in the DOM and the canvas cannot be read back from
    the page: an element screenshot of the plot area can, and each run's line shows there in
    the run's colour (the colour of its swatch in the data table).
    """
    expect = sync_api.expect
    page.goto(server.url + "#timeseries")
    # Outliers ignored, the y range can leave most of a two-point line off the chart.
    outliers = page.get_by_label("Ignore outliers in chart scaling")
    outliers.wait_for()
    if outliers.is_checked():
        outliers.uncheck()
    tag_filter = page.locator("metrics-tag-filter-component input")
    tag_filter.fill(f"^({LOSS_TAG}|{IMAGE_TAG})$")
    tag_filter.press("Escape")  # close its autocomplete list, which covers the cards
    matching = page.locator("metrics-filtered-view")  # the card groups stay in the DOM, hidden
    card = matching.locator("scalar-card").filter(has_text=LOSS_TAG)
    expect(card).to_have_count(1)
    rows = card.locator("tb-data-table-content-row")
    expect(rows).to_have_count(len(LOSS_RUNS))
    colours = {}
    for run in LOSS_RUNS:
        row = rows.filter(has_text=run)
        expect(row).to_have_count(1)
        cells = [text.strip() for text in row.locator("tb-data-table-content-cell").all_inner_texts()]
        # cells: swatch, run, smoothed, value, step, relative time
        points = server.get_json("data/plugin/scalars/scalars", run=run, tag=LOSS_TAG)
        assert [step for _, step, _ in points] == [99, 199]
        _, last_step, last_value = points[-1]
        assert cells[1] == run and int(cells[4]) == last_step, cells
        assert abs(float(cells[3]) - last_value) < 1e-3, (cells, last_value)
        colours[run] = parse_rgb(row.locator(".row-circle span").get_attribute("style"))
    plot = card.locator("line-chart .series-view")  # the canvas (WebGL) or, without WebGL, SVG lines
    expect(plot).to_be_visible()
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:  # the worker draws asynchronously: poll the pixels, not the clock
        png = plot.screenshot()
        counts = {run: pixels_near(png, colour) for run, colour in colours.items()}
        if all(count >= MIN_LINE_PIXELS for count in counts.values()) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    with open(os.path.join(artifacts, "loss-chart.png"), "wb") as handle:
        handle.write(png)
    print(f"pixels in each loss line's colour: {counts}")
    assert all(count >= MIN_LINE_PIXELS for count in counts.values()), f"line pixels per run colour {colours}: {counts}"

    image = matching.locator("image-card").filter(has_text=IMAGE_TAG).locator("img")
    expect(image).to_have_count(1)
    assert "data/plugin/timeseries/imageData?" in image.get_attribute("src")  # Time Series' own image route
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [2 + 4 * 30, 2 + 30], size  # torchvision's grid of four 28x28 digits, padding 2
    page.screenshot(path=os.path.join(artifacts, "time-series.png"))


def check_graph(page, server, artifacts):
    """LeNet-5's graph: one LeNet5 node that, expanded, holds the layers as SVG nodes."""
    page.goto(server.url + "#graphs")
    lenet = page.locator('g.node[data-name="LeNet5"]')  # Playwright's CSS pierces the shadow roots
    sync_api.expect(lenet).to_have_count(1)
    lenet.dblclick()  # expand the namespace
    for layer in LENET_LAYERS:
        sync_api.expect(page.locator(f'g.node[data-name="LeNet5/{layer}"]')).to_have_count(1)
    # the expansion fades the layers in: the screenshot waits until the last is fully drawn
    last = page.locator(f'g.node[data-name="LeNet5/{LENET_LAYERS[-1]}"]')
    page.wait_for_function(
        "node => getComputedStyle(node).opacity === '1' && !node.closest('[style*=opacity]')", arg=last.element_handle()
    )
    page.wait_for_timeout(500)  # and the transition's last frame is painted
    page.screenshot(path=os.path.join(artifacts, "graphs.png"))


def check_projector(page, server, artifacts):
    """The Projector (two iframes down) finds the embedding and loads its 100 points of 784 dimensions."""
    page.goto(server.url + "#projector")
    projector = page.frame_locator("iframe").frame_locator("iframe")
    sync_api.expect(projector.locator(".numDataPoints")).to_have_text("100")
    sync_api.expect(projector.locator(".dim")).to_have_text("784")
    sync_api.expect(projector.get_by_text("1 tensor found")).to_be_visible()
    sync_api.expect(projector.get_by_text("Total variance described")).to_be_visible()  # PCA has run
    sync_api.expect(projector.locator("#notification-dialog")).to_be_hidden()
    page.screenshot(path=os.path.join(artifacts, "projector.png"))


def test_tensorboard_shows_the_tutorial_run(tutorial_run, browser_page, artifacts):
    page = browser_page
    with tensorboard_server(tutorial_run, load_fast=True) as server:  # what --load_fast=auto picks here
        timings = {}
        for check in (check_time_series, check_graph, check_projector):
            start = time.monotonic()
            try:
                check(page, server, artifacts)
            except Exception:
                page.screenshot(path=os.path.join(artifacts, f"{check.__name__}-failed.png"))
                print(f"page errors: {page.errors}\n--- tensorboard output ---\n{server.output()}")
                raise
            timings[check.__name__] = round(time.monotonic() - start, 1)
        print(f"seconds per view: {timings}")
    assert not page.errors, page.errors
