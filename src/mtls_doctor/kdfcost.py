"""How much key-derivation work a PKCS#12 bundle or encrypted key demands, before it runs.

A PKCS#12 file chooses its own MAC iteration count (RFC 7292 MacData) and
the iteration count of every password-based encryption inside it (PKCS#12
PBE, PBES1/PBES2 with PBKDF2, scrypt's cost). cryptography runs whatever the
file says: 2^31-1 MAC iterations is ten minutes of CPU before "wrong
password" -- and the loader is called up to three times (no password, empty
password, the user's). cryptography has no way to read those counts first or
to cap them, and no well-kept ASN.1 library is a dependency already, so this
module reads them itself with a deliberately tiny BER/DER walker: it only
looks for AlgorithmIdentifiers of the password-based schemes, and the PFX
MacData. What it cannot parse it leaves to cryptography, which then fails as
before (the walker refuses nothing it does not understand).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "MAX_ITERATIONS",
    "MAX_RUN_ITERATIONS",
    "MAX_SCRYPT_COST",
    "MAX_TOTAL_ITERATIONS",
    "excessive_work",
    "one_budget",
]

#: Iterations granted so far in this run (see :func:`one_budget`); None: no run budget.
_SPENT: ContextVar[list[int] | None] = ContextVar("kdf_spent", default=None)


@contextmanager
def one_budget() -> Iterator[None]:
    """Share MAX_RUN_ITERATIONS among every file checked inside the ``with``."""
    token = _SPENT.set([0])
    try:
        yield
    finally:
        _SPENT.reset(token)


#: One KDF: OpenSSL uses 2048, Java 10,000 and OWASP suggests 600,000 for PBKDF2-SHA256.
MAX_ITERATIONS = 1_000_000
#: All the KDFs of one file together (MAC, key bag, certificate bag, ...).
MAX_TOTAL_ITERATIONS = 3_000_000
#: All the files of one run together (a folder of bundles): about ten seconds of work.
MAX_RUN_ITERATIONS = 20_000_000
#: scrypt N*r*p (OpenSSL's default is 16384*8*1 = 131072).
MAX_SCRYPT_COST = 1 << 22
#: Nodes visited before the walker gives up (it never refuses what it did not finish).
_MAX_NODES = 100_000
_MAX_DEPTH = 24

# OID contents bytes (after the 06 tag and length).
_PKCS12_PBE = bytes.fromhex("2a864886f70d010c01")  # 1.2.840.113549.1.12.1.* (+1 arc)
_PBES1 = bytes.fromhex("2a864886f70d0105")  # 1.2.840.113549.1.5.{1,3,4,6,10,11}
_PBES1_ARCS = {1, 3, 4, 6, 10, 11}
_PBKDF2 = bytes.fromhex("2a864886f70d01050c")  # 1.2.840.113549.1.5.12
_SCRYPT = bytes.fromhex("2b06010401da47040b")  # 1.3.6.1.4.1.11591.4.11

_SEQUENCE, _INTEGER, _OCTETS, _OID = 0x30, 0x02, 0x04, 0x06


class _Node:
    __slots__ = ("children", "constructed", "tag", "value")

    def __init__(self, tag: int, constructed: bool, value: bytes, children: list[_Node]) -> None:
        self.tag = tag
        self.constructed = constructed
        self.value = value
        self.children = children


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def _parse(data: bytes, start: int, end: int, budget: _Budget, depth: int) -> list[_Node]:
    """The TLVs in ``data[start:end]`` (BER: indefinite lengths accepted)."""
    out: list[_Node] = []
    pos = start
    while pos < end:
        budget.nodes += 1
        if budget.nodes > _MAX_NODES or depth > _MAX_DEPTH:
            raise ValueError("too deep or too many nodes")
        node, pos = _one(data, pos, end, budget, depth)
        if node is None:  # end-of-contents
            break
        out.append(node)
    return out


def _one(data: bytes, pos: int, end: int, budget: _Budget, depth: int) -> tuple[_Node | None, int]:
    if pos + 2 > end or depth > _MAX_DEPTH:
        raise ValueError("truncated or too deep")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers do not occur here")
    constructed = bool(tag & 0x20)
    first = data[pos + 1]
    pos += 2
    if tag == 0 and first == 0:
        return None, pos
    if first == 0x80:  # indefinite length: children up to end-of-contents
        if not constructed:
            raise ValueError("indefinite primitive")
        children: list[_Node] = []
        while True:
            budget.nodes += 1
            if budget.nodes > _MAX_NODES:
                raise ValueError("too many nodes")
            child, pos = _one(data, pos, end, budget, depth + 1)
            if child is None:
                return _Node(tag, True, b"", children), pos
            children.append(child)
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > end:
        raise ValueError("length beyond the data")
    value = data[pos : pos + length]
    kids = _parse(data, pos, pos + length, budget, depth + 1) if constructed else []
    return _Node(tag, constructed, value, kids), pos + length


def _octets(node: _Node) -> bytes:
    """An OCTET STRING's content, also in BER's constructed (chunked) form."""
    if not node.constructed:
        return node.value
    return b"".join(_octets(child) for child in node.children)


def _integer(node: _Node) -> int | None:
    if node.tag != _INTEGER or not node.value or len(node.value) > 16:
        return None
    return int.from_bytes(node.value, "big", signed=True)


def _walk(nodes: list[_Node], budget: _Budget, depth: int) -> Iterator[tuple[str, int]]:
    """("iterations" | "scrypt", amount) for every password-based scheme found."""
    if depth > _MAX_DEPTH:
        return
    for node in nodes:
        if node.tag == _SEQUENCE and len(node.children) >= 2 and node.children[0].tag == _OID:
            yield from _scheme(node.children[0].value, node.children[1])
        if node.constructed:
            yield from _walk(node.children, budget, depth + 1)
        if node.tag in (_OCTETS, _OCTETS | 0x20):
            # SafeContents and the AuthenticatedSafe travel inside OCTET STRINGs.
            content = _octets(node)
            if content[:1] == b"\x30":
                try:
                    inner = _parse(content, 0, len(content), budget, depth + 1)
                except ValueError:
                    continue  # ciphertext or a key: not DER, nothing to find
                yield from _walk(inner, budget, depth + 1)


def _scheme(oid: bytes, params: _Node) -> Iterator[tuple[str, int]]:
    fields = params.children if params.tag == _SEQUENCE else []
    pkcs12_pbe = oid[:-1] == _PKCS12_PBE and len(oid) == len(_PKCS12_PBE) + 1
    pbes1 = oid[:-1] == _PBES1 and oid[-1] in _PBES1_ARCS and len(oid) == len(_PBES1) + 1
    if (pkcs12_pbe or pbes1 or oid == _PBKDF2) and len(fields) >= 2:
        count = _integer(fields[1])
        if count is not None:
            yield "iterations", count
    elif oid == _SCRYPT and len(fields) >= 4:
        n, r, p = (_integer(f) for f in fields[1:4])
        if n is not None and r is not None and p is not None:
            yield "scrypt", n * r * p


def _mac_iterations(pfx: _Node) -> int | None:
    """PFX ::= SEQUENCE { version, authSafe, macData MacData OPTIONAL } (RFC 7292 4)."""
    if pfx.tag != _SEQUENCE or len(pfx.children) < 3:
        return None
    mac = pfx.children[2]
    if mac.tag != _SEQUENCE or len(mac.children) < 2:
        return None
    # MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
    return _integer(mac.children[2]) if len(mac.children) >= 3 else 1


def excessive_work(der: bytes) -> str | None:
    """Why ``der`` (a PFX or an EncryptedPrivateKeyInfo) asks for too much work, or None."""
    budget = _Budget()
    try:
        top = _parse(der, 0, len(der), budget, 0)
    except ValueError:
        return None
    if not top:
        return None
    found: list[tuple[str, int]] = []
    mac = _mac_iterations(top[0])
    if mac is not None:
        found.append(("iterations", mac))
    try:
        found.extend(_walk(top, budget, 0))
    except ValueError:
        pass
    total = 0
    for kind, amount in found:
        if kind == "scrypt":
            if amount > MAX_SCRYPT_COST or amount < 0:
                return (
                    f"it asks for an scrypt cost of {amount:,} "
                    f"(this tool runs at most {MAX_SCRYPT_COST:,})"
                )
            continue
        if amount > MAX_ITERATIONS or amount < 0:
            return (
                f"it asks for {amount:,} key-derivation iterations "
                f"(this tool runs at most {MAX_ITERATIONS:,} per key derivation)"
            )
        total += amount
    if total > MAX_TOTAL_ITERATIONS:
        return (
            f"it asks for {total:,} key-derivation iterations in all "
            f"(this tool runs at most {MAX_TOTAL_ITERATIONS:,} per file)"
        )
    spent = _SPENT.get()
    if spent is not None:
        if spent[0] + total > MAX_RUN_ITERATIONS:
            return (
                f"the files before it already used this run's key-derivation budget "
                f"({MAX_RUN_ITERATIONS:,} iterations); load fewer password-protected files at once"
            )
        spent[0] += total
    return None
