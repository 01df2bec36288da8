#!/bin/sh
# What galsmime writes: -q/--quiet keeps every successful command silent
# (no summary on stdout, nothing on stderr) yet says what went wrong and
# every security warning; stdout is one checked channel: a reader that
# went away ends a listing quietly with exit 74, a full disk is said once;
# gal stats lines up its columns.
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# quiet NAME CMD...: CMD exits 0 with nothing on stdout or stderr
quiet() {
	name=$1; shift
	"$@" >q.out 2>q.err; rc=$?
	check "-q $name: exit 0, stdout and stderr empty" \
		sh -c "[ $rc = 0 ] && [ ! -s q.out ] && [ ! -s q.err ] || { cat q.out q.err; exit 1; }"
}
# noisy NAME PATTERN CMD...: without -q the same kind of command says PATTERN on stdout
noisy() {
	name=$1 pat=$2; shift 2
	"$@" >n.out 2>n.err; rc=$?
	check "without -q $name says what it did" sh -c "[ $rc = 0 ] && grep -Eq -- '$pat' n.out"
}

# ---- the store's commands ----
quiet "trust import" gs -q trust import "$PKI/root.crt"
noisy "trust import" 'trust anchors added' gs trust import "$PKI/root.crt"
quiet "cert import" gs --quiet cert import "$PKI/inter.crt"
noisy "cert import" 'certificates new' gs cert import "$PKI/bob.crt"
quiet "key import" gs -q key import "$PKI/alice.p12" $PASS
noisy "key import" 'identity .* imported' gs key import "$PKI/alice.p12" $PASS
quiet "mutt import-cert" gs -q mutt import-cert "$PKI/carol.crt"
noisy "mutt import-cert" 'certificates new' gs mutt import-cert "$PKI/carol.crt"
cp -r "$PKI/ca-inter" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
openssl ca -batch -config ca/ca.cnf -cert "$PKI/inter.crt" -keyfile "$PKI/inter.key" \
	-gencrl -crldays 30 -out inter.crl 2>/dev/null
quiet "crl import" gs -q crl import inter.crl
noisy "crl import" 'unchanged' gs crl import inter.crl

# ---- filters: silent when all is well ----
msg alice@example.org bob@example.org "quiet" >m.eml
gs sign $PASS <m.eml >signed.eml 2>/dev/null
quiet "sign" sh -c "'$GALSMIME' -q sign $PASS <m.eml >/dev/null"
quiet "verify of a good signature" sh -c "'$GALSMIME' -q verify <signed.eml >/dev/null"
gs verify <signed.eml >/dev/null 2>v.err
check "without -q verify names the good signer" contains v.err 'good signature from'
quiet "encrypt" sh -c "'$GALSMIME' -q encrypt --cipher aes256-gcm <m.eml >/dev/null"
gs encrypt --sign --cipher aes256-gcm $PASS <m.eml >enc-gcm.eml 2>/dev/null
quiet "decrypt of signed, authenticated content" \
	sh -c "'$GALSMIME' -q decrypt $PASS <enc-gcm.eml >/dev/null"
gs decrypt $PASS <enc-gcm.eml >/dev/null 2>d.err
check "without -q decrypt says the cipher and the signer" \
	sh -c "grep -q 'encrypted with' d.err && grep -q 'good signature from' d.err"

# ---- what -q never hides ----
gs encrypt <m.eml >enc-cbc.eml 2>/dev/null
gs -q decrypt $PASS <enc-cbc.eml >/dev/null 2>w.err
check "-q decrypt of unsigned CBC content still warns that it is not authenticated, in one line" \
	sh -c "one_line() { [ \$(wc -l <\$1) -eq 1 ]; }; one_line w.err && grep -q 'WARNING: the content may have been altered' w.err"
sed 's/this is a test message/this is a forged message/' signed.eml >forged.eml
check "the forgery differs from the signed message" not cmp -s signed.eml forged.eml
gs -q verify <forged.eml >/dev/null 2>b.err; rc=$?
check "-q verify of a bad signature exits 1 and says BAD" \
	sh -c "[ $rc = 1 ] && grep -q 'BAD' b.err"
check_exit 67 "-q encrypt to someone without a certificate still fails, saying who" \
	sh -c "'$GALSMIME' -q encrypt --to nobody@example.org <m.eml >/dev/null 2>e.err && exit 0; rc=\$?; grep -q 'nobody@example.org' e.err && exit \$rc"

# ---- stdout: one checked channel ----
# a reader that is gone before the listing is written (`trust list | head`)
cat >closed-pipe.py <<'EOF'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w, stderr=open("pipe.err", "wb"))
sys.exit(p.returncode)
EOF
python3 closed-pipe.py "$GALSMIME" cert list; rc=$?
check "cert list into a closed pipe: exit 74, nothing on stderr" sh -c "[ $rc = 74 ] && [ ! -s pipe.err ]"
python3 closed-pipe.py "$GALSMIME" gal stats; rc=$?
check "gal stats into a closed pipe: exit 74, nothing on stderr" sh -c "[ $rc = 74 ] && [ ! -s pipe.err ]"
if [ -w /dev/full ]; then
	gs cert list >/dev/full 2>full.err; rc=$?
	check "cert list onto a full disk: exit 74, said once" \
		sh -c "[ $rc = 74 ] && [ \$(wc -l <full.err) = 1 ] && grep -q 'stdout: No space left' full.err"
	gs -q trust import "$PKI/root.crt" >/dev/full 2>full.err; rc=$?
	check "-q trust import writes nothing, so a full stdout is no error" sh -c "[ $rc = 0 ] && [ ! -s full.err ]"
else
	fail "/dev/full is writable (needed to test a failing stdout)"
fi

# ---- gal stats: aligned columns, one name per source ----
gs -q cert import --source a-source-with-a-long-name "$PKI/grace.crt"
gs -q cert import --source x "$PKI/henry.crt"
gs gal stats >stats.out
check "gal stats has a header and a row per source" \
	sh -c "head -1 stats.out | grep -q '^SOURCE  *KIND  *ENTRIES' && grep -q '^a-source-with-a-long-name ' stats.out && grep -q '^x  *cert ' stats.out"
# every row's date starts under IMPORTED, and its numbers end under
# their headings
cat >aligned.awk <<'EOF'
NR == 1 { p = index($0, "IMPORTED"); e = index($0, "ENTRIES") + 6; next }
substr($0, p, 2) != "20" || substr($0, e, 1) !~ /[0-9]/ || substr($0, e + 1, 1) != " " { bad = 1; print }
END { exit bad || NR < 4 }
EOF
check "gal stats: the columns line up, long names and short" awk -f aligned.awk stats.out
check "gal stats names a file by its full path, as it was imported" \
	grep -q "^$PKI/root.crt " stats.out
