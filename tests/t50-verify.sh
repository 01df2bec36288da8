#!/bin/sh
# galsmime verify: signatures made by openssl smime, openssl cms and
# gpgsm (detached and opaque) are good; tampering, a signer who is not
# From, an untrusted or expired signer, a missing signer certificate are
# not; unsigned is 2; --annotate and --json.
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# the entity peers sign, and the outer header it travels under
cat >entity.txt <<'EOF'
Content-Type: text/plain; charset=utf-8

Hello Bob,
this is a signed test message.
From the start of a line, trailing spaces:   
-- 
sig
EOF
# wrap FROM-USER PART-FILE: a whole message around the S/MIME part
wrap() {
	cat <<EOM
From: ${1} <$1@example.org>
To: Bob Example <bob@example.org>
Subject: signed by a peer ($2)
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <peer.$2.t50@example.org>
EOM
	cat "$2"
}
# osign USER OUT [OPENSSL-SMIME-ARGS]: openssl smime -sign the entity as USER
osign() {
	u=$1 out=$2; shift 2
	openssl smime -sign -in entity.txt -signer "$PKI/$u.crt" -inkey "$PKI/$u.key" \
		-certfile "$PKI/$u-chain.pem" "$@" >"$out.part" && wrap "$u" "$out.part" >"$out"
}
# verify_is WANT DESC MSG [ARGS]: galsmime verify exits WANT; output in v.out, v.err
verify_is() {
	want=$1 desc=$2 in=$3; shift 3
	"$GALSMIME" verify "$@" <"$in" >v.out 2>v.err
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc" "exit $rc, wanted $want: $(cat v.err)"; fi
}
# the message is written unchanged
unchanged() { cmp -s "$1" v.out; }

check "store setup: trust the root, alice's identity" store_setup

# ---- good signatures from every peer ----
osign alice smime-detached.eml
verify_is 0 "openssl smime -sign (detached): good, exit 0" smime-detached.eml
check "openssl smime detached: stderr says good signature from alice" contains v.err 'good signature from .*alice@example.org'
check "openssl smime detached: the message is written unchanged" unchanged smime-detached.eml
osign alice smime-opaque.eml -nodetach
check "control: -nodetach made opaque signed-data" contains smime-opaque.eml 'smime-type=signed-data'
verify_is 0 "openssl smime -sign -nodetach (opaque): good, exit 0" smime-opaque.eml
check "openssl smime opaque: the message is written unchanged" unchanged smime-opaque.eml
openssl cms -sign -in entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" >cms-detached.part && wrap alice cms-detached.part >cms-detached.eml
verify_is 0 "openssl cms -sign (detached): good, exit 0" cms-detached.eml
openssl cms -sign -nodetach -in entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	>cms-opaque.part && wrap alice cms-opaque.part >cms-opaque.eml
verify_is 0 "openssl cms -sign -nodetach (opaque, no chain in it): good, exit 0" cms-opaque.eml
openssl cms -sign -in entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" -md sha512 \
	>cms-sha512.part && wrap alice cms-sha512.part >cms-sha512.eml
verify_is 0 "openssl cms -sign -md sha512: good, exit 0" cms-sha512.eml
check "openssl cms signs with a signingTime: the report shows it" \
	contains v.err '; signed 20[0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] UTC with sha-?512'
openssl cms -sign -noattr -in entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" >cms-noattr.part && wrap alice cms-noattr.part >cms-noattr.eml
verify_is 0 "openssl cms -sign -noattr (no signed attributes): good, exit 0" cms-noattr.eml
check "no signed attributes: the report says there is no signing time" contains v.err '; no signing time with sha-?256'
# opaque signed-data whose content has no MIME headers (as RFC 4134 4.9's
# would without its leading newline): judged, not refused
printf 'bare signed text' >bare.txt
openssl cms -sign -nodetach -binary -in bare.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" >bare-opaque.part && wrap alice bare-opaque.part >bare-opaque.eml
verify_is 0 "opaque signed-data of bare text: good, exit 0" bare-opaque.eml
check "opaque signed-data of bare text: the report says the content had no MIME headers" \
	contains v.err 'part 1: the signed content has no MIME headers: shown as text/plain'
check "opaque signed-data of bare text: the message is written unchanged" unchanged bare-opaque.eml
openssl cms -sign -in entity.txt -signer "$PKI/carol.crt" -inkey "$PKI/carol.key" \
	-certfile "$PKI/carol-chain.pem" >cms-ec.part && wrap carol cms-ec.part >cms-ec.eml
verify_is 0 "openssl cms -sign by carol (ECDSA P-256): good, exit 0" cms-ec.eml

if have gpgsm; then
	check "gpgsm set-up: alice's secret key imported" gpgsm_setup alice
	trap 'gpgconf --kill all >/dev/null 2>&1; t_finish' EXIT
	sed 's/$/\r/' entity.txt >entity.crlf
	if echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 -u alice@example.org \
		--detach-sign entity.crlf >gpgsm-detached.der 2>gpgsm.err; then
		{
			printf 'MIME-Version: 1.0\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="gpgsm-b"\n\n'
			printf -- '--gpgsm-b\n'
			cat entity.txt
			printf -- '\n--gpgsm-b\nContent-Type: application/pkcs7-signature; name=smime.p7s\n'
			printf 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=smime.p7s\n\n'
			base64 gpgsm-detached.der
			printf -- '\n--gpgsm-b--\n'
		} >gpgsm-detached.part
		wrap alice gpgsm-detached.part >gpgsm-detached.eml
		verify_is 0 "gpgsm --detach-sign: good, exit 0" gpgsm-detached.eml
	else
		fail "gpgsm --detach-sign as alice" "$(cat gpgsm.err)"
	fi
	if echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 -u alice@example.org \
		--sign entity.crlf >gpgsm-opaque.der 2>gpgsm.err; then
		{
			printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\n'
			printf 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=smime.p7m\n\n'
			base64 gpgsm-opaque.der
		} >gpgsm-opaque.part
		wrap alice gpgsm-opaque.part >gpgsm-opaque.eml
		verify_is 0 "gpgsm --sign (opaque): good, exit 0" gpgsm-opaque.eml
	else
		fail "gpgsm --sign as alice" "$(cat gpgsm.err)"
	fi
else
	skip "gpgsm --detach-sign: good" "gpgsm not installed"
fi

msg alice@example.org bob@example.org "signed by galsmime" >plain.eml
gs sign $PASS <plain.eml >gs-detached.eml 2>/dev/null
verify_is 0 "galsmime sign: good, exit 0" gs-detached.eml
sed 's/^From: .*/From: ALICE <Alice@Example.ORG>/' gs-detached.eml >gs-case.eml
verify_is 0 "From: in other letter case still matches the signer" gs-case.eml

# ---- not good: exit 1 with the reason ----
sed 's/this is a test message/this is a tost message/' gs-detached.eml >tampered.eml
check "control: the tampered copy differs in one byte" \
	test "$(cmp -l gs-detached.eml tampered.eml | wc -l)" = 1
verify_is 1 "one byte of the signed body changed: exit 1" tampered.eml
check "tampered: the reason is digest mismatch" contains v.err 'digest mismatch'
check "tampered: the message is still written unchanged" unchanged tampered.eml
sed 's/this is a signed test message/this is a signed tost message/' smime-detached.eml >tampered2.eml
verify_is 1 "one byte changed in openssl's detached message: exit 1" tampered2.eml
check "tampered openssl message: digest mismatch" contains v.err 'digest mismatch'
# opaque: change one byte of the content inside the DER
python3 - <<'EOF'
import base64
raw = open('smime-opaque.eml', 'rb').read()
head, body = raw.split(b'\n\n', 1)
der = bytearray(base64.b64decode(body))
i = der.find(b'signed test message')
der[i] ^= 0x20
open('tampered-opaque.eml', 'wb').write(head + b'\n\n' + base64.encodebytes(bytes(der)))
EOF
verify_is 1 "one byte changed inside opaque signed-data: exit 1" tampered-opaque.eml
check "tampered opaque: digest mismatch" contains v.err 'digest mismatch'

sed 's/^From: .*/From: Bob Example <bob@example.org>/' smime-detached.eml >notfrom.eml
verify_is 1 "signed by alice, From: bob: exit 1" notfrom.eml
check "not From: the reason says so" contains v.err 'signer is not the From address'
check "not From: and it is the only reason" contains v.err 'signature from .*: signer is not the From address$'

osign mallory mallory.eml
verify_is 1 "signed by mallory (untrusted root): exit 1" mallory.eml
check "mallory: the reason is an untrusted chain" contains v.err 'untrusted'
osign dave dave.eml
verify_is 1 "signed by dave (expired certificate): exit 1" dave.eml
check "dave: the reason says expired" contains v.err 'expired'
verify_is 0 "control: dave's signature judged --at 2020-06-01, when his certificate was valid, is good" \
	dave.eml --at 2020-06-01
# the signingTime attribute is the signer's own claim, not a trusted time:
# a signature dated inside dave's validity (made with the clock set back)
# is still judged now, so an expired or stolen key cannot backdate
faketime '2020-06-01 12:00:00' sh -c 'openssl smime -sign -in entity.txt -signer "$PKI/dave.crt" \
	-inkey "$PKI/dave.key" -certfile "$PKI/dave-chain.pem"' >dave-backdated.part &&
	wrap dave dave-backdated.part >dave-backdated.eml
verify_is 1 "dave's signature dated 2020-06-01 (signingTime inside his validity): still judged now, exit 1" \
	dave-backdated.eml
check "backdated: the report shows the claimed time and says expired" \
	sh -c "grep -q 'signed 2020-06-01 12:0[0-9]:[0-5][0-9] UTC' v.err && grep -q 'expired' v.err"
osign erin erin.eml
verify_is 0 "erin (signing-only key usage) signs fine: good" erin.eml
osign frank frank.eml
verify_is 1 "frank (serverAuth only) is not an e-mail signer: exit 1" frank.eml
check "frank: the reason is the purpose" contains v.err 'not for e-mail signing|purpose'

# the same verdicts as reason keys in the JSON report
reason_is() { # MSG KEY: the JSON report's first signer has reason KEY, status bad
	"$GALSMIME" verify --json <"$1" >r.json 2>/dev/null
	python3 -c "
import json, sys
j = json.load(open('r.json'))
s = j['signers'][0]
sys.exit(0 if j['status'] == 'bad' and s['status'] == 'bad' and sys.argv[1] in s['reasons'] else 1)" "$2"
}
check "--json: the tampered message has reason digest-mismatch" reason_is tampered.eml digest-mismatch
check "--json: the tampered opaque message has reason digest-mismatch" reason_is tampered-opaque.eml digest-mismatch
check "--json: From: bob has reason signer-not-from" reason_is notfrom.eml signer-not-from
check "--json: mallory has reason untrusted" reason_is mallory.eml untrusted
check "--json: dave has reason expired" reason_is dave.eml expired
check "--json: frank has reason bad-purpose" reason_is frank.eml bad-purpose

# the missing signer certificate: grace signs with -nocerts, and the
# store does not know her certificate
openssl smime -sign -nocerts -in entity.txt -signer "$PKI/grace.crt" -inkey "$PKI/grace.key" \
	>nocerts.part && wrap grace nocerts.part >nocerts.eml
check "control: the -nocerts signature carries no certificate" \
	sh -c "! openssl smime -pk7out -in nocerts.eml | openssl pkcs7 -print_certs | grep -q BEGIN"
"$GALSMIME" verify <nocerts.eml >v.out 2>v.err
rc=$?
check "missing signer certificate: not good (non-zero exit)" test "$rc" != 0
check "missing signer certificate: exit 1 (signed but not good)" test "$rc" = 1
check "missing signer certificate: the reason says so" contains v.err 'missing signer certificate'
"$GALSMIME" verify --json <nocerts.eml >nocerts.json 2>/dev/null
check "missing signer certificate: JSON status is not good" python3 -c "
import json, sys
j = json.load(open('nocerts.json'))
sys.exit(0 if j['status'] != 'good' and 'missing-certificate' in j['signers'][0]['reasons'] else 1)"

# garbage in place of the signature
python3 - <<'EOF'
import re
raw = open('gs-detached.eml').read()
head, sig = raw.rsplit('Content-Description: S/MIME Cryptographic Signature\n\n', 1)
open('garbage-sig.eml', 'w').write(head + 'Content-Description: S/MIME Cryptographic Signature\n\n'
                                  + 'Z2FyYmFnZSBnYXJiYWdlIGdhcmJhZ2UK\n' + sig[sig.index('\n--'):])
EOF
verify_is 1 "garbage instead of the signature: signed but not good, exit 1" garbage-sig.eml

# ---- not signed ----
verify_is 2 "a plain message: exit 2" plain.eml
check "plain: written unchanged" unchanged plain.eml
check "plain: stderr says not signed" contains v.err 'not signed'
# a bare MIME entity: Content-* fields only (a part saved from a message,
# what a filter is handed); GMime files them under the body, not the message
verify_is 2 "a bare MIME entity, not signed: exit 2" entity.txt
check "bare entity: stderr says not signed (not 'no header fields')" contains v.err 'not signed'
check "bare entity: written unchanged" unchanged entity.txt
verify_is 1 "a bare signed entity: signed, but no From: to bind the signer to, exit 1" smime-detached.eml.part
check "bare signed entity: stderr names From" contains v.err 'From'

# ---- --annotate ----
# annotated IN: v.out is one Authentication-Results field followed by IN, byte for byte
annotated() {
	n=$(($(wc -c <v.out) - $(wc -c <"$1")))
	[ "$n" -gt 0 ] || return 1
	tail -c "$(wc -c <"$1")" v.out | cmp -s - "$1" || return 1
	head -c "$n" v.out >ar.txt
	head -1 ar.txt | grep -q '^Authentication-Results: ' || return 1
	# continuation lines only after the first
	[ "$(tail -n +2 ar.txt | grep -cv '^[ 	]')" = 0 ]
}
annotated_with() { annotated "$1" && grep -q -- "$2" ar.txt; }
verify_is 0 "--annotate on a good signature: exit 0" gs-detached.eml --annotate --authserv-id mx.example.org
check "--annotate good: one Authentication-Results field, the rest byte-identical" annotated gs-detached.eml
check "--annotate good: smime=pass" contains ar.txt 'smime=pass'
check "--annotate good: the authserv-id comes first" contains ar.txt '^Authentication-Results: mx\.example\.org;'
check "--annotate good: names the signer" contains ar.txt 'alice@example.org'
verify_is 1 "--annotate on a tampered message: exit 1" tampered.eml --annotate --authserv-id mx.example.org
check "--annotate bad: one Authentication-Results field, the rest byte-identical" annotated tampered.eml
check "--annotate bad: smime=fail" contains ar.txt 'smime=fail'
verify_is 1 "--annotate on mallory's message: exit 1" mallory.eml --annotate
check "--annotate untrusted: smime=fail, the rest byte-identical" annotated_with mallory.eml 'smime=fail'
verify_is 2 "--annotate on a plain message: exit 2" plain.eml --annotate
check "--annotate plain: smime=none, the rest byte-identical" annotated_with plain.eml 'smime=none'

# ---- --json ----
verify_is 0 "--json on a good signature: exit 0" smime-detached.eml --json
cp v.out good.json
x509() { openssl x509 -in "$PKI/alice.crt" -noout "$@" | sed 's/^[^=]*=//'; }
isotime() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
st=$(openssl smime -pk7out -in smime-detached.eml | openssl cms -cmsout -print -inform PEM 2>/dev/null |
	awk '/signingTime/ { f = 1 } f && /UTCTIME|GENERALIZEDTIME/ { sub(/^.*TIME:/, ""); print; exit }')
cat >want.env <<EOF
fp=$(x509 -fingerprint -sha256 | tr -d : | tr A-F a-f)
subject=$(x509 -subject -nameopt RFC2253)
issuer=$(x509 -issuer -nameopt RFC2253)
serial=$(x509 -serial)
not_before=$(isotime "$(x509 -startdate)")
not_after=$(isotime "$(x509 -enddate)")
signing_time=$(isotime "$st")
EOF
check "--json is one JSON document" python3 -c "import json; json.load(open('good.json'))"
jcheck() { # DESC PYTHON-EXPRESSION over j (the report) and w (the wanted values)
	check "$1" python3 -c "
import json, sys
j = json.load(open('good.json'))
w = dict(l.rstrip('\n').split('=', 1) for l in open('want.env'))
s = j['signers'][0] if j.get('signers') else {}
ok = $2
if not ok: print(json.dumps(j, indent=1)); print(w)
sys.exit(0 if ok else 1)"
}
jcheck "--json: version 1" "j['version'] == 1"
jcheck "--json: status good" "j['status'] == 'good'"
jcheck "--json: one signer" "len(j['signers']) == 1"
jcheck "--json: the fingerprint is alice's certificate's SHA-256" "s['fingerprint_sha256'] == w['fp']"
jcheck "--json: the subject is alice's (RFC 2253)" "s['subject'] == w['subject']"
jcheck "--json: the issuer is the intermediate (RFC 2253)" "s['issuer'] == w['issuer']"
jcheck "--json: the serial is alice's" "s['serial'].upper() == w['serial'].upper()"
jcheck "--json: not_before and not_after are the certificate's" \
	"s['not_before'] == w['not_before'] and s['not_after'] == w['not_after']"
jcheck "--json: signing_time is the signature's signingTime" "s['signing_time'] == w['signing_time']"
check "--json: nothing but the report on stdout (no message)" lacks good.json 'this is a signed test message'
"$GALSMIME" verify --json <tampered.eml >bad.json 2>/dev/null
rc=$?
check "--json on a tampered message: exit 1, status bad, reason digest-mismatch" python3 -c "
import json, sys
j = json.load(open('bad.json'))
sys.exit(0 if $rc == 1 and j['status'] == 'bad' and 'digest-mismatch' in j['signers'][0]['reasons'] else 1)"
"$GALSMIME" verify --json <plain.eml >none.json 2>/dev/null
rc=$?
check "--json on a plain message: exit 2, not signed" python3 -c "
import json, sys
j = json.load(open('none.json'))
sys.exit(0 if $rc == 2 and j['version'] == 1 and j['signed'] is False and j['signers'] == [] else 1)"

# last: once grace's certificate is known, her -nocerts signature is good
gs cert import "$PKI/grace.crt" >/dev/null 2>&1
verify_is 0 "control: with grace's certificate in the store, the -nocerts signature is good" nocerts.eml

# ---- a large opaque signature: a leaf at the top, which gs_message_parse
# takes from its header block and first 256 KiB (GMime's parse of the
# whole would find the same): good, written unchanged; one byte of its
# content changed deep inside (beyond the first 256 KiB), bad ----
python3 -c "
import sys
sys.stdout.write('Content-Type: text/plain; charset=utf-8\n\n')
for i in range(40000):
    sys.stdout.write('line %06d of a long signed text, far beyond the first 256 KiB\n' % i)" >big-entity.txt
openssl smime -sign -nodetach -in big-entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" >big-opaque.part && wrap alice big-opaque.part >big-opaque.eml
check "control: the large opaque message is over 2 MB" test "$(wc -c <big-opaque.eml)" -gt 2000000
verify_is 0 "a large opaque signature: good, exit 0" big-opaque.eml
check "a large opaque signature: written unchanged" unchanged big-opaque.eml
# change_line N IN OUT: IN with the 10th character of line N changed
change_line() {
	awk -v n="$1" 'NR == n { c = substr($0, 10, 1); $0 = substr($0, 1, 9) (c == "A" ? "B" : "A") substr($0, 11) } { print }' \
		"$2" >"$3"
}
# the base64 line 30000 (about 2 MB in) gets one character changed
change_line 30000 big-opaque.eml big-tampered.eml
check "control: the tampered copy differs" sh -c "! cmp -s big-opaque.eml big-tampered.eml"
verify_is 1 "a large opaque signature changed 2 MB in: bad, exit 1" big-tampered.eml

# ---- a large attachment inside a multipart/signed: gs_message_parse
# has GMime parse it with the attachment's lines taken out (they hold no
# '-'), then gives them back to the attachment. Made by openssl (CRLF
# inside, its own boundaries) and by galsmime; good, written unchanged;
# one character changed 2 MB into the attachment, or a line of it moved,
# bad; the lines before the boundary with other line ends than the rest
# (an empty one, a CR alone), still good ----
python3 -c "
import base64, random, sys
r = random.Random(7)
data = base64.encodebytes(bytes(r.getrandbits(8) for _ in range(2400000))).decode()
sys.stdout.write('Content-Type: multipart/mixed; boundary=\"att\"\n\n--att\nContent-Type: text/plain\n\n'
                 'the attachment follows\n--att\nContent-Type: application/octet-stream\n'
                 'Content-Transfer-Encoding: base64\n\n' + data + '--att--\n')" >att-entity.txt
openssl smime -sign -in att-entity.txt -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" >att-signed.part && wrap alice att-signed.part >att-signed.eml
check "control: the multipart/signed with an attachment is over 3 MB" test "$(wc -c <att-signed.eml)" -gt 3000000
verify_is 0 "a 3 MB attachment signed by openssl smime: good, exit 0" att-signed.eml
check "... written unchanged" unchanged att-signed.eml
# line 30000 is about 2.3 MB in, inside the attachment's base64
change_line 30000 att-signed.eml att-tampered.eml
check "control: the tampered copy differs in one byte" \
	sh -c "[ \$(cmp -l att-signed.eml att-tampered.eml | wc -l) = 1 ]"
verify_is 1 "a 3 MB attachment changed 2.3 MB in: bad, exit 1" att-tampered.eml
awk 'NR == 20000 { held = $0; next } { print } NR == 30000 { print held }' att-signed.eml >att-moved.eml
check "control: the moved copy has as many bytes" test "$(wc -c <att-moved.eml)" = "$(wc -c <att-signed.eml)"
verify_is 1 "a 3 MB attachment with one line moved 1 MB further: bad, exit 1" att-moved.eml
for tail in empty cr; do
	case $tail in empty) t='\n' ;; cr) t='\r\n' ;; esac
	{ printf 'From: Alice Example <alice@example.org>\nTo: Bob Example <bob@example.org>\n'
	  printf 'Subject: attachment, %s line before the boundary\nMIME-Version: 1.0\n' "$tail"
	  sed '$d' att-entity.txt; printf "$t"; printf -- '--att--\n'; } >att-$tail.txt
	"$GALSMIME" sign $PASS <att-$tail.txt >att-$tail.eml 2>/dev/null
	check "control: galsmime signed the attachment ($tail line before the boundary)" \
		contains att-$tail.eml '^Content-Type: multipart/signed'
	verify_is 0 "galsmime's signature over it ($tail line before the boundary): good, exit 0" att-$tail.eml
	check "... openssl smime -verify agrees" \
		sh -c "openssl smime -verify -CAfile '$PKI/root.crt' -in att-$tail.eml -out att-$tail.out 2>/dev/null"
	check "... and what it signed holds the attachment given, byte for byte" python3 -c "
import email, sys
def att(f):
    m = email.message_from_binary_file(open(f, 'rb'))
    return [p.get_payload(decode=True) for p in m.walk() if p.get_content_type() == 'application/octet-stream']
a, b = att('att-$tail.out'), att('att-$tail.txt')
sys.exit(0 if len(a) == 1 and a == b and len(a[0]) == 2400000 else 1)"
done

# ---- --annotate on messages of every size around stdout's buffer (128
# KiB) and half of it: the field, then the message byte for byte (the
# output stream once wrote a 64-128 KiB rest ahead of the field it held,
# so procmail delivered the body first) ----
for n in 30000 48000 60000 72000 90000 140000; do
	head -c $n /dev/urandom >sz.bin
	attached sz.bin >sz.eml
	gs sign $PASS <sz.eml >sz.signed 2>/dev/null
	verify_is 0 "--annotate, a $n-byte attachment: exit 0" sz.signed --annotate --authserv-id mx.example.org
	check "--annotate, a $n-byte attachment: the field, then the message byte for byte" annotated sz.signed
done
