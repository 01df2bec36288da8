# mutt-tmux.sh: what the suites that drive the real mutt and neomutt in
# tmux share (t82, t83): a tmux server of their own, waits on a still
# screen, the capture script as $sendmail, the test muttrc with the
# installed smime.rc, opening a message and composing one. Source it
# after lib.sh; it skips the suite when tmux or both mutts are missing.
PATH="$GALSMIME_PREFIX/bin:$PATH"
export PATH
if ! have tmux; then
	skip "mutt and neomutt driven in tmux" "tmux is not installed"
	exit 0
fi
MUTTS=
for m in mutt neomutt; do have $m && MUTTS="$MUTTS $m"; done
if [ -z "$MUTTS" ]; then
	skip "mutt and neomutt driven in tmux" "neither mutt nor neomutt is installed"
	exit 0
fi

# the tmux server and the terminal helpers (start, screen, wait_for,
# keys, settle, stop)
. "$TESTS_TOP/tests/tmux.sh"
mkdir -p tmp

# wait_file FILE [SECONDS]
wait_file() {
	n=$(( ${2:-15} * 10 ))
	while [ "$n" -gt 0 ] && [ ! -s "$1" ]; do sleep 0.1; n=$((n - 1)); done
	[ -s "$1" ]
}
# check_screen DESC NAME REGEX: the last captured screen of NAME shows REGEX
check_screen() {
	if grep -Eq -- "$3" "screen.$2"; then pass "$1"; else fail "$1" "$(grep -v '^$' "screen.$2")"; fi
}
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

mkdir -p mail tmp
capture_setup

# the muttrc: nothing outside $T_DIR, smime.rc as installed, paths adjusted
SMIMERC="$GALSMIME_PREFIX/share/galsmime/mutt/smime.rc"
# write_muttrc KEYID: read.rc for the key KEYID of smime/keys
write_muttrc() {
	KEYID=$1
	{ muttrc_base; cat <<EOR
set sendmail="$T_DIR/capture"
set move=no
set mark_old=no
set wait_key=no
set sleep_time=0
set pager_stop=yes
set pager_index_lines=0
set help=no
set abort_unmodified=no
set edit_headers=yes
set autoedit=yes
set editor="$T_DIR/editor"
ignore *
unignore from: to: subject:
source $SMIMERC
set smime_certificates="$T_DIR/smime/certificates"
set smime_keys="$T_DIR/smime/keys"
set smime_default_key="$KEYID"
EOR
	} >read.rc
}
cat >editor <<'EOS'
#!/bin/sh
printf 'Hello Bob,\nthe eagle lands at noon.\n' >>"$1"
EOS
chmod +x editor

# read M NAME MBOX SUBJECT PASSPHRASE?: open the first message of MBOX in M
read_msg() {
	m=$1 s=$2 box=$3 subj=$4 ask=$5
	start "$s" "$m -n -F $T_DIR/read.rc -f $T_DIR/mail/$box"
	if ! wait_for "$s" "$subj"; then
		fail "$m: the index of $box shows $subj" "$(screen "$s")"
		return 1
	fi
	settle "$s"
	keys "$s" Enter
	if [ "$ask" = yes ]; then
		if ! wait_for "$s" 'Enter S/MIME passphrase:'; then
			fail "$m: opening $subj asks for the S/MIME passphrase" "$(screen "$s")"
			return 1
		fi
		pass "$m: opening $subj asks for the S/MIME passphrase"
		keys "$s" secret Enter
	fi
	if ! wait_for "$s" 'S/MIME signature (successfully verified|could NOT be verified)|certificate owner does not match|no certfile|Press any key'; then
		fail "$m: $subj is shown with mutt's verdict on the status line" "$(screen "$s")"
		return 1
	fi
	sleep 0.2
	screen "$s" >/dev/null
	return 0
}

# compose M NAME RC-LINES RECIPIENT SECURITY-REGEX: compose to RECIPIENT,
# check the compose menu's Security line, send, answer the passphrase
compose() {
	m=$1 s=$2 extra=$3 to=$4 sec=$5
	cp read.rc compose.rc
	printf '%s\n' "$extra" >>compose.rc
	rm -f "$CAP"/*
	start "$s" "$m -n -F $T_DIR/compose.rc -s composed-$s $to"
	if ! wait_for "$s" '^ *Security: '; then
		fail "$m: the compose menu shows up ($s)" "$(screen "$s")"
		return 1
	fi
	sleep 0.2
	if screen "$s" | grep -Eq -- "$sec"; then
		pass "$m: compose to $to: the Security line matches /$sec/"
	else
		fail "$m: compose to $to: the Security line matches /$sec/" "$(grep Security "screen.$s")"
	fi
	# mutt may still be busy with the menu (opportunistic encryption
	# looks the recipients up as it draws) and drop typeahead: send
	# once the screen is still, and again if the menu is still all
	# there is after a while
	settle "$s"
	keys "$s" y
	if ! wait_for "$s" 'Enter S/MIME passphrase:' 5 &&
	   screen "$s" | grep -q '^ *Security: ' && ! screen "$s" | grep -Eq 'passphrase|Sending'; then
		keys "$s" y
	fi
	if ! wait_for "$s" 'Enter S/MIME passphrase:'; then
		fail "$m: sending asks for the S/MIME passphrase ($s)" "$(screen "$s")"
		return 1
	fi
	keys "$s" secret Enter
	if ! wait_file "$CAP/1.eml"; then
		fail "$m: the message reaches \$sendmail ($s)" "$(screen "$s" 2>/dev/null)"
		return 1
	fi
	pass "$m: the message reaches \$sendmail ($s)"
	return 0
}
