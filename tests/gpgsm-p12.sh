# gpgsm-p12.sh: a key into gpgsm as gpgsm's users get it there, a
# PKCS#12 file, for tests/lib.sh (gpgsm_setup) and scripts/bench.
#
# gpgsm_import_p12 KEY CERT CHAIN ADDR P12: KEY, CERT and CHAIN (PEM)
# written by openssl to the PKCS#12 file P12 (passphrase "secret") and
# imported into $GNUPGHOME, until gpgsm lists a secret key for ADDR (a
# "crs" record: `--list-secret-keys ADDR` exits 0 when nothing matches).
# gpgsm 2.2.40 cannot read about one in eighty of the files openssl
# writes ("decryption failed", exit 2; 4 of 300, idle), the same file
# every time: each of the four attempts writes a new one. What openssl
# and gpgsm say goes to stdout and stderr. Returns 0, or 1.
gpgsm_import_p12() {
	for _try in 1 2 3 4; do
		openssl pkcs12 -export -inkey "$1" -in "$2" -certfile "$3" \
			-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout pass:secret \
			-out "$5" || return 1
		echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 --import "$5"
		gpgsm --batch --with-colons --list-secret-keys "$4" 2>/dev/null | grep -q '^crs:' && return 0
		echo "gpgsm_import_p12: attempt $_try: no secret key for $4 after the import"
	done
	return 1
}
