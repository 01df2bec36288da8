#!/bin/sh
# notmuch: harvesting certificates from the database (galsmime notmuch
# harvest and the post-new hook), and the reply pipelines of the README,
# with the real notmuch CLI on a temporary maildir.
. "$TESTS_TOP/tests/lib.sh"

if ! have notmuch; then
	skip "notmuch tests" "notmuch is not installed"
	exit 0
fi
export PATH="$GALSMIME_PREFIX/bin:$PATH"

# Alice's store signs; Bob's store (the notmuch user's) learns.
A="$T_DIR/alice-store"
gs --home "$A" trust import "$PKI/root.crt" >/dev/null
gs --home "$A" cert import "$PKI/inter.crt" "$PKI/bob.crt" >/dev/null
gs --home "$A" key import "$PKI/alice.p12" --passphrase-file "$PKI/pass" >/dev/null
M="$T_DIR/mail"
mkdir -p "$M/cur" "$M/new" "$M/tmp"
# (called at the end of pipelines, so in a subshell: names come from mktemp)
deliver() { f=$(mktemp -u "$M/cur/m.XXXXXXXX"); cat >"$f:2,"; }

msg alice@example.org bob@example.org "signed by alice" |
	gs --home "$A" sign --passphrase-file "$PKI/pass" | deliver
msg alice@example.org bob@example.org "opaque by alice" |
	gs --home "$A" sign --opaque --passphrase-file "$PKI/pass" | deliver
msg alice@example.org bob@example.org "tampered" |
	gs --home "$A" sign --passphrase-file "$PKI/pass" | sed 's/this is a test/this is a fake/' | deliver
# mallory signs with a certificate from a CA nobody trusts
msg mallory@example.org bob@example.org "untrusted" >mallory.eml
openssl smime -sign -in mallory.eml -signer "$PKI/mallory.crt" -inkey "$PKI/mallory.key" \
	-certfile "$PKI/mallory-chain.pem" >mallory.signed 2>/dev/null
{ grep -E '^(From|To|Subject|Date|Message-ID):' mallory.eml; cat mallory.signed; } | deliver
msg carol@example.org bob@example.org "plain" | deliver
# signed by alice, then encrypted to bob (and alice)
msg alice@example.org bob@example.org "secret from alice" |
	gs --home "$A" encrypt --sign --passphrase-file "$PKI/pass" | deliver

cat >"$T_DIR/notmuch-config" <<EOC
[database]
path=$M
[user]
name=Bob Example
primary_email=bob@example.org
[new]
tags=unread;inbox
[search]
exclude_tags=
EOC
export NOTMUCH_CONFIG="$T_DIR/notmuch-config"
check "notmuch new indexes the test maildir" notmuch new

# Bob's store: trusts the root and has his own key, knows no one
gs trust import "$PKI/root.crt" >/dev/null
gs cert import "$PKI/inter.crt" >/dev/null
gs key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null
check_exit 1 "before harvesting, alice cannot be encrypted to" gs gal explain alice@example.org

gs notmuch harvest --tag >h1.out 2>h1.err
check "harvest reports the good signatures it learnt from" contains h1.out "harvest: [0-9]+ messages: 2 good \(1 certificates new, 1 known\)"
check "harvest counts the tampered and the untrusted signature as not good" contains h1.out ", 2 not good"
check "harvest skips the encrypted message without --decrypt" contains h1.out "1 encrypted and skipped"
check "harvest writes no progress when stderr is not a terminal" test ! -s h1.err
check "after harvesting, alice resolves to her certificate" gs gal explain alice@example.org
gs gal explain alice@example.org >ex.out
check "the certificate comes from the harvest source" contains ex.out "source harvest"
check_exit 1 "mallory's untrusted certificate was not learnt" gs gal explain mallory@example.org
gs gal explain mallory@example.org >exm.out
check "mallory has no candidate at all" contains exm.out "0 candidate certificates"
echo "SELECT oids FROM capability c JOIN certificate k ON k.id = c.certificate JOIN certificate_address a ON a.certificate = k.id WHERE a.address = 'alice@example.org';" >caps.sql
sqlite3 "$GALSMIME_HOME/galsmime.db" <caps.sql >caps.out
check "alice's SMIMECapabilities were recorded (AES-256-GCM first)" contains caps.out "^2\.16\.840\.1\.101\.3\.4\.1\.46,"

notmuch search --output=messages tag:smime-good >good.ids
notmuch search --output=messages tag:smime-bad >bad.ids
check "--tag marks the two good messages smime-good" test "$(wc -l <good.ids)" -eq 2
check "--tag marks the two bad messages smime-bad" test "$(wc -l <bad.ids)" -eq 2
check "every harvested signed message is tagged smime-signed" \
	test "$(notmuch count tag:smime-signed)" -eq 4
check "the plain message is not tagged" test "$(notmuch count 'subject:plain and tag:smime-signed')" -eq 0

# incremental: the second run looks at nothing new
gs notmuch harvest --tag >h2.out 2>&1
check "a second run imports nothing" contains h2.out "0 good \(0 certificates new, 0 known\)"
check "a second run skips every message done before" contains h2.out "done before"
db_before=$(sqlite3 "$GALSMIME_HOME/galsmime.db" 'SELECT count(*) FROM certificate')
gs notmuch harvest >/dev/null 2>&1
check "a second run leaves the certificate table as it was" \
	test "$(sqlite3 "$GALSMIME_HOME/galsmime.db" 'SELECT count(*) FROM certificate')" = "$db_before"

# with the key, the encrypted message is opened and its signer learnt
gs notmuch harvest --decrypt --passphrase-file "$PKI/pass" >h3.out 2>&1
check "--decrypt looks inside the encrypted message" contains h3.out "1 good"

# the post-new hook: a new signed message is harvested by notmuch new
hooks="$M/.notmuch/hooks"
mkdir -p "$hooks"
cp "$GALSMIME_PREFIX/share/galsmime/notmuch/post-new" "$hooks/post-new"
chmod +x "$hooks/post-new"
C="$T_DIR/carol-store"
gs --home "$C" trust import "$PKI/root.crt" >/dev/null
gs --home "$C" cert import "$PKI/inter.crt" >/dev/null
gs --home "$C" key import "$PKI/grace.p12" --passphrase-file "$PKI/pass" >/dev/null
msg grace@example.org bob@example.org "from grace" |
	gs --home "$C" sign --passphrase-file "$PKI/pass" >"$M/new/grace.eml"
check_exit 1 "grace is unknown before notmuch new" gs gal explain grace@example.org
notmuch new >new.out 2>&1; rc=$?
check "notmuch new runs the post-new hook" test $rc = 0
check "... and the hook (--quiet) adds nothing to what notmuch new says" \
	sh -c "! grep -q 'harvest' new.out"
check "the hook harvested grace's certificate" gs gal explain grace@example.org
check "the hook tagged the new message smime-good" test "$(notmuch count 'subject:grace and tag:smime-good')" -eq 1

# reply pipelines
id=$(notmuch search --output=messages 'subject:"secret from alice"' | head -1)
notmuch show --format=raw "$id" | gs decrypt --passphrase-file "$PKI/pass" -q 2>pipe.err |
	gs verify -q >pipe.out 2>>pipe.err
rc=$?
check "show | decrypt | verify: the plaintext comes out" contains pipe.out "this is a test message"
check "show | decrypt | verify: the signature is good" test "$rc" = 0

cat >capture <<'EOC'
#!/bin/sh
d=$(dirname "$0")/sent
mkdir -p "$d"
k=$(ls "$d" | wc -l)
printf '%s\n' "$@" >"$d/$k.args"
cat >"$d/$k.eml"
EOC
chmod +x capture
id=$(notmuch search --output=messages 'subject:"signed by alice"' | head -1)
notmuch reply "$id" | gs send --sign --encrypt=auto --passphrase-file "$PKI/pass" -- "$T_DIR/capture" -t
check "notmuch reply | galsmime send -t hands one copy to sendmail" test -f sent/0.eml
check "the reply keeps -t for sendmail" contains sent/0.args "^-t$"
check "the reply to a harvested signer is encrypted" contains sent/0.eml "application/pkcs7-mime"
check "alice can decrypt the reply, which quotes her message" sh -c "openssl cms -decrypt -in sent/0.eml -recip '$PKI/alice.crt' -inkey '$PKI/alice.key' | grep -q '> this is a test message'"
rm -rf sent
id=$(notmuch search --output=messages 'subject:plain' | head -1)
notmuch reply "$id" | gs send --sign --encrypt=auto --passphrase-file "$PKI/pass" -- "$T_DIR/capture" -t
check "a reply to someone without a certificate goes out signed, not encrypted" \
	sh -c "grep -q 'multipart/signed' sent/0.eml && ! grep -q 'pkcs7-mime' sent/0.eml"
