"""llmbench.jsonio: orjson where it can, the standard library where it refuses, one behaviour."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from llmbench import jsonio


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, None, True, "é ✓"], "c": {"d": -0.0}},
        {"big": 2**80 + 1, "neg": -(2**70)},  # written beyond orjson's 64 bits
        {"s": "lone \ud800 surrogate"},  # orjson refuses lone surrogates
        ["</script>", "line\nbreak", 1e-5, 1e300],
    ],
)
def test_round_trip_matches_the_standard_library(value: Any) -> None:
    for pretty in (False, True):
        text = jsonio.dumps(value, pretty)
        assert json.loads(text) == value
        raw = jsonio.dumps_bytes(value, pretty)
        assert raw.decode("utf-8") == text.encode("utf-8", "backslashreplace").decode("utf-8")
        assert json.loads(raw) == value


def test_pretty_is_indented_by_two_and_compact_is_one_line() -> None:
    value = {"a": [1, 2], "b": {"c": None}}
    assert jsonio.dumps(value, pretty=True) == json.dumps(value, indent=2)
    assert "\n" not in jsonio.dumps(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_written_as_null_on_both_paths(value: float) -> None:
    assert jsonio.dumps({"x": value}) == '{"x":null}'
    # the fallback path (a 65-bit integer sends it to the standard library) does the same
    assert json.loads(jsonio.dumps({"x": value, "big": 2**65})) == {"x": None, "big": 2**65}


def test_values_json_has_no_type_for_are_written_as_text_and_keys_as_strings() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    assert json.loads(jsonio.dumps({1: Thing()})) == {"1": "thing"}


def test_reads_what_the_standard_library_reads_and_refuses_what_it_refuses() -> None:
    assert jsonio.loads(b'{"x": NaN}')["x"] != jsonio.loads(b'{"x": NaN}')["x"]  # NaN
    assert jsonio.loads("[Infinity]") == [math.inf]
    # beyond 64 bits an integer is read as the nearest float (module docstring)
    assert jsonio.loads(b"123456789012345678901234567891") == 1.2345678901234568e29
    assert jsonio.loads(b"18446744073709551615") == 2**64 - 1  # 64 bits stay exact
    for bad in (b"{", b"", b"[1,]", b"\xff"):
        with pytest.raises(ValueError):
            jsonio.loads(bad)
