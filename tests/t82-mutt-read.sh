#!/bin/sh
# mutt and neomutt, driven in tmux, with the installed plugin/mutt/smime.rc
# (every $smime_*_command is galsmime mutt ...): reading an encrypted and
# signed message asks for the passphrase and shows the decrypted text,
# galsmime's verdict and mutt's own "S/MIME signature successfully
# verified" (sender check through pk7out/get-signer-cert/get-cert-email);
# a tampered one shows the failure. Then mutt's compose path with its own
# S/MIME: crypt_autosign + crypt_autoencrypt, and crypt_opportunistic_encrypt
# picking the certificates sync-index wrote; and what mutt shows when
# galsmime send (as $sendmail) refuses to send. These run in tmux, not in
# batch mode: mutt and neomutt ignore crypt_autosign, crypt_autoencrypt
# and crypt_opportunistic_encrypt in batch mode (send.c: "we are in batch
# mode" is one of the cases where the message's security is not set).
. "$TESTS_TOP/tests/lib.sh"
. "$TESTS_TOP/tests/mutt-tmux.sh"

check "store setup: trust the root, alice's identity" store_setup
check "the test GAL (galfix oab) imported" sh -c "python3 '$TESTS_TOP/tests/gal/galfix.py' '$PKI' oab gal.oab &&
	'$GALSMIME' gal import gal.oab >/dev/null"
"$GALSMIME" mutt sync-index "$T_DIR/smime/certificates" --keys "$T_DIR/smime/keys" >sync.out 2>&1
check "sync-index for mutt's own lookup" test $? = 0
KEYID=$(awk '$1 == "alice@example.org" { print $2; exit }' smime/keys/.index)

write_muttrc "$KEYID"
check "the test muttrc sources the installed smime.rc" test -f "$SMIMERC"

# ---- the messages: bob signs with openssl, then encrypts to alice ----
printf 'Content-Type: text/plain; charset=us-ascii\n\nThe eagle lands at noon.\nBring the map.\n' >inner.txt
openssl smime -sign -md sha256 -in inner.txt -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" \
	-certfile "$PKI/bob-chain.pem" >signed.ent
sed 's/noon/dawn/' signed.ent >tampered.ent
# mbox FILE SUBJECT ENTITY: an mbox of one message from bob, ENTITY encrypted to alice
mbox() {
	{
		echo "From bob@example.org Sat Nov 28 12:00:00 2026"
		echo "Date: Sat, 28 Nov 2026 12:00:00 +0000"
		echo "Message-ID: <$2.t82@example.org>"
		openssl smime -encrypt -aes256 -in "$3" -from 'Bob Example <bob@example.org>' \
			-to alice@example.org -subject "$2" "$PKI/alice.crt"
		echo
	} >"$1"
}
mbox mail/plans "secret-plans" signed.ent
mbox mail/tampered "tampered-plans" tampered.ent
{
	echo "From bob@example.org Sat Nov 28 12:00:00 2026"
	echo "Date: Sat, 28 Nov 2026 12:00:00 +0000"
	echo "Message-ID: <signed-only.t82@example.org>"
	openssl smime -sign -md sha256 -in inner.txt -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" \
		-certfile "$PKI/bob-chain.pem" -from 'Bob Example <bob@example.org>' \
		-to alice@example.org -subject "signed-only"
	echo
} >mail/signed
check "the test mailboxes exist" sh -c "grep -q enveloped-data mail/plans && grep -q enveloped-data mail/tampered"
BOBFPR=$(fpr "$PKI/bob.crt")

for M in $MUTTS; do
	S=$M-read
	if read_msg "$M" "$S" plans secret-plans yes; then
		check_screen "$M: the decrypted text is on screen" "$S" 'The eagle lands at noon\.'
		check_screen "$M: galsmime's first line, 'Verification successful'" "$S" '^Verification successful$'
		check_screen "$M: who signed: name and address" "$S" '^Good signature from Bob Example <bob@example.org>'
		check_screen "$M: the signer's fingerprint" "$S" "fingerprint \(SHA-256\): $BOBFPR"
		check_screen "$M: the signer's validity" "$S" 'valid 2025-01-01 .* to 2035-12-31'
		check_screen "$M: mutt: \"S/MIME signature successfully verified\" (sender check via get-signer-cert)" \
			"$S" 'S/MIME signature successfully verified'
		check_screen "$M: mutt marks the text as signed and encrypted" "$S" 'The following data is S/MIME encrypted'
		check "$M: no 'no certfile', no error prompt" sh -c "! grep -Eq 'no certfile|Press any key|rror' screen.$S"
	fi
	stop "$S"

	S=$M-tampered
	if read_msg "$M" "$S" tampered tampered-plans yes; then
		check_screen "$M, tampered: the (tampered) text is shown" "$S" 'The eagle lands at dawn\.'
		check_screen "$M, tampered: galsmime's first line says FAILED and why" "$S" '^Verification FAILED: digest mismatch'
		check_screen "$M, tampered: BAD signature from bob" "$S" '^BAD signature from Bob Example <bob@example.org>'
		check_screen "$M, tampered: mutt: \"S/MIME signature could NOT be verified\"" \
			"$S" 'S/MIME signature could NOT be verified'
		check "$M, tampered: no 'Verification successful' anywhere" \
			sh -c "! grep -q '^Verification successful' screen.$S"
	fi
	stop "$S"

	S=$M-signed
	if read_msg "$M" "$S" signed signed-only no; then
		check_screen "$M, signed only (no passphrase asked): good, text shown" "$S" 'The eagle lands at noon\.'
		check_screen "$M, signed only: 'Verification successful' and mutt's verdict" "$S" \
			'S/MIME signature successfully verified'
	fi
	stop "$S"
done

# ---- mutt's compose path with its own S/MIME (smime.rc) ----
ocdecrypt() { openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2"; }
# signed_by_alice FILE: openssl smime -verify accepts FILE, signed by alice
signed_by_alice() {
	# on failure, check shows why: openssl's words, else what was signed
	openssl smime -verify -CAfile "$PKI/cas.pem" -purpose smimesign -in "$1" -signer signer.pem \
		-out signed.txt 2>&1 &&
	{ grep -q 'the eagle lands at noon' signed.txt || { cat signed.txt; false; }; } &&
	{ [ "$(fpr signer.pem)" = "$(fpr "$PKI/alice.crt")" ] || { echo "signer: $(fpr signer.pem)"; false; }; }
}

for M in $MUTTS; do
	S=$M-auto
	if compose "$M" "$S" "set crypt_autosign crypt_autoencrypt" bob@example.org 'Sign, Encrypt'; then
		check "$M, autosign+autoencrypt: enveloped-data" \
			sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi 'smime-type=enveloped-data'"
		ocdecrypt bob "$CAP/1.eml" >auto.inner 2>/dev/null
		check "$M, autosign+autoencrypt: bob decrypts it (galsmime mutt encrypt)" test -s auto.inner
		check "$M, autosign+autoencrypt: alice too (\$smime_self_encrypt, her certificate from sync-index)" \
			sh -c "openssl cms -decrypt -recip '$PKI/alice.crt' -inkey '$PKI/alice.key' -in '$CAP/1.eml' >/dev/null 2>&1"
		check "$M, autosign+autoencrypt: inside, alice's signature is good for openssl (galsmime mutt sign)" \
			signed_by_alice auto.inner
		check "$M, autosign+autoencrypt: micalg=sha-256" grep -qi 'micalg=sha-256' auto.inner
	fi
	stop "$S"

	S=$M-oppenc
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" bob@example.org 'Sign, Encrypt'; then
		check "$M, opportunistic: bob in the GAL (t in sync-index's .index): encrypted" \
			sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi 'smime-type=enveloped-data'"
		ocdecrypt bob "$CAP/1.eml" >opp.inner 2>/dev/null
		check "$M, opportunistic: bob decrypts it, signed by alice inside" signed_by_alice opp.inner
	fi
	stop "$S"

	S=$M-oppenc-carol
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" carol@example.org 'Sign, Encrypt'; then
		check "$M, opportunistic: carol (EC) decrypts it" \
			sh -c "openssl cms -decrypt -recip '$PKI/carol.crt' -inkey '$PKI/carol.key' -in '$CAP/1.eml' >/dev/null 2>&1"
	fi
	stop "$S"

	S=$M-oppenc-nora
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" nora@example.org 'Security: Sign \(S/MIME\)'; then
		check "$M, opportunistic: nora (no certificate) gets it signed, not encrypted" \
			sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi 'multipart/signed'"
		check "$M, opportunistic: the signature to nora is good" signed_by_alice "$CAP/1.eml"
	fi
	stop "$S"

	S=$M-oppenc-dave
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" dave@example.org 'Security: Sign \(S/MIME\)'; then
		check "$M, opportunistic: dave (expired, 'e' in the .index) is not encrypted to" \
			sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi 'multipart/signed'"
	fi
	stop "$S"
done

# ---- galsmime send as $sendmail in the interactive mutt: what the user sees ----
export GALSMIME_PASSPHRASE_FILE="$PKI/pass"
cp read.rc wrap.rc
cat >>wrap.rc <<EOR
source $GALSMIME_PREFIX/share/galsmime/mutt/galsmime.muttrc
set my_sendmail="$T_DIR/capture"
send2-hook . 'set sendmail="galsmime send --sign --encrypt \$my_sendmail"'
EOR
for M in $MUTTS; do
	S=$M-wrap
	rm -f "$CAP"/*
	start "$S" "$M -n -F $T_DIR/wrap.rc -s wrapped bob@example.org nora@example.org"
	if wait_for "$S" '^ *Security: '; then
		keys "$S" y
		if wait_for "$S" 'exited 67'; then
			pass "$M: sending through galsmime send --encrypt to nora: mutt reports exit 67"
			# mutt says "exited 67" first, then opens the child's
			# output in its pager: wait for that
			wait_for "$S" 'galsmime send: nora@' 5
			check_screen "$M: mutt shows galsmime's line naming nora and why" "$S" \
				'galsmime send: nora@example.org: in the GAL as .nora. .*with no certificate'
			check "$M: ... and no line about bob" sh -c "! grep -q 'galsmime send: bob@' screen.$S"
			check "$M: nothing reached the capture script" test -z "$(ls "$CAP")"
		else
			fail "$M: sending through galsmime send --encrypt to nora: mutt reports exit 67" "$(screen "$S")"
		fi
	else
		fail "$M: the compose menu shows up ($S)" "$(screen "$S")"
	fi
	stop "$S"
done
