#!/usr/bin/env python3
"""Checks that the documentation in docs/ follows the code and that its links resolve.

  docs_test.py protocol TOOL PROTOCOL.md   every RESP command in the server's command table
                                           (`TOOL commands`, i.e. ttl-semlock-doc) is named in
                                           PROTOCOL.md as `NAME` (in backticks); the failure
                                           lists the missing ones
  docs_test.py links REPO                  every relative link in README.md and docs/*.md points
                                           at a file that exists (and an anchor that exists, for
                                           links into Markdown files); README links the user
                                           guides
"""
import os
import re
import subprocess
import sys

USER_GUIDES = ["docs/PROTOCOL.md", "docs/CONFIGURATION.md", "docs/MIGRATING.md",
               "docs/OPERATIONS.md", "docs/CLIENTS.md"]


def protocol(tool, doc):
    commands = subprocess.run([tool, "commands"], check=True, capture_output=True,
                              text=True).stdout.split("\n")
    commands = [c for c in commands if c]
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    missing = [c for c in commands if f"`{c}`" not in text and f"`{c} " not in text]
    if missing:
        print(f"{doc} does not document these RESP commands of the command table:")
        for c in missing:
            print(f"  {c}")
        print("Describe each in its section and add it to the command index at the end.")
        return 1
    print(f"ok: all {len(commands)} commands of the command table are in {doc}")
    return 0


def anchors(path):
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            if in_code:
                continue
            m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
                out.add(slug)
    return out


def links(repo):
    failures = []
    files = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(repo, "docs"))
                                   if f.endswith(".md"))
    for rel in files:
        path = os.path.join(repo, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part \
                else path
            if not os.path.exists(dest):
                failures.append(f"{rel}: link to {target}: {os.path.relpath(dest, repo)} does not exist")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                failures.append(f"{rel}: link to {target}: no heading #{anchor} there")
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for guide in USER_GUIDES:
        if os.path.exists(os.path.join(repo, guide)) and f"]({guide}" not in readme:
            failures.append(f"README.md does not link {guide}")
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print(f"ok: the links of {len(files)} files resolve; README links the guides")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "protocol":
        return protocol(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "links":
        return links(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
