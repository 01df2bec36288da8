#!/usr/bin/env python3
"""ad_ldif.py: a directory in every attribute shape Active Directory,
Exchange and DavMail give a recipient, as LDIF that both slapd (with
galsmime's schema and tests/gal/ad-classes.ldif) and `gal import` read,
for t78s. Certificates by file name (PEM, in the test folder or the test
PKI), written as base64 DER.

    ad_ldif.py PKI_DIR OUT BULK

Shapes: mail; proxyAddresses SMTP: (primary), smtp:, X500: (ignored);
targetAddress (a contact's external address); displayName, cn,
mailNickname; objectClass user, contact, group; userCertificate;binary
(DER, 16 values); userSMIMECertificate as DER, as PKCS#7 with its chain,
and as one PKCS#7 value of 16 certificates; msExchangeCertificate
(DavMail). Then the trust issue's takeover shapes: a certificate naming
another address than the entry's, a contact claiming an address bound
elsewhere, a contact claiming an internal user's proxy address, a
certificate of a CA nobody trusts, an expired one and (once the suite
imports the CRL) a revoked one. Then BULK plain entries (users, contacts,
groups in turn) to make a few hundred.
"""
import base64
import os
import subprocess
import sys

pki, out, bulk = sys.argv[1], sys.argv[2], int(sys.argv[3])
BASE = 'ou=gal,dc=example,dc=org'


def der(name):
    path = name if os.path.exists(name) else '%s/%s.crt' % (pki, name)
    return subprocess.run(['openssl', 'x509', '-in', path, '-outform', 'DER'], check=True,
                          capture_output=True).stdout


def pkcs7(*names):
    args = ['openssl', 'crl2pkcs7', '-nocrl', '-outform', 'DER']
    for n in names:
        args += ['-certfile', n if os.path.exists(n) else '%s/%s.crt' % (pki, n)]
    return subprocess.run(args, check=True, capture_output=True).stdout


def b64(data):
    return base64.b64encode(data).decode()


def entry(cn, cls, mail=None, proxies=(), target=None, alias=None, display=None, ucert=(),
          smime=(), exch=()):
    lines = ['dn: cn=%s,%s' % (cn, BASE), 'objectClass: %s' % cls, 'objectClass: galsmimeRecipient',
             'cn: %s' % cn, 'sn: %s' % cn.split()[-1]]
    if mail:
        lines.append('mail: %s' % mail)
    lines += ['proxyAddresses: %s' % p for p in proxies]
    if target:
        lines.append('targetAddress: %s' % target)
    if alias:
        lines.append('mailNickname: %s' % alias)
    if display:
        lines.append('displayName: %s' % display)
    lines += ['userCertificate;binary:: %s' % b64(v) for v in ucert]
    lines += ['userSMIMECertificate:: %s' % b64(v) for v in smime]
    lines += ['msExchangeCertificate:: %s' % b64(v) for v in exch]
    return '\n'.join(lines) + '\n'


many = ['many-%02d.pem' % i for i in range(16)]
entries = [
    # the shapes
    entry('Alice Example', 'user', 'alice@example.org',
          ['SMTP:alice@example.org', 'smtp:alice.example@example.org',
           'X500:/o=Example/ou=Exchange Administrative Group/cn=Recipients/cn=alice'],
          alias='alice', display='Alice Example', ucert=[der('alice')],
          smime=[pkcs7('alice', 'inter', 'root')]),
    entry('Bob Example', 'user', 'bob@example.org', ['SMTP:bob@example.org', 'smtp:robert@example.org'],
          alias='bob', display='Bob Example', smime=[der('bob')]),
    entry('Carol Example', 'contact', 'carol@example.org', ['SMTP:carol@example.org'],
          target='SMTP:carol@example.org', alias='carol', display='Carol Example (partner)',
          exch=[der('carol')]),
    entry('Erin Example', 'user', 'erin@example.org', ['SMTP:erin@example.org'], alias='erin',
          exch=[der('erin'), pkcs7('erin', 'inter')]),
    entry('Henry Example', 'user', 'henry@example.org', ['SMTP:henry@example.org'], alias='henry',
          ucert=[der('henry2')], smime=[der('henry')]),
    entry('Many Certificates', 'user', 'many@example.org', ['SMTP:many@example.org'], alias='many',
          ucert=[der(m) for m in many], smime=[pkcs7(*many)]),
    entry('Staff', 'group', 'staff@example.org', ['SMTP:staff@example.org', 'smtp:all@example.org'],
          alias='staff', display='All staff'),
    # the takeover shapes
    entry('Eve Mismatch', 'user', 'eve@example.org', ['SMTP:eve@example.org'], alias='eve',
          ucert=[der('bob')]),
    entry('Bob Twin', 'contact', 'bob@example.org', target='SMTP:bob@example.org', alias='bobtwin',
          display='Bob Example', ucert=[der('pat')]),
    entry('Robert Partner', 'contact', 'pat@partner.example',
          ['SMTP:pat@partner.example', 'smtp:robert@example.org'], target='SMTP:pat@partner.example',
          alias='robertp', ucert=[der('pat')]),
    entry('Mallory Example', 'contact', 'mallory@example.org', target='SMTP:mallory@example.org',
          alias='mallory', ucert=[der('mallory')]),
    entry('Dave Example', 'user', 'dave@example.org', ['SMTP:dave@example.org'], alias='dave',
          ucert=[der('dave')]),
    entry('Grace Example', 'user', 'grace@example.org', ['SMTP:grace@example.org'], alias='grace',
          ucert=[der('grace')]),
]
classes = ['user', 'contact', 'group']
for i in range(bulk):
    cls = classes[i % 3]
    entries.append(entry('Bulk %03d' % i, cls, 'bulk%03d@example.org' % i,
                         ['SMTP:bulk%03d@example.org' % i, 'smtp:b%03d@example.org' % i,
                          'X500:/o=Example/cn=Recipients/cn=bulk%03d' % i],
                         target='SMTP:bulk%03d@partner.example' % i if cls == 'contact' else None,
                         alias='bulk%03d' % i, display='Bulk %03d' % i))
with open(out, 'w') as f:
    f.write('\n'.join(entries))
