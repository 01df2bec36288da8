# tests/ldap-lib.sh: a real slapd for the suites that talk LDAP (t78 gal
# sync, the live lookup's, scripts/bench-ldap). Source it after
# tests/lib.sh (it needs T_DIR; check and friends are not used here).
# slapd runs as the test's user on 127.0.0.1 only, on free unprivileged
# ports, with its cn=config and mdb database under $T_DIR/slapd, the
# core, cosine, inetorgperson and galsmime schemas, and is stopped when
# the suite exits.
#
# The interface (kept stable; other suites depend on it):
#   slapd_usable        0 when slapd can run here, else prints why (for skip)
#   slapd_init          write the configuration (nothing runs yet); reads
#                       SLAPD_SUFFIX (dc=example,dc=org), SLAPD_CONFIG_EXTRA
#                       (LDIF lines added to the cn=config entry, e.g.
#                       olcSaslHost), SLAPD_DB_EXTRA (lines added to the
#                       database entry, e.g. olcLimits, olcAccess),
#                       SLAPD_SCHEMA_EXTRA (more cn=config schema LDIF
#                       files, loaded after galsmime's)
#   slapd_slapadd FILE  bulk-load LDIF offline (after slapd_init, before
#                       slapd_start; the suffix entry must be in it or
#                       added before with slapd_base_ldif)
#   slapd_start         start it (ldap:// and ldaps://) and wait until it
#                       answers; the EXIT trap stops it, then runs
#                       $SLAPD_ON_EXIT (the caller's clean-up), then t_finish
#   slapd_stop          stop it (and wait until it is gone)
#   slapd_add FILE      ldapadd as the root DN; slapd_modify FILE: ldapmodify
#   slapd_base_ldif     print the suffix entry and ou=gal under it (LDIF)
# and, once slapd_init ran:
#   SLAPD_DIR SLAPD_SUFFIX SLAPD_ROOTDN SLAPD_PW
#   SLAPD_PWFILE        the root DN's password in a file (mode 0600)
#   SLAPD_CA            the server's TLS certificate (its own CA; for
#                       127.0.0.1 and localhost)
#   SLAPD_PORT SLAPD_URL (ldap://127.0.0.1:PORT) SLAPD_TLSPORT SLAPD_TLSURL
#   SLAPD_PIDFILE

SLAPD_BIN=$(command -v slapd 2>/dev/null || echo /usr/sbin/slapd)
SLAPD_SCHEMA=/etc/ldap/schema
# galsmime.ldif: the installed one (tests), or SLAPD_SHARE's (scripts)
SLAPD_SHARE=${SLAPD_SHARE:-$(dirname "$GALSMIME")/../share/galsmime/ldap}

slapd_usable() {
	if [ ! -x "$SLAPD_BIN" ] || ! command -v ldapadd >/dev/null || ! command -v slapadd >/dev/null; then
		echo "slapd or ldap-utils are not installed (make deps)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "slapd's tests run as root (its -u/-g would need a user of its own)"
		return 1
	fi
	return 0
}

# a free port on 127.0.0.1: the kernel picks one
slapd_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slapd_base_ldif() {
	dc=${SLAPD_SUFFIX%%,*}
	cat <<EOF
dn: $SLAPD_SUFFIX
objectClass: dcObject
objectClass: organization
dc: ${dc#dc=}
o: Example

dn: ou=gal,$SLAPD_SUFFIX
objectClass: organizationalUnit
ou: gal

EOF
}

slapd_init() {
	SLAPD_SUFFIX=${SLAPD_SUFFIX:-dc=example,dc=org}
	SLAPD_DIR=$T_DIR/slapd
	SLAPD_ROOTDN="cn=admin,$SLAPD_SUFFIX"
	SLAPD_PW=secret
	SLAPD_PWFILE=$SLAPD_DIR/root.pw
	SLAPD_CA=$SLAPD_DIR/srv.crt
	SLAPD_PIDFILE=$SLAPD_DIR/slapd.pid
	mkdir -p "$SLAPD_DIR/db" "$SLAPD_DIR/config.d" || return 1
	(umask 077 && printf '%s\n' "$SLAPD_PW" >"$SLAPD_PWFILE") || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 \
		-keyout "$SLAPD_DIR/srv.key" -out "$SLAPD_CA" >"$SLAPD_DIR/openssl.out" 2>&1 || {
		cat "$SLAPD_DIR/openssl.out"
		return 1
	}
	{
		cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $SLAPD_PIDFILE
olcTLSCertificateFile: $SLAPD_CA
olcTLSCertificateKeyFile: $SLAPD_DIR/srv.key
EOF
		[ -z "${SLAPD_CONFIG_EXTRA:-}" ] || printf '%s\n' "$SLAPD_CONFIG_EXTRA"
		cat <<EOF

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://$SLAPD_SCHEMA/core.ldif
include: file://$SLAPD_SCHEMA/cosine.ldif
include: file://$SLAPD_SCHEMA/inetorgperson.ldif
include: file://$SLAPD_SHARE/galsmime.ldif
EOF
		for f in ${SLAPD_SCHEMA_EXTRA:-}; do printf 'include: file://%s\n' "$f"; done
		cat <<EOF

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SLAPD_SUFFIX
olcRootDN: $SLAPD_ROOTDN
olcRootPW: $SLAPD_PW
olcDbDirectory: $SLAPD_DIR/db
olcDbMaxSize: 4294967296
olcSizeLimit: unlimited
EOF
		[ -z "${SLAPD_DB_EXTRA:-}" ] || printf '%s\n' "$SLAPD_DB_EXTRA"
	} >"$SLAPD_DIR/config.ldif"
	slapadd -n0 -F "$SLAPD_DIR/config.d" -l "$SLAPD_DIR/config.ldif" >"$SLAPD_DIR/slapadd0.out" 2>&1 || {
		cat "$SLAPD_DIR/slapadd0.out"
		return 1
	}
}

slapd_slapadd() {
	slapadd -q -b "$SLAPD_SUFFIX" -F "$SLAPD_DIR/config.d" -l "$1" >"$SLAPD_DIR/slapadd.out" 2>&1 || {
		tail -5 "$SLAPD_DIR/slapadd.out"
		return 1
	}
}

slapd_stop() {
	[ -n "${SLAPD_PIDFILE:-}" ] && [ -f "$SLAPD_PIDFILE" ] || return 0
	pid=$(cat "$SLAPD_PIDFILE" 2>/dev/null)
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	i=0
	while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	rm -f "$SLAPD_PIDFILE"
}

slapd_start() {
	SLAPD_PORT=$(slapd_free_port)
	SLAPD_TLSPORT=$(slapd_free_port)
	SLAPD_URL=ldap://127.0.0.1:$SLAPD_PORT
	SLAPD_TLSURL=ldaps://127.0.0.1:$SLAPD_TLSPORT
	trap 'slapd_stop; eval "${SLAPD_ON_EXIT:-:}"; t_finish' EXIT
	"$SLAPD_BIN" -h "$SLAPD_URL/ $SLAPD_TLSURL/" -F "$SLAPD_DIR/config.d" >"$SLAPD_DIR/slapd.out" 2>&1 || {
		cat "$SLAPD_DIR/slapd.out"
		return 1
	}
	i=0
	until ldapsearch -x -H "$SLAPD_URL" -b '' -s base >/dev/null 2>&1; do
		[ $i -ge 100 ] && { echo "slapd does not answer on $SLAPD_URL"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
}

slapd_add() { ldapadd -x -H "$SLAPD_URL" -D "$SLAPD_ROOTDN" -w "$SLAPD_PW" -f "$1"; }
slapd_modify() { ldapmodify -x -H "$SLAPD_URL" -D "$SLAPD_ROOTDN" -w "$SLAPD_PW" -f "$1"; }
