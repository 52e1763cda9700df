"""Debian's chromium, driven by Playwright, for the browser tests (never a downloaded browser).

Import it at the top of a browser test module: the module is skipped where chromium is not
installed, and fails in CI, which must install it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium) for the browser tests")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def app_url():
    """The whole app (Explore, Study, Results) served on a free port for the module; its URL."""
    from app import build_app, launch

    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``DOFGEN_SCREENSHOTS`` (to look at them), else the test's tmp folder."""
    folder = Path(os.environ.get("DOFGEN_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: Watches Gradio's progress displays (``[data-testid=status-tracker]``, hidden by the class
#: ``hide``): ``window.__dofgenShown`` turns true once one has been on show.
_WATCH = """() => {
  window.__dofgenShown = false;
  if (window.__dofgenWatch) return;
  const shown = t => t.matches('[data-testid=status-tracker]') && !t.classList.contains('hide');
  window.__dofgenWatch = new MutationObserver(records => {
    for (const r of records) {
      const was = r.oldValue !== null && !r.oldValue.split(' ').includes('hide');
      if (r.target.matches('[data-testid=status-tracker]') && (was || shown(r.target))) window.__dofgenShown = true;
    }
  });
  window.__dofgenWatch.observe(document.body, {subtree: true, attributes: true, attributeFilter: ['class'], attributeOldValue: true});
}"""

#: Every progress display on the page is hidden: no event with one is pending or running.
IDLE = "() => [...document.querySelectorAll('[data-testid=status-tracker]')].every(t => t.classList.contains('hide'))"


@contextlib.contextmanager
def answered(page, timeout: float = 60.0):
    """Around an action that starts a queued Gradio event with a progress display (the
    default ``show_progress``): on leaving, waits until a progress display has been on show
    and every one is hidden again, that is until the event's answer has landed (a negative
    check after it, such as "still locked", then reads the answer, not the page before it).
    It first waits for the page to be idle, so an earlier event's display going away is not
    taken for this one's."""
    page.wait_for_function(IDLE, timeout=timeout * 1000)
    page.evaluate(_WATCH)
    yield
    page.wait_for_function(f"() => window.__dofgenShown && ({IDLE})()", timeout=timeout * 1000)


#: An init script (``context.add_init_script``) that counts the page's unqueued Gradio calls
#: (``queue=False``: POST ``.../gradio_api/run/...``): ``__dofgenCallsStarted``, and
#: ``__dofgenCallsOpen`` until the client has read the answer and a task later (so the
#: answer's outputs are on the page).
TRACK_CALLS = """(() => {
  const fetch = window.fetch;
  window.__dofgenCallsStarted = 0;
  window.__dofgenCallsOpen = 0;
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    if (!url.includes('/gradio_api/run/')) return fetch.apply(this, arguments);
    window.__dofgenCallsStarted += 1;
    window.__dofgenCallsOpen += 1;
    let closed = false;
    const close = () => { if (!closed) { closed = true; setTimeout(() => { window.__dofgenCallsOpen -= 1; }); } };
    return fetch.apply(this, arguments).then(response => {
      for (const read of ['json', 'text']) {
        const original = response[read].bind(response);
        response[read] = () => { const body = original(); body.then(close, close); return body; };
      }
      return response;
    }, error => { close(); throw error; });
  };
})()"""

#: The page's ``demo.load`` events that are not queued have been called and answered.
LOADS_ANSWERED = """() => {
  const config = window.gradio_config;
  if (!config || !config.dependencies || window.__dofgenCallsStarted === undefined) return false;
  const loads = config.dependencies.filter(d => d.queue === false && d.backend_fn && d.targets.some(t => t[1] === 'load')).length;
  return window.__dofgenCallsStarted >= loads && window.__dofgenCallsOpen === 0;
}"""


def new_context(browser, **options):
    """A browser context whose pages count their unqueued Gradio calls (see :func:`loaded`)."""
    context = browser.new_context(**options)
    context.add_init_script(script=TRACK_CALLS)
    return context


def loaded(page, timeout: float = 60.0) -> None:
    """After ``page.goto`` or ``page.reload`` in a :func:`new_context`: wait until the app's
    unqueued ``demo.load`` events have been answered, so a click cannot land before a load's
    answer and be undone by it."""
    page.wait_for_function(LOADS_ANSWERED, timeout=timeout * 1000)
