#!/bin/sh
# galsmime mutt SUBCOMMAND against mutt's classic $smime_*_command
# contract (FIELD-NOTES), each compared with what the openssl command
# lines of mutt's contrib smime.rc do on the same input: sign and encrypt
# write DER; verify's FIRST stderr line is "Verification successful" only
# for a good signature, then who signed; decrypt writes a MIME entity or
# nothing; the passphrase (or label) mutt writes on stdin is drained even
# when unused, so the writer never gets SIGPIPE; get-signer-cert writes
# %c in place; sync-index writes mutt's .index layout from the store.
. "$TESTS_TOP/tests/lib.sh"

PATH="$GALSMIME_PREFIX/bin:$PATH"
export PATH
CAS="$PKI/cas.pem"

# ---- the openssl command lines of mutt's contrib smime.rc (paths filled in) ----
c_sign() { # USER CONTENT: DER on stdout
	printf 'secret\n' | openssl smime -sign -md sha256 -signer "$PKI/$1.crt" -inkey "$PKI/$1.key" \
		-passin stdin -in "$2" -certfile "$PKI/$1-chain.pem" -outform DER
}
c_encrypt() { # CONTENT CERT...
	f=$1; shift
	openssl cms -encrypt -aes256 -outform DER -in "$f" "$@"
}
c_decrypt() { # USER DER
	printf 'secret\n' | openssl cms -decrypt -passin stdin -inform DER -in "$2" \
		-inkey "$PKI/$1.key" -recip "$PKI/$1.crt"
}
c_verify() { openssl smime -verify -inform DER -in "$1" -CAfile "$CAS" -content "$2" >/dev/null 2>&1; }
c_verify_opaque() { openssl smime -verify -inform DER -in "$1" -CAfile "$CAS" 2>/dev/null; }
c_pk7out() { openssl smime -verify -in "$1" -noverify -pk7out 2>/dev/null; }
c_get_cert() { openssl pkcs7 -print_certs -in "$1" 2>/dev/null; }
c_signer_cert() { openssl smime -verify -in "$1" -noverify -signer "$2" -out /dev/null 2>/dev/null; }
c_email() { openssl x509 -in "$1" -noout -email 2>/dev/null; }

# fprs FILE: the SHA-256 fingerprints of the PEM certificates in FILE, sorted
fprs() {
	awk '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > ("fp." n ".pem") }' "$1"
	for f in fp.*.pem; do
		[ -f "$f" ] && openssl x509 -in "$f" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f
	done | sort
	rm -f fp.*.pem
}
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
first_line() { head -n 1 "$1"; }
# same A B: A is not empty and equals B; ok_same RC A B: and RC is 0
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
ok_same() { [ "$1" = 0 ] && same "$2" "$3"; }
# gsm SUBCOMMAND ARGS...: galsmime mutt, stdout in g.out, stderr in g.err, exit in $rc
gsm() { "$GALSMIME" mutt "$@" >g.out 2>g.err; rc=$?; }
# with a passphrase line on stdin, as mutt writes it
gsm_pass() { p=$1; shift; printf '%s\n' "$p" | "$GALSMIME" mutt "$@" >g.out 2>g.err; rc=$?; }
is_good() { [ "$rc" = 0 ] && [ "$(first_line g.err)" = "Verification successful" ]; }
is_bad() { [ "$rc" != 0 ] && ! head -n 1 g.err | grep -qix 'verification successful'; }

# ---- smime.rc, as installed, sets every command mutt runs ----
SMIMERC="$GALSMIME_PREFIX/share/galsmime/mutt/smime.rc"
printf 'source %s\n' "$SMIMERC" >q.rc
for m in mutt neomutt; do
	if ! have $m; then
		skip "$m reads smime.rc" "$m is not installed"
		continue
	fi
	for v in decrypt verify verify_opaque sign encrypt pk7out get_cert get_signer_cert get_cert_email import_cert; do
		w=$(echo $v | tr _ -)
		check "$m: smime.rc sets smime_${v}_command to galsmime mutt $w" \
			sh -c "$m -n -F q.rc -Q smime_${v}_command 2>&1 | grep -Eq '= ?\"galsmime mutt $w '"
	done
	check "$m: smime.rc sets crypt_use_gpgme=no" \
		sh -c "$m -n -F q.rc -Q crypt_use_gpgme 2>&1 | grep -Eq 'crypt_use_gpgme (is unset|= no)'"
done

check "store setup: trust the root, alice's identity (encrypted under \"secret\")" store_setup
check "the test GAL (galfix oab) imported" sh -c "python3 '$TESTS_TOP/tests/gal/galfix.py' '$PKI' oab gal.oab &&
	'$GALSMIME' gal import gal.oab >/dev/null"
mkdir -p mutt
"$GALSMIME" mutt sync-index "$T_DIR/mutt/certificates" --keys "$T_DIR/mutt/keys" >sync.out 2>sync.err
check "sync-index exits 0" test $? = 0
KEYID=$(awk '$1 == "alice@example.org" { print $2; exit }' mutt/keys/.index)
MYCERT="$T_DIR/mutt/certificates/$KEYID"
check "sync-index: alice's key id names her certificate file" \
	sh -c "[ -n '$KEYID' ] && [ \"\$(openssl x509 -in '$MYCERT' -noout -fingerprint -sha256)\" = \"\$(openssl x509 -in '$PKI/alice.crt' -noout -fingerprint -sha256)\" ]"

# what mutt hands the commands: a MIME entity, LF on disk
cat >content.lf <<'EOF'
Content-Type: text/plain; charset=us-ascii
Content-Disposition: inline

Hello Bob,
the eagle lands at noon.
From the start of a line, trailing spaces:   
EOF
sed 's/$/\r/' content.lf >content.crlf

# ==== sign ====
gsm_pass secret sign --digest sha256 "$MYCERT" content.lf
check "sign: exit 0, nothing on stderr" sh -c "[ $rc = 0 ] && [ ! -s g.err ]"
cp g.out g.sig
openssl cms -cmsout -print -inform DER -in g.sig >g.sig.txt 2>&1
check "sign: stdout is DER SignedData" contains g.sig.txt 'contentType: pkcs7-signedData'
check "sign: detached (no content inside)" contains g.sig.txt 'eContent: <ABSENT>'
check "sign: SHA-256" contains g.sig.txt 'algorithm: sha256'
check "sign: openssl verifies it over the CRLF-canonical content (cms -binary)" \
	openssl cms -verify -binary -inform DER -in g.sig -content content.crlf -CAfile "$CAS" -out /dev/null
check "sign: and not over the LF bytes as they are (it was canonicalised)" \
	sh -c "! openssl cms -verify -binary -inform DER -in g.sig -content content.lf -CAfile '$CAS' -out /dev/null 2>/dev/null"
check "sign: mutt's contrib verify command accepts it (CRLF content, as mutt writes %f)" c_verify g.sig content.crlf
c_sign alice content.lf >c.sig
md() { openssl cms -cmsout -print -inform DER -in "$1" | awk '/messageDigest/ { f = 1 } f && /0000 -/ { print; exit }'; }
check "sign: the same messageDigest as contrib's openssl smime -sign of the same file" \
	same "$(md c.sig)" "$(md g.sig)"
openssl cms -verify -binary -inform DER -in g.sig -content content.crlf -CAfile "$CAS" -out /dev/null \
	-signer g.signer.pem 2>/dev/null
check "sign: the signer is alice" test "$(fpr g.signer.pem)" = "$(fpr "$PKI/alice.crt")"
check "sign: the chain travels with it, as contrib's -certfile" \
	test "$(grep -c 'subject:' g.sig.txt)" -ge 3
gsm_pass secret sign --digest sha1 "$MYCERT" content.lf
check "sign --digest sha1: exit 64, nothing on stdout (micalg would lie)" sh -c "[ $rc = 64 ] && [ ! -s g.out ]"
check "sign --digest sha1: says to set smime_sign_digest_alg" contains g.err 'smime_sign_digest_alg'
gsm_pass wrong sign --digest sha256 "$MYCERT" content.lf
check "sign with a wrong passphrase: exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s g.out ]"
gsm_pass secret sign --digest sha256 "$PKI/bob.crt" content.lf
check "sign as bob (no identity of ours): exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s g.out ]"
gsm_pass secret sign --digest sha256 "$T_DIR/mutt/certificates/none.0" content.lf
check "sign with no %c file: the store's only identity signs" sh -c "[ $rc = 0 ] && [ -s g.out ]"

# ==== the passphrase on stdin is drained ====
# a store whose key is not encrypted: the passphrase line is not needed
mkdir -p plain
cat "$PKI/alice.crt" "$PKI/alice.key" >alice-plain.pem
GALSMIME_HOME="$T_DIR/plain" "$GALSMIME" key import alice-plain.pem >/dev/null 2>&1
GALSMIME_HOME="$T_DIR/plain" "$GALSMIME" trust import "$PKI/root.crt" >/dev/null 2>&1
GALSMIME_HOME="$T_DIR/plain" "$GALSMIME" cert import "$PKI/inter.crt" "$PKI/bob.crt" >/dev/null 2>&1
c_encrypt content.lf "$PKI/alice.crt" >to-alice.der
# late WHAT: a writer like mutt, but slow: it writes after galsmime started
late() { { sleep 0.3; printf '\n'; head -c 200000 /dev/zero; echo $? >writer.rc; } ; }
for sub in sign decrypt; do
	rm -f writer.rc
	if [ $sub = sign ]; then set -- sign --digest sha256 "$MYCERT" content.lf; else set -- decrypt to-alice.der; fi
	late | GALSMIME_HOME="$T_DIR/plain" "$GALSMIME" mutt "$@" >g.out 2>g.err
	rc=$?
	check "$sub, key without passphrase, slow writer of 200 KB: exit 0" test "$rc" = 0
	check "$sub: the writer finished (no SIGPIPE): stdin was drained" test "$(cat writer.rc 2>/dev/null)" = 0
	rm -f writer.rc
	late | GALSMIME_PASSPHRASE_FILE="$PKI/pass" "$GALSMIME" mutt "$@" >g.out 2>g.err
	check "$sub with \$GALSMIME_PASSPHRASE_FILE: stdin drained all the same" \
		test "$(cat writer.rc 2>/dev/null)" = 0
done

# ==== encrypt ====
gsm encrypt content.lf "$PKI/bob.crt" "$PKI/carol.crt"
check "encrypt to bob and carol: exit 0, nothing on stderr" sh -c "[ $rc = 0 ] && [ ! -s g.err ]"
cp g.out g.env
openssl cms -cmsout -print -inform DER -in g.env >g.env.txt 2>&1
check "encrypt: stdout is DER EnvelopedData" contains g.env.txt 'contentType: pkcs7-envelopedData'
check "encrypt: AES-256-CBC" contains g.env.txt 'algorithm: aes-256-cbc'
check "encrypt: two RecipientInfos (mutt adds you itself with \$smime_self_encrypt)" \
	test "$(grep -Ec '^ *d\.(ktri|kari):' g.env.txt)" = 2
c_decrypt bob g.env >g.bob 2>/dev/null
check "encrypt: bob decrypts it with contrib's decrypt command" test -s g.bob
check "encrypt: what bob reads is the entity in canonical CRLF form" cmp -s g.bob content.crlf
c_encrypt content.lf "$PKI/bob.crt" >c.env
c_decrypt bob c.env >c.bob 2>/dev/null
check "encrypt: the same plaintext as contrib's openssl cms -encrypt of the file" cmp -s g.bob c.bob
check "encrypt: carol (EC) decrypts it" sh -c "openssl cms -decrypt -inform DER -in g.env -inkey '$PKI/carol.key' -recip '$PKI/carol.crt' 2>/dev/null | cmp -s - content.crlf"
check "encrypt: alice, not a recipient, cannot" sh -c "! openssl cms -decrypt -inform DER -in g.env -inkey '$PKI/alice.key' -recip '$PKI/alice.crt' >/dev/null 2>&1"
cat "$PKI/bob.crt" "$PKI/bob-chain.pem" >bob-with-chain.pem
gsm encrypt content.lf bob-with-chain.pem
check "encrypt to a file with bob's chain: the CAs are not recipients (one RecipientInfo)" \
	sh -c "[ $rc = 0 ] && [ \$(openssl cms -cmsout -print -inform DER -in g.out | grep -Ec '^ *d\\.(ktri|kari):') = 1 ]"
gsm encrypt content.lf "$PKI/bob.crt" "$PKI/dave.crt"
check "encrypt to dave (expired): exit 67, nothing on stdout" sh -c "[ $rc = 67 ] && [ ! -s g.out ]"
check "encrypt to dave: one line naming dave and why" \
	sh -c "[ \$(wc -l <g.err) = 1 ] && grep -q 'dave@example.org.*expired' g.err"
gsm encrypt content.lf "$PKI/erin.crt"
check "encrypt to erin (signing-only key usage): exit 67, nothing on stdout" sh -c "[ $rc = 67 ] && [ ! -s g.out ]"

# ==== decrypt ====
gsm_pass secret decrypt to-alice.der
check "decrypt contrib's openssl cms -encrypt: exit 0" test "$rc" = 0
cp g.out d.out
check "decrypt: stdout is a MIME entity (headers, blank line, body) python parses" python3 -c "
import email, sys
e = email.message_from_binary_file(open('d.out', 'rb'))
ok = e.get_content_type() == 'text/plain' and b'eagle lands at noon' in e.get_payload(decode=True) and not e.defects
sys.exit(0 if ok else 1)"
c_decrypt alice to-alice.der >c.dec 2>/dev/null
check "decrypt: the same entity as contrib's decrypt command, CRLF made LF" \
	sh -c "tr -d '\r' <c.dec | cmp -s - d.out"
openssl cms -encrypt -aes-256-gcm -outform DER -in content.lf "$PKI/alice.crt" >gcm.der
gsm_pass secret decrypt gcm.der
check "decrypt AuthEnvelopedData (AES-256-GCM): the entity" sh -c "[ $rc = 0 ] && cmp -s g.out content.lf"
"$GALSMIME" mutt encrypt content.lf "$MYCERT" >rt.der 2>/dev/null
gsm_pass secret decrypt rt.der
check "decrypt what galsmime mutt encrypt wrote to alice: the entity" sh -c "[ $rc = 0 ] && cmp -s g.out content.lf"
openssl smime -sign -in content.lf -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" -certfile "$PKI/bob-chain.pem" >signed.ent
c_encrypt signed.ent "$PKI/alice.crt" >signed.der
gsm_pass secret decrypt signed.der
cp g.out d2.out
check "decrypt a signed entity: a multipart/signed entity python parses" python3 -c "
import email, sys
e = email.message_from_binary_file(open('d2.out', 'rb'))
sys.exit(0 if e.get_content_type() == 'multipart/signed' and len(e.get_payload()) == 2 and not e.defects else 1)"
c_encrypt content.lf "$PKI/bob.crt" >to-bob.der
gsm_pass secret decrypt to-bob.der
check "decrypt a message for bob only: fails (exit $rc), nothing on stdout" sh -c "[ $rc != 0 ] && [ ! -s g.out ]"
gsm_pass wrong decrypt to-alice.der
check "decrypt with a wrong passphrase: exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s g.out ]"
head -c 3000 /dev/urandom >garbage.der
gsm_pass secret decrypt garbage.der
check "decrypt garbage: fails, nothing on stdout" sh -c "[ $rc != 0 ] && [ ! -s g.out ]"
printf 'just some words, no header at all\nand no blank line\n' >nomime.txt
openssl cms -encrypt -binary -aes256 -outform DER -in nomime.txt "$PKI/alice.crt" >nomime.der
gsm_pass secret decrypt nomime.der
check "decrypt of a plaintext without MIME headers: exit 0, one text/plain entity (as galsmime decrypt)" \
	sh -c "[ $rc = 0 ] && head -n 1 g.out | grep -q '^Content-Type: text/plain; charset=us-ascii\$'"
check "decrypt of a plaintext without MIME headers: its body is the plaintext, byte for byte" \
	sh -c "sed '1,/^\$/d' g.out | cmp -s - nomime.txt"
# binary content without MIME headers, CRLFs and lone CRs in it: every
# byte comes back (base64), none lost to line-end conversion
printf 'x\r\n\000\r\r\n\377\r' >crbin.bin
head -c 2000 /dev/urandom >>crbin.bin
printf '\r\n\r' >>crbin.bin
openssl cms -encrypt -binary -aes256 -outform DER -in crbin.bin "$PKI/alice.crt" >crbin.der
gsm_pass secret decrypt crbin.der
check "decrypt of binary content with CRs and no MIME headers: every byte comes back" \
	sh -c "[ $rc = 0 ] && grep -q '^Content-Transfer-Encoding: base64' g.out && sed '1,/^\$/d' g.out | base64 -d | cmp -s - crbin.bin"
: >empty.txt
openssl cms -encrypt -binary -aes256 -outform DER -in empty.txt "$PKI/alice.crt" >empty.der
gsm_pass secret decrypt empty.der
check "decrypt of an empty plaintext: fails (exit 65), nothing on stdout (mutt: decryption failed)" \
	sh -c "[ $rc = 65 ] && [ ! -s g.out ]"
check "decrypt of an empty plaintext: one line on stderr, saying so (no GLib critical)" \
	sh -c "[ \$(wc -l <g.err) = 1 ] && grep -q 'decrypted content is empty' g.err"

# ==== verify (detached) against contrib's verify command ====
c_sign alice content.lf >s.alice
openssl cms -sign -binary -md sha256 -in content.crlf -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" \
	-certfile "$PKI/bob-chain.pem" -outform DER >s.bob-cms
c_sign carol content.lf >s.carol
c_sign erin content.lf >s.erin
c_sign mallory content.lf >s.mallory
c_sign dave content.lf >s.dave
sed 's/noon/dawn/' content.crlf >tampered.crlf
head -c 500 /dev/urandom >s.garbage
# case SIG CONTENT WANT(good|bad) WHAT
vcase() {
	sig=$1 cont=$2 want=$3 what=$4
	gsm verify "$sig" "$cont"
	cp g.err "v.$sig.err"
	if [ "$want" = good ]; then
		check "verify $what: exit 0, first stderr line 'Verification successful'" is_good
		check "verify $what: contrib's openssl smime -verify agrees (good)" c_verify "$sig" "$cont"
	else
		check "verify $what: not good (exit $rc), first line is not 'Verification successful'" is_bad
		check "verify $what: the first line says FAILED" sh -c "head -n 1 g.err | grep -q '^Verification FAILED'"
		check "verify $what: contrib's openssl smime -verify agrees (bad)" sh -c "! openssl smime -verify -inform DER -in '$sig' -CAfile '$CAS' -content '$cont' >/dev/null 2>&1"
	fi
	check "verify $what: nothing on stdout" test ! -s g.out
}
vcase s.alice content.crlf good "alice (contrib's openssl smime -sign)"
check "verify: stderr names the signer, address, SHA-256 fingerprint, validity" \
	sh -c "grep -q '^Good signature from Alice Example <alice@example.org>' v.s.alice.err &&
	       grep -q '$(fpr "$PKI/alice.crt")' v.s.alice.err &&
	       grep -q 'valid 2025-01-01 .* to 2035-12-31 [0-9:]* UTC; signed 20[0-9-]* [0-9:]* UTC\$' v.s.alice.err"
vcase s.bob-cms content.crlf good "bob (openssl cms -sign -binary)"
vcase s.carol content.crlf good "carol (ECDSA)"
vcase s.erin content.crlf good "erin (signing-only certificate)"
vcase g.sig content.crlf good "galsmime mutt sign's own signature"
vcase s.alice tampered.crlf bad "tampered content"
check "verify tampered: the reason is named" contains v.s.alice.err 'digest mismatch'
vcase s.mallory content.crlf bad "mallory (untrusted root)"
check "verify mallory: the reason is named" sh -c "head -n 1 v.s.mallory.err | grep -q untrusted"
vcase s.dave content.crlf bad "dave (expired)"
check "verify dave: the reason is named" sh -c "head -n 1 v.s.dave.err | grep -q expired"
gsm verify s.garbage content.crlf
check "verify garbage: not good, first line FAILED, nothing on stdout" \
	sh -c "[ $rc != 0 ] && head -n 1 g.err | grep -q '^Verification FAILED' && [ ! -s g.out ]"
gsm verify s.alice content.lf
check "verify with LF content (not what mutt writes): canonicalised like openssl cms -verify" is_good

# ==== verify-opaque ====
printf 'secret\n' | openssl smime -sign -nodetach -md sha256 -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" \
	-passin stdin -in content.lf -certfile "$PKI/bob-chain.pem" -outform DER >opaque.der
printf '' | "$GALSMIME" mutt verify-opaque opaque.der >g.out 2>g.err
rc=$?
check "verify-opaque: exit 0, first stderr line 'Verification successful'" is_good
check "verify-opaque: stdout is the entity (LF)" cmp -s g.out content.lf
c_verify_opaque opaque.der >c.opaque
check "verify-opaque: contrib's command prints the same entity (CRLF made LF)" \
	sh -c "tr -d '\r' <c.opaque | cmp -s - g.out"
check "verify-opaque: names bob" contains g.err '^Good signature from Bob Example <bob@example.org>'
python3 -c "
d = bytearray(open('opaque.der', 'rb').read())
i = d.find(b'noon')
d[i:i + 4] = b'dawn'
open('opaque-tampered.der', 'wb').write(d)"
gsm verify-opaque opaque-tampered.der
check "verify-opaque of tampered content: not good, first line FAILED" \
	sh -c "[ $rc != 0 ] && head -n 1 g.err | grep -q '^Verification FAILED'"
gsm verify-opaque s.garbage
check "verify-opaque of garbage: not good, nothing on stdout" sh -c "[ $rc != 0 ] && [ ! -s g.out ]"

# ==== certificates in received mail ====
printf 'secret\n' | openssl smime -sign -md sha256 -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" -passin stdin \
	-certfile "$PKI/bob-chain.pem" -in content.lf -from 'Bob Example <bob@example.org>' \
	-to alice@example.org -subject 'signed by bob' >signed.eml
gsm pk7out signed.eml
check "pk7out: exit 0, a PEM PKCS7 on stdout" sh -c "[ $rc = 0 ] && head -n 1 g.out | grep -qx -- '-----BEGIN PKCS7-----'"
cp g.out g.p7
c_pk7out signed.eml >c.p7
c_get_cert c.p7 >c.certs
openssl pkcs7 -in g.p7 -print_certs >g.p7.certs 2>/dev/null
check "pk7out: the same certificates as contrib's openssl smime -pk7out" \
	same "$(fprs c.certs)" "$(fprs g.p7.certs)"
gsm get-cert g.p7
check "get-cert: exit 0, PEM certificates" sh -c "[ $rc = 0 ] && grep -q 'BEGIN CERTIFICATE' g.out"
check "get-cert: the same certificates as contrib's openssl pkcs7 -print_certs" \
	same "$(fprs g.out)" "$(fprs c.certs)"
gsm get-cert c.p7
check "get-cert reads contrib's pk7out too" ok_same "$rc" "$(fprs g.out)" "$(fprs c.certs)"
: >signer.pem
exec 3<signer.pem
gsm get-signer-cert signed.eml signer.pem
check "get-signer-cert: exit 0, bob's certificate in %c" \
	ok_same "$rc" "$(fpr signer.pem)" "$(fpr "$PKI/bob.crt")"
check "get-signer-cert: written in place (mutt reads it through the descriptor it opened before)" \
	sh -c "cat <&3 | grep -q 'BEGIN CERTIFICATE'"
exec 3<&-
c_signer_cert signed.eml c.signer.pem
check "get-signer-cert: the same certificate as contrib's -signer" \
	same "$(fprs signer.pem)" "$(fprs c.signer.pem)"
printf 'secret\n' | openssl smime -sign -nodetach -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" -passin stdin \
	-in content.lf -from bob@example.org -to alice@example.org -subject opaque >opaque.eml
gsm get-signer-cert opaque.eml signer2.pem
check "get-signer-cert of an opaque signed message: bob" \
	ok_same "$rc" "$(fpr signer2.pem)" "$(fpr "$PKI/bob.crt")"
msg bob@example.org alice@example.org "not signed" >plain.eml
gsm pk7out plain.eml
check "pk7out of an unsigned message: fails, nothing on stdout" sh -c "[ $rc != 0 ] && [ ! -s g.out ]"
: >signer3.pem
gsm get-signer-cert plain.eml signer3.pem
check "get-signer-cert of an unsigned message: fails, %c stays empty" sh -c "[ $rc != 0 ] && [ ! -s signer3.pem ]"
for u in bob ivan carol; do
	gsm get-cert-email "$PKI/$u.crt"
	c_email "$PKI/$u.crt" | tr A-Z a-z | sort -u >c.emails
	check "get-cert-email $u: the addresses contrib's openssl x509 -email prints" \
		sh -c "[ $rc = 0 ] && [ -s c.emails ] && sort -u g.out | cmp -s - c.emails"
done
openssl x509 -in "$PKI/bob.crt" -outform DER -out bob.der
gsm get-cert-email bob.der
check "get-cert-email reads DER too" sh -c "[ $rc = 0 ] && [ \"\$(cat g.out)\" = bob@example.org ]"
# zoe: a correspondent the GAL does not know, with a certificate from the test CA
openssl req -new -newkey rsa:2048 -nodes -keyout zoe.key -subj "/CN=Zoe Outside/emailAddress=zoe@example.net" \
	-out zoe.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:zoe@example.net\n' >zoe.ext
openssl x509 -req -in zoe.csr -CA "$PKI/inter.crt" -CAkey "$PKI/inter.key" -set_serial 7777 -days 3650 \
	-extfile zoe.ext -out zoe.crt 2>/dev/null
rm -f writer.rc
{ printf 'Zoe from outside\n'; sleep 0.2; head -c 100000 /dev/zero; echo $? >writer.rc; } |
	"$GALSMIME" mutt import-cert zoe.crt >g.out 2>g.err
rc=$?
check "import-cert (label on stdin): exit 0" test "$rc" = 0
check "import-cert: the label writer was not cut off" test "$(cat writer.rc 2>/dev/null)" = 0
check "import-cert: the certificate is in the store" \
	sh -c "'$GALSMIME' cert list | grep -q '$(fpr zoe.crt)'"
gsm import-cert garbage.der
check "import-cert of garbage: fails" test "$rc" != 0

# ==== sync-index: mutt's smime_keys layout ====
IDX="$T_DIR/mutt/certificates/.index"
check "sync-index: every .index line has mutt's six fields (mailbox hash label issuer trust purpose)" \
	awk 'NF != 6 { exit 1 } $4 != "?" { exit 1 } $5 !~ /^[tvueri]$/ { exit 1 } $6 !~ /^(s|e|se|-)$/ { exit 1 }' "$IDX"
check "sync-index: each certificate file is named by its openssl x509 -hash" sh -c "
	for k in \$(awk '{ print \$2 }' '$IDX' | sort -u); do
		h=\$(openssl x509 -in '$T_DIR/mutt/certificates/'\$k -noout -hash) || exit 1
		[ \"\${k%.*}\" = \"\$h\" ] || exit 1
	done"
check "sync-index: no line twice" test "$(sort "$IDX" | uniq -d | wc -l)" = 0
check "sync-index: at most one trusted (t) certificate per address" \
	test "$(awk '$5 == "t" { print $1 }' "$IDX" | sort | uniq -d | wc -l)" = 0
# idx_cert ADDRESS TRUST: the fingerprint of the certificate listed for ADDRESS with TRUST
idx_cert() { k=$(awk -v a="$1" -v t="$2" '$1 == a && $5 == t { print $2; exit }' "$IDX"); [ -n "$k" ] && fpr "$T_DIR/mutt/certificates/$k"; }
for u in bob carol grace alice; do
	check "sync-index: $u@example.org is trusted (t) with her/his certificate" \
		test "$(idx_cert $u@example.org t)" = "$(fpr "$PKI/$u.crt")"
done
check "sync-index: henry's trusted certificate is the one galsmime chooses (userSMIMECertificate)" \
	test "$(idx_cert henry@example.org t)" = "$(fpr "$PKI/henry.crt")"
check "sync-index: ivan by his directory address and his certificate's own" \
	sh -c "[ \"\$(awk '\$1 == \"ivan@example.org\" && \$5 == \"t\"' '$IDX' | wc -l)\" = 1 ] &&
	       [ \"\$(awk '\$1 == \"ivan.private@example.net\" && \$5 == \"t\"' '$IDX' | wc -l)\" = 1 ]"
check "sync-index: dave's expired certificate is listed as expired (e)" \
	test "$(idx_cert dave@example.org e)" = "$(fpr "$PKI/dave.crt")"
check "sync-index: mallory's untrusted one as invalid (i)" \
	test "$(idx_cert mallory@example.org i)" = "$(fpr "$PKI/mallory.crt")"
check "sync-index: erin's signing-only certificate has purpose s and is not trusted for encryption" \
	awk '$1 == "erin@example.org" && $5 != "t" && $6 == "s" { f = 1 } END { exit !f }' "$IDX"
check "sync-index: carol's EC certificate (keyAgreement) can encrypt (se)" \
	awk '$1 == "carol@example.org" && $5 == "t" && $6 == "se" { f = 1 } END { exit !f }' "$IDX"
check "sync-index: nora, without a certificate, is not listed" lacks "$IDX" '^nora@'
check "sync-index: no dave, mallory, erin or frank line is trusted" \
	sh -c "! awk '\$5 == \"t\"' '$IDX' | grep -Eq '^(dave|mallory|erin|frank)@'"
check "sync-index: the keys .index lists alice, trusted" \
	awk '$1 == "alice@example.org" && $5 == "t" { f = 1 } END { exit !f }' "$T_DIR/mutt/keys/.index"
check "sync-index: it prints the smime_default_key to set" contains sync.out "set smime_default_key=\"$KEYID\""
check "sync-index: no private key is written anywhere" \
	sh -c "! grep -rl 'PRIVATE KEY' '$T_DIR/mutt'"
cp "$IDX" idx.before
touch "$T_DIR/mutt/certificates/deadbeef.0"
"$GALSMIME" mutt sync-index "$T_DIR/mutt/certificates" --keys "$T_DIR/mutt/keys" >/dev/null 2>&1
check "sync-index again: zoe, imported since, is listed trusted with her certificate" \
	test "$(idx_cert zoe@example.net t)" = "$(fpr zoe.crt)"
check "sync-index again: a stale certificate file is removed" test ! -e "$T_DIR/mutt/certificates/deadbeef.0"
mkdir -p foreign && echo keep >foreign/mine.txt
gsm sync-index "$T_DIR/foreign"
check "sync-index refuses a folder it did not write (exit 64), and leaves it alone" \
	sh -c "[ $rc = 64 ] && [ \"\$(ls foreign)\" = mine.txt ] && [ ! -e foreign/.index ]"
