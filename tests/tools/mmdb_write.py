#!/usr/bin/env python3
"""mmdb_write.py - a tiny MaxMind DB (format 2.0) writer for tests.

Builds City-like and ASN-like databases from a JSON description, following
the public MaxMind DB File Format Specification: a binary search tree over
the address bits (IPv6 tree; IPv4 networks live under ::/96), a 16-byte
separator, a data section of typed values, then the metadata marker and the
metadata map. Stdlib only; no pointers or deduplication beyond identical
records (the databases are small).

Usage:
  mmdb_write.py city OUT.mmdb     write the built-in City test database
  mmdb_write.py asn OUT.mmdb      write the built-in ASN test database
  mmdb_write.py json SPEC OUT     SPEC = {"database_type": "...",
                                   "networks": [["1.2.3.0/24", {...}], ...]}
"""
import ipaddress
import json
import struct
import sys

# ------------------------------------------------------------------ encoding

T_POINTER, T_STRING, T_DOUBLE, T_BYTES, T_U16, T_U32, T_MAP = 1, 2, 3, 4, 5, 6, 7
T_I32, T_U64, T_U128, T_ARRAY, T_BOOL, T_FLOAT = 8, 9, 10, 11, 14, 15


class U16(int):
    pass


class U32(int):
    pass


class U64(int):
    pass


def _ctrl(typ, size):
    """Control byte(s): type in the top 3 bits (extended types > 7 get a
    second byte of type - 7), size in the low 5 bits with 1-3 extra bytes."""
    if size < 29:
        sbits, extra = size, b""
    elif size < 29 + 256:
        sbits, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        sbits, extra = 30, struct.pack(">H", size - 285)
    else:
        sbits, extra = 31, struct.pack(">I", size - 65821)[1:]
    if typ <= 7:
        return bytes([(typ << 5) | sbits]) + extra
    return bytes([sbits, typ - 7]) + extra


def _uint(typ, v, maxbytes):
    b = v.to_bytes(maxbytes, "big").lstrip(b"\x00")
    return _ctrl(typ, len(b)) + b


def encode(v):
    if isinstance(v, bool):
        return _ctrl(T_BOOL, 1 if v else 0)
    if isinstance(v, U16):
        return _uint(T_U16, int(v), 2)
    if isinstance(v, U64):
        return _uint(T_U64, int(v), 8)
    if isinstance(v, int):  # plain ints (and U32) as uint32
        if v < 0 or v >= 1 << 32:
            raise ValueError("integer out of uint32 range: %r" % v)
        return _uint(T_U32, v, 4)
    if isinstance(v, float):
        return _ctrl(T_DOUBLE, 8) + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _ctrl(T_STRING, len(b)) + b
    if isinstance(v, bytes):
        return _ctrl(T_BYTES, len(v)) + v
    if isinstance(v, dict):
        out = _ctrl(T_MAP, len(v))
        for k, val in v.items():
            out += encode(str(k)) + encode(val)
        return out
    if isinstance(v, (list, tuple)):
        out = _ctrl(T_ARRAY, len(v))
        for x in v:
            out += encode(x)
        return out
    raise TypeError("cannot encode %r" % (v,))


# --------------------------------------------------------------- search tree

class Node:
    __slots__ = ("child", "num")

    def __init__(self):
        self.child = [None, None]  # None | Node | ("data", offset)
        self.num = -1


def _bits(net):
    """(128-bit integer, prefix length) in the IPv6 tree."""
    if net.version == 4:
        return int(net.network_address), 96 + net.prefixlen
    return int(net.network_address), net.prefixlen


def build(networks, database_type, description):
    data = bytearray()
    offsets = {}
    root = Node()
    # shortest prefixes first, so that longer ones split the leaves they refine
    nets = sorted(((ipaddress.ip_network(n, strict=True), rec) for n, rec in networks),
                  key=lambda nr: _bits(nr[0])[1])
    for net, rec in nets:
        blob = encode(rec)
        if blob not in offsets:
            offsets[blob] = len(data)
            data += blob
        leaf = ("data", offsets[blob])
        addr, plen = _bits(net)
        if plen == 0:
            raise ValueError("a /0 network is not supported")
        node = root
        for depth in range(plen - 1):
            b = (addr >> (127 - depth)) & 1
            c = node.child[b]
            if c is None or isinstance(c, tuple):
                n = Node()
                if isinstance(c, tuple):
                    n.child = [c, c]
                node.child[b] = n
                c = n
            node = c
        node.child[(addr >> (127 - (plen - 1))) & 1] = leaf
    # number the nodes breadth-first
    order, queue = [], [root]
    while queue:
        n = queue.pop(0)
        n.num = len(order)
        order.append(n)
        for c in n.child:
            if isinstance(c, Node):
                queue.append(c)
    node_count = len(order)
    if node_count + 16 + len(data) >= 1 << 24:
        raise ValueError("too big for 24-bit records")

    def rec(c):
        if c is None:
            return node_count  # no data
        if isinstance(c, Node):
            return c.num
        return node_count + 16 + c[1]

    tree = bytearray()
    for n in order:
        tree += rec(n.child[0]).to_bytes(3, "big") + rec(n.child[1]).to_bytes(3, "big")
    meta = {
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(1700000000),  # fixed: reproducible output
        "database_type": database_type,
        "description": {"en": description},
        "ip_version": U16(6),
        "languages": ["en"],
        "node_count": U32(node_count),
        "record_size": U16(24),
    }
    return bytes(tree) + b"\x00" * 16 + bytes(data) + b"\xab\xcd\xefMaxMind.com" + encode(meta)


# ------------------------------------------------------------- test content

def city(iso, country, city_name, lat, lon):
    r = {"country": {"iso_code": iso, "names": {"en": country}},
         "continent": {"code": "AS", "names": {"en": "Asia"}}}
    if city_name:
        r["city"] = {"names": {"en": city_name, "vi": city_name}}
    if lat is not None:
        r["location"] = {"latitude": float(lat), "longitude": float(lon)}
    return r


CITY = [
    ["14.160.0.0/11", city("VN", "Vietnam", "Hanoi", 21.0285, 105.8542)],
    ["14.160.32.0/19", city("VN", "Vietnam", "Ho Chi Minh City", 10.8231, 106.6297)],
    ["8.8.8.0/24", city("US", "United States", "Mountain View", 37.386, -122.0838)],
    ["1.1.1.0/24", city("AU", "Australia", None, -33.494, 143.2104)],
    ["45.0.0.0/8", city("DE", "Germany", "Frankfurt am Main", 50.1109, 8.6821)],
    ["2001:4860::/32", city("US", "United States", None, None, None)],
    ["2402:800::/32", city("VN", "Vietnam", "Hanoi", 21.0285, 105.8542)],
]

ASN = [
    ["14.160.0.0/11", {"autonomous_system_number": 45899,
                       "autonomous_system_organization": "VNPT Corp"}],
    ["8.8.8.0/24", {"autonomous_system_number": 15169,
                    "autonomous_system_organization": "Google LLC"}],
    ["1.1.1.0/24", {"autonomous_system_number": 13335,
                    "autonomous_system_organization": "Cloudflare, Inc."}],
    ["2001:4860::/32", {"autonomous_system_number": 15169,
                        "autonomous_system_organization": "Google LLC"}],
    ["2402:800::/32", {"autonomous_system_number": 7552,
                       "autonomous_system_organization": "Viettel Group"}],
]


def main(argv):
    if len(argv) == 3 and argv[1] == "city":
        blob = build(CITY, "Tocsin-Test-City", "Tocsin test City database")
        out = argv[2]
    elif len(argv) == 3 and argv[1] == "asn":
        blob = build(ASN, "Tocsin-Test-ASN", "Tocsin test ASN database")
        out = argv[2]
    elif len(argv) == 4 and argv[1] == "json":
        with open(argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        blob = build(spec["networks"], spec.get("database_type", "Tocsin-Test"),
                     spec.get("description", "Tocsin test database"))
        out = argv[3]
    else:
        sys.stderr.write(__doc__)
        return 2
    with open(out, "wb") as f:
        f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
