#!/bin/sh
# Signature policy and nested layers: a multipart/signed with other than
# two parts, two Content-Type or Content-Transfer-Encoding fields, MD5 and
# SHA-1 digests; RFC 2634 triple wrapping, a gateway's signature over
# ciphertext, opaque signed-data inside enveloped-data. Every layer is
# reported; the From rule holds for the outermost signature; a bad inner
# layer is not good; decrypt writes what a MUA without S/MIME can read and
# a verifier can still check.
. "$TESTS_TOP/tests/lib.sh"

P="--passphrase-file $PKI/pass"
store_setup
gs cert import "$PKI/bob.crt" >/dev/null
B="$T_DIR/bob-store"
gb() { "$GALSMIME" --home "$B" "$@"; }
gb trust import "$PKI/root.crt" >/dev/null
gb cert import "$PKI/inter.crt" "$PKI/alice.crt" >/dev/null
gb key import "$PKI/bob.p12" $P >/dev/null

# verify_is WANT DESC MSG [ARGS]: bob's galsmime verify exits WANT (v.out, v.err)
verify_is() {
	want=$1 desc=$2 in=$3; shift 3
	gb verify "$@" $P <"$in" >v.out 2>v.err
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc" "exit $rc, wanted $want: $(cat v.err)"; fi
}
json() { gb verify --json $P <"$1"; }

msg alice@example.org bob@example.org "layers" >plain.eml
gs sign $P <plain.eml >signed.eml
verify_is 0 "control: alice's signed message is good" signed.eml

# ---- RFC 1847: exactly two parts ----
b=$(sed -n 's/.*boundary="\([^"]*\)".*/\1/p' signed.eml | head -1)
awk -v b="$b" '$0 == "--" b "--" {
	print "--" b; print "Content-Type: text/html"; print ""; print "<p>Unsigned: pay invoice 666</p>" }
	{ print }' signed.eml >three.eml
check "control: the third part is there" contains three.eml 'pay invoice 666'
verify_is 1 "a multipart/signed with three parts is not good (exit 1)" three.eml
check "... the reason is the structure" contains v.err 'BAD: .*ambiguous MIME structure'
json three.eml >three.json
check "... JSON says bad-structure" contains three.json '"reasons":\[[^]]*"bad-structure"'

# ---- two Content-Type or Content-Transfer-Encoding fields ----
awk 'NR == 1 { print "Content-Type: text/plain" } { print }' signed.eml >twoct.eml
verify_is 1 "two Content-Type fields on the message: not good" twoct.eml
check "... bad-structure" contains v.err 'ambiguous MIME structure'
awk '!done && /^Content-Transfer-Encoding: / { print; print "Content-Transfer-Encoding: base64"; done = 1; next } { print }' \
	signed.eml >twocte.eml
check "control: the signed part carries two Content-Transfer-Encoding fields" \
	test "$(grep -c '^Content-Transfer-Encoding:' twocte.eml)" -ge 3
verify_is 1 "two Content-Transfer-Encoding fields in the signed part: not good" twocte.eml
check "... bad-structure" contains v.err 'ambiguous MIME structure'
awk '/^Content-Type: text\/plain/ && !done { print "Content-Type: text/html"; done = 1 } { print }' plain.eml |
	gs sign $P >twoct-inner.eml
verify_is 1 "two Content-Type fields in a part signed as it is: still not good" twoct-inner.eml

# ---- weak digests ----
entity() { printf 'Content-Type: text/plain\n\nsigned with %s\n' "$1"; }
osign() { # DIGEST OUT
	entity "$1" | openssl smime -sign -md "$1" -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
		-certfile "$PKI/alice-chain.pem" >"$2.part" 2>/dev/null &&
	{ printf 'From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: %s\n' "$1"; cat "$2.part"; } >"$2"
}
osign sha256 sha256.eml
verify_is 0 "control: openssl's SHA-256 signature is good" sha256.eml
osign md5 md5.eml
check "control: the MD5 signature says micalg=md5" contains md5.eml 'micalg="?md5'
verify_is 1 "an MD5 signature is not good" md5.eml
check "... weak digest" contains v.err 'weak digest'
verify_is 1 "an MD5 signature is not good even with --allow-sha1" md5.eml --allow-sha1
osign sha1 sha1.eml
verify_is 1 "a SHA-1 signature is not good by default" sha1.eml
check "... weak digest" contains v.err 'weak digest'
json sha1.eml >sha1.json
check "... JSON: weak-digest" contains sha1.json '"weak-digest"'
verify_is 0 "--allow-sha1: the SHA-1 signature is good" sha1.eml --allow-sha1
check "... with a warning" contains v.err 'WARNING: SHA-1 digest, allowed by --allow-sha1'
mkdir -p "$XDG_CONFIG_HOME/galsmime"
printf '[verify]\nallow_sha1 = true\n' >"$XDG_CONFIG_HOME/galsmime/config"
verify_is 0 "[verify] allow_sha1 = true in the configuration does the same" sha1.eml
rm "$XDG_CONFIG_HOME/galsmime/config"
gb verify --annotate --authserv-id mx.test $P <sha1.eml >sha1.ar 2>/dev/null
check "Authentication-Results of a SHA-1 signature: smime=fail" contains sha1.ar '^Authentication-Results: mx.test; smime=fail'

# ---- sign, then encrypt (the usual order) ----
gs encrypt --sign --to bob@example.org $P <plain.eml >se.eml
verify_is 0 "signed inside encrypted: good" se.eml
check "... both layers named" contains v.err 'layers: encrypted \(aes-256-cbc\) > signed \(detached\)'

# ---- RFC 2634 triple wrapping: signed, encrypted, signed ----
gs sign $P <se.eml >triple.eml
check "control: the outer layer is multipart/signed" contains triple.eml '^Content-Type: multipart/signed'
verify_is 0 "triple wrapping: good" triple.eml
check "... every layer reported" contains v.err 'layers: signed \(detached\) > encrypted \(aes-256-cbc\) > signed \(detached\)'
check "... with each signature" test "$(grep -c 'good signature from' v.err)" = 2
json triple.eml >triple.json
check "... JSON has three layers, the middle one encrypted" python3 -c "
import json, sys
r = json.load(open('triple.json'))
k = [(l['kind'], l.get('status')) for l in r['layers']]
sys.exit(0 if k == [('signed', 'good'), ('encrypted', None), ('signed', 'good')] and r['status'] == 'good' else 1)"
gb decrypt $P <triple.eml >triple.dec 2>triple.err
check "decrypt of a triple-wrapped message writes the inner signed message" \
	contains triple.dec '^Content-Type: multipart/signed'
check "... which still verifies" sh -c "'$GALSMIME' --home '$B' verify <triple.dec 2>/dev/null"
check "... and says the outer signature was removed" contains triple.err 'signature over the encrypted content was checked and removed'

# an inner signature that does not verify
awk '/^this is a test message/ { sub(/test/, "forged") } { print }' signed.eml >tampered.eml
verify_is 1 "control: the tampered signed message is bad" tampered.eml
openssl cms -encrypt -aes256 -in tampered.eml "$PKI/bob.crt" >tampered-enc.part 2>/dev/null
{ printf 'From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: inner bad\n'; cat tampered-enc.part; } >inner-bad-enc.eml
gs sign $P <inner-bad-enc.eml >inner-bad.eml
verify_is 1 "triple wrapping with a bad inner signature: not good" inner-bad.eml
check "... an inner signature is not good" contains v.err 'BAD: .*an inner signature is not good'
check "... the outer signature itself is good" contains v.err 'signature at part 1: good signature from'

# ---- a gateway's signature over ciphertext ----
gs encrypt --to bob@example.org <plain.eml >enc.eml
gs sign $P <enc.eml >gateway.eml
verify_is 0 "a signature over encrypted content (a gateway's): good" gateway.eml
check "... with the warning that it covers the ciphertext" \
	contains v.err 'WARNING: the signature covers encrypted content: it says who sent it, not who wrote what is inside'
json gateway.eml >gateway.json
check "... JSON: signed-ciphertext" contains gateway.json '"signed-ciphertext"'
gb decrypt $P <gateway.eml >gateway.dec 2>/dev/null
check "decrypt of a gateway-signed message writes the plaintext" contains gateway.dec '^this is a test message'
check "... and no signature around it" lacks gateway.dec 'pkcs7'
verify_is 0 "without the key: the outer signature alone is reported" gateway.eml
rm -rf nokey; mkdir nokey
"$GALSMIME" --home nokey trust import "$PKI/root.crt" >/dev/null
"$GALSMIME" --home nokey cert import "$PKI/inter.crt" >/dev/null
"$GALSMIME" --home nokey verify <gateway.eml >/dev/null 2>nokey.err; rc=$?
check "... exit 0 with no key for the inside" test "$rc" = 0
check "... the inside is reported as not opened" contains nokey.err 'part 1.1: encrypted content not opened'

# the From rule holds for the outermost signature
msg carol@example.org bob@example.org "carol's" | gs sign $P --from alice@example.org >notfrom.eml 2>/dev/null
verify_is 1 "control: alice's signature on carol's message is not good" notfrom.eml
sed 's/^From: alice <alice@example.org>/From: Carol <carol@example.org>/' triple.eml >triple-carol.eml
verify_is 1 "triple wrapping whose outer signer is not From: not good" triple-carol.eml
check "... signer is not the From address" contains v.err 'signer is not the From address'

# ---- opaque signed-data inside enveloped-data ----
gs encrypt --sign --opaque --to bob@example.org $P <plain.eml >so.eml
verify_is 0 "opaque signed-data inside enveloped-data: good" so.eml
check "... layers: encrypted > signed (opaque)" contains v.err 'layers: encrypted \(aes-256-cbc\) > signed \(opaque\)'
gb decrypt $P <so.eml >so.dec 2>so.err
check "decrypt writes it as multipart/signed (readable without S/MIME)" contains so.dec '^Content-Type: multipart/signed'
check "... saying so" contains so.err 'opaque signed-data written as multipart/signed'
check "... the text is in the clear" contains so.dec '^this is a test message'
check "... galsmime verifies the result" sh -c "'$GALSMIME' --home '$B' verify <so.dec 2>/dev/null"
check "... and so does openssl smime" sh -c "openssl smime -verify -CAfile '$PKI/root.crt' -in so.dec >/dev/null 2>&1"

# ---- nesting bombs ----
cp plain.eml deep.eml
for i in 1 2 3 4 5 6 7 8 9; do gs sign $P <deep.eml >deep.new 2>/dev/null && mv deep.new deep.eml; done
verify_is 65 "nine nested signatures: refused (more than 8 layers), exit 65" deep.eml
check "... saying so" contains v.err 'more than 8 S/MIME layers'
check "... in one line" one_line v.err
