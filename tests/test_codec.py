"""The boundary codec: values round-trip exactly; hostile data never becomes an object."""

from __future__ import annotations

import collections
import decimal
import fractions
import math

import pytest

from codebudget.sandbox.codec import DecodeError, Digest, Opaque, decode, digest_of_repr, dumps, encode, loads


def roundtrip(value: object) -> object:
    return decode(loads(dumps(encode(value))))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**53 - 1, 2**53, -(2**200), 1.5, -0.0, math.inf, -math.inf, "",
    "héllo \ud800", [1, [2, (3, 4)]], (), {1: "a", "b": [2]}, {1, 2, 3}, frozenset({(1, 2)}),
    b"\x00\xff", 1 + 2j, range(2, 9, 3), collections.deque([1, 2]), collections.Counter("abca"),
    collections.OrderedDict(b=1, a=2), decimal.Decimal("1.10"), fractions.Fraction(3, 7),
])
def test_roundtrip_is_exact(value: object) -> None:
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_nan_roundtrips_as_nan() -> None:
    back = roundtrip(float("nan"))
    assert isinstance(back, float) and math.isnan(back)


def test_subclasses_travel_as_their_base_value() -> None:
    class Evil(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    back = roundtrip([Evil(3), collections.namedtuple("P", "a b")(1, 2)])
    assert back == [3, (1, 2)]
    assert type(back[0]) is int and type(back[1]) is tuple
    assert back[0] != 4


def test_generators_are_materialised() -> None:
    assert list(roundtrip(x * x for x in range(4))) == [0, 1, 4, 9]  # type: ignore[call-overload]


def test_unknown_objects_are_opaque_and_equal_nothing() -> None:
    back = roundtrip(object())
    assert isinstance(back, Opaque)
    assert back != back and not (back == 1)


def test_objects_rebuild_only_as_classes_the_receiver_names() -> None:
    class Node:
        def __init__(self, v: int) -> None:
            self.v = v

    data = loads(dumps(encode(Node(5))))
    assert isinstance(decode(data), Opaque)
    rebuilt = decode(data, {"Node": Node})
    assert type(rebuilt) is Node and rebuilt.v == 5


@pytest.mark.parametrize("raw", [
    b'{"a": 1}', b'["Q", 1]', b'["I", 5]', b'["D", 1]', b'["S", ["L"]]', b"9007199254740993",
    b'["K", "float", "1.0"]', b'["R", "a"]', b"[[]]", b"not json", b"[" * 100000,
])
def test_malformed_data_is_a_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(loads(raw))


def test_encoding_refuses_runaway_nesting() -> None:
    value: list[object] = []
    for _ in range(300):
        value = [value]
    with pytest.raises(ValueError):
        encode(value)


def test_digest_mode_only_for_large_reprs_and_exact() -> None:
    assert digest_of_repr([1, 2], threshold=100) is None
    big = list(range(10_000))
    d = digest_of_repr(big, threshold=100)
    assert d == digest_of_repr(list(range(10_000)), threshold=100)
    assert d != digest_of_repr(list(range(1, 10_001)), threshold=100)
    assert Digest(d) == Digest(d) and Digest(d) != d  # type: ignore[arg-type]
