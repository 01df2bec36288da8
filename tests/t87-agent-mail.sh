#!/bin/sh
# The mail programs with the key agent and no passphrase file anywhere:
# each user's key unlocked once (`galsmime agent preset`, read from
# stdin), then the real mutt sends signed and encrypted through
# `galsmime send`, the real procmail decrypts on delivery with the
# shipped recipe, and `galsmime notmuch harvest --decrypt` reads
# encrypted mail in a notmuch database. With the agent stopped and no
# terminal, nothing is lost: procmail stores the message as it came and
# the wrapper sends nothing. No GALSMIME_PASSPHRASE_FILE is set.
. "$TESTS_TOP/tests/lib.sh"

PATH="$GALSMIME_PREFIX/bin:$PATH"
export PATH
unset GALSMIME_PASSPHRASE_FILE GPG_TTY DISPLAY WAYLAND_DISPLAY || true

# a short folder for the agents' sockets (107 bytes at most): alice's
# agent (this test's store) and bob's, as two users have two
RUN=$(mktemp -d /tmp/gs87.XXXXXX)
mkdir -m 700 "$RUN/alice" "$RUN/bob"
chmod 700 "$RUN"
export XDG_RUNTIME_DIR="$RUN/alice"
B="$T_DIR/bob-store"
bob() { XDG_RUNTIME_DIR="$RUN/bob" "$GALSMIME" --home "$B" "$@"; }
cleanup() {
	gs agent stop >/dev/null 2>&1
	bob agent stop >/dev/null 2>&1
	sleep 0.5
	rm -rf "$RUN"
}
trap 'cleanup; t_finish' EXIT

check "alice's store" store_setup
gs cert import "$PKI/bob.crt" >/dev/null
bob trust import "$PKI/root.crt" >/dev/null
bob cert import "$PKI/inter.crt" >/dev/null
bob key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null
check "alice's key preset in her agent" sh -c "'$GALSMIME' agent preset <'$PKI/pass' >preset.out 2>&1 || { cat preset.out >&2; false; }"
check "bob's key preset in his" sh -c "XDG_RUNTIME_DIR='$RUN/bob' '$GALSMIME' --home '$B' agent preset <'$PKI/pass' >/dev/null 2>&1"

printf 'Hello Bob,\nthe eagle lands at noon.\n' >body

# ---- mutt sends through galsmime send, the key in the agent ----
MUTT=
for m in mutt neomutt; do have $m && { MUTT=$m; break; }; done
if [ -n "$MUTT" ]; then
	mkdir -p mail tmp
	capture_setup
	{ muttrc_base; cat <<EOR
set use_envelope_from=no
set charset=utf-8
set crypt_use_gpgme=no
unset crypt_autosign crypt_autoencrypt crypt_opportunistic_encrypt
set from="Alice Example <alice@example.org>"
set sendmail="galsmime send --sign --encrypt $T_DIR/capture -oi"
EOR
	} >send.rc
	$MUTT -n -F send.rc -s "noon" -- bob@example.org <body >send.out 2>&1
	check "$MUTT sends signed and encrypted with no passphrase file: exit 0, one copy" \
		sh -c "[ $? = 0 ] && [ \$(ls '$CAP' | grep -c '\\.eml\$') = 1 ]"
	check "... that bob decrypts (openssl cms, his key) to a signed entity alice's signature covers" \
		sh -c "openssl cms -decrypt -recip '$PKI/bob.crt' -inkey '$PKI/bob.key' -in '$CAP/1.eml' >sent.ent &&
		       openssl smime -verify -CAfile '$PKI/cas.pem' -purpose smimesign -in sent.ent -out sent.txt 2>/dev/null &&
		       grep -q 'the eagle lands at noon' sent.txt"
	cp "$CAP/1.eml" sent.eml
else
	skip "mutt sending with the agent" "neither mutt nor neomutt is installed"
	gs encrypt --sign --to bob@example.org <"$(msg alice@example.org bob@example.org >m0.eml; echo m0.eml)" >sent.eml
fi

# ---- notmuch: harvest --decrypt reads encrypted mail with the agent ----
if have notmuch; then
	MD="$T_DIR/nm"
	mkdir -p "$MD/cur" "$MD/new" "$MD/tmp"
	cp sent.eml "$MD/cur/m1:2,"
	printf '[database]\npath=%s\n[user]\nprimary_email=bob@example.org\n[new]\ntags=inbox\n' "$MD" >nm-config
	NOTMUCH_CONFIG=$T_DIR/nm-config notmuch new >/dev/null 2>&1
	check "bob's store has no certificate of alice's yet" \
		sh -c "! XDG_RUNTIME_DIR='$RUN/bob' '$GALSMIME' --home '$B' cert list 2>/dev/null | grep -q alice@example.org"
	NOTMUCH_CONFIG=$T_DIR/nm-config XDG_RUNTIME_DIR="$RUN/bob" \
		"$GALSMIME" --home "$B" notmuch harvest --decrypt >hv.out 2>&1
	check "notmuch harvest --decrypt with no passphrase file: exit 0" test $? = 0
	check "... alice's certificate learned from inside the encrypted message" \
		sh -c "XDG_RUNTIME_DIR='$RUN/bob' '$GALSMIME' --home '$B' cert list 2>/dev/null | grep -q alice@example.org"
else
	skip "notmuch harvest with the agent" "notmuch is not installed"
fi

# ---- procmail decrypts on delivery, bob's key in his agent ----
if have procmail; then
	RECIPES="$GALSMIME_PREFIX/share/galsmime/procmail/galsmime.procmailrc"
	sed '/^#:0 fw/,/^#| \$GALSMIME decrypt/ s/^#//' "$RECIPES" >recipes-on
	rcfile() { # NAME: a procmailrc delivering to md-NAME, bob's store and agent, no passphrase file
		{ printf 'SHELL=/bin/sh\nMAILDIR=%s/md-%s/\nDEFAULT=$MAILDIR\nLOGFILE=%s/pm-%s.log\n' \
			"$T_DIR" "$1" "$T_DIR" "$1"
		  printf 'PATH=%s/bin:%s\nGALSMIME_HOME=%s\nXDG_RUNTIME_DIR=%s\nINCLUDERC=%s/recipes-on\n' \
			"$GALSMIME_PREFIX" "$PATH" "$B" "$RUN/bob" "$T_DIR"; } >"rc-$1"
	}
	deliver() { # NAME FILE -> the one file delivered, in got-NAME
		rm -rf "md-$1"
		mkdir "md-$1"
		env -u GALSMIME_PASSPHRASE_FILE procmail -m "rc-$1" <"$2" || return 1
		f=$(find "md-$1" -type f)
		[ "$(printf '%s\n' "$f" | grep -c .)" = 1 ] && cp "$f" "got-$1"
	}
	rcfile on
	check "procmail delivers alice's signed, encrypted message" deliver on sent.eml
	check "... stored decrypted (a good signature by its From inside), the text readable" \
		sh -c "grep -q 'the eagle lands at noon' got-on && ! grep -qi 'pkcs7-mime' got-on"
	check "... and the log says nothing went wrong" sh -c "! grep -qi 'error\\|passphrase' pm-on.log"
	bob agent stop >/dev/null 2>&1
	sleep 0.3
	rcfile off
	check "bob's agent stopped, no terminal: procmail still delivers" deliver off sent.eml
	check "... the message as it came, still encrypted (nothing lost)" \
		sh -c "grep -qi 'pkcs7-mime' got-off && ! grep -q 'the eagle lands at noon' got-off"
	check "bob's key preset again" sh -c "XDG_RUNTIME_DIR='$RUN/bob' '$GALSMIME' --home '$B' agent preset <'$PKI/pass' >/dev/null 2>&1"
else
	skip "procmail delivery with the agent" "procmail is not installed"
fi

# ---- the wrapper with alice's agent stopped: nothing is sent ----
if [ -n "$MUTT" ]; then
	gs agent stop >/dev/null 2>&1
	sleep 0.3
	rm -f "$CAP"/*
	$MUTT -n -F send.rc -s "noon again" -- bob@example.org <body >send2.out 2>&1
	rc=$?
	check "alice's agent stopped, no terminal: mutt's send fails ($rc) and nothing reaches sendmail" \
		sh -c "[ $rc != 0 ] && [ \$(ls '$CAP' | grep -c '\\.eml\$') = 0 ]"
fi
