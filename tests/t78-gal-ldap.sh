#!/bin/sh
# galsmime gal publish: the store's directory entries as LDIF for
# OpenLDAP. Round trips: publish, gal import of that LDIF into a fresh
# store gives the same entries; a real slapd (loopback, a free
# unprivileged port, its database and cn=config in the test folder,
# with galsmime's schema) loads it with ldapadd, ldapsearch returns it,
# and gal import of ldapsearch's output gives the same entries again.
# Hard cases: names that need escaping in a DN or base64 in LDIF, two
# entries with one name. plugin/ldap/galsmime.schema and .ldif load.
# gal sync from the same slapd: the same entries as the LDIF import,
# --filter; an entry changed between two syncs (the snapshot replaced,
# the entry as it is now); a wrong password (77), a search the server ends early (its
# size limit for anonymous binds) and an unreachable or mute server (74)
# leave the previous snapshot whole; more than a page (617 entries: 2
# page requests, counted by tests/gal/ldap-proxy.py), a server that stops
# answering when the second page is asked (74 within --timeout), and slapd
# killed by that proxy when the second page is asked (74, the old snapshot whole);
# a CMS signed-data userSMIMECertificate read from the directory, and a
# value that is no certificate refused (65) as it is from a file; TLS:
# ldaps:// and StartTLS with --ca-file (the server's own CA), and 74 with
# CAs that do not vouch for the server.
. "$TESTS_TOP/tests/gal/lib.sh"

BASE='ou=gal,dc=example,dc=org'
SHARE=$(dirname "$GALSMIME")/../share/galsmime/ldap

expected_entries ad >expected.txt
check "make the LDIF fixture from the test PKI" galfix ldif gal.ldif
check_exit 0 "gal import gal.ldif" gs gal import --source corp gal.ldif

# ---- publish ----
check_exit 0 "gal publish exits 0" sh -c "'$GALSMIME' gal publish >pub.ldif 2>pub.err"
check "... says nothing on stderr" test ! -s pub.err
check "... starts with version: 1" test "$(head -1 pub.ldif)" = "version: 1"
check "12 entries under $BASE" test "$(grep -c "^dn: cn=.*,$BASE\$" pub.ldif)" = 12
check "entries are inetOrgPerson + galsmimeRecipient" \
	test "$(grep -c '^objectClass: galsmimeRecipient$' pub.ldif)" = 12
check "mail is the primary, proxyAddresses SMTP:/smtp:" sh -c \
	"grep -q '^mail: alice@example.org$' pub.ldif && grep -q '^proxyAddresses: SMTP:alice@example.org$' pub.ldif &&
	 grep -q '^proxyAddresses: smtp:alice.example@example.org$' pub.ldif"
check "certificates as base64 DER: userCertificate;binary:: and userSMIMECertificate::" sh -c \
	"grep -q '^userCertificate;binary:: MII' pub.ldif && grep -q '^userSMIMECertificate:: MII' pub.ldif"
check_exit 0 "publish --source corp --base 'ou=People,dc=example,dc=com'" \
	sh -c "'$GALSMIME' gal publish --source corp --base 'ou=People,dc=example,dc=com' >pub2.ldif"
check "... puts the entries there" test "$(grep -c '^dn: .*,ou=People,dc=example,dc=com$' pub2.ldif)" = 12
check_exit 64 "--base that is not a DN: usage error" gs gal publish --base 'not a dn'
check_exit 74 "a full disk is an I/O error, not success" sh -c "'$GALSMIME' gal publish >/dev/full"
check_exit 1 "--source that holds nothing: exit 1" gs gal publish --source nothing

# ---- (a) publish, then gal import ----
fresh() { export GALSMIME_HOME="$T_DIR/$1"; }
main_home=$GALSMIME_HOME
fresh store-a
check_exit 0 "gal import of the published LDIF into a fresh store" gs gal import --source pub "$T_DIR/pub.ldif"
check "the same entries" same_entries pub expected.txt
GALSMIME_HOME=$main_home

# ---- hard names: escaping, base64, one name twice ----
cat >hard.json <<'EOF'
[
 {"Name": "Doe, John", "Alias": "jdoe", "DisplayName": "Doe, John", "RecipientType": "UserMailbox",
  "PrimarySmtpAddress": "john@example.org", "EmailAddresses": ["SMTP:john@example.org"]},
 {"Name": "Doe, John", "Alias": "jdoe2", "DisplayName": "Doe, John (Sales)", "RecipientType": "MailContact",
  "PrimarySmtpAddress": "john.doe@example.com", "EmailAddresses": ["SMTP:john.doe@example.com"]},
 {"Name": "Doe, John", "Alias": "jdoe3", "DisplayName": "Doe, John (again)", "RecipientType": "MailContact",
  "PrimarySmtpAddress": "john.doe@example.com", "EmailAddresses": ["SMTP:john.doe@example.com"]},
 {"Name": " #Zoë +=<x>;\"\\ ", "Alias": "zoe", "DisplayName": "Zoë Ünïcode", "RecipientType": "UserMailbox",
  "PrimarySmtpAddress": "zoe@example.org", "EmailAddresses": ["SMTP:zoe@example.org"]},
 {"Name": ":colon", "Alias": "<angle", "DisplayName": "<list>", "RecipientType": "GroupMailbox",
  "PrimarySmtpAddress": "list@example.org", "EmailAddresses": ["SMTP:list@example.org"]}
]
EOF
check_exit 0 "gal import of names that need escaping" gs gal import --source hard hard.json
entries hard >hard.expected 2>&1
check "... 5 entries" test "$(wc -l <hard.expected)" = 5
check_exit 0 "gal publish --source hard" sh -c "'$GALSMIME' gal publish --source hard >hard.ldif"
check "one name, three entries: cn=, cn=+mail=, cn=+uid= (RFC 4514 escapes)" sh -c \
	"grep -q '^dn: cn=Doe\\\\2C John,$BASE\$' hard.ldif &&
	 grep -q '^dn: cn=Doe\\\\2C John+mail=john.doe@example.com,$BASE\$' hard.ldif &&
	 grep -q '^dn: cn=Doe\\\\2C John+uid=2,$BASE\$' hard.ldif"
check "non-ASCII, a leading ':' or '<': base64 (::)" sh -c \
	"grep -q '^dn:: ' hard.ldif && grep -q '^displayName:: ' hard.ldif && grep -q '^cn:: ' hard.ldif &&
	 grep -q '^mailNickname:: ' hard.ldif && ! grep -q '^cn: :colon' hard.ldif &&
	 ! grep -q '^displayName: <' hard.ldif"
fresh store-hard
check_exit 0 "gal import of that LDIF" gs gal import --source hard "$T_DIR/hard.ldif"
check "the same entries (names, kinds, display names intact)" same_entries hard "$T_DIR/hard.expected"
GALSMIME_HOME=$main_home

# ---- the schema files ----
check "make install installed share/galsmime/ldap/galsmime.schema and .ldif" \
	test -f "$SHARE/galsmime.schema" -a -f "$SHARE/galsmime.ldif"

# ---- (b) a real slapd ----
. "$TESTS_TOP/tests/ldap-lib.sh"
if ! why=$(slapd_usable); then
	skip "slapd round trip" "$why"
	exit 0
fi
S=$SLAPD_SCHEMA
PW=secret
ROOTDN='cn=admin,dc=example,dc=org'

# slapd.conf form: galsmime.schema beside core, cosine, inetorgperson
mkdir -p db-conf
cat >slapd.conf <<EOF
include $S/core.schema
include $S/cosine.schema
include $S/inetorgperson.schema
include $SHARE/galsmime.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $T_DIR/slapd-conf.pid
database mdb
suffix "dc=example,dc=org"
rootdn "$ROOTDN"
rootpw $PW
directory $T_DIR/db-conf
EOF
check "slaptest reads galsmime.schema (slapd.conf)" slaptest -u -f slapd.conf

# cn=config form, the one slapd runs with (tests/ldap-lib.sh): galsmime.ldif;
# anonymous binds may see 5 entries
SLAPD_DB_EXTRA='olcLimits: anonymous size.soft=5 size.hard=5'
if slapd_init >init.out 2>&1; then pass "slapadd -n0 loads galsmime.ldif into cn=config"
else fail "slapadd -n0 loads galsmime.ldif into cn=config" "$(cat init.out)"; fi
PROXIES=
# shellcheck disable=SC2034,SC2016
SLAPD_ON_EXIT='[ -z "$PROXIES" ] || kill $PROXIES 2>/dev/null'
if slapd_start >start.out 2>&1; then pass "slapd starts"; else fail "slapd starts" "$(cat start.out)"; fi
URL=$SLAPD_URL
TLSURL=$SLAPD_TLSURL
PORT=$SLAPD_PORT
check "slapd answers on $URL" ldapsearch -x -H "$URL" -b '' -s base

cat >base.ldif <<EOF
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: $BASE
objectClass: organizationalUnit
ou: gal
EOF
check "ldapadd the suffix and $BASE" ldapadd -x -H "$URL" -D "$ROOTDN" -w $PW -f base.ldif
check "ldapadd loads the published LDIF" ldapadd -x -H "$URL" -D "$ROOTDN" -w $PW -f pub.ldif
check "ldapadd loads the hard names" ldapadd -x -H "$URL" -D "$ROOTDN" -w $PW -f hard.ldif
AUTH="-D $ROOTDN -w $PW"
# shellcheck disable=SC2086
ldapsearch -x -H "$URL" $AUTH -b "$BASE" -s one '(objectClass=galsmimeRecipient)' dn >dns.txt 2>&1
check "ldapsearch -b $BASE returns the 17 entries" test "$(grep -c '^dn' dns.txt)" = 17
ldapsearch -x -H "$URL" -b "$BASE" '(mail=alice@example.org)' >alice.txt 2>&1 # anonymous: 1 entry
check "... found by mail, with proxyAddresses and both certificates" sh -c \
	"grep -q '^proxyAddresses: smtp:alice.example@example.org' alice.txt &&
	 grep -q '^userCertificate;binary:: ' alice.txt && grep -q '^userSMIMECertificate:: ' alice.txt"

# shellcheck disable=SC2086
ldapsearch -x -LLL -H "$URL" $AUTH -b "$BASE" '(galsmimeKind=*)' >search.ldif 2>search.err
check "ldapsearch -LLL of the directory" test -s search.ldif
fresh store-b
check_exit 0 "gal import of ldapsearch's output into a fresh store" \
	gs gal import --source ldap "$T_DIR/search.ldif"
# in the order slapd keeps them, not the order they were added
sort expected.txt hard.expected >all.expected
entries ldap 2>&1 | sort >all.out
check "the same entries again" diff all.expected all.out

# ---- gal sync: the same entries straight from slapd ----
cp "$SLAPD_PWFILE" pw.txt
check_exit 0 "gal sync $URL (simple bind, paged search)" \
	gs gal sync "$URL" --base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldap
entries ldap 2>&1 | sort >sync.out
check "gal sync gives what gal import of the LDIF gave" diff all.expected sync.out
check_exit 0 "gal sync $TLSURL --ca-file (the server's CA)" gs gal sync "$TLSURL" --ca-file "$SLAPD_CA" \
	--base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldaps
entries ldaps 2>&1 | sort >sync.out
check "... the same entries" diff all.expected sync.out
check_exit 0 "gal sync --starttls --ca-file" gs gal sync "$URL" --starttls --ca-file "$SLAPD_CA" \
	--base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldaps
check_exit 74 "ldaps:// with CAs that do not vouch for the server: exit 74" gs gal sync "$TLSURL" \
	--ca-file "$PKI/root.crt" --base "$BASE" --source ldaps
check_exit 74 "--starttls with CAs that do not vouch for the server: exit 74" gs gal sync "$URL" --starttls \
	--ca-file "$PKI/root.crt" --base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldaps
check_exit 0 "gal sync --filter" gs gal sync "$URL" --base "$BASE" --bind-dn "$ROOTDN" \
	--password-file "$T_DIR/pw.txt" --source filtered --filter '(mail=alice@example.org)'
check "... syncs only the entries it picks" test "$(gs gal list --source filtered | wc -l)" = 1
# an entry changed between two syncs
cat >modify.ldif <<EOF
dn: cn=Alice Example,$BASE
changetype: modify
replace: displayName
displayName: Alice Changed
-
delete: userCertificate;binary
EOF
# shellcheck disable=SC2086
check "ldapmodify alice: a new display name, no userCertificate" ldapmodify -x -H "$URL" $AUTH -f modify.ldif
gs gal sync "$URL" --base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldap >resync.out 2>&1
check "the next sync replaces the 17 entries" contains resync.out '^ldap \(snapshot\): 17 entries \(17 replaced\)'
entries ldap 2>&1 | sort >sync.out
sed 's/^alice|user|Alice Example|Alice Example|\(.*\)|userCertificate=[0-9a-f]* /alice|user|Alice Example|Alice Changed|\1|/' \
	all.expected | sort >changed.expected
check "... with alice as she is now" diff changed.expected sync.out
# the password: from a descriptor, never from a file others can read, never empty
check_exit 0 "gal sync --password-fd 3 (the password on descriptor 3)" sh -c \
	"'$GALSMIME' gal sync '$URL' --base '$BASE' --bind-dn '$ROOTDN' --password-fd 3 --source fd 3<'$T_DIR/pw.txt'"
check "... syncs the 17 entries" test "$(gs gal list --source fd | wc -l)" = 17
cp pw.txt pw-open.txt
chmod 644 pw-open.txt
gs gal sync "$URL" --base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/pw-open.txt" --source open >out.txt 2>err.txt
check "a password file others can read: exit 77" test $? = 77
cp err.txt open.err
check "... with the fix (chmod 600)" contains open.err 'can be read by others .*chmod 600'
(umask 077 && : >pw-empty.txt)
check_exit 64 "an empty password (an unauthenticated bind): usage error" gs gal sync "$URL" --base "$BASE" \
	--bind-dn "$ROOTDN" --password-file "$T_DIR/pw-empty.txt" --source empty
check_exit 64 "--password-file and --password-fd: usage error" gs gal sync "$URL" --base "$BASE" \
	--bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --password-fd 0 --source fd
check_exit 64 "a password without --bind-dn: usage error" gs gal sync "$URL" --base "$BASE" --password-fd 0 --source fd
check_exit 64 "--bind kerberos: usage error" gs gal sync "$URL" --base "$BASE" --bind kerberos --source fd
check "none of them left a snapshot" test -z "$(gs gal list --source open; gs gal list --source empty)"
store_state >before.txt 2>&1
(umask 077 && printf 'wrong\n' >bad-pw.txt)
gs gal sync "$URL" --base "$BASE" --bind-dn "$ROOTDN" --password-file "$T_DIR/bad-pw.txt" --source ldap >out.txt 2>err.txt
check "a wrong password: exit 77" test $? = 77
check "... saying so" contains err.txt 'wrong bind DN or password'
store_state >after.txt 2>&1
check "... the store as it was" cmp before.txt after.txt
# anonymous binds may see 5 entries (olcLimits): the search fails after them
gs gal sync "$URL" --base "$BASE" --source ldap >out.txt 2>err.txt
check "a search the server ends after 5 entries: exit 74" test $? = 74
check "... saying after how many" contains err.txt 'the search ended after 5 entries'
store_state >after.txt 2>&1
check "... the previous snapshot whole" cmp before.txt after.txt

# ---- what only a directory holds: a CMS value, a value that is no certificate ----
python3 - "$T_DIR/gal.ldif" >extra.ldif <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\r\n", "\n").replace("\n ", "")
alice = [r for r in text.split("\n\n") if re.search(r"^mailNickname: alice$", r, re.M)][0]
cms = re.search(r"^userSMIMECertificate(;binary)?:: (.*)$", alice, re.M | re.I).group(2)
print("dn: ou=extra,dc=example,dc=org\nobjectClass: organizationalUnit\nou: extra\n")
print("dn: cn=Alice CMS,ou=extra,dc=example,dc=org\nobjectClass: inetOrgPerson\ncn: Alice CMS\n"
      "sn: CMS\nmail: alice@example.org\nuserSMIMECertificate:: %s\n" % cms)
print("dn: ou=hostile,dc=example,dc=org\nobjectClass: organizationalUnit\nou: hostile\n")
# BER (slapd checks that much), but an OCTET STRING, no certificate
print("dn: cn=Not A Cert,ou=hostile,dc=example,dc=org\nobjectClass: inetOrgPerson\ncn: Not A Cert\n"
      "sn: Cert\nmail: bob@example.org\nuserSMIMECertificate:: BANBQkM=\n")
PY
# shellcheck disable=SC2086
check "ldapadd a CMS signed-data value and one that is no certificate" ldapadd -x -H "$URL" $AUTH -f extra.ldif
check_exit 0 "gal sync of the CMS value" gs gal sync "$URL" --base ou=extra,dc=example,dc=org --source extra
check "... gives alice's certificate under userSMIMECertificate" \
	contains "$(entries extra >extra.out 2>&1; echo extra.out)" "^\|inetOrgPerson\|Alice CMS\|\|alice@example.org\|userSMIMECertificate=$(fp16 alice)\$"
store_state >before.txt 2>&1
gs gal sync "$URL" --base ou=hostile,dc=example,dc=org --source extra >out.txt 2>err.txt
rc=$?; cp err.txt hostile.err
check "a value that is no certificate: exit 65, as from a file" test $rc = 65
check "... naming the entry and the value" contains hostile.err 'entry 2: userSMIMECertificate value 1'
store_state >after.txt 2>&1
check "... the store as it was" cmp before.txt after.txt
# shellcheck disable=SC2086
check "ldapdelete them again" ldapdelete -x -H "$URL" $AUTH -r ou=extra,dc=example,dc=org ou=hostile,dc=example,dc=org

# ---- more than a page: 600 more entries, through a proxy that counts pages ----
python3 -c '
print("dn: ou=bulk,dc=example,dc=org\nobjectClass: organizationalUnit\nou: bulk\n")
for i in range(600):
    print("dn: cn=Bulk %d,ou=bulk,dc=example,dc=org\nobjectClass: inetOrgPerson\ncn: Bulk %d\nsn: Bulk\nmail: bulk%d@example.org\n" % (i, i, i))' >bulk.ldif
# shellcheck disable=SC2086
check "ldapadd 600 more entries" ldapadd -x -H "$URL" $AUTH -f bulk.ldif
proxy() { # proxy NAME [KILL_AT]: a proxy in front of slapd, its port in NAME.port
	python3 "$TESTS_TOP/tests/gal/ldap-proxy.py" "$1.port" "$PORT" "$1.pages" ${2:+"$2" "$SLAPD_PIDFILE"} &
	PROXIES="$PROXIES $!"
	i=0; until [ -s "$1.port" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
}
proxy count
check_exit 0 "gal sync of 617 entries" gs gal sync "ldap://127.0.0.1:$(cat count.port)" --base dc=example,dc=org \
	--bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldap
check "... in pages of 500: 2 page requests" test "$(cat count.pages)" = 2
check "... 617 entries" test "$(gs gal list --source ldap | wc -l)" = 617
store_state >before.txt 2>&1
proxy stall stall:2
start=$(date +%s)
gs gal sync "ldap://127.0.0.1:$(cat stall.port)" --base dc=example,dc=org --timeout 2 \
	--bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldap >out.txt 2>err.txt
rc=$?
took=$(($(date +%s) - start))
cp err.txt stall.err
check "a server that stops answering when the second page is asked: exit 74" test $rc = 74
check "... after the first page, within the timeout (2 s asked, $took s taken)" \
	sh -c "grep -q 'search (after 500 entries): Timed out' stall.err && [ $took -le 6 ]"
store_state >after.txt 2>&1
check "... the previous snapshot whole (617 entries)" cmp before.txt after.txt
proxy kill 2
gs gal sync "ldap://127.0.0.1:$(cat kill.port)" --base dc=example,dc=org \
	--bind-dn "$ROOTDN" --password-file "$T_DIR/pw.txt" --source ldap >out.txt 2>err.txt
check "slapd killed when the second page is asked: exit 74" test $? = 74
cp err.txt kill.err
check "... after the first page" contains kill.err 'search \(after 500 entries\): Can.t contact LDAP server'
store_state >after.txt 2>&1
check "... the previous snapshot whole (617 entries)" cmp before.txt after.txt
# shellcheck disable=SC2086
kill $PROXIES 2>/dev/null
PROXIES=
GALSMIME_HOME=$main_home

slapd_stop
# a port that accepts connections and never answers
python3 -c 'import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1]); sys.stdout.flush(); time.sleep(30)' >mute.port &
MUTE=$!
PROXIES=$MUTE
i=0; until [ -s mute.port ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
start=$(date +%s)
gs gal sync "ldap://127.0.0.1:$(cat mute.port)" --base "$BASE" --timeout 2 --source mute >out.txt 2>err.txt
rc=$?
took=$(($(date +%s) - start))
kill $MUTE 2>/dev/null
PROXIES=
check "a server that never answers: exit 74" test $rc = 74
check "... within the timeout (2 s asked, $took s taken)" test "$took" -le 6
check_exit 74 "a port nobody listens on (slapd stopped): exit 74" \
	gs gal sync "$URL" --base "$BASE" --source gone
check "slapd stopped" test ! -f "$SLAPD_PIDFILE"
