"""explore.html in a real browser (Debian's chromium + chromedriver through Selenium): the page of a real tiny
run draws its heatmap, changing layer and head changes the heatmap's data, the gradient view toggles
architectures, the hand-written hidden states draw, and the page logs no JavaScript error. Screenshots go to
the test's temporary folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.train import train
from reports import build_report
from tests.conftest import make_cfg
from tests.reports.fake_probes import write_hidden, write_seq2seq_attention

CATCH_ERRORS = """window.__errors = [];
addEventListener("error", (e) => window.__errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));"""

pytestmark = pytest.mark.browser  # needs chromium and chromedriver; make test-fast leaves them out


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail(
            "the explorer's browser test needs Debian's chromium and chromedriver on PATH: "
            "apt-get install -y chromium chromium-driver (make browser does it as root)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,2400",
        "--disable-background-networking",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_ERRORS})
    yield driver
    driver.quit()


def open_page(driver, page: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")


def plot_data(driver, div: str) -> list:
    """The traces Plotly drew in ``div`` (its ``data``), as JSON."""
    return json.loads(
        driver.execute_script(
            "const d = document.getElementById(arguments[0]); return JSON.stringify(d.data || [])", div
        )
    )


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def slide(driver, input_id: str, value: int) -> None:
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];s.dispatchEvent(new Event('input'))",
        input_id,
        str(value),
    )


def js_errors(driver) -> list[str]:
    logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return logged + driver.execute_script("return window.__errors || []")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real tiny transformer run (2 layers × 2 heads) and an lstm run on copy_long, plus one folder with
    hand-written hidden.npz and seq2seq attention.npz in the agreed format."""
    root = tmp_path_factory.mktemp("browser_runs")
    for arch in ("transformer", "lstm"):
        train(
            make_cfg(
                root / arch,
                f"arch={arch}",
                "task=copy_long",
                "task.delay=6",
                "task.n_memorize=2",
                "trainer.max_steps=3",
            )
        )
    hand = root / "hand" / "run"
    shutil.copytree(root / "transformer" / "run", hand)
    record = json.loads((hand / "summary.json").read_text())
    record.update(arch="handmade", task="translation")
    (hand / "summary.json").write_text(json.dumps(record))
    write_seq2seq_attention(hand)
    write_hidden(hand, N=8, L=12, d=8, K=3)
    out = root / "report"
    build_report([root], out)
    return out


def test_layer_and_head_change_the_heatmap_without_errors(browser, report, tmp_path):
    open_page(browser, report / "explore.html")
    runs = [o.text for o in browser.find_elements("css selector", "#run option")]
    assert runs[-1] == "copy_long / lstm, seed 0", runs  # runs with attention maps come first
    choose(browser, "run", str(runs.index("copy_long / transformer, seed 0")))
    layers = [o.text for o in browser.find_elements("css selector", "#layer option")]
    heads = [o.text for o in browser.find_elements("css selector", "#head option")]
    assert len(layers) == 2 and heads == ["head 0", "head 1"]
    first = plot_data(browser, "attn")
    assert first[0]["type"] == "heatmap" and len(first[0]["z"]) == 10  # 6 + 2·2 positions
    browser.save_screenshot(str(tmp_path / "explore_layer0_head0.png"))

    choose(browser, "head", "1")
    head1 = plot_data(browser, "attn")
    assert head1[0]["z"] != first[0]["z"]
    choose(browser, "layer", "1")
    layer1 = plot_data(browser, "attn")
    assert layer1[0]["z"] not in (first[0]["z"], head1[0]["z"])
    assert browser.find_element("id", "head").get_attribute("value") == "1"  # the head is kept
    assert "encoder.1.self, head 1" in browser.execute_script(
        "return document.getElementById('attn').layout.title.text"
    )  # attention.npz names its layers

    # gradient norm vs distance: unticking an architecture removes its curves
    names = {t["name"].split(" ")[0] for t in plot_data(browser, "grad")}
    assert names == {"transformer", "lstm"}  # copy_long (the hand-made run is another task)
    browser.find_element("css selector", "#grad-archs input[value=lstm]").click()
    assert "lstm" not in {t["name"].split(" ")[0] for t in plot_data(browser, "grad")}
    browser.save_screenshot(str(tmp_path / "explore.png"))
    assert js_errors(browser) == []


def test_hand_written_hidden_states_and_seq2seq_attention_draw(browser, report, tmp_path):
    open_page(browser, report / "explore.html")
    labels = [o.text for o in browser.find_elements("css selector", "#run option")]
    choose(browser, "run", str(labels.index(next(l for l in labels if "handmade" in l))))
    choose(browser, "layer", "2")  # decoder.0.cross: target queries over source keys
    heat = plot_data(browser, "attn")[0]
    assert len(heat["z"]) == 4 and len(heat["z"][0]) == 5
    assert "“gato”" in heat["customdata"][2][0] and "“the”" in heat["customdata"][2][0]

    pca0 = plot_data(browser, "pca")[0]
    slide(browser, "pca-layer", 3)
    pca3 = plot_data(browser, "pca")[0]
    assert len(pca0["x"]) == len(pca3["x"]) == 8 * 12 - 4 * 2 and pca0["x"] != pca3["x"]
    choose(browser, "pca-colour", "cls")
    assert plot_data(browser, "pca")[0]["marker"]["color"] != pca3["marker"]["color"]
    assert len(plot_data(browser, "cka")[0]["z"]) == 4

    sim0 = plot_data(browser, "pe-sim")[0]["y"]
    slide(browser, "pe-pos", 5)
    sim5 = plot_data(browser, "pe-sim")[0]["y"]
    assert max(range(len(sim5)), key=sim5.__getitem__) == 5 and sim5 != sim0  # a position is most like itself
    browser.save_screenshot(str(tmp_path / "explore_hidden.png"))
    assert js_errors(browser) == []

    choose(browser, "run", str(labels.index(next(l for l in labels if "lstm" in l))))  # no attention; hidden states
    assert browser.find_element("id", "layer").get_attribute("disabled") == "true"
    assert "no attention maps" in browser.find_element("id", "attn-note").text
    assert "no hidden.npz" not in browser.find_element("id", "hidden-note").text  # every model writes hidden.npz
    assert len(plot_data(browser, "pca")[0]["x"]) > 0
    assert js_errors(browser) == []


HOSTILE = ("t<img src=x onerror=document.title=7>", "<!--<script>")


@pytest.fixture(scope="module")
def hostile_report(report) -> Path:
    """Runs whose arch names carry markup: an image with an onerror handler, and a label that opens an HTML
    comment and a script (which, unescaped inside the embedded JSON, swallows the rest of the page)."""
    root = report.parent
    for i, name in enumerate(HOSTILE):
        run = root / "hostile" / f"h{i}" / "run"
        shutil.copytree(root / "transformer" / "run", run)
        record = json.loads((run / "summary.json").read_text())
        record["arch"] = name
        (run / "summary.json").write_text(json.dumps(record))
    out = root / "hostile_report"
    build_report([root / "hostile"], out)
    return out


def test_markup_in_a_run_name_runs_no_script(browser, hostile_report):
    page = hostile_report / "explore.html"
    open_page(browser, page)
    assert browser.title == "archbench explorer"  # the onerror handler did not run
    assert browser.find_elements("css selector", "img") == []
    labels = [o.text for o in browser.find_elements("css selector", "#run option")]
    assert len(labels) == 2 and any(HOSTILE[0] in l for l in labels) and any(HOSTILE[1] in l for l in labels)
    boxes = [b.text.strip() for b in browser.find_elements("css selector", "#grad-archs label")]
    assert sorted(boxes) == sorted(HOSTILE)  # the names shown as text
    assert {b.get_attribute("value") for b in browser.find_elements("css selector", "#grad-archs input")} == set(
        HOSTILE
    )
    assert js_errors(browser) == []
    assert "<img" not in page.read_text().split("id=explore-data>")[1].split("</script>")[0]  # \u003c in the JSON
