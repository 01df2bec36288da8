#!/usr/bin/env python3
"""galfix.py: the test directory (a small Exchange GAL) made from the test
PKI, and writers that export it in every format galsmime imports.

    galfix.py PKI_DIR FORMAT OUT [--option ...]

The model (entries()) uses exactly the property names of Get-Mailbox /
Get-MailUser / Get-MailContact. Certificate values are bytes: DER X.509
for UserCertificate; for UserSMIMECertificate either a DER CMS SignedData
blob (what Exchange stores) or Outlook's tag-length-value blob
([MS-OXOABK] 2.2.4.36). Each format's writer lives in fmt_<format>.py
beside this file and defines write(entries, out_path, options).
No real person's data: every name and key comes from tests/pki/mkpki.
"""
import importlib.util
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def der(pki, name):
    """The DER bytes of PKI_DIR/name.crt."""
    return subprocess.run(['openssl', 'x509', '-in', os.path.join(pki, name + '.crt'),
                           '-outform', 'DER'], check=True, capture_output=True).stdout


def signed_data(pki, name):
    """A CMS SignedData blob like Exchange's userSMIMECertificate: the
    user's certificate, its chain, an SMIMECapabilities attribute (OpenSSL's
    default list, without GCM), empty content."""
    with tempfile.NamedTemporaryFile() as empty:
        return subprocess.run(
            ['openssl', 'cms', '-sign', '-binary', '-nodetach', '-in', empty.name,
             '-signer', os.path.join(pki, name + '.crt'), '-inkey', os.path.join(pki, name + '.key'),
             '-certfile', os.path.join(pki, name + '-chain.pem'), '-outform', 'DER'],
            check=True, capture_output=True).stdout


def signed_data_gcm(pki, name):
    """The same, with galsmime's own SMIMECapabilities (AES-256-GCM first):
    made by `galsmime sign --opaque` in a throw-away store, so it needs
    $GALSMIME. Returns None when that is not available."""
    gs = os.environ.get('GALSMIME')
    if not gs:
        return None
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, GALSMIME_HOME=home)
        subprocess.run([gs, 'key', 'import', os.path.join(pki, name + '.p12'),
                        '--passphrase-file', os.path.join(pki, 'pass')], env=env, check=True,
                       capture_output=True)
        subprocess.run([gs, 'cert', 'import', os.path.join(pki, name + '-chain.pem')], env=env,
                       check=True, capture_output=True)
        msg = ('From: %s@example.org\nTo: x@example.org\nSubject: cert\n\nx\n' % name).encode()
        out = subprocess.run([gs, 'sign', '--opaque', '--passphrase-file', os.path.join(pki, 'pass')],
                             env=env, input=msg, check=True, capture_output=True).stdout
    import base64
    body = out.split(b'\n\n', 1)[1]
    return base64.b64decode(b''.join(body.split()))


def tlv_blob(pki, name, caps=None):
    """Outlook's security settings blob: KeyExchangeCertificate (0x0003),
    SignCertificate (0x0008), ChainCertificate (0x0004) for each CA, and
    optionally AsymetricCapabilities (0x0002). Each setting: u16 tag,
    u16 length (including these 4 bytes), data."""
    def setting(tag, data):
        return struct.pack('<HH', tag, len(data) + 4) + data
    out = setting(0x0001, struct.pack('<I', 1))          # version
    out += setting(0x0006, struct.pack('<I', 1))         # message encoding
    if caps:
        out += setting(0x0002, caps)
    cert = der(pki, name)
    out += setting(0x0003, cert)
    out += setting(0x0008, cert)
    for ca in ('inter', 'root'):
        out += setting(0x0004, der(pki, ca))
    return out


def entries(pki):
    """The directory: a list of dicts with Exchange's property names."""
    def mbx(name, alias, display, primary, kind='UserMailbox', extra=(), ucert=(), smime=()):
        return {
            'Name': name, 'Alias': alias, 'DisplayName': display, 'RecipientType': kind,
            'PrimarySmtpAddress': primary, 'ExternalEmailAddress': None,
            'EmailAddresses': ['SMTP:' + primary] + list(extra) +
                              ['X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=' + alias],
            'UserCertificate': list(ucert), 'UserSMIMECertificate': list(smime),
        }

    def contact(name, alias, display, external, ucert=(), smime=()):
        return {
            'Name': name, 'Alias': alias, 'DisplayName': display, 'RecipientType': 'MailContact',
            'PrimarySmtpAddress': external, 'ExternalEmailAddress': 'SMTP:' + external,
            'EmailAddresses': ['SMTP:' + external],
            'UserCertificate': list(ucert), 'UserSMIMECertificate': list(smime),
        }

    return [
        # a mailbox with both attributes; userSMIMECertificate is CMS SignedData
        mbx('Alice Example', 'alice', 'Alice Example', 'alice@example.org',
            extra=['smtp:alice.example@example.org', 'SIP:alice@example.org'],
            ucert=[der(pki, 'alice')], smime=[signed_data(pki, 'alice')]),
        mbx('Bob Example', 'bob', 'Bob Example', 'bob@example.org', kind='MailUser',
            ucert=[der(pki, 'bob')]),
        # an EC contact whose userSMIMECertificate is Outlook's TLV blob
        contact('Carol Example', 'carol', 'Carol Example', 'carol@example.org',
                smime=[tlv_blob(pki, 'carol')]),
        mbx('Dave Example', 'dave', 'Dave Example', 'dave@example.org', ucert=[der(pki, 'dave')]),
        mbx('Erin Example', 'erin', 'Erin Example', 'erin@example.org', ucert=[der(pki, 'erin')]),
        mbx('Frank Example', 'frank', 'Frank Example', 'frank@example.org', ucert=[der(pki, 'frank')]),
        contact('Mallory Example', 'mallory', 'Mallory Example', 'mallory@example.org',
                ucert=[der(pki, 'mallory')]),
        # an older certificate in userSMIMECertificate, a newer one in userCertificate
        mbx('Henry Example', 'henry', 'Henry Example', 'henry@example.org',
            ucert=[der(pki, 'henry2')], smime=[signed_data(pki, 'henry')]),
        # the OWA trap: a plain contact and a second contact holding the certificate
        contact('Grace Example', 'grace', 'Grace Example', 'grace@example.org'),
        contact('Grace_SMIME', 'Grace_SMIME', 'Grace Example (S/MIME)', 'grace@example.org',
                ucert=[der(pki, 'grace')]),
        # the certificate's own address is not the directory address
        mbx('Ivan Example', 'ivan', 'Ivan Example', 'ivan@example.org', ucert=[der(pki, 'ivan')]),
        # no certificate at all
        mbx('Nora NoCert', 'nora', 'Nora NoCert', 'nora@example.org'),
    ]


def load_writer(fmt):
    path = os.path.join(HERE, 'fmt_%s.py' % fmt)
    spec = importlib.util.spec_from_file_location('fmt_' + fmt, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 64
    pki, fmt, out = argv[1], argv[2], argv[3]
    load_writer(fmt).write(entries(pki), out, argv[4:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
