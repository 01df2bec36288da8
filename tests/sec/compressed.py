#!/usr/bin/env python3
"""compressed.py OUT.der MEGABYTES: a CMS CompressedData (RFC 3274) whose
zlib stream inflates to MEGABYTES of zeros: a compression bomb."""
import sys
import zlib

from der import oid, tlv

data = zlib.compress(b'\0' * (int(sys.argv[2]) << 20), 9)
encap = tlv(0x30, oid('1.2.840.113549.1.7.1') + tlv(0xa0, tlv(0x04, data)))
alg = tlv(0x30, oid('1.2.840.113549.1.9.16.3.8'))
compressed = tlv(0x30, tlv(0x02, b'\0') + alg + encap)
ci = tlv(0x30, oid('1.2.840.113549.1.9.16.1.9') + tlv(0xa0, compressed))
open(sys.argv[1], 'wb').write(ci)
