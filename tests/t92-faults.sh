#!/bin/sh
# Faults: nothing lost, nothing corrupted.
# - stdout full (/dev/full) or closed early (a pipe to `head -c 10`, to
#   a reader that exits at once): sign, encrypt, decrypt and verify exit
#   74 with one line on stderr, never 0.
# - galsmime send never says "sent" unless its SENDMAIL exited 0 after
#   reading the whole message (exit 75, killed, reads nothing, reads a
#   part, is missing).
# - a full disk (tests/faults/failwrite.c, an LD_PRELOAD shim: no root,
#   no mount) during gal import, cert import and harvest, at budgets
#   that land in the -shm file, in the WAL while the transaction
#   spills, at its commit, and in the checkpoint after it: either exit
#   74/75 with one clear line and the store exactly as before, or (in
#   the checkpoint, after the commit) exit 0 and the store exactly as
#   after a clean run.
# - SIGKILL while re-importing a large GAL over a small snapshot of the
#   same source (one transaction): killed before its commit, the old
#   snapshot exactly; after it (in the checkpoint), the new one whole;
#   the store opens, answers and passes integrity_check either way.
# - eight processes verifying, decrypting and harvesting while a large
#   GAL is imported: each succeeds, or exits 75 with one line and no
#   output; the import's counts are right and the store is sound.
. "$TESTS_TOP/tests/lib.sh"

BUILD_DIR="$TESTS_TOP/${BUILD:-build}"
SHIM="$BUILD_DIR/tests/failwrite.so"
GEN_GAL="$BUILD_DIR/gen-gal"
# gen_gal N CERTS DIR: scripts/gen-gal.c, a one-shot tool that frees
# nothing at exit (LeakSanitizer would fail it in the sanitizer build)
gen_gal() { ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$GEN_GAL" "$@"; }
DB="$GALSMIME_HOME/galsmime.db"
export GALSMIME_PASSPHRASE_FILE="$PKI/pass"
# the large GAL: entries and distinct certificates (smaller with the
# sanitizers, which make every run several times slower)
if [ "${SANITIZE:-}" = 1 ]; then BIG_N=6000 BIG_CERTS=1500; else BIG_N=20000 BIG_CERTS=5000; fi

dump() { sqlite3 "$DB" .dump; }
sound() { test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok; }
# ndump: the dump with the times of import set to 0, to compare a store
# with one made by the same operation at another second
ndump() {
	rm -f "$T_DIR/nd.db"
	sqlite3 "$DB" ".backup '$T_DIR/nd.db'" &&
	sqlite3 "$T_DIR/nd.db" "UPDATE source SET imported_at = 0; UPDATE certificate SET added_at = 0;
		UPDATE anchor SET added_at = 0; UPDATE identity SET added_at = 0;
		UPDATE capability SET seen_at = 0; UPDATE harvested SET at = 0;" .dump
}
# save NAME / restore NAME: the whole store folder, while nobody has it open
save() { rm -rf "$T_DIR/saved-$1" && cp -a "$GALSMIME_HOME" "$T_DIR/saved-$1"; }
restore() { rm -rf "$GALSMIME_HOME" && cp -a "$T_DIR/saved-$1" "$GALSMIME_HOME"; }
lines() { wc -l <"$1" | tr -d ' '; }

check "store setup: trust the root, alice's identity" store_setup
gs cert import "$PKI/carol.crt" >/dev/null
B="$T_DIR/bob-store"
gs --home "$B" trust import "$PKI/root.crt" >/dev/null
gs --home "$B" cert import "$PKI/inter.crt" "$PKI/alice.crt" >/dev/null
gs --home "$B" key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null
msg alice@example.org carol@example.org "to carol" >m.eml
msg bob@example.org alice@example.org "from bob" >bm.eml
gs --home "$B" sign <bm.eml >bs.eml
gs --home "$B" encrypt --sign --to alice@example.org <bm.eml >enc.eml
gs decrypt <enc.eml >dec.ref 2>/dev/null
check "a message signed by bob, one encrypted by bob to alice: alice decrypts it" \
	sh -c "test -s bs.eml && grep -q 'this is a test message' dec.ref"
# large messages (2.3 MB of text): more than any pipe holds
{ sed '/^$/q' m.eml; head -c 2300000 /dev/zero | tr '\0' x | fold -w 76; } >big.eml
{ sed '/^$/q' bm.eml; head -c 2300000 /dev/zero | tr '\0' x | fold -w 76; } >bigb.eml
gs sign <big.eml >bigs.eml
gs --home "$B" encrypt <bigb.eml >bige.eml
check "a large message signed by alice, one encrypted by bob to alice" \
	sh -c "test \$(wc -c <bige.eml) -gt 3000000 && test \$(wc -c <bigs.eml) -gt 2300000"

# the shim next to AddressSanitizer (make check SANITIZE=1): libasan
# must come first in LD_PRELOAD (it refuses to start otherwise); its
# write interceptors then call the shim's, which call libc's
asan=$(ldd "$GALSMIME" 2>/dev/null | awk '/libasan/ { print $3; exit }')
PRELOAD="${asan:+$asan }$SHIM"

# the large GAL, made while the stdout and send tests run
have_gen=0
if [ -x "$GEN_GAL" ]; then
	have_gen=1
	mkdir -p big med
	gen_gal "$BIG_N" "$BIG_CERTS" big >gen-big.out 2>&1 &
	gen_pid=$!
fi

# ---- stdout full, or closed early ----
# judge DESC WHY CMD: galsmime's exit status in $rc, its stderr in
# out.err: never 0; and 74 with one line "galsmime CMD: stdout: [write
# error: ]WHY"
judge() {
	if [ "$rc" != 0 ] && [ "$rc" -lt 76 ]; then pass "$1: exit $rc, not 0"; else fail "$1: exit non-zero, no crash" "exit $rc: $(cat out.err)"; fi
	d="$1: exit 74, one line on stderr: stdout: $2"
	if [ "$rc" = 74 ] && [ "$(lines out.err)" = 1 ] && contains out.err "^galsmime $3: stdout: (write error: )?$2$"; then
		pass "$d"
	else
		fail "$d" "exit $rc: $(cat out.err)"
	fi
}
# full IN CMD ARGS...: CMD <IN >/dev/full
full() {
	in=$1
	shift
	"$GALSMIME" "$@" <"$in" >/dev/full 2>out.err
	rc=$?
	judge "$* <$in >/dev/full" "No space left on device" "$1"
}
# early IN DESC READER CMD ARGS...: CMD <IN | READER (POSIX sh has no
# PIPESTATUS: galsmime's exit status goes through a file)
early() {
	in=$1 d=$2 reader=$3
	shift 3
	{ "$GALSMIME" "$@" <"$in" 2>out.err; echo $? >early.rc; } | sh -c "$reader"
	rc=$(cat early.rc)
	judge "$* <$in | $d" "Broken pipe" "$1"
}
for c in sign "sign --opaque" encrypt "encrypt --sign"; do
	full m.eml $c
	full big.eml $c
done
full enc.eml decrypt
full bige.eml decrypt
full bs.eml verify
full bigs.eml verify
full bs.eml verify --annotate
full bs.eml verify --json
full enc.eml decrypt --passthrough
"$GALSMIME" verify <bs.eml >verify.out 2>&1
check "the same verify to a file exits 0 (the signature is good)" test $? = 0
for r in "head -c 10 >/dev/null:head -c 10" "exit 0:a reader that exits at once" \
	 "exec 0<&-; sleep 0.3:a reader that closes its stdin"; do
	for c in sign "sign --opaque" encrypt "encrypt --sign"; do
			early big.eml "${r#*:}" "${r%%:*}" $c
	done
	early bige.eml "${r#*:}" "${r%%:*}" decrypt
	early bigs.eml "${r#*:}" "${r%%:*}" verify
done
{ "$GALSMIME" verify <bigs.eml 2>/dev/null; echo $? >early.rc; } | cat >big.out
check "the same verify through a pipe that is read: exit 0, the message whole" \
	sh -c "test \$(cat early.rc) = 0 && cmp -s big.out bigs.eml"
{ "$GALSMIME" encrypt --sign <big.eml 2>/dev/null; echo $? >early.rc; } | cat >big.out
check "encrypt --sign through a pipe that is read: exit 0, alice decrypts it" \
	sh -c "test \$(cat early.rc) = 0 && '$GALSMIME' decrypt <big.out 2>/dev/null | grep -q xxxxxxxx"

# ---- galsmime send and its sendmail ----
mkdir -p sm
cat >sm/ok <<EOS
#!/bin/sh
cat >"$T_DIR/sent.eml"
EOS
printf '#!/bin/sh\ncat >/dev/null\nexit 75\n' >sm/tempfail
printf '#!/bin/sh\ncat >/dev/null\nkill -9 $$\n' >sm/killed
printf '#!/bin/sh\nexec 0<&-\nexit 0\n' >sm/closes
printf '#!/bin/sh\nsleep 0.3\nexit 0\n' >sm/ignores
printf '#!/bin/sh\nhead -c 200 >/dev/null\nexit 0\n' >sm/reads-part
chmod +x sm/*
# send DESC WANT SENDMAIL MSG [send options]: the exit status is WANT
# ("nonzero": anything but 0) and, unless 0, stderr says it was not sent
send() {
	d=$1 want=$2 s=$3 in=$4
	shift 4
	rm -f sent.eml
	"$GALSMIME" send "$@" -- "$s" -oi -- bob@example.org <"$in" >send.out 2>send.err
	rc=$?
	case $want in
	0) if [ "$rc" = 0 ] && [ ! -s send.err ]; then pass "$d: exit 0"; else fail "$d: exit 0" "exit $rc: $(cat send.err)"; fi;;
	*) if [ "$rc" != 0 ] && { [ "$want" = nonzero ] || [ "$rc" = "$want" ]; } &&
		contains send.err "^galsmime send: .*$s.*(failed|killed|without reading|No such file)"; then
		pass "$d: exit $rc, never 0, and stderr says so"
	   else
		fail "$d: exit ${want}, never 0, and stderr says so" "exit $rc: $(cat send.err)"
	   fi;;
	esac
}
send "send to a sendmail that reads it all and exits 0" 0 "$T_DIR/sm/ok" m.eml --sign
check "that sendmail got the signed message" contains sent.eml "application/pkcs7-signature"
send "send to a sendmail that exits 75" 75 "$T_DIR/sm/tempfail" m.eml --sign
send "send to a sendmail killed by a signal" nonzero "$T_DIR/sm/killed" m.eml --sign
send "send to a sendmail that closes its stdin and exits 0" 74 "$T_DIR/sm/closes" m.eml --sign
send "send to a sendmail that reads nothing and exits 0 later" 74 "$T_DIR/sm/ignores" m.eml
send "send to a sendmail that reads 200 bytes and exits 0" 74 "$T_DIR/sm/reads-part" m.eml
send "send of a large message to a sendmail that closes its stdin" 74 "$T_DIR/sm/closes" big.eml
send "send of a large message to a sendmail that reads nothing" 74 "$T_DIR/sm/ignores" big.eml
send "send to a sendmail that does not exist" nonzero "$T_DIR/sm/missing" m.eml --sign
send "send of a large message, read whole" 0 "$T_DIR/sm/ok" big.eml
check "the large message reached that sendmail byte for byte" cmp -s sent.eml big.eml

# ---- a full disk ----
if [ ! -f "$SHIM" ]; then
	skip "a full disk during imports and harvest" "$SHIM is not built (make check builds it)"
else
	# run_full BUDGET PATH CMD...: CMD <$fw_in with the disk full after
	# BUDGET bytes to the store's files whose path contains (or with a
	# final $, ends in) galsmime.dbPATH; where it filled up in fw.log,
	# stdout and stderr in fw.out and fw.err, the exit status in $rc
	run_full() {
		b=$1 p=$2
		shift 2
		rm -f "$T_DIR/fw.log"
		env LD_PRELOAD="$PRELOAD" FAILWRITE_BUDGET="$b" FAILWRITE_PATH="$GALSMIME_HOME/galsmime.db$p" \
			FAILWRITE_LOG="$T_DIR/fw.log" "$@" <"$fw_in" >fw.out 2>fw.err
		rc=$?
	}
	# bytes PATH CMD...: how many bytes a clean run of CMD writes to those files
	bytes() {
		p=$1
		shift
		rm -f "$T_DIR/fw.count"
		env LD_PRELOAD="$PRELOAD" FAILWRITE_PATH="$GALSMIME_HOME/galsmime.db$p" \
			FAILWRITE_COUNT="$T_DIR/fw.count" "$@" <"$fw_in" >fw.out 2>fw.err
		cat "$T_DIR/fw.count" 2>/dev/null || echo 0
	}
	fw_in=/dev/null
	landed() { # where the disk filled up: shm, wal, db or none
		case "$(cut -d' ' -f1 "$T_DIR/fw.log" 2>/dev/null)" in
		*-shm) echo shm;; *-wal) echo wal;; */galsmime.db) echo db;; "") echo none;; *) echo other;;
		esac
	}
	# full_disk NAME SAVED DESC BUDGET PATH GALSMIME SUBCOMMAND...: from
	# the store SAVED, run the command on a disk that fills up; judge by
	# where it filled up. before.sql: the dump of SAVED; ref.sql: the
	# store after a clean run, times zeroed. A failure is one line
	# "galsmime SUBCOMMAND: ...disk full"; gal import adds, as for any
	# failed import, "nothing imported from ...: the store is as it was"
	full_disk() {
		n=$1 saved=$2 when=$3 b=$4 p=$5 sub=$7
		shift 5
		restore "$saved"
		run_full "$b" "$p" "$@"
		at=$(landed)
		case $at in
		shm|wal)
			d="$n, disk full $when (in the -$at file, before the commit)"
			if [ "$rc" = 74 ] || [ "$rc" = 75 ]; then pass "$d: exit $rc"; else fail "$d: exit 74 or 75" "exit $rc: $(cat fw.err)"; fi
			if [ ! -s fw.out ] && head -1 fw.err | grep -Eq "^galsmime $sub: .*disk full$" &&
			   { [ "$(lines fw.err)" = 1 ] || { [ "$sub" = gal ] && [ "$(lines fw.err)" = 2 ] &&
			     sed -n 2p fw.err | grep -q "^galsmime gal: nothing imported from .*: the store is as it was$"; }; }; then
				pass "$d: one clear line on stderr, nothing on stdout"
			else
				fail "$d: one clear line on stderr, nothing on stdout" "$(cat fw.out fw.err)"
			fi
			dump >after.sql
			if cmp -s before.sql after.sql; then pass "$d: the store is exactly as before"; else
				fail "$d: the store is exactly as before" "$(diff before.sql after.sql | head -20)"; fi;;
		db)
			d="$n, disk full $when (in the database file: the checkpoint after the commit)"
			if [ "$rc" = 0 ] && ! grep -Eqi 'disk|error' fw.err; then pass "$d: exit 0, the commit stands"; else
				fail "$d: exit 0, the commit stands" "exit $rc: $(cat fw.err)"; fi
			ndump >after.sql
			if cmp -s ref.sql after.sql; then pass "$d: the store is exactly as after a clean run"; else
				fail "$d: the store is exactly as after a clean run" "$(diff ref.sql after.sql | head -20)"; fi;;
		*)
			fail "$n, disk full $when: the disk filled up where it should" "landed: $at; exit $rc: $(cat fw.err)";;
		esac
		check "$n, disk full $when: integrity_check ok" sound
	}
	# stages NAME SAVED FRACTIONS CMD...: W (bytes to the WAL), D (to
	# the database file), ref.sql and before.sql for CMD from SAVED; then
	# the budgets: none at all (the -shm file), FRACTIONS/8 of W and W-1
	# (the commit's last frame), none and half of D (the checkpoint)
	stages() {
		n=$1 saved=$2 fracs=$3
		shift 3
		restore "$saved"
		dump >before.sql
		W=$(bytes -wal "$@")
		ndump >ref.sql
		restore "$saved"
		D=$(bytes '$' "$@")
		check "$n: a clean run writes to the WAL and the database file ($W, $D bytes)" \
			test "$W" -gt 0 -a "$D" -gt 0
		full_disk "$n" "$saved" "from the start" 0 "" "$@"
		for f in $fracs; do
			full_disk "$n" "$saved" "after $f/8 of the WAL" $((W * f / 8)) -wal "$@"
		done
		full_disk "$n" "$saved" "1 byte before the end of the WAL" $((W - 1)) -wal "$@"
		full_disk "$n" "$saved" "at the first checkpoint write" 0 '$' "$@"
		full_disk "$n" "$saved" "half way through the checkpoint" $((D / 2)) '$' "$@"
	}

	# gal import over a snapshot of the same source, large enough to
	# spill to the WAL before its commit (3000 entries, 1000 certificates)
	python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" json small.json >/dev/null 2>&1
	check "the small snapshot: gal import --source corp" sh -c "'$GALSMIME' gal import --source corp small.json >/dev/null"
	if [ "$have_gen" = 1 ]; then
		check "gen-gal made a GAL of 3000 entries, 1000 certificates" gen_gal 3000 1000 med
		save gal
		stages "gal import" gal "1 3 5 7" "$GALSMIME" gal import --source corp med/gal.json
		# at 1/8 of the WAL the transaction is spilling pages: a statement
		# fails ("store: entry: disk full"), long before the commit
		restore gal
		run_full $((W / 8)) -wal "$GALSMIME" gal import --source corp med/gal.json
		check "gal import, disk full in the WAL while the transaction spills: a statement fails, not the commit" \
			contains fw.err "^galsmime gal: store: [a-z ]+: disk full$"
		restore gal
	else
		skip "gal import on a full disk" "$GEN_GAL is not built (make check builds it)"
	fi

	# cert import of two new certificates
	openssl crl2pkcs7 -nocrl -certfile "$PKI/grace.crt" -certfile "$PKI/henry.crt" -outform DER -out two.p7b
	save cert
	stages "cert import" cert "4" "$GALSMIME" cert import two.p7b
	restore cert

	# harvest of bob's signature: his certificate goes to the source
	# "harvest", the message is remembered
	fw_in=bs.eml
	stages "harvest" cert "4" "$GALSMIME" harvest
	restore cert
	fw_in=/dev/null
fi

# ---- SIGKILL in the middle of an import ----
# A store of its own: alice's, with the small snapshot of the source
# "corp"; the large GAL re-imports "corp" (one transaction: it deletes
# the small snapshot, inserts the large one, commits)
export GALSMIME_HOME="$T_DIR/store2"
DB="$GALSMIME_HOME/galsmime.db"
store_setup
python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" json small.json >/dev/null 2>&1
small_n=$(gs gal import --source corp small.json 2>&1 | sed -n 's/^corp (snapshot): \([0-9]*\) entries.*/\1/p')
check "the small snapshot of corp: ${small_n:-no} entries" test "${small_n:-0}" -gt 0
if [ "$have_gen" = 0 ]; then
	skip "SIGKILL during an import, and eight processes beside one" "$GEN_GAL is not built (make check builds it)"
	exit 0
fi
wait "$gen_pid"
check "gen-gal made the large GAL ($BIG_N entries, $BIG_CERTS certificates)" \
	sh -c "test $? = 0 && test -s big/gal.json"
save small
dump >before.sql
# the whole import, for its time, its result and (through the shim) the
# bytes it writes to the WAL
rm -f fw.count
t0=$(date +%s%N)
if [ -f "$SHIM" ]; then
	env LD_PRELOAD="$PRELOAD" FAILWRITE_PATH="$DB-wal" FAILWRITE_COUNT="$T_DIR/fw.count" \
		"$GALSMIME" gal import --source corp big/gal.json >big.out 2>&1
else
	"$GALSMIME" gal import --source corp big/gal.json >big.out 2>&1
fi
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
W=$(cat fw.count 2>/dev/null || echo 0)
check "the whole import, for its time ($ms ms)" contains big.out "^corp \(snapshot\): $BIG_N entries"
ndump >new.sql
restore small
# killed before the commit, the old snapshot is there exactly; after it
# (the checkpoint that follows takes a good part of the time), the new
# one whole; never anything in between. Killed at 3% to 75% of the
# import's time; and, through the shim, at exact points: half way
# through the transaction's WAL, in its last frame (the commit), and
# 1 MB into the checkpoint that copies the WAL into the database file.
kills="3 25 50 75"
[ -f "$SHIM" ] && [ "$W" -gt 0 ] && kills="$kills wal-half wal-end checkpoint"
old=0 new=0
for k in $kills; do
	expect=any
	case $k in
	wal-half) d="SIGKILL half way through the import's WAL"; expect=old
		  set -- FAILWRITE_PATH="$DB-wal" FAILWRITE_BUDGET=$((W / 2));;
	wal-end) d="SIGKILL in the last frame of the import's WAL, its commit"; expect=old
		 set -- FAILWRITE_PATH="$DB-wal" FAILWRITE_BUDGET=$((W - 1));;
	checkpoint) d="SIGKILL 1 MB into the checkpoint after the commit"; expect=new
		    set -- FAILWRITE_PATH="$DB\$" FAILWRITE_BUDGET=1048576;;
	*) d="SIGKILL after $k% of an import's time";;
	esac
	case $k in
	wal-*|checkpoint)
		env LD_PRELOAD="$PRELOAD" FAILWRITE_KILL=1 "$@" \
			"$GALSMIME" gal import --source corp big/gal.json >kill.out 2>kill.err
		rc=$?;;
	*)
		delay=$((ms * k / 100))
		"$GALSMIME" gal import --source corp big/gal.json >kill.out 2>kill.err &
		pid=$!
		sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?;;
	esac
	if [ "$rc" != 137 ] && [ "$expect" = any ]; then
		# the import ended before the kill: no fault to judge
		skip "$d" "the import ended first (exit $rc) on this machine"
		restore small
		continue
	fi
	if [ "$rc" = 137 ]; then pass "$d: killed (exit 137)"; else fail "$d: killed (exit 137)" "exit $rc: $(cat kill.err)"; fi
	check "$d: integrity_check ok" sound
	dump >after.sql
	if cmp -s before.sql after.sql; then
		got=old
	elif ndump >after.sql && cmp -s new.sql after.sql; then
		got=new
	else
		got=neither
	fi
	case $expect/$got in
	*/neither)
		fail "$d: the store is the old snapshot exactly, or the new one whole" \
			"$(diff before.sql after.sql | cut -c1-200 | head -20)";;
	any/old|old/old)
		pass "$d: the store is exactly as before (the old snapshot)";;
	any/new|new/new)
		pass "$d: the store holds the new snapshot whole (killed after the commit)";;
	*)
		fail "$d: the store holds the $expect snapshot" "it holds the $got one";;
	esac
	if [ "$got" = new ]; then
		new=$((new + 1)) want_n=$BIG_N lookup_rc=0
	else
		old=$((old + 1)) want_n=$small_n lookup_rc=1
	fi
	"$GALSMIME" gal stats >stats.out 2>&1
	check "$d: gal stats runs, corp holds its $want_n entries" \
		sh -c "test $? = 0 && grep -Eq '^corp +gal +$want_n ' stats.out"
	check "$d: gal lookup runs, finds bob only in the old snapshot" \
		sh -c "'$GALSMIME' gal lookup bob@example.org >lookup.out; test \$? = $((1 - lookup_rc))"
	check_exit $lookup_rc "$d: gal lookup runs, finds user1 of the large GAL only in the new one" \
		gs gal lookup user1@bench.example
	restore small
done
check "kills left the old snapshot ($old times) or the new one ($new times), both seen" \
	test "$old" -ge 2 -a "$new" -ge 1

# ---- eight processes against an import ----
# verify and decrypt only read the store, harvest --force writes to it
# (and waits for the import's transaction); each either succeeds with
# its whole output, or says busy (75) in one line with no output
worker() { # KIND N
	k=$1 n=$2 i=0
	while [ $i -lt 3 ] || [ ! -f import.done ]; do
		i=$((i + 1))
		case $k in
		verify) "$GALSMIME" verify <bs.eml >w$n.out 2>w$n.err; rc=$?; want=bs.eml;;
		decrypt) "$GALSMIME" decrypt <enc.eml >w$n.out 2>w$n.err; rc=$?; want=dec.ref;;
		harvest) "$GALSMIME" harvest --force <bs.eml >w$n.out 2>w$n.err; rc=$?; want=/dev/null;;
		esac
		if [ -f import.done ]; then when=after; else when=during; fi
		if [ "$rc" = 0 ] && cmp -s w$n.out $want; then
			echo "ok $k $when"
		elif [ "$rc" = 75 ] && [ ! -s w$n.out ] && [ "$(lines w$n.err)" = 1 ]; then
			echo "busy $k $when"
		else
			echo "BAD $k: exit $rc, $(wc -c <w$n.out) bytes out: $(head -c 300 w$n.err)"
		fi
	done >w$n.log
}
rm -f import.done
"$GALSMIME" gal import --source corp big/gal.json >import.out 2>import.err &
imp=$!
pids=
n=0
for k in verify decrypt harvest verify decrypt harvest verify decrypt; do
	n=$((n + 1))
	worker $k $n &
	pids="$pids $!"
done
wait "$imp"
imp_rc=$?
touch import.done
for p in $pids; do wait "$p"; done
cat w?.log >workers.log
check "the import beside eight processes: exit 0" sh -c "test $imp_rc = 0 && test ! -s import.err"
check "every verify, decrypt and harvest succeeded or said busy (75) in one line with no output" \
	sh -c "! grep -v '^ok \|^busy ' workers.log"
check "none of them crashed: $(grep -c . workers.log) runs, $(grep -c '^ok' workers.log) good, $(grep -c '^busy' workers.log) busy" \
	test "$(grep -c . workers.log)" -ge 24
check "readers are not blocked by the import: verify and decrypt succeeded while it ran" \
	sh -c "grep -q '^ok verify during' workers.log && grep -q '^ok decrypt during' workers.log"
check "harvest got its turn: at least one succeeded" grep -q '^ok harvest' workers.log
check "the import's counts: $BIG_N entries ($small_n replaced), $BIG_CERTS certificates new" \
	contains import.out "^corp \(snapshot\): $BIG_N entries \($small_n replaced\), $((BIG_N * 2)) addresses, $BIG_N certificate links; certificates: $BIG_CERTS new"
check "gal stats agrees: corp holds $BIG_N entries and $BIG_CERTS certificates" \
	sh -c "'$GALSMIME' gal stats | grep -Eq '^corp +gal +$BIG_N +$((BIG_N * 2)) +$BIG_CERTS '"
check "the store counts the same rows" test "$(sqlite3 "$DB" \
	"SELECT count(*) FROM entry WHERE source = (SELECT id FROM source WHERE name = 'corp')")" = "$BIG_N"
check "the harvests' certificate is linked to the source harvest" test "$(sqlite3 "$DB" \
	"SELECT count(*) FROM certificate_source JOIN source ON source.id = certificate_source.source WHERE source.name = 'harvest'")" -ge 1
check "after the eight processes: integrity_check ok" sound
