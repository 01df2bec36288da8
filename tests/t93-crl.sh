#!/bin/sh
# Revocation: galsmime crl import (PEM, DER, PKCS#7), crl list, and
# crl update against a local HTTP server on 127.0.0.1; what a revoked
# certificate does to encrypt (refused, "revoked"), gal explain and
# verify (bad, "revoked"); a stale CRL (warned about, still used); CRLs
# that must be refused (unknown or forged issuer, delta, garbage); and
# that the filters never fetch anything themselves.
. "$TESTS_TOP/tests/lib.sh"

dump() { sqlite3 "$GALSMIME_HOME/galsmime.db" "SELECT issuer, this_update, url FROM crl ORDER BY issuer"; }

# ---- a copy of the test intermediate CA, to revoke with ----
cp -r "$PKI/ca-inter" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
cat >>ca/ca.cnf <<'EOF'
[ v3_cdp ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:copy
crlDistributionPoints = @cdp
EOF
CA="openssl ca -batch -config ca/ca.cnf -cert $PKI/inter.crt -keyfile $PKI/inter.key"
# gencrl NAME [ARGS]: a CRL of the intermediate CA as it stands now
gencrl() {
	n=$1; shift
	[ $# -gt 0 ] || set -- -crldays 30
	$CA -gencrl "$@" -out "$n" 2>/dev/null
}

# ---- the HTTP server (loopback): serves ./www, logs each request ----
mkdir www
cat >server.py <<'EOF'
import http.server, socketserver, sys, os, time
os.chdir("www")
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open("../requests.log", "a") as f:
            f.write(self.path + "\n")
    def do_GET(self):
        if self.path == "/hang":
            self.log_message("")
            time.sleep(30)
            return
        super().do_GET()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
with open("../port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 server.py 2>server.err &
srv=$!
trap 'kill $srv 2>/dev/null; t_finish' EXIT
for i in $(seq 50); do [ -s port ] && break; sleep 0.1; done
PORT=$(cat port)
check "the local HTTP server listens on 127.0.0.1" test -n "$PORT"
: >requests.log

# leaf NAME URI...: a certificate for NAME@example.org from the copied CA
# with these CRL distribution points
leaf() {
	n=$1; shift
	{ i=1; echo "[ cdp ]"; for u in "$@"; do echo "URI.$i = $u"; i=$((i + 1)); done; } >cdp.cnf
	sed -i '/^\[ cdp \]/,$d' ca/ca.cnf
	cat cdp.cnf >>ca/ca.cnf
	openssl req -new -newkey rsa:2048 -nodes -keyout "$n.key" -subj "/CN=$n/emailAddress=$n@example.org" \
		-out "$n.csr" 2>/dev/null &&
	$CA -in "$n.csr" -extensions v3_cdp -startdate 20250101000000Z -enddate 20351231000000Z \
		-notext -out "$n.crt" 2>/dev/null
}

check "store setup: trust the root, alice's identity" store_setup
check "bob's certificate known" gs cert import "$PKI/bob.crt"
check "rita: a certificate with a CRL point on the local server" \
	leaf rita "http://127.0.0.1:$PORT/inter.crl" "ldap://ldap.example.org/cn=inter?certificateRevocationList"
check "sam: a certificate whose CRL point is not served (404)" leaf sam "http://127.0.0.1:$PORT/missing.crl"
check "rita and sam known" gs cert import rita.crt sam.crt

msg alice@example.org bob@example.org >to-bob.eml
msg alice@example.org rita@example.org >to-rita.eml
(GALSMIME_HOME=$T_DIR/bobstore; store_setup >/dev/null)
gs --home "$T_DIR/bobstore" key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null
msg bob@example.org alice@example.org >from-bob.eml
gs --home "$T_DIR/bobstore" sign --from bob@example.org --passphrase-file "$PKI/pass" <from-bob.eml >bob-signed.eml
msg alice@example.org bob@example.org >from-alice.eml
gs sign --passphrase-file "$PKI/pass" <from-alice.eml >alice-signed.eml
check "fixtures: a message signed by bob, one by alice" test -s bob-signed.eml -a -s alice-signed.eml

# ---- before any CRL ----
check "crl list on an empty store: says so, exit 0" sh -c "'$GALSMIME' crl list 2>&1 | grep -q 'no revocation lists'"
check "encrypt to bob works before revocation" sh -c "'$GALSMIME' encrypt <to-bob.eml >/dev/null"
check_exit 0 "bob's signature is good before revocation" gs verify <bob-signed.eml

# ---- CRLs ----
check "CRL 1: nobody revoked yet" gencrl empty.crl
sleep 1
check "revoke bob in the CA's database" sh -c "$CA -revoke '$PKI/bob.crt' 2>/dev/null"
check "CRL 2: bob revoked" gencrl bob-revoked.crl
check "the CRL lists bob's serial" sh -c "openssl crl -in bob-revoked.crl -noout -text | grep -q 'Serial Number: 1001'"
openssl crl -in bob-revoked.crl -outform DER -out bob-revoked.der
openssl crl2pkcs7 -in bob-revoked.crl -certfile "$PKI/inter.crt" -outform DER -out bob-revoked.p7b

# ---- refusals first: the store must stay without CRLs ----
echo "this is not a CRL" >junk.crl
check_exit 65 "crl import of garbage: exit 65" gs crl import junk.crl
check "... one line naming the file" sh -c "'$GALSMIME' crl import junk.crl 2>&1 >/dev/null | grep -q '^galsmime crl: junk.crl: no certificate revocation list'"
cp -r "$PKI/ca-evil" evilca
sed -i 's|^dir = .*|dir = evilca|' evilca/ca.cnf
openssl ca -batch -config evilca/ca.cnf -cert "$PKI/evil.crt" -keyfile "$PKI/evil.key" -gencrl -crldays 30 \
	-out evil.crl 2>/dev/null
check "a CRL from a CA the store does not know exists" test -s evil.crl
check_exit 65 "crl import of a CRL no stored certificate signed: exit 65" gs crl import evil.crl
check "... says to import its CA first" sh -c "'$GALSMIME' crl import evil.crl 2>&1 | grep -q 'no certificate in the store signed it'"
# a forged CRL: the intermediate's name, signed by another key
sed -i 's|^dir = .*|dir = evilca|' evilca/ca.cnf
openssl req -new -x509 -key "$PKI/evil.key" -subj "/CN=galsmime test intermediate CA/O=galsmime test" \
	-days 30 -out fakeinter.crt 2>/dev/null
openssl ca -batch -config evilca/ca.cnf -cert fakeinter.crt -keyfile "$PKI/evil.key" -gencrl -crldays 30 \
	-out forged.crl 2>/dev/null
check "a forged CRL carries the intermediate's issuer name" sh -c "openssl crl -in forged.crl -noout -issuer | grep -q 'galsmime test intermediate CA'"
check_exit 65 "crl import of a CRL with the right name and the wrong key: exit 65" gs crl import forged.crl
# a delta CRL (deltaCRLIndicator), correctly signed
echo 1000 >ca/crlnumber
printf '[ delta ]\ndeltaCRL = critical,DER:02:01:01\n' >delta.cnf
cat ca/ca.cnf delta.cnf >ca/delta.cnf
openssl ca -batch -config ca/delta.cnf -cert "$PKI/inter.crt" -keyfile "$PKI/inter.key" -gencrl \
	-crldays 30 -crlexts delta -out delta.crl 2>/dev/null
rm -f ca/crlnumber
check "a delta CRL carries the delta indicator" sh -c "openssl crl -in delta.crl -noout -text | grep -q 'Delta CRL Indicator'"
check_exit 65 "crl import of a delta CRL: refused, exit 65" gs crl import delta.crl
check "... saying delta CRLs are not supported" sh -c "'$GALSMIME' crl import delta.crl 2>&1 | grep -q 'delta CRL'"
check "after the refusals the store holds no CRL" test -z "$(dump)"

# ---- import ----
check "crl import of the newer CRL (PEM): 1 new" sh -c "'$GALSMIME' crl import bob-revoked.crl | grep -q ': 1 new, 0 replaced'"
check "again (DER): unchanged" sh -c "'$GALSMIME' crl import bob-revoked.der | grep -q ': 0 new, 0 replaced an older one, 1 unchanged'"
check "again (PKCS#7 bundle): unchanged" sh -c "'$GALSMIME' crl import bob-revoked.p7b | grep -q '1 unchanged'"
check "the older CRL does not replace the newer one" sh -c "'$GALSMIME' crl import empty.crl | grep -q '1 unchanged'"
check "one CRL stored, for the intermediate" test "$(dump | wc -l)" = 1
check "crl list shows the issuer, 1 revoked, the origin" sh -c "'$GALSMIME' crl list >list.out && grep -q 'galsmime test intermediate CA' list.out && grep -q 'revoked  1 certificates' list.out && grep -q 'bob-revoked.crl' list.out"
lacks_stale() { ! grep -q STALE list.out; }
check "... and it is not stale" lacks_stale

# ---- what revocation does ----
gs encrypt <to-bob.eml >enc.out 2>enc.err
rc=$?
if [ $rc = 67 ]; then pass "encrypt to revoked bob: refused, exit 67"; else fail "encrypt to revoked bob: refused, exit 67" "exit $rc: $(cat enc.err)"; fi
check "... nothing on stdout" test ! -s enc.out
check "... the reason says revoked" grep -q 'bob@example.org: .*revoked' enc.err
check "gal explain bob: verdict revoked" sh -c "'$GALSMIME' gal explain bob@example.org | grep -q 'verdict    revoked'"
check "... said once: 'verdict    revoked (the revocation list ...)', not 'revoked: revoked'" \
	sh -c "'$GALSMIME' gal explain bob@example.org | grep -q '^    verdict    revoked (the revocation list of its CA lists it)\$'"
check_exit 1 "verify bob's signature: bad (exit 1)" gs verify <bob-signed.eml
check "... the report says certificate revoked" sh -c "'$GALSMIME' verify <bob-signed.eml 2>&1 >/dev/null | grep -q 'BAD signature from .*certificate revoked'"
check "... JSON reasons: revoked" sh -c "'$GALSMIME' verify --json <bob-signed.eml | grep -q '\"reasons\":\[\"revoked\"\]'"
check "... Authentication-Results: smime=fail (certificate revoked)" sh -c "'$GALSMIME' verify --annotate <bob-signed.eml | grep -q 'smime=fail (certificate revoked)'"
check_exit 0 "alice's signature (same CA, not revoked) stays good" gs verify <alice-signed.eml
check "... with no warning" sh -c "! '$GALSMIME' verify <alice-signed.eml 2>&1 | grep -q WARNING"
msg alice@example.org alice@example.org >to-alice.eml
check "encrypt to alice (same CA, not revoked) works" sh -c "'$GALSMIME' encrypt <to-alice.eml >/dev/null"

# ---- stale: a CRL past its nextUpdate is used, and said to be stale ----
rm -rf "$GALSMIME_HOME"
store_setup >/dev/null
gs cert import "$PKI/bob.crt" >/dev/null
check "a CRL that was current in January 2026 (bob revoked)" \
	gencrl stale.crl -crl_lastupdate 20260101000000Z -crl_nextupdate 20260201000000Z
check "crl import of the stale CRL" gs crl import stale.crl
check "crl list marks it STALE" sh -c "'$GALSMIME' crl list | grep -q STALE"
check_exit 1 "a revoked certificate in a stale CRL is still revoked" gs verify <bob-signed.eml
check_exit 0 "alice's signature: still good" gs verify <alice-signed.eml
check "... with a warning that the revocation list is out of date" sh -c "'$GALSMIME' verify <alice-signed.eml 2>&1 | grep -q 'WARNING: revocation list out of date'"
check "... JSON: status good, reasons crl-stale" sh -c "'$GALSMIME' verify --json <alice-signed.eml | grep -q '\"status\":\"good\",\"reasons\":\[\"crl-stale\"\]'"
check "... Authentication-Results: pass, with the note" sh -c "'$GALSMIME' verify --annotate <alice-signed.eml | tr -d '\n\t' | grep -q 'smime=pass (revocation list out of date)'"
check "encrypt to alice still works with a stale CRL" sh -c "'$GALSMIME' encrypt <to-alice.eml >/dev/null"
check "gal explain says the revocation list is out of date" sh -c "'$GALSMIME' gal explain alice@example.org | grep -q 'revocation list of its CA is out of date'"
check "a newer CRL replaces the stale one" sh -c "'$GALSMIME' crl import bob-revoked.crl | grep -q '1 replaced'"
check "... and the warning is gone" sh -c "! '$GALSMIME' verify <alice-signed.eml 2>&1 | grep -q WARNING"

# ---- crl update over HTTP ----
contains_url() { dump | grep -q "http://127.0.0.1:$PORT/inter.crl"; }
rm -rf "$GALSMIME_HOME"
store_setup >/dev/null
gs cert import "$PKI/bob.crt" rita.crt sam.crt >/dev/null
cp bob-revoked.crl www/inter.crl
: >requests.log
check_exit 0 "verify does not fetch CRLs (exit 0, before any update)" gs verify <bob-signed.eml
check "encrypt does not fetch either" sh -c "'$GALSMIME' encrypt <to-rita.eml >/dev/null"
check "the filters made no request to the CRL server" test ! -s requests.log
gs crl update --timeout 5 >upd.out 2>upd.err
rc=$?
if [ $rc != 0 ]; then pass "crl update with one point failing: non-zero exit ($rc)"; else fail "crl update with one point failing: non-zero exit" "$(cat upd.out upd.err)"; fi
check "... fetched rita's point: 1 new" grep -q "^http://127.0.0.1:$PORT/inter.crl: 1 new" upd.out
check "... sam's point: HTTP status 404, on stderr" grep -q "missing.crl: HTTP status 404" upd.err
check "... the ldap:// point: skipped" grep -q '^ldap://.*skipped' upd.out
check "... the summary" grep -q '3 distribution points: 1 fetched, 1 failed, 1 skipped' upd.out
check "the server saw both requests" test "$(sort -u requests.log | tr '\n' ' ')" = "/inter.crl /missing.crl "
check "the stored CRL records its URL" contains_url

check_exit 1 "after the update bob's signature is bad (revoked)" gs verify <bob-signed.eml
gs encrypt <to-bob.eml >/dev/null 2>enc.err
check "... and encrypt to bob is refused as revoked" grep -q revoked enc.err
check "crl update again: unchanged" sh -c "'$GALSMIME' crl update --timeout 5 2>/dev/null | grep -q 'inter.crl: 0 new, 0 replaced an older one, 1 unchanged'"
# a server that accepts and never answers: the timeout holds
check "tom: a certificate whose CRL point hangs" leaf tom "http://127.0.0.1:$PORT/hang"
rm -rf "$GALSMIME_HOME"
store_setup >/dev/null
gs cert import tom.crt >/dev/null
start=$(date +%s)
gs crl update --timeout 2 >upd.out 2>upd.err
rc=$?
took=$(($(date +%s) - start))
if [ $rc != 0 ] && [ $took -lt 15 ]; then pass "crl update of a hanging server gives up (timeout 2 s, took ${took}s)"; else fail "crl update of a hanging server gives up" "exit $rc after ${took}s: $(cat upd.err)"; fi
check "... saying it timed out" grep -qi 'timeout\|timed out' upd.err
check_exit 64 "crl update --timeout 0: usage error" gs crl update --timeout 0
check_exit 64 "crl with no subcommand: usage error" gs crl
check "the store is sound after all this" sh -c "echo 'PRAGMA integrity_check;' | sqlite3 '$GALSMIME_HOME/galsmime.db' | grep -qx ok"

# ---- crl update fetches only the points of anchors and of certificates
# whose chain reaches one: a stranger's certificate (cert import, gal
# import) must not make galsmime call a URL of the stranger's choosing ----
# evilleaf NAME URI: a certificate for NAME from the untrusted evil CA
# (with FAKE=1 from a fake intermediate: the real one's name, the evil
# key; with CA=1 a CA certificate) with this CRL distribution point
evilleaf() {
	{
		echo "[ v3_cdp ]"
		if [ -n "${CA:-}" ]; then echo "basicConstraints = critical, CA:TRUE"; else echo "basicConstraints = CA:FALSE"; fi
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid"
		echo "subjectAltName = email:copy"
		echo "crlDistributionPoints = URI:$2"
	} >evilleaf.cnf
	cat evilca/ca.cnf evilleaf.cnf >evilca/leaf.cnf
	cacert=$PKI/evil.crt
	[ -z "${FAKE:-}" ] || cacert=fakeinter.crt
	openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -subj "/CN=$1/emailAddress=$1@example.org" \
		-out "$1.csr" 2>/dev/null &&
	openssl ca -batch -config evilca/leaf.cnf -cert "$cacert" \
		-keyfile "$PKI/evil.key" -in "$1.csr" -extensions v3_cdp -startdate 20250101000000Z \
		-enddate 20351231000000Z -notext -out "$1.crt" 2>/dev/null
}
check "eve: a certificate from the untrusted evil CA, CRL point /eve.crl" evilleaf eve "http://127.0.0.1:$PORT/eve.crl"
check "gus: another one, brought by gal import, CRL point /gus.crl" evilleaf gus "http://127.0.0.1:$PORT/gus.crl"
fake_leaf() { FAKE=1 evilleaf "$@"; }
ca_leaf() { CA=1 evilleaf "$@"; }
check "fay: the intermediate's name, the evil key, CRL point /fay.crl" fake_leaf fay "http://127.0.0.1:$PORT/fay.crl"
check "ivy: a CA certificate from the evil CA, CRL point /ivy.crl" ca_leaf ivy "http://127.0.0.1:$PORT/ivy.crl"
openssl req -x509 -newkey rsa:2048 -nodes -keyout own.key -subj "/O=galsmime test/CN=t93 anchor with a CRL point" \
	-days 3650 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "crlDistributionPoints=URI:http://127.0.0.1:$PORT/anchor.crl" -out own.crt 2>/dev/null
check "an anchor of our own with a CRL point /anchor.crl" test -s own.crt
rm -rf "$GALSMIME_HOME"
store_setup >/dev/null
gs trust import own.crt >/dev/null
check "eve, fay and ivy by cert import; rita (trusted) too" gs cert import eve.crt fay.crt ivy.crt rita.crt
check "gus by gal import" gs gal import gus.crt
check "the store holds the strangers' certificates" \
	test "$(sqlite3 "$GALSMIME_HOME/galsmime.db" "SELECT count(*) FROM certificate WHERE subject LIKE '%CN=eve%' OR subject LIKE '%CN=gus%' OR subject LIKE '%CN=fay%' OR subject LIKE '%CN=ivy%'")" = 4
: >requests.log
gs crl update --timeout 5 >upd.out 2>upd.err
check "crl update fetched the trusted certificate's point" grep -q '^/inter.crl$' requests.log
check "... and the anchor's own point" grep -q '^/anchor.crl$' requests.log
check "... no request for eve's point (untrusted CA, cert import)" sh -c "! grep -q eve.crl requests.log"
check "... none for gus's (untrusted CA, gal import)" sh -c "! grep -q gus.crl requests.log"
check "... none for fay's (the intermediate's name, another key)" sh -c "! grep -q fay.crl requests.log"
check "... none for ivy's (a CA certificate from the untrusted CA)" sh -c "! grep -q ivy.crl requests.log"
check "... nor does its output name them" sh -c "! grep -q 'eve\|gus\|fay\|ivy' upd.out upd.err"
check "... the summary counts the trusted points only (inter, ldap, anchor)" \
	grep -q '^3 distribution points:' upd.out
check "the trusted anchor's untrusted twin stays untrusted: trusting eve's CA fetches eve's point" \
	sh -c "'$GALSMIME' trust import '$PKI/evil.crt' >/dev/null && : >requests.log && '$GALSMIME' crl update --timeout 5 >/dev/null 2>&1; grep -q eve.crl requests.log"
