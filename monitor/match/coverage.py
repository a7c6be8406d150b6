"""What a rule word, phrase or ``[terms]`` group covers: the renderings and case forms
the matcher accepts, each with its origin (``monitor terms show``). No I/O (the
pronunciation dictionary and the pymorphy3 dictionaries are packaged files).

Candidates come from several generators — the term as written (``written``), a
``[terms]`` group's own members (``alias``), transliterations into the other script
that share the spelling key (``spelling``), :func:`monitor.match.sound.name_renderings`
(``spelling``, ``sound``, and whatever origin it adds later, e.g. ``place``), and for
the forms: the pymorphy3 lexemes (Ukrainian and Russian, singular, plus the feminine
forms of ``-ов``/``-ин``/``-ський`` surnames) and English plurals and possessives. Every
candidate is then **verified by the real matcher**: the term is compiled with
:func:`monitor.match.compile_rules` and matched against a document holding the
candidate mid-sentence (capitalised for a name). Only what matches is listed, so the
output never promises what the matcher does not do; paradigm forms that do not match
are listed as ``missed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from anyascii import anyascii

from monitor.match.index import TermIndex, WordIndex
from monitor.match.keys import Lexicon, english_forms, name_keys
from monitor.match.matcher import Matcher, compile_rules
from monitor.match.query import parse_term_text
from monitor.match.sound import latin_spellings, name_renderings
from monitor.match.tokens import TOKEN_RE, is_cyrillic, is_latin, normalize_token
from monitor.records import Document, RuleConfig

_GROUP = "shown"  # the one-entry group each term is compiled as (a group entry's semantics)
_MAX_CANDIDATES = 64  # transliterations tried per word
_MAX_PHRASE_RENDERINGS = 16

# Latin letters -> the Cyrillic letters Ukrainian and Russian editors write for them;
# longest sequence first. Generous on purpose: the matcher decides what is kept.
_TO_CYRILLIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shch", ("щ",)),
    ("sch", ("ш",)),
    ("sh", ("ш",)),
    ("ch", ("ч",)),
    ("zh", ("ж",)),
    ("kh", ("х",)),
    ("ts", ("ц",)),
    ("tz", ("ц",)),
    ("ya", ("я",)),
    ("yu", ("ю",)),
    ("ye", ("є", "е")),
    ("ck", ("к",)),
    ("ey", ("ей",)),
    ("ay", ("ей", "ай")),
    ("ph", ("ф",)),
    ("th", ("т",)),
    ("wh", ("у", "в")),
    ("a", ("а",)),
    ("b", ("б",)),
    ("c", ("к", "с")),
    ("d", ("д",)),
    ("e", ("е",)),
    ("f", ("ф",)),
    ("g", ("г",)),
    ("h", ("г", "х")),
    ("i", ("і", "и")),
    ("j", ("дж", "й")),
    ("k", ("к",)),
    ("l", ("л",)),
    ("m", ("м",)),
    ("n", ("н",)),
    ("o", ("о",)),
    ("p", ("п",)),
    ("q", ("к",)),
    ("r", ("р",)),
    ("s", ("с",)),
    ("t", ("т",)),
    ("u", ("у",)),
    ("v", ("в",)),
    ("w", ("в", "у")),
    ("x", ("кс",)),
    ("y", ("і", "и")),
    ("z", ("з",)),
)
# Ukrainian <-> Russian spellings of one Cyrillic name (Зеленський / Зеленский).
_CYRILLIC_SWAPS = (("ий", "ый"), ("і", "и"), ("и", "і"), ("є", "е"), ("ї", "йи"))
_CASES = ("nomn", "gent", "gen2", "datv", "accs", "acc2", "ablt", "loct", "loc2", "voct")
_FEMININE = {
    "ов": ("а", "ої", "ій", "у", "ою", "ой"),
    "ев": ("а", "ої", "ій", "у", "ою", "ой"),
    "єв": ("а", "ої", "ій", "у", "ою"),
    "ин": ("а", "ої", "ій", "у", "ою", "ой"),
    "ін": ("а", "ої", "ій", "у", "ою"),
}
_ADJECTIVAL = {
    "ський": ("ська", "ської", "ській", "ську", "ською"),
    "цький": ("цька", "цької", "цькій", "цьку", "цькою"),
    "ский": ("ская", "ской", "скую", "ською"),
    "цкий": ("цкая", "цкой", "цкую"),
}


@dataclass(frozen=True, slots=True)
class Rendering:
    """One spelling the matcher accepts for a term, where it comes from, and its forms.

    ``forms`` are the other forms verified to match (case forms, plurals, possessives);
    ``missed`` the forms of its dictionary paradigm that the matcher does not accept.
    """

    text: str
    origin: str  # "written", "alias", "spelling", "sound", "dictionary", or a newer origin
    forms: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one term (a word or phrase as a rule writes it) covers."""

    term: str
    is_name: bool
    renderings: tuple[Rendering, ...]
    notes: tuple[str, ...]  # what the term does not cover, one line each


@dataclass(frozen=True, slots=True)
class GroupCoverage:
    """What an ``@group`` covers: each member's coverage (members are aliases)."""

    group: str
    members: tuple[Coverage, ...]


class _Verifier:
    """Does the matcher accept a candidate text for the compiled term?"""

    def __init__(self, term: str) -> None:
        rule = RuleConfig(name=_GROUP, query=f"@{_GROUP}")
        self._matcher: Matcher = compile_rules([rule], {_GROUP: (term,)})

    def accepts(self, candidate: str) -> bool:
        """True when ``candidate``, mid-sentence in an article, is evidence of the term."""
        lead = "Yesterday" if is_latin(candidate[:1]) else "Учора"
        doc = Document(title="", text=f"{lead} {candidate} said so.")
        return any(e.surface == candidate for m in self._matcher.match(doc) for e in m.evidence)


def term_coverage(term: str) -> Coverage:
    """The renderings and forms the matcher accepts for ``term`` (a word or phrase as a
    rule writes it; surrounding quotes are dropped). No I/O."""
    text = term.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return _coverage(text, "written")


def group_coverage(name: str, terms: Mapping[str, Sequence[str]]) -> GroupCoverage:
    """Each member of the ``[terms]`` group ``name`` (``@`` optional) with its coverage;
    raises ``KeyError`` for an unknown group."""
    key = name.removeprefix("@")
    members = terms.get(key)
    if members is None:
        folded = {k.casefold(): k for k in terms}
        key = folded[key.casefold()]
        members = terms[key]
    return GroupCoverage(key, tuple(_coverage(m, "alias") for m in members))


def _coverage(text: str, origin: str) -> Coverage:
    words = TOKEN_RE.findall(text)
    verify = _Verifier(text)
    if not words:
        return Coverage(text, False, (), ("it has no words",))
    is_name = any(w[:1].isupper() for w in words)
    if text.startswith("=") or text.endswith("*"):
        note = "exact: no other forms" if text.startswith("=") else "a prefix: any word so starting"
        return Coverage(text, False, (Rendering(text, origin),), (note,))
    spellings = _phrase_spellings(words, origin) if is_name else [(" ".join(words), origin)]
    if is_name and len(words) > 1:  # a place's names of several words («Санкт-Петербург»)
        term = parse_term_text(f'"{text}"', 0, None)
        spellings[1:1] = [
            (t.label, "place") for t in TermIndex(WordIndex(Lexicon())).alternatives(term)
        ]
    renderings = []
    seen: set[str] = set()
    for spelling, how in spellings:
        if spelling in seen or not verify.accepts(spelling):
            continue
        seen.add(spelling)
        forms, missed = _forms(spelling, is_name, verify)
        renderings.append(Rendering(spelling, how, forms, missed))
    return Coverage(text, is_name, tuple(renderings), _notes(words, is_name, renderings, verify))


def _phrase_spellings(words: Sequence[str], origin: str) -> list[tuple[str, str]]:
    """The candidate spellings of a phrase: as written, then each script's renderings
    of all its words together (the origin of the most derived word wins)."""
    options = [_word_spellings(w) for w in words]
    if len(words) > 1:  # "Michael Jordan" is a person: not «Майкл Йорданія» (the country)
        options = [[o for o in opts if o[1] != "place"] or opts[:1] for opts in options]
    out = [(" ".join(words), origin)]
    for script in (is_cyrillic, is_latin):
        pick = _best if len(words) > 1 else list
        per_word = [pick([o for o in opts if script(o[0][:1])]) or [opts[0]] for opts in options]
        for combo in list(product(*per_word))[: _MAX_PHRASE_RENDERINGS * 4]:
            derived = [how for _, how in combo if how != "written"]
            out.append((" ".join(t for t, _ in combo), derived[-1] if derived else origin))
    return out


def _best(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A phrase word's renderings to combine: its sound (or newer-origin) renderings when
    it has some, else its first two spellings."""
    derived = [o for o in options if o[1] not in ("written", "spelling")]
    return (derived or options)[:2]


def _word_spellings(word: str) -> list[tuple[str, str]]:
    """One word as written, then its candidate renderings with their origin."""
    out = [(word, "written")]
    if not word[:1].isupper():
        return out
    norm = normalize_token(word)
    if is_latin(word[:1]):
        found = name_renderings(norm)
        for latin in [norm, *(r for r, how in found.items() if how == "spelling" and r.isascii())]:
            out += [(_cap(c), "spelling") for c in _transliterations(latin)]
        out += [(_cap(r), how) for r, how in found.items() if not r.isascii()]
        out += [(_cap(r), how) for r, how in found.items() if r.isascii()]
    else:
        out += [(_cap(w), "sound") for w in sorted(latin_spellings(name_keys(norm).whole))]
        out += [(_cap(anyascii(norm)), "spelling")]
        out += [(_cap(norm.replace(a, b)), "spelling") for a, b in _CYRILLIC_SWAPS if a in norm]
    return out


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _transliterations(latin: str) -> list[str]:
    """Cyrillic spellings of a lower-case Latin word, letter group by letter group (a
    final ``-y`` also as «-ий», a silent final ``-e`` also dropped)."""
    stems = [latin]
    if latin.endswith(("sky", "ski")):
        return [
            _transliterations(latin[:-3])[0] + end for end in ("ський", "ский", "скі", "ски")
        ] + _transliterations(latin[:-3] + "s")[1:2]
    if len(latin) > 3 and latin.endswith("e") and latin[-2] not in "aeiouy":
        stems.append(latin[:-1])  # Steve «Стів»
    out: list[str] = []
    for stem in stems:
        options: list[tuple[str, ...]] = []
        i = 0
        while i < len(stem):
            if i == len(stem) - 1 and stem[i] == "y" and i and stem[i - 1] not in "aeiou":
                options.append(("ий", "і"))  # Zelensky «Зеленський», Haley «Гейлі»
                break
            for seq, cyr in _TO_CYRILLIC:
                if stem.startswith(seq, i):
                    options.append(cyr)
                    i += len(seq)
                    break
            else:
                i += 1  # a letter with no rendering (an apostrophe, a diacritic): dropped
        out += ["".join(c) for c in list(product(*options))[:_MAX_CANDIDATES]]
    return out


def _forms(
    spelling: str, is_name: bool, verify: _Verifier
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(forms, missed)`` of one accepted spelling: its candidate forms that match, and
    those of its dictionary paradigm that do not."""
    accepted: list[str] = []
    missed: list[str] = []
    for candidate, from_dictionary in _candidate_forms(spelling.split(" "), is_name):
        if candidate == spelling or candidate in accepted or candidate in missed:
            continue
        if verify.accepts(candidate):
            accepted.append(candidate)
        elif from_dictionary:
            missed.append(candidate)
    return tuple(accepted), tuple(missed)


def _candidate_forms(words: list[str], is_name: bool) -> list[tuple[str, bool]]:
    """Candidate forms of a phrase, each with whether a dictionary vouches for it: English
    plurals and possessives of the last word; Ukrainian and Russian case forms (a name's
    words in the same case together, a common phrase's first word), feminine surnames."""
    last = words[-1]
    if is_latin(last[:1]):
        k = (
            len(words) - 1 if is_name else 0
        )  # a name's plural is its last word's, a phrase's its head's
        return [
            (" ".join([*words[:k], f, *words[k + 1 :]]), True) for f in _english_forms(words[k])
        ]
    if not is_cyrillic(last[:1]):
        return []
    paradigms = [_paradigm(w, is_name) for w in words]
    out: list[tuple[str, bool]] = []
    if is_name:
        cases = sorted({c for forms, _ in paradigms for c in forms}, key=_CASES.index)
        for case in cases:
            options = [
                sorted(forms.get(case, {w})) for w, (forms, _) in zip(words, paradigms, strict=True)
            ]
            vouched = all(known and case in forms for forms, known in paradigms)
            out += [(" ".join(c), vouched) for c in list(product(*options))[:8]]
        out += [(" ".join([*words[:-1], f]), False) for f in sorted(_feminine(last))]
    else:
        forms, known = paradigms[0]
        for case in sorted(forms, key=_CASES.index):
            out += [(" ".join([f, *words[1:]]), known) for f in sorted(forms[case])]
    return out


def _english_forms(word: str) -> list[str]:
    """The plural and possessive forms the matcher promises for a Latin word (``-es``
    only after a sibilant; a trailing apostrophe is punctuation to the tokenizer)."""
    forms = {_like(word, f) for f in english_forms(word.lower())}
    sibilant = word.lower().endswith(("s", "x", "z", "ch", "sh"))
    plural = word + ("es" if sibilant else "s")
    return sorted(
        f
        for f in forms
        if f != word
        and not f.endswith("'")
        and (f in (plural, word + "'s") or not f.endswith(("s", "es")))
    )


def _like(model: str, form: str) -> str:
    """``form`` capitalised like ``model``, part by part (``Санкт-Петербург``)."""
    models, parts = model.split("-"), form.split("-")
    if len(models) == len(parts) > 1:
        return "-".join(_like(m, p) for m, p in zip(models, parts, strict=True))
    return _cap(form) if model[:1].isupper() else form


def _feminine(word: str) -> set[str]:
    """Feminine case forms of a ``-ов``/``-ин``/``-ський`` surname, capitalised like it."""
    lower = word.lower()
    for ending, forms in _ADJECTIVAL.items():
        if lower.endswith(ending):
            return {_like(word, lower[: -len(ending)] + f) for f in forms}
    for ending, forms in _FEMININE.items():
        if lower.endswith(ending):
            return {_like(word, lower + f) for f in forms}
    return set()


def _paradigm(word: str, is_name: bool) -> tuple[dict[str, set[str]], bool]:
    """``({case: forms}, known)``: the singular forms of the word's pymorphy3 lexeme (in
    the languages its letters allow; for a name, its surname/first-name parse, else a
    masculine noun), capitalised like ``word``; ``known`` when a dictionary gave them (a
    guessed paradigm is used only when no dictionary knows the word)."""
    letters = set(word.lower())
    langs = ["uk"] if letters & set("іїєґ") else ["ru"] if letters & set("ыэъё") else ["uk", "ru"]
    picked: list[tuple[Any, bool]] = []
    for lang in langs:
        parses = _analyzer(lang).parse(word.lower())
        preferred = [p for p in parses if {"Surn", "Name"} & set(p.tag.grammemes)] or [
            p for p in parses if {"NOUN", "masc"} <= set(p.tag.grammemes)
        ]
        parse = (preferred if is_name and preferred else parses)[:1]
        picked += [(p, type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer") for p in parse]
    known = any(k for _, k in picked)
    by_case: dict[str, set[str]] = {}
    for parse, from_dictionary in picked:
        if known and not from_dictionary:
            continue
        for form in parse.lexeme:
            if "plur" not in form.tag.grammemes and form.tag.case:
                text = _like(word, form.word.replace("ё", "е"))
                by_case.setdefault(str(form.tag.case), set()).add(text)
    return by_case, known


def _analyzer(lang: str) -> Any:
    return Lexicon.analyzer(lang)  # the matcher's own: loaded once per process


def _notes(
    words: Sequence[str], is_name: bool, renderings: Iterable[Rendering], verify: _Verifier
) -> tuple[str, ...]:
    """What the term does not cover, verified like the rest."""
    found = list(renderings)
    notes = []
    if not found:
        notes.append("the matcher accepts none of the candidates (not even the term itself)")
    if is_name:
        cyrillics = [r for r in found if is_cyrillic(r.text[:1])]
        cyrillics.sort(key=lambda r: r.origin in ("written", "alias", "spelling"))
        cyrillic = cyrillics[0].text if cyrillics else None
        if cyrillic and not verify.accepts(cyrillic.lower()):
            notes.append(
                f"lower-case «{cyrillic.lower()}» is not matched: names match capitalised only"
            )
        if cyrillic is None:
            notes.append(
                "no Cyrillic rendering is matched: if the press writes one, add it to a [terms] group"
            )
        if not any(is_latin(r.text[:1]) for r in found):
            notes.append("no Latin rendering is matched: add one to a [terms] group if needed")
    elif any(w[:1].isalpha() and not is_cyrillic(w[0]) and not is_latin(w[0]) for w in words):
        notes.append("words in other scripts match only as written")
    else:
        notes.append("lower-case words: inflected forms only, no other script, no fuzzy spelling")
    return tuple(notes)
