"""``report.html`` in a real browser: headless Chromium, driven by Selenium, opens the page of a
real ``dlparity report`` run from disk (``file://``, no server, no network), filters it, expands
the failing check, and checks what a reader would *see* — rendered text and visibility, not the
DOM. ``test_html_report.py`` checks the markup without a browser.

The run is ``dlparity report --concepts activations,gd`` plus one check that fails for real: the
README's learner whose logistic-regression backward forgot the ``1/m``, checked by the public
:func:`~parity_tests.check_gradients` as concept ``logreg``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``; ``.ci/run`` tries to install them) and ``selenium`` (the ``test`` extra);
without them the test is skipped, saying which is missing. The screenshot is saved under the
test's ``tmp_path`` and at ``parity_tests/tests/output/report-browser.png`` (git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from parity_tests import check_gradients, cli
from parity_tests.registry import ParityCheck, all_checks

SCREENSHOT = Path(__file__).parent / "output" / "report-browser.png"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Chromium on a closed network: no sandbox (root in a container), no GPU, and nothing that phones
# home (QUIC, background networking, component updates, sync) — those attempts fail and stall it.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def _learner_propagate(w, b, X, Y):
    """The README's learner: logistic regression's backward with ``dw`` missing its ``1/m``."""
    A = 1 / (1 + np.exp(-(w.T @ X + b)))  # (1, m)
    dZ = A - Y  # (1, m)
    dw = X @ dZ.T  # (n_x, 1)  <- forgot the 1/m
    db = np.sum(dZ, axis=1, keepdims=True) / X.shape[1]  # (1, 1)
    return {"dw": dw, "db": db}


def _torch_cost(w, b, X, Y):
    return torch.nn.functional.binary_cross_entropy_with_logits(w.T @ X + b, Y)


def _learner_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 1)),
        "b": np.zeros((1, 1)),
        "X": rng.normal(size=(3, 8)),
        "Y": rng.integers(0, 2, size=(1, 8)),
    }


def _learner_check(device: str, dtype: str):
    inputs = _learner_inputs()
    return check_gradients(
        _learner_propagate,
        _torch_cost,
        inputs,
        wrt=["w", "b"],
        device=device,
        dtype=dtype,
        concept="logreg",
        case="learner-propagate",
    )


LEARNER = ParityCheck("logreg", "learner-propagate", "gradient", _learner_check)
FAILING_ID = "check-logreg-learner-propagate-gradient-cpu-float64"


def _browser_paths() -> tuple[str, str]:
    """Chromium and chromedriver on PATH, or skip saying what is missing."""
    pytest.importorskip(
        "selenium", reason="selenium is not installed (it is in the `test` extra: pip install -e '.[test]')"
    )
    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = shutil.which("chromedriver")
    missing = [
        what
        for what, path in ((f"a Chromium browser ({', '.join(BROWSERS)})", browser), ("chromedriver", driver))
        if not path
    ]
    if missing:
        pytest.skip(
            f"no browser to open report.html: {' and '.join(missing)} not found on PATH "
            f"(install Debian's: apt-get install -y chromium chromium-driver)"
        )
    return browser, driver


@pytest.fixture()
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.common.exceptions import SessionNotCreatedException
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # an explicit driver path: Selenium Manager never runs, so nothing is downloaded
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except SessionNotCreatedException as exc:  # e.g. a chromedriver of another version than the browser
        # installed but broken is a broken CI machine, not a missing browser: fail, do not skip
        pytest.fail(f"{binary} is installed but did not start under {driver_path}: {exc.msg}")
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture()
def report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``report.html`` of a real run: every activations and gd check, and the learner's."""
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: [*all_checks(*a, **k), LEARNER])
    status = cli.main(
        [
            "report",
            "--concepts",
            "activations,gd",
            "--devices",
            "cpu",
            "--dtypes",
            "float64",
            "--jobs",
            "1",
            "--out",
            str(tmp_path / "report"),
        ]
    )  # one process: it sees LEARNER
    assert status == 1  # the learner's check fails
    return tmp_path / "report" / "report.html"


def test_report_html_in_a_browser_filters_and_expands_the_failing_check(
    browser, report_file: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(report_file.as_uri())
    assert browser.title == "dlparity report"
    items = browser.find_elements(By.CSS_SELECTOR, "details[data-item]")
    total = len(items)
    assert total == len(all_checks(["activations", "gd"])) + 1 and all(i.is_displayed() for i in items)
    shown = browser.find_element(By.ID, "shown")
    assert shown.text == str(total)
    assert "FAIL: 1" in browser.find_element(By.TAG_NAME, "body").text
    assert browser.find_element(By.CSS_SELECTOR, "figure img").is_displayed()  # gd's plot, embedded

    failing = browser.find_element(By.ID, FAILING_ID)
    assert items[0] == failing  # failing first
    records = failing.find_element(By.TAG_NAME, "table")
    assert not records.is_displayed() and "1/m of the cost" not in failing.text  # closed

    Select(browser.find_element(By.ID, "filter-verdict")).select_by_value("FAIL")
    assert shown.text == "1"
    assert [i.get_attribute("id") for i in items if i.is_displayed()] == [FAILING_ID]

    failing.find_element(By.TAG_NAME, "summary").click()
    assert failing.get_attribute("open") is not None and records.is_displayed()
    rows = [r.text for r in records.find_elements(By.TAG_NAME, "tr") if r.is_displayed()]
    assert rows[0].startswith("verdict quantity")
    assert rows[1].startswith("FAIL dw")
    # the worst element's two values, as computed here (not digits pinned from one machine's BLAS):
    # the learner's dw is m = 8 times the true one, so the worst entry is the largest |dw|
    dw = _learner_propagate(**_learner_inputs())["dw"]
    worst = dw.flat[np.argmax(np.abs(dw))]
    numbers = [
        float(t)
        for t in rows[1].replace("(", " ").replace(")", " ").replace(",", " ").split()
        if _is_number(t)
    ]
    assert any(np.isclose(v, worst, rtol=1e-5) for v in numbers), (rows[1], worst)
    assert any(np.isclose(v, worst / 8, rtol=1e-5) for v in numbers), (rows[1], worst / 8)
    assert "off by a constant factor of m (m=8): the 1/m of the cost J = 1/m Σ L is missing" in rows[1]
    assert rows[2].startswith("PASS db")
    assert "only dw is wrong" in failing.text

    browser.execute_script(
        "arguments[0].scrollIntoView()", browser.find_element(By.XPATH, "//h2[starts-with(., 'Checks')]")
    )
    png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    (tmp_path / "report-browser.png").write_bytes(png)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)

    Select(browser.find_element(By.ID, "filter-verdict")).select_by_value("")  # "all" again
    assert shown.text == str(total) and all(i.is_displayed() for i in items)
    Select(browser.find_element(By.ID, "filter-concept")).select_by_value("activations")
    assert not failing.is_displayed() and shown.text == str(total - 2)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
