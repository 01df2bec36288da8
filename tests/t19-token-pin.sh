#!/bin/sh
# A token's PIN through pinentry: the real pinentry-tty on a terminal in
# tmux, the real SoftHSM. With an agent, the PIN is asked once on the
# client's terminal (the description naming the token and the key) and
# the agent keeps the token's login: later commands, and the other key
# on the same token, ask nothing; agent forget logs out, and so does the
# cache time. A wrong PIN is asked again with an error text that says
# what the token reports (SoftHSM's CKF_USER_PIN_COUNT_LOW); three wrong
# PINs end it (77) without locking the token; a cancel is 77; a token
# pulled out while its session is cached gives one line naming it, 77,
# nothing on stdout. Without an agent, the command asks itself through
# pinentry. A client with a display and no terminal gets the graphical
# pinentry, with --display (a probe that logs what it was given, then
# runs pinentry-tty on a tmux terminal). Two tokens behind one module
# (SoftHSM's, as two cards behind OpenSC): the agent done with one (agent
# forget) leaves the other's session working.
. "$TESTS_TOP/tests/lib.sh"
command -v tmux >/dev/null || { skip "token PIN suite" "tmux missing (make deps)"; exit 0; }
[ -x /usr/bin/pinentry-tty ] || { skip "token PIN suite" "pinentry-tty missing (make deps)"; exit 0; }
. "$TESTS_TOP/tests/softhsm.sh"
if ! have softhsm2-util || ! have pkcs11-tool || [ -z "$SOFTHSM" ]; then
	skip "token PIN suite" "softhsm2 and opensc (pkcs11-tool) are not installed (make deps)"
	exit 0
fi
. "$TESTS_TOP/tests/tmux.sh"

RUN=$(mktemp -d /tmp/gs19.XXXXXX)
chmod 700 "$RUN"
export XDG_RUNTIME_DIR="$RUN"
agent_pid() { gs agent status 2>/dev/null | sed -n '1s/^pid \([0-9]*\),.*/\1/p'; }
cleanup() {
	p=$(agent_pid)
	gs agent stop >/dev/null 2>&1
	[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	rm -rf "$RUN"
}
trap 'cleanup; tm kill-server >/dev/null 2>&1; t_finish' EXIT
unset GPG_TTY DISPLAY WAYLAND_DISPLAY || true

# ---- a SoftHSM token holding alice's RSA key and carol's EC key ----
mkdir -p "$XDG_CONFIG_HOME/galsmime"
token_setup
gs trust import "$PKI/root.crt" >/dev/null && gs cert import "$PKI/inter.crt" >/dev/null &&
	gs key import "pkcs11:token=galsmime-test;id=%01?module-path=$SOFTHSM" >/dev/null 2>&1 &&
	gs key import "pkcs11:token=galsmime-test;id=%02?module-path=$SOFTHSM" >/dev/null 2>&1
check "setup: both token keys imported" test $? = 0
msg alice@example.org bob@example.org "token" >m.eml
msg carol@example.org bob@example.org "token" >mc.eml
verified() { # FILE: openssl cms -verify accepts it
	openssl cms -verify -in "$1" -CAfile "$PKI/root.crt" -certfile "$PKI/inter.crt" -out /dev/null 2>/dev/null
}
config() { # default_cache_ttl [enable]
	printf '[agent]\ndefault_cache_ttl = %s\npinentry = /usr/bin/pinentry-tty\nenable = %s\n' "$1" "${2:-true}" \
		>"$XDG_CONFIG_HOME/galsmime/config"
}
config 600
# a pane running one command, with GPG_TTY set as gpg's users do
pane() { # NAME COMMAND
	rm -f "$1.rc"
	start "$1" "env XDG_RUNTIME_DIR=$RUN XDG_CONFIG_HOME=$XDG_CONFIG_HOME SOFTHSM2_CONF=$SOFTHSM2_CONF ${PANE_ENV:-} sh -c 'export GPG_TTY=\$(tty); $2; echo \$? >$T_DIR/$1.rc; sleep 60'"
}
wait_rc() { n=150; while [ ! -s "$1.rc" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done; cat "$1.rc" 2>/dev/null; }
sign_in() { pane "$1" "$GALSMIME sign <$T_DIR/${2:-m.eml} >$T_DIR/$1.out 2>$T_DIR/$1.err"; }
# pin_asked NAME WHAT: a sign on a terminal asks for the PIN (passes
# WHAT), is given it and exits 0
pin_asked() {
	sign_in "$1"
	if wait_for "$1" 'PIN:'; then
		pass "$2"
		keys "$1" 1234 Enter
		check "... and the sign exits 0" test "$(wait_rc "$1")" = 0
	else
		fail "$2" "$(cat "screen.$1")"
	fi
	stop "$1"
}
# token_flags: what the token says of itself (pkcs11-tool -T)
token_flags() { pkcs11-tool --module "$SOFTHSM" -T 2>/dev/null | sed -n '/galsmime-test/,/^Slot/p' | grep -i 'flags'; }

# ---- the PIN once, on the client's terminal; then the agent's login ----
sign_in first
if wait_for first 'PIN:'; then
	pass "a token key with no PIN source: pinentry-tty asks on the client's terminal (agent started)"
	check "... naming the token" contains screen.first "PIN of token 'galsmime-test'"
	check "... and whose key" contains screen.first 'alice@example.org'
	keys first 1234 Enter
	check "the PIN: sign exits 0" test "$(wait_rc first)" = 0
	check "... and openssl cms -verify accepts the signature" verified first.out
else
	fail "pinentry-tty asks for the token's PIN" "$(cat screen.first)"
fi
stop first
gs agent status >status.out
check "agent status lists the key on the token" contains status.out " [0-9]+s on token 'galsmime-test'$"
sign_in second
check "a second sign on a terminal: exit 0" test "$(wait_rc second)" = 0
screen second >/dev/null
check "... and the terminal saw no prompt (the agent kept the login)" lacks screen.second 'PIN'
check "... its signature verifies" verified second.out
sign_in carol mc.eml
check "carol's EC key on the same token: exit 0" test "$(wait_rc carol)" = 0
screen carol >/dev/null
check "... no prompt (the token's login is shared)" lacks screen.carol 'PIN'
check "... its ECDSA signature verifies" verified carol.out
stop second
stop carol
gs sign <m.eml >noterm.out 2>noterm.err; rc=$?
check "without a terminal, the agent still signs (exit 0)" test "$rc" = 0
check "... a good signature" verified noterm.out
# the token's folder deleted (the card pulled out) while the agent
# holds its session: SoftHSM's next operation fails
rm -rf "$TOKEN"
gs sign <m.eml >rm.out 2>rm.err; rc=$?
check "the token pulled out while its session is cached: sign exits 77, nothing on stdout" \
	sh -c "[ $rc = 77 ] && [ ! -s rm.out ]"
check "... one line naming the token" \
	sh -c "[ \$(wc -l <rm.err) = 1 ] && grep -q \"token 'galsmime-test' was removed\" rm.err"
check "... the agent is still there, the session gone from its cache" \
	sh -c "'$GALSMIME' agent status >st.out && ! grep -q 'on token' st.out"
restore

# ---- forget logs out ----
gs agent forget
gs agent status >status.out
check "agent forget drops the token key" lacks status.out 'on token'
pin_asked again "after forget, the PIN is asked again (the login was given up)"
gs agent forget

# ---- a wrong PIN, then the right one ----
sign_in wrong1
if wait_for wrong1 'PIN:'; then
	keys wrong1 9999 Enter
	if wait_for wrong1 'Wrong PIN \(try 2 of 3\)' 5; then
		pass "a wrong PIN: pinentry asks again, saying which try"
		check "... with what the token says (SoftHSM sets CKF_USER_PIN_COUNT_LOW)" \
			contains screen.wrong1 'few tries are left'
	else
		fail "a wrong PIN: pinentry asks again" "$(cat screen.wrong1)"
	fi
	keys wrong1 1234 Enter
	check "the right PIN then: exit 0" test "$(wait_rc wrong1)" = 0
	check "... a good signature" verified wrong1.out
else
	fail "a wrong PIN then the right one" "$(cat screen.wrong1)"
fi
stop wrong1
gs agent forget

# ---- three wrong PINs: 77, and the token is not locked ----
sign_in thrice
if wait_for thrice 'PIN:'; then
	for i in 1 2 3; do keys thrice "99$i" Enter; sleep 0.7; done
	check "three wrong PINs: exit 77" test "$(wait_rc thrice)" = 77
	check "... one line saying so, naming the token" \
		sh -c "[ \$(wc -l <thrice.err) = 1 ] && grep -q \"wrong PIN for token 'galsmime-test', 3 times\" thrice.err"
	check "... nothing on stdout" test ! -s thrice.out
	token_flags >flags.out
	check "... SoftHSM counted them (its token flags: user PIN count low)" contains flags.out 'PIN count low'
	check "... and the token is not locked (no 'locked' flag)" lacks flags.out 'locked'
	check "... its PIN still opens it (pkcs11-tool --login)" \
		sh -c "pkcs11-tool --module '$SOFTHSM' --token-label galsmime-test --login --pin 1234 -O >/dev/null 2>&1"
else
	fail "three wrong PINs" "$(cat screen.thrice)"
fi
stop thrice

# ---- cancel ----
sign_in cancel
if wait_for cancel 'PIN:'; then
	keys cancel C-d
	check "pinentry cancelled (^D): exit 77" test "$(wait_rc cancel)" = 77
	check "... one line saying the PIN was not given" \
		sh -c "[ \$(wc -l <cancel.err) = 1 ] && grep -q 'PIN of token .galsmime-test. was not given (pinentry cancelled)' cancel.err"
	check "... nothing on stdout" test ! -s cancel.out
else
	fail "pinentry cancelled" "$(cat screen.cancel)"
fi
stop cancel

# ---- the cache time runs out between two requests ----
gs agent stop >/dev/null; sleep 1.5
config 2
sign_in exp1
wait_for exp1 'PIN:' && keys exp1 1234 Enter
check "short cache (2 s): the first sign, with its PIN, exits 0" test "$(wait_rc exp1)" = 0
stop exp1
sleep 3.5
gs agent status >status.out
check "after the cache time, the token key is forgotten" lacks status.out 'on token'
pin_asked exp2 "the next sign asks for the PIN again"
gs agent stop >/dev/null; sleep 1.5
config 600

# ---- the token pulled out between the agent's login and the key ----
# the module is the shim (tests/faults/p11-remove.c) that deletes
# SoftHSM's token folder at the first key operation: the agent logs in
# (the PIN on the terminal) and caches the key, whose operation then
# meets a token that is gone
restore
B="$T_DIR/shim-store"
export P11_REMOVE_MODULE="$SOFTHSM"
gs --home "$B" trust import "$PKI/root.crt" >/dev/null 2>&1 && gs --home "$B" cert import "$PKI/inter.crt" >/dev/null 2>&1
gs --home "$B" key import "pkcs11:token=galsmime-test;id=%01?module-path=$SHIM" >/dev/null 2>&1
PANE_ENV="P11_REMOVE_MODULE=$SOFTHSM P11_REMOVE_DIR=$TOKEN"
pane pulled "$GALSMIME --home $B agent start; P11_REMOVE_DIR= $GALSMIME --home $B sign <$T_DIR/m.eml >$T_DIR/pulled.out 2>$T_DIR/pulled.err"
PANE_ENV=
if wait_for pulled 'PIN:'; then
	keys pulled 1234 Enter
	rc=$(wait_rc pulled)
	check "the token pulled out during the first operation: sign exits 77" test "$rc" = 77
	check "... one line: the token was removed" \
		sh -c "[ \$(wc -l <pulled.err) = 1 ] && grep -q \"token 'galsmime-test' was removed\" pulled.err"
	check "... nothing on stdout" test ! -s pulled.out
	gs --home "$B" agent status >status.out
	check "... and the agent dropped the token's session" lacks status.out 'on token'
	gs --home "$B" sign <m.eml >gone.out 2>gone.err; rc=$?
	check "the next sign (no terminal): exit 77, one line saying the token is not present" \
		sh -c "[ $rc = 77 ] && [ ! -s gone.out ] && [ \$(wc -l <gone.err) = 1 ] && grep -q \"token 'galsmime-test' is not present\" gone.err"
else
	fail "the token pulled out" "$(cat screen.pulled)"
fi
stop pulled
restore
gs --home "$B" agent stop >/dev/null 2>&1; sleep 1.5

# ---- a token that says its next wrong PIN locks it ----
# the shim shows CKF_USER_PIN_FINAL_TRY after a wrong PIN: no second try
PANE_ENV="P11_REMOVE_MODULE=$SOFTHSM P11_FINAL_TRY=1 P11_LOGIN_LOG=$T_DIR/final.log"
pane final "$GALSMIME --home $B agent start; $GALSMIME --home $B sign <$T_DIR/m.eml >$T_DIR/final.out 2>$T_DIR/final.err"
PANE_ENV=
if wait_for final 'PIN:'; then
	keys final 9999 Enter
	check "a wrong PIN on a token at its final try: exit 77, not asked again" test "$(wait_rc final)" = 77
	check "... one C_Login only" test "$(wc -l <final.log)" = 1
	check "... one line saying why" \
		sh -c "[ \$(wc -l <final.err) = 1 ] && grep -q 'one more wrong PIN locks it, so it is not asked again' final.err"
else
	fail "a token at its final try" "$(cat screen.final)"
fi
stop final
gs --home "$B" agent stop >/dev/null 2>&1; sleep 1.5

# ---- no agent: the command asks through pinentry itself ----
config 600 false
pin_asked noagent "with the agent disabled, the command asks the PIN through pinentry itself"
check "... a good signature" verified noagent.out
check "... and no agent runs" not gs agent status
sign_in noagent2
wait_for noagent2 'PIN:' && { keys noagent2 9999 Enter; wait_for noagent2 'Wrong PIN' 5 && keys noagent2 1234 Enter; }
check "... a wrong PIN there is asked again too (then exit 0)" test "$(wait_rc noagent2)" = 0
stop noagent2
printf '1234\n' >pin; chmod 600 pin
check "the PIN file still works without a terminal" sh -c "'$GALSMIME' sign --passphrase-file pin <m.eml >f.out && openssl cms -verify -in f.out -CAfile '$PKI/root.crt' -certfile '$PKI/inter.crt' -out /dev/null 2>/dev/null"

# ---- key import on a terminal: the PIN through pinentry checks the key ----
pane imp "$GALSMIME --home $T_DIR/imp key import \"pkcs11:token=galsmime-test;id=%01?module-path=$SOFTHSM\" >$T_DIR/imp.out 2>$T_DIR/imp.err"
if wait_for imp 'PIN:'; then
	keys imp 9999 Enter
	wait_for imp 'Wrong PIN \(try 2 of 3\)' 5 && keys imp 1234 Enter
	check "key import pkcs11: on a terminal: pinentry asks (a wrong PIN again), exit 0" test "$(wait_rc imp)" = 0
	check "... the key checked with the PIN (no 'checked when first used' note)" \
		sh -c "grep -q 'imported (the key stays on the token)' imp.out && ! grep -q 'no PIN given' imp.err"
else
	fail "key import on a terminal: pinentry asks" "$(cat screen.imp)"
fi
stop imp

# ---- headless: the PIN preset (procmail, cron) ----
config 600
echo 9999 | gs agent preset --from alice@example.org >/dev/null 2>preset.err; rc=$?
check "agent preset with a wrong PIN: exit 77, naming the token" \
	sh -c "[ $rc = 77 ] && grep -q \"wrong PIN for token 'galsmime-test'\" preset.err"
echo 1234 | gs agent preset --from alice@example.org >/dev/null 2>&1; rc=$?
check "agent preset with the PIN: exit 0" test "$rc" = 0
gs sign <m.eml >pre.out 2>pre.err; rc=$?
check "... then a sign with no terminal: exit 0, a good signature" sh -c "[ $rc = 0 ] && openssl cms -verify -in pre.out -CAfile '$PKI/root.crt' -certfile '$PKI/inter.crt' -out /dev/null 2>/dev/null"
gs agent stop >/dev/null 2>&1; sleep 1.5

# ---- a display and no terminal: the graphical pinentry, with --display ----
# the probe logs its arguments and environment, then runs the real
# pinentry-tty on a tmux terminal (where the test types)
start gui "sh -c 'tty >$T_DIR/gui.tty; sleep 120'"
n=50; while [ ! -s gui.tty ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
cat >probe <<EOF
#!/bin/sh
{ echo "argv: \$*"; env | grep -E '^(DISPLAY|WAYLAND_DISPLAY|XAUTHORITY|DBUS_SESSION_BUS_ADDRESS|HOME)='; } >>$T_DIR/probe.log
exec /usr/bin/pinentry-tty --ttyname $(cat gui.tty)
EOF
chmod +x probe
printf '[agent]\npinentry = /usr/bin/pinentry-tty\npinentry_graphical = %s\n' "$T_DIR/probe" >"$XDG_CONFIG_HOME/galsmime/config"
( DISPLAY=:77 XAUTHORITY="$T_DIR/xauth" DBUS_SESSION_BUS_ADDRESS="unix:path=$T_DIR/bus" \
	"$GALSMIME" sign <m.eml >gui.out 2>gui.err; echo $? >gui.rc ) &
if wait_for gui 'PIN:'; then
	keys gui 1234 Enter
	n=100; while [ ! -s gui.rc ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	check "a client with DISPLAY and no terminal: the graphical pinentry asks; sign exits 0" test "$(cat gui.rc)" = 0
	check "... given --display :77" contains probe.log '^argv: --display :77$'
	check "... and DISPLAY=:77 in its environment" contains probe.log '^DISPLAY=:77$'
	check "... with the X cookie (XAUTHORITY), HOME and the session bus of the command that started the agent" \
		sh -c "grep -qx 'XAUTHORITY=$T_DIR/xauth' probe.log && grep -qx 'HOME=$HOME' probe.log &&
			grep -qx 'DBUS_SESSION_BUS_ADDRESS=unix:path=$T_DIR/bus' probe.log"
else
	fail "a client with a display: the graphical pinentry" "$(cat screen.gui) $(cat probe.log 2>/dev/null)"
fi
wait
# Wayland only: the graphical program, WAYLAND_DISPLAY, no --display
gs agent forget
rm -f probe.log gui.rc
( WAYLAND_DISPLAY=wayland-77 "$GALSMIME" sign <m.eml >gui.out 2>gui.err; echo $? >gui.rc ) &
# the pane still shows the last prompt: this one is the second
n=150; while [ "$(screen gui | grep -c 'PIN:')" -lt 2 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
if [ "$(grep -c 'PIN:' screen.gui)" -ge 2 ]; then
	keys gui 1234 Enter
	n=100; while [ ! -s gui.rc ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	check "a client with WAYLAND_DISPLAY only: the graphical pinentry; sign exits 0" test "$(cat gui.rc)" = 0
	check "... with WAYLAND_DISPLAY in its environment and no --display" \
		sh -c "grep -qx 'WAYLAND_DISPLAY=wayland-77' probe.log && grep -qx 'argv: ' probe.log"
else
	fail "a client with WAYLAND_DISPLAY: the graphical pinentry" "$(cat screen.gui) $(cat probe.log 2>/dev/null)"
fi
wait
stop gui

# ---- the real graphical pinentry: pinentry-gtk-2 on an Xvfb display ----
# the PIN typed into its window with xdotool; the command has DISPLAY and
# no terminal
gs agent stop >/dev/null 2>&1; sleep 1.5
if have Xvfb && have xdotool && [ -x /usr/bin/pinentry-gtk-2 ]; then
	printf '[agent]\npinentry = /usr/bin/pinentry-tty\npinentry_graphical = /usr/bin/pinentry-gtk-2\n' \
		>"$XDG_CONFIG_HOME/galsmime/config"
	Xvfb -displayfd 5 -nolisten tcp -screen 0 800x600x24 5>xvfb.display >xvfb.log 2>&1 &
	XVFB=$!
	n=50; while [ ! -s xvfb.display ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	D=:$(cat xvfb.display)
	( DISPLAY=$D "$GALSMIME" sign <m.eml >x.out 2>x.err; echo $? >x.rc ) &
	# the window pinentry-gtk-2 opens (its title: SETTITLE galsmime)
	if DISPLAY=$D timeout 20 xdotool search --sync --name '^galsmime$' >x.win 2>/dev/null; then
		pass "a command with a display: pinentry-gtk-2 opens its window on the X display"
		sleep 0.5
		DISPLAY=$D xdotool type --delay 40 1234
		DISPLAY=$D xdotool key Return
		n=150; while [ ! -s x.rc ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
		check "... the PIN typed there: sign exits 0" test "$(cat x.rc 2>/dev/null)" = 0
		check "... a good signature" verified x.out
	else
		fail "a command with a display: pinentry-gtk-2 opens its window" "$(cat x.err xvfb.log 2>/dev/null)"
	fi
	gs agent stop >/dev/null 2>&1
	wait $!
	kill "$XVFB" 2>/dev/null
	wait "$XVFB" 2>/dev/null
else
	skip "the graphical pinentry on Xvfb" "xvfb, xdotool or pinentry-gtk2 missing (make deps)"
fi

# ---- two tokens behind one module: done with one, the other stays ----
# (a signing card and an encryption card, both read through OpenSC): the
# agent's session on one token must outlive the other's logout; each
# token has its own PIN, preset headless
gs agent stop >/dev/null 2>&1; sleep 1.5
config 600
softhsm2-util --init-token --free --label galsmime-two --so-pin 0000 --pin 5678 >/dev/null 2>&1 &&
	openssl pkey -in "$PKI/bob.key" -outform DER -out bob.key.der &&
	openssl x509 -in "$PKI/bob.crt" -outform DER -out bob.crt.der &&
	pkcs11-tool --module "$SOFTHSM" --token-label galsmime-two --login --pin 5678 \
		--write-object bob.key.der --type privkey --id 03 --label bob --usage-sign --usage-decrypt >/dev/null 2>&1 &&
	pkcs11-tool --module "$SOFTHSM" --token-label galsmime-two --login --pin 5678 \
		--write-object bob.crt.der --type cert --id 03 --label bob >/dev/null 2>&1 &&
	gs key import "pkcs11:token=galsmime-two;id=%03?module-path=$SOFTHSM" >/dev/null 2>&1
check "setup: a second token in the same module, bob's key on it, imported" test $? = 0
msg bob@example.org alice@example.org "second token" >mb.eml
echo 1234 | gs agent preset --from alice@example.org >/dev/null 2>two.err &&
	echo 5678 | gs agent preset --from bob@example.org >/dev/null 2>>two.err
check "both tokens' PINs preset" test $? = 0
gs sign <m.eml >two-a.out 2>>two.err && gs sign <mb.eml >two-b.out 2>>two.err &&
	verified two-a.out && verified two-b.out
check "... alice's key (first token) and bob's (second token) both sign" test $? = 0
gs agent forget "$(fp alice)" >/dev/null 2>>two.err
gs sign <mb.eml >two-b2.out 2>two-b2.err && verified two-b2.out
check "alice's key forgotten (its token logged out): bob's, on the other token, still signs (exit 0, nothing asked)" \
	sh -c "[ $? = 0 ] || { cat two-b2.err; false; }"
gs sign <m.eml >/dev/null 2>two-a2.err; rc=$?
check "... and alice's, forgotten, needs its PIN again (77 with no terminal)" test "$rc" = 77
gs agent stop >/dev/null 2>&1
