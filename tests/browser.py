"""The rendered book, opened page by page in a real browser (headless Chromium).

Run it with `scripts/book browser` (CI does, after `scripts/book build`); it needs
Debian's `chromium` at /usr/bin/chromium and the pinned `playwright` Python package,
which `scripts/book browser` installs into target/venv-browser. Playwright drives the
system Chromium over the DevTools protocol; it never downloads a browser.

For EVERY .html page of the rendered book it checks:
- the page loads with no script error (console error or uncaught exception), no failed
  request and no request leaving the book's own server;
- every mermaid diagram has rendered to an SVG, and not to mermaid's error picture;
- every code listing shows: no empty code block, highlighting has run;
- every quiz (mdbook-quiz) on it has rendered.
Then it types each term of SEARCHES into the search box and checks that the first
result is in the expected chapter, and that following it lands there with the term
highlighted. In every chapter with a quiz, it answers the first quiz through the page
(its first question right, its second wrong, the others right), checks that the quiz
marks each so, shows the right answer and every explanation, and that an explanation's
link leads to its section. Screenshots go to target/browser/ for a person to look at.

A page that still holds only the frame's placeholder sentence ("This chapter is being
written.") is reported as a placeholder; a search whose expected chapter is one is
reported as skipped, never as passed. Exit status 1 when any check failed.

    python3 tests/browser.py BOOK_HTML_DIR OUT_DIR
"""

import functools
import http.server
import json
import re
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# The flags the workplace's machines need: no sandbox as root, no GPU, and no
# background connections (the network is closed and Chromium would keep trying).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# term -> the page its first search result must be in. Keep it to terms a reader
# would type; the chapter is the one that teaches the thing.
SEARCHES = {"unlink": "segments.html"}
PLACEHOLDER = re.compile(r"This (chapter|page) is being written\.")
VIEWPORT = {"width": 1280, "height": 900}
# A page waits for its scripts; mdbook-quiz's is 1.4 MB, and print.html (every chapter,
# every quiz) took 10 to 16 s to load on the book's 2-core machine at load average 20.
TIMEOUT_MS = 30_000


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the book's files and remembers every request that failed."""

    failed = []

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def send_error(self, code, message=None, explain=None):
        QuietHandler.failed.append(f"{code} {self.path}")
        super().send_error(code, message, explain)


def serve(root):
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class Tally:
    """Counts and prints the outcome of each check."""

    def __init__(self):
        self.passed, self.failed, self.skipped = 0, 0, 0

    def record(self, label, problems):
        if problems:
            self.failed += 1
            print(f"FAIL {label}")
            for p in problems:
                print(f"     {p}")
        else:
            self.passed += 1
            print(f"ok   {label}")

    def skip(self, label, why):
        self.skipped += 1
        print(f"SKIP {label}: {why}")


ALL_DIAGRAMS_DRAWN = "() => [...document.querySelectorAll('pre.mermaid')].every(p => p.querySelector('svg'))"


class PageWatch:
    """Collects what goes wrong while one page is open."""

    def __init__(self, page, origin):
        self.problems = []
        self.origin = origin
        page.on("console", self.console)
        page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        page.on("requestfailed", self.request_failed)
        page.on("response", self.response)

    def console(self, msg):
        if msg.type == "error":
            where = msg.location.get("url", "")
            self.problems.append(f"console error: {msg.text} ({where})")

    def request_failed(self, request):
        if request.url.startswith(self.origin):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


def check_page(page, url):
    """Opens one page; returns (problems, facts) where facts describe what it showed."""
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    problems = []
    diagrams = page.locator("pre.mermaid").count()
    if diagrams:
        try:
            page.wait_for_function(ALL_DIAGRAMS_DRAWN, timeout=TIMEOUT_MS)
        except Exception:  # the timeout: below says which diagrams stayed text
            pass
        for i, state in enumerate(
            page.eval_on_selector_all(
                "pre.mermaid",
                """ps => ps.map(p => {
                    const svg = p.querySelector('svg');
                    if (!svg) return 'not rendered (no SVG)';
                    if (svg.getAttribute('aria-roledescription') === 'error'
                        || /Syntax error/.test(svg.textContent)) return 'mermaid error';
                    const box = svg.getBoundingClientRect();
                    if (box.width < 10 || box.height < 10) return 'rendered empty';
                    return 'ok';
                })""",
            )
        ):
            if state != "ok":
                problems.append(f"diagram {i + 1} of {diagrams}: {state}")
    listings = page.eval_on_selector_all(
        "main pre > code",
        """cs => cs.map(c => ({
            text: c.innerText.trim().length,
            shown: c.getBoundingClientRect().height > 0,
            highlighted: c.classList.contains('hljs'),
            lang: [...c.classList].filter(k => k.startsWith('language-')).join(' '),
        }))""",
    )
    for i, code in enumerate(listings):
        what = f"code block {i + 1} of {len(listings)} ({code['lang'] or 'no language'})"
        if not code["text"]:
            problems.append(f"{what} is empty")
        elif not code["shown"]:
            problems.append(f"{what} is not shown")
        if not code["highlighted"]:
            problems.append(f"{what} was not highlighted")
    # let late scripts (mermaid, highlighting, quizzes) report their errors
    page.wait_for_timeout(150)
    quizzes = page.locator(".quiz-placeholder").count()
    if quizzes:
        try:
            page.wait_for_function(
                f"() => document.querySelectorAll('.mdbook-quiz button.start').length >= {quizzes}",
                timeout=TIMEOUT_MS,
            )
        except Exception:  # the count below says how many did not render
            pass
        shown = page.locator(".mdbook-quiz button.start").count()
        if shown != quizzes:
            problems.append(f"{shown} of {quizzes} quizzes rendered")
    # toc.html, the sidebar for readers without JavaScript, is the one page with no <main>
    main_text = page.inner_text("main" if page.locator("main").count() else "body")
    if not main_text.strip():
        problems.append("the page shows no text")
    placeholder = bool(PLACEHOLDER.search(main_text))
    facts = {"diagrams": diagrams, "listings": len(listings), "quizzes": quizzes}
    return problems, {**facts, "placeholder": placeholder}


def check_search(page, base, term, expected, out):
    """Types `term` into the search box; returns a list of problems."""
    page.goto(base + "index.html", wait_until="load", timeout=TIMEOUT_MS)
    page.click("#mdbook-search-toggle")
    page.locator("#mdbook-searchbar").press_sequentially(term)
    try:
        page.wait_for_selector("#mdbook-searchresults li a", timeout=TIMEOUT_MS)
    except Exception:
        return [f"searching {term!r} shows no result"]
    page.screenshot(path=str(out / "search.png"))
    hrefs = page.eval_on_selector_all("#mdbook-searchresults li a", "as => as.map(a => a.href)")
    first = urllib.parse.urlparse(hrefs[0]).path.rsplit("/", 1)[-1]
    if first != expected:
        pages = [urllib.parse.urlparse(h).path.rsplit("/", 1)[-1] for h in hrefs]
        return [f"searching {term!r}: first result is in {first}, not {expected} (results: {pages})"]
    page.click("#mdbook-searchresults li a >> nth=0")
    page.wait_for_load_state("load")
    landed = urllib.parse.urlparse(page.url).path.rsplit("/", 1)[-1]
    if landed != expected:
        return [f"searching {term!r}: following the first result led to {landed}, not {expected}"]
    marks = page.eval_on_selector_all("main mark", "ms => ms.map(m => m.textContent.toLowerCase())")
    if term not in marks:
        return [f"searching {term!r}: {expected} opened without {term!r} highlighted"]
    page.screenshot(path=str(out / "search-result.png"))
    return []


def choose(quiz, question, right):
    """Answers one question of the open quiz: right, or wrong (a distractor; for a short
    answer, a word no answer is)."""
    answer = question["answer"]["answer"]
    if question["type"] == "MultipleChoice":
        text = answer if right else question["prompt"]["distractors"][0]
        text = text if isinstance(text, str) else text[0]
        quiz.locator(f"form.response input[value={json.dumps(text)}]").check()
    else:
        box = quiz.locator("form.response input[type=text], form.response textarea").first
        box.fill(answer if right else "certainly-not-the-answer")
    quiz.locator("form.response input[type=submit]").click()


def check_quiz(page, base, chapter, out):
    """Answers the chapter's first quiz of two or more questions through the page: the
    first question right, the second wrong, the rest right. Returns a list of problems."""
    page.goto(base + chapter, wait_until="load", timeout=TIMEOUT_MS)
    holders = page.locator(".quiz-placeholder")
    index = next(
        (k for k in range(holders.count())
         if len(json.loads(holders.nth(k).get_attribute("data-quiz-questions"))["questions"]) >= 2),
        None,
    )
    if index is None:
        return [f"{chapter}: no quiz with two questions or more to answer"]
    questions = json.loads(holders.nth(index).get_attribute("data-quiz-questions"))["questions"]
    quiz = page.locator(".mdbook-quiz").nth(index)
    name = chapter.removesuffix(".html")
    quiz.scroll_into_view_if_needed()
    quiz.locator("button.start").click()
    for k, question in enumerate(questions):
        quiz.locator(".counter", has_text=f"Question {k + 1} /").wait_for()
        if k == 0:
            quiz.screenshot(path=str(out / f"quiz-{name}-before.png"))
        choose(quiz, question, right=k != 1)
    problems = []
    review = quiz.locator("text=Answer Review")
    try:
        review.wait_for()
    except Exception:
        return [f"{chapter}: answered all {len(questions)} questions, but no answer review appeared"]
    score = f"{len(questions) - 1}/{len(questions)}"
    if score not in quiz.inner_text():
        return [f"{chapter}: the review does not say {score} answered correctly"]
    quiz.get_by_role("button", name="see the correct answers").first.click()
    answers = quiz.locator(".answer-wrapper")
    answers.nth(len(questions) - 1).locator(".context").wait_for()
    for k, question in enumerate(questions):
        box = answers.nth(k)
        # the marked answer: a .md-flex block (multiple choice) or a <code> (short answer)
        given = box.locator(".answer-row > div").first.locator(".correct, .incorrect").first
        marked = given.get_attribute("class") or ""
        expected = "incorrect" if k == 1 else "correct"
        if expected not in marked.split():
            problems.append(f"{chapter}: question {k + 1} answered {'wrong' if k == 1 else 'right'} "
                            f"is marked {marked!r}")
        if k == 1 and "The correct answer is" not in box.inner_text():
            problems.append(f"{chapter}: the question answered wrong does not show the right answer")
        context = box.locator(".context")
        if not context.count() or len(context.inner_text()) < 40:
            problems.append(f"{chapter}: question {k + 1} shows no explanation")
    quiz.screenshot(path=str(out / f"quiz-{name}-after.png"))
    # book.toml keeps no answers (no cache-answers): nothing is stored in the browser.
    stored = page.evaluate("Object.keys(localStorage)")
    if stored:
        problems.append(f"{chapter}: answering stored {stored} in the browser's localStorage")
    # The wrong answer's explanation links its section: follow the link, land on it.
    link = answers.nth(1).locator(".context a").first
    href = link.get_attribute("href") if link.count() else None
    if not href:
        problems.append(f"{chapter}: question 2's explanation has no link")
    else:
        link.click()
        page.wait_for_load_state("load")
        fragment = urllib.parse.urlparse(page.url).fragment
        if not fragment or not page.locator(f"[id={json.dumps(fragment)}]").count():
            problems.append(f"{chapter}: question 2's link {href} led to {page.url}, no such section")
    return problems


def screenshots(page, base, out, facts_of):
    """The first page, and one chapter: the first numbered one (SUMMARY's order, read
    from the sidebar mdBook renders into toc.html) with a diagram, else the first."""
    page.goto(base + "index.html", wait_until="load")
    page.screenshot(path=str(out / "first-page.png"))
    page.goto(base + "toc.html", wait_until="load")
    chapters = page.eval_on_selector_all(
        "a", "as => as.filter(a => a.querySelector('strong')).map(a => a.getAttribute('href'))"
    )
    chapter = next((c for c in chapters if facts_of.get(c, {}).get("diagrams")), None)
    chapter = chapter or (chapters[0] if chapters else "index.html")
    page.goto(base + chapter, wait_until="load")
    drawn = facts_of.get(chapter, {}).get("diagrams")
    if drawn:
        page.wait_for_function(ALL_DIAGRAMS_DRAWN, timeout=TIMEOUT_MS)
    page.screenshot(path=str(out / "chapter.png"))
    if drawn:
        page.locator("pre.mermaid").first.screenshot(path=str(out / "diagram.png"))


def main():
    if len(sys.argv) != 3:
        print("usage: python3 tests/browser.py BOOK_HTML_DIR OUT_DIR", file=sys.stderr)
        return 2
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    if not (root / "index.html").is_file():
        print(f"browser: no rendered book in {root} (run `scripts/book build`)", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).is_file():
        print(f"browser: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html"))
    server, base = serve(root)
    tally, placeholders, facts_of = Tally(), [], {}
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="browser-profile-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile,  # a fresh, empty --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(TIMEOUT_MS)
        print(f"browser: {context.browser.version if context.browser else 'chromium'}, "
              f"book served at {base}")
        # Nothing but the book's own server: a page that needs the internet is broken
        # for a reader offline, and would hang here.
        external = []

        def outside(route):
            external.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(?!" + re.escape(base) + ")"), outside)
        for name in pages:
            page = context.new_page()  # a page of its own: no listener or state carries over
            watch = PageWatch(page, base)
            external.clear()
            try:
                problems, facts = check_page(page, base + name)
            except Exception as e:  # a page that does not load at all
                problems, facts = [f"did not load: {e}"], {}
            page.close()
            facts_of[name] = facts
            detail = (f"{facts.get('diagrams', 0)} diagrams, {facts.get('listings', 0)} code blocks, "
                      f"{facts.get('quizzes', 0)} quizzes")
            if facts.get("placeholder"):
                placeholders.append(name)
                detail += ", placeholder"
            outside_requests = [f"request outside the book: {u}" for u in external]
            tally.record(f"{name} ({detail})", watch.problems + problems + outside_requests)

        page = context.new_page()
        screenshots(page, base, out, facts_of)
        for term, expected in SEARCHES.items():
            label = f"search {term!r} -> {expected}"
            if expected not in facts_of:
                tally.record(label, [f"the book has no page {expected}"])
            elif expected in placeholders:
                tally.skip(label, f"{expected} is still a placeholder")
            else:
                watch = PageWatch(page, base)
                tally.record(label, check_search(page, base, term, expected, out) + watch.problems)
        # The quizzes, answered through the page in every chapter that has one (a fresh
        # page each: the route above still refuses any request outside the book).
        for name in sorted(n for n, f in facts_of.items() if f.get("quizzes") and n != "print.html"):
            page = context.new_page()
            watch = PageWatch(page, base)
            external.clear()
            try:
                problems = check_quiz(page, base, name, out)
            except Exception as e:  # an element that never appeared: say which
                problems = [f"{name}: answering its quiz failed: {e}"]
            page.close()
            outside_requests = [f"request outside the book: {u}" for u in external]
            tally.record(f"quiz in {name}: one answer right, one wrong, explanations shown",
                         watch.problems + problems + outside_requests)
        context.close()
    server.shutdown()
    if QuietHandler.failed:
        print(f"server saw failed requests: {QuietHandler.failed}")
    if placeholders:
        print(f"placeholder pages (still to be written): {', '.join(placeholders)}")
    shots = ", ".join(sorted(p.name for p in out.glob("*.png")))
    print(f"screenshots in {out}: {shots}")
    print(f"browser: {tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
