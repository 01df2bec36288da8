"""fmt_json.py: the test directory as scripts/Export-GalSmime.ps1 and
ConvertTo-Json write it.

Default: one JSON array on one line (ConvertTo-Json -Compress), every
certificate value as base64 text (what the export script writes).
Options:
  --lines          JSON Lines: one object per line
  --pretty         indented like PowerShell 7's ConvertTo-Json (2 spaces)
  --pretty5        indented like Windows PowerShell 5.1's ConvertTo-Json
                   ("key":  value, array items aligned under the bracket)
  --bytes          certificate values as arrays of byte integers, as
                   ConvertTo-Json -Depth 5 writes a byte[]
  --wrap           multi-valued properties as {"value": [...], "Count": n},
                   as Windows PowerShell wraps some arrays
  --top-value      the whole array as {"value": [...], "Count": n}, what
                   Windows PowerShell 5.1's ConvertTo-Json -InputObject writes
  --odata          the whole array as {"@odata.context": "...", "value": [...]},
                   the Exchange admin API's response shape
  --single ALIAS   only that entry, as a single object (not an array)
  --lost ALIAS     that entry's certificate values become "System.Byte[]"
                   (what Export-Csv or a shallow ConvertTo-Json leaves)
  --badb64 ALIAS   that entry's first certificate value is not base64
  --repeat N       the directory N times over; copy k > 0 has ".k" added to
                   its names and to the local part of its addresses (a big
                   file without a big model in memory: written as it goes)
  --crlf           CRLF line ends
  --bom            a UTF-8 byte order mark
  --utf16          UTF-16LE with a byte order mark (Out-File in Windows
                   PowerShell 5.1)
  --then FILE      write what the options so far say, then start again
                   with FILE and the options after this one (one run of
                   galfix.py makes many files)
"""
import base64
import json


def parse_options(options):
    o = {'lines': False, 'pretty': False, 'pretty5': False, 'bytes': False, 'wrap': False,
         'single': None, 'lost': set(), 'badb64': set(), 'repeat': 1, 'crlf': False,
         'bom': False, 'utf16': False, 'top_value': False, 'odata': False}
    it = iter(options)
    for a in it:
        key = a.lstrip('-').replace('-', '_')
        if key in ('single', 'repeat'):
            o[key] = next(it) if key == 'single' else int(next(it))
        elif key in ('lost', 'badb64'):
            o[key].add(next(it))
        elif key in o:
            o[key] = True
        else:
            raise SystemExit('fmt_json: unknown option %s' % a)
    return o


def renamed(e, k):
    """Copy k of entry e: distinct names and addresses, same certificates."""
    if k == 0:
        return e

    def addr(a):
        if a is None:
            return None
        prefix, sep, rest = a.rpartition(':')
        local, at, domain = rest.partition('@')
        if not at:
            return a
        return '%s%s%s.%d@%s' % (prefix, sep, local, k, domain)
    e = dict(e)
    for f in ('Name', 'Alias', 'DisplayName'):
        e[f] = '%s.%d' % (e[f], k)
    e['PrimarySmtpAddress'] = addr(e['PrimarySmtpAddress'])
    e['ExternalEmailAddress'] = addr(e['ExternalEmailAddress'])
    e['EmailAddresses'] = [addr(a) for a in e['EmailAddresses']]
    return e


def to_json_object(e, o):
    """The entry as ConvertTo-Json sees it: certificate bytes converted."""
    alias = e['Alias']
    out = {}
    for k, v in e.items():
        if k in ('UserCertificate', 'UserSMIMECertificate'):
            if alias in o['lost']:
                vals = ['System.Byte[]' for _ in v]
            elif o['bytes']:
                vals = [list(b) for b in v]
            else:
                vals = [base64.b64encode(b).decode() for b in v]
            if alias in o['badb64'] and vals:
                vals[0] = 'MII*not~base64*'
            v = vals
        if o['wrap'] and isinstance(v, list):
            v = {'value': v, 'Count': len(v)}
        out[k] = v
    return out


def dumps_ps5(v, col=0):
    """Windows PowerShell 5.1's layout: 4-space objects, two spaces after
    the colon, array items lined up under the opening bracket."""
    if isinstance(v, dict):
        if not v:
            return '{\n' + ' ' * col + '}'
        pad = ' ' * (col + 4)
        parts = []
        for k, x in v.items():
            head = pad + json.dumps(k) + ':  '
            parts.append(head + dumps_ps5(x, len(head)))
        return '{\n' + ',\n'.join(parts) + '\n' + ' ' * col + '}'
    if isinstance(v, list):
        if not v:
            return '[\n\n' + ' ' * col + ']'
        pad = ' ' * (col + 4)
        return '[\n' + ',\n'.join(pad + dumps_ps5(x, col + 4) for x in v) + '\n' + ' ' * col + ']'
    return json.dumps(v)


def dumps(v, o):
    if o['pretty5']:
        return dumps_ps5(v)
    if o['pretty']:
        return json.dumps(v, indent=2)
    return json.dumps(v, separators=(',', ':'))


def write(entries, out_path, options):
    options = list(options)
    if '--then' in options:
        i = options.index('--then')
        write(entries, out_path, options[:i])
        write(entries, options[i + 1], options[i + 2:])
        return
    o = parse_options(options)
    nl = '\r\n' if o['crlf'] else '\n'
    if o['utf16']:
        f = open(out_path, 'w', encoding='utf-16-le', newline='')
        f.write('\ufeff')
    else:
        f = open(out_path, 'w', encoding='utf-8', newline='')
        if o['bom']:
            f.write('\ufeff')

    def put(s):
        f.write(s.replace('\n', nl) if o['crlf'] else s)

    if o['single']:
        e = [x for x in entries if x['Alias'] == o['single']][0]
        put(dumps(to_json_object(e, o), o) + '\n')
        f.close()
        return
    first = True
    if o['odata']:
        put('{"@odata.context":"https://example.invalid/adminapi/$metadata#Recipient","value":')
    elif o['top_value']:
        put('{\n    "value":  ' if o['pretty5'] else '{"value":')
    if not o['lines']:
        put('[' + ('\n' if o['pretty'] or o['pretty5'] else ''))
    for k in range(o['repeat']):
        for e in entries:
            obj = to_json_object(renamed(e, k), o)
            if o['lines']:
                put(json.dumps(obj, separators=(',', ':')) + '\n')
                continue
            text = dumps(obj, o)
            if o['pretty'] or o['pretty5']:
                text = '\n'.join('    ' + line for line in text.split('\n'))
                put(('' if first else ',\n') + text)
            else:
                put(('' if first else ',') + text)
            first = False
    if not o['lines']:
        put('\n]' if o['pretty'] or o['pretty5'] else ']')
    n = len(entries) * o['repeat']
    if o['odata']:
        put(',"@odata.nextLink":null}')
    elif o['top_value']:
        put((',\n    "Count":  %d\n}' if o['pretty5'] else ',"Count":%d}') % n)
    put('\n')
    f.close()
