"""fmt_csv.py: the test directory as a CSV file: a header row with the
property names, one row per entry, multi-valued cells joined with ';',
certificate values in base64. Only fields that need it are quoted.

Options:
  --sep S          separator: ',' (default), ';' or 'tab'
  --quote-all      quote every field, as Export-Csv does
  --typeinfo       a "#TYPE System.Management.Automation.PSCustomObject"
                   line first (Windows PowerShell's Export-Csv default)
  --shuffle        columns in another order, names in lower case, and two
                   columns galsmime does not read (one of them first)
  --wrap N         base64 wrapped every N characters with CRLF inside the
                   (quoted) cell: fields holding line breaks
  --lost ALIAS     that entry's certificate cells hold "System.Byte[]"
                   (what plain Export-Csv writes)
  --badb64 ALIAS   that entry's first certificate value is not base64
  --repeat N       the directory N times over (see fmt_json.py)
  --crlf           CRLF line ends
  --bom            a UTF-8 byte order mark
  --utf16          UTF-16LE with a byte order mark (Export-Csv -Encoding Unicode)
  --then FILE      write what the options so far say, then start again
                   with FILE and the options after this one
"""
import base64
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmt_json import renamed  # noqa: E402

COLUMNS = ['Name', 'Alias', 'DisplayName', 'RecipientType', 'PrimarySmtpAddress',
           'ExternalEmailAddress', 'EmailAddresses', 'UserCertificate', 'UserSMIMECertificate']


def parse_options(options):
    o = {'sep': ',', 'quote-all': False, 'typeinfo': False, 'shuffle': False, 'wrap': 0,
         'lost': set(), 'badb64': set(), 'repeat': 1, 'crlf': False, 'bom': False,
         'utf16': False}
    it = iter(options)
    for a in it:
        key = a.lstrip('-')
        if key == 'sep':
            s = next(it)
            o['sep'] = '\t' if s == 'tab' else s
        elif key in ('wrap', 'repeat'):
            o[key] = int(next(it))
        elif key in ('lost', 'badb64'):
            o[key].add(next(it))
        elif key in o:
            o[key] = True
        else:
            raise SystemExit('fmt_csv: unknown option %s' % a)
    return o


def cell(e, col, o):
    v = e[col]
    if col in ('UserCertificate', 'UserSMIMECertificate'):
        if e['Alias'] in o['lost']:
            return 'System.Byte[]' if v else ''
        vals = [base64.b64encode(b).decode() for b in v]
        if e['Alias'] in o['badb64'] and vals:
            vals[0] = 'MII*not~base64*'
        if o['wrap']:
            n = o['wrap']
            vals = ['\r\n'.join(s[i:i + n] for i in range(0, len(s), n)) for s in vals]
        return ';'.join(vals)
    if isinstance(v, list):
        return ';'.join(v)
    return '' if v is None else v


def write(entries, out_path, options):
    options = list(options)
    if '--then' in options:
        i = options.index('--then')
        write(entries, out_path, options[:i])
        write(entries, options[i + 1], options[i + 2:])
        return
    o = parse_options(options)
    nl = '\r\n' if o['crlf'] else '\n'
    cols = list(COLUMNS)
    header = list(cols)
    if o['shuffle']:
        cols = ['Comment'] + cols[::-1] + ['HiddenFromAddressListsEnabled']
        header = [c.lower() for c in cols]
    enc = 'utf-16-le' if o['utf16'] else 'utf-8'
    with open(out_path, 'w', encoding=enc, newline='') as f:
        if o['utf16'] or o['bom']:
            f.write('\ufeff')
        if o['typeinfo']:
            f.write('#TYPE System.Management.Automation.PSCustomObject' + nl)
        w = csv.writer(f, delimiter=o['sep'], lineterminator=nl,
                       quoting=csv.QUOTE_ALL if o['quote-all'] else csv.QUOTE_MINIMAL)
        w.writerow(header)
        for k in range(o['repeat']):
            for e in entries:
                e = renamed(e, k)
                w.writerow([{'Comment': 'a "quoted", comma\nand a line break',
                             'HiddenFromAddressListsEnabled': 'False'}.get(c) if c not in e
                            else cell(e, c, o) for c in cols])
