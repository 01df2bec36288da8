#!/bin/sh
# gal sync --bind gssapi: Kerberos through libldap and Cyrus SASL, against
# a real MIT KDC and slapd, both on loopback, in the test folder: a realm
# made with kdb5_util and kadmin.local (KRB5_CONFIG, KRB5_KDC_PROFILE,
# KRB5CCNAME, KRB5_KTNAME point there; no DNS: rdns and hostname
# canonicalisation off), krb5kdc on a free port, slapd with olcSaslHost
# localhost, the service key ldap/localhost in its keytab and an
# olcAuthzRegexp that maps the Kerberos principal to an entry that alone
# may read the directory. With a ticket: the same entries as gal import of
# the LDIF, as that entry (ldapwhoami agrees); without a ticket (kdestroy):
# 77, the store as it was; a bind DN with gssapi: 64; a host name with no
# service principal (127.0.0.1, which only reverse DNS would turn into
# localhost): 77, so galsmime asks for the service it was told to.
. "$TESTS_TOP/tests/gal/lib.sh"
. "$TESTS_TOP/tests/ldap-lib.sh"

if ! why=$(slapd_usable); then
	skip "GSSAPI bind" "$why"
	exit 0
fi
PATH=$PATH:/usr/sbin:/sbin
for b in kdb5_util kadmin.local krb5kdc kinit kdestroy; do
	if ! command -v $b >/dev/null; then
		fail "GSSAPI bind: $b is not installed (make deps: krb5-kdc, krb5-admin-server, krb5-user)"
		exit 1
	fi
done

REALM=GALSMIME.TEST
K=$T_DIR/krb
mkdir -p "$K"
KPORT=$(slapd_free_port)
export KRB5_CONFIG="$K/krb5.conf" KRB5_KDC_PROFILE="$K/kdc.conf" KRB5CCNAME="FILE:$K/cc"
cat >"$KRB5_CONFIG" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1
[realms]
	$REALM = {
		kdc = 127.0.0.1:$KPORT
	}
[domain_realm]
	localhost = $REALM
EOF
cat >"$KRB5_KDC_PROFILE" <<EOF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$KPORT
	kdc_tcp_listen = 127.0.0.1:$KPORT
[realms]
	$REALM = {
		database_name = $K/principal
		key_stash_file = $K/stash
		acl_file = $K/kadm5.acl
		kdc_listen = 127.0.0.1:$KPORT
		kdc_tcp_listen = 127.0.0.1:$KPORT
	}
[logging]
	kdc = FILE:$K/kdc.log
EOF
: >"$K/kadm5.acl"
check "kdb5_util creates the realm $REALM" kdb5_util -r $REALM create -s -P master-$$
check "kadmin.local: ldap/localhost, its keytab for slapd" \
	sh -c "kadmin.local -r $REALM -q 'addprinc -randkey ldap/localhost' &&
	       kadmin.local -r $REALM -q 'ktadd -k $K/ldap.keytab ldap/localhost'"
check "kadmin.local: reader, its keytab for kinit" \
	sh -c "kadmin.local -r $REALM -q 'addprinc -randkey reader' &&
	       kadmin.local -r $REALM -q 'ktadd -k $K/reader.keytab reader'"
krb5kdc -n -P "$K/kdc.pid" >"$K/kdc.out" 2>&1 &
KDC=$!
SLAPD_ON_EXIT="kill $KDC 2>/dev/null"
trap 'kill $KDC 2>/dev/null; t_finish' EXIT

# only cn=reader (the Kerberos principal reader, mapped) reads the directory
SLAPD_CONFIG_EXTRA="olcSaslHost: localhost
olcSaslRealm: $REALM
olcAuthzRegexp: {0}\"uid=([^,]+),(cn=[^,]+,)?cn=gssapi,cn=auth\" \"cn=\$1,ou=people,dc=example,dc=org\""
SLAPD_DB_EXTRA="olcAccess: {0}to * by dn.exact=\"cn=reader,ou=people,dc=example,dc=org\" read by * none"
if slapd_init >init.out 2>&1; then pass "slapd configured for GSSAPI"; else fail "slapd configured for GSSAPI" "$(cat init.out)"; fi
export KRB5_KTNAME="FILE:$K/ldap.keytab" # slapd's service key, for slapd only
if slapd_start >start.out 2>&1; then pass "slapd starts"; else fail "slapd starts" "$(cat start.out)"; fi
unset KRB5_KTNAME
URL=ldap://localhost:$SLAPD_PORT
BASE="ou=gal,$SLAPD_SUFFIX"

# the directory: the test GAL, as gal publish writes it
expected_entries ad | sort >expected.txt
check "make the LDIF fixture from the test PKI" galfix ldif gal.ldif
check_exit 0 "gal import gal.ldif" gs gal import --source corp gal.ldif
check_exit 0 "gal publish" sh -c "'$GALSMIME' gal publish --source corp >pub.ldif"
slapd_base_ldif >base.ldif
check "ldapadd the base and the published entries" sh -c "ldapadd -x -H '$SLAPD_URL' -D '$SLAPD_ROOTDN' \
	-w '$SLAPD_PW' -f base.ldif && ldapadd -x -H '$SLAPD_URL' -D '$SLAPD_ROOTDN' -w '$SLAPD_PW' -f pub.ldif"

check "kinit reader (its keytab)" kinit -k -t "$K/reader.keytab" reader@$REALM
check "ldapwhoami -Y GSSAPI: reader is cn=reader,ou=people (olcAuthzRegexp)" sh -c \
	"ldapwhoami -Q -Y GSSAPI -N -H '$URL' | grep -qx 'dn:cn=reader,ou=people,dc=example,dc=org'"
check_exit 0 "gal sync $URL --bind gssapi" gs gal sync "$URL" --bind gssapi --base "$BASE" --source krb
entries krb 2>&1 | sort >sync.out
check "... the same entries as gal import of the LDIF" diff expected.txt sync.out
store_state >before.txt 2>&1
gs gal sync "$URL" --base "$BASE" --source krb >out.txt 2>err.txt
rc=$?; cp err.txt anon.err
check "an anonymous bind sees nothing (only reader may read): exit 74" test $rc = 74
check "... the base is no such object to it" contains anon.err 'after 0 entries: No such object'
store_state >after.txt 2>&1
check "... the store as it was" cmp before.txt after.txt
check_exit 64 "--bind gssapi with --bind-dn: usage error" \
	gs gal sync "$URL" --bind gssapi --bind-dn cn=reader,ou=people,dc=example,dc=org --base "$BASE" --source krb
gs gal sync "ldap://127.0.0.1:$SLAPD_PORT" --bind gssapi --base "$BASE" --source krb >out.txt 2>err.txt
rc=$?; cp err.txt noservice.err
check "a host with no service principal (ldap/127.0.0.1; no reverse DNS to localhost): exit 77" test $rc = 77
check "... saying the GSSAPI bind failed" contains noservice.err 'GSSAPI bind'
check "kdestroy" kdestroy
gs gal sync "$URL" --bind gssapi --base "$BASE" --source krb >out.txt 2>err.txt
rc=$?; cp err.txt noticket.err
check "no Kerberos ticket: exit 77" test $rc = 77
check "... saying the GSSAPI bind failed" contains noticket.err 'GSSAPI bind'
store_state >after.txt 2>&1
check "... the store as it was" cmp before.txt after.txt
