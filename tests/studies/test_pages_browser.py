"""The claims and replications pages read on a phone: rendered in Chromium at 390 px (and 1400 px) without
sideways scrolling, the verdict and its number visible, the raw evidence folded away."""

from __future__ import annotations

import shutil

import pytest

from studies.claims.build import build_claims
from studies.replications.build import build_replications
from tests.studies.test_claims_report import write_runs
from tests.studies.test_claims_rules import long_range_runs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not path:
        pytest.fail("the pages' browser test needs Debian's chromium and chromedriver: make browser (as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=path), options=options)
    yield d
    d.quit()


def test_the_claims_and_replications_pages_fit_a_phone(tmp_path, driver):
    write_runs(tmp_path / "claims" / "long_range", long_range_runs({"transformer": 200, "lstm": 50, "rnn": 10}))
    build_claims(tmp_path / "claims", preset="quick")
    (tmp_path / "reps").mkdir()
    build_replications(tmp_path / "reps")
    for page, first in (
        (tmp_path / "claims" / "report" / "claims.html", "C2"),
        (tmp_path / "reps" / "report" / "replications.html", "zoology_mqar"),
    ):
        for width in (390, 1400):
            driver.set_window_size(width, 1200)
            driver.get(page.resolve().as_uri())
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (page.name, width, overflow)
            text = driver.find_element("tag name", "body").text
            assert first in text and "inconclusive" in text or "supported" in text
            folded = driver.execute_script("return [...document.querySelectorAll('details')].every(d => !d.open)")
            assert folded, page.name
