#!/bin/sh
# The store and identities: key/trust/cert import and list, file modes,
# passphrases, legacy PKCS#12, refusal of non-CA anchors.
. "$TESTS_TOP/tests/lib.sh"

umask 000
check "trust import of the test root (PEM)" gs trust import "$PKI/root.crt"
check "store folder is 0700 whatever the umask" test "$(stat -c %a "$GALSMIME_HOME")" = 700
check "store file is 0600 whatever the umask" test "$(stat -c %a "$GALSMIME_HOME/galsmime.db")" = 600
umask 022

gs trust list >list.out 2>&1
check "trust list shows the root" contains list.out "CN=galsmime test root CA"

check_exit 64 "trust import refuses a leaf certificate" gs trust import "$PKI/bob.crt"
gs trust list >list.out 2>&1
check "refused anchor is not in the trust list" lacks list.out "Bob Example"

openssl x509 -in "$PKI/inter.crt" -outform DER -out inter.der
check "cert import of a DER certificate" gs cert import inter.der
openssl crl2pkcs7 -nocrl -certfile "$PKI/bob.crt" -certfile "$PKI/carol.crt" -outform DER -out two.p7b
gs cert import two.p7b >imp.out 2>&1
check "cert import of a PKCS#7 bag reads both certificates" contains imp.out "2 certificates new"
gs cert import two.p7b >imp.out 2>&1
check "re-import counts them as known" contains imp.out "0 certificates new, 2 known"
printf 'garbage' >junk.pem
check_exit 65 "cert import of garbage is malformed input" gs cert import junk.pem

check_exit 77 "key import without the passphrase fails with 77" gs key import "$PKI/alice.p12"
check_exit 77 "key import with a wrong passphrase fails with 77" \
	gs key import "$PKI/alice.p12" --passphrase-file "$PKI/wrongpass"
check "key import of a PKCS#12 file" gs key import "$PKI/alice.p12" --passphrase-file "$PKI/pass"
check "key import of a legacy RC2-40 PKCS#12 file" \
	gs key import "$PKI/alice-legacy.p12" --passphrase-file "$PKI/pass"
check "key import of PEM with an encrypted key, passphrase on a fd" \
	sh -c "exec 3<'$PKI/pass'; '$GALSMIME' key import '$PKI/alice-enc.pem' --passphrase-fd 3"
GALSMIME_PASSPHRASE_FILE="$PKI/pass" gs key import "$PKI/bob.p12" >/dev/null 2>&1
check "\$GALSMIME_PASSPHRASE_FILE names the passphrase file" sh -c "'$GALSMIME' key list | grep -q bob@example.org"
cat "$PKI/carol.crt" "$PKI/carol.key" >carol-plain.pem
gs key import carol-plain.pem >plain.out 2>&1
check "an unencrypted key imports with a warning" contains plain.out "stored unencrypted"
gs key list >keys.out
check "key list marks the plain key" contains keys.out "NOT ENCRYPTED"
check "key list marks alice's key encrypted" sh -c "grep -A12 'alice@example.org' keys.out | grep -q 'private  encrypted'"

# the private key is not in the database in clear
# (the private exponent of alice's RSA key, searched for in the database file)
openssl rsa -in "$PKI/alice.key" -outform DER -out alice.der 2>/dev/null
check "alice's private key bytes are not stored in clear" python3 -c "
import sys
der = open('alice.der', 'rb').read()
# RSAPrivateKey: version, n, e, d: take 64 bytes from the middle of d
db = open(sys.argv[1], 'rb').read()
needle = der[400:464]
sys.exit(1 if needle in db else 0)" "$GALSMIME_HOME/galsmime.db"
# the same search must find a key that came unencrypted (the search works)
cat "$PKI/grace.crt" "$PKI/grace.key" >grace-plain.pem
gs key import grace-plain.pem >/dev/null 2>&1
openssl rsa -in "$PKI/grace.key" -outform DER -out grace.der 2>/dev/null
check "the same search finds grace's key, which came unencrypted" python3 -c "
import sys
sys.exit(0 if open('grace.der', 'rb').read()[400:464] in open(sys.argv[1], 'rb').read() else 1)" \
	"$GALSMIME_HOME/galsmime.db"

echo 'PRAGMA integrity_check;' >ic.sql
check "the store passes SQLite's integrity check" \
	sh -c "sqlite3 '$GALSMIME_HOME/galsmime.db' <ic.sql | grep -qx ok"
check "the store is in WAL mode" \
	sh -c "echo 'PRAGMA journal_mode;' | sqlite3 '$GALSMIME_HOME/galsmime.db' | grep -qx wal"

gs --home "$T_DIR/other" trust list >/dev/null 2>&1
check "--home chooses another store folder" test -f "$T_DIR/other/galsmime.db"
check_exit 64 "an unknown command is a usage error" gs frobnicate
check_exit 64 "an unknown option is a usage error" gs sign --frobnicate
check "--help lists every command" sh -c "'$GALSMIME' --help | grep -q encrypt"
