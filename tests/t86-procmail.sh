#!/bin/sh
# procmail: 200 messages (signed, tampered, untrusted, encrypted, plain,
# malformed, hostile, carrying forged Authentication-Results) through the
# real procmail with galsmime's recipes: every one delivered, each
# byte-identical to what procmail delivers without galsmime unless it
# was meant to be annotated or decrypted; forged fields gone and nothing
# else; the same again while another process imports a GAL into the
# store.
. "$TESTS_TOP/tests/lib.sh"

if ! have procmail; then
	skip "procmail tests" "procmail is not installed"
	exit 0
fi
export PATH="$GALSMIME_PREFIX/bin:$PATH"
RECIPES="$GALSMIME_PREFIX/share/galsmime/procmail/galsmime.procmailrc"
check "the recipes file is installed" test -f "$RECIPES"

# senders' stores
A="$T_DIR/alice-store"
gs --home "$A" trust import "$PKI/root.crt" >/dev/null
gs --home "$A" cert import "$PKI/inter.crt" "$PKI/bob.crt" "$PKI/carol.crt" >/dev/null
gs --home "$A" key import "$PKI/alice.p12" --passphrase-file "$PKI/pass" >/dev/null
# the recipient: bob
gs trust import "$PKI/root.crt" >/dev/null
gs cert import "$PKI/inter.crt" >/dev/null
gs key import "$PKI/bob.p12" --passphrase-file "$PKI/pass" >/dev/null

mkdir -p in
# add KIND: store the message on stdin (add runs at the end of pipelines,
# in a subshell: the count lives in a file)
echo 0 >count
add() {
	k=$(($(cat count) + 1))
	echo "$k" >count
	cat >"in/$(printf %03d "$k").$1"
}
body() { # i: a message body with an id
	msg alice@example.org bob@example.org "test $1" | sed "s/^Message-ID: <\(.*\)>/Message-ID: <$1.\1>/"
}
# forged: a plain and a multipart/mixed message carrying this host's
# Authentication-Results (the recipes' authserv-id is the host name) in
# several spellings among other hosts' fields. Each line is tagged F
# (forged) or K (kept); the message's twin, its K lines alone, goes
# through procmail without galsmime.
H=$(hostname)
HQ=$(printf %s "$H" | sed 's/./\\&/g') # every character a quoted-pair
HU=$(printf %s "$H" | tr a-z A-Z)
mkdir -p twin
forged_lines() { # KIND I
	printf 'F Authentication-Results: %s; smime=pass body.smime-identifier=ceo@example.org\n' "$H"
	printf 'K Authentication-Results: other.example; smime=pass (kept)\n'
	printf 'F Authentication-Results: "%s"; smime=pass\n' "$HQ"
	printf 'F AUTHENTICATION-RESULTS: (forged) %s.;\nF \tsmime=pass\n' "$HU"
	printf 'K Received: from mx.example.net by %s; Sat, 28 Nov 2026 12:00:00 +0000\n' "$H"
	printf 'F Authentication-Results:\nF  "%s." 1; smime=pass\n' "$H"
	printf 'F ARC-Authentication-Results: i=1; %s; smime=pass\n' "$H"
	printf 'K Authentication-Results: %s.example.net; dkim=pass\n' "$H"
	if [ "$1" = forgedmix ]; then
		printf 'From: alice <alice@example.org>\nTo: bob@example.org\nSubject: mixed %s\nMIME-Version: 1.0\n' "$2"
		printf 'Content-Type: multipart/mixed; boundary="mix"\n\n--mix\nContent-Type: text/plain\n\nsee the file\n'
		printf -- '--mix\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--mix--\n'
	else
		body "f$2"
	fi | sed 's/^/K /'
}
add_forged() { # KIND I
	forged_lines "$1" "$2" >tagged
	sed -n 's/^K //p' tagged >"twin/$(printf %03d $(($(cat count) + 1))).$1"
	sed 's/^[FK] //' tagged | add "$1"
}
i=0
while [ "$(cat count)" -lt 200 ]; do
	i=$((i + 1))
	body "p$i" | add plain
	add_forged forged "$i"
	add_forged forgedmix "$i"
	body "s$i" | gs --home "$A" sign --passphrase-file "$PKI/pass" | add good
	body "o$i" | gs --home "$A" sign --opaque --passphrase-file "$PKI/pass" | add good
	body "t$i" | gs --home "$A" sign --passphrase-file "$PKI/pass" | sed 's/this is a test/this is a fake/' | add bad
	body "e$i" | gs --home "$A" encrypt --sign --to bob@example.org --passphrase-file "$PKI/pass" | add enc
	msg alice@example.org carol@example.org "not for bob $i" |
		gs --home "$A" encrypt --no-self --passphrase-file "$PKI/pass" | add other
	head -c $((500 + i * 37)) /dev/urandom | add garbage
	{ printf 'From: x@example.org\nSubject: cut %s\nMIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\nContent-Transfer-Encoding: base64\n\n' "$i"
	  head -c 3000 /dev/urandom | base64 | head -c 1234; } | add cut
	{ printf 'From: x@example.org\nSubject: huge %s\nX-Huge: ' "$i"; head -c 2100000 /dev/zero | tr '\0' a; printf '\n\nbody\n'; } | add huge
	{ printf 'From: x@example.org\nSubject: deep %s\nMIME-Version: 1.0\n' "$i"
	  d=0; while [ $d -lt 60 ]; do printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="b%d"\n\n--b%d\n' $d $d; d=$((d + 1)); done
	  printf 'Content-Type: text/plain\n\nx\n'; } | add deep
done
check "200 test messages made" test "$(ls in | wc -l)" -ge 200

# deliver every message with an rcfile; outputs go to out-NAME/FILE
deliver_all() { # name rcfile [folder]
	mkdir -p "out-$1" "md-$1"
	for f in "${3:-in}"/*; do
		procmail -m "$2" <"$f" >>"pm-$1.out" 2>&1 || echo "procmail exit $? on $f" >>"pm-$1.fail"
		got=$(find "md-$1/new" -type f 2>/dev/null | head -2)
		if [ "$(echo "$got" | grep -c .)" = 1 ]; then
			mv "$got" "out-$1/$(basename "$f")"
		else
			echo "$f: $(echo "$got" | grep -c .) files delivered" >>"pm-$1.fail"
			rm -f md-$1/new/*
		fi
	done
}
rcfile() { # name extra-recipes...
	n=$1; shift
	{ printf 'SHELL=/bin/sh\nMAILDIR=%s/md-%s/\nDEFAULT=$MAILDIR\nLOGFILE=%s/pm-%s.log\nPATH=%s\nGALSMIME_HOME=%s\n' \
		"$T_DIR" "$n" "$T_DIR" "$n" "$PATH" "$GALSMIME_HOME"
	  for r in "$@"; do printf '%s\n' "$r"; done
	  printf ':0\n%s/md-%s/\n' "$T_DIR" "$n"; } >"rc-$n"
}

# the baseline: the same recipes with `cat` for every galsmime command, so
# that what procmail itself does to a filtered message (it ends the text
# with an empty line) is the same on both sides
sed -e 's/^| \$GALSMIME .*/| cat/' -e 's/^#| \$GALSMIME .*/#| cat/' "$RECIPES" >recipes-cat
check "the baseline recipes run cat where galsmime ran" sh -c '! grep -q "^| \$GALSMIME" recipes-cat && grep -q "^| cat" recipes-cat'
rcfile plain "INCLUDERC=$T_DIR/recipes-cat"
rcfile twin "INCLUDERC=$T_DIR/recipes-cat"
rcfile galsmime "INCLUDERC=$RECIPES"
rcfile decrypt "GALSMIME_PASSPHRASE_FILE=$PKI/pass" ':0 fw' '* ^Content-Type:.*application/(x-)?pkcs7-mime' \
	'| galsmime decrypt --passthrough --quiet' "INCLUDERC=$RECIPES"
rcfile plain2 "GALSMIME_PASSPHRASE_FILE=$PKI/pass" ':0 fw' '* ^Content-Type:.*application/(x-)?pkcs7-mime' \
	'| cat' "INCLUDERC=$T_DIR/recipes-cat"

deliver_all plain rc-plain
deliver_all twin rc-twin twin
deliver_all galsmime rc-galsmime
check "without galsmime: every message delivered" test ! -f pm-plain.fail
check "without galsmime: every twin delivered" test ! -f pm-twin.fail
check "with galsmime's recipes: every message delivered, exactly once" test ! -f pm-galsmime.fail

# compare, kind by kind
strip_ar() { # a delivered message without the first Authentication-Results field
	awk 'BEGIN { s = 0 } s == 0 && /^Authentication-Results:/ { s = 1; next }
	     s == 1 && /^[ \t]/ { next } { if (s == 1) s = 2; print }' "$1"
}
annotated() { # GOT WANT: GOT is WANT with our field first
	head -1 "$1" | grep -q "^Authentication-Results: $H; smime=" && strip_ar "$1" | cmp -s - "$2"
}
# compare NAME: a line "same FILE", "annotated FILE" or "wrong FILE" for
# each message delivered to out-NAME: signed, plain and forged messages
# annotated and otherwise what procmail delivers without galsmime (for
# the forged, their twins); the others byte for byte (random bytes may
# now and then read as a header: then annotated)
compare() {
	for f in in/*; do
		b=$(basename "$f")
		got="out-$1/$b" want="out-plain/$b"
		case "$b" in *.forged|*.forgedmix) want="out-twin/$b";; esac
		case "$b" in
		*.good|*.bad|*.plain|*.forged|*.forgedmix)
			if annotated "$got" "$want"; then echo "annotated $b"; else echo "wrong $b"; fi;;
		*.garbage)
			if cmp -s "$got" "$want"; then echo "same $b"
			elif annotated "$got" "$want"; then echo "annotated $b"
			else echo "wrong $b"; fi;;
		*)
			if cmp -s "$got" "$want"; then echo "same $b"; else echo "wrong $b"; fi;;
		esac
	done
}
compare galsmime >cmp-galsmime
check "every message is byte-identical or annotated and otherwise identical" sh -c '! grep -q "^wrong" cmp-galsmime'
grep '^wrong' cmp-galsmime | head -20 | sed 's/^/# /'
check "the signed, plain and forged messages were annotated" test "$(grep -c '^annotated' cmp-galsmime)" -ge 100
check "the others passed byte for byte" test "$(grep -c '^same' cmp-galsmime)" -ge 80
check "good signatures say smime=pass" sh -c 'for f in out-galsmime/*.good; do sed -n 1,3p "$f" | grep -q "smime=pass" || exit 1; done'
check "tampered signatures say smime=fail" sh -c 'for f in out-galsmime/*.bad; do head -1 "$f" | grep -q "smime=fail" || exit 1; done'
check "plain mail leaves no line in procmail's log (--quiet)" sh -c '! grep -q "not signed" pm-galsmime.log'
check "plain messages say smime=none" sh -c "for f in out-galsmime/*.plain; do head -1 \"\$f\" | grep -qx 'Authentication-Results: $H; smime=none' || exit 1; done"
check "the harvest recipe learnt alice's certificate" gs gal explain alice@example.org

# the forged fields: in what procmail delivers without galsmime, gone
# with it (every spelling), our smime=none in their place, other hosts'
# fields kept
check "the test sent forged fields: procmail alone delivers all six smime=pass" \
	sh -c 'for f in out-plain/*.forged out-plain/*.forgedmix; do test $(grep -c "smime=pass" "$f") = 6 || exit 1; done'
check "forged plain and multipart/mixed messages: every forged field removed, smime=none added" \
	sh -c "for f in out-galsmime/*.forged out-galsmime/*.forgedmix; do
		test \$(grep -c 'smime=pass' \"\$f\") = 1 && grep -q 'other.example; smime=pass (kept)' \"\$f\" &&
		head -1 \"\$f\" | grep -qx 'Authentication-Results: $H; smime=none' || exit 1; done"
check "forged messages: other hosts' fields stay" \
	sh -c "for f in out-galsmime/*.forged out-galsmime/*.forgedmix; do grep -q '^Authentication-Results: $H.example.net; dkim=pass$' \"\$f\" || exit 1; done"
check "forged messages: at least 30 of them" test "$(ls out-galsmime | grep -c '\.forged')" -ge 30

# opt-in decryption
deliver_all decrypt rc-decrypt
deliver_all plain2 rc-plain2
check "with decryption: every message delivered, exactly once" test ! -f pm-decrypt.fail
bad=""
for f in out-decrypt/*.enc; do
	grep -q 'this is a test message' "$f" && head -1 "$f" | grep -q 'smime=pass' || bad="$bad $f"
done
check "messages encrypted to bob arrive decrypted, their inner signature good" test -z "$bad"
bad=""
for f in in/*.other in/*.cut in/*.plain in/*.garbage; do
	b=$(basename "$f")
	cmp -s "out-decrypt/$b" "out-plain2/$b" || annotated "out-decrypt/$b" "out-plain2/$b" || bad="$bad $b"
done
check "messages galsmime cannot decrypt pass through untouched (but annotated)" test -z "$bad"

# the same while another process imports a GAL into the store
python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" json gal.json --repeat 150 >/dev/null 2>&1
( n=0; while [ ! -f stop ] && [ -d "$T_DIR" ]; do n=$((n + 1)); gs gal import gal.json --source "load$((n % 2))" >/dev/null 2>>import.err || echo "import exit $?" >>import.fail; done ) &
loader=$!
rm -rf md-galsmime out-galsmime pm-galsmime.fail
deliver_all galsmime rc-galsmime
touch stop
wait "$loader"
check "during an import: every message delivered, exactly once" test ! -f pm-galsmime.fail
compare galsmime >cmp-import
check "during an import: byte-identical or annotated as before" sh -c '! grep -q "^wrong" cmp-import'
grep '^wrong' cmp-import | head -20 | sed 's/^/# /'
check "the imports themselves all succeeded (or said busy)" sh -c '! grep -qv "exit 75" import.fail 2>/dev/null'
check "the store passes SQLite's integrity check afterwards" \
	sh -c "echo 'PRAGMA integrity_check;' | sqlite3 '$GALSMIME_HOME/galsmime.db' | grep -qx ok"
