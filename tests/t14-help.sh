#!/bin/sh
# Help a user can rely on: galsmime COMMAND --help (also after other
# arguments, as in `notmuch harvest --help`) lists every option the
# command takes (read from its source's option table), and -q/--quiet is
# one global option.
. "$TESTS_TOP/tests/lib.sh"

src=$TESTS_TOP/plugin
cmds=$(gs --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
check "galsmime --help lists the commands" test "$(echo "$cmds" | wc -w)" -ge 13
common="passphrase-file passphrase-fd allow-sha1"
for c in $cmds; do
	gs "$c" --help >help.$c 2>&1; rc=$?
	check "galsmime $c --help exits 0 with a usage line" sh -c "[ $rc = 0 ] && grep -q '^usage: galsmime $c ' help.$c"
	f=$src/cmd-$c.c
	[ -f "$f" ] || continue
	# cert and trust take theirs in certs.c, through certs_command
	grep -q certs_command "$f" && f="$f $src/certs.c"
	opts=$(cat $f | grep -o '{ "[a-z0-9-]*", [a-z_]*_argument' | sed 's/{ "\([^"]*\)".*/\1/')
	cat $f | grep -q CLI_COMMON_OPTIONS && opts="$opts $common"
	missing=
	for o in $opts; do
		grep -q -- "--$o\\b" help.$c || missing="$missing --$o"
	done
	check "galsmime $c --help names every option it takes" test -z "$missing" ||
		echo "# missing:$missing"
done
check "notmuch harvest --help is help, not an unknown option" \
	sh -c "'$GALSMIME' notmuch harvest --help | grep -q -- '--tag'"
check "a --help after other options too" sh -c "'$GALSMIME' verify --json --help | grep -q -- '--annotate'"
check "galsmime -q is the global quiet" sh -c "'$GALSMIME' --help | grep -q -- '-q, --quiet'"
