#!/bin/sh
# galsmime send, what the user learns: a copy that cannot be sent does
# not make the others lost or doubled (the To/Cc copy first; a failed Bcc
# copy does not stop the others; stderr names who got one and who did
# not, and how to send again to those only); and from interactive mutt,
# --encrypt=auto never sends unencrypted without the user seeing why
# (galsmime.muttrc's default: --confirm-unencrypted), proven with the
# real mutt and neomutt in tmux.
. "$TESTS_TOP/tests/lib.sh"

check "store setup: trust the root, alice's identity" store_setup
gs cert import "$PKI/bob.crt" "$PKI/grace.crt" "$PKI/henry.crt" >/dev/null
P="--passphrase-file $PKI/pass"
# the capture script as sendmail; FAIL_FOR=ADDR makes the copy that
# names ADDR fail (exit 75)
capture_setup
printf 'From: Alice <alice@example.org>\nTo: bob@example.org\nBcc: grace@example.org, henry@example.org\nSubject: partial\n\nthe eagle lands at noon\n' >m.eml
ncopies() { ls "$CAP" | grep -c '\.eml$'; }

# ---- a Bcc copy fails: the others go, and stderr says who got one ----
rm -f cap/*
FAIL_FOR=grace@example.org gs send --sign --encrypt $P "$T_DIR/capture" -t <m.eml >/dev/null 2>bcc.err; rc=$?
check "a failed Bcc copy: send exits with sendmail's status (75)" test "$rc" = 75
check "... bob's and henry's copies went (2)" test "$(ncopies)" = 2
check "... stderr says grace's was NOT sent" contains bcc.err 'capture failed \(exit 75\): NOT sent to grace@example.org'
check "... and exactly who got one" contains bcc.err 'sent to bob@example.org, henry@example.org; NOT sent to grace@example.org'
check "... and how to send to grace alone" contains bcc.err 'send it again to them alone'

# ---- the To/Cc copy fails: nothing else goes ----
rm -f cap/*
FAIL_FOR=bob@example.org gs send --sign --encrypt $P "$T_DIR/capture" -- bob@example.org \
	grace@example.org henry@example.org <m.eml >/dev/null 2>main.err; rc=$?
check "a failed To/Cc copy: exit 75" test "$rc" = 75
check "... and no Bcc copy went either (a retry doubles nothing)" test "$(ncopies)" = 0
check "... stderr names them as not tried" \
	sh -c "grep -q 'not tried either: NOT sent to grace@example.org' main.err && grep -q 'nothing was sent: send it again' main.err"

# ---- --encrypt=auto --confirm-unencrypted, without mutt ----
printf 'From: Alice <alice@example.org>\nTo: bob@example.org, nora@example.org\nSubject: auto\n\nthe eagle lands at noon\n' >auto.eml
rm -f cap/*
gs send --sign --encrypt=auto --confirm-unencrypted $P "$T_DIR/capture" -t <auto.eml >/dev/null 2>c1.err; rc=$?
check "confirm: the first attempt that would go unencrypted is not sent (exit 67)" test "$rc" = 67
check "... nothing went" test "$(ncopies)" = 0
check "... saying why and how to send it anyway" \
	sh -c "grep -q 'nora@example.org: no certificate found' c1.err && grep -q 'send it again within 10 minutes to send it signed only' c1.err"
gs send --sign --encrypt=auto --confirm-unencrypted $P "$T_DIR/capture" -t <auto.eml >/dev/null 2>c2.err; rc=$?
check "... the same message again: sent (exit 0), signed only" \
	sh -c "[ $rc = 0 ] && [ \$(ls '$CAP' | grep -c eml) = 1 ] && grep -qi 'multipart/signed' '$CAP/1.eml'"
check "... saying it went unencrypted" contains c2.err 'not encrypted \(sent signed\): nora@example.org'
rm -f cap/*
gs send --sign --encrypt=auto --confirm-unencrypted $P "$T_DIR/capture" -t <auto.eml >/dev/null 2>c3.err; rc=$?
check "... the answer was used up: a third send asks again (exit 67)" test "$rc" = 67
sed 's/^Subject: auto/Subject: another/' auto.eml >other.eml
gs send --sign --encrypt=auto --confirm-unencrypted $P "$T_DIR/capture" -t <other.eml >/dev/null 2>/dev/null; rc=$?
check "... another message is asked about on its own (exit 67)" test "$rc" = 67

# ---- the same from interactive mutt and neomutt ----
MUTTS=
for m in mutt neomutt; do have $m && MUTTS="$MUTTS $m"; done
if ! have tmux || [ -z "$MUTTS" ]; then
	skip "--encrypt=auto from interactive mutt" "tmux, mutt or neomutt is not installed"
	exit 0
fi
. "$TESTS_TOP/tests/tmux.sh"
# mutt runs galsmime.muttrc's "galsmime send" by name: the installed one
PATH="$GALSMIME_PREFIX/bin:$PATH"
export PATH
export GALSMIME_PASSPHRASE_FILE="$PKI/pass"
mkdir -p mail
{ muttrc_base; cat <<EOR
set wait_key=no
set sleep_time=0
set help=no
set edit_headers=yes
set autoedit=yes
set abort_unmodified=no
set editor="$T_DIR/editor"
set crypt_use_gpgme=no
unset crypt_autosign crypt_autoencrypt crypt_opportunistic_encrypt
source $GALSMIME_PREFIX/share/galsmime/mutt/galsmime.muttrc
set my_sendmail="$T_DIR/capture"
EOR
} >send.rc
check "galsmime.muttrc's default asks before sending unencrypted" \
	grep -q '^send2-hook . .*--encrypt=auto --confirm-unencrypted' "$GALSMIME_PREFIX/share/galsmime/mutt/galsmime.muttrc"
printf '#!/bin/sh\necho "the eagle lands at noon" >>"$1"\n' >editor
chmod +x editor
for M in $MUTTS; do
	S=$M-auto
	rm -f cap/*
	start "$S" "$M -n -F $T_DIR/send.rc -s auto-$M bob@example.org nora@example.org"
	if ! wait_for "$S" '^ *(Subject|Security): '; then
		fail "$M: the compose menu shows up" "$(screen "$S")"
		stop "$S"
		continue
	fi
	settle "$S"
	# mutt may drop typeahead while it draws the menu: y again if the menu
	# is all there is after a while
	keys "$S" y
	if ! wait_for "$S" 'exited 67|not sent: it would go unencrypted' 5 &&
	   screen "$S" | grep -q '^ *Security: ' && ! screen "$S" | grep -q 'Sending'; then
		keys "$S" y
	fi
	if wait_for "$S" 'exited 67|not sent: it would go unencrypted'; then
		pass "$M: the first send does not go out unencrypted: mutt shows galsmime's refusal"
		check "$M: ... naming nora and why" sh -c "grep -q 'nora@example.org' screen.$S"
		check "$M: ... nothing reached sendmail" test "$(ncopies)" = 0
		# back to the compose menu, and send again
		settle "$S"
		keys "$S" q
		wait_for "$S" '^ *(Subject|Security): ' 5 || keys "$S" q
		settle "$S"
		keys "$S" y
		if ! wait_for "$S" 'Mail sent|Sending' 5; then
			keys "$S" y
		fi
		n=50
		while [ "$n" -gt 0 ] && [ "$(ncopies)" = 0 ]; do sleep 0.1; n=$((n - 1)); done
		check "$M: sent again: it goes, signed only" \
			sh -c "[ \$(ls '$CAP' | grep -c eml) = 1 ] && grep -qi 'multipart/signed' '$CAP/1.eml' &&
			       ! grep -qi 'pkcs7-mime' '$CAP/1.eml'"
	else
		fail "$M: the first send does not go out unencrypted: mutt shows galsmime's refusal" "$(screen "$S")"
	fi
	stop "$S"
done
