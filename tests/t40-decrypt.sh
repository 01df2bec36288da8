#!/bin/sh
# galsmime decrypt: what galsmime, openssl smime, openssl cms (CBC, GCM,
# OAEP, ECDH) and gpgsm encrypt; the outer headers stay; not for us,
# wrong passphrase, tampered GCM: non-zero and nothing written;
# --passthrough; unencrypted messages pass unchanged.
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# hdr FILE NAME: the unfolded value of the first NAME field in FILE's top-level header
hdr() {
	awk -v want="$(printf '%s' "$2" | tr A-Z a-z)" '
	/^\r?$/ { exit }
	/^[ \t]/ { if (cur == want) val = val " " $0; next }
	{ i = index($0, ":"); cur = tolower(substr($0, 1, i - 1))
	  if (cur == want && !found) { val = substr($0, i + 1); found = 1 } else if (cur == want) cur = "" }
	END { gsub(/[ \t\r]+/, " ", val); sub(/^ /, "", val); sub(/ $/, "", val); print val }' "$1"
}

# the entity peers encrypt, and the outer header they travel under
cat >entity.txt <<'EOF'
Content-Type: text/plain; charset=utf-8

Hello Bob,
this is a test message from a peer.
From the start of a line, trailing spaces:   
-- 
sig
EOF
# wrap PART-FILE: a whole message from outer headers + the S/MIME part
wrap() {
	cat <<EOM
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: peer test $1
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <peer.$1.t40@example.org>
EOM
	cat "$1"
}
# the outer headers of IN survive decryption into OUT
headers_kept() { # IN OUT
	for h in From To Subject Date Message-ID; do
		[ "$(hdr "$2" $h)" = "$(hdr "$1" $h)" ] && [ -n "$(hdr "$1" $h)" ] || {
			echo "$h: '$(hdr "$2" $h)' vs '$(hdr "$1" $h)'"; return 1; }
	done
}
# the decrypted message's body is the entity's text
has_text() { python3 -c "
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
t = m.get_payload(decode=True) or b''
sys.exit(0 if m.get_content_type() == 'text/plain' and b'this is a test message from a peer.' in t else 1)" "$1"; }

# decrypt_ok NAME MSG: decrypt MSG as bob, check exit 0, the headers and the text
decrypt_ok() {
	"$GALSMIME" decrypt $PASS <"$2" >"$2.out" 2>"$2.err"
	rc=$?
	if [ "$rc" = 0 ]; then pass "$1: exit 0"; else fail "$1: exit 0" "exit $rc: $(cat "$2.err")"; fi
	check "$1: From, To, Subject, Date, Message-ID kept" headers_kept "$2" "$2.out"
	check "$1: the body is the decrypted entity" has_text "$2.out"
	check "$1: no S/MIME part left" lacks "$2.out" 'pkcs7-mime'
}
# decrypt_fails NAME WANT MSG [ARGS]: exit WANT, nothing on stdout, one stderr line
decrypt_fails() {
	name=$1 want=$2 in=$3; shift 3
	"$GALSMIME" decrypt "$@" <"$in" >fail.out 2>fail.err
	rc=$?
	if [ "$rc" = "$want" ] && [ ! -s fail.out ] && one_line fail.err; then
		pass "$name"
	else
		fail "$name" "exit $rc (wanted $want), stdout $(wc -c <fail.out) bytes, stderr: $(cat fail.err)"
	fi
}

check "store setup: trust the root, alice's identity" store_setup
check "bob's identity imported" gs key import "$PKI/bob.p12" $PASS
check "carol's identity (EC) imported" gs key import "$PKI/carol.p12" $PASS

# ---- galsmime to galsmime ----
msg alice@example.org bob@example.org "galsmime round trip" >orig.eml
gs encrypt --no-self <orig.eml >gs-cbc.eml 2>/dev/null
"$GALSMIME" decrypt $PASS <gs-cbc.eml >gs-cbc.eml.out 2>gs-cbc.eml.err
rc=$?
check "galsmime CBC: exit 0" test "$rc" = 0
check "galsmime CBC: From, To, Subject, Date, Message-ID kept" headers_kept gs-cbc.eml gs-cbc.eml.out
check "galsmime CBC: decrypt(encrypt(m)) is m, byte for byte" cmp orig.eml gs-cbc.eml.out
check "galsmime CBC: stderr tells the cipher" contains gs-cbc.eml.err 'aes-256-cbc'
gs encrypt --no-self --cipher aes256-gcm <orig.eml >gs-gcm.eml 2>/dev/null
"$GALSMIME" decrypt $PASS <gs-gcm.eml >gs-gcm.out 2>gs-gcm.err
check "galsmime GCM: decrypt(encrypt(m)) is m, byte for byte" cmp orig.eml gs-gcm.out
check "galsmime GCM: stderr says authenticated AES-256-GCM" contains gs-gcm.err 'aes-256-gcm \(authenticated\)'
gs encrypt --no-self --oaep <orig.eml >gs-oaep.eml 2>/dev/null
check "galsmime OAEP: decrypt(encrypt(m)) is m" sh -c "'$GALSMIME' decrypt $PASS <gs-oaep.eml 2>/dev/null | cmp orig.eml -"
msg alice@example.org carol@example.org "to carol" >orig-carol.eml
gs encrypt --no-self <orig-carol.eml >gs-ec.eml 2>/dev/null
check "galsmime ECDH (carol): decrypt(encrypt(m)) is m" \
	sh -c "'$GALSMIME' decrypt $PASS <gs-ec.eml 2>/dev/null | cmp orig-carol.eml -"

# ---- openssl smime (the PKCS#7 code mutt's smime.rc uses) ----
openssl smime -encrypt -aes256 -in entity.txt "$PKI/bob.crt" >smime.part
wrap smime.part >smime.eml
decrypt_ok "openssl smime -encrypt -aes256" smime.eml

# ---- openssl cms ----
openssl cms -encrypt -aes-256-cbc -in entity.txt "$PKI/bob.crt" >cms-cbc.part
wrap cms-cbc.part >cms-cbc.eml
decrypt_ok "openssl cms -encrypt (AES-256-CBC)" cms-cbc.eml
openssl cms -encrypt -aes-256-gcm -in entity.txt "$PKI/bob.crt" >cms-gcm.part
wrap cms-gcm.part >cms-gcm.eml
check "openssl cms -aes-256-gcm made AuthEnvelopedData" contains cms-gcm.part 'authEnveloped-data'
decrypt_ok "openssl cms -encrypt -aes-256-gcm" cms-gcm.eml
check "openssl cms GCM: stderr says authenticated" contains cms-gcm.eml.err 'aes-256-gcm \(authenticated\)'
openssl cms -encrypt -aes-256-cbc -recip "$PKI/bob.crt" -keyopt rsa_padding_mode:oaep \
	-keyopt rsa_oaep_md:sha256 -in entity.txt >cms-oaep.part
wrap cms-oaep.part >cms-oaep.eml
decrypt_ok "openssl cms -encrypt with RSA-OAEP" cms-oaep.eml
openssl cms -encrypt -aes-256-cbc -in entity.txt "$PKI/carol.crt" >cms-ec.part
wrap cms-ec.part >cms-ec.eml
decrypt_ok "openssl cms -encrypt to carol (ECDH)" cms-ec.eml

# ---- content without MIME headers (RFC 4134's examples carry bare text) ----
# shown as one text/plain part, byte for byte; binary as
# application/octet-stream in base64; never an error, never rendered as
# anything richer; the report says so
printf 'This is some sample content.' >bare.txt
openssl cms -encrypt -aes-256-cbc -binary -in bare.txt "$PKI/bob.crt" >bare.part
wrap bare.part >bare.eml
"$GALSMIME" decrypt $PASS <bare.eml >bare.out 2>bare.err
rc=$?
check "bare text content: exit 0" test "$rc" = 0
check "bare text content: one text/plain; charset=us-ascii part" contains bare.out '^Content-Type: text/plain; charset=us-ascii$'
check "bare text content: the body is the content, byte for byte" \
	sh -c "sed '1,/^\$/d' bare.out | cmp - bare.txt"
check "bare text content: the report says it had no MIME headers" \
	contains bare.err 'part 1: the decrypted content has no MIME headers: shown as text/plain'
# random bytes, with CRLFs and lone CRs for certain: none may be lost to
# line-end conversion
printf '\r\n\000\r\r\n' >bare.bin
head -c 3000 /dev/urandom >>bare.bin
printf 'x\r\n\r' >>bare.bin
openssl cms -encrypt -aes-256-cbc -binary -in bare.bin "$PKI/bob.crt" >bare-bin.part
wrap bare-bin.part >bare-bin.eml
"$GALSMIME" decrypt $PASS <bare-bin.eml >bare-bin.out 2>bare-bin.err
rc=$?
check "bare binary content: exit 0, application/octet-stream in base64" sh -c \
	"[ $rc = 0 ] && grep -q '^Content-Type: application/octet-stream' bare-bin.out &&
	 grep -q '^Content-Transfer-Encoding: base64' bare-bin.out"
check "bare binary content: decodes to the content, byte for byte" \
	sh -c "sed '1,/^\$/d' bare-bin.out | base64 -d | cmp - bare.bin"
check "bare binary content: the report says application/octet-stream" \
	contains bare-bin.err 'no MIME headers: shown as application/octet-stream'
printf '' >empty.txt
openssl cms -encrypt -aes-256-cbc -binary -in empty.txt "$PKI/bob.crt" >empty.part
wrap empty.part >empty.eml
"$GALSMIME" decrypt $PASS <empty.eml >empty.out 2>empty.err
rc=$?
check "empty content: exit 65, one line, nothing on stdout" sh -c \
	"[ $rc = 65 ] && [ ! -s empty.out ] && [ \$(wc -l <empty.err) = 1 ] && grep -q 'decrypted content is empty' empty.err"
openssl cms -encrypt -aes-256-cbc -in entity.txt "$PKI/grace.crt" "$PKI/bob.crt" >cms-two.part
wrap cms-two.part >cms-two.eml
decrypt_ok "openssl cms -encrypt to grace and bob (our key second)" cms-two.eml
openssl cms -encrypt -aes-256-cbc -stream -in entity.txt "$PKI/bob.crt" >cms-ber.part
wrap cms-ber.part >cms-ber.eml
decrypt_ok "openssl cms -encrypt -stream (BER, indefinite lengths)" cms-ber.eml

# ---- gpgsm ----
if have gpgsm; then
	gpgsm_setup
	trap 'gpgconf --kill all >/dev/null 2>&1; t_finish' EXIT
	gpgsm --batch --import "$PKI/bob.crt" >/dev/null 2>&1
	sed 's/$/\r/' entity.txt >entity.crlf
	if gpgsm --batch --encrypt -r bob@example.org entity.crlf >gpgsm.der 2>gpgsm.err; then
		{
			printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n'
			printf 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=smime.p7m\n\n'
			base64 gpgsm.der
		} >gpgsm.part
		wrap gpgsm.part >gpgsm.eml
		decrypt_ok "gpgsm --encrypt" gpgsm.eml
	else
		fail "gpgsm --encrypt to bob" "$(cat gpgsm.err)"
	fi
else
	skip "gpgsm --encrypt" "gpgsm not installed"
fi

# ---- application/octet-stream; name=smime.p7m, as some clients send ----
sed 's#^Content-Type: application/pkcs7-mime.*#Content-Type: application/octet-stream; name=smime.p7m#' \
	cms-cbc.eml >octet.eml
check "control: octet.eml really is application/octet-stream" contains octet.eml '^Content-Type: application/octet-stream'
decrypt_ok "application/octet-stream smime.p7m" octet.eml

# ---- signed inside ----
gs encrypt --sign --no-self $PASS <orig.eml >signed-enc.eml 2>/dev/null
"$GALSMIME" decrypt $PASS <signed-enc.eml >signed-dec.eml 2>signed-dec.err
rc=$?
check "sign+encrypt: decrypt exits 0" test "$rc" = 0
check "sign+encrypt: the decrypted body is multipart/signed" contains signed-dec.eml '^Content-Type: multipart/signed'
check "sign+encrypt: stderr reports alice's good signature" contains signed-dec.err 'good signature from .*alice@example.org'
check_exit 0 "sign+encrypt: the decrypted message verifies" sh -c "'$GALSMIME' verify -q <signed-dec.eml >/dev/null"
check "sign+encrypt: openssl smime -verify accepts the decrypted message" \
	openssl smime -verify -CAfile "$PKI/root.crt" -in signed-dec.eml -out /dev/null

# ---- failures: non-zero, nothing on stdout ----
openssl cms -encrypt -aes-256-cbc -in entity.txt "$PKI/grace.crt" >grace.part
wrap grace.part >grace.eml
decrypt_fails "not encrypted to any of our keys: exit 77, nothing written" 77 grace.eml $PASS
check "... and it says so" contains fail.err 'not encrypted to any of your'
decrypt_fails "wrong passphrase: exit 77, nothing written" 77 cms-cbc.eml --passphrase-file "$PKI/wrongpass"
check "... and it says so" contains fail.err 'passphrase'
decrypt_fails "no passphrase: exit 77, nothing written" 77 cms-cbc.eml

# a content cipher that is not a block cipher in CBC mode: openssl cms
# writes AES key wrap and OFB as EnvelopedData's content encryption if
# asked; galsmime refuses them by name (65) instead of running them over
# the content (the wrap once decrypted in one of its paths and not in
# the other: fuzz-envelope). 3DES-CBC, which old Outlook sends, decrypts.
for c in id-aes256-wrap-pad aes-256-ofb; do
	openssl cms -encrypt -$c -in entity.txt "$PKI/bob.crt" >odd-$c.part 2>/dev/null
	wrap odd-$c.part >odd-$c.eml
	check "control: the message's content encryption algorithm is $c" \
		sh -c "openssl cms -cmsout -print -in odd-$c.eml | grep -A1 contentEncryptionAlgorithm | grep -q 'algorithm: $c'"
	decrypt_fails "content cipher $c: exit 65, nothing written" 65 odd-$c.eml $PASS
	check "... one line naming the algorithm" \
		sh -c "[ \$(wc -l <fail.err) = 1 ] && grep -qi 'unsupported content encryption algorithm' fail.err"
done
openssl cms -encrypt -des-ede3-cbc -in entity.txt "$PKI/bob.crt" >cms-3des.part
wrap cms-3des.part >cms-3des.eml
decrypt_ok "openssl cms -encrypt -des-ede3-cbc (legacy Outlook)" cms-3des.eml

# an ECDH recipient (carol) whose content key is wrapped with something
# other than AES key wrap: OpenSSL 3.0 unwraps RFC 5649's padded wrap too,
# and when the key does not unwrap it wipes eight bytes past the end of
# its buffer (valgrind: invalid write of size 8 in CRYPTO_128_unwrap_pad,
# found by fuzz-envelope). galsmime refuses it by name (65) before OpenSSL
# unwraps anything, good key or damaged; AES key wrap decrypts.
openssl cms -encrypt -aes-256-cbc -wrap id-aes256-wrap-pad -outform DER -in entity.txt "$PKI/carol.crt" >wrappad.der
python3 -c "
import sys
d = bytearray(open('wrappad.der', 'rb').read())
i = d.index(b'\x04\x28')  # the 40-byte wrapped key
d[i + 7] ^= 0x55
open('wrappad-bad.der', 'wb').write(d)"
for v in wrappad wrappad-bad; do
	openssl cms -cmsout -inform DER -in $v.der -outform SMIME >$v.part 2>/dev/null
	wrap $v.part >$v.eml
done
check "control: carol's key wrap in those messages is id-aes256-wrap-pad" \
	sh -c "openssl cms -cmsout -print -in wrappad-bad.eml | grep -q 'id-aes256-wrap-pad' && ! cmp -s wrappad.der wrappad-bad.der"
decrypt_fails "ECDH with id-aes256-wrap-pad: exit 65, nothing written" 65 wrappad.eml $PASS
check "... one line naming the key wrap" \
	sh -c "[ \$(wc -l <fail.err) = 1 ] && grep -q 'unsupported key wrap algorithm id-aes256-wrap-pad' fail.err"
decrypt_fails "... and with the wrapped key damaged: exit 65, nothing written" 65 wrappad-bad.eml $PASS
check "... refused by name, before any unwrapping" \
	sh -c "[ \$(wc -l <fail.err) = 1 ] && grep -q 'unsupported key wrap algorithm id-aes256-wrap-pad' fail.err"
openssl cms -encrypt -aes-256-cbc -wrap id-aes128-wrap -in entity.txt "$PKI/carol.crt" >wrap128.part
wrap wrap128.part >wrap128.eml
decrypt_ok "ECDH with id-aes128-wrap (AES key wrap) decrypts" wrap128.eml

# tamper: flip one byte FROM-END bytes before the end of the DER
cat >flip.py <<'EOF'
import base64, subprocess, sys
raw = open(sys.argv[1], 'rb').read()
head, body = raw.split(b'\n\n', 1)
# galsmime streams BER (indefinite lengths, end-of-contents octets at the
# end): re-encode as DER so that the tag is the last thing
der = bytearray(subprocess.run(['openssl', 'cms', '-cmsout', '-inform', 'DER', '-outform', 'DER'],
                               input=base64.b64decode(body), capture_output=True, check=True).stdout)
der[len(der) - int(sys.argv[3])] ^= 0x01
open(sys.argv[2], 'wb').write(head + b'\n\n' + base64.encodebytes(bytes(der)))
EOF
# AuthEnvelopedData ends with the 16-byte tag (18 bytes with its header),
# just after the ciphertext
python3 flip.py gs-gcm.eml gcm-ct.eml 30
python3 flip.py gs-gcm.eml gcm-tag.eml 5
check "control: the untouched GCM message decrypts" \
	sh -c "'$GALSMIME' decrypt $PASS <gs-gcm.eml >/dev/null 2>&1"
check "control: openssl cms also rejects the tampered ciphertext" \
	sh -c "! openssl cms -decrypt -recip '$PKI/bob.crt' -inkey '$PKI/bob.key' -in gcm-ct.eml >/dev/null 2>&1"
for t in ct tag; do
	"$GALSMIME" decrypt $PASS <gcm-$t.eml >fail.out 2>fail.err
	rc=$?
	check "tampered GCM ($t): non-zero exit, nothing written" sh -c "[ $rc != 0 ] && [ ! -s fail.out ]"
	check "tampered GCM ($t): one line on stderr about authentication" \
		sh -c "[ \$(wc -l <fail.err) = 1 ] && grep -qi 'authenticat' fail.err"
done

# ---- --passthrough ----
for f in grace.eml gcm-ct.eml; do
	"$GALSMIME" decrypt --passthrough $PASS <$f >pt.out 2>pt.err
	rc=$?
	check "--passthrough ($f cannot be decrypted): exit 0" test "$rc" = 0
	check "--passthrough ($f): the original, byte for byte" cmp $f pt.out
done
"$GALSMIME" decrypt --passthrough --passphrase-file "$PKI/wrongpass" <cms-cbc.eml >pt.out 2>/dev/null
rc=$?
check "--passthrough with a wrong passphrase: exit 0 and the original" sh -c "[ $rc = 0 ] && cmp cms-cbc.eml pt.out"
"$GALSMIME" decrypt --passthrough $PASS <cms-gcm.eml >pt.out 2>/dev/null
check "--passthrough when decryption works: the decrypted message" \
	sh -c "! cmp -s cms-gcm.eml pt.out && grep -q 'this is a test message from a peer' pt.out"

# ---- not encrypted: unchanged ----
"$GALSMIME" decrypt $PASS <orig.eml >plain.out 2>plain.err
rc=$?
check "a message that is not encrypted: exit 0" test "$rc" = 0
check "a message that is not encrypted: written unchanged, byte for byte" cmp orig.eml plain.out
gs sign $PASS <orig.eml >signed-only.eml 2>/dev/null
"$GALSMIME" decrypt $PASS <signed-only.eml >so.out 2>/dev/null
rc=$?
check "a signed, not encrypted, message passes unchanged (exit 0)" sh -c "[ $rc = 0 ] && cmp signed-only.eml so.out"

# ---- a large message: its S/MIME part is a leaf at the top, which
# gs_message_parse takes without GMime's line-by-line scan of it (the
# header block and the first 256 KiB only): what is decrypted is the
# same, read from a file (mapped) or a pipe; and a header block longer
# than that takes the whole parse, with the same result ----
head -c 2500000 /dev/urandom >big.bin
attached big.bin entity >big-entity.txt
openssl smime -encrypt -aes256 -in big-entity.txt "$PKI/bob.crt" >big.part
wrap big.part >big.eml
{ wrap /dev/null; i=0; while [ $i -lt 3000 ]; do printf 'X-Filler-%d: %0100d\n' $i 0; i=$((i + 1)); done; cat big.part; } >bighead.eml
# attachment_is OUT FILE: the decrypted message has its header fields
# (a Subject) and one attachment named FILE, FILE byte for byte
attachment_is() { python3 -c "
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
parts = [p for p in m.walk() if p.get_filename() == sys.argv[2]]
sys.exit(0 if m['Subject'] and len(parts) == 1 and parts[0].get_payload(decode=True) == open(sys.argv[2], 'rb').read() else 1)" "$1" "$2"; }
for f in big.eml bighead.eml; do
	"$GALSMIME" decrypt $PASS <$f >$f.file 2>$f.err
	rc=$?
	check "large $f from a file: exit 0" sh -c "[ $rc = 0 ]"
	check "large $f from a file: the attachment, byte for byte" attachment_is $f.file big.bin
	check "large $f from a file: headers kept" headers_kept $f $f.file
	cat $f | "$GALSMIME" decrypt $PASS >$f.pipe 2>$f.err
	check "large $f from a pipe: the same output as from a file" cmp $f.file $f.pipe
done
check "a header block of 300 KB: the same decrypted entity" \
	sh -c "sed '1,/^\$/d' big.eml.file >a.body && sed '1,/^\$/d' bighead.eml.file >b.body && cmp a.body b.body"

# ---- parts of every size around stdout's buffer (128 KiB) and half of
# it: a part of 64-128 KiB once came out before its own header fields
# (the output stream wrote a large write ahead of what it held) ----
for n in 30000 48000 49000 60000 72000 90000 96000 100000 140000; do
	head -c $n /dev/urandom >sz.bin
	attached sz.bin entity >sz-entity.txt
	openssl smime -encrypt -aes256 -in sz-entity.txt "$PKI/bob.crt" >sz.part
	wrap sz.part >sz.eml
	"$GALSMIME" decrypt $PASS <sz.eml >sz.out 2>sz.err
	check "a $n-byte attachment: decrypted whole, its header fields first" attachment_is sz.out sz.bin
done
