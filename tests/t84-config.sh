#!/bin/sh
# The configuration file: [mutt] sync_index keeps mutt's .index files in
# step with the store after every command that changes it.
. "$TESTS_TOP/tests/lib.sh"

mkdir -p "$XDG_CONFIG_HOME/galsmime"
printf '[mutt]\nsync_index = ~/mutt/certificates\nsync_keys = ~/mutt/keys\n' >"$XDG_CONFIG_HOME/galsmime/config"
store_setup
check "the identity is in the store" sh -c "'$GALSMIME' key list | grep -q alice@example.org"
gs cert import "$PKI/bob.crt" >/dev/null
check "cert import wrote mutt's certificate index" contains "$HOME/mutt/certificates/.index" "^bob@example.org [0-9a-f]{8}\.0 "
check "and the keys index, with alice's identity" contains "$HOME/mutt/keys/.index" "^alice@example.org [0-9a-f]{8}\.0 "
check "the certificate file named by the index exists" sh -c \
	'f=$(awk "/^bob@/ { print \$2 }" "$HOME/mutt/certificates/.index"); test -s "$HOME/mutt/certificates/$f"'
python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" json gal.json
gs gal import gal.json >/dev/null
check "gal import brought the GAL into mutt's index" contains "$HOME/mutt/certificates/.index" "^grace@example.org "
check "a GAL entry's directory address is listed (ivan)" contains "$HOME/mutt/certificates/.index" "^ivan@example.org "
check "nora (no certificate) is not" lacks "$HOME/mutt/certificates/.index" "^nora@example.org "
printf '[mutt\n' >"$XDG_CONFIG_HOME/galsmime/config"
gs trust list >/dev/null 2>bad.err
check "a broken configuration file is reported, and ignored" contains bad.err "config.*ignored"
