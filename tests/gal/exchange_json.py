#!/usr/bin/env python3
"""exchange_json.py: a small GAL export, entry by entry, as Exchange
PowerShell writes it (ConvertTo-Json of Get-Mailbox / Get-MailContact),
for the suites that build one directory attack each (t31, t83).

    exchange_json.py PKI_DIR OUT ENTRY...

Each ENTRY is kind|Name|Alias|DisplayName|Primary|proxy,proxy|ucert,ucert|smimecert:
certificates by test PKI name, base64 of the DER as the export writes.
"""
import base64
import json
import subprocess
import sys

pki = sys.argv[1]


def b64(n):
    return base64.b64encode(subprocess.run(['openssl', 'x509', '-in', '%s/%s.crt' % (pki, n),
        '-outform', 'DER'], check=True, capture_output=True).stdout).decode()


out = []
for spec in sys.argv[3:]:
    kind, name, alias, disp, primary, proxies, ucert, smime = spec.split('|')
    e = {'Name': name, 'Alias': alias, 'DisplayName': disp, 'RecipientType': kind,
         'PrimarySmtpAddress': primary,
         'ExternalEmailAddress': 'SMTP:' + primary if kind == 'MailContact' else None,
         'EmailAddresses': ['SMTP:' + primary] + [p for p in proxies.split(',') if p],
         'UserCertificate': [b64(c) for c in ucert.split(',') if c],
         'UserSMIMECertificate': [b64(c) for c in smime.split(',') if c]}
    out.append(e)
json.dump(out, open(sys.argv[2], 'w'))
