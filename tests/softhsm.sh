# softhsm.sh: a throw-away SoftHSM token for the suites that source it
# after lib.sh (t17, t19): token "galsmime-test" (PIN 1234, SO PIN 0000)
# holding alice's RSA key and certificate (id 01) and carol's EC key and
# certificate (id 02, derive allowed for ECDH), in a token folder under
# the test's HOME; `restore` puts the token back as made (after a test
# deleted its folder: a card pulled out).
SOFTHSM=$(ls /usr/lib/*/softhsm/libsofthsm2.so 2>/dev/null | head -n 1)
SHIM="$TESTS_TOP/${BUILD:-build}/tests/p11-remove.so"
TOKDIR="$HOME/softhsm/tokens"
export SOFTHSM2_CONF="$HOME/softhsm/softhsm2.conf"
P11() { pkcs11-tool --module "$SOFTHSM" --token-label galsmime-test --login --pin 1234 "$@" >/dev/null 2>&1; }
put() { # USER ID USAGE...
	u=$1 id=$2; shift 2
	openssl pkey -in "$PKI/$u.key" -outform DER -out "$u.key.der" &&
	openssl x509 -in "$PKI/$u.crt" -outform DER -out "$u.crt.der" &&
	P11 --write-object "$u.key.der" --type privkey --id "$id" --label "$u" "$@" &&
	P11 --write-object "$u.crt.der" --type cert --id "$id" --label "$u"
}
# token_setup: make the token (its steps checked by the suite)
token_setup() {
	mkdir -p "$TOKDIR"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$TOKDIR" >"$SOFTHSM2_CONF"
	check "setup: a SoftHSM token" softhsm2-util --init-token --free --label galsmime-test --so-pin 0000 --pin 1234
	check "setup: alice's RSA key and certificate on it (id 01)" put alice 01 --usage-sign --usage-decrypt
	check "setup: carol's EC key and certificate on it (id 02; derive allowed, for ECDH)" \
		put carol 02 --usage-sign --usage-derive
	cp -a "$TOKDIR" "$HOME/tokens.saved"
	# SoftHSM keeps each token in a folder of its own (tokens/UUID)
	TOKEN=$(ls -d "$TOKDIR"/*/ | head -n 1)
}
restore() { rm -rf "$TOKDIR" && cp -a "$HOME/tokens.saved" "$TOKDIR"; }
