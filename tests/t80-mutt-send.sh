#!/bin/sh
# galsmime send as mutt's (and neomutt's) $sendmail, driven by the real
# mutt in batch mode (`mutt -F RC -s SUBJECT ADDR < body`) in front of a
# capture script: To/Cc get one signed+encrypted copy, each Bcc
# recipient a copy of their own that names and is encrypted to no one
# else; --encrypt fails closed (exit 67, nothing reaches the capture
# script, one stderr line per bad recipient); --encrypt=auto falls back
# to signed only; the send2-hook policies of galsmime.muttrc, sourced
# from the installed copy, do what its comments say.
. "$TESTS_TOP/tests/lib.sh"

# mutt finds the galsmime under test as `galsmime`
PATH="$GALSMIME_PREFIX/bin:$PATH"
export PATH
# the wrapper has no terminal: the passphrase comes from a file
export GALSMIME_PASSPHRASE_FILE="$PKI/pass"
MUTTS=
for m in mutt neomutt; do have $m && MUTTS="$MUTTS $m"; done
if [ -z "$MUTTS" ]; then
	skip "mutt batch-mode sending" "neither mutt nor neomutt is installed"
	exit 0
fi

# the directory: bob, carol (EC), grace (via Grace_SMIME), henry have
# usable certificates; dave's expired; nora has none
check "store setup: trust the root, alice's identity" store_setup
check "the test GAL as an offline address book (galfix oab)" \
	python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" oab gal.oab
check "gal import gal.oab" sh -c "'$GALSMIME' gal import gal.oab >/dev/null"

# capture: a fake sendmail; each run's arguments and message into $CAP/N.args, N.eml
mkdir -p mail tmp
capture_setup
printf 'Hello,\nthe eagle lands at noon.\n' >body

# rc FILE [LINES...]: a muttrc that touches nothing outside $T_DIR
rc() {
	f=$1; shift
	{ muttrc_base; cat <<EOR
set use_envelope_from=no
set charset=utf-8
set crypt_use_gpgme=no
unset crypt_autosign crypt_autoencrypt crypt_opportunistic_encrypt
EOR
	} >"$f"
	for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
}
# send MUTT RC [MUTT ARGS...]: mutt in batch mode with body on stdin;
# the exit status in $sent_rc, stdout+stderr in send.out
send() {
	m=$1 r=$2; shift 2
	rm -f "$CAP"/*
	"$m" -n -F "$r" "$@" <body >send.out 2>&1
	sent_rc=$?
}
ncopies() { ls "$CAP" | grep -c '\.eml$'; }
# args N: the sendmail arguments of copy N, on one line
args() { tr '\n' ' ' <"$CAP/$1.args" | sed 's/ $//'; }
# ocdecrypt USER FILE: openssl cms with USER's key, the entity on stdout
ocdecrypt() { openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2"; }
can_read() { ocdecrypt "$1" "$2" >/dev/null 2>&1; }
cannot_read() { ! can_read "$1" "$2"; }
n_recipients() { openssl cms -cmsout -print -in "$1" 2>/dev/null | grep -Ec '^ *d\.(ktri|kari):'; }
# headers FILE: the top-level header of FILE
headers() { sed '/^$/q' "$1"; }
# signed_ok FILE: FILE (a message or entity) is multipart/signed, alice's
# signature is good for openssl and covers the text of body
signed_ok() {
	openssl smime -verify -CAfile "$PKI/cas.pem" -purpose smimesign -in "$1" \
		-signer "$T_DIR/signer.pem" -out "$T_DIR/signed.txt" 2>/dev/null &&
	grep -q 'the eagle lands at noon' "$T_DIR/signed.txt" &&
	openssl x509 -in "$T_DIR/signer.pem" -noout -email | grep -qx alice@example.org
}

for M in $MUTTS; do
	# ---- --sign --encrypt: To, Cc and two Bcc recipients ----
	# no "--" in $sendmail: mutt would put -f, -N, -R in front of it (galsmime.muttrc says why)
	rc enc.rc "set sendmail=\"galsmime send --sign --encrypt $T_DIR/capture -oi\"" \
		"set write_bcc=yes" "set use_envelope_from=yes" "set dsn_notify=\"failure,delay\""
	send "$M" enc.rc -s "to many" -c carol@example.org -b grace@example.org \
		-b henry@example.org -- bob@example.org
	check "$M: To + Cc + 2 Bcc with --sign --encrypt: mutt exits 0" test "$sent_rc" = 0
	check "$M: three copies reach sendmail: To/Cc, and one per Bcc recipient" test "$(ncopies)" = 3
	check "$M: the To/Cc copy goes to bob and carol only, with mutt's and my_sendmail's options" \
		test "$(args 1)" = "-oi -f alice@example.org -N failure,delay -- bob@example.org carol@example.org"
	check "$M: grace's copy goes to grace alone" \
		test "$(args 2)" = "-oi -f alice@example.org -N failure,delay -- grace@example.org"
	check "$M: henry's copy goes to henry alone" \
		test "$(args 3)" = "-oi -f alice@example.org -N failure,delay -- henry@example.org"
	for n in 1 2 3; do
		check "$M: copy $n is application/pkcs7-mime enveloped-data" \
			sh -c "sed '/^\$/q' '$CAP/$n.eml' | grep -qi '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data'"
		check "$M: copy $n has no Bcc field" sh -c "! sed '/^\$/q' '$CAP/$n.eml' | grep -qi '^Bcc:'"
		check "$M: copy $n: the sender alice keeps a readable copy" can_read alice "$CAP/$n.eml"
	done
	check "$M: To/Cc copy: bob decrypts it" can_read bob "$CAP/1.eml"
	check "$M: To/Cc copy: carol (EC) decrypts it" can_read carol "$CAP/1.eml"
	check "$M: To/Cc copy: encrypted to bob, carol and alice only (3 RecipientInfos)" \
		test "$(n_recipients "$CAP/1.eml")" = 3
	check "$M: To/Cc copy: grace and henry cannot decrypt it" \
		sh -c "! openssl cms -decrypt -recip '$PKI/grace.crt' -inkey '$PKI/grace.key' -in '$CAP/1.eml' >/dev/null 2>&1 &&
		       ! openssl cms -decrypt -recip '$PKI/henry.crt' -inkey '$PKI/henry.key' -in '$CAP/1.eml' >/dev/null 2>&1"
	ocdecrypt bob "$CAP/1.eml" >inner1 2>/dev/null
	check "$M: To/Cc copy: inside, alice's signature is good (openssl smime -verify)" signed_ok inner1
	check "$M: To/Cc copy names no Bcc recipient, outside or inside" \
		sh -c "! grep -Eqi 'grace|henry' '$CAP/1.eml' inner1"
	check "$M: grace's copy: grace decrypts it" can_read grace "$CAP/2.eml"
	check "$M: grace's copy: encrypted to grace and alice only (2 RecipientInfos)" \
		test "$(n_recipients "$CAP/2.eml")" = 2
	check "$M: grace's copy: bob, carol cannot decrypt it" \
		sh -c "! openssl cms -decrypt -recip '$PKI/bob.crt' -inkey '$PKI/bob.key' -in '$CAP/2.eml' >/dev/null 2>&1 &&
		       ! openssl cms -decrypt -recip '$PKI/carol.crt' -inkey '$PKI/carol.key' -in '$CAP/2.eml' >/dev/null 2>&1"
	ocdecrypt grace "$CAP/2.eml" >inner2 2>/dev/null
	check "$M: grace's copy: alice's signature inside is good" signed_ok inner2
	check "$M: grace's copy names no other Bcc recipient (henry), outside or inside" \
		sh -c "! grep -qi henry '$CAP/2.eml' inner2"
	check "$M: henry's copy: henry (the certificate of his userSMIMECertificate) decrypts it" \
		sh -c "openssl cms -decrypt -recip '$PKI/henry.crt' -inkey '$PKI/henry.key' -in '$CAP/3.eml' >/dev/null 2>&1"
	check "$M: henry's copy: encrypted to henry and alice only" test "$(n_recipients "$CAP/3.eml")" = 2
	check "$M: henry's copy names no other Bcc recipient (grace)" \
		sh -c "! grep -qi grace '$CAP/3.eml'"

	# ---- fail closed ----
	send "$M" enc.rc -s "some cannot read" -c nora@example.org -b dave@example.org \
		-- bob@example.org zed@nowhere.example
	check "$M: --encrypt with unresolvable recipients: mutt reports failure" test "$sent_rc" != 0
	check "$M: --encrypt with unresolvable recipients: nothing reaches sendmail" test "$(ncopies)" = 0
	check "$M: mutt saw galsmime's exit 67" contains send.out 'exited 67'
	grep '^galsmime send: ' send.out >bad.lines
	check "$M: one stderr line per bad recipient (3)" test "$(wc -l <bad.lines)" = 3
	check "$M: the lines name zed (To), nora (Cc) and dave (Bcc), each with a reason" \
		sh -c "grep -q '^galsmime send: zed@nowhere.example: no certificate' bad.lines &&
		       grep -q '^galsmime send: nora@example.org: in the GAL as .*with no certificate' bad.lines &&
		       grep -q '^galsmime send: dave@example.org: .*expired' bad.lines"
	check "$M: bob, who has a certificate, is not named" lacks bad.lines 'bob@'

	# ---- --encrypt=auto ----
	rc auto.rc "set sendmail=\"galsmime send --sign --encrypt=auto $T_DIR/capture\"" \
		"set write_bcc=yes"
	send "$M" auto.rc -s "auto, all resolve" -b grace@example.org -- bob@example.org
	check "$M: --encrypt=auto, every recipient resolves: two encrypted copies" \
		sh -c "[ $sent_rc = 0 ] && [ $(ncopies) = 2 ] && grep -qi 'enveloped-data' '$CAP/1.eml' && grep -qi 'enveloped-data' '$CAP/2.eml'"
	check "$M: --encrypt=auto: bob reads the To copy, grace her Bcc copy" \
		sh -c "openssl cms -decrypt -recip '$PKI/bob.crt' -inkey '$PKI/bob.key' -in '$CAP/1.eml' >/dev/null 2>&1 &&
		       openssl cms -decrypt -recip '$PKI/grace.crt' -inkey '$PKI/grace.key' -in '$CAP/2.eml' >/dev/null 2>&1"
	send "$M" auto.rc -s "auto, nora cannot" -c nora@example.org -b grace@example.org -- bob@example.org
	check "$M: --encrypt=auto with nora (no certificate): mutt exits 0" test "$sent_rc" = 0
	check "$M: --encrypt=auto fallback: one copy to every recipient" \
		sh -c "[ $(ncopies) = 1 ] && [ \"\$(tr '\n' ' ' <'$CAP/1.args')\" = '-- bob@example.org nora@example.org grace@example.org ' ]"
	check "$M: --encrypt=auto fallback: signed, not encrypted" \
		sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi '^Content-Type: multipart/signed'"
	check "$M: --encrypt=auto fallback: alice's signature is good for openssl" signed_ok "$CAP/1.eml"
	check "$M: --encrypt=auto fallback: the Bcc field (\$write_bcc) is not passed on" \
		sh -c "! sed '/^\$/q' '$CAP/1.eml' | grep -qi '^Bcc:'"
	check "$M: --encrypt=auto fallback: galsmime says why it did not encrypt" \
		contains send.out 'not encrypted.*nora@example.org'

	# ---- galsmime.muttrc, sourced from the installed copy ----
	GMRC="$GALSMIME_PREFIX/share/galsmime/mutt/galsmime.muttrc"
	rc gm.rc "source $GMRC" "set my_sendmail=\"$T_DIR/capture -oi\""
	send "$M" gm.rc -s "default policy" -- bob@example.org
	check "$M: galsmime.muttrc default policy: bob gets it signed and encrypted" \
		sh -c "[ $sent_rc = 0 ] && [ \"\$(tr '\n' ' ' <'$CAP/1.args')\" = '-oi -- bob@example.org ' ] &&
		       grep -qi enveloped-data '$CAP/1.eml'"
	ocdecrypt bob "$CAP/1.eml" >gm.inner 2>/dev/null
	check "$M: galsmime.muttrc default policy: signed inside" signed_ok gm.inner
	send "$M" gm.rc -s "default policy, nora" -- bob@example.org nora@example.org
	check "$M: galsmime.muttrc default policy: with nora, the first send stops and says why" \
		sh -c "[ $sent_rc != 0 ] && [ -z \"\$(ls '$CAP')\" ] && grep -q 'send it again within 10 minutes' send.out"
	send "$M" gm.rc -s "default policy, nora" -- bob@example.org nora@example.org
	check "$M: galsmime.muttrc default policy: with nora, sent again: signed only" \
		sh -c "[ $sent_rc = 0 ] && sed '/^\$/q' '$CAP/1.eml' | grep -qi multipart/signed"
	# the policies, exactly as the file's comments spell them
	check "galsmime.muttrc puts no \"--\" in \$sendmail" sh -c "! grep 'sendmail=' '$GMRC' | grep -q ' -- '"
	sed -n '/^# 1\./,/^# 2\./s/^#  *\(send2\{0,1\}-hook \)/\1/p' "$GMRC" >policy1
	sed -n '/^# 2\./,/^# 3\./s/^#  *\(send2\{0,1\}-hook \)/\1/p' "$GMRC" >policy2
	check "galsmime.muttrc spells policy 1 (one hook) and policy 2 (two hooks)" \
		sh -c "[ \$(grep -c hook policy1) = 1 ] && [ \$(grep -c hook policy2) = 2 ]"
	rc p1.rc "source $GMRC" "set my_sendmail=\"$T_DIR/capture -oi\"" "source $T_DIR/policy1"
	send "$M" p1.rc -s "policy 1" -- bob@example.org
	check "$M: policy 1 (sign everything, never encrypt): bob gets it signed, not encrypted" \
		sh -c "[ $sent_rc = 0 ] && sed '/^\$/q' '$CAP/1.eml' | grep -qi multipart/signed"
	check "$M: policy 1: the signature is good" signed_ok "$CAP/1.eml"
	rc p2.rc "source $GMRC" "set my_sendmail=\"$T_DIR/capture -oi\"" "source $T_DIR/policy2"
	send "$M" p2.rc -s "policy 2, in the domain" -- bob@example.org
	check "$M: policy 2 (encrypt to one domain): to bob@example.org, encrypted" \
		sh -c "[ $sent_rc = 0 ] && grep -qi enveloped-data '$CAP/1.eml'"
	check "$M: policy 2: bob decrypts it" can_read bob "$CAP/1.eml"
	send "$M" p2.rc -s "policy 2, outside" -- someone@elsewhere.example
	check "$M: policy 2: outside the domain (no certificate), signed only" \
		sh -c "[ $sent_rc = 0 ] && sed '/^\$/q' '$CAP/1.eml' | grep -qi multipart/signed"
	send "$M" p2.rc -s "policy 2, nora" -- nora@example.org
	check "$M: policy 2: nora@example.org without a certificate: nothing sent, exit 67" \
		sh -c "[ $sent_rc != 0 ] && [ $(ncopies) = 0 ] && grep -q 'exited 67' send.out"
	check "$M: policy 2 with nora: one line names her" \
		test "$(grep -c '^galsmime send: nora@example.org: ' send.out)" = 1
done

# ---- SENDMAIL's exit status, and sendmail -t (notmuch-style pipelines) ----
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' >tempfail
chmod +x tempfail
msg alice@example.org bob@example.org "temp failure" >tf.eml
"$GALSMIME" send --sign "$T_DIR/tempfail" -oi -- bob@example.org <tf.eml >/dev/null 2>tf.err
check "send returns SENDMAIL's exit status (75)" test $? = 75
check "send says SENDMAIL failed and that nothing was sent" sh -c "grep -q 'tempfail failed (exit 75): NOT sent to bob@example.org' tf.err && grep -q 'nothing was sent: send it again' tf.err"
cat >t.eml <<EOM
From: Alice Example <alice@example.org>
To: bob@example.org
Cc: carol@example.org
Bcc: grace@example.org
Subject: with -t
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <dash-t.t80@example.org>
MIME-Version: 1.0
Content-Type: text/plain

the eagle lands at noon.
EOM
rm -f "$CAP"/*
"$GALSMIME" send --sign --encrypt "$T_DIR/capture" -t <t.eml >/dev/null 2>t.err
check "send ... sendmail -t: exit 0" test $? = 0
check "send ... -t: the To/Cc copy goes with -t alone (the headers name bob and carol)" \
	test "$(args 1)" = "-t"
check "send ... -t: the To/Cc copy has no Bcc field, so sendmail -t does not send it to grace" \
	sh -c "! sed '/^\$/q' '$CAP/1.eml' | grep -qi '^Bcc:'"
check "send ... -t: grace's copy goes to her alone, without -t" test "$(args 2)" = "-- grace@example.org"
check "send ... -t: grace decrypts her copy" can_read grace "$CAP/2.eml"
check "send ... -t: bob decrypts his" can_read bob "$CAP/1.eml"
