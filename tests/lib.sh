# lib.sh: the tiny shared test library. Every suite sources it, gets a
# throw-away HOME and store, and prints TAP ("ok N - what" / "not ok N").
# Suites run the installed binary ($GALSMIME) and the real peers.
set -u
export LANG=C LC_ALL=C TZ=UTC
: "${GALSMIME:?run the suites through tests/run}"
: "${PKI:?run the suites through tests/run}"

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/galsmime-test.XXXXXX")
export HOME="$T_DIR/home" GALSMIME_HOME="$T_DIR/home/store" GNUPGHOME="$T_DIR/home/gnupg"
export XDG_DATA_HOME="$T_DIR/home/.local/share" XDG_CONFIG_HOME="$T_DIR/home/.config"
unset GALSMIME_PASSPHRASE_FILE MAIL MAILDIR NOTMUCH_CONFIG || true
mkdir -p "$HOME"
T_N=0
T_FAILED=0
cd "$T_DIR" || exit 1
trap 't_finish' EXIT

t_finish() {
	echo "1..$T_N"
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$T_DIR"
}

# pass DESC / fail DESC [DETAIL]
pass() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
fail() {
	T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /' | head -40
	return 0
}
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# check DESC CMD...: passes when CMD exits 0; shows its output otherwise.
check() {
	desc=$1; shift
	if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$out"; fi
}

# check_exit CODE DESC CMD...: passes when CMD exits with CODE.
check_exit() {
	want=$1 desc=$2; shift 2
	out=$("$@" 2>&1); got=$?
	if [ "$got" = "$want" ]; then pass "$desc"; else fail "$desc" "exit $got, wanted $want: $out"; fi
}

# gs ARGS...: the galsmime under test
gs() { "$GALSMIME" "$@"; }

# contains FILE PATTERN (grep -E), lacks FILE PATTERN
contains() { grep -Eq -- "$2" "$1"; }
lacks() { ! grep -Eq -- "$2" "$1"; }
# one_line FILE: stderr of a failing filter is exactly one line
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }

# msg FROM TO [SUBJECT]: a small plain message on stdout
msg() {
	cat <<EOM
From: ${1%%@*} <$1>
To: $2
Subject: ${3:-test message}
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <$(date +%s%N).$$@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,
this is a test message.
From the start of a line, trailing spaces:   
-- 
sig
EOM
}

# attached FILE [entity] [nof]: a message from alice to bob (with
# "entity": only its MIME entity) of a text part and FILE as a base64
# attachment named after it; with "nof", no base64 line starts with "F"
# (a signer's canonical form of the attachment is then one write)
attached() {
	python3 - "$@" <<'PY'
import base64, os, sys
name, opts = sys.argv[1], sys.argv[2:]
b = base64.encodebytes(open(name, 'rb').read()).decode()
if 'nof' in opts:
    b = ''.join(('A' + l[1:] if l.startswith('F') else l) for l in b.splitlines(True))
base = os.path.basename(name)
head = '' if 'entity' in opts else (
    'From: Alice Example <alice@example.org>\nTo: bob@example.org\nSubject: %s attached\nMIME-Version: 1.0\n' % base)
sys.stdout.write(head + 'Content-Type: multipart/mixed; boundary="=-att"\n\n--=-att\nContent-Type: text/plain\n\n'
                 'see the file\n--=-att\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
                 'Content-Disposition: attachment; filename=%s\n\n%s--=-att--\n' % (base, b))
PY
}

# store_setup: trust the test root, know the intermediate, and import
# alice as our identity (passphrase in $PKI/pass).
store_setup() {
	gs trust import "$PKI/root.crt" >/dev/null &&
	gs cert import "$PKI/inter.crt" >/dev/null &&
	gs key import "$PKI/alice.p12" --passphrase-file "$PKI/pass" >/dev/null
}

# have PROGRAM: is the peer installed?
have() { command -v "$1" >/dev/null 2>&1; }

. "$TESTS_TOP/tests/gpgsm-p12.sh"
# gpgsm_setup: a GNUPGHOME trusting the test root, with RSA user $1's key
gpgsm_setup() {
	mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
	cat >"$GNUPGHOME/gpgsm.conf" <<EOC
disable-crl-checks
disable-trusted-cert-crl-check
disable-dirmngr
disable-policy-checks
EOC
	echo allow-loopback-pinentry >"$GNUPGHOME/gpg-agent.conf"
	fpr=$(openssl x509 -in "$PKI/root.crt" -noout -fingerprint -sha1 | sed 's/.*=//')
	echo "$fpr S relax" >"$GNUPGHOME/trustlist.txt"
	gpgsm --batch --import "$PKI/root.crt" "$PKI/inter.crt" >/dev/null 2>&1
	if [ $# -gt 0 ]; then
		gpgsm_import_p12 "$PKI/$1.key" "$PKI/$1.crt" "$PKI/$1-chain.pem" "$1@example.org" \
			"$T_DIR/$1-gpgsm.p12" >"$T_DIR/gpgsm-import.log" 2>&1 && return 0
		cat "$T_DIR/gpgsm-import.log"
		return 1
	fi
}

# fp USER: the SHA-256 fingerprint of $PKI/USER.crt, lower-case hex
fp() { openssl x509 -in "$PKI/$1.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
# chosen RECIPIENT: the fingerprint gal explain chooses, or nothing
chosen() { gs gal explain "$1" 2>/dev/null | sed -n 's/^chosen: //p'; }
# opens USER FILE: USER's key decrypts FILE (openssl cms) to bare_msg's text
opens() {
	openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2" 2>/dev/null |
		grep -q 'this is a test message'
}
# bare_msg: a message from alice without recipients (they come from --to)
bare_msg() {
	cat <<EOM
From: Alice Example <alice@example.org>
Subject: for the directory
Date: Sat, 28 Nov 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

this is a test message
EOM
}
# not CMD...: CMD fails (for check: check DESC not CMD...)
not() { ! "$@"; }

# capture_setup: $T_DIR/capture, a sendmail that keeps each run's
# arguments and message as $CAP/N.args and $CAP/N.eml (the message
# appears whole, by rename), and fails with exit 75 without keeping
# anything when one of its arguments is $FAIL_FOR.
capture_setup() {
	export CAP="$T_DIR/cap"
	mkdir -p "$CAP"
	cat >"$T_DIR/capture" <<'EOS'
#!/bin/sh
: "${CAP:?}"
for a; do [ -n "${FAIL_FOR:-}" ] && [ "$a" = "$FAIL_FOR" ] && { cat >/dev/null; exit 75; }; done
n=1
while [ -e "$CAP/$n.eml" ]; do n=$((n + 1)); done
printf '%s\n' "$@" >"$CAP/$n.args"
cat >"$CAP/$n.tmp" && mv "$CAP/$n.tmp" "$CAP/$n.eml"
EOS
	chmod +x "$T_DIR/capture"
}

# muttrc_base: the muttrc lines every mutt suite starts from: folders,
# caches and files all inside $T_DIR, alice as the sender
muttrc_base() {
	cat <<EOR
set folder="$T_DIR/mail"
set spoolfile="$T_DIR/mail/inbox"
set mbox_type=mbox
set record=""
set postponed="$T_DIR/mail/postponed"
set tmpdir="$T_DIR/tmp"
set header_cache=""
set message_cachedir=""
set certificate_file="$T_DIR/certificates"
set alias_file="$T_DIR/aliases"
set mailcap_path=""
set hostname=example.org
set from="Alice Example <alice@example.org>"
set use_from=yes
EOR
}

# parallel_signs N: N `gs sign <m.eml` at once; prints how many of them
# exited 0 with a signature openssl verifies against the test root
parallel_signs() {
	i=1
	while [ "$i" -le "$1" ]; do
		(gs sign <m.eml >par.$i 2>par.$i.err; echo $? >par.$i.rc) &
		i=$((i + 1))
	done
	wait
	ok=0 i=1
	while [ "$i" -le "$1" ]; do
		[ "$(cat par.$i.rc)" = 0 ] && openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign \
			-in par.$i -out /dev/null 2>/dev/null && ok=$((ok + 1))
		i=$((i + 1))
	done
	echo "$ok"
}
