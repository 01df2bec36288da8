#!/bin/sh
# The warm path: with the key agent running, `galsmime` (the front)
# hands the command to the engine beside the agent, which runs it in a
# forked worker. Warm runs give what cold runs give (outputs, exit codes,
# stderr), read stdin as a pipe or a file, see store changes, serve 8 at
# once and one while another waits, only their user; a killed worker is
# exit 75 with nothing on stdout; a stopped engine costs a 2 s wait and
# the cold path; a worker finds its connection to the key agent made by
# its spare, and a stopped agent does not hold up a spare; `agent stop`
# ends the engine at once; [agent] enable = false and another build of
# the engine mean the cold path. Whether a run was warm is read from
# strace: a cold run loads galsmime-engine.so, a warm one does not.
. "$TESTS_TOP/tests/lib.sh"
command -v strace >/dev/null || { fail "strace is missing (scripts/install-deps installs it)"; exit 0; }

RUN=$(mktemp -d /tmp/gs18.XXXXXX)
chmod 700 "$RUN"
export XDG_RUNTIME_DIR="$RUN"
ESOCK=$RUN/galsmime/engine.sock
OTHER=gs18u$$
ENGINE=$(dirname "$GALSMIME")/../lib/galsmime/galsmime-engine.so
# the engine processes: those running `agent engine` whose parent does
# not (the others are its workers, forked from it)
engine_pids() {
	ps -eo pid,ppid,args | grep -F -- "--home $GALSMIME_HOME agent engine" | grep -v -- grep |
		awk '{ pid[NR] = $1; ppid[NR] = $2; is[$1] = 1 } END { for (i = 1; i <= NR; i++) if (!is[ppid[i]]) print pid[i] }'
}
engines() { engine_pids | wc -l; }
cleanup() {
	gs agent stop >/dev/null 2>&1
	userdel "$OTHER" >/dev/null 2>&1
	sleep 1.2
	rm -rf "$RUN"
}
trap 'cleanup; t_finish' EXIT
unset GPG_TTY DISPLAY WAYLAND_DISPLAY || true
# `gs` for the sh -c of the checks below too
mkdir bin
printf '#!/bin/sh\nexec "$GALSMIME" "$@"\n' >bin/gs
chmod +x bin/gs
PATH=$T_DIR/bin:$PATH

# execves NAME ARGS...: run galsmime ARGS (stdin, stdout: the caller's)
# under strace; NAME.execs is 1 when it loaded the engine itself (cold),
# 0 when it did not (warm)
execves() {
	n=$1; shift
	# LeakSanitizer cannot run under ptrace (make check SANITIZE=1): it
	# would say so on stderr, which is compared with the cold run's
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -e trace=openat -o "$n.trace" "$GALSMIME" "$@"
	rc=$?
	grep -c 'galsmime-engine\.so' "$n.trace" >"$n.execs"
	return $rc
}
warm() { [ "$(cat "$1.execs")" = 0 ]; }
cold() { [ "$(cat "$1.execs")" -ge 1 ]; }

store_setup || { fail "store setup"; exit 1; }
gs cert import "$PKI/bob.crt" >/dev/null || fail "bob's certificate"
msg alice@example.org bob@example.org >m.eml
pass=$(cat "$PKI/pass")
P="--passphrase-file $PKI/pass"
# the cold runs' outputs, before any agent
gs sign $P <m.eml >cold.signed
gs encrypt $P <m.eml >cold.enc
gs decrypt $P <cold.enc >cold.dec 2>cold.dec.err; echo $? >cold.dec.rc
gs verify <cold.signed >cold.ver 2>cold.ver.err; echo $? >cold.ver.rc
gs verify --json <cold.signed >cold.json 2>/dev/null
printf 'From: x@example.org\nTo: y@example.org\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\nContent-Transfer-Encoding: base64\n\nAAAA!!\n' >bad.eml
gs decrypt $P <bad.eml >cold.bad 2>cold.bad.err; echo $? >cold.bad.rc
gs encrypt --to nobody@example.org $P <m.eml >cold.nouser 2>cold.nouser.err; echo $? >cold.nouser.rc
gs sign --no-such-option <m.eml >/dev/null 2>cold.usage.err; echo $? >cold.usage.rc
execves nocold verify <cold.signed >/dev/null 2>&1
check "without an agent: the front loads galsmime-engine.so (cold)" cold nocold

# ---- the engine starts with the agent ----
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
n=30; while [ ! -S "$ESOCK" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "the agent starts the engine: engine.sock in the agent's folder" test -S "$ESOCK"
check "... this user's alone (0700 folder, socket 0600)" \
	sh -c "[ $(stat -c %a "$RUN/galsmime") = 700 ] && [ \$(stat -c %a '$ESOCK' | cut -c2-) = 00 ]"
check "... one engine process" test "$(engines)" = 1
n=30; while [ "$(pgrep -c -P "$(engine_pids)")" != 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "... with one worker ready beside it before any request" test "$(pgrep -c -P "$(engine_pids)")" = 1

# ---- warm runs give what cold runs give ----
execves sign sign <m.eml >warm.signed 2>warm.sign.err
check "sign with the agent is warm (the engine not loaded here)" warm sign
check "... and openssl cms verifies it" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in warm.signed -out /dev/null
check "... and galsmime verify (cold) says good" \
	sh -c "env XDG_RUNTIME_DIR=/nonexistent '$GALSMIME' verify <warm.signed >/dev/null 2>&1"
check "... with the same headers as the cold signature" \
	sh -c "sed -n '1,/^\$/p' warm.signed | grep -v boundary >h.w; sed -n '1,/^\$/p' cold.signed | grep -v boundary >h.c; cmp h.w h.c"
check "... and nothing on stderr, as cold" test ! -s warm.sign.err
cat m.eml | gs sign >warm.pipe.signed
check "stdin a pipe: the signature verifies" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in warm.pipe.signed -out /dev/null
execves verify verify <cold.signed >warm.ver 2>warm.ver.err; echo $? >warm.ver.rc
check "verify is warm" warm verify
check "verify: stdout byte-identical to cold" cmp warm.ver cold.ver
check "verify: stderr and exit code identical" sh -c "cmp warm.ver.err cold.ver.err && cmp warm.ver.rc cold.ver.rc"
gs verify --json <cold.signed >warm.json 2>/dev/null
check "verify --json identical" cmp warm.json cold.json
# the engine has now decoded the signer's certificate for the next
# workers (learned from a verify that succeeded): the same answers, and
# a message altered after signing is still refused as cold refuses it
sleep 0.3
gs verify <cold.signed >warm.ver2 2>warm.ver2.err; echo $? >warm.ver2.rc
check "verify again (certificates learned): identical to cold" \
	sh -c "cmp warm.ver2 cold.ver && cmp warm.ver2.err cold.ver.err && cmp warm.ver2.rc cold.ver.rc"
sed "s/^this is a test message/this is an altered message/" cold.signed >altered.signed
env XDG_RUNTIME_DIR=/nonexistent "$GALSMIME" verify <altered.signed >alt.cold 2>alt.cold.err; echo $? >alt.cold.rc
gs verify <altered.signed >alt.warm 2>alt.warm.err; echo $? >alt.warm.rc
check "... an altered message: refused warm as cold (exit $(cat alt.cold.rc), same stderr)" \
	sh -c "[ \$(cat alt.cold.rc) != 0 ] && cmp alt.warm.rc alt.cold.rc && cmp alt.warm.err alt.cold.err && cmp alt.warm alt.cold"
execves enc encrypt <m.eml >warm.enc
check "encrypt is warm" warm enc
gs encrypt <m.eml >warm.enc2
check "two warm encryptions differ (each worker's random is its own)" sh -c "! cmp -s warm.enc warm.enc2"
execves dec decrypt <cold.enc >warm.dec 2>warm.dec.err; echo $? >warm.dec.rc
check "decrypt is warm" warm dec
check "decrypt: stdout byte-identical to cold" cmp warm.dec cold.dec
check "decrypt: stderr and exit code identical" sh -c "cmp warm.dec.err cold.dec.err && cmp warm.dec.rc cold.dec.rc"
gs decrypt <warm.enc >warm.dec2 2>/dev/null
check "what warm encrypt wrote, warm decrypt reads back as cold decrypt does" \
	sh -c "env XDG_RUNTIME_DIR=/nonexistent '$GALSMIME' decrypt $P <warm.enc | cmp - warm.dec2"
gs encrypt --sign <m.eml >warm.se
check "encrypt --sign warm: decrypted and verified good (cold)" \
	sh -c "env XDG_RUNTIME_DIR=/nonexistent '$GALSMIME' decrypt $P <warm.se 2>&1 >/dev/null | grep -qi 'good'"

# failures: the same exit code and message
gs decrypt <bad.eml >warm.bad 2>warm.bad.err; echo $? >warm.bad.rc
check "a bad message: exit code as cold ($(cat cold.bad.rc))" cmp warm.bad.rc cold.bad.rc
check "... the same stderr, nothing on stdout" sh -c "cmp warm.bad.err cold.bad.err && cmp warm.bad cold.bad"
gs encrypt --to nobody@example.org <m.eml >warm.nouser 2>warm.nouser.err; echo $? >warm.nouser.rc
check "an unknown recipient: exit code as cold ($(cat cold.nouser.rc))" cmp warm.nouser.rc cold.nouser.rc
check "... the same stderr" cmp warm.nouser.err cold.nouser.err
gs sign --no-such-option <m.eml >/dev/null 2>warm.usage.err; echo $? >warm.usage.rc
check "a usage error: exit code and stderr as cold" sh -c "cmp warm.usage.rc cold.usage.rc && cmp warm.usage.err cold.usage.err"

# mutt's commands: file arguments relative to the working folder
printf 'hello\r\nworld\r\n' >content.crlf
mkdir sub && cp content.crlf "$PKI/alice.crt" sub/
(cd sub && execves ../mutt mutt sign --digest sha256 alice.crt content.crlf >../mutt.sig)
check "mutt sign (files relative to the working folder) is warm" warm mutt
check "... and its detached signature verifies with openssl" \
	openssl smime -verify -binary -inform DER -in mutt.sig -content content.crlf -CAfile "$PKI/root.crt" -purpose smimesign -out /dev/null

# ---- another store, by the environment ----
mkdir bobstore
GALSMIME_HOME=$T_DIR/bobstore "$GALSMIME" trust import "$PKI/root.crt" >/dev/null
GALSMIME_HOME=$T_DIR/bobstore "$GALSMIME" cert import "$PKI/inter.crt" >/dev/null
GALSMIME_HOME=$T_DIR/bobstore "$GALSMIME" key import "$PKI/bob.p12" $P >/dev/null
GALSMIME_HOME=$T_DIR/bobstore execves bob decrypt $P <cold.enc >bob.dec 2>/dev/null
check "GALSMIME_HOME of the command, not the engine's: bob's store decrypts warm" \
	sh -c "[ \$(cat bob.execs) = 0 ] && grep -q 'this is a test message' bob.dec"

# ---- a store the engine's spare worker did not open ----
# The engine keeps a worker ready with the agent's store open: a request
# for another store must answer from that store alone. A store with no
# trust anchor says what it says cold, not "good" from the engine's.
mkdir emptystore
GALSMIME_HOME=$T_DIR/emptystore "$GALSMIME" trust list >/dev/null 2>&1
GALSMIME_HOME=$T_DIR/emptystore XDG_RUNTIME_DIR=/nonexistent "$GALSMIME" verify <cold.signed >empty.cold 2>empty.cold.err
echo $? >empty.cold.rc
GALSMIME_HOME=$T_DIR/emptystore execves empty verify <cold.signed >empty.warm 2>empty.warm.err
echo $? >empty.warm.rc
check "a store without the anchor, cold: verify is not good" sh -c "! grep -q '^0\$' empty.cold.rc"
check "... warm: the same exit code, stdout and stderr (not the engine's store)" \
	sh -c "[ \$(cat empty.execs) = 0 ] && cmp empty.cold.rc empty.warm.rc && cmp empty.cold empty.warm && cmp empty.cold.err empty.warm.err"
# the agent's own store replaced by that empty one at the same path,
# under the spare that opened the old one: the new one answers
mv "$GALSMIME_HOME" "$GALSMIME_HOME.old"
cp -a emptystore "$GALSMIME_HOME"
execves swapped verify <cold.signed >swapped.ver 2>swapped.err
echo $? >swapped.rc
check "the agent's store folder replaced: verify answers from the new store" \
	sh -c "[ \$(cat swapped.execs) = 0 ] && cmp swapped.rc empty.cold.rc && cmp swapped.ver empty.cold"
rm -rf "$GALSMIME_HOME"
mv "$GALSMIME_HOME.old" "$GALSMIME_HOME"
execves back verify <cold.signed >back.ver 2>/dev/null
check "... and put back, from the old one again" sh -c "[ \$(cat back.execs) = 0 ] && cmp back.ver cold.ver"

# ---- the store changed after the engine started ----
msg alice@example.org grace@example.org >g.eml
gs encrypt <g.eml >/dev/null 2>grace1.err; rc=$?
check "grace unknown: exit 67" test "$rc" = 67
gs cert import "$PKI/grace.crt" >/dev/null
execves grace encrypt <g.eml >grace.enc 2>grace.err
check "after cert import, the warm engine encrypts to grace" sh -c "[ \$(cat grace.execs) = 0 ] && [ -s grace.enc ]"
# the spare keeps the store open while it waits, perhaps for hours: it
# must hold no read transaction, or no checkpoint could complete and the
# WAL would grow with every write
gs cert import "$PKI/henry.crt" >/dev/null
check "a spare waiting with the store open holds no snapshot: a full checkpoint completes" \
	sh -c "sqlite3 '$GALSMIME_HOME/galsmime.db' 'PRAGMA wal_checkpoint(TRUNCATE);' | grep -q '^0|'"

# ---- 8 at once ----
check "8 clients at once: 8 good signatures" test "$(parallel_signs 8)" = 8

# ---- a request that takes its time does not hold up the next ----
# (the engine forks the next spare once a request has answered, or when
# it has not after 25 ms, or when a connection waits with no spare)
(sleep 3; cat m.eml) | gs sign >held.signed 2>/dev/null &
held=$!
sleep 0.5
t0=$(date +%s%N)
execves during verify <cold.signed >during.ver 2>/dev/null
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "a sign waiting for its stdin: a verify meanwhile is warm" warm during
check "... and does not wait for it (${ms} ms)" sh -c "[ $ms -lt 1500 ] && cmp during.ver cold.ver"
wait $held
check "... and the held sign then signs" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in held.signed -out /dev/null
n=30; while [ "$(pgrep -c -P "$(engine_pids)")" != 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "... after which one spare waits again, and no worker is left" test "$(pgrep -c -P "$(engine_pids)")" = 1

# ---- a stopped engine: the front waits 2 s for a worker, then runs cold ----
stopped=$(engine_pids)
stopped="$stopped $(pgrep -P "$stopped")"
kill -STOP $stopped
# a front that waited forever is released after 15 s (and fails below)
(sleep 15; kill -CONT $stopped 2>/dev/null) &
watchdog=$!
t0=$(date +%s%N)
execves stopped verify <cold.signed >stopped.ver 2>stopped.err; echo $? >stopped.rc
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "engine and its worker stopped (SIGSTOP): verify runs cold" cold stopped
check "... after the 2 s greeting wait, not forever (${ms} ms)" sh -c "[ $ms -ge 1900 ] && [ $ms -lt 8000 ]"
check "... and gives what cold gives" sh -c "cmp stopped.ver cold.ver && cmp stopped.rc cold.ver.rc && cmp stopped.err cold.ver.err"
kill -CONT $stopped
kill $watchdog 2>/dev/null
sleep 1
check "the engine resumed: the connection it had queued did nothing (stdout unchanged)" cmp stopped.ver cold.ver
execves resumed verify <cold.signed >resumed.ver 2>/dev/null
check "... and the next verify is warm again" sh -c "[ \$(cat resumed.execs) = 0 ] && cmp resumed.ver cold.ver"

# ---- a worker killed mid-operation ----
eng=$(engine_pids)
# the engine's worker serving a request: the child whose stdin is the
# client's pipe (the spare worker waiting beside it has /dev/null)
serving() {
	for w in $(pgrep -P "$eng"); do
		case $(readlink "/proc/$w/fd/0") in pipe:*) echo "$w"; return ;; esac
	done
}
(sleep 2; cat m.eml) | gs sign >killed.out 2>killed.err &
cpid=$!
sleep 0.7
w=$(serving)
[ -n "$w" ] && kill -9 "$w"
wait $cpid; rc=$?
check "a worker killed while signing: the client exits 75" test "$rc" = 75
check "... saying the engine went away" contains killed.err 'engine went away'
check "... with nothing on stdout" test ! -s killed.out
check "... and the engine serves the next one" sh -c "gs sign <m.eml | openssl cms -verify -CAfile '$PKI/root.crt' -purpose smimesign -out /dev/null"
(sleep 2; cat cold.enc) | gs decrypt >killed2.out 2>/dev/null &
cpid=$!
sleep 0.7
w=$(serving)
[ -n "$w" ] && kill -9 "$w"
wait $cpid; rc=$?
check "a worker killed while decrypting: 75, nothing on stdout" sh -c "[ $rc = 75 ] && [ ! -s killed2.out ]"

# ---- a request the front would not send: declined ----
cat >raw.py <<'PY'
import os, socket, struct, sys
sock, engine, args = sys.argv[1], sys.argv[2], sys.argv[3:]
st = os.stat(engine)
env = [k + "=" + v for k, v in os.environ.items()]
body = b"".join(x.encode() + b"\0" for x in [os.getcwd()] + args + env)
hdr = struct.pack("=6I2Q3q", 0x47535765, 1, len(body), 0o22, len(args), len(env),
                  st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
null = os.open("/dev/null", os.O_RDWR)
s.sendmsg([hdr + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", null, null, null))])
got = []
while True:
    m = s.recv(8)
    if len(m) < 8:
        break
    got.append(chr(struct.unpack("=2i", m)[0]))
print("".join(got))
PY
python3 raw.py "$ESOCK" "$ENGINE" galsmime --home "$GALSMIME_HOME" agent status >raw.out 2>&1
check "a worker declines a command the front never sends (agent status)" sh -c "[ \"\$(cat raw.out)\" = PD ]"
python3 raw.py "$ESOCK" "$ENGINE" galsmime --home "$GALSMIME_HOME" verify >raw2.out 2>&1
check "... and runs one it sends (verify: an exit code comes back)" sh -c "[ \"\$(cat raw2.out)\" = PR ]"

# ---- another local user ----
if useradd -M -d /nonexistent -s /usr/sbin/nologin "$OTHER" 2>/dev/null; then
	check "another user cannot reach the engine (the folder is 0700)" \
		sh -c "! runuser -u $OTHER -- test -w '$ESOCK'"
	chmod 711 "$RUN" "$RUN/galsmime"; chmod 777 "$ESOCK"
	cat >peer.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    r = s.recv(8)
except (ConnectionResetError, BrokenPipeError):
    r = b""
# hung up on: 0; a worker's greeting: 3
sys.exit(0 if r == b"" else 3)
PY
	runuser -u "$OTHER" -- python3 -c "$(cat peer.py)" "$ESOCK" 2>peer.err; rc=$?
	check "another user connecting anyway is hung up on (SO_PEERCRED)" test "$rc" = 0
	python3 peer.py "$ESOCK"; rc=$?
	check "control: the same probe as this user is greeted by a worker" test "$rc" = 3
	chmod 700 "$RUN" "$RUN/galsmime"; chmod 600 "$ESOCK"
	userdel "$OTHER" >/dev/null 2>&1
else
	fail "another user cannot use the engine" "useradd failed (not root?)"
fi

# ---- [agent] enable = false: cold ----
mkdir -p "$XDG_CONFIG_HOME/galsmime"
printf '[agent]\nenable = false\n' >"$XDG_CONFIG_HOME/galsmime/config"
execves off verify <cold.signed >off.ver 2>/dev/null
check "[agent] enable = false: verify runs cold" cold off
check "... and gives the same" cmp off.ver cold.ver
rm "$XDG_CONFIG_HOME/galsmime/config"

# ---- another build of the engine: cold, and the engine goes ----
execves again verify <cold.signed >/dev/null 2>&1
check "warm again without the configuration" warm again
touch -d '2020-01-01 00:00:00' "$ENGINE"
execves rebuilt verify <cold.signed >rebuilt.ver 2>/dev/null
check "galsmime-engine.so replaced (mtime): the command runs cold" cold rebuilt
check "... and gives the same" cmp rebuilt.ver cold.ver
sleep 1.5
check "... and the old engine stopped" test "$(engines)" = 0
touch "$ENGINE"

# ---- the spare connects to the key agent before its request comes ----
# A warm sign does not wait for a connection to the agent (the agent's new
# thread, HELLO): the spare made it while it waited. Seen with strace
# attached to the engine: the spare it forks after the first sign
# connects to agent.sock before it accepts the second sign, not after.
gs agent stop >/dev/null 2>&1
n=30; while [ "$(engines)" != 0 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
# the new engine and its first spare
n=50; while [ "$(pgrep -c -P "$(engine_pids)" 2>/dev/null)" != 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -f -qq -e trace=connect,accept4 -o pre.trace -p "$(engine_pids)" 2>pre.strace.err &
st=$!
sleep 0.5
execves pre1 sign <m.eml >pre1.signed 2>/dev/null
sleep 0.5
execves pre2 sign <m.eml >pre2.signed 2>/dev/null
sleep 0.3
kill "$st" 2>/dev/null
wait "$st" 2>/dev/null
# per process: its connects to agent.sock before and after it accepted a front
awk '/accept4/ && /= [0-9]+$/ { took[$1] = 1; next }
	/connect\(/ && /agent\.sock/ { if ($1 in took) after[$1]++; else before[$1]++ }
	END { for (p in took) if (before[p]) { n++; if (after[p]) bad++ } print n + 0, bad + 0 }' pre.trace >pre.count
check "both signs warm, signed by the agent's key" sh -c "warm() { [ \$(cat \$1.execs) = 0 ]; }; warm pre1 && warm pre2 &&
	openssl cms -verify -CAfile '$PKI/root.crt' -purpose smimesign -in pre2.signed -out /dev/null"
check "the worker that took the second sign had connected to the agent before it took it, and not again" \
	test "$(cat pre.count)" = "1 0"

# ---- an agent that does not answer holds up nothing that needs no key ----
# The spare waits 0.5 s at most for the agent's greeting, then does
# without its connection: with the agent stopped (SIGSTOP), two verifies
# in a row both run warm, the second without the front's 2 s wait.
apid=$(ps -eo pid,args | grep -F -- "--home $GALSMIME_HOME agent serve" | grep -v grep | awk '{ print $1 }')
kill -STOP $apid
execves ag1 verify <cold.signed >ag1.ver 2>/dev/null
t0=$(date +%s%N)
execves ag2 verify <cold.signed >ag2.ver 2>/dev/null
t1=$(date +%s%N)
kill -CONT $apid
ms=$(( (t1 - t0) / 1000000 ))
check "agent stopped: two verifies in a row, both warm and good" \
	sh -c "[ \$(cat ag1.execs) = 0 ] && [ \$(cat ag2.execs) = 0 ] && cmp ag1.ver cold.ver && cmp ag2.ver cold.ver"
check "... the second in under 1.9 s (${ms} ms)" test "$ms" -lt 1900

# ---- agent stop ends the engine ----
gs agent stop >/dev/null 2>&1
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
n=30; while [ ! -S "$ESOCK" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "a new agent starts a new engine" test "$(engines)" = 1
gs agent stop >/dev/null 2>&1
sleep 1.5
check "agent stop: the engine is gone too" test "$(engines)" = 0
check "... and its socket" test ! -e "$ESOCK"
execves after sign $P <m.eml >after.signed
check "then the cold path again, which signs" sh -c "[ \$(cat after.execs) -ge 1 ] && openssl cms -verify -CAfile '$PKI/root.crt' -purpose smimesign -in after.signed -out /dev/null"

# ---- a revocation imported while a worker waits ready ----
# The spare worker loaded the store's anchors and CRL state before its
# request came; a CRL imported in between (another process writes the
# store) must count for that very request: bad, "revoked", as cold.
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
n=30; while [ "$(pgrep -c -P "$(engine_pids)" 2>/dev/null)" != 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
execves pre verify <cold.signed >pre.ver 2>/dev/null
check "before the CRL: warm verify good" sh -c "[ \$(cat pre.execs) = 0 ] && cmp pre.ver cold.ver"
cp -r "$PKI/ca-inter" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
openssl ca -batch -config ca/ca.cnf -cert "$PKI/inter.crt" -keyfile "$PKI/inter.key" -revoke "$PKI/alice.crt" 2>/dev/null &&
	openssl ca -batch -config ca/ca.cnf -cert "$PKI/inter.crt" -keyfile "$PKI/inter.key" -gencrl -crldays 30 \
		-out alice-revoked.crl 2>/dev/null
gs crl import alice-revoked.crl >/dev/null 2>&1 &&
	execves revoked verify <cold.signed >revoked.ver 2>revoked.err
echo $? >revoked.rc
env XDG_RUNTIME_DIR=/nonexistent "$GALSMIME" verify <cold.signed >revoked.cold 2>revoked.cold.err
echo $? >revoked.cold.rc
check "alice revoked: cold verify says revoked" contains revoked.cold.err revoked
check "... warm, at once: the same exit code and stderr (not the spare's stale view)" \
	sh -c "[ \$(cat revoked.execs) = 0 ] && cmp revoked.rc revoked.cold.rc && cmp revoked.err revoked.cold.err"
gs agent stop >/dev/null 2>&1

# ---- a spare worker that keeps dying: the engine stops, commands run cold ----
# (a spare that crashes before any request, as one did under
# AddressSanitizer: forking them forever would leave connections queued)
echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
spare_pid() { # (a zombie, killed and not yet reaped, has no fd 0)
	for w in $(pgrep -P "$(engine_pids)" 2>/dev/null); do
		case $(readlink "/proc/$w/fd/0") in /dev/null) echo "$w"; return ;; esac
	done
}
killed=0
for i in 1 2 3; do
	n=50; while [ -z "$(spare_pid)" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	s=$(spare_pid)
	[ -n "$s" ] && kill -9 "$s" && killed=$((killed + 1))
	sleep 0.3
done
check "three spares killed before any request" test "$killed" = 3
n=30; while [ "$(engines)" != 0 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "... the engine stops instead of forking more" test "$(engines)" = 0
execves dead verify <cold.signed >dead.ver 2>/dev/null
check "... and the next verify runs cold, as good as ever" sh -c "[ \$(cat dead.execs) -ge 1 ] && cmp dead.ver cold.ver"
gs agent stop >/dev/null 2>&1

# ---- no XDG_RUNTIME_DIR: the agent's folder is STORE/agent, for both ----
# (front.h's one rule: the front looks for engine.sock where the agent
# and its engine put it)
(
	unset XDG_RUNTIME_DIR
	echo "$pass" | gs agent preset --from alice@example.org >/dev/null 2>&1
	n=30; while [ ! -S "$GALSMIME_HOME/agent/engine.sock" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	[ -S "$GALSMIME_HOME/agent/engine.sock" ] && echo yes >noxdg.sock
	execves noxdg verify <cold.signed >noxdg.ver 2>/dev/null
	gs agent stop >/dev/null 2>&1
)
check "without XDG_RUNTIME_DIR the engine listens in the store's agent folder" test -s noxdg.sock
check "... and the front finds it there: verify is warm, and good" sh -c "[ \$(cat noxdg.execs) = 0 ] && cmp noxdg.ver cold.ver"
