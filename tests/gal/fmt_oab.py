"""fmt_oab.py: the test directory as Outlook's offline address book, the
version 4 full details file udetails.oab ([MS-OXOAB] 2.9), decompressed.

    galfix.py PKI oab OUT [--ansi] [--only ALIAS,...] [--count N] [--break KIND]

Little-endian: header {ulVersion 0x20, ulSerial, ulTotRecs}; metadata
{cbSize, header-record property table, object-record property table, each
cAtts then cAtts x (tag, flags)}; the header record; one object record per
entry {cbSize, presence bits (MSB first), values in table order}.

Besides the properties galsmime reads, the object table holds unknown
properties of every type the format defines (integer, boolean, string8,
string, binary, and the multi-valued ones), present on some records and
absent on others, with integers and lengths in every encoding width, so
that skipping by type is exercised.

--ansi       the strings galsmime reads as PtypString8 (0x001E) instead of
             PtypString (0x001F, UTF-8)
--only A,B   only the entries with these aliases
--no-address A,B  no PidTagSmtpAddress nor proxy addresses for these aliases
--tlv-caps   carol's TLV blob announces AES-256-GCM (AsymetricCapabilities)
--count N    N object records: the directory repeated, each copy with its
             own numbered alias, display name and addresses (for size tests)
--break KIND write a hostile file (see BREAKS below); prints "byte N", the
             offset of the record (or structure) that is broken
--break all  every kind at once: OUT holds %s for the kind; prints "KIND byte N"
             for each
"""
import struct
import sys

PT_LONG, PT_BOOLEAN, PT_STRING8, PT_UNICODE, PT_BINARY, MV = 0x0003, 0x000B, 0x001E, 0x001F, 0x0102, 0x1000

BREAKS = {
    'header': 'the file ends inside the 12-byte header',
    'version': 'ulVersion 7 (a version 2/3 file)',
    'meta-cbsize': 'the metadata cbSize is 0xFFFFFFFF',
    'catts': "the object table's cAtts is 2^31",
    'cbsize0': "bob's record has cbSize 0",
    'cbsize3': "bob's record has cbSize 3",
    'cbsize-past': "bob's record claims more bytes than the file has",
    'cbsize-ffffffff': "bob's record has cbSize 0xFFFFFFFF",
    'cbsize-big': "bob's record claims 48 MiB, far more than the file has",
    'presence': "bob's record has presence bits for every property but one value",
    'int85': "bob's PidTagObjectType is encoded with the byte 0x85",
    'binlen': "bob's userCertificate claims 1000 bytes more than the record has",
    'binlen-huge': "bob's userCertificate claims 0xFFFFFFFF bytes",
    'mvcount': "bob's proxy addresses claim 2^31 values",
    'nonul': "bob's record ends inside a string without its NUL",
    'many-addresses': "bob's record has 2000 proxy addresses",
    'many-certs': "bob's record has 1100 (one-byte) userCertificate values",
    'unknown-type': 'an extra PtypTime (0x0040) property, present in bob\'s record',
    'totrecs-more': 'ulTotRecs is one more than the records present',
    'totrecs-less': 'ulTotRecs is one less than the records present',
    'tlv-short': "carol's TLV blob has a setting whose length is 2 (< 4)",
    'tlv-past': "carol's TLV blob has a setting whose length runs past the blob",
    'tlv-garbage': "carol's TLV blob has a certificate setting holding garbage",
    'tlv-header': "carol's TLV blob ends with 3 bytes, too few for a setting header",
    'tlv-nocert': "carol's TLV blob holds settings but no certificate",
}
# the breaks that touch one object record (bob's, or carol's for the TLV ones)
RECORD_BREAKS = ('cbsize0', 'cbsize3', 'cbsize-past', 'cbsize-ffffffff', 'cbsize-big', 'presence', 'int85', 'binlen',
                 'binlen-huge', 'mvcount', 'nonul', 'many-addresses', 'many-certs', 'unknown-type', 'tlv-short',
                 'tlv-past', 'tlv-garbage', 'tlv-header', 'tlv-nocert')


class Raw:
    """Bytes written as a property's value exactly, to forge encodings."""
    def __init__(self, data):
        self.data = data


def enc_int(v):
    """PtypInteger32, counts and lengths: [MS-OXOAB] 2.9.6.1."""
    if v < 0x80:
        return bytes([v])
    for n in (1, 2, 3, 4):
        if v < 1 << (8 * n):
            return bytes([0x80 + n]) + v.to_bytes(n, 'little')
    raise ValueError(v)


def enc_single(ptype, v):
    if ptype == PT_LONG:
        return enc_int(v)
    if ptype == PT_BOOLEAN:
        return b'\x01' if v else b'\x00'
    if ptype == PT_STRING8:
        return v.encode('cp1252') + b'\0'
    if ptype == PT_UNICODE:
        return v.encode('utf-8') + b'\0'
    if ptype == PT_BINARY:
        return enc_int(len(v)) + v
    raise ValueError(hex(ptype))


def enc_value(tag, v):
    if isinstance(v, Raw):
        return v.data
    ptype = tag & 0xFFFF
    if ptype & MV:
        return enc_int(len(v)) + b''.join(enc_single(ptype & ~MV, x) for x in v)
    return enc_single(ptype, v)


def record(table, props, presence_all=False):
    """An OAB_V4_REC: props maps tag -> value (absent tags are not present)."""
    bits = bytearray((len(table) + 7) // 8)
    data = b''
    for i, tag in enumerate(table):
        if tag in props and props[tag] is not None:
            bits[i // 8] |= 0x80 >> (i % 8)
            data += enc_value(tag, props[tag])
        elif presence_all:
            bits[i // 8] |= 0x80 >> (i % 8)
    body = bytes(bits) + data
    return struct.pack('<I', len(body) + 4) + body


def prop_table(tags):
    out = struct.pack('<I', len(tags))
    for t in tags:
        out += struct.pack('<II', t, 0)
    return out


# the header record's properties (as Exchange writes them)
HDR_NAME, HDR_DN, HDR_SEQ, HDR_GUID, HDR_TRUNCATED = 0x6800001F, 0x6804001E, 0x68010003, 0x68020102, 0x68051003
HDR_TABLE = [HDR_NAME, HDR_DN, HDR_SEQ, HDR_GUID, HDR_TRUNCATED]

# unknown properties of every type, to be skipped
U_BOOL, U_STR, U_STR8, U_BIN, U_INT = 0x3A40000B, 0x3A06001F, 0x8CE4001E, 0x8C9E0102, 0x8CDD0003
U_MVINT, U_MVSTR8, U_MVSTR, U_MVBIN = 0x8CE01003, 0x8CE1101E, 0x8CE2101F, 0x8CE31102
U_TIME = 0x8CF00040  # a type the format does not define (only with --break unknown-type)


def obj_table(ansi):
    s = PT_STRING8 if ansi else PT_UNICODE
    return [
        0x0FFE0003,             # PidTagObjectType
        0x39000003,             # PidTagDisplayType
        0x30010000 | s,         # PidTagDisplayName
        U_BOOL,
        0x3A000000 | s,         # PidTagAccount
        U_STR,
        0x39FE0000 | s,         # PidTagSmtpAddress
        U_BIN,
        0x800F1000 | s,         # PidTagAddressBookProxyAddresses
        U_INT, U_MVINT, U_MVSTR8,
        0x8C6A1102,             # PidTagAddressBookX509Certificate: userCertificate
        U_MVSTR,
        0x3A701102,             # PidTagUserX509Certificate: userSMIMECertificate
        U_MVBIN, U_STR8,
    ]


def tag_of(table, pid):
    """The tag (with its type) of property id pid in the table."""
    return next(t for t in table if t >> 16 == pid)


DISPLAY_NAME, ACCOUNT, SMTP_ADDRESS, PROXY_ADDRESSES = 0x3001, 0x3A00, 0x39FE, 0x800F


def props_of(e, i, table):
    """The property values of entry e (the i-th record)."""
    ansi = tag_of(table, DISPLAY_NAME) & 0xFFFF == PT_STRING8
    s = PT_STRING8 if ansi else PT_UNICODE
    kind = e['RecipientType']
    p = {
        0x0FFE0003: 6,                                          # MAPI_MAILUSER
        0x39000003: 0 if kind == 'UserMailbox' else 6,          # DT_MAILUSER / DT_REMOTE_MAILUSER
        0x30010000 | s: e['DisplayName'],
        0x3A000000 | s: e['Alias'],
        0x39FE0000 | s: e['PrimarySmtpAddress'],
        0x800F1000 | s: list(e['EmailAddresses']),
        0x8C6A1102: list(e['UserCertificate']) or None,
        0x3A701102: list(e['UserSMIMECertificate']) or None,
    }
    # unknown properties, on some records and not others, in every width
    if i % 2 == 0:
        p[U_BOOL] = True
        p[U_STR] = 'Given%d' % i
        p[U_BIN] = bytes(range(256)) * 2 if i % 4 == 0 else b'\x01\x02\x03'   # 0x82 / 1-byte lengths
        p[U_MVSTR8] = ['Dept', 'Floor %d' % i]
    if i % 3 != 1:
        p[U_INT] = [5, 0x80, 0x1234, 0x123456, 0xDEADBEEF][i % 5]
        p[U_MVINT] = [0, 0x7F, 0x80, 0xFFFF, 0x1000000, 0xFFFFFFFF]
        p[U_MVSTR] = ['Büro', 'x']
        p[U_MVBIN] = [b'', b'\xff' * 200, b'\x30\x00']
        p[U_STR8] = 'Caf\xe9'
    return p


def header_record():
    return record(HDR_TABLE, {
        HDR_NAME: '\\Global Address List', HDR_DN: '/o=galsmime test/cn=addrlists/cn=oabs/cn=Default OAB',
        HDR_SEQ: 42, HDR_GUID: bytes(range(16)), HDR_TRUNCATED: [0x8C9E0102],
    })


def numbered(e, n):
    """A copy of entry e with its own alias, display name and addresses."""
    local, domain = e['PrimarySmtpAddress'].split('@')
    addr = '%s.%d@%s' % (local, n, domain)
    c = dict(e)
    c['Alias'] = '%s%d' % (e['Alias'], n)
    c['DisplayName'] = '%s %d' % (e['DisplayName'], n)
    c['PrimarySmtpAddress'] = addr
    c['EmailAddresses'] = ['SMTP:' + addr, 'smtp:%s.%d.alias@%s' % (local, n, domain),
                           'X500:/o=ExchangeLabs/cn=Recipients/cn=%s%d' % (e['Alias'], n)]
    return c


def tlv_setting(tag, data, length=None):
    return struct.pack('<HH', tag, len(data) + 4 if length is None else length) + data


def broken_tlv(kind, good):
    cert = None
    # find the KeyExchangeCertificate setting in the good blob
    off = 0
    while off < len(good):
        tag, ln = struct.unpack_from('<HH', good, off)
        if tag == 0x0003:
            cert = good[off + 4:off + ln]
        off += ln
    head = tlv_setting(0x0001, struct.pack('<I', 1))
    if kind == 'tlv-short':
        return head + tlv_setting(0x0006, b'', length=2) + tlv_setting(0x0003, cert)
    if kind == 'tlv-past':
        return head + tlv_setting(0x0003, cert, length=len(cert) + 4 + 100)
    if kind == 'tlv-garbage':
        return head + tlv_setting(0x0003, b'\x30\x82\x01\x00' + b'garbage!' * 8)
    if kind == 'tlv-header':
        return head + tlv_setting(0x0003, cert) + b'\x03\x00\x10'
    if kind == 'tlv-nocert':
        return head + tlv_setting(0x0006, struct.pack('<I', 1))
    raise ValueError(kind)


# SMIMECapabilities (RFC 8551 2.5.2): AES-256-GCM, then AES-256-CBC
def _oid_alg(last):
    oid = bytes([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, last])
    return bytes([0x30, len(oid)]) + oid


CAPS_GCM = _oid_alg(0x2E) + _oid_alg(0x2A)
CAPS_GCM = bytes([0x30, len(CAPS_GCM)]) + CAPS_GCM


def with_caps(blob, caps):
    """The TLV blob with an AsymetricCapabilities setting (0x0002) after its first."""
    first = struct.unpack_from('<HH', blob, 0)[1]
    return blob[:first] + tlv_setting(0x0002, caps) + blob[first:]


def write(entries, out_path, options):
    if '--break' in options and options[options.index('--break') + 1:][:1] == ['all']:
        # every break at once (OUT holds %s for the kind): one run instead of one per kind
        rest = list(options)
        at = rest.index('--break')
        del rest[at:at + 2]
        for kind in BREAKS:
            print(kind, write_one(entries, out_path % kind, rest + ['--break', kind]))
        return
    where = write_one(entries, out_path, options)
    if where:
        print(where)


def write_one(entries, out_path, options):
    """Write the file; with --break, return where the broken part starts."""
    ansi = '--ansi' in options
    only = count = brk = None
    no_address = set()
    tlv_caps = False
    args = list(options)
    while args:
        a = args.pop(0)
        if a == '--only':
            only = set(args.pop(0).split(','))
        elif a == '--tlv-caps':
            tlv_caps = True
        elif a == '--no-address':
            no_address = set(args.pop(0).split(','))
        elif a == '--count':
            count = int(args.pop(0))
        elif a == '--break':
            brk = args.pop(0)
            if brk not in BREAKS and brk != 'all':
                raise SystemExit('fmt_oab: unknown --break %s (%s)' % (brk, ', '.join(BREAKS)))
        elif a != '--ansi':
            raise SystemExit('fmt_oab: unknown option %s' % a)
    if only:
        entries = [e for e in entries if e['Alias'] in only]
    table = obj_table(ansi)
    if brk == 'unknown-type':
        table.insert(5, U_TIME)

    if count:
        recs = (numbered(entries[n % len(entries)], n) for n in range(count))
        total = count
    else:
        recs = iter(entries)
        total = len(entries)

    serial = 0x5EED0004
    header = struct.pack('<III', 0x20 if brk != 'version' else 0x07, serial,
                         total + (1 if brk == 'totrecs-more' else -1 if brk == 'totrecs-less' else 0))
    meta_body = prop_table(HDR_TABLE) + prop_table(table)
    meta_size = len(meta_body) + 4
    if brk == 'meta-cbsize':
        meta_size = 0xFFFFFFFF
    if brk == 'catts':
        # the object table's cAtts, forged: after cbSize and the header table
        at = 4 + 8 * len(HDR_TABLE)
        meta_body = meta_body[:at] + struct.pack('<I', 0x80000000) + meta_body[at + 4:]
    meta = struct.pack('<I', meta_size) + meta_body

    where = None
    with open(out_path, 'wb') as f:
        if brk == 'header':
            f.write(header[:7])
            return 'byte 0'
        f.write(header)
        f.write(meta)
        if brk in ('version', 'meta-cbsize', 'catts'):
            where = 'byte %d' % (0 if brk == 'version' else 12)
        f.write(header_record())
        pos = f.tell()
        tail = []   # records after the broken one, for cbsize-past
        broken_at = None
        for i, e in enumerate(recs):
            props = props_of(e, i, table)
            if tlv_caps and e['Alias'] == 'carol':
                props[0x3A701102] = [with_caps(e['UserSMIMECertificate'][0], CAPS_GCM)]
            if e['Alias'] in no_address:
                props[tag_of(table, SMTP_ADDRESS)] = props[tag_of(table, PROXY_ADDRESSES)] = None
            target = brk in RECORD_BREAKS and ((brk.startswith('tlv') and e['Alias'] == 'carol') or
                                               (not brk.startswith('tlv') and e['Alias'] == 'bob'))
            rec = None
            if target:
                broken_at = pos
                if brk == 'int85':
                    props[0x0FFE0003] = Raw(b'\x85\x06\x00\x00\x00\x00')
                elif brk == 'binlen':
                    c = e['UserCertificate'][0]
                    props[0x8C6A1102] = Raw(enc_int(1) + enc_int(len(c) + 1000) + c)
                elif brk == 'binlen-huge':
                    c = e['UserCertificate'][0]
                    props[0x8C6A1102] = Raw(enc_int(1) + b'\x84\xff\xff\xff\xff' + c)
                elif brk == 'mvcount':
                    proxies = tag_of(table, PROXY_ADDRESSES)
                    rest = b''.join(enc_single(proxies & 0xFFFF & ~MV, x) for x in e['EmailAddresses'])
                    props[proxies] = Raw(b'\x84' + struct.pack('<I', 0x80000000) + rest)
                elif brk == 'many-addresses':
                    props[tag_of(table, PROXY_ADDRESSES)] = ['smtp:bob.%d@example.org' % n for n in range(2000)]
                elif brk == 'many-certs':
                    props[0x8C6A1102] = [b'\x30'] * 1100
                elif brk == 'unknown-type':
                    props[U_TIME] = struct.pack('<Q', 0x01D9000000000000)
                    props[U_TIME] = Raw(props[U_TIME])
                elif brk == 'presence':
                    rec = record(table, {0x0FFE0003: 6}, presence_all=True)
                elif brk == 'nonul':
                    # only the display name, its NUL cut off: the record ends inside the string
                    good = record(table, {tag_of(table, DISPLAY_NAME): e['DisplayName']})
                    body = good[4:-1]
                    rec = struct.pack('<I', len(body) + 4) + body
                elif brk.startswith('tlv'):
                    props[0x3A701102] = [broken_tlv(brk, e['UserSMIMECertificate'][0])]
            if rec is None:
                rec = record(table, props)
            if target and brk.startswith('cbsize'):
                forged = {'cbsize0': 0, 'cbsize3': 3, 'cbsize-ffffffff': 0xFFFFFFFF,
                          'cbsize-big': 48 << 20}.get(brk)
                if forged is None:
                    tail = [rec[4:]]
                    broken_at = pos
                    rec = None
                else:
                    rec = struct.pack('<I', forged) + rec[4:]
            if rec is None:
                continue
            if tail:
                tail.append(rec)
                continue
            f.write(rec)
            last = pos
            pos += len(rec)
        if tail:
            rest = b''.join(tail)
            f.write(struct.pack('<I', len(rest) + 4 + 100) + rest)
        if brk == 'totrecs-more':
            return 'byte %d' % pos          # where the missing record should start
        if brk == 'totrecs-less':
            return 'byte %d' % last         # the record the header does not announce
        if brk and broken_at is not None:
            return 'byte %d' % broken_at
        return where
