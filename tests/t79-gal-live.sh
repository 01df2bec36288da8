#!/bin/sh
# Live directory lookups at encrypt time, with the answers cached in the
# store ([directory NAME] in the configuration), against a real slapd on
# loopback: an uncached recipient found live and cached (the next run
# does not ask: slapd stopped with SIGSTOP costs nothing and says
# nothing), a "nothing found" answer cached too; the TTL: within it an
# entry changed in the directory is not seen, after it the new
# certificate is; an unreachable server (a closed port) and a mute one
# (slapd under SIGSTOP) cost at most the timeout for the whole message
# of 5 recipients, not per recipient, then the cached answers are used
# with their age said, and recipients with none fail closed, each named;
# hostile answers (a takeover of an address bound elsewhere, a
# certificate for another address, one that does not chain to an
# anchor) are judged exactly as the same entries imported as an export
# are; gal explain shows where each answer came from and when, and
# --refresh asks now; a directory that binds and then never answers the
# search costs the timeout too; send (mutt's $sendmail) looks up and falls back the
# same way. A simple bind with bind_dn and password_file; a
# wrong password (the cache used, said); a password file others can
# read and a group without a url (said, left out).
. "$TESTS_TOP/tests/gal/lib.sh"

. "$TESTS_TOP/tests/ldap-lib.sh"

if ! why=$(slapd_usable); then
	skip "live lookups" "$why"
	exit 0
fi
BASE='ou=gal,dc=example,dc=org'
check "store set-up (anchors, alice's key)" store_setup
# the directory's content: the test GAL, as gal publish writes it
check "the test GAL as LDIF" galfix ldif gal.ldif
GALSMIME_HOME=$T_DIR/scratch gs gal import --source corp gal.ldif >/dev/null 2>&1
GALSMIME_HOME=$T_DIR/scratch gs gal publish >pub.ldif 2>&1
# not through check: they set the variables the suite uses
slapd_init >slapd-init.out 2>&1 && slapd_start >slapd-start.out 2>&1
check "slapd with galsmime's schema on loopback" test $? = 0
slapd_base_ldif >base.ldif
# a stopped slapd (SIGSTOP) is let go before the EXIT trap stops it
ldap_pause() { kill -STOP "$(cat "$SLAPD_PIDFILE")"; }
ldap_resume() { kill -CONT "$(cat "$SLAPD_PIDFILE")" 2>/dev/null; }
trap 'ldap_resume; slapd_stop; t_finish' EXIT
check "the test GAL loaded into it" sh -c "ldapadd -x -H '$SLAPD_URL' -D '$SLAPD_ROOTDN' -w '$SLAPD_PW' -f base.ldif >/dev/null && ldapadd -x -H '$SLAPD_URL' -D '$SLAPD_ROOTDN' -w '$SLAPD_PW' -f pub.ldif >/dev/null"
LDAP_URL=$SLAPD_URL
ldap_load() { slapd_add "$1" >/dev/null; }
ldap_modify() { slapd_modify "$1" >/dev/null; }

config() { # config URL TTL [TIMEOUT]
	mkdir -p "$XDG_CONFIG_HOME/galsmime"
	cat >"$XDG_CONFIG_HOME/galsmime/config" <<EOF
[directory corp]
url = $1
base = $BASE
ttl = $2

[lookup]
timeout = ${3:-3}
EOF
}
config "$LDAP_URL" 3600 2
enc() { bare_msg | gs encrypt "$@"; }
to() { for a; do printf ' --to %s@example.org' "$a"; done; }
elapsed() { python3 -c 'import sys, time; print("%.2f" % (time.time() - float(sys.argv[1])))' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }
less() { python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$1" "$2"; }

# ---- an uncached recipient, found live, then cached ----
check_exit 1 "bob is not in the store: gal explain without a directory finds nothing" \
	env XDG_CONFIG_HOME=/nonexistent "$GALSMIME" gal explain bob@example.org
check "... and --refresh says no directory is configured" sh -c \
	"XDG_CONFIG_HOME=/nonexistent '$GALSMIME' gal explain --refresh bob@example.org | grep -q '^no directory asked: none is configured'"
enc --to bob@example.org >bob.p7m 2>bob.err
check "encrypt to bob: found live (exit 0)" test $? = 0
check "... bob's key opens it" opens bob bob.p7m
check "... nothing said on stderr" test ! -s bob.err
gs gal explain bob@example.org >explain.out 2>&1
check "gal explain: bob's certificate came from the directory, fetched when" \
	contains explain.out "^    from       source directory:corp, entry Bob Example, attribute userCertificate, fetched [0-9-]+ [0-9:]+ UTC$"
check "... and the directory's answer, with its time" \
	contains explain.out "^directory corp answered [0-9-]+ [0-9:]+ UTC: 1 entry$"
check "... within the TTL it is not asked again" contains explain.out "^directory corp: not asked, its answer of .* is within its TTL$"
check "... chosen: bob's" contains explain.out "^chosen: $(fp bob)$"
# a snapshot may not take a directory's name: its import would replace
# (and later clear) the directory's cached answers
gs gal import --source directory:corp gal.ldif >takeover.out 2>takeover.err
check "gal import --source directory:corp: refused (exit 64)" test $? = 64
check "... saying the name is another kind's source" contains takeover.err "a source named 'directory:corp' of another kind"
check "... bob's certificate still from the directory" sh -c \
	"'$GALSMIME' gal explain bob@example.org | grep -q '^    from       source directory:corp, entry Bob Example'"

ldap_pause
t0=$(now)
enc --to bob@example.org >bob2.p7m 2>bob2.err
rc=$?
took=$(elapsed "$t0")
check "slapd stopped (SIGSTOP): encrypt to bob again: exit 0 from the cache" test $rc = 0
# had it asked the stopped slapd, it would have waited the timeout and said so
check "... without asking the directory: nothing said ($took s)" test ! -s bob2.err
check "... bob's key opens it" opens bob bob2.p7m
ldap_resume

# ---- "nothing found" is an answer too ----
enc --to nobody@example.org >/dev/null 2>nobody.err
check "nobody@example.org: fail closed, exit 67" test $? = 67
check "... naming the recipient" contains nobody.err "nobody@example.org: no certificate found"
gs gal explain nobody@example.org >explain.out 2>&1
check "gal explain: the directory answered with no entry" contains explain.out "^directory corp answered .*: 0 entries$"
ldap_pause
t0=$(now)
enc --to nobody@example.org >/dev/null 2>nobody2.err
rc=$?
took=$(elapsed "$t0")
ldap_resume
check "... cached: within the TTL, slapd stopped: exit 67 ($took s)" test $rc = 67
check "... not asked: not a word about the directory" lacks nobody2.err "directory corp"

# ---- the TTL ----
enc --to henry@example.org >henry.p7m 2>/dev/null
check "henry found live: his userSMIMECertificate (henry) chosen" test "$(chosen henry@example.org)" = "$(fp henry)"
cat >henry.ldif <<EOF
dn: cn=Henry Example,$BASE
changetype: modify
delete: userSMIMECertificate
EOF
check "ldapmodify henry: his userSMIMECertificate deleted (henry2 left)" ldap_modify henry.ldif
check "within the TTL the cached answer is used: still henry" test "$(chosen henry@example.org)" = "$(fp henry)"
config "$LDAP_URL" 1 2
sleep 2
enc --to henry@example.org >henry2.p7m 2>henry2.err
check "after the TTL: encrypt asks again (exit 0, nothing said)" sh -c "test ! -s henry2.err"
check "... and encrypts to his new certificate (henry2 opens it)" opens henry2 henry2.p7m
check "... gal explain chooses henry2" test "$(chosen henry@example.org)" = "$(fp henry2)"

# ---- send (mutt's $sendmail): the same lookups ----
cat >capture <<'EOS'
#!/bin/sh
cat >"$0.eml"
EOS
chmod +x capture
printf 'From: Alice <alice@example.org>\nTo: grace@example.org\nSubject: live\n\nthis is a test message\n' >g.eml
gs send --encrypt --passphrase-file "$PKI/pass" "$T_DIR/capture" -t <g.eml >/dev/null 2>send.err
check "send --encrypt to grace, never looked up: found live, sent (exit 0)" test $? = 0
check "... grace's key opens the copy" opens grace capture.eml
sleep 2
rm -f capture.eml
ldap_pause
gs send --encrypt --passphrase-file "$PKI/pass" "$T_DIR/capture" -t <g.eml >/dev/null 2>send.err
rc=$?
ldap_resume
check "send, slapd stopped, grace's answer older than the TTL: sent from the cache (exit 0)" test $rc = 0
check "... saying so, with its age" \
	contains send.err "^galsmime send: grace@example.org: directory corp did not answer in 2 s \(.*\); using its answer for grace@example.org cached [0-9]+ seconds? ago$"
check "... grace's key opens it" opens grace capture.eml

# ---- unreachable and mute: at most the timeout, for the whole message ----
# carol and ivan are cached (1 s TTL: old), erin and frank never were
enc $(to carol ivan) >/dev/null 2>&1
check "carol and ivan found live" test "$(chosen carol@example.org) $(chosen ivan@example.org)" = "$(fp carol) $(fp ivan)"
sleep 2
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
config "ldap://127.0.0.1:$CLOSED" 1 2
t0=$(now)
enc $(to bob carol henry ivan) >cached.p7m 2>closed.err
rc=$?
took=$(elapsed "$t0")
check "a closed port, 4 recipients cached: encrypt from the cache, exit 0 ($took s)" test $rc = 0
check "... within the timeout (2 s) + 2 s" less "$took" 4
check "... each old answer used is said, with its age" sh -c \
	"grep -Ec '^galsmime encrypt: (bob|carol|henry|ivan)@example.org: directory corp did not answer in 2 s \\(.*\\); using its answer for [a-z]+@example.org cached [0-9]+ seconds? ago$' closed.err | grep -qx 4"
check "... carol's key opens it" opens carol cached.p7m
t0=$(now)
enc $(to bob carol erin frank ivan) >out.p7m 2>closed2.err
rc=$?
took=$(elapsed "$t0")
check "a closed port, 5 recipients, 2 never cached: fail closed, exit 67 ($took s)" test $rc = 67
check "... nothing written" test ! -s out.p7m
check "... erin and frank named, each with why" sh -c \
	"grep -q '^galsmime encrypt: erin@example.org: directory corp did not answer in 2 s (.*), and nothing about erin@example.org is cached$' closed2.err &&
	 grep -q '^galsmime encrypt: frank@example.org: no certificate found' closed2.err"
check "... within the timeout + 2 s" less "$took" 4

config "$LDAP_URL" 1 2
sleep 2
ldap_pause
t0=$(now)
enc $(to bob carol henry ivan alice) >paused.p7m 2>paused.err
rc=$?
took=$(elapsed "$t0")
check "slapd under SIGSTOP, 5 recipients: exit 0 from the cache ($took s)" test $rc = 0
check "... within the timeout (2 s) + 2 s: one deadline, not 2 s per recipient" less "$took" 4
check "... and it did wait for the server (not before the timeout)" less 1.9 "$took"
check "... the 4 old answers said, with their age" sh -c \
	"test \$(grep -c 'directory corp did not answer in 2 s (.*); using its answer for .* cached [0-9]* seconds* ago\$' paused.err) = 4"
t0=$(now)
enc $(to bob erin frank nora dave) >out.p7m 2>paused2.err
rc=$?
took=$(elapsed "$t0")
check "slapd under SIGSTOP, 5 recipients, 4 never cached: fail closed, exit 67 ($took s)" test $rc = 67
check "... within the timeout + 2 s" less "$took" 4
check "... each named" sh -c "for u in erin frank nora dave; do grep -q \"^galsmime encrypt: \$u@example.org: .*nothing about \$u@example.org is cached\" paused2.err || exit 1; done"
# a directory that binds, then never answers the search
python3 "$TESTS_TOP/tests/gal/ldap-proxy.py" stall.port "$SLAPD_PORT" stall.pages stall:search &
STALL=$!
i=0; until [ -s stall.port ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
ldap_resume
config "ldap://127.0.0.1:$(cat stall.port)" 1 2
t0=$(now)
enc $(to bob carol henry ivan nora) >/dev/null 2>stall.err
rc=$?
took=$(elapsed "$t0")
kill $STALL 2>/dev/null
check "a directory that binds, then never answers the search: fail closed for nora, exit 67 ($took s)" test $rc = 67
check "... within the timeout + 2 s, for 5 recipients" less "$took" 4
check "... the search timed out, the old answers used" sh -c \
	"grep -q '^galsmime encrypt: bob@example.org: directory corp did not answer in 2 s (.*search: Timed out); using its answer' stall.err"
config "$LDAP_URL" 1 2
ldap_pause
check "gal explain --refresh while it is stopped: says so, shows the cache" sh -c \
	"'$GALSMIME' gal explain --refresh bob@example.org >explain.out 2>&1; grep -q '^directory corp did not answer in 2 s' explain.out && grep -q '^chosen: $(fp bob)\$' explain.out"
ldap_resume
check "gal explain --refresh asks now" sh -c \
	"'$GALSMIME' gal explain --refresh bob@example.org >explain.out 2>&1; grep -q '^directory corp: asked now\$' explain.out"

# ---- hostile answers: judged exactly as the same entries from an export ----
config "$LDAP_URL" 3600 2
python3 - "$PKI" >hostile.ldif <<'PY'
import base64, subprocess, sys
pki = sys.argv[1]
def b64(user):
    der = subprocess.run(["openssl", "x509", "-in", "%s/%s.crt" % (pki, user), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return base64.b64encode(der).decode()
print("dn: ou=hostile,dc=example,dc=org\nobjectClass: organizationalUnit\nou: hostile\n")
def person(cn, mails, cert, proxies=()):
    lines = ["dn: cn=%s,ou=hostile,dc=example,dc=org" % cn, "objectClass: inetOrgPerson",
             "objectClass: galsmimeRecipient", "cn: " + cn, "sn: X", "mail: " + mails]
    lines += ["proxyAddresses: " + p for p in proxies]
    lines.append("userCertificate;binary:: " + b64(cert))
    print("\n".join(lines) + "\n")
# a takeover: alice is bound by her own certificate; an entry lists her
# address (as a proxy of another one) and offers carol's
person("Takeover", "taker@example.org", "carol", ["smtp:alice@example.org", "SMTP:taker@example.org"])
# a certificate for another address: eve's entry offers bob's
person("Eve", "eve@example.org", "bob")
# a certificate that does not chain to an anchor
person("Mal", "mal@example.org", "mallory")
PY
check "ldapadd the hostile entries" ldap_load hostile.ldif
cat >"$XDG_CONFIG_HOME/galsmime/config" <<EOF
[directory corp]
url = $LDAP_URL
base = ou=hostile,dc=example,dc=org
ttl = 3600
EOF
# the same entries, as an export: a second store
ldapsearch -x -LLL -H "$LDAP_URL" -b ou=hostile,dc=example,dc=org '(mail=*)' >hostile-export.ldif 2>/dev/null
EXPORT=$T_DIR/export
(export GALSMIME_HOME=$EXPORT; store_setup && gs gal import --source export hostile-export.ldif >/dev/null)
verdicts() { grep -E '^(chosen|cannot encrypt|conflict|bound by|    bound by|    verdict)' "$1" | sed 's/directory:corp/SOURCE/g; s/\[export\]/[SOURCE]/g; s/export/SOURCE/g'; }
for who in taker eve mal alice; do
	gs gal explain --refresh $who@example.org >live-$who.out 2>&1
	GALSMIME_HOME=$EXPORT XDG_CONFIG_HOME=/nonexistent "$GALSMIME" gal explain $who@example.org >export-$who.out 2>&1
	verdicts live-$who.out >live-$who.v
	verdicts export-$who.out >export-$who.v
done
check "a takeover of alice's address: alice's own certificate stays chosen" \
	contains live-alice.out "^chosen: $(fp alice)$"
check "... carol's certificate, offered by the taker's entry, only a candidate" \
	sh -c "grep -q '^  $(fp carol)\$' live-alice.out && grep -q 'entry Takeover, attribute userCertificate, fetched' live-alice.out"
check "... exactly as from an export" diff export-alice.v live-alice.v
check "a certificate for another address (eve's entry offers bob's): as from an export" diff export-eve.v live-eve.v
check "... bound by the directory only, as an export binds it" contains live-eve.out "bound by   the directory only"
check "a certificate not chaining to an anchor: not chosen" contains live-mal.out "^cannot encrypt to mal@example.org: .*does not reach a trust anchor"
check "... exactly as from an export" diff export-mal.v live-mal.v
check "... and encrypt fails closed naming mal (67)" sh -c \
	"bare_msg() { printf 'From: alice@example.org\\nSubject: x\\n\\nx\\n'; }; bare_msg | '$GALSMIME' encrypt --to mal@example.org >/dev/null 2>mal.err; test \$? = 67 && grep -q 'mal@example.org: no usable certificate' mal.err"
check "the taker's entry is cached for taker@ and lists alice@: alice's answer unchanged" \
	test "$(chosen alice@example.org)" = "$(fp alice)"

# ---- binding, and a configuration that cannot be used ----
bindconf() { # bindconf PWFILE
	cat >"$XDG_CONFIG_HOME/galsmime/config" <<EOF2
[directory corp]
url = $LDAP_URL
base = $BASE
bind_dn = $SLAPD_ROOTDN
password_file = $1
ttl = 3600

[directory broken]
base = $BASE
EOF2
}
bindconf "$SLAPD_PWFILE"
gs gal explain --refresh carol@example.org >explain.out 2>explain.err
check "a simple bind with bind_dn and password_file: asked now" contains explain.out "^directory corp: asked now$"
check "... a [directory] group without a url is said and left out" \
	contains explain.err "^galsmime gal: \[directory broken\]: needs a name and a url \(ignored\)$"
(umask 077 && echo wrong >wrong.pw)
bindconf "$T_DIR/wrong.pw"
gs gal explain --refresh carol@example.org >explain.out 2>&1
check "a wrong password: the directory could not be asked, the cache is used, its age said" \
	contains explain.out "^directory corp could not be asked \(.*wrong bind DN or password\); using its answer for carol@example.org cached [0-9]+ seconds? ago$"
check "... carol still resolves from the cache" contains explain.out "^chosen: $(fp carol)$"
chmod 644 wrong.pw
gs gal explain --refresh carol@example.org >explain.out 2>explain.err
check "a password file others can read: refused, the directory left out" \
	sh -c "grep -q 'corp.*its password cannot be read (ignored)' explain.err && ! grep -Eq '^directory corp(:| could| did)' explain.out"
gs cert list >/dev/null 2>certlist.err
check "... commands that never ask a directory (cert list) neither read its password nor say a word" \
	test ! -s certlist.err
