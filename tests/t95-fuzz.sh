#!/bin/sh
# Fuzzing: what the libFuzzer targets found stays fixed, and every target
# still runs clean.
#
#  1. Every reproducer under tests/regress/TARGET/ goes through the real
#     binary, on a store made of the certificates and keys the S/MIME
#     seeds were made with (fuzz/fuzz-pki.h): no crash, no internal
#     error, no sanitizer or GLib complaint, one line on stderr for a
#     failure. Then the checks of each bug found, on the test PKI.
#  2. When clang can build libFuzzer targets: build them (make
#     fuzz-build, incremental) and run every fuzz/fuzz-*.c target for a
#     few seconds (FUZZ_T95_SECONDS, default 3) over its seeds and its
#     reproducers, with its dictionary fuzz/NAME.dict if it has one; any
#     crash, leak or sanitizer report fails. The mutations start from a
#     fixed seed (FUZZ_T95_SEED, default 1), so that a run that fails
#     here fails the same way again on the same machine: finding new
#     bugs is `make fuzz`'s job, this is a gate (stop 22's CI run met a
#     bug that no local run had, and nobody could have said which
#     mutation found it).
. "$TESTS_TOP/tests/lib.sh"

top=$TESTS_TOP
regress="$top/tests/regress"
FZ_AT=2026-11-28T12:00:00Z

# ---- 1. reproducers through the real binary ----

# the fuzz PKI: C strings in fuzz/fuzz-pki.h, back to PEM
pki_pem() { # NAME
	sed -n "/^static const char fuzz_pki_$1\[\] =/,/^	;/p" "$top/fuzz/fuzz-pki.h" |
		sed -n 's/^	"\(.*\)\\n"$/\1/p'
}
FZ_HOME="$T_DIR/fz-store"
fz() { "$GALSMIME" --home "$FZ_HOME" "$@"; }
for n in root inter alice carol; do pki_pem $n >"fz-$n.pem"; done
check "reproducer store: the fuzz PKI's root trusted, intermediate, alice's and carol's keys" \
	sh -c "'$GALSMIME' --home '$FZ_HOME' trust import fz-root.pem &&
	       '$GALSMIME' --home '$FZ_HOME' cert import fz-inter.pem &&
	       '$GALSMIME' --home '$FZ_HOME' key import fz-alice.pem </dev/null &&
	       '$GALSMIME' --home '$FZ_HOME' key import fz-carol.pem </dev/null"

# survives DESC FILE CMD...: CMD exits with a status galsmime documents
# for its input (not 70, no signal), stderr holds no sanitizer or GLib
# report, and a failure says why in one line
survives() {
	desc=$1 in=$2; shift 2
	"$@" <"$in" >surv.out 2>surv.err
	rc=$?
	why=
	case $rc in
	0|1|2) ;;
	65|67|77) one_line surv.err || why="exit $rc with $(wc -l <surv.err) lines on stderr;" ;;
	*) why="exit $rc;" ;;
	esac
	if grep -Eq 'CRITICAL|WARNING \*\*|runtime error|Sanitizer|LeakSanitizer|SUMMARY:' surv.err; then
		why="$why a sanitizer or GLib report on stderr;"
	fi
	if [ -z "$why" ]; then pass "$desc"; else fail "$desc" "$why $(head -c 800 surv.err)"; fi
}

# a mutt target input (see fuzz/fuzz-mutt.c): selector byte, then the input
byte_at() { od -An -tu1 -j"$2" -N1 "$1" | tr -d ' '; }
mutt_reproducer() { # FILE NAME
	f=$1 n=$2
	sel=$(( $(byte_at "$f" 0) % 8 ))
	case $sel in
	0)
		len=$(( $(byte_at "$f" 1) * 256 + $(byte_at "$f" 2) ))
		tail -c +4 "$f" | head -c "$len" >m.sig
		tail -c +$((4 + len)) "$f" >m.content
		survives "regress mutt/$n: mutt verify" /dev/null fz mutt verify m.sig m.content ;;
	1)
		tail -c +2 "$f" >m.in
		survives "regress mutt/$n: mutt verify-opaque" /dev/null fz mutt verify-opaque m.in ;;
	2)
		tail -c +2 "$f" >m.in
		survives "regress mutt/$n: mutt decrypt" /dev/null fz mutt decrypt m.in ;;
	3)
		tail -c +2 "$f" >m.in
		survives "regress mutt/$n: mutt get-cert" /dev/null fz mutt get-cert m.in
		survives "regress mutt/$n: mutt get-cert-email" /dev/null fz mutt get-cert-email m.in ;;
	4)
		tail -c +2 "$f" >m.in
		survives "regress mutt/$n: mutt pk7out" /dev/null fz mutt pk7out m.in
		survives "regress mutt/$n: mutt get-signer-cert" /dev/null fz mutt get-signer-cert m.in m.out
		survives "regress mutt/$n: harvest --decrypt" m.in fz harvest --decrypt ;;
	5)
		who=fz-alice.pem
		[ $(( $(byte_at "$f" 1) % 2 )) = 1 ] && who=fz-carol.pem
		tail -c +3 "$f" >m.in
		survives "regress mutt/$n: mutt sign" /dev/null fz mutt sign "$who" m.in ;;
	6)
		set --
		[ $(( $(byte_at "$f" 1) % 2 )) = 1 ] && set -- --allow-untrusted
		tail -c +4 "$f" >m.in
		case $(( $(byte_at "$f" 2) % 6 )) in
		0) cp fz-alice.pem m.crt ;;
		1) cp fz-carol.pem m.crt ;;
		2) cp fz-inter.pem m.crt ;;
		3) cp fz-root.pem m.crt ;;
		4) cat fz-alice.pem fz-inter.pem >m.crt ;;
		5)
			len=$(( $(byte_at "$f" 3) * 256 + $(byte_at "$f" 4) ))
			tail -c +6 "$f" | head -c "$len" >m.crt
			tail -c +$((6 + len)) "$f" >m.in ;;
		esac
		survives "regress mutt/$n: mutt encrypt" /dev/null fz mutt encrypt "$@" m.in m.crt ;;
	7)
		# a GAL the target builds from the input: replayed by the
		# target itself below (part 2 runs every reproducer)
		pass "regress mutt/$n: sync-index (replayed by fuzz-mutt in part 2)" ;;
	esac
}

for f in "$regress"/*/*; do
	[ -f "$f" ] || continue
	n=$(basename "$f") target=$(basename "$(dirname "$f")")
	case $target in
	verify)
		survives "regress verify/$n: verify --json" "$f" fz verify --json --at "$FZ_AT"
		survives "regress verify/$n: verify --annotate" "$f" fz verify --annotate --at "$FZ_AT" ;;
	decrypt)
		survives "regress decrypt/$n: decrypt" "$f" fz decrypt
		survives "regress decrypt/$n: verify --json" "$f" fz verify --json --at "$FZ_AT" ;;
	mutt)
		mutt_reproducer "$f" "$n" ;;
	envelope)
		# a DER/BER (auth)enveloped-data, as mutt's decrypt gets it
		survives "regress envelope/$n: mutt decrypt" /dev/null fz mutt decrypt "$f" ;;
	resolve)
		# a recipient string: gal explain and encrypt --to name it in one
		# printable line, whatever it holds
		q=$(cat "$f")
		gs gal explain "$q" >res.out 2>&1
		check "regress resolve/$n: gal explain writes the recipient on one line, escaped" \
			sh -c "[ \$(wc -l <res.out) -le 3 ] && ! LC_ALL=C grep -q '[[:cntrl:]]' res.out"
		printf 'From: alice@example.org\nSubject: x\n\nx\n' >res.eml
		fz encrypt --no-self --to "$q" <res.eml >res.enc 2>res.err; rc=$?
		check "regress resolve/$n: encrypt --to fails closed (67), one line per problem, escaped" \
			sh -c "[ $rc = 67 ] && [ ! -s res.enc ] && [ \$(wc -l <res.err) = 2 ] &&
			       ! LC_ALL=C grep -q '[[:cntrl:]]' res.err" ;;
	csv|json|ldif|vcard|oab|sst)
		# the importers' targets: the input as a GAL file of that format
		survives "regress $target/$n: gal import --format $target" /dev/null \
			fz gal import --source "regress-$target" --format "$target" "$f" ;;
	esac
done

# ---- 1b. what each bug was, on the test PKI ----
check "store setup: trust the root, alice's identity" store_setup
PASS="--passphrase-file $PKI/pass"
msg alice@example.org bob@example.org "octet-stream opaque" | gs sign --opaque $PASS >opaque.eml
# fuzz-verify: opaque signed-data sent as application/octet-stream;
# name=smime.p7m was verified through GMime's pkcs7-mime type it is not
# (a failed cast, exit 70)
sed 's#^Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m#Content-Type: application/octet-stream; name=smime.p7m#' \
	opaque.eml >octet.eml
check "control: the octet-stream copy names application/octet-stream" grep -q '^Content-Type: application/octet-stream' octet.eml
check_exit 0 "opaque signed-data as application/octet-stream smime.p7m: verify says good" gs verify -q <octet.eml
gs verify --json <octet.eml >octet.json 2>octet.err
check "... the JSON report: good, opaque, no GLib complaint" \
	sh -c "grep -q '\"status\":\"good\",\"reasons\":\[\],\"form\":\"opaque\"' octet.json && ! grep -q CRITICAL octet.err"
# fuzz-mutt, then: verified good, the same message was "not signed" to
# harvest, mutt pk7out and get-signer-cert, which went by smime-type
check_exit 0 "... harvest learns from it" gs harvest <octet.eml
check "... mutt get-signer-cert writes alice's certificate" \
	sh -c "'$GALSMIME' mutt get-signer-cert octet.eml signer.pem &&
	       openssl x509 -in signer.pem -noout -email | grep -qx alice@example.org"
check "... mutt pk7out writes the signature" \
	sh -c "'$GALSMIME' mutt pk7out octet.eml | openssl pkcs7 -print_certs -noout | grep -q Alice"

# ---- 2. the libFuzzer targets ----
FUZZ_CC=${FUZZ_CC:-clang}
secs=${FUZZ_T95_SECONDS:-3}
fuzz_ok() { # can $FUZZ_CC link a libFuzzer target with ASan and UBSan?
	command -v "$FUZZ_CC" >/dev/null 2>&1 || return 1
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >probe.c
	"$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o probe probe.c >probe.err 2>&1
}
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
	skip "libFuzzer targets" "$FUZZ_CC is not installed"
	exit 0
fi
if ! fuzz_ok; then
	skip "libFuzzer targets" "$FUZZ_CC cannot link -fsanitize=fuzzer: $(head -1 probe.err)"
	exit 0
fi
# the library objects are named as goals too: make keeps them then (as
# mere prerequisites of the fuzz-% pattern rule they are intermediate
# files, deleted after each build, and every later build made them again)
objs=$(cd "$top" && ls lib/*.c lib/import/*.c | sed 's#^#build-fuzz/#; s#\.c$#.o#')
# the Makefile knows of fuzz/fuzz.h only: a target older than another
# header under fuzz/ is made again
for b in "$top"/build-fuzz/fuzz-*; do
	[ -f "$b" ] || continue
	for h in "$top"/fuzz/*.h; do
		if [ "$h" -nt "$b" ]; then rm -f "$b"; break; fi
	done
done
t0=$(date +%s)
# shellcheck disable=SC2086 # $objs is a list
if make -C "$top" --no-print-directory -j2 fuzz-build $objs >build.out 2>&1; then
	pass "make fuzz-build ($(( $(date +%s) - t0 ))s)"
else
	fail "make fuzz-build" "$(tail -30 build.out)"
	exit 0
fi
for src in "$top"/fuzz/fuzz-*.c; do
	name=$(basename "$src" .c)
	short=${name#fuzz-}
	bin="$top/build-fuzz/$name"
	dirs="corpus-$short"
	mkdir -p "$dirs" "crash-$short"
	for d in "$top/fuzz/seeds/$short" "$regress/$short"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	dict=
	[ -f "$top/fuzz/$name.dict" ] && dict="-dict=$top/fuzz/$name.dict"
	# shellcheck disable=SC2086 # $dict and $dirs are lists
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -seed="${FUZZ_T95_SEED:-1}" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
		-artifact_prefix="crash-$short/" -print_final_stats=1 $dict $dirs >"$name.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$name.log")
	if [ "$rc" = 0 ] && [ -z "$(ls "crash-$short")" ] && ! grep -q 'runtime error' "$name.log"; then
		pass "$name: ${secs}s, ${runs:-?} runs, no crash, leak or sanitizer report"
	else
		mkdir -p "$top/build-fuzz/crashes/$name"
		cp "crash-$short"/* "$top/build-fuzz/crashes/$name/" 2>/dev/null
		fail "$name: ${secs}s without a crash, leak or sanitizer report" \
			"exit $rc; reproducers copied to build-fuzz/crashes/$name/
$(grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|^fuzz:|^    #[0-9] ' "$name.log" | head -20)"
	fi
done
