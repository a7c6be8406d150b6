"""Config keys named in the docs exist in config.example.toml (the reference config)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "contrib" / "README.md"]
SECTIONS = ("monitor", "fetch", "channels", "feeds", "rules")
# "[monitor].tick", "[monitor] tick", "[[feeds]].interval"
REFERENCE = re.compile(r"\[\[?(monitor|fetch|channels|feeds|rules)\]?\]\.?[ ]?([a-z][a-z0-9_]*)")
HEADER = re.compile(r"^\s*#?\s*\[\[?([a-z_]+)\]?\]")


def example_keys() -> dict[str, set[str]]:
    """Per section, every word of its part of config.example.toml (keys, also those
    described only in comments, including the comments just above its header)."""
    words: dict[str, set[str]] = {s: set() for s in SECTIONS}
    lines = (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines()
    section = None
    for i, line in enumerate(lines):
        header = HEADER.match(line)
        if header and header.group(1) in SECTIONS:
            section = header.group(1)
            j = i - 1
            while j >= 0 and (not lines[j].strip() or lines[j].lstrip().startswith("#")):
                words[section].update(re.findall(r"[a-z][a-z0-9_]*", lines[j]))
                j -= 1
            continue
        if section:
            words[section].update(re.findall(r"[a-z][a-z0-9_]*", line))
    return words


def doc_references(text: str) -> list[tuple[str, str, int]]:
    """(section, key, line) for every ``[section].key`` and every key of a TOML block."""
    found = [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in REFERENCE.finditer(text)
    ]
    for block in re.finditer(r"```toml\n(.*?)```", text, re.S):
        section, first = None, text.count("\n", 0, block.start()) + 2
        for offset, line in enumerate(block.group(1).splitlines()):
            header = HEADER.match(line)
            if header:
                section = header.group(1)
            elif section in SECTIONS and section != "channels":
                key = re.match(r"\s*([a-z][a-z0-9_]*)\s*=", line)
                if key:
                    found.append((section, key.group(1), first + offset))
    return found


def test_doc_references_are_found() -> None:
    """The scanner itself sees both forms (so the real check cannot pass vacuously)."""
    text = "Set `[monitor].tick_s` or [fetch] timeout.\n```toml\n[[feeds]]\nurl = 'x'\nbogus = 1\n```\n"
    assert doc_references(text) == [
        ("monitor", "tick_s", 1),
        ("fetch", "timeout", 1),
        ("feeds", "url", 4),
        ("feeds", "bogus", 5),
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_name_only_keys_of_the_example_config(doc: Path) -> None:
    if not doc.exists():
        pytest.skip(f"{doc} absent")
    keys = example_keys()
    unknown = [
        f"{doc.name}:{line}: [{section}].{key}"
        for section, key, line in doc_references(doc.read_text(encoding="utf-8"))
        if key not in keys[section]
    ]
    assert unknown == []
