"""Checks every link inside the rendered book: its page exists and its #anchor is there.

mdbook-linkcheck2 (a backend in book.toml) checks that a linked page exists, but not
the part after `#`: its own source says "fragment resolution isn't implemented". This
closes that gap on the rendered HTML, where the anchors are the ids mdBook really
wrote. `scripts/book build` runs it after rendering:

    python3 scripts/anchors.py target/book/html

Links with a scheme (https:, mailto:) are left to the reader's browser; everything
else must resolve inside the book. The Markdown links inside a quiz (mdbook-quiz keeps
its questions as JSON in a `data-quiz-questions` attribute, and its script renders
them in the browser) are checked the same way. Exit status 1 when a link is broken.
"""

import html.parser
import json
import posixpath
import re
import sys
import urllib.parse
from pathlib import Path


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (line, href)
        self.base = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "base" and attrs.get("href"):
            self.base = attrs["href"]
        if tag == "a" and attrs.get("href") is not None:
            self.links.append((self.getpos()[0], attrs["href"]))
        if attrs.get("data-quiz-questions"):
            for text in strings(json.loads(attrs["data-quiz-questions"])):
                for href in MARKDOWN_LINK.findall(text):
                    self.links.append((self.getpos()[0], href))


MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def main():
    if len(sys.argv) != 2:
        print("usage: python3 scripts/anchors.py BOOK_HTML_DIR", file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    pages = {p.relative_to(root).as_posix(): parse(p) for p in sorted(root.rglob("*.html"))}
    if "index.html" not in pages:
        print(f"anchors: no rendered book in {root}", file=sys.stderr)
        return 1
    broken, checked = [], 0
    for name, page in pages.items():
        # mdBook's 404 page sets <base href="SITE-URL">: its links start at the book's root.
        directory = "" if page.base and page.base.startswith("/") else posixpath.dirname(name)
        for line, href in page.links:
            url = urllib.parse.urlsplit(href)
            if url.scheme or url.netloc or href.startswith("javascript:"):
                continue
            checked += 1
            if url.path:
                target = posixpath.normpath(posixpath.join(directory, urllib.parse.unquote(url.path)))
                if target.startswith(".."):
                    broken.append(f"{name}:{line}: {href}: leads out of the book")
                    continue
                if (root / target).is_dir():
                    target = posixpath.join(target, "index.html")
                if not (root / target).exists():
                    broken.append(f"{name}:{line}: {href}: no such file in the book")
                    continue
            else:
                target = name
            fragment = urllib.parse.unquote(url.fragment)
            if fragment and target in pages and fragment not in pages[target].ids:
                broken.append(f"{name}:{line}: {href}: {target} has no anchor #{fragment}")
    whole = {"print.html", "toc.html", "404.html", "index.html"}
    for b in broken:
        name = b.split(":", 1)[0]
        source = f" (written in src/{name[:-5]}.md)" if name not in whole else ""
        print(f"broken link: {b}{source}")
    print(f"anchors: {checked} links in {len(pages)} pages checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
