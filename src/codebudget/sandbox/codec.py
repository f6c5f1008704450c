"""Values crossing the sandbox boundary as plain tagged data.

The candidate's return values are the only thing a hostile program can hand the judge, so
they travel as JSON with explicit type tags and are rebuilt on the trusted side as *exact*
builtin types. No object the candidate made (and so no `__eq__` it wrote) ever reaches the
tests. Argument values go the other way with the same encoding.

Encoding: None, bool, str, float and small ints are bare JSON values; everything else is a
JSON array whose first element is a one-letter tag:

    ["I", hex]            int too large for a bare JSON number
    ["L", *items]         list          ["T", *items]  tuple
    ["S", *items]         set           ["F", *items]  frozenset
    ["D", k, v, k, v...]  dict          ["B", latin-1] bytes
    ["C", re, im]         complex       ["R", a, b, c] range
    ["K", kind, payload]  a small fixed set of stdlib types (deque, Counter, OrderedDict,
                          defaultdict, Decimal, Fraction)
    ["G", *items]         an iterator or generator, materialised (up to a bound)
    ["O", cls, attrs]     an instance of a class by name with its attributes (a dict)
    ["X", type, repr]     anything else: decodes to an `Opaque` that equals nothing
"""

from __future__ import annotations

import collections
import decimal
import hashlib
import fractions
import itertools
import json
import math
import re
from typing import Any, Mapping

_SMALL_INT = 1 << 53
_MAX_ITEMS = 1_000_000  # materialising an endless generator must stop somewhere
_MAX_SAME_HASH = 16  # distinct items of one container that may share a hash value
_FRACTION = re.compile(r"-?[0-9]+(?:/[0-9]+)?")  # str(Fraction): no exponent


class DecodeError(ValueError):
    """The data does not describe a value (a protocol violation by the candidate)."""


class Opaque:
    """A value the judge cannot rebuild. It equals nothing, so tests using it fail."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}: {self.text}>"


# ----------------------------------------------------------------------------- encoding


def encode(value: Any) -> Any:
    """Turn a value into tagged JSON-able data. Runs on either side of the boundary."""
    return _enc(value, 0)


def _enc(v: Any, depth: int) -> Any:
    if depth > 200:
        raise ValueError("value nested deeper than 200 levels")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -_SMALL_INT < v < _SMALL_INT else ["I", hex(v)]
    if t is float:
        return v if math.isfinite(v) else ["K", "float", repr(v)]
    d = depth + 1
    if t is list:
        return ["L", *[_enc(x, d) for x in v]]
    if t is tuple:
        return ["T", *[_enc(x, d) for x in v]]
    if t is dict:
        return ["D", *itertools.chain.from_iterable((_enc(k, d), _enc(x, d)) for k, x in v.items())]
    if t is set:
        return ["S", *[_enc(x, d) for x in v]]
    if t is frozenset:
        return ["F", *[_enc(x, d) for x in v]]
    if t is bytes or t is bytearray:
        return ["B", bytes(v).decode("latin-1")]
    if t is complex:
        return ["C", _enc(v.real, d), _enc(v.imag, d)]
    if t is range:
        return ["R", v.start, v.stop, v.step]
    return _enc_other(v, d)


def _enc_other(v: Any, d: int) -> Any:
    # Subclasses of builtins (namedtuple, IntEnum, str subclasses...) travel as their base value.
    if isinstance(v, collections.deque):
        return ["K", "deque", [_enc(x, d) for x in v]]
    if isinstance(v, collections.Counter):
        return ["K", "Counter", _enc(dict(v), d)]
    if isinstance(v, collections.OrderedDict):
        return ["K", "OrderedDict", _enc(list(v.items()), d)]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return _enc(int(v), d)
    if isinstance(v, float):
        return _enc(float(v), d)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, tuple):
        return ["T", *[_enc(x, d) for x in tuple.__iter__(v)]]
    if isinstance(v, list):
        return ["L", *[_enc(x, d) for x in list.__iter__(v)]]
    if isinstance(v, dict):  # defaultdict and other dict subclasses compare like dicts
        return _enc(dict(v), d)
    if isinstance(v, decimal.Decimal):
        return ["K", "Decimal", str(v)]
    if isinstance(v, fractions.Fraction):
        return ["K", "Fraction", str(v)]
    if _is_iterator(v):
        return ["G", *[_enc(x, d) for x in itertools.islice(v, _MAX_ITEMS)]]
    attrs = getattr(v, "__dict__", None)
    if isinstance(attrs, dict):
        return ["O", type(v).__name__, _enc(dict(attrs), d)]
    try:
        text = repr(v)[:200]
    except Exception:  # a hostile or broken __repr__
        text = "?"
    return ["X", type(v).__name__, text]


def _is_iterator(v: Any) -> bool:
    return hasattr(type(v), "__next__") and hasattr(type(v), "__iter__")


def dumps(value: Any) -> bytes:
    """Encode a protocol message (already made of encoded values) to bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


def loads(data: bytes) -> Any:
    """Parse a protocol message; anything malformed is a DecodeError."""
    try:
        return json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"malformed message: {exc}") from None


def digest_of_repr(value: Any, threshold: int) -> str | None:
    """sha256 of repr(value) when that repr is longer than `threshold`, else None.

    For outputs too large to send (EvalPlus has a few of hundreds of MB). repr is computed
    in C and is canonical for the plain types these outputs are made of; equal values whose
    repr differs (dict insertion order, 1 vs 1.0) count as different in this mode. Safe
    from a hostile candidate: the expected digest never reaches it, so matching it means
    producing exactly the reference's output.
    """
    try:
        text = repr(value)
    except Exception:  # RecursionError, a broken __repr__: judged by the normal path
        return None
    if len(text) <= threshold:
        return None
    h = hashlib.sha256()
    for i in range(0, len(text), 1 << 22):
        h.update(text[i:i + (1 << 22)].encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class Digest:
    """An output known only by its canonical digest; equal only to the same digest."""

    __slots__ = ("hex",)

    def __init__(self, hex_digest: str) -> None:
        self.hex = hex_digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and other.hex == self.hex

    __hash__ = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------- decoding


def decode(data: Any, classes: Mapping[str, Any] | None = None) -> Any:
    """Rebuild a value from tagged data as exact builtin types.

    `classes` maps class names to the classes that ["O", ...] records are rebuilt as: the
    trusted namespace on the judge's side, the program's globals on the candidate's side.
    Unknown names become `Opaque`. Any malformed structure raises DecodeError.
    """
    try:
        return _dec(data, classes or {})
    except DecodeError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError,
            decimal.InvalidOperation, ZeroDivisionError) as exc:
        raise DecodeError(f"undecodable value: {type(exc).__name__}: {exc}") from None


def _dec(x: Any, classes: Mapping[str, Any]) -> Any:
    t = type(x)
    if x is None or t is bool or t is str or t is float:
        return x
    if t is int:
        if not -_SMALL_INT < x < _SMALL_INT:
            raise DecodeError("bare int out of range")
        return x
    if t is not list or not x or type(x[0]) is not str:
        raise DecodeError(f"unexpected {t.__name__} in value")
    tag, rest = x[0], x[1:]
    if tag == "L":
        return _few_collisions([_dec(i, classes) for i in rest])
    if tag == "T":
        return tuple(_few_collisions([_dec(i, classes) for i in rest]))
    if tag == "D":
        if len(rest) % 2:
            raise DecodeError("dict with odd item count")
        keys = _few_collisions([_dec(k, classes) for k in rest[::2]])
        return dict(zip(keys, [_dec(v, classes) for v in rest[1::2]]))
    if tag == "S":
        return set(_few_collisions([_dec(i, classes) for i in rest]))
    if tag == "F":
        return frozenset(_few_collisions([_dec(i, classes) for i in rest]))
    if tag == "G":
        return iter(_few_collisions([_dec(i, classes) for i in rest]))
    if tag == "I":
        return int(_str(rest, 0), 16)
    if tag == "B":
        return _str(rest, 0).encode("latin-1")
    if tag == "C":
        return complex(_num(_dec(rest[0], classes)), _num(_dec(rest[1], classes)))
    if tag == "R":
        value = range(*(_int(_dec(i, classes)) for i in rest[:3]))
        if len(value) > _MAX_ITEMS:  # a test's set(value) or sorted(value) would never end
            raise DecodeError("range longer than a generator may be")
        return value
    if tag == "K":
        return _dec_kind(_str(rest, 0), rest[1], classes)
    if tag == "O":
        return _dec_object(_str(rest, 0), _dec(rest[1], classes), classes)
    if tag == "X":
        return Opaque(_str(rest, 0)[:100], _str(rest, 1)[:200])
    raise DecodeError(f"unknown tag {tag!r}")


def _dec_kind(kind: str, payload: Any, classes: Mapping[str, Any]) -> Any:
    if kind == "float":
        value = float(_str([payload], 0))
        if math.isfinite(value):
            raise DecodeError("finite float sent as special")
        return value
    if kind == "deque":
        return collections.deque(_dec(i, classes) for i in _list(payload))
    if kind == "Counter":
        return collections.Counter(_dict(_dec(payload, classes)))
    if kind == "OrderedDict":
        return collections.OrderedDict(_dec(["L", *_list(payload)[1:]], classes))
    if kind == "Decimal":
        return decimal.Decimal(_str([payload], 0))
    if kind == "Fraction":
        text = _str([payload], 0)
        if not _FRACTION.fullmatch(text):  # Fraction("1e999999999") computes 10**999999999
            raise DecodeError("malformed Fraction")
        return fractions.Fraction(text)
    raise DecodeError(f"unknown kind {kind!r}")


def _few_collisions(items: list[Any]) -> list[Any]:
    """Refuse a container built to make the judge's sets and dicts quadratic.

    Hashes of numbers and tuples are not salted, so a candidate can send many *distinct*
    values with one hash (ints that differ by a multiple of 2**61 - 1, tuples of those...):
    `set(values)` in a test, or decoding them as a set, would then take hours in the trusted
    process. Honest values almost never have more than a couple of distinct items per hash.
    """
    if len(items) <= _MAX_SAME_HASH:
        return items
    keys = items
    try:
        hashes = list(map(hash, keys))
    except Exception:  # unhashable items (lists...): never a set member or dict key
        keys = [i for i in items if type(i) not in _UNHASHABLE and _hashable(i)]
        hashes = list(map(hash, keys))
    if len(set(hashes)) == len(hashes):
        return items
    counts = collections.Counter(hashes)
    if max(counts.values()) <= _MAX_SAME_HASH:
        return items
    crowded = {h for h, n in counts.items() if n > _MAX_SAME_HASH}
    buckets: dict[int, list[Any]] = {}
    for item, h in zip(keys, hashes):
        if h in crowded:
            bucket = buckets.setdefault(h, [])
            if item not in bucket:  # equal items (duplicates) are fine
                if len(bucket) >= _MAX_SAME_HASH:
                    raise DecodeError(f"more than {_MAX_SAME_HASH} distinct items share one hash")
                bucket.append(item)
    return items


_UNHASHABLE = (list, dict, set, collections.deque, collections.Counter, collections.OrderedDict)


def _hashable(item: Any) -> bool:
    try:
        hash(item)
    except Exception:
        return False
    return True


def _dec_object(name: str, attrs: Any, classes: Mapping[str, Any]) -> Any:
    cls = classes.get(name)
    if not isinstance(cls, type) or type(attrs) is not dict:
        return Opaque(name[:100], "object")
    obj = object.__new__(cls)
    obj.__dict__.update({str(k): v for k, v in attrs.items()})
    return obj


def _str(rest: list[Any], i: int) -> str:
    if type(rest[i]) is not str:
        raise DecodeError("expected a string")
    return rest[i]


def _list(x: Any) -> list[Any]:
    if type(x) is not list:
        raise DecodeError("expected a list")
    return x


def _dict(x: Any) -> dict[Any, Any]:
    if type(x) is not dict:
        raise DecodeError("expected a dict")
    return x


def _num(x: Any) -> float:
    if type(x) not in (int, float):
        raise DecodeError("expected a number")
    return x


def _int(x: Any) -> int:
    if type(x) is not int:
        raise DecodeError("expected an int")
    return x
