"""fmt_vcard.py: the test directory as vCards, the way Outlook (2.1),
Apple Contacts / Thunderbird (3.0) and RFC 6350 writers (4.0) export
contacts.

Each entry is a card: FN = DisplayName, N from Name ("Given Family":
the last word is the family name), NICKNAME = Alias, EMAIL for each SMTP
address (the primary marked preferred), KEY for each certificate value:
X.509 ones as X509 (UserCertificate), UserSMIMECertificate values (CMS
or Outlook's TLV blob) as PKCS7.

Options:
  --version V       2.1 (default), 3.0 or 4.0
  --lf              LF line ends (default CRLF, as the RFCs say)
  --fold N          fold lines longer than N octets (default 75; 0: never);
                    2.1 base64 blocks are always 4-space indented lines of
                    76 characters ended by an empty line, as Outlook writes
  --pkcs7-type T    the TYPE for PKCS7 keys in 2.1/3.0 (default PKCS7),
                    e.g. x-pkcs7
  --groups          Apple's group prefixes: item1.EMAIL, item2.EMAIL ...
  --no-pref         mark no address preferred: the first one is primary
  --no-fn           leave FN out: the display name comes from N
  --repeat N        the directory N times, copies 2..N with other names and
                    addresses (big files)
"""
import base64


def parse(options):
    o = {'version': '2.1', 'nl': '\r\n', 'fold': 75, 'pkcs7': 'PKCS7', 'groups': False,
         'pref': True, 'fn': True, 'repeat': 1}
    i = 0
    while i < len(options):
        a = options[i]
        if a == '--version':
            i += 1
            o['version'] = options[i]
            if o['version'] not in ('2.1', '3.0', '4.0'):
                raise SystemExit('fmt_vcard: --version is 2.1, 3.0 or 4.0')
        elif a == '--lf':
            o['nl'] = '\n'
        elif a == '--fold':
            i += 1
            o['fold'] = int(options[i])
        elif a == '--pkcs7-type':
            i += 1
            o['pkcs7'] = options[i]
        elif a == '--groups':
            o['groups'] = True
        elif a == '--no-pref':
            o['pref'] = False
        elif a == '--no-fn':
            o['fn'] = False
        elif a == '--repeat':
            i += 1
            o['repeat'] = int(options[i])
        else:
            raise SystemExit('fmt_vcard: unknown option ' + a)
        i += 1
    return o


def esc(v, o):
    if o['version'] == '2.1':
        return v.replace(';', '\\;')
    return v.replace('\\', '\\\\').replace(',', '\\,').replace(';', '\\;').replace('\n', '\\n')


def fold(line, width):
    if width <= 0 or len(line) <= width:
        return [line]
    out = [line[:width]]
    rest = line[width:]
    while rest:
        out.append(' ' + rest[:width - 1])
        rest = rest[width - 1:]
    return out


def renamed(e, k):
    """Copy k of entry e: other names and addresses, the same certificates."""
    if k == 0:
        return e

    def addr(a):
        local, _, dom = a.partition('@')
        return '%s.%d@%s' % (local, k, dom)

    def proxy(p):
        t, _, a = p.partition(':')
        return t + ':' + (addr(a) if '@' in a else a + str(k))
    c = dict(e)
    c['Name'] = '%s %d' % (e['Name'], k)
    c['Alias'] = '%s%d' % (e['Alias'], k)
    c['DisplayName'] = '%s %d' % (e['DisplayName'], k)
    c['PrimarySmtpAddress'] = addr(e['PrimarySmtpAddress'])
    c['EmailAddresses'] = [proxy(p) for p in e['EmailAddresses']]
    return c


def smtp_addresses(e):
    """Primary first, then the other smtp: proxies; no X500:, SIP: ..."""
    out = [e['PrimarySmtpAddress']]
    for p in e['EmailAddresses']:
        t, _, a = p.partition(':')
        if t.lower() == 'smtp' and a.lower() not in [x.lower() for x in out]:
            out.append(a)
    return out


def card(e, o, b64cache):
    v = o['version']
    lines = ['BEGIN:VCARD', 'VERSION:' + v]
    group = [0]

    def g(prop):
        if not o['groups']:
            return prop
        group[0] += 1
        return 'item%d.%s' % (group[0], prop)

    name = e['Name']
    given, _, family = name.rpartition(' ')
    if not given:
        given, family = family, ''
    n = '%s;%s' % (esc(family, o), esc(given, o))
    if v != '2.1':
        n += ';;;'
    lines.append('N:' + n)
    if o['fn']:
        lines.append('FN:' + esc(e['DisplayName'], o))
    lines.append('NICKNAME:' + esc(e['Alias'], o))
    for i, a in enumerate(smtp_addresses(e)):
        pref = o['pref'] and i == 0
        if v == '2.1':
            lines.append(g('EMAIL;PREF;INTERNET:' if pref else 'EMAIL;INTERNET:') + a)
        elif v == '3.0':
            lines.append(g('EMAIL;TYPE=INTERNET,pref:' if pref else 'EMAIL;TYPE=INTERNET:') + a)
        else:
            lines.append(g('EMAIL;PREF=1:' if pref else 'EMAIL:') + a)

    def b64(value):
        b = b64cache.get(value)
        if b is None:
            b = b64cache[value] = base64.b64encode(value).decode()
        return b

    keys = [('X509', 'application/pkix-cert', c) for c in e['UserCertificate']]
    keys += [(o['pkcs7'], 'application/pkcs7-mime', c) for c in e['UserSMIMECertificate']]
    for t, mediatype, value in keys:
        data = b64(value)
        if v == '2.1':
            # Outlook: the value starts on the next line, 4-space indented
            # lines of 76, an empty line after
            lines.append('KEY;%s;ENCODING=BASE64:' % t)
            lines.extend('    ' + data[i:i + 76] for i in range(0, len(data), 76))
            lines.append('')
        elif v == '3.0':
            lines.append('KEY;TYPE=%s;ENCODING=b:%s' % (t, data))
        else:
            lines.append('KEY:data:%s;base64,%s' % (mediatype, data))
    lines.append('END:VCARD')
    out = []
    for line in lines:
        # BEGIN, END and 2.1 base64 block lines as they are: no writer folds those
        if (v == '2.1' and (line.startswith('    ') or line == '')) or line in ('BEGIN:VCARD', 'END:VCARD'):
            out.append(line)
        else:
            out.extend(fold(line, o['fold']))
    return out


def write(entries, out_path, options):
    o = parse(options)
    b64cache = {}
    with open(out_path, 'wb') as f:
        for k in range(o['repeat']):
            for e in entries:
                f.write((o['nl'].join(card(renamed(e, k), o, b64cache)) + o['nl']).encode())
