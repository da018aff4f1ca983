"""The site in a real browser (headless Chromium through Playwright): tabs switch, tables sort, plots show,
no console errors, nothing fetched from the network. Screenshots go to $GRADE_ARTIFACTS (default
test-artifacts/) for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (.ci/run installs Debian's chromium)")]
ARTIFACTS = Path(os.environ.get("GRADE_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture
def browser():
    sync = pytest.importorskip("playwright.sync_api")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        yield b
        b.close()


def open_page(browser, url: str, width: int = 1200):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, remote = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):  # offline: anything but the site's own files fails, and is recorded
        if r.request.url.startswith("file://"):
            return r.continue_()
        remote.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("load")
    return page, errors, remote


def test_tabs_sorting_plots_and_no_errors_offline(season, browser):
    _, site, _ = season
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, errors, remote = open_page(browser, (site / "index.html").as_uri())
    page.screenshot(path=str(ARTIFACTS / "site-index.png"), full_page=True)
    page.click("text=HW99")
    page.wait_for_selector("#panel-public:not([hidden])")
    assert page.is_hidden("#panel-private")
    page.click("#tab-private")
    assert page.is_visible("#panel-private") and page.is_hidden("#panel-public")
    assert page.get_attribute("#tab-private", "aria-selected") == "true"
    page.click("#tab-public")

    def names():
        return page.eval_on_selector_all("#panel-public tbody tr td:nth-child(2)", "tds => tds.map(t => t.textContent)")

    before = names()
    page.click("#panel-public thead th:nth-child(2) button")  # sort by name
    asc = names()
    assert asc == sorted(before, key=str.lower) and asc != before
    page.click("#panel-public thead th:nth-child(2) button")
    assert names() == sorted(before, key=str.lower, reverse=True)
    assert page.get_attribute("#panel-public thead th:nth-child(2)", "aria-sort") == "descending"
    sizes = page.eval_on_selector_all("figure svg", "s => s.map(x => x.getBoundingClientRect().width)")
    assert len(sizes) == 4 and min(sizes) > 100, "four plots, drawn"
    page.screenshot(path=str(ARTIFACTS / "site-hw99.png"), full_page=True)
    assert errors == [] and remote == []


def test_readable_on_a_phone_and_opened_on_the_private_tab(season, browser):
    _, site, _ = season
    page, errors, _ = open_page(browser, (site / "hw99" / "private.html").as_uri(), width=390)
    assert page.is_visible("#panel-private") and page.is_hidden("#panel-public")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, "the page itself does not scroll sideways (wide tables scroll in their own box)"
    page.screenshot(path=str(ARTIFACTS / "site-hw99-phone.png"), full_page=True)
    assert errors == []
