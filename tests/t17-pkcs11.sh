#!/bin/sh
# Keys on PKCS#11 tokens, with the real SoftHSM (a throw-away token
# folder under the test's HOME): key import pkcs11:URI registers the
# certificate and leaves the key on the token (no key material in the
# store); RSA and EC keys sign (openssl cms -verify accepts) and decrypt
# (PKCS#1 v1.5, OAEP, ECDH) what openssl cms encrypted, also through
# mutt's commands; a wrong or missing PIN, a URI matching nothing or
# several certificates, a token absent, removed between login and the
# key operation, or refusing it while it stays in (tests/faults/
# p11-remove.c; a refusal is not called a removal): one clear line, exit 77 (64
# for an ambiguous URI), nothing on stdout. A run with no token key never
# loads libp11.
. "$TESTS_TOP/tests/lib.sh"
. "$TESTS_TOP/tests/softhsm.sh"
# under the sanitizers: stacks through libp11 (built without frame
# pointers) unwound from its unwind tables, so that tests/lsan.supp can
# name the galsmime function a libp11 leak happens under
case "${ASAN_OPTIONS:-}" in ?*) export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" ;; esac
if ! have softhsm2-util || ! have pkcs11-tool || [ -z "$SOFTHSM" ]; then
	skip "keys on tokens" "softhsm2 and opensc (pkcs11-tool) are not installed (make deps)"
	exit 0
fi

# ---- a SoftHSM token holding alice's RSA key and carol's EC key ----
token_setup
pkcs11-tool --module "$SOFTHSM" --token-label galsmime-test --login --pin 1234 -O >objects.out 2>&1
check "setup: pkcs11-tool lists two private keys and two certificates" \
	sh -c "[ \$(grep -c '^Private Key Object' objects.out) = 2 ] && [ \$(grep -c '^Certificate Object' objects.out) = 2 ]"
printf '1234\n' >pin && printf '9999\n' >badpin && chmod 600 pin badpin
check "setup: the store trusts the test root" \
	sh -c "'$GALSMIME' trust import '$PKI/root.crt' >/dev/null && '$GALSMIME' cert import '$PKI/inter.crt' >/dev/null"
M="?module-path=$SOFTHSM"
msg alice@example.org bob@example.org "token" >m.eml
msg carol@example.org bob@example.org "token" >mc.eml

# ---- key import pkcs11:URI ----
gs key import "pkcs11:token=galsmime-test;object=alice$M" >imp.out 2>imp.err; rc=$?
check "key import pkcs11:token=...;object=alice: exit 0" test "$rc" = 0
check "... alice's certificate, found by the key's label" contains imp.out "identity $(fp alice) imported \\(the key stays on the token\\)"
check "... without a PIN, it says the key is checked when first used" contains imp.err 'no PIN given'
gs key import "pkcs11:token=galsmime-test;id=%02;type=private$M" --passphrase-file pin >imp2.out 2>imp2.err; rc=$?
check "key import ...;id=%02;type=private with the PIN: exit 0, the key checked (no note)" \
	sh -c "[ $rc = 0 ] && grep -q 'identity $(fp carol) imported' imp2.out && [ ! -s imp2.err ]"
gs key list >list.out 2>&1
check "key list shows both as token keys, by token, serial and id" \
	sh -c "grep -c 'private  on a token: pkcs11:token=galsmime-test;serial=[0-9a-f]*;id=%0[12];type=private' list.out | grep -qx 2"
DB="$GALSMIME_HOME/galsmime.db"
check "the store holds no key blob for them, only the URI" \
	test "$(sqlite3 "$DB" 'SELECT count(*) FROM identity WHERE key_blob IS NULL AND token_uri LIKE "pkcs11:%"')" = 2
# no part of the private keys anywhere in the store's files: the first
# 16 bytes of alice's private exponent and of carol's private scalar
secret_hex() { openssl pkey -in "$PKI/$1.key" -text -noout 2>/dev/null |
	sed -n "/^$2/,/^[a-zA-Z]/p" | sed '1d;$d' | tr -d ' :\n' | sed 's/^00//' | cut -c1-32; }
sqlite3 "$DB" 'PRAGMA wal_checkpoint' >/dev/null
hexdump_store() { cat "$GALSMIME_HOME"/galsmime.db* | od -An -tx1 -v | tr -d ' \n'; }
hexdump_store >store.hex
a=$(secret_hex alice privateExponent) c=$(secret_hex carol priv)
check "no private key material in the store (alice's d, carol's scalar)" \
	sh -c "[ ${#a} = 32 ] && [ ${#c} = 32 ] && ! grep -q '$a' store.hex && ! grep -q '$c' store.hex"
# the check can fail: the same bytes are found once a file key is stored
cat "$PKI/alice.crt" "$PKI/alice.key" >alice.pem
gs --home "$T_DIR/plain" key import alice.pem >/dev/null 2>&1
check "... (control: a key imported from a file is found by the same check)" \
	sh -c "[ ${#a} = 32 ] && cat '$T_DIR'/plain/galsmime.db* | od -An -tx1 -v | tr -d ' \n' | grep -q '$a'"

gs --home "$T_DIR/pv" key import "pkcs11:token=galsmime-test;id=%01?module-path=$SOFTHSM&pin-value=1234" >pv.out 2>pv.err; rc=$?
check "pin-value= in the query: the key is checked with it (exit 0, no note)" sh -c "[ $rc = 0 ] && [ ! -s pv.err ]"
check "... and the PIN is not stored" \
	sh -c "[ \"\$(sqlite3 '$T_DIR/pv/galsmime.db' \"SELECT count(*) FROM identity WHERE token_uri LIKE '%pin%'\")\" = 0 ] && ! grep -qa 1234 '$T_DIR/pv/galsmime.db'"
check_exit 64 "a URI matching both certificates: exit 64" gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test$M"
gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test$M" 2>amb.err
check "... saying so" contains amb.err '2 certificates on token .galsmime-test. match the URI'
gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test;object=nobody$M" 2>none.err; rc=$?
check "a URI matching no certificate: exit 77, saying so" sh -c "[ $rc = 77 ] && grep -q 'no certificate on token .galsmime-test. matches' none.err"
gs --home "$T_DIR/x" key import "pkcs11:token=no-such-token$M" 2>absent.err; rc=$?
check "a token that is not there: exit 77, saying so" sh -c "[ $rc = 77 ] && grep -q \"token 'no-such-token' is not present\" absent.err"
gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test;id=%01$M" --passphrase-file badpin 2>wimp.err; rc=$?
check "import with a wrong PIN: exit 77, naming the token" sh -c "[ $rc = 77 ] && grep -q \"wrong PIN for token 'galsmime-test'\" wimp.err"
check_exit 64 "a URI attribute RFC 7512 does not define: exit 64" gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test;colour=blue$M"
check_exit 64 "an attribute given twice: exit 64" gs --home "$T_DIR/x" key import "pkcs11:id=%01;id=%02$M"
gs --home "$T_DIR/x" key import "pkcs11:token=galsmime-test?module-path=/nonexistent/p11.so" 2>nomod.err; rc=$?
check "a module that is not there: exit 77, one line naming it" \
	sh -c "[ $rc = 77 ] && [ \$(wc -l <nomod.err) = 1 ] && grep -q 'cannot load the PKCS#11 module /nonexistent/p11.so' nomod.err"

# ---- sign and decrypt with the keys on the token ----
# verified FILE USER: openssl cms -verify accepts FILE, signed by USER
verified() {
	openssl cms -verify -in "$1" -CAfile "$PKI/root.crt" -certfile "$PKI/inter.crt" -signer "$1.signer" \
		>/dev/null 2>&1 &&
	[ "$(openssl x509 -in "$1.signer" -noout -fingerprint -sha256)" = \
	  "$(openssl x509 -in "$PKI/$2.crt" -noout -fingerprint -sha256)" ]
}
gs sign --passphrase-file pin <m.eml >s.eml 2>s.err; rc=$?
check "sign with alice's RSA key on the token: exit 0" test "$rc" = 0
check "... openssl cms -verify accepts it, alice signed" verified s.eml alice
gs sign --passphrase-file pin <mc.eml >sc.eml 2>sc.err; rc=$?
check "sign with carol's EC key on the token (ECDSA): exit 0" test "$rc" = 0
check "... openssl cms -verify accepts it, carol signed" verified sc.eml carol
check "galsmime verify agrees (good, by carol)" sh -c "'$GALSMIME' verify <sc.eml >/dev/null 2>sv.err"

openssl cms -encrypt -aes256 -in m.eml -recip "$PKI/alice.crt" -out e-v15.eml 2>/dev/null
openssl cms -encrypt -aes256 -in m.eml -recip "$PKI/alice.crt" -keyopt rsa_padding_mode:oaep -out e-oaep.eml 2>/dev/null
openssl cms -encrypt -aes-256-gcm -in m.eml -recip "$PKI/carol.crt" -out e-ec.eml 2>/dev/null
for e in v15:"RSA PKCS#1 v1.5" oaep:"RSA OAEP" ec:"ECDH (carol's EC key)"; do
	gs decrypt -q --passphrase-file pin <"e-${e%%:*}.eml" >d.out 2>d.err; rc=$?
	check "decrypt what openssl cms encrypted, ${e#*:}: exit 0, the text" \
		sh -c "[ $rc = 0 ] && grep -q 'this is a test message' d.out"
done

# ---- mutt's commands (smime.rc), the PIN on stdin as mutt writes the passphrase ----
cat >content.lf <<'EOF'
Content-Type: text/plain; charset=us-ascii

the eagle lands at noon
EOF
sed 's/$/\r/' content.lf >content.crlf
printf '1234\n' | gs mutt sign --digest sha256 "$PKI/alice.crt" content.lf >msig.der 2>msig.err; rc=$?
check "mutt sign with the token key: exit 0, openssl smime -verify accepts it over the CRLF content" \
	sh -c "[ $rc = 0 ] && openssl smime -verify -inform DER -in msig.der -content content.crlf -CAfile '$PKI/root.crt' -certfile '$PKI/inter.crt' >/dev/null 2>&1"
openssl cms -encrypt -aes256 -outform DER -in content.lf "$PKI/carol.crt" >to-carol.der
printf '1234\n' | gs mutt decrypt to-carol.der >mdec.out 2>mdec.err; rc=$?
check "mutt decrypt with the token key (EC): exit 0, the entity" sh -c "[ $rc = 0 ] && cmp -s mdec.out content.lf"
printf '9999\n' | gs mutt decrypt to-carol.der >mdec.out 2>mdec.err; rc=$?
check "mutt decrypt with a wrong PIN: exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s mdec.out ]"

# ---- a wrong PIN, no PIN ----
gs sign --passphrase-file badpin <m.eml >w.out 2>w.err; rc=$?
check "sign with a wrong PIN: exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s w.out ]"
check "... one line naming the token" sh -c "[ \$(wc -l <w.err) = 1 ] && grep -q \"galsmime sign: wrong PIN for token 'galsmime-test'\" w.err"
gs decrypt --passphrase-file badpin <e-v15.eml >w.out 2>w.err; rc=$?
check "decrypt with a wrong PIN: exit 77, nothing on stdout, naming the token" \
	sh -c "[ $rc = 77 ] && [ ! -s w.out ] && grep -q \"wrong PIN for token 'galsmime-test'\" w.err"
gs sign <m.eml >n.out 2>n.err; rc=$?
check "sign with no PIN given: exit 77, saying the token needs it" \
	sh -c "[ $rc = 77 ] && [ ! -s n.out ] && grep -q \"token 'galsmime-test' needs its PIN\" n.err"

# ---- the token removed ----
# deleting the token's folder is pulling the card out
rm -rf "$TOKEN"
gs sign --passphrase-file pin <m.eml >r.out 2>r.err; rc=$?
check "token removed between two runs: sign exits 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s r.out ]"
check "... one line: the token is not present" sh -c "[ \$(wc -l <r.err) = 1 ] && grep -q \"token 'galsmime-test' is not present\" r.err"
gs decrypt --passphrase-file pin <e-ec.eml >r.out 2>r.err; rc=$?
check "... decrypt too (exit 77, nothing on stdout)" sh -c "[ $rc = 77 ] && [ ! -s r.out ]"
restore

# the module from the configuration ([pkcs11] module): the shim that
# pulls the token out between the login and the key operation
B="$T_DIR/shim-store"
mkdir -p "$XDG_CONFIG_HOME/galsmime"
printf '[pkcs11]\nmodule = %s\n' "$SHIM" >"$XDG_CONFIG_HOME/galsmime/config"
export P11_REMOVE_MODULE="$SOFTHSM"
gs --home "$B" trust import "$PKI/root.crt" >/dev/null 2>&1 && gs --home "$B" cert import "$PKI/inter.crt" >/dev/null 2>&1
gs --home "$B" key import "pkcs11:token=galsmime-test;id=%01" >/dev/null 2>&1 &&
	gs --home "$B" key import "pkcs11:token=galsmime-test;id=%02" >/dev/null 2>&1; rc=$?
check "key import without module-path: the configuration's module (exit 0)" test "$rc" = 0
check "... the URI stored names no module" sh -c "! sqlite3 '$B/galsmime.db' 'SELECT token_uri FROM identity' | grep -q module-path"
check "... and signs through it" sh -c "'$GALSMIME' --home '$B' sign --passphrase-file pin <m.eml | openssl cms -verify -CAfile '$PKI/root.crt' -certfile '$PKI/inter.crt' >/dev/null 2>&1"
removed() { # WHAT CMD...: the token pulled out after login
	what=$1; shift
	restore
	P11_REMOVE_DIR="$TOKEN" "$@" >rm.out 2>rm.err; rc=$?
	check "token removed between login and $what: exit 77, nothing on stdout" sh -c "[ $rc = 77 ] && [ ! -s rm.out ]"
	check "... one line saying it was removed" \
		sh -c "[ \$(wc -l <rm.err) = 1 ] && grep -q \"token 'galsmime-test' was removed\" rm.err" 
}
removed "an RSA signature" sh -c "'$GALSMIME' --home '$B' sign --passphrase-file pin <m.eml"
removed "an ECDSA signature" sh -c "'$GALSMIME' --home '$B' sign --passphrase-file pin <mc.eml"
removed "an RSA decryption" sh -c "'$GALSMIME' --home '$B' decrypt --passphrase-file pin <e-v15.eml"
removed "an ECDH decryption" sh -c "'$GALSMIME' --home '$B' decrypt --passphrase-file pin <e-ec.eml"
# a message larger than any output buffer: the signature comes last
{ cat m.eml; head -c 300000 /dev/zero | tr '\0' 'x' | fold -w 76; } >big.eml
removed "the signature of a 300 KB message" sh -c "'$GALSMIME' --home '$B' sign --passphrase-file pin <big.eml"
removed "mutt sign" sh -c "printf '1234\n' | '$GALSMIME' --home '$B' mutt sign --digest sha256 '$PKI/alice.crt' content.lf"
# a token that refuses the operation but stays in: not "removed"
restore
P11_REFUSE=1 "$GALSMIME" --home "$B" sign --passphrase-file pin <m.eml >rf.out 2>rf.err; rc=$?
check "a token that refuses the signature and stays in: exit 77, nothing on stdout" \
	sh -c "[ $rc = 77 ] && [ ! -s rf.out ]"
check "... one line naming the token and what it said, not 'removed'" \
	sh -c "[ \$(wc -l <rf.err) = 1 ] && grep -q \"token 'galsmime-test'\" rf.err && ! grep -q removed rf.err" 
restore
check "... (control: with the token left in, the shim's store decrypts)" \
	sh -c "'$GALSMIME' --home '$B' decrypt -q --passphrase-file pin <e-ec.eml 2>/dev/null | grep -q 'this is a test message'"

# a run over many messages spends one PIN try, not one a message: three
# messages encrypted to alice, harvested with a wrong PIN
if have notmuch; then
	MD="$T_DIR/mail"
	mkdir -p "$MD/cur" "$MD/new" "$MD/tmp"
	for i in 1 2 3; do
		{ printf 'From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: %s\nMessage-ID: <%s@t17>\n' $i $i
		  openssl cms -encrypt -aes256 -in m.eml "$PKI/alice.crt"; } >"$MD/cur/m$i:2,"
	done
	printf '[database]\npath=%s\n[user]\nprimary_email=alice@example.org\n[new]\ntags=inbox\n' "$MD" >nm-config
	NOTMUCH_CONFIG=$T_DIR/nm-config notmuch new >/dev/null 2>&1
	NOTMUCH_CONFIG=$T_DIR/nm-config P11_LOGIN_LOG=$T_DIR/logins \
		"$GALSMIME" --home "$B" notmuch harvest --decrypt --passphrase-file badpin >hv.out 2>&1
	check "notmuch harvest --decrypt of 3 messages with a wrong PIN: one login tried, not 3" \
		sh -c "[ -f logins ] && [ \$(wc -l <logins) = 1 ]"
	rm -f logins
	NOTMUCH_CONFIG=$T_DIR/nm-config P11_LOGIN_LOG=$T_DIR/logins \
		"$GALSMIME" --home "$B" notmuch harvest --decrypt --passphrase-file pin >hv2.out 2>&1
	check "... with the right PIN: one login opens all three" sh -c "[ \$(wc -l <logins) = 1 ]"
else
	skip "PIN tries over a notmuch run" "notmuch is not installed"
fi
rm -f "$XDG_CONFIG_HOME/galsmime/config"

# ---- p11-kit's proxy when nothing names a module ----
if [ -e "$(pkg-config --variable=proxy_module p11-kit-1 2>/dev/null || echo /nonexistent)" ] &&
	grep -qs softhsm /usr/share/p11-kit/modules/*.module; then
	C="$T_DIR/proxy-store"
	gs --home "$C" trust import "$PKI/root.crt" >/dev/null 2>&1 && gs --home "$C" cert import "$PKI/inter.crt" >/dev/null 2>&1
	gs --home "$C" key import "pkcs11:token=galsmime-test;id=%02" >/dev/null 2>&1; rc=$?
	check "no module named: p11-kit's proxy finds the registered SoftHSM (import exit $rc)" test "$rc" = 0
	check "... and signs with carol's key there" \
		sh -c "'$GALSMIME' --home '$C' sign --passphrase-file pin <mc.eml | openssl cms -verify -CAfile '$PKI/root.crt' -certfile '$PKI/inter.crt' >/dev/null 2>&1"
else
	skip "p11-kit's proxy as the default module" "p11-kit-modules or SoftHSM's p11-kit registration is missing"
fi

# ---- libp11 is loaded only for token keys ----
D="$T_DIR/file-store"
gs --home "$D" key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null 2>&1
msg bob@example.org alice@example.org >mb.eml
LD_DEBUG=files "$GALSMIME" --home "$D" sign --passphrase-file "$PKI/pass" <mb.eml >/dev/null 2>ld.err
check "signing with a key from a file never loads libp11" sh -c "grep -q 'file=libcrypto' ld.err && ! grep -q 'file=libp11\.so' ld.err"
LD_DEBUG=files "$GALSMIME" sign --passphrase-file pin <m.eml >/dev/null 2>ld2.err
check "... a token key does (the control)" grep -q 'file=libp11\.so' ld2.err
