#!/usr/bin/env python3
"""embed-econtent.py SIG.der CONTENT OUT.der

Take a DETACHED CMS SignedData (no eContent) and put CONTENT into its
EncapsulatedContentInfo as eContent, without touching the signature: the
"hidden content" trap of multipart/signed (a client that shows eContent
shows CONTENT, while the detached check covers the displayed part).
The DER walker is der.py's; the project itself never parses ASN.1 by
hand."""
import sys

from der import children, tlv


sig = open(sys.argv[1], 'rb').read()
content = open(sys.argv[2], 'rb').read()
# ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }
ci = children(sig, 0)
explicit = ci[1][0]
sd_off = children(sig, explicit)[0][0]
sd = children(sig, sd_off)
# SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, ... }
eci_off, eci_len = sd[2]
eci = sig[eci_off:eci_off + eci_len]
etype = children(sig, eci_off)[0]
new_eci = tlv(0x30, sig[etype[0]:etype[0] + etype[1]] + tlv(0xa0, tlv(0x04, content)))
sd_value = b''.join(sig[o:o + l] if o != eci_off else new_eci for o, l in sd)
new_sd = tlv(0x30, sd_value)
ct = sig[ci[0][0]:ci[0][0] + ci[0][1]]
out = tlv(0x30, ct + tlv(0xa0, new_sd))
open(sys.argv[3], 'wb').write(out)
