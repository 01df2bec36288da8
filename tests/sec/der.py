"""der.py: the few DER encoders the test fixtures share (lengths, a
tag-length-value, object identifiers), and a tiny walker for the
fixtures that rewrite a structure (single-byte tags, definite lengths)."""


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


def tl(b, i):
    """tag, header length, value length at offset i"""
    tag = b[i]
    n = b[i + 1]
    if n < 0x80:
        return tag, 2, n
    k = n & 0x7f
    return tag, 2 + k, int.from_bytes(b[i + 2:i + 2 + k], 'big')


def children(b, i):
    """(offset, length) of each element inside the one at offset i"""
    tag, h, n = tl(b, i)
    j, end, out = i + h, i + h + n, []
    while j < end:
        t, hh, nn = tl(b, j)
        out.append((j, hh + nn))
        j += hh + nn
    return out
