#!/bin/sh
# Bad input: empty stdin, garbage, broken S/MIME parts, a 10 MB header
# line, 10000 levels of nesting, tens of thousands of parts, also hidden
# inside an encryption layer. Each gives exit 65 (malformed input or a
# safety limit), nothing on stdout, one line on stderr, and no crash.
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# bad NAME FILE COMMAND...: for each COMMAND, galsmime COMMAND <FILE exits
# 65, writes nothing on stdout and exactly one "galsmime COMMAND: ..." line
bad() {
	name=$1 in=$2; shift 2
	for cmd in "$@"; do
		"$GALSMIME" $cmd $PASS <"$in" >bad.out 2>bad.err
		rc=$?
		why=
		[ "$rc" = 65 ] || why="exit $rc, wanted 65;"
		[ -s bad.out ] && why="$why stdout has $(wc -c <bad.out) bytes;"
		one_line bad.err || why="$why stderr has $(wc -l <bad.err) lines;"
		grep -Eq "^galsmime $cmd: .{8,}" bad.err || why="$why stderr is not a clear message;"
		if [ -z "$why" ]; then
			pass "$name: $cmd exits 65, writes nothing, one line on stderr"
		else
			fail "$name: $cmd exits 65, writes nothing, one line on stderr" \
				"$why stderr: $(head -c 600 bad.err)"
		fi
	done
}
ALL="decrypt verify sign encrypt"

check "store setup: trust the root, alice's identity" store_setup
gs cert import "$PKI/bob.crt" >/dev/null 2>&1

# a header to put in front of made-up bodies
head_of() { # SUBJECT [CONTENT-TYPE]
	printf 'From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: %s\n' "$1"
	printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <%s.t60@example.org>\nMIME-Version: 1.0\n' "$1"
	[ $# -gt 1 ] && printf 'Content-Type: %s\n' "$2"
	return 0
}

# ---- not a message at all ----
: >empty.eml
bad "empty stdin" empty.eml $ALL
python3 -c "
import random, sys
random.seed(60)
sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(8192)))" >garbage.eml
bad "8 KB of random bytes" garbage.eml $ALL
head -c 4096 /dev/zero >zeros.eml
bad "4 KB of NUL bytes" zeros.eml $ALL

# ---- broken application/pkcs7-mime parts ----
msg alice@example.org bob@example.org "to be broken" >plain.eml
gs encrypt <plain.eml >enc.eml 2>/dev/null
gs sign --opaque $PASS <plain.eml >opaque.eml 2>/dev/null
check "control: the intact encrypted message decrypts" sh -c "'$GALSMIME' decrypt $PASS <enc.eml >/dev/null 2>&1"
check "control: the intact opaque message verifies" sh -c "'$GALSMIME' verify <opaque.eml >/dev/null 2>&1"
# truncate the base64 in the middle of a line, about half way
truncate_b64() { # IN OUT
	awk 'BEGIN { body = 0 } !body { print; if ($0 == "") body = 1; next }
	     { n++; lines[n] = $0 } END { for (i = 1; i <= n / 2; i++) print lines[i]; print substr(lines[int(n / 2) + 1], 1, 37) }' "$1" >"$2"
}
truncate_b64 enc.eml enc-trunc.eml
bad "truncated base64 in enveloped-data" enc-trunc.eml decrypt verify
truncate_b64 opaque.eml opaque-trunc.eml
bad "truncated base64 in opaque signed-data" opaque-trunc.eml verify
# decrypt has nothing to do with a signed (not encrypted) message, whole or not
"$GALSMIME" decrypt $PASS <opaque-trunc.eml >bad.out 2>bad.err
check "truncated base64 in opaque signed-data: decrypt passes it through unchanged" cmp -s opaque-trunc.eml bad.out
python3 -c "
import base64, random, sys
random.seed(61)
sys.stdout.write(base64.encodebytes(bytes(random.getrandbits(8) for _ in range(3000))).decode())" >random.b64
{ sed '/^$/q' enc.eml; cat random.b64; } >enc-random.eml
bad "random bytes (base64) in application/pkcs7-mime" enc-random.eml decrypt verify
{
	head_of raw-random 'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m'
	printf 'Content-Transfer-Encoding: binary\n\n'
	python3 -c "
import random, sys
random.seed(62)
sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(3000)))"
} >enc-rawrandom.eml
bad "random binary bytes in application/pkcs7-mime" enc-rawrandom.eml decrypt verify
{ sed '/^$/q' enc.eml; echo 'this is not base64 at all: !!!'; } >enc-notb64.eml
bad "not base64 at all in application/pkcs7-mime" enc-notb64.eml decrypt verify
{ sed '/^$/q' enc.eml; } >enc-empty.eml
bad "an empty application/pkcs7-mime part" enc-empty.eml decrypt verify
{ sed '/^$/q' enc.eml; openssl x509 -in "$PKI/bob.crt" -outform DER | base64; } >enc-cert.eml
bad "a DER certificate instead of CMS" enc-cert.eml decrypt verify
{ sed '/^$/q' enc.eml; openssl cms -data_create -in /etc/hostname -outform DER | base64; } >enc-data.eml
bad "CMS data (neither signed nor enveloped)" enc-data.eml decrypt
# the CMS parses but its ciphertext is cut short
python3 - <<'EOF'
import base64, re, subprocess
raw = open('enc.eml', 'rb').read()
head, body = raw.split(b'\n\n', 1)
der = base64.b64decode(body)
# galsmime streams BER (indefinite lengths): re-encode as DER first
der = subprocess.run(['openssl', 'cms', '-cmsout', '-inform', 'DER', '-outform', 'DER'],
                     input=der, capture_output=True, check=True).stdout
# EnvelopedData ends with encryptedContent [0], the last primitive:
# cut 5 bytes off it (no longer whole AES blocks) and re-encode the
# definite lengths of every element on the way down to it
txt = subprocess.run(['openssl', 'asn1parse', '-inform', 'DER'], input=der, capture_output=True).stdout.decode()
last = [l for l in txt.splitlines() if 'prim:' in l][-1]
off, depth, hl, ln = map(int, re.match(r'\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)', last).groups())
assert off + hl + ln == len(der)
content = der[off + hl: off + hl + ln - 5]
def enc_len(n):
    if n < 128: return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big'); return bytes([0x80 | len(b)]) + b
def rebuild(data, path):
    # walk down the definite-length tree along the last child each time
    tag = data[0]; l1 = data[1]
    if l1 & 0x80: n = l1 & 0x7f; ln = int.from_bytes(data[2:2 + n], 'big'); h = 2 + n
    else: ln = l1; h = 2
    if not path:
        return bytes([tag]) + enc_len(len(content)) + content
    inner = data[h:h + ln]
    # find the last child
    i = 0; last = 0
    while i < len(inner):
        t = inner[i]; b = inner[i + 1]
        if b & 0x80: n = b & 0x7f; cl = int.from_bytes(inner[i + 2:i + 2 + n], 'big'); ch = 2 + n
        else: cl = b; ch = 2
        last = i; i += ch + cl
    new_inner = inner[:last] + rebuild(inner[last:], path[1:])
    return bytes([tag]) + enc_len(len(new_inner)) + new_inner
short = rebuild(der, [None] * depth)
open('enc-short.eml', 'wb').write(head + b'\n\n' + base64.encodebytes(short))
EOF
check "control: the shortened CMS still parses" \
	sh -c "sed '1,/^\$/d' enc-short.eml | base64 -d | openssl cms -cmsout -inform DER -noout"
"$GALSMIME" decrypt $PASS <enc-short.eml >short.out 2>short.err
rc=$?
check "ciphertext cut short: non-zero exit, nothing written, one line" \
	sh -c "[ $rc != 0 ] && [ ! -s short.out ] && [ \$(wc -l <short.err) = 1 ]"
check "ciphertext cut short: exit 65" test "$rc" = 65

# ---- safety limits ----
# one header line of 10 MB
{ head_of big-header 'text/plain'; printf 'X-Big: '; head -c 10485760 /dev/zero | tr '\0' a; printf '\n\nbody\n'; } >bighdr.eml
bad "a 10 MB header line" bighdr.eml $ALL
# the same inside a MIME part's header
{
	head_of big-part-header 'multipart/mixed; boundary="b"'
	printf '\n--b\nContent-Type: text/plain\nX-Big: '
	head -c 10485760 /dev/zero | tr '\0' a
	printf '\n\nbody\n--b--\n'
} >bigparthdr.eml
bad "a 10 MB header line in a body part" bigparthdr.eml $ALL
# 10000 levels of multipart nesting
python3 - <<'EOF'
N = 10000
out = []
for i in range(N):
    out.append('Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i))
out.append('Content-Type: text/plain\n\nleaf\n')
for i in reversed(range(N)):
    out.append('--b%d--\n' % i)
open('deep.entity', 'w').write(''.join(out))
EOF
{ head_of deep; cat deep.entity; } >deep.eml
bad "10000 levels of nested multiparts" deep.eml $ALL
python3 - <<'EOF'
out = []
for i in range(10000):
    out.append('Content-Type: message/rfc822\n\nSubject: level %d\n' % i)
out.append('Content-Type: text/plain\n\nleaf\n')
open('deep822.entity', 'w').write(''.join(out))
EOF
{ head_of deep822; cat deep822.entity; } >deep822.eml
bad "10000 levels of nested message/rfc822" deep822.eml $ALL
# 20000 parts
python3 - <<'EOF'
out = ['Content-Type: multipart/mixed; boundary="b"\n\n']
for i in range(20000):
    out.append('--b\nContent-Type: text/plain\n\np%d\n' % i)
out.append('--b--\n')
open('many.entity', 'w').write(''.join(out))
EOF
{ head_of many; cat many.entity; } >many.eml
bad "20000 parts" many.eml $ALL

# ---- the same bombs inside an encryption layer: limits apply to what
# decryption yields too ----
for e in deep many; do
	openssl cms -encrypt -aes-256-cbc -in $e.entity "$PKI/alice.crt" >$e.part
	{ head_of enc-$e; cat $e.part; } >enc-$e.eml
done
check "control: openssl encrypted the bombs to alice" \
	sh -c "openssl cms -decrypt -recip '$PKI/alice.crt' -inkey '$PKI/alice.key' -in enc-many.eml | grep -q p19999"
bad "10000 levels of nesting inside encryption" enc-deep.eml decrypt verify
bad "20000 parts inside encryption" enc-many.eml decrypt verify
{ printf 'Content-Type: text/plain\nX-Big: '; head -c 10485760 /dev/zero | tr '\0' a; printf '\n\nbody\n'; } >bighdr.entity
openssl cms -encrypt -aes-256-cbc -in bighdr.entity "$PKI/alice.crt" >bighdr.part
{ head_of enc-bighdr; cat bighdr.part; } >enc-bighdr.eml
bad "a 10 MB header line inside encryption" enc-bighdr.eml decrypt verify

# ---- --passthrough hands bad input back unchanged ----
for f in enc-random.eml enc-trunc.eml enc-deep.eml; do
	"$GALSMIME" decrypt --passthrough $PASS <$f >pt.out 2>/dev/null
	rc=$?
	check "decrypt --passthrough on $f: exit 0 and the input byte for byte" \
		sh -c "[ $rc = 0 ] && cmp -s $f pt.out"
done
"$GALSMIME" decrypt --passthrough $PASS <empty.eml >pt.out 2>/dev/null
rc=$?
check "decrypt --passthrough on empty stdin: exit 0, nothing written" sh -c "[ $rc = 0 ] && [ ! -s pt.out ]"
