#!/bin/sh
# gal sync of every attribute shape Active Directory, Exchange and DavMail
# give a recipient, in one directory of a few hundred entries
# (tests/gal/ad_ldif.py: mail, proxyAddresses SMTP:/smtp:/X500:,
# targetAddress, displayName, cn, mailNickname, objectClass user, contact,
# group, userCertificate;binary (16 values), userSMIMECertificate as DER,
# as PKCS#7 with its chain and as one PKCS#7 of 16 certificates,
# msExchangeCertificate), loaded into a real slapd and synced; the same
# LDIF imported with gal import into another store: the same entries, and
# gal explain says the same of every address in both stores, hostile
# entries included (the trust issue's takeover shapes: a certificate
# naming another address, a contact claiming an address or a proxy
# address bound elsewhere, a CA nobody trusts, expired, revoked), each
# refused or flagged as it is from the file. DavMail's lower-case
# usersmimecertificate;binary / msexchangecertificate;binary read from
# LDIF. An entry changed between two syncs (certificate replaced, an
# address removed): the new certificate, the address and the old
# certificate gone.
. "$TESTS_TOP/tests/gal/lib.sh"
. "$TESTS_TOP/tests/ldap-lib.sh"

if ! why=$(slapd_usable); then
	skip "gal sync shapes" "$why"
	exit 0
fi
BULK=300
BASE='ou=gal,dc=example,dc=org'

# 16 certificates for many@example.org, and a second one for alice, from
# the test intermediate CA
cp -r "$PKI/ca-inter" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
CA="openssl ca -batch -config ca/ca.cnf -cert $PKI/inter.crt -keyfile $PKI/inter.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null
issue() { # issue OUT CN ADDRESS
	openssl req -new -key k.pem -subj "/CN=$2/emailAddress=$3" -out req.pem 2>/dev/null &&
		$CA -extensions v3_ec -days 30 -in req.pem -out "$1" >/dev/null 2>&1 &&
		openssl x509 -in "$1" -out "$1.tmp" && mv "$1.tmp" "$1"
}
ok=1
for i in $(seq 0 15); do issue "$(printf 'many-%02d.pem' "$i")" "Many $i" many@example.org || ok=0; done
issue alice2.pem "Alice Example" alice@example.org || ok=0
check "17 certificates issued by the test intermediate" test $ok = 1
check "grace revoked: the intermediate's CRL" sh -c "$CA -revoke '$PKI/grace.crt' >/dev/null 2>&1 &&
	$CA -gencrl -crldays 30 -out inter.crl >/dev/null 2>&1"
check "the directory in every shape ($BULK plain entries more)" python3 "$TESTS_TOP/tests/gal/ad_ldif.py" \
	"$PKI" shapes.ldif $BULK
N=$((BULK + 13))

# two stores alike: trust the root, know the intermediate, the CRL
main_home=$GALSMIME_HOME
for h in ldif ldap; do
	export GALSMIME_HOME="$T_DIR/store-$h"
	gs trust import "$PKI/root.crt" >/dev/null && gs cert import "$PKI/inter.crt" >/dev/null &&
		gs crl import inter.crl >/dev/null || fail "store-$h set up"
done

# ---- the file ----
GALSMIME_HOME=$T_DIR/store-ldif
check_exit 0 "gal import shapes.ldif" gs gal import --source corp shapes.ldif

# ---- the directory ----
SLAPD_SCHEMA_EXTRA=$TESTS_TOP/tests/gal/ad-classes.ldif
if slapd_init >init.out 2>&1; then pass "slapd with galsmime's schema and AD's classes"
else fail "slapd with galsmime's schema and AD's classes" "$(cat init.out)"; fi
if slapd_start >start.out 2>&1; then pass "slapd starts"; else fail "slapd starts" "$(cat start.out)"; fi
slapd_base_ldif >base.ldif
check "ldapadd the base" slapd_add base.ldif
check "ldapadd every shape: slapd takes the export as it is" slapd_add shapes.ldif
GALSMIME_HOME=$T_DIR/store-ldap
check_exit 0 "gal sync of the $N entries" gs gal sync "$SLAPD_URL" --base "$BASE" --bind-dn "$SLAPD_ROOTDN" \
	--password-file "$SLAPD_PWFILE" --source corp

# ---- the same from both ----
GALSMIME_HOME=$T_DIR/store-ldif entries corp 2>&1 | sort >from-ldif.txt
GALSMIME_HOME=$T_DIR/store-ldap entries corp 2>&1 | sort >from-ldap.txt
check "$N entries from the file" test "$(wc -l <from-ldif.txt)" = $N
check "the same entries from the directory" diff from-ldif.txt from-ldap.txt
# what the shapes gave, as entries shows them (alias|kind|name|display|addresses|links)
shape() { grep "^$1|" from-ldap.txt; }
check "alice: user, mail first, smtp: alias, X500: left out, DER and the PKCS#7's leaf" \
	test "$(shape alice)" = "alice|user|Alice Example|Alice Example|alice@example.org alice.example@example.org|userCertificate=$(fp16 alice) userSMIMECertificate=$(fp16 alice)"
check "carol: contact, targetAddress, msExchangeCertificate" \
	test "$(shape carol)" = "carol|contact|Carol Example|Carol Example (partner)|carol@example.org|msExchangeCertificate=$(fp16 carol)"
check "erin: msExchangeCertificate as DER and as PKCS#7 (one certificate)" \
	test "$(shape erin)" = "erin|user|Erin Example||erin@example.org|msExchangeCertificate=$(fp16 erin)"
check "staff: a group, its addresses" test "$(shape staff)" = "staff|group|Staff|All staff|staff@example.org all@example.org|"
check "bulk001: a contact, its targetAddress one of its addresses (not the primary)" \
	test "$(shape bulk001)" = "bulk001|contact|Bulk 001|Bulk 001|bulk001@example.org b001@example.org bulk001@partner.example|"
many=$(shape many | cut -d'|' -f6 | tr ' ' '\n')
check "many: 16 certificates under userCertificate (16 values)" \
	test "$(echo "$many" | grep -c '^userCertificate=')" = 16
check "... and the same 16 under userSMIMECertificate (one PKCS#7 value)" \
	test "$(echo "$many" | grep '^userSMIMECertificate=' | cut -d= -f2 | sort)" = \
	"$(echo "$many" | grep '^userCertificate=' | cut -d= -f2 | sort)"

# gal explain of every address, hostile ones included: the same words, the same exit
addresses="alice@example.org alice.example@example.org bob@example.org robert@example.org carol@example.org
	erin@example.org henry@example.org many@example.org staff@example.org eve@example.org pat@partner.example
	mallory@example.org dave@example.org grace@example.org bulk000@example.org bulk001@partner.example"
for h in ldif ldap; do
	for a in $addresses; do
		echo "== $a"
		GALSMIME_HOME=$T_DIR/store-$h "$GALSMIME" gal explain "$a" 2>&1
		echo "exit $?"
	done >explain-$h.txt
done
check "gal explain: the same for all 16 addresses from the directory as from the file" \
	diff explain-ldif.txt explain-ldap.txt
# the takeover shapes as the directory gave them, refused or flagged
GALSMIME_HOME=$T_DIR/store-ldap
gs gal explain robert@example.org >robert.explain 2>&1; rc=$?
check "robert@ (bob's proxy address, claimed by a contact): a conflict, exit 1" \
	sh -c "[ $rc = 1 ] && grep -q '^conflict: the directory entries listing robert@example.org disagree' robert.explain"
gs gal explain bob@example.org >bob.explain 2>&1
check "bob@ (claimed by a contact with another certificate): the conflict shown, naming the contact" \
	grep -q "^conflict: .*'Bob Twin' \[corp\] offers no usable certificate" bob.explain
check "... bob's own certificate (it names the address) chosen" test "$(chosen bob@example.org)" = "$(fp bob)"
bare_msg >m.eml
for a in robert mallory dave grace; do
	"$GALSMIME" encrypt --no-self --to $a@example.org <m.eml >$a.p7m 2>$a.err
	rc=$?
	check "encrypt to $a@example.org from the synced directory: refused (67), nothing written" \
		sh -c "[ $rc = 67 ] && [ ! -s $a.p7m ]"
done
check "... mallory's: no trusted CA" contains mallory.err 'mallory@example.org'
check "... dave's: expired" contains dave.err 'expired'
check "... grace's: revoked" contains grace.err 'revoked'
check_exit 0 "encrypt to bob@example.org: bob's certificate, not the twin's" \
	sh -c "'$GALSMIME' encrypt --no-self --to bob@example.org <m.eml >bob.p7m"
check "... bob reads it" opens bob bob.p7m
"$GALSMIME" encrypt --no-self --to eve@example.org <m.eml >eve.p7m 2>eve.err
check "eve@ (an entry offering bob's certificate): flagged, bound by the directory only" \
	contains eve.err "eve@example.org: bound by the directory: 'Eve Mismatch' lists eve@example.org and offers it; the certificate itself names bob@example.org"
check "... the partner cannot" not opens pat bob.p7m
check_exit 0 "encrypt to alice@example.org (her own certificate): works" \
	sh -c "'$GALSMIME' encrypt --no-self --to alice@example.org <m.eml >alice.p7m"

# ---- DavMail's spelling (LDIF only: slapd keeps its own) ----
python3 - "$PKI" >davmail.ldif <<'PY'
import base64, subprocess, sys
d = lambda n: base64.b64encode(subprocess.run(['openssl', 'x509', '-in', '%s/%s.crt' % (sys.argv[1], n),
    '-outform', 'DER'], check=True, capture_output=True).stdout).decode()
print("dn: cn=Ivan,ou=davmail\nobjectclass: person\ncn: Ivan\nmail: ivan@example.org\n"
      "usersmimecertificate;binary:: %s\nmsexchangecertificate;binary:: %s\n" % (d('ivan'), d('grace')))
PY
check_exit 0 "gal import of DavMail's usersmimecertificate;binary / msexchangecertificate;binary" \
	gs gal import --source davmail davmail.ldif
check "... both read, under their attribute" test "$(entries davmail | cut -d'|' -f6)" = \
	"msExchangeCertificate=$(fp16 grace) userSMIMECertificate=$(fp16 ivan)"

# ---- an entry changed between two syncs ----
openssl x509 -in alice2.pem -outform DER -out alice2.der
cat >modify.ldif <<EOF
dn: cn=Alice Example,$BASE
changetype: modify
replace: userCertificate;binary
userCertificate;binary:< file://$T_DIR/alice2.der
-
delete: userSMIMECertificate
-
delete: proxyAddresses
proxyAddresses: smtp:alice.example@example.org
EOF
check "ldapmodify alice: a new certificate, no userSMIMECertificate, one address less" slapd_modify modify.ldif
alice2=$(openssl x509 -in alice2.pem -outform DER | openssl dgst -sha256 -r | cut -c1-16)
gs gal sync "$SLAPD_URL" --base "$BASE" --bind-dn "$SLAPD_ROOTDN" --password-file "$SLAPD_PWFILE" \
	--source corp >resync.out 2>&1
check "the next sync replaces the $N entries" contains resync.out "^corp \\(snapshot\\): $N entries \\($N replaced\\)"
entries corp 2>&1 | grep '^alice|' >alice.now
check "alice as she is now: the new certificate only, alice.example@ gone" \
	test "$(cat alice.now)" = "alice|user|Alice Example|Alice Example|alice@example.org|userCertificate=$alice2"
gs gal explain alice.example@example.org >gone.explain 2>&1
check "gal explain alice.example@: no entry lists it any more" sh -c "! grep -q 'Alice Example' gone.explain"
gs gal explain alice@example.org >alice.explain 2>&1
check "gal explain alice@: the old certificate gone" sh -c "! grep -q '$(fp alice)' alice.explain"
check "... the new one there" grep -q "$alice2" alice.explain
check "the old certificate no longer in the store (nothing refers to it)" \
	sh -c "! '$GALSMIME' cert list | grep -qi '$(fp alice)'"
check "... it was there before the change (control)" \
	sh -c "GALSMIME_HOME='$T_DIR/store-ldif' '$GALSMIME' cert list | grep -qi '$(fp alice)'"
GALSMIME_HOME=$main_home
