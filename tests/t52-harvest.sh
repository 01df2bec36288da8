#!/bin/sh
# galsmime harvest learns the signer's certificate and the chain that
# validated it, and nothing else the sender put in the signature: a
# stranger's CA (or anyone's certificate) riding along in a good
# signature never reaches the store, so it can neither plant a CRL URL
# for `crl update` nor a candidate for encryption.
. "$TESTS_TOP/tests/lib.sh"

db() { sqlite3 "$GALSMIME_HOME/galsmime.db" "$1"; }
has_subject() { [ "$(db "SELECT count(*) FROM certificate WHERE subject LIKE '%$1%'")" != 0 ]; }
lacks_subject() { ! has_subject "$1"; }

cat >entity.txt <<'EOF'
Content-Type: text/plain; charset=utf-8

Hello Alice,
a signed message with more certificates than it needs.
EOF
# bsign OUT CERTFILE...: bob signs, the signature carrying these certificates
bsign() {
	out=$1; shift
	cat "$@" >extra.pem
	{
		printf 'From: Bob Example <bob@example.org>\nTo: alice@example.org\nSubject: harvest me\n'
		printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <%s.t51@example.org>\n' "$out"
		openssl smime -sign -in entity.txt -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" -certfile extra.pem
	} >"$out"
}
check "bob signs, carrying his chain, the evil CA and mallory" \
	bsign planted.eml "$PKI/inter.crt" "$PKI/root.crt" "$PKI/evil.crt" "$PKI/mallory.crt"
check "... the SignedData holds five certificates" \
	sh -c "openssl smime -pk7out -in planted.eml | openssl pkcs7 -print_certs | grep -c '^subject' | grep -qx 5"

# the store trusts the root and knows nothing else
check "trust the root only" gs trust import "$PKI/root.crt"
check_exit 0 "bob's signature is good (the intermediate comes with the message)" gs verify <planted.eml
gs harvest <planted.eml >h.out 2>h.err
check "harvest: good signature, 1 certificate new" grep -q 'good signature: 1 certificate new' h.err
check "bob's certificate is stored" has_subject "Bob Example"
check "... from the source harvest" sh -c "'$GALSMIME' cert list | grep -A8 'CN=Bob Example' | grep -q 'from     harvest'"
check "the intermediate that validated it is stored" has_subject "test intermediate CA"
check "the evil CA the sender added is not" lacks_subject "evil CA"
check "mallory's certificate the sender added is not" lacks_subject "Mallory"
check "cert list does not show them either" sh -c "! '$GALSMIME' cert list | grep -qi 'evil\|mallory'"
check "the root stays a trust anchor only (not also harvested)" \
	sh -c "'$GALSMIME' cert list | grep -A8 'subject  .*test root CA' | grep -q 'from     $PKI/root.crt$'"
check "exactly three certificates in the store: root, intermediate, bob" test "$(db 'SELECT count(*) FROM certificate')" = 3

# mallory's own good-looking signature (untrusted CA) teaches nothing
{
	printf 'From: Mallory Example <mallory@example.org>\nTo: alice@example.org\nSubject: learn me\n'
	printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <mallory.t51@example.org>\n'
	openssl smime -sign -in entity.txt -signer "$PKI/mallory.crt" -inkey "$PKI/mallory.key" -certfile "$PKI/evil.crt"
} >mallory.eml
gs harvest <mallory.eml >h.out 2>h.err
check "an untrusted signature: nothing learnt" grep -q 'signature not good: nothing learnt' h.err
check "... neither mallory nor the evil CA is stored" sh -c "! sqlite3 '$GALSMIME_HOME/galsmime.db' \"SELECT subject FROM certificate\" | grep -qi 'evil\|mallory'"
