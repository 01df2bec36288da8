#!/bin/sh
# Trust anchors: what `trust import` accepts works as an anchor, or is
# refused with the reason. An issuing CA imported alone is an anchor
# (signatures and encryption through it work); an expired or not yet
# valid CA, a CA that may not sign certificates, a CA for other usages
# than e-mail, a leaf are refused; a self-signed certificate vouches for
# itself. From a Windows .sst, Microsoft's own trust properties count: a
# disallowed root, a root trusted for TLS only, and a root limited to
# certificates issued before a date (NotBefore) are each handled.
. "$TESTS_TOP/tests/lib.sh"

SST="$TESTS_TOP/tests/gal/fmt_sst.py"

# ---- fixtures: messages, and CAs made here ----
cat >entity.txt <<'EOF'
Content-Type: text/plain; charset=utf-8

Hello Bob,
this is a signed test message.
EOF
# osign USER OUT [ARGS]: openssl smime -sign as USER (From USER's address)
osign() {
	u=$1 out=$2; shift 2
	addr=$(openssl x509 -in "$PKI/$u.crt" -noout -email 2>/dev/null | head -1)
	[ -f "$u.crt" ] && addr=$(openssl x509 -in "$u.crt" -noout -email | head -1)
	crt=$PKI/$u.crt key=$PKI/$u.key
	[ -f "$u.crt" ] && crt=$u.crt key=$u.key
	{
		printf 'From: %s <%s>\nTo: Bob Example <bob@example.org>\nSubject: signed by %s\n' "$u" "$addr" "$u"
		printf 'Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <%s.t11@example.org>\n' "$u"
		openssl smime -sign -in entity.txt -signer "$crt" -inkey "$key" "$@"
	} >"$out"
}
# verify_in HOME WANT DESC MSG: galsmime verify with the store HOME exits WANT
verify_in() {
	h=$1 want=$2 desc=$3 in=$4
	"$GALSMIME" --home "$h" verify <"$in" >v.out 2>v.err
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc" "exit $rc, wanted $want: $(cat v.err)"; fi
}

check "alice signs with no chain in the message" osign alice alice-bare.eml
check "alice signs with the intermediate only" osign alice alice-inter.eml -certfile "$PKI/inter.crt"
check "mallory (evil CA) signs" osign mallory mallory.eml -certfile "$PKI/evil.crt"
check "henry2 (issued 2026-01-01) signs" osign henry2 henry2.eml
check "henry (issued 2025-03-01) signs" osign henry henry.eml

cp -r "$PKI/ca-root" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
# ca_section NAME KEYUSAGE [EKU]: a CA extension section
ca_section() {
	printf '[ %s ]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, %s\nsubjectKeyIdentifier = hash\n' "$1" "$2"
	[ -z "${3:-}" ] || printf 'extendedKeyUsage = %s\n' "$3"
}
{
	ca_section ca_nocertsign "digitalSignature, cRLSign"
	ca_section ca_tls "keyCertSign, cRLSign" serverAuth
	ca_section ca_tls_any "keyCertSign, cRLSign" "serverAuth, anyExtendedKeyUsage"
	ca_section ca_email "keyCertSign, cRLSign" emailProtection
	cat <<'EOF'
[ ee_self ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
subjectAltName = email:copy
EOF
} >>ca/ca.cnf
# selfsigned NAME EXT START END [SUBJECT]
selfsigned() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null &&
	openssl req -new -key "$1.key" -subj "${5:-/O=galsmime test/CN=t11 $1}" -out "$1.csr" &&
	openssl ca -batch -config ca/ca.cnf -selfsign -keyfile "$1.key" -in "$1.csr" -extensions "$2" \
		-startdate "$3" -enddate "$4" -notext -out "$1.crt" 2>/dev/null
}
check "an expired CA" selfsigned expired v3_ca 20100101000000Z 20150101000000Z
check "a CA valid only from 2040" selfsigned future v3_ca 20400101000000Z 20450101000000Z
check "a CA whose keyUsage lacks keyCertSign" selfsigned nocertsign ca_nocertsign 20200101000000Z 20450101000000Z
check "a CA for TLS only" selfsigned tls ca_tls 20200101000000Z 20450101000000Z
check "a CA for TLS and anyExtendedKeyUsage" selfsigned tlsany ca_tls_any 20200101000000Z 20450101000000Z
check "a CA for e-mail" selfsigned email ca_email 20200101000000Z 20450101000000Z
check "sally: a self-signed end-entity certificate for e-mail" \
	selfsigned sally ee_self 20250101000000Z 20351231000000Z "/O=galsmime test/CN=Sally Self/emailAddress=sally@example.org"
check "sally signs" osign sally sally.eml

# ---- an issuing CA alone is an anchor ----
I=$T_DIR/inter-only
gs --home "$I" trust import "$PKI/inter.crt" >imp.out 2>&1
check "trust import of the intermediate alone: 1 trust anchors added" contains imp.out '1 trust anchors added, 0 already there$'
verify_in "$I" 0 "trusting only the intermediate: alice's signature (no chain in the message) is good" alice-bare.eml
verify_in "$I" 0 "... and with the intermediate in the message" alice-inter.eml
verify_in "$I" 1 "... mallory's (another CA) is not" mallory.eml
gs --home "$I" cert import "$PKI/bob.crt" >/dev/null
msg alice@example.org bob@example.org >to-bob.eml
gs --home "$I" encrypt --no-self <to-bob.eml >enc.out 2>enc.err
rc=$?
if [ $rc = 0 ] && [ -s enc.out ]; then pass "trusting only the intermediate: encrypt to bob works"; else fail "trusting only the intermediate: encrypt to bob works" "exit $rc: $(cat enc.err)"; fi
R=$T_DIR/root-only
gs --home "$R" trust import "$PKI/root.crt" >/dev/null 2>&1
verify_in "$R" 0 "trusting only the root: alice's signature with the intermediate in it is good" alice-inter.eml
verify_in "$R" 1 "... without the intermediate anywhere: untrusted (exit 1)" alice-bare.eml
gs --home "$R" cert import "$PKI/inter.crt" "$PKI/bob.crt" >/dev/null
check "trusting only the root, the intermediate known: encrypt to bob works" \
	sh -c "'$GALSMIME' --home '$R' encrypt --no-self <to-bob.eml >/dev/null"

# ---- refusals: never "added" and then useless ----
# refused FILE PATTERN DESC: trust import exits 64, says why on stderr,
# and the certificate is not an anchor
refused() {
	gs trust import "$1" >r.out 2>r.err
	rc=$?
	if [ $rc = 64 ] && grep -q -- "$2" r.err && ! grep -q 'trust anchors added' r.out; then
		pass "$3: refused (exit 64), saying '$2'"
	else
		fail "$3: refused (exit 64), saying '$2'" "exit $rc: $(cat r.out r.err)"
	fi
	subj=$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	if gs trust list | grep -qF "$subj"; then fail "... and it is not in the trust list" "$subj"; else pass "... and it is not in the trust list"; fi
}
refused expired.crt "expired on 2015-01-01" "an expired CA"
refused future.crt "not valid until 2040-01-01" "a CA not yet valid"
refused nocertsign.crt "keyUsage lacks keyCertSign" "a CA that may not sign certificates"
refused tls.crt "extendedKeyUsage excludes emailProtection" "a CA for TLS only"
refused "$PKI/bob.crt" "neither a CA nor self-signed" "a leaf certificate"
check "... the refusal is one line per certificate, then the summary" \
	sh -c "gs() { '$GALSMIME' \"\$@\"; }; gs trust import tls.crt 2>&1 >/dev/null | grep -c . | grep -qx 2"
check "a CA for TLS and anyExtendedKeyUsage is accepted" sh -c "'$GALSMIME' trust import tlsany.crt | grep -q '1 trust anchors added'"
check "a CA for e-mail is accepted" sh -c "'$GALSMIME' trust import email.crt | grep -q '1 trust anchors added'"
gs trust import sally.crt >imp.out 2>imp.err
rc=$?
if [ $rc = 0 ] && grep -q '1 trust anchors added' imp.out; then pass "a self-signed end-entity certificate is accepted"; else fail "a self-signed end-entity certificate is accepted" "exit $rc: $(cat imp.out imp.err)"; fi
check "... without calling it 'neither a CA nor self-signed'" lacks imp.err 'neither a CA nor self-signed'
verify_in "$GALSMIME_HOME" 0 "... and sally's own signature is good through it" sally.eml

# a file with usable and unusable certificates: the usable ones are
# imported, each other one reported, exit 0
cat "$PKI/root.crt" expired.crt "$PKI/bob.crt" >mixed.pem
M=$T_DIR/mixed
gs --home "$M" trust import mixed.pem >imp.out 2>imp.err
rc=$?
if [ $rc = 0 ]; then pass "a mixed bundle: exit 0 (one anchor added)"; else fail "a mixed bundle: exit 0 (one anchor added)" "exit $rc: $(cat imp.err)"; fi
check "... summary: 1 added, 2 refused" contains imp.out '^mixed\.pem: 1 trust anchors added, 0 already there, 2 refused$'
check "... one line for each refused certificate" test "$(grep -c 'refused:' imp.err)" = 2
check "... naming certificate 2 (expired) and 3 (bob)" \
	sh -c "grep -q 'certificate 2 (.*t11 expired.*) refused: expired' imp.err && grep -q 'certificate 3 (.*Bob Example.*) refused: neither' imp.err"
check "... the refused certificates are not even stored" \
	test "$(sqlite3 "$M/galsmime.db" 'SELECT count(*) FROM certificate')" = 1
check "importing the bundle again: 0 added, 1 already there, exit 0" \
	sh -c "'$GALSMIME' --home '$M' trust import mixed.pem 2>/dev/null | grep -q '0 trust anchors added, 1 already there, 2 refused'"

# ---- Microsoft's trust properties in an .sst ----
EMAIL=1.3.6.1.5.5.7.3.4 TLS=1.3.6.1.5.5.7.3.1
# sst_store NAME PROPS...: a store trusting the root through NAME.sst
# (the root with these --prop N:ID:VALUE properties); output in NAME.out/.err
sst_store() {
	n=$1; shift
	python3 "$SST" "$n.sst" "$@" "$PKI/root.crt" "$PKI/inter.crt" &&
	gs --home "$T_DIR/$n" cert import "$PKI/inter.crt" >/dev/null 2>&1
	gs --home "$T_DIR/$n" trust import "$n.sst" >"$n.out" 2>"$n.err"
}
sst_store plain
check "an .sst without properties: both CAs are anchors" contains plain.out '^plain\.sst: 2 trust anchors added, 0 already there$'

sst_store disallowed --prop 1:104:filetime:2024-06-01
check "a root Microsoft disallowed (104): the summary counts it" contains disallowed.out '1 refused \(1 disallowed by Microsoft, 0 not trusted for e-mail'
check "... its line says Microsoft disallows it" contains disallowed.err 'certificate 1 (.*galsmime test root CA.*) refused: Microsoft disallows it$'
check "... the intermediate (no properties) is still an anchor" contains disallowed.out '1 trust anchors added'
check "... the root is not in the trust list" sh -c "! '$GALSMIME' --home '$T_DIR/disallowed' trust list | grep -q 'subject  .*test root CA'"
sst_store disallowed_only --prop 1:104:filetime:2024-06-01 --prop 2:104:filetime:2024-06-01
check_exit 64 "an .sst whose every root Microsoft disallowed: nothing added, exit 64" \
	gs --home "$T_DIR/disallowed_only" trust import disallowed_only.sst
verify_in "$T_DIR/disallowed_only" 1 "... and alice's signature is not good (exit 1)" alice-inter.eml

sst_store dis_email --prop 1:122:eku:$EMAIL,$TLS
check "a root disallowed for e-mail (122 names emailProtection): refused as disallowed" \
	contains dis_email.err 'refused: Microsoft disallows it for e-mail'
sst_store dis_tls --prop 1:104:filetime:2024-06-01 --prop 1:122:eku:$TLS
check "a root disallowed for TLS only (104 with 122 = serverAuth): still an e-mail anchor" \
	contains dis_tls.out '^dis_tls\.sst: 2 trust anchors added'
sst_store eku_tls --prop 1:9:eku:$TLS
check "a root Microsoft trusts for TLS only (9 = serverAuth): refused, counted as not for e-mail" \
	contains eku_tls.out '1 refused \(0 disallowed by Microsoft, 1 not trusted for e-mail'
check "... saying so" contains eku_tls.err 'refused: Microsoft trusts it for other usages than e-mail only'
sst_store eku_none --prop 1:9:eku:
check "a root with an empty EKU property (trusted for nothing): refused" contains eku_none.out '1 refused'
sst_store eku_email --prop 1:9:eku:$TLS,$EMAIL
check "a root Microsoft trusts for e-mail (9 names emailProtection): an anchor" \
	contains eku_email.out '^eku_email\.sst: 2 trust anchors added'
sst_store nb_eku_nodate --prop 1:127:eku:$EMAIL
check "e-mail limited by 127 without a 126 date: refused" contains nb_eku_nodate.err 'refused: Microsoft limits it for e-mail without a date'

# NotBefore: the root trusted only for certificates issued before
# 2025-06-01; alice (issued 2025-01-01) and henry (2025-03-01) are,
# henry2 (2026-01-01) is not. Both the root and the intermediate carry it
# (the chain ends at whichever anchor OpenSSL reaches first).
sst_store nb --prop 1:126:filetime:2025-06-01 --prop 2:126:filetime:2025-06-01
check "NotBefore (126): both anchors added, counted as limited" \
	contains nb.out '2 trust anchors added, 0 already there; 2 only for certificates issued before a date'
check "... trust list shows the limit" \
	sh -c "'$GALSMIME' --home '$T_DIR/nb' trust list | grep -q 'trusted  only for certificates issued before 2025-06-01'"
verify_in "$T_DIR/nb" 0 "... alice (issued before) signs good" alice-inter.eml
verify_in "$T_DIR/nb" 0 "... henry (issued before) signs good" henry.eml
verify_in "$T_DIR/nb" 1 "... henry2 (issued after) is not good (exit 1)" henry2.eml
check "... the report says why" grep -q 'issued after the date its trust anchor is limited to' v.err
gs --home "$T_DIR/nb" cert import "$PKI/henry.crt" "$PKI/henry2.crt" >/dev/null
gs --home "$T_DIR/nb" gal explain henry@example.org >explain.out 2>&1
check "gal explain henry: the newer certificate is untrusted for that reason" \
	grep -q 'issued after the date its trust anchor is limited to' explain.out
msg alice@example.org henry@example.org >to-henry.eml
gs --home "$T_DIR/nb" encrypt --no-self <to-henry.eml >enc.out 2>enc.err
check "encrypt to henry: the older certificate, issued before the limit, is used" \
	sh -c "openssl cms -decrypt -inkey '$PKI/henry.key' -recip '$PKI/henry.crt' -in enc.out -inform SMIME >/dev/null 2>&1"
gs --home "$T_DIR/nb" trust import "$PKI/root.crt" "$PKI/inter.crt" >/dev/null 2>&1
verify_in "$T_DIR/nb" 1 "a plain re-import of the same CAs does not lift the limit" henry2.eml
sst_store nb_tls --prop 1:126:filetime:2025-06-01 --prop 1:127:eku:$TLS --prop 2:126:filetime:2025-06-01 --prop 2:127:eku:$TLS
check "NotBefore for TLS only (127 = serverAuth): not limited for e-mail" contains nb_tls.out '2 trust anchors added, 0 already there$'
verify_in "$T_DIR/nb_tls" 0 "... henry2 signs good" henry2.eml
sst_store nb_email --prop 1:126:filetime:2025-06-01 --prop 1:127:eku:$EMAIL --prop 2:126:filetime:2025-06-01 --prop 2:127:eku:$EMAIL
verify_in "$T_DIR/nb_email" 1 "NotBefore for e-mail (127 names emailProtection): henry2 is not good" henry2.eml
sst_store nb_bad --prop 1:126:hex:0102
check "a NotBefore date that is not a FILETIME: refused" contains nb_bad.err 'not-before date cannot be read'
