"""index.html as a user reads it: sortable tables with the best value marked by the metric's direction, links
to the other files and to every run folder, a per-run table, readable at 1400 and 390 px wide (headless
Chromium; screenshots in the test's folder); training curves never merge runs of different sources; a folder
without runs is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.train import train
from reports import build_report
from reports import figures as figs
from reports.__main__ import main as reports_main
from reports.load import find_records, to_frame
from tests.conftest import make_cfg
from tests.reports.test_explore_browser import browser  # noqa: F401 - headless Chromium, JS errors caught


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """Two sweeps: `short` (transformer and rnn, 2 steps) and `long` (transformer, 4 steps): the same arch and
    no varied setting within each."""
    root = tmp_path_factory.mktemp("sources")
    for folder, arch, steps in (("short", "transformer", 2), ("short", "rnn", 2), ("long", "transformer", 4)):
        train(
            make_cfg(
                root / folder / arch,
                f"arch={arch}",
                "task=copy_long",
                "task.delay=4",
                "task.n_memorize=2",
                f"trainer.max_steps={steps}",
                "trainer.eval_every=1",
                "trainer.stop_at=null",
                "trainer.probes=false",
            )
        )
    return root


def test_training_curves_keep_runs_of_different_sources_apart(sources):
    frame = to_frame(find_records([sources / "short", sources / "long"]).runs)
    fig = figs.training_curves(frame)["training_curves_copy_long"]
    titles = {ax.get_title() for ax in fig.axes}
    assert any("short" in t for t in titles) and any("long" in t for t in titles)
    transformer_lines = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) >= 2]
    longest = max(len(ln.get_xdata()) for ln in transformer_lines)
    assert longest == 4  # the 4-step run's curve is its own, not averaged with the 2-step one
    assert all(ln.get_marker() == "o" for ln in transformer_lines)  # few points: drawn as markers


def test_a_folder_without_runs_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert reports_main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no run records")
    assert not (tmp_path / "empty" / "report").exists()


def column(driver, table, i: int) -> list[str]:
    return driver.execute_script(
        "return [].map.call(arguments[0].tBodies[0].rows, r => r.cells[arguments[1]].textContent)", table, i
    )


@pytest.mark.browser
def test_report_page_sorts_marks_links_and_reads_on_a_phone(sources, browser, tmp_path):
    rep = build_report([sources / "short", sources / "long"], tmp_path / "report")
    index = rep.out / "index.html"
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.get(index.resolve().as_uri())
    assert browser.execute_script("return window.__errors") == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements("css selector", "a")]
    for name in ("explore.html", "results.csv", "tables.md"):
        assert any(h.endswith("/" + name) for h in hrefs), name
    run_links = [h for h in hrefs if h.rstrip("/").endswith("/run")]  # make_cfg puts each run in <dir>/run
    assert len(run_links) == 3  # the per-run table links each run folder, relative to the report
    assert all(Path(h.removeprefix("file://")).joinpath("summary.json").exists() for h in run_links)

    table = browser.find_element("css selector", "table.t")  # copy_long: one row per arch and source
    heads = [h.text for h in table.find_elements("css selector", "thead th")]
    i = next(k for k, h in enumerate(heads) if h.startswith("test/acc"))
    values = [float(v.split()[0]) for v in column(browser, table, i)]
    best = table.find_elements("css selector", f"tbody td:nth-child({i + 1}).best")
    assert best and all(float(b.text.split()[0]) == max(values) for b in best)  # acc: higher is better
    j = heads.index("ms/step")
    fastest = table.find_elements("css selector", f"tbody td:nth-child({j + 1}).best")
    assert fastest and float(fastest[0].text.split()[0]) == min(float(v.split()[0]) for v in column(browser, table, j))
    head = table.find_elements("css selector", "thead th")[i]
    head.click()
    up = [float(v.split()[0]) for v in column(browser, table, i)]
    head.click()
    down = [float(v.split()[0]) for v in column(browser, table, i)]
    assert up == sorted(values) and down == sorted(values, reverse=True)
    browser.save_screenshot(str(tmp_path / "report_1400.png"))

    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    )
    browser.get(index.resolve().as_uri())
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1  # no sideways scrolling of the page: wide tables scroll in their own box
    right = browser.execute_script(
        "return Math.max(...[...document.querySelectorAll('nav a, h1, h2, p')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert right <= width[1]  # links, headings and notes wrap within the screen
    browser.save_screenshot(str(tmp_path / "report_390.png"))
    assert (tmp_path / "report_390.png").stat().st_size > 0


def test_setting_labels_show_the_four_tuned_keys_rounded_and_keep_close_values_apart():
    from reports.tables import label

    tuned = [
        ("optimizer.lr", 0.0021345678901234),
        ("optimizer.weight_decay", 0.04),
        ("arch.dropout", 0.1),
        ("budget.width", 64),
    ]
    text = label(tuned)
    assert text.startswith("optimizer.lr=0.002135, optimizer.weight_decay=0.04, arch.dropout=0.1, budget.width=64 #")
    close = [("optimizer.lr", 0.0021345678901299)] + tuned[1:]
    assert label(close) != text  # the same when rounded, told apart by the hash of the exact values
    assert label([("task.delay", 50)]) == "task.delay=50"
