"""Headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by Playwright's sync API
against pytest-django's ``live_server``.

Every page opened through ``new_page`` records console errors, uncaught exceptions, failed same-origin requests and
Content-Security-Policy violations, so a test can assert that a page ran cleanly (``page_problems``).
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery-staple"  # governance/tests/factories.py UserFactory
VIEWPORT = {"width": 1280, "height": 900}
CSP_MARKER = "[csp-violation]"

# The page's own scripts cannot report CSP violations (no inline script is allowed), but a script the
# browser injects before any page script can listen for them and log them to the console we capture.
CSP_LISTENER = (
    "document.addEventListener('securitypolicyviolation', function (e) {"
    f"  console.error('{CSP_MARKER} ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')"
    "    + ' at ' + e.sourceFile + ':' + e.lineNumber);"
    "});"
)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop on this thread until it stops; meanwhile Django would refuse the
    # ORM calls the tests make (setting up data through services) as if they came from async code. Module scope
    # keeps both the loop and this setting away from the test modules that run afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


_PROBLEMS: dict[int, list[str]] = {}


def page_problems(page) -> list[str]:
    """Console errors, uncaught exceptions, CSP violations and failed requests seen by this page so far."""
    return list(_PROBLEMS.get(id(page), []))


def clear_problems(page) -> None:
    _PROBLEMS[id(page)] = []


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context (its own cookies, so one signed-in user per page).

    pytest-django's live server adds its host to ALLOWED_HOSTS itself, so no settings change is needed."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="en-US")
        context.set_default_timeout(20_000)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        problems = _PROBLEMS.setdefault(id(page), [])
        page.on(
            "console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
        page.on(
            "response",
            lambda response: (
                problems.append(f"HTTP {response.status}: {response.url}") if response.status >= 500 else None
            ),
        )
        return page

    yield make
    for context in contexts:
        for page in context.pages:
            _PROBLEMS.pop(id(page), None)
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def login(page, live_server, username: str, password: str = PASSWORD):
    """Sign in through the real login form and land on the home page."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))
    return page
