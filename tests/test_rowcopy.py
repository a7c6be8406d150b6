"""Values made fit for PostgreSQL (NUL, too long), each change counted. Pure."""

from __future__ import annotations

import pytest

from monitor.store.rowcopy import Changes, Fingerprint, RowFitter, fit_json, fit_text
from monitor.store.schema import FeedRow


@pytest.mark.parametrize(
    ("value", "limit", "expected", "nul", "cut"),
    [
        ("plain", 10, "plain", 0, 0),
        ("a\x00b\x00", None, "a\ufffdb\ufffd", 1, 0),
        ("x" * 10, 10, "x" * 10, 0, 0),
        ("\x00" + "x" * 40, 30, "\ufffd" + "x" * 12 + "~", 1, 1),
    ],
)
def test_fit_text_replaces_nul_and_cuts_to_the_column(value, limit, expected, nul, cut) -> None:
    changes = Changes()
    out = fit_text(value, limit, changes)
    assert out.startswith(expected) and (changes.nul, changes.cut) == (nul, cut)
    if cut:
        assert len(out) == limit


def test_two_long_values_sharing_a_prefix_stay_two_values() -> None:
    a, b = fit_text("u" * 5000 + "a", 2048, Changes()), fit_text("u" * 5000 + "b", 2048, Changes())
    assert a != b and len(a) == len(b) == 2048


def test_fit_json_reaches_every_string_and_key() -> None:
    changes = Changes()
    out = fit_json([{"t\x00": "a\x00", "n": 3, "l": ["\x00", None]}], changes)
    assert out == [{"t\ufffd": "a\ufffd", "n": 3, "l": ["\ufffd", None]}]
    assert changes.nul == 3


def test_a_row_keeps_what_fits_and_its_fingerprint_is_stable() -> None:
    fitter = RowFitter(FeedRow.__table__)  # type: ignore[arg-type]
    row = {"id": 1, "url": "https://a.example/rss", "title": "x" * 600, "polls": None}
    fitted = fitter.fit(row)
    assert fitted["url"] == row["url"] and fitted["polls"] is None
    assert len(fitted["title"]) == 512 and fitter.changes.cut == 1
    one, two = Fingerprint(), Fingerprint()
    one.add(fitted)
    two.add(fitter.fit(row))
    assert one.hexdigest() == two.hexdigest()
