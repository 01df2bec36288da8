"""fmt_ldif.py: the test directory as LDIF (RFC 2849), the way ldifde and
ldapsearch export Active Directory.

Options:
  --crlf            CRLF line ends (ldifde)
  --utf16           UTF-16LE with a byte order mark (ldifde -u)
  --fold N          fold lines longer than N columns (default 76; 0: never)
  --binary-option   userCertificate;binary:: (ldapsearch asked for ;binary)
  --comments        ldapsearch's comments: a header, one before each entry,
                    a folded one
  --version         start with "version: 1"
  --b64-text        base64 every text value too (ldifde does for non-ASCII)
  --no-cn           leave cn out: the name comes from the dn's first RDN
  --repeat N        the directory N times, copies 2..N with other names and
                    addresses (big files)
"""
import base64

OBJECT_CLASSES = {
    'UserMailbox': ['top', 'person', 'organizationalPerson', 'user'],
    'MailUser': ['top', 'person', 'organizationalPerson', 'user'],
    'MailContact': ['top', 'person', 'organizationalPerson', 'contact'],
}


def parse(options):
    o = {'crlf': False, 'utf16': False, 'fold': 76, 'binary': False, 'comments': False,
         'version': False, 'b64_text': False, 'no_cn': False, 'repeat': 1}
    i = 0
    while i < len(options):
        a = options[i]
        if a == '--crlf':
            o['crlf'] = True
        elif a == '--utf16':
            o['utf16'] = True
        elif a == '--fold':
            i += 1
            o['fold'] = int(options[i])
        elif a == '--binary-option':
            o['binary'] = True
        elif a == '--comments':
            o['comments'] = True
        elif a == '--version':
            o['version'] = True
        elif a == '--b64-text':
            o['b64_text'] = True
        elif a == '--no-cn':
            o['no_cn'] = True
        elif a == '--repeat':
            i += 1
            o['repeat'] = int(options[i])
        else:
            raise SystemExit('fmt_ldif: unknown option ' + a)
        i += 1
    return o


def safe(value):
    """RFC 2849 SAFE-STRING: ASCII without NUL, CR, LF; not starting with
    a space, ':' or '<'; we also base64 a trailing space as ldifde does."""
    if value == '':
        return True
    if value[0] in ' :<' or value[-1] == ' ':
        return False
    return all(0x20 <= ord(c) < 0x7f for c in value)


def dn_escape(v):
    out = ''
    for i, c in enumerate(v):
        if c in ',+"\\<>;=' or (i == 0 and c in '# ') or (i == len(v) - 1 and c == ' '):
            out += '\\' + c
        else:
            out += c
    return out


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
    if e.get('ExternalEmailAddress'):
        c['ExternalEmailAddress'] = proxy(e['ExternalEmailAddress'])
    c['EmailAddresses'] = [proxy(p) for p in e['EmailAddresses']]
    return c


def record(e, o, b64cache):
    lines = []

    def text(attr, value):
        if value is None:
            return
        if o['b64_text'] or not safe(value):
            lines.append('%s:: %s' % (attr, base64.b64encode(value.encode()).decode()))
        else:
            lines.append('%s: %s' % (attr, value))

    def binary(attr, value):
        # folded once per value: big files repeat the same certificates
        key = (attr, value)
        folded = b64cache.get(key)
        if folded is None:
            line = '%s%s:: %s' % (attr, ';binary' if o['binary'] else '',
                                  base64.b64encode(value).decode())
            folded = b64cache[key] = fold(line, o['fold'])
        lines.append(folded)

    contact = e['RecipientType'] == 'MailContact'
    ou = 'Contacts' if contact else 'Users'
    if o['comments']:
        lines.append('# %s, %s, example.org' % (e['Name'], ou))
    text('dn', 'CN=%s,OU=%s,DC=example,DC=org' % (dn_escape(e['Name']), ou))
    for oc in OBJECT_CLASSES[e['RecipientType']]:
        text('objectClass', oc)
    if not o['no_cn']:
        text('cn', e['Name'])
    text('displayName', e['DisplayName'])
    text('mail', e['PrimarySmtpAddress'])
    text('mailNickname', e['Alias'])
    for p in e['EmailAddresses']:
        text('proxyAddresses', p)
    if contact and e.get('ExternalEmailAddress'):
        text('targetAddress', e['ExternalEmailAddress'])
    for v in e['UserCertificate']:
        binary('userCertificate', v)
    for v in e['UserSMIMECertificate']:
        binary('userSMIMECertificate', v)
    out = []
    for line in lines:
        if isinstance(line, list):
            out.extend(line)
        else:
            out.extend(fold(line, o['fold']) if not line.startswith('#') else [line])
    return out


def write(entries, out_path, options):
    o = parse(options)
    nl = '\r\n' if o['crlf'] else '\n'
    b64cache = {}
    with open(out_path, 'wb') as f:
        if o['utf16']:
            f.write(b'\xff\xfe')
        enc = 'utf-16-le' if o['utf16'] else 'utf-8'
        head = []
        if o['comments']:
            head += ['# extended LDIF', '#', '# LDAPv3',
                     '# base <DC=example,DC=org> with scope subtree',
                     '# filter: (|(objectClass=user)(objectClass=contact))',
                     '# requesting: ALL', '#',
                     '# a folded comment: ldapsearch folds these too, and a reader',
                     ' must skip the continuation with the comment', '']
        if o['version']:
            head += ['version: 1', '']
        if head:
            f.write((nl.join(head) + nl).encode(enc))
        for k in range(o['repeat']):
            for e in entries:
                rec = record(renamed(e, k), o, b64cache)
                f.write((nl.join(rec) + nl + nl).encode(enc))
        if o['comments']:
            f.write(('# search result' + nl + 'search: 2' + nl + 'result: 0 Success' + nl + nl +
                     '# numResponses: %d' % (len(entries) + 1) + nl).encode(enc))
