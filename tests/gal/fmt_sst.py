#!/usr/bin/env python3
"""fmt_sst.py: a Microsoft serialized certificate store (.sst), as
certmgr, Export-Certificate -Type SST and Wine's crypt32 write it.

    galfix.py PKI sst OUT [--break KIND] [--with-crl]   every userCertificate of the directory
    fmt_sst.py OUT [--break KIND] [--with-crl] [--prop N:ID:VALUE]... CERT...
                                                         these certificates (PEM or DER files)

Little-endian: u32 0, the magic "CERT", then elements {u32 property id,
u32 encoding type (1), u32 length, bytes}. Each certificate is a friendly
name element (id 0x0B, UTF-16LE with its NUL) and a SHA-1 hash element
(0x03) followed by the certificate element (0x20, DER). The store ends
with an element of id 0 and length 0.

--with-crl   add a CRL element (0x21) before the end, which importers skip
--prop N:ID:VALUE  a CryptoAPI property element of id ID before the N-th
             certificate's element (from 1), after its name and hash, as
             Windows writes Microsoft's trust properties: VALUE is
             eku:OID,OID... (DER SEQUENCE OF OID, "eku:" for an empty one;
             ids 9, 122, 127), filetime:YYYY-MM-DD (a FILETIME, 100 ns
             ticks since 1601-01-01 UTC, u64 little-endian; ids 104, 126)
             or hex:BYTES
--break KIND a hostile file: truncated (the file ends inside an element
             header), length-past (the last certificate's length runs past
             the end of the file), length-ffffffff (the second's), zero-certs (property elements only),
             garbage-cert (a certificate element holding garbage), no-magic
"""
import datetime
import hashlib
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sec'))
from der import oid, tlv  # noqa: E402

BREAKS = ('truncated', 'length-past', 'length-ffffffff', 'zero-certs', 'garbage-cert', 'no-magic')


def element(pid, data, length=None):
    return struct.pack('<III', pid, 1, len(data) if length is None else length) + data


def prop_value(value):
    kind, _, arg = value.partition(':')
    if kind == 'eku':
        return tlv(0x30, b''.join(oid(o) for o in arg.split(',') if o))
    if kind == 'filetime':
        unix = int(datetime.datetime.strptime(arg, '%Y-%m-%d').replace(
            tzinfo=datetime.timezone.utc).timestamp())
        return struct.pack('<Q', (unix + 11644473600) * 10000000)
    if kind == 'hex':
        return bytes.fromhex(arg)
    raise SystemExit('fmt_sst: --prop value %s: eku:, filetime: or hex:' % value)


def sst(certs, brk=None, with_crl=False, props=None):
    """certs: a list of (friendly name, DER); props: {index: [(id, bytes)]}."""
    out = struct.pack('<I', 0) + (b'CERT' if brk != 'no-magic' else b'CRET')
    for i, (name, der) in enumerate(certs):
        out += element(0x0B, (name + '\0').encode('utf-16-le'))
        out += element(0x03, hashlib.sha1(der).digest())
        for pid, data in (props or {}).get(i, []):
            out += element(pid, data)
        if brk == 'zero-certs':
            continue
        if brk == 'garbage-cert' and i == 1:
            out += element(0x20, b'\x30\x82\x01\x00' + b'not a certificate' * 4)
        elif brk == 'length-past' and i == len(certs) - 1:
            out += element(0x20, der, length=len(der) + 12 + 100)
        elif brk == 'length-ffffffff' and i == 1:
            out += element(0x20, der, length=0xFFFFFFFF)
        else:
            out += element(0x20, der)
    if with_crl:
        out += element(0x21, b'\x30\x03\x02\x01\x00')
    if brk == 'truncated':
        return out + struct.pack('<I', 0x20) + b'\x01\x00'
    return out + element(0, b'')


def parse_options(options, props=None):
    brk, with_crl, rest = None, False, []
    args = list(options)
    while args:
        a = args.pop(0)
        if a == '--prop' and props is not None:
            n, pid, value = args.pop(0).split(':', 2)
            props.setdefault(int(n) - 1, []).append((int(pid), prop_value(value)))
        elif a == '--break':
            brk = args.pop(0)
            if brk not in BREAKS:
                raise SystemExit('fmt_sst: unknown --break %s (%s)' % (brk, ', '.join(BREAKS)))
        elif a == '--with-crl':
            with_crl = True
        else:
            rest.append(a)
    return brk, with_crl, rest


def write(entries, out_path, options):
    brk, with_crl, rest = parse_options(options)
    if rest:
        raise SystemExit('fmt_sst: unknown option %s' % rest[0])
    certs = [(e['DisplayName'], v) for e in entries for v in e['UserCertificate']]
    with open(out_path, 'wb') as f:
        f.write(sst(certs, brk, with_crl))


def der_of(path):
    data = open(path, 'rb').read()
    if b'-----BEGIN' in data:
        data = subprocess.run(['openssl', 'x509', '-in', path, '-outform', 'DER'], check=True,
                              capture_output=True).stdout
    return data


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 64
    props = {}
    brk, with_crl, files = parse_options(argv[2:], props)
    certs = []
    for path in files:
        subject = subprocess.run(['openssl', 'x509', '-inform', 'DER', '-noout', '-subject',
                                  '-nameopt', 'multiline'], input=der_of(path), check=True,
                                 capture_output=True).stdout.decode()
        cn = [l.split('=', 1)[1].strip() for l in subject.splitlines() if 'commonName' in l]
        certs.append((cn[0] if cn else path, der_of(path)))
    with open(argv[1], 'wb') as f:
        f.write(sst(certs, brk, with_crl, props))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
