#!/usr/bin/env python3
"""Checks the relative links of simdrop's Markdown: README.md, CHANGELOG.md and docs/*.md.

    python3 scripts/check_links.py [ROOT]      (ROOT: the repository root; default: this script's ..)

Every link that is not a URL with a scheme (https:, mailto:, ...) must name a file or folder
that exists, relative to the page that holds it; an anchor (`page.md#section`, or `#section`
on the same page) must name a heading of that Markdown page, by GitHub's rule for heading
ids, or an explicit `id=`/`name=` in its HTML. Checked: inline links and images
`[text](target)`, `![alt](target)`, reference definitions `[label]: target`, and HTML
`href=`/`src=` attributes; links inside code (fenced blocks, indented blocks, `spans`) are not
links and are skipped. Anchors of files that are not Markdown (`file.cpp#L10`) are not checked.

Exit status: 0 when every link resolves; 1 with one line per broken link,
`page:line: target: why`; 2 for a usage mistake. Python 3 standard library only.
"""
import os
import re
import sys
import unicodedata
from urllib.parse import unquote

PAGES = ["README.md", "CHANGELOG.md", "docs/*.md"]
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*(<[^>]*>|\S+)")
HTML_ATTRIBUTE = re.compile(r"""<[A-Za-z][^>]*?\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
HTML_ID = re.compile(r"""<[A-Za-z][^>]*?\b(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def pages(root):
    """The Markdown pages to check, relative to root, in a stable order."""
    found = []
    for pattern in PAGES:
        folder, _, name = pattern.rpartition("/")
        directory = os.path.join(root, folder)
        if "*" in name:
            suffix = name.split("*", 1)[1]
            if os.path.isdir(directory):
                found += sorted(os.path.join(folder, f) for f in os.listdir(directory)
                                if f.endswith(suffix) and os.path.isfile(os.path.join(directory, f)))
        elif os.path.isfile(os.path.join(root, pattern)):
            found.append(pattern)
    return found


def strip_code_spans(line):
    """The line with the contents of `code spans` blanked (same length, so columns stay)."""
    out = []
    i = 0
    while i < len(line):
        if line[i] == "`":
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            close = line.find("`" * run, i + run)
            while close != -1 and close + run < len(line) and line[close + run] == "`":
                close = line.find("`" * run, close + run + 1)
            if close == -1:
                out.append(line[i:i + run])
                i += run
                continue
            out.append(" " * (close + run - i))
            i = close + run
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def prose_lines(text):
    """(line number, line) for every line outside fenced and indented code blocks."""
    fence = None
    previous_blank = True
    in_indented = False
    for number, line in enumerate(text.splitlines(), 1):
        if fence:
            match = FENCE.match(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not match.group(2).strip():
                fence = None
            previous_blank = False
            continue
        match = FENCE.match(line)
        if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            fence = match.group(1)
            continue
        blank = not line.strip()
        indented = line.startswith("    ") or line.startswith("\t")
        if indented and (previous_blank or in_indented) and not blank:
            in_indented = True
            continue
        if not blank:
            in_indented = False
        previous_blank = blank
        yield number, line


def heading_text(markdown):
    """The text GitHub renders for a heading's Markdown: code, links, images and emphasis
    reduced to their text."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(`+)(.+?)\1", lambda m: m.group(2).strip(), text)
    text = re.sub(r"(?<![\w\\])_+|_+(?![\w])", "", text)  # emphasis underscores, not snake_case
    return text.replace("\\", "")


def slug(text):
    """GitHub's heading id (github-slugger): lower case; letters, marks, digits, connector
    punctuation (`_`), hyphens and spaces kept, everything else removed; each space a hyphen."""
    kept = []
    for ch in text.strip().lower():
        category = unicodedata.category(ch)
        if ch in " -" or category[0] in "LMN" or category == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(text):
    """Every anchor a Markdown page defines: its headings' ids (repeats numbered -1, -2, ...)
    and the ids and names of its HTML elements."""
    found = set()
    seen = {}
    previous = None
    for _, line in prose_lines(text):
        heading = None
        match = ATX_HEADING.match(line)
        if match:
            heading = match.group(2) or ""
        elif previous is not None and previous.strip() and SETEXT_UNDERLINE.match(line) \
                and not ATX_HEADING.match(previous) and not previous.startswith((" " * 4, "\t")):
            heading = previous.strip()
        if heading is not None:
            base = slug(heading_text(heading))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else "%s-%d" % (base, count))
        for match in HTML_ID.finditer(line):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
        previous = line
    return found


def inline_targets(line):
    """The targets of the inline links and images of one line (code spans already blanked)."""
    targets = []
    start = 0
    while True:
        at = line.find("](", start)
        if at == -1:
            return targets
        i = at + 2
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == "<":
            close = line.find(">", i + 1)
            if close == -1:
                start = at + 2
                continue
            targets.append(line[i + 1:close])
            start = close + 1
            continue
        depth = 0
        j = i
        while j < len(line):
            ch = line[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    break
                depth -= 1
            elif ch in " \t" and depth == 0:
                break  # a title follows
            j += 1
        if j < len(line) or depth == 0:
            target = line[i:j]
            if target:
                targets.append(target)
        start = max(j, at + 2)


def links(text):
    """(line number, target) for every link of a page."""
    for number, line in prose_lines(text):
        line = strip_code_spans(line)
        match = REFERENCE_DEFINITION.match(line)
        if match:
            target = match.group(2)
            yield number, target[1:-1] if target.startswith("<") else target
            continue
        for target in inline_targets(line):
            yield number, target
        for match in HTML_ATTRIBUTE.finditer(line):
            yield number, match.group(1) if match.group(1) is not None else match.group(2)


def check(root):
    """The broken links of every page, as 'page:line: target: why' lines, and the counts."""
    cache = {}

    def anchors_of(path):
        if path not in cache:
            with open(path, encoding="utf-8") as f:
                cache[path] = anchors(f.read())
        return cache[path]

    broken = []
    checked = 0
    names = pages(root)
    for name in names:
        page = os.path.join(root, name)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        for number, target in links(text):
            if SCHEME.match(target) or target.startswith("//"):
                continue  # a URL: not ours to check
            checked += 1
            path, _, anchor = target.partition("#")
            path = unquote(path.split("?", 1)[0])
            if path:
                if path.startswith("/"):
                    resolved = os.path.normpath(os.path.join(root, path.lstrip("/")))
                else:
                    resolved = os.path.normpath(os.path.join(os.path.dirname(page), path))
                if not os.path.exists(resolved):
                    broken.append("%s:%d: %s: %s does not exist"
                                  % (name, number, target, os.path.relpath(resolved, root)))
                    continue
            else:
                resolved = page
            if not anchor or not resolved.endswith(".md") or os.path.isdir(resolved):
                continue
            if unquote(anchor) not in anchors_of(resolved):
                broken.append("%s:%d: %s: no heading with the id '%s' in %s"
                              % (name, number, target, unquote(anchor), os.path.relpath(resolved, root)))
    return broken, checked, len(names)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip(), file=sys.stderr if len(argv) > 2 else sys.stdout)
        return 2 if len(argv) > 2 else 0
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if not os.path.isdir(root):
        print("check_links.py: %s is not a folder" % root, file=sys.stderr)
        return 2
    broken, checked, count = check(root)
    for line in broken:
        print(line)
    if broken:
        print("check_links.py: %d of %d relative links broken in %d pages" % (len(broken), checked, count))
        return 1
    print("check_links.py: all %d relative links resolve in %d pages" % (checked, count))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
