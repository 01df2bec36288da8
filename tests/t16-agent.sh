#!/bin/sh
# galsmime agent: a key unlocked once (preset, or pinentry-tty on a real
# terminal in tmux) signs and decrypts for later commands; what it signs
# verifies with openssl; it is started on demand, once however many ask
# at once; its socket is its user's alone; keys expire; a stale socket,
# an agent of another version, an agent killed mid-request, a cancelled
# or missing pinentry and wrong passphrases are each handled.
. "$TESTS_TOP/tests/lib.sh"
command -v tmux >/dev/null || { skip "agent suite" "tmux missing"; exit 0; }
[ -x /usr/bin/pinentry-tty ] || { skip "agent suite" "pinentry-tty missing"; exit 0; }
. "$TESTS_TOP/tests/tmux.sh"

# a short folder: socket paths are limited to 107 bytes
RUN=$(mktemp -d /tmp/gs16.XXXXXX)
chmod 700 "$RUN"
export XDG_RUNTIME_DIR="$RUN"
SOCK=$RUN/galsmime/agent.sock
OTHER=gs16u$$
agent_pid() { gs agent status 2>/dev/null | sed -n '1s/^pid \([0-9]*\),.*/\1/p'; }
cleanup() {
	p=$(agent_pid)
	gs agent stop >/dev/null 2>&1
	[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	[ -n "${ODD:-}" ] && kill -9 "$ODD" 2>/dev/null
	userdel "$OTHER" >/dev/null 2>&1
	rm -rf "$RUN"
}
trap 'cleanup; tm kill-server >/dev/null 2>&1; t_finish' EXIT

# nothing here may reach the terminal make check runs on
unset GPG_TTY DISPLAY WAYLAND_DISPLAY || true
mkdir -p "$XDG_CONFIG_HOME/galsmime" bin
# `gs` for the sh -c of the checks below too
printf '#!/bin/sh\nexec "$GALSMIME" "$@"\n' >bin/gs
chmod +x bin/gs
PATH=$T_DIR/bin:$PATH
config() { # default_cache_ttl [pinentry]
	printf '[agent]\ndefault_cache_ttl = %s\npinentry = %s\n' "$1" "${2:-/usr/bin/pinentry-tty}" \
		>"$XDG_CONFIG_HOME/galsmime/config"
}
config 600
store_setup || { fail "store setup"; exit 1; }
gs key import "$PKI/carol.p12" --passphrase-file "$PKI/pass" >/dev/null || fail "carol's key"
ALICE=$(openssl x509 -in "$PKI/alice.crt" -outform DER | sha256sum | cut -c1-64)
msg alice@example.org alice@example.org >m.eml
msg carol@example.org carol@example.org >c.eml
pass=$(cat "$PKI/pass")

# ---- without an agent and without a terminal: as before ----
check_exit 77 "no agent, no terminal, no passphrase: sign exits 77" gs sign <m.eml
gs sign <m.eml >/dev/null 2>nopass.err
check "... with the old message" contains nopass.err 'no passphrase was given'
check_exit 1 "... and starts no agent (agent status exits 1)" gs agent status
check "... nor makes its folder" test ! -e "$RUN/galsmime"

# ---- preset ----
echo wrong | gs agent preset --from alice@example.org >preset.out 2>preset.err; rc=$?
check "preset with a wrong passphrase exits 77" test "$rc" = 77
check "... saying so" contains preset.err 'wrong passphrase'
check "preset started the agent (status exits 0)" gs agent status
check "the agent's folder is 0700" test "$(stat -c %a "$RUN/galsmime")" = 700
check "its socket is its user's only" test "$(stat -c %a "$SOCK" | cut -c2-)" = 00
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1; rc=$?
check "preset with the right passphrase exits 0" test "$rc" = 0
gs agent status >status.out
check "status lists the unlocked key" contains status.out "^$ALICE [0-9]+s$"
check "status says the keys are in locked memory" contains status.out 'locked memory: yes'
pid=$(agent_pid)
check "the agent holds locked memory (VmLck)" sh -c "grep -Eq 'VmLck:[[:space:]]+[1-9]' /proc/$pid/status"

# ---- sign, decrypt through the agent ----
check "sign with no passphrase source: the agent signs" sh -c "gs sign <m.eml >signed.eml"
check "openssl cms -verify accepts what the agent-backed key signed" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in signed.eml -out /dev/null
check "openssl smime -verify too" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in signed.eml -out /dev/null
gs encrypt --passphrase-file "$PKI/pass" <m.eml >enc.eml
check "decrypt (RSA PKCS#1 v1.5) through the agent" sh -c "gs decrypt <enc.eml >dec.eml 2>/dev/null"
check "... gives the text" contains dec.eml 'this is a test message'
gs encrypt --oaep <m.eml >oaep.eml
check "decrypt (RSA-OAEP) through the agent" sh -c "gs decrypt <oaep.eml 2>/dev/null | grep -q 'this is a test message'"
check_exit 77 "carol (EC) is not unlocked: her sign exits 77 without a terminal" gs sign <c.eml
echo "$pass" | gs agent -q preset --from carol@example.org >q.out 2>q.err; rc=$?
check "agent -q preset (the option before the subcommand): 0, and nothing said" \
	sh -c "[ $rc = 0 ] && [ ! -s q.out ] && [ ! -s q.err ]"
check "agent status -q (after it) also runs" sh -c "gs agent status -q | grep -q '^pid '"
check "EC: ECDSA signature through the agent verifies with openssl" \
	sh -c "gs sign <c.eml >csigned.eml && openssl cms -verify -CAfile '$PKI/root.crt' -purpose smimesign -in csigned.eml -out /dev/null"
gs encrypt <c.eml >cenc.eml
check "EC: ECDH (key agreement) decrypt through the agent" \
	sh -c "gs decrypt <cenc.eml 2>/dev/null | grep -q 'this is a test message'"
check "--passphrase-file still unlocks here (the agent bypassed)" \
	sh -c "gs sign --passphrase-file '$PKI/pass' <m.eml | openssl cms -verify -CAfile '$PKI/root.crt' -purpose smimesign -out /dev/null"

# ---- eight clients at once ----
check "8 clients at once: 8 good signatures" test "$(parallel_signs 8)" = 8
check "... from the one agent" test "$(agent_pid)" = "$pid"

# ---- another local user ----
if useradd -M -d /nonexistent -s /usr/sbin/nologin "$OTHER" 2>/dev/null; then
	as_other() { runuser -u "$OTHER" -- env HOME=/tmp XDG_RUNTIME_DIR="$RUN" "$@"; }
	as_other "$GALSMIME" agent status >other.out 2>&1; rc=$?
	check "another user cannot use the agent (the folder is 0700)" test "$rc" != 0
	check "... nor reach the socket" sh -c "! runuser -u $OTHER -- test -w '$SOCK'"
	# open the folder and the socket to everyone: SO_PEERCRED still refuses
	chmod 711 "$RUN" "$RUN/galsmime"; chmod 777 "$SOCK"
	cat >peer.py <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    s.sendall(b"GSAg" + struct.pack(">HHI", 1, 1, 0))
    r = s.recv(100)
except (ConnectionResetError, BrokenPipeError):
    r = b""
# hung up on: 0; an answer: 3
sys.exit(0 if r == b"" else 3)
PY
	runuser -u "$OTHER" -- python3 -c "$(cat peer.py)" "$SOCK" 2>peer.err; rc=$?
	chmod 700 "$RUN" "$RUN/galsmime"; chmod 600 "$SOCK"
	if [ "$rc" = 0 ]; then pass "another user connecting anyway is hung up on (SO_PEERCRED)"
	else fail "another user connecting anyway is hung up on (SO_PEERCRED)" "exit $rc: $(cat peer.err)"; fi
	python3 peer.py "$SOCK"; rc=$?
	check "control: the same probe as this user gets an answer" test "$rc" = 3
	userdel "$OTHER" >/dev/null 2>&1
else
	skip "another user cannot connect" "useradd failed (not root?)"
fi

# ---- forget, stop, stale socket ----
check_exit 64 "forget with something not a fingerprint: usage error" gs agent forget ../alice
check_exit 64 "agent with no subcommand: usage error" gs agent
gs agent forget "$ALICE"
gs agent status >status.out
check "forget FINGERPRINT forgets that key" lacks status.out "^$ALICE"
check "... and no other" contains status.out '^[0-9a-f]{64} '
gs agent forget
check "forget forgets every key" sh -c "gs agent status | grep -c '^[0-9a-f]\{64\} ' | grep -qx 0"
check "stop exits 0" gs agent stop
sleep 1.5
check_exit 1 "after stop, status exits 1" gs agent status
check "... and the socket is gone" test ! -e "$SOCK"
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
pid=$(agent_pid)
kill -9 "$pid"
sleep 0.3
check "a killed agent leaves a stale socket" test -S "$SOCK"
check_exit 1 "status sees no agent behind it" gs agent status
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1; rc=$?
check "preset replaces the stale socket with a new agent" test "$rc" = 0 -a -n "$(agent_pid)" -a "$(agent_pid)" != "$pid"
check "... which signs" sh -c "gs sign <m.eml >/dev/null"

# ---- eight starting at once: one agent ----
gs agent stop >/dev/null; sleep 1.5
i=1
while [ $i -le 8 ]; do
	(gs agent start >start.$i.out 2>&1; echo $? >start.$i.rc) &
	i=$((i + 1))
done
wait
ok=0
for i in 1 2 3 4 5 6 7 8; do [ "$(cat start.$i.rc)" = 0 ] && ok=$((ok + 1)); done
check "8 agent start at once: all exit 0" test "$ok" = 8
n=$(ps -eo args | grep -F -- "--home $GALSMIME_HOME agent serve" | grep -vc -- grep)
check "... and one agent runs (flock: one wins, the others connect)" test "$n" = 1

# ---- expiry ----
gs agent stop >/dev/null; sleep 1.5
config 2
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
check "short cache: the first request is signed" sh -c "gs sign <m.eml >/dev/null"
sleep 3.5
gs agent status >status.out
check "after the cache time, the key is forgotten" lacks status.out "^$ALICE"
gs sign <m.eml >exp.out 2>exp.err; rc=$?
check "the second request, after expiry, exits 77 (no terminal to ask on)" test "$rc" = 77
contains exp.err 'no terminal' && one_line exp.err; check "... with a clear one-line error" test $? = 0
check "... and writes nothing" test ! -s exp.out
gs agent stop >/dev/null; sleep 1.5

# ---- version mismatch ----
config 600
"$GALSMIME" agent serve --protocol 99 </dev/null >/dev/null 2>&1 &
ODD=$!
n=50; while [ ! -S "$SOCK" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
gs sign <m.eml >vm.out 2>vm.err; rc=$?
check "an agent of another protocol version: the client says so" contains vm.err 'protocol 99'
test $rc = 77 && contains vm.err 'unlocking the key here' && contains vm.err 'no passphrase was given'
check "... and unlocks here instead (no passphrase: 77, as without an agent)" test $? = 0
check "... which works with a passphrase file" \
	sh -c "gs sign --passphrase-file '$PKI/pass' <m.eml >/dev/null"
gs agent status >/dev/null 2>vm2.err
check "agent status refuses it clearly" contains vm2.err 'protocol 99'
kill "$ODD"; wait "$ODD" 2>/dev/null; ODD=
rm -f "$SOCK"

# ---- pinentry on a terminal (tmux) ----
# a pane running one command with GPG_TTY set as gpg's users do
pane() { # NAME COMMAND
	rm -f "$1.rc"
	start "$1" "env XDG_RUNTIME_DIR=$RUN XDG_CONFIG_HOME=$XDG_CONFIG_HOME sh -c 'export GPG_TTY=\$(tty); $2; echo \$? >$T_DIR/$1.rc; sleep 60'"
}
wait_rc() { n=100; while [ ! -s "$1.rc" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done; cat "$1.rc" 2>/dev/null; }
pane pin "$GALSMIME sign <$T_DIR/m.eml >$T_DIR/pin.out"
if wait_for pin 'Passphrase:'; then
	pass "pinentry-tty asks on the client's terminal (agent started on demand)"
	check "... saying whose key" contains screen.pin 'alice@example.org'
	keys pin wrong Enter
	wait_for pin 'try 2 of 3' 5 && pass "a wrong passphrase: asked again" || fail "a wrong passphrase: asked again" "$(cat screen.pin)"
	keys pin "$pass" Enter
	check "the right one: sign exits 0" test "$(wait_rc pin)" = 0
	check "... and its signature verifies" \
		openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in pin.out -out /dev/null
	check "later commands need no passphrase (no terminal either)" sh -c "gs sign <m.eml >/dev/null"
else
	fail "pinentry-tty asks on the client's terminal" "$(cat screen.pin)"
fi
stop pin
gs agent forget

pane cancel "$GALSMIME sign <$T_DIR/m.eml >$T_DIR/cancel.out 2>$T_DIR/cancel.err"
if wait_for cancel 'Passphrase:'; then
	keys cancel C-d
	check "pinentry cancelled (^D): exit 77" test "$(wait_rc cancel)" = 77
	contains cancel.err 'cancelled' && one_line cancel.err
	check "... with a one-line error saying so" test $? = 0
	check "... and no output" test ! -s cancel.out
else
	fail "pinentry cancelled" "$(cat screen.cancel)"
fi
stop cancel

pane thrice "$GALSMIME sign <$T_DIR/m.eml >$T_DIR/thrice.out 2>$T_DIR/thrice.err"
if wait_for thrice 'Passphrase:'; then
	for i in 1 2 3; do keys thrice "wrong$i" Enter; sleep 0.7; done
	check "a wrong passphrase three times: exit 77" test "$(wait_rc thrice)" = 77
	check "... saying so" contains thrice.err 'wrong passphrase for the private key, 3 times'
else
	fail "three wrong passphrases" "$(cat screen.thrice)"
fi
stop thrice

# killed while it waits for pinentry: the client gets 75, and no output
pane killed "$GALSMIME sign <$T_DIR/m.eml >$T_DIR/killed.out 2>$T_DIR/killed.err"
if wait_for killed 'Passphrase:'; then
	kill -9 "$(agent_pid)"
	check "the agent killed mid-request: the client exits 75" test "$(wait_rc killed)" = 75
	check "... saying the agent went away" contains killed.err 'agent went away'
	check "... and writes nothing" test ! -s killed.out
else
	fail "the agent killed mid-request" "$(cat screen.killed)"
fi
stop killed

# no pinentry at all
config 600 /nonexistent/pinentry
pane missing "$GALSMIME sign <$T_DIR/m.eml >$T_DIR/missing.out 2>$T_DIR/missing.err"
check "a missing pinentry: exit 77" test "$(wait_rc missing)" = 77
contains missing.err 'cannot run pinentry' && one_line missing.err
check "... with a one-line error naming it" test $? = 0
stop missing
