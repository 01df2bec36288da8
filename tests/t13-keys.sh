#!/bin/sh
# key import as people meet it: gpgsm's armoured PKCS#12 (what notmuch
# users migrating from gpgsm have), a passphrase asked on the terminal
# (no echo) when no option gives it, the options named when there is no
# terminal, and passphrase files others can read refused (as ssh refuses
# such private keys).
. "$TESTS_TOP/tests/lib.sh"

P="--passphrase-file $PKI/pass"
msg alice@example.org bob@example.org "key import" >m.eml

# ---- gpgsm's export ----
if have gpgsm; then
	check "gpgsm set-up: alice's secret key imported" gpgsm_setup alice
	trap 'gpgconf --kill all >/dev/null 2>&1; t_finish' EXIT
	echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --armor \
		--export-secret-key-p12 alice@example.org >alice-gpgsm.asc 2>/dev/null
	check "control: gpgsm wrote an armoured PKCS#12 after its text header" \
		sh -c "head -1 alice-gpgsm.asc | grep -q '^Issuer' && grep -q '^-----BEGIN PKCS12-----' alice-gpgsm.asc"
	gs --home gpg-store key import alice-gpgsm.asc $P >gpg.out 2>gpg.err; rc=$?
	check "key import reads gpgsm's armoured PKCS#12 (exit 0)" test "$rc" = 0
	check "... it is alice's identity" contains gpg.out "identity $(fp alice) imported"
	check "... and signs" sh -c "'$GALSMIME' --home gpg-store sign $P <m.eml | grep -q 'application/pkcs7-signature'"
	gs --home gpg-store2 key import alice-gpgsm.asc --passphrase-file "$PKI/wrongpass" >/dev/null 2>wrong.err; rc=$?
	check "... a wrong passphrase for it: exit 77" test "$rc" = 77

	# the set-up itself (lib.sh): gpgsm 2.2 cannot read about one in
	# eighty of the PKCS#12 files openssl writes, the same file every
	# time. An openssl whose first export gpgsm cannot read must not fail
	# it; one whose every export is unreadable must. (Each runs in a
	# throw-away folder and GNUPGHOME of its own, as lib.sh makes them.)
	mkdir -p shim
	cat >shim/openssl <<EOS
#!/bin/sh
if [ "\$1" = pkcs12 ] && [ ! -e "\$SHIM_DONE" ]; then
	[ -n "\$SHIM_ALWAYS" ] || : >"\$SHIM_DONE"
	while [ \$# -gt 1 ] && [ "\$1" != -out ]; do shift; done
	head -c 3000 /dev/urandom >"\$2"
	exit 0
fi
exec $(command -v openssl) "\$@"
EOS
	chmod +x shim/openssl
	check "gpgsm set-up: an unreadable first PKCS#12 file is written again" \
		env PATH="$T_DIR/shim:$PATH" SHIM_DONE="$T_DIR/shim-once" \
		sh -c '. "$TESTS_TOP/tests/lib.sh" >/dev/null; gpgsm_setup alice; rc=$?; gpgconf --kill all; exit $rc'
	check "... and the first file was the shim's" test -e "$T_DIR/shim-once"
	check_exit 1 "gpgsm set-up: no readable PKCS#12 file, no secret key: it fails" \
		env PATH="$T_DIR/shim:$PATH" SHIM_DONE="$T_DIR/shim-never" SHIM_ALWAYS=1 \
		sh -c '. "$TESTS_TOP/tests/lib.sh" >/dev/null; gpgsm_setup alice; rc=$?; gpgconf --kill all; exit $rc'
else
	skip "gpgsm's armoured PKCS#12" "gpgsm is not installed"
fi

# ---- no passphrase option, no terminal: the options are named ----
gs --home notty key import "$PKI/alice.p12" </dev/null >/dev/null 2>notty.err; rc=$?
check "an encrypted PKCS#12 without a passphrase and without a terminal: exit 77" test "$rc" = 77
check "... naming the ways to give it" \
	contains notty.err '--passphrase-file FILE, --passphrase-fd N, \$GALSMIME_PASSPHRASE_FILE, or run it on a terminal'

# ---- on a terminal: asked, without echo ----
if have tmux; then
	. "$TESTS_TOP/tests/tmux.sh"
	start k "sh -c '$GALSMIME --home $T_DIR/tty key import $PKI/alice.p12; echo exit=\$?; sleep 30'"
	if wait_for k 'Passphrase for .*alice.p12:'; then
		pass "key import on a terminal asks for the passphrase"
		keys k secret Enter
		if wait_for k 'exit=[0-9]+'; then
			check "... and imports with what was typed (exit 0)" sh -c "grep -q 'exit=0' screen.k"
			check "... without showing it" lacks screen.k 'secret'
		else
			fail "... and imports with what was typed (exit 0)" "$(screen k)"
		fi
	else
		fail "key import on a terminal asks for the passphrase" "$(screen k)"
	fi
	stop k
else
	skip "the terminal prompt" "tmux is not installed"
fi

# ---- passphrase files others can read ----
cp "$PKI/pass" open-pass
chmod 644 open-pass
store_setup
gs sign --passphrase-file open-pass <m.eml >/dev/null 2>open.err; rc=$?
check "a passphrase file others can read is refused (exit 77)" test "$rc" = 77
check "... saying how to fix it" contains open.err "open-pass: the passphrase file can be read by others \\(mode 0644\\): chmod 600"
chmod 620 open-pass
check_exit 77 "... one its group can write too" gs sign --passphrase-file open-pass <m.eml
GALSMIME_PASSPHRASE_FILE=$T_DIR/open-pass gs sign <m.eml >/dev/null 2>env.err; rc=$?
check "... also through \$GALSMIME_PASSPHRASE_FILE" test "$rc" = 77
chmod 600 open-pass
check "a passphrase file of mode 0600 is used" gs sign --passphrase-file open-pass <m.eml
