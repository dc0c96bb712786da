"""Which CoT types this service may emit: friendly and neutral atoms only.

Principle 2 of the design: the service never points at anything. It never
emits a hostile, suspect, joker or faker marker (``a-h``, ``a-s``, ``a-j``,
``a-k``) and, stricter still, no atom (``a-...``) of any affiliation other than
friend (``a-f``) or neutral (``a-n``, used for humanitarian assets): no
unknown or pending markers either, since a check's position never becomes a
map object. Every renderer calls :func:`assert_not_hostile` on every type it
writes; non-atom types (GeoChat ``b-t-f``, pings ``t-x-*``, drawings ``u-d-*``)
pass.
"""

from __future__ import annotations

import re

from deconfliction.cot.errors import HostileTypeError

#: Affiliations an emitted atom may have.
EMITTABLE_AFFILIATIONS = frozenset({"f", "n"})
#: The ones the design names as never to be emitted (for tests and docs).
HOSTILE_AFFILIATIONS = frozenset({"h", "s", "j", "k"})

_DIMENSIONS_2525B = {
    "P": "P",  # space
    "A": "A",  # air
    "G": "G",  # ground
    "S": "S",  # sea surface
    "U": "U",  # subsurface
    "F": "F",  # special operations forces
    "X": "X",  # other
    "Z": "G",  # unknown dimension: ground
}
# 2525D/E symbol sets (digits 5-6) to a CoT battle dimension (and function prefix).
_SYMBOL_SETS_2525D = {
    "01": "A",
    "02": "A",
    "05": "P",
    "06": "P",
    "10": "G-U",
    "11": "G-U",
    "15": "G-E",
    "20": "G-I",
    "27": "G-U",
    "30": "S",
    "35": "U",
    "36": "U",
    "40": "G",
}
_FUNCTION_CHAR = re.compile(r"[A-Za-z0-9]")
_PARTY_KINDS = {"military": "f", "civil": "f", "humanitarian": "n"}


def assert_not_hostile(cot_type: str) -> str:
    """Return ``cot_type`` if the service may emit it, else raise :class:`HostileTypeError`."""
    if not isinstance(cot_type, str):
        raise HostileTypeError(repr(cot_type))
    atoms = cot_type.split("-")
    if atoms[0] == "a":
        affiliation = atoms[1] if len(atoms) > 1 else ""
        if affiliation not in EMITTABLE_AFFILIATIONS:
            raise HostileTypeError(cot_type)
    elif atoms[0].lower() == "a":  # "A-h-G": not CoT grammar, and never emitted
        raise HostileTypeError(cot_type)
    return cot_type


def friendly_type_for(sidc_or_party_kind: str | None, party_kind: str | None = None) -> str:
    """The CoT type for a registered asset: always ``a-f-...`` or ``a-n-...``.

    Accepts a MIL-STD-2525B/C letter SIDC (``SFGPUCDM--*****``: dimension and
    function are kept), a 2525D/E numeric SIDC (``10031500001101000000``: the
    symbol set gives the dimension), or a party kind (``military``, ``civil``:
    friendly ground; ``humanitarian``: neutral ground). The affiliation in a SIDC
    is never trusted: the asset is registered as ours, so it is friendly, or
    neutral when its party is humanitarian (``party_kind``) or the SIDC says
    neutral. Anything unrecognised is friendly ground (``a-f-G``).
    """
    code = (sidc_or_party_kind or "").strip()
    neutral = party_kind == "humanitarian"
    tail = "G"
    if code.lower() in _PARTY_KINDS:
        neutral = neutral or _PARTY_KINDS[code.lower()] == "n"
    elif code.isdigit() and len(code) >= 20:
        neutral = neutral or code[3] == "4"
        tail = _SYMBOL_SETS_2525D.get(code[4:6], "G")
    elif len(code) >= 4 and code[0].upper() == "S" and code[2].upper() in _DIMENSIONS_2525B:
        neutral = neutral or code[1].upper() == "N"
        tail = _DIMENSIONS_2525B[code[2].upper()]
        function = []
        for char in code[4:10]:
            if not _FUNCTION_CHAR.fullmatch(char):
                break
            function.append(char.upper())
        if function:
            tail = "-".join([tail, *function])
    cot_type = f"a-{'n' if neutral else 'f'}-{tail}"
    return assert_not_hostile(cot_type)
