#!/bin/sh
# galsmime sign: detached multipart/signed by default, opaque signed-data
# with --opaque; SHA-256, the signer's chain, signingTime, modern
# SMIMECapabilities; what it signs verifies with openssl smime, openssl
# cms and gpgsm. Failures write nothing.
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# split_signed MSG CONTENT SIG: the signed content of a top-level
# multipart/signed in canonical form (CRLF), and its signature as DER
cat >split_signed.py <<'EOF'
import base64, email, re, sys
raw = open(sys.argv[1], 'rb').read()
msg = email.message_from_bytes(raw)
b = msg.get_boundary().encode()
body = raw.split(b'\n\n', 1)[1]
parts = re.split(rb'(?:^|\n)--' + re.escape(b) + rb'[ \t]*\n', body)
content = parts[1]
content = content.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
open(sys.argv[2], 'wb').write(content)
sig = msg.get_payload()[1].get_payload(decode=True)
open(sys.argv[3], 'wb').write(sig)
EOF

# sha256 fingerprints of every certificate in the PEM files given
cat >pem_fps.py <<'EOF'
import base64, hashlib, re, sys
fps = set()
for f in sys.argv[1:]:
    for b in re.findall(r'-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----', open(f).read(), re.S):
        fps.add(hashlib.sha256(base64.b64decode(b)).hexdigest())
print('\n'.join(sorted(fps)))
EOF

# hdr FILE NAME: the unfolded value of the first NAME field in FILE's top-level header
hdr() {
	awk -v want="$(printf '%s' "$2" | tr A-Z a-z)" '
	/^\r?$/ { exit }
	/^[ \t]/ { if (cur == want) val = val " " $0; next }
	{ i = index($0, ":"); cur = tolower(substr($0, 1, i - 1))
	  if (cur == want && !found) { val = substr($0, i + 1); found = 1 } else if (cur == want) cur = "" }
	END { gsub(/[ \t\r]+/, " ", val); sub(/^ /, "", val); sub(/ $/, "", val); print val }' "$1"
}

check "store setup: trust the root, alice's identity" store_setup

msg alice@example.org bob@example.org "signed by alice" >plain.eml

# ---- detached (the default) ----
check_exit 0 "sign exits 0" sh -c "'$GALSMIME' sign $PASS <plain.eml >signed.eml 2>sign.err"
check "sign writes nothing on stderr on success" test ! -s sign.err
check "top-level type is multipart/signed" contains signed.eml '^Content-Type: multipart/signed;'
check "protocol is application/pkcs7-signature" \
	test "$(python3 -c "import email,sys; print(email.message_from_binary_file(open('signed.eml','rb')).get_param('protocol'))")" = application/pkcs7-signature
check "micalg is sha-256" \
	test "$(python3 -c "import email,sys; print(email.message_from_binary_file(open('signed.eml','rb')).get_param('micalg'))")" = sha-256
python3 -c "
import email
m = email.message_from_binary_file(open('signed.eml', 'rb'))
p = m.get_payload()
print(len(p)); print(p[1].get_content_type()); print(p[1].get_filename()); print(p[1]['Content-Transfer-Encoding'])
" >sigpart.txt 2>&1
check "two parts, the second application/pkcs7-signature" \
	test "$(sed -n 1,2p sigpart.txt | tr '\n' ' ')" = "2 application/pkcs7-signature "
check "the signature part is named smime.p7s" test "$(sed -n 3p sigpart.txt)" = smime.p7s
check "the signature part is base64" test "$(sed -n 4p sigpart.txt)" = base64
for h in From To Subject Date Message-ID; do
	check "header $h is kept" test "$(hdr signed.eml $h)" = "$(hdr plain.eml $h)"
done

check "openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in signed.eml -out smime.content
check "openssl smime -verify returns the signed text" contains smime.content 'this is a test message'
check "openssl cms -verify accepts it" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in signed.eml -out /dev/null
# the same checks must be able to fail: change one byte of the signed text
sed 's/this is a test message/this is a tost message/' signed.eml >tampered.eml
check "control: openssl cms -verify rejects a changed byte" \
	sh -c "! openssl cms -verify -CAfile '$PKI/root.crt' -in tampered.eml -out /dev/null 2>/dev/null"

# what is inside the CMS
openssl cms -cmsout -in signed.eml -outform DER -out signed.p7s 2>/dev/null
openssl cms -cmsout -print -inform DER -in signed.p7s >signed.txt 2>&1
check "the CMS is signed-data" contains signed.txt 'contentType: pkcs7-signedData'
awk '/digestAlgorithm/ { getline; sub(/^ *algorithm: */, ""); sub(/ .*/, ""); print }' signed.txt | sort -u >digests.txt
check "the only digest algorithm is SHA-256" test "$(cat digests.txt)" = sha256
check "the signature algorithm is RSA" \
	test "$(awk '/signatureAlgorithm/ { getline; sub(/^ *algorithm: */, ""); sub(/ .*/, ""); print }' signed.txt)" = rsaEncryption
openssl pkcs7 -inform DER -in signed.p7s -print_certs >incl.pem 2>/dev/null
python3 pem_fps.py incl.pem >incl.fps
python3 pem_fps.py "$PKI/alice.crt" "$PKI/alice-chain.pem" >want.fps
check "the signer's certificate and its whole chain are included" \
	sh -c "diff want.fps incl.fps"
check "alice's certificate is one of them" \
	sh -c "grep -qx \"\$(python3 pem_fps.py '$PKI/alice.crt')\" incl.fps"
check "three certificates: alice, intermediate, root" test "$(grep -c . incl.fps)" = \
	"$(($(grep -c BEGIN "$PKI/alice-chain.pem") + 1))"
st=$(awk '/signingTime/ { f = 1 } f && /UTCTIME|GENERALIZEDTIME/ { sub(/^.*TIME:/, ""); print; exit }' signed.txt)
check "signingTime is present" test -n "$st"
check "signingTime is now (within 10 minutes)" \
	sh -c "t=\$(date -d '$st' +%s) && n=\$(date +%s) && [ \$((n - t)) -lt 600 ] && [ \$((t - n)) -lt 600 ]"
awk '/S\/MIME Capabilities/ { f = 1; next }
     f && (/object:/ || /signatureAlgorithm/) { f = 0 }
     f && /OBJECT/ { sub(/.*:/, ""); print }' signed.txt >caps.txt
check "SMIMECapabilities lists AES-256-GCM, AES-256-CBC, AES-128-CBC, nothing else" \
	test "$(sort caps.txt | tr '\n' ' ')" = "aes-128-cbc aes-256-cbc aes-256-gcm "
check "SMIMECapabilities has no DES, 3DES or RC2" \
	sh -c "test -s caps.txt && ! grep -Eiq 'des|rc2' caps.txt"

if have gpgsm; then
	gpgsm_setup
	trap 'gpgconf --kill all >/dev/null 2>&1; t_finish' EXIT
	python3 split_signed.py signed.eml content.bin sig.der
	gpgsm --batch --verify sig.der content.bin >/dev/null 2>gpgsm.err
	rc=$?
	check "gpgsm --verify accepts the detached signature" test "$rc" = 0
	check "gpgsm says good signature from alice" contains gpgsm.err 'Good signature from .*Alice Example'
	python3 split_signed.py tampered.eml content-bad.bin sig-bad.der
	check "control: gpgsm --verify rejects a changed byte" \
		sh -c "! gpgsm --batch --verify sig-bad.der content-bad.bin >/dev/null 2>&1"
else
	skip "gpgsm --verify accepts the detached signature" "gpgsm not installed"
fi
check_exit 0 "galsmime verify accepts what galsmime signed" sh -c "'$GALSMIME' verify -q <signed.eml >/dev/null"

# ---- opaque ----
check_exit 0 "sign --opaque exits 0" sh -c "'$GALSMIME' sign --opaque $PASS <plain.eml >opaque.eml"
check "opaque: application/pkcs7-mime; smime-type=signed-data" \
	test "$(python3 -c "import email; m = email.message_from_binary_file(open('opaque.eml','rb')); print(m.get_content_type(), m.get_param('smime-type'))")" = \
	"application/pkcs7-mime signed-data"
check "opaque: openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in opaque.eml -out opaque.content
check "opaque: the extracted content is the original body" contains opaque.content 'this is a test message'
check "opaque: openssl cms -verify accepts it" \
	openssl cms -verify -CAfile "$PKI/root.crt" -purpose smimesign -in opaque.eml -out /dev/null
openssl cms -cmsout -print -in opaque.eml >opaque.txt 2>&1
check "opaque: SHA-256 only" \
	test "$(awk '/digestAlgorithm/ { getline; sub(/^ *algorithm: */, ""); sub(/ .*/, ""); print }' opaque.txt | sort -u)" = sha256
check "opaque: signingTime present" contains opaque.txt 'signingTime'
openssl cms -cmsout -in opaque.eml -outform DER -out opaque.p7m 2>/dev/null
openssl pkcs7 -inform DER -in opaque.p7m -print_certs >oincl.pem 2>/dev/null
check "opaque: the signer's certificate and its chain are included" \
	sh -c "python3 pem_fps.py oincl.pem | diff want.fps -"
if have gpgsm; then
	gpgsm --batch --verify --output gpgsm.content opaque.p7m >/dev/null 2>gpgsm.err
	rc=$?
	check "opaque: gpgsm --verify accepts it" test "$rc" = 0
	check "opaque: gpgsm says good signature from alice" contains gpgsm.err 'Good signature from .*Alice Example'
	check "opaque: gpgsm extracts the original body" contains gpgsm.content 'this is a test message'
else
	skip "opaque: gpgsm --verify accepts it" "gpgsm not installed"
fi
check_exit 0 "opaque: galsmime verify accepts it" sh -c "'$GALSMIME' verify -q <opaque.eml >/dev/null"

# ---- a multipart message with 8-bit text and a binary attachment ----
python3 - <<'EOF'
import base64, random
random.seed(20)
att = bytes(random.getrandbits(8) for _ in range(6000))
open('att.bin', 'wb').write(att)
open('mixed.eml', 'wb').write((
    "From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: mixed\n"
    "Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <mixed.t20@example.org>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
    "--outer\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    "Gr\u00fc\u00dfe aus K\u00f6ln\nFrom here on, trailing   \n.\n\n"
    "--outer\nContent-Type: application/octet-stream; name=att.bin\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=att.bin\n\n" + base64.encodebytes(att).decode() +
    "--outer--\n").encode())
EOF
check_exit 0 "sign a multipart message with 8-bit text and a binary attachment" \
	sh -c "'$GALSMIME' sign $PASS <mixed.eml >mixed-signed.eml"
check "mixed: openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -in mixed-signed.eml -out mixed.content
check "mixed: the attachment comes out byte for byte" python3 -c "
import email, sys
m = email.message_from_binary_file(open('mixed.content', 'rb'))
att = [p for p in m.walk() if p.get_filename() == 'att.bin'][0].get_payload(decode=True)
sys.exit(0 if att == open('att.bin', 'rb').read() else 1)"
check "mixed: the 8-bit text comes out intact" python3 -c "
import email, sys
m = email.message_from_binary_file(open('mixed.content', 'rb'))
t = [p for p in m.walk() if p.get_content_type() == 'text/plain'][0].get_payload(decode=True).decode('utf-8')
sys.exit(0 if 'Gr\u00fc\u00dfe aus K\u00f6ln' in t and 'From here on' in t else 1)"
if have gpgsm; then
	python3 split_signed.py mixed-signed.eml mcontent.bin msig.der
	check "mixed: gpgsm --verify accepts it" gpgsm --batch --verify msig.der mcontent.bin
fi

# an EC signer: ECDSA with SHA-256
gs key import "$PKI/carol.p12" $PASS >/dev/null 2>&1
msg carol@example.org bob@example.org "signed by carol" >carol.eml
check_exit 0 "carol (EC P-256) signs" sh -c "'$GALSMIME' sign $PASS <carol.eml >carol-signed.eml"
check "carol: openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in carol-signed.eml -out /dev/null
openssl cms -cmsout -print -in carol-signed.eml >carol.txt 2>&1
check "carol: ecdsa-with-SHA256 over a SHA-256 digest" sh -c "
	[ \"\$(awk '/signatureAlgorithm/ { getline; sub(/^ *algorithm: */, \"\"); sub(/ .*/, \"\"); print }' carol.txt)\" = ecdsa-with-SHA256 ] &&
	[ \"\$(awk '/digestAlgorithm/ { getline; sub(/^ *algorithm: */, \"\"); sub(/ .*/, \"\"); print }' carol.txt | sort -u)\" = sha256 ]"
check "carol: signed by carol's certificate" sh -c "openssl cms -cmsout -in carol-signed.eml -outform DER 2>/dev/null |
	openssl pkcs7 -inform DER -print_certs -noout | grep -q 'emailAddress = carol@example.org'"

# --from chooses the identity; From: stays what it was
msg bob@example.org carol@example.org "sent for bob" >bob.eml
check_exit 0 "--from alice@example.org signs a message whose From is bob" \
	sh -c "'$GALSMIME' sign --from alice@example.org $PASS <bob.eml >from.eml"
check "--from: the signer is alice" sh -c "openssl cms -cmsout -in from.eml -outform DER 2>/dev/null |
	openssl pkcs7 -inform DER -print_certs -noout | grep -q 'emailAddress = alice@example.org'"

# ---- failures: nothing on stdout ----
sign_fails() { # WANT DESC INPUT ARGS...
	want=$1 desc=$2 in=$3; shift 3
	"$GALSMIME" sign "$@" <"$in" >fail.out 2>fail.err
	rc=$?
	if [ "$rc" = "$want" ] && [ ! -s fail.out ] && one_line fail.err; then
		pass "$desc"
	else
		fail "$desc" "exit $rc (wanted $want), stdout $(wc -c <fail.out) bytes, stderr: $(cat fail.err)"
	fi
}
sign_fails 77 "wrong passphrase: exit 77, nothing written, one line" plain.eml \
	--passphrase-file "$PKI/wrongpass"
sign_fails 77 "no passphrase: exit 77, nothing written, one line" plain.eml
sign_fails 77 "From: bob, for whom we have no identity: exit 77, nothing written" bob.eml $PASS
sign_fails 77 "--from an address we have no identity for: exit 77" plain.eml --from grace@example.org $PASS
check "the failure names the address" contains fail.err 'grace@example.org'

# ---- what the signer digests, line by line: every line end shape ----
# LF, CRLF, a bare CR, trailing spaces and tabs, "From " lines, an empty
# line, and a line of 70 000 bytes (longer than the 64 KiB buffers the
# canonical form goes through), in a part that stays 8-bit-free: what
# galsmime signs verifies with openssl smime, which canonicalises the
# signed part itself, and with galsmime.
python3 - >shapes.eml <<'PY'
import sys
w = sys.stdout.buffer.write
w(b"From: Alice Example <alice@example.org>\nTo: bob@example.org\nSubject: line shapes\n"
  b"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
w(b"plain LF line\ncrlf line\r\nbare\rCR inside\ntrailing spaces   \ntrailing tab\t\n")
w(b"From the start, a From line\nFrom \n\n")
w(b"x" * 70000 + b"\n")
for i in range(3000):
    w(b"line %05d of the body, some text to fill it up to the usual length of a line\n" % i)
w(b"last line without a line end")
PY
gs sign $PASS <shapes.eml >shapes.signed 2>shapes.err
check "every line end shape: signed (exit 0)" test -s shapes.signed
check "every line end shape: openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in shapes.signed -out /dev/null
check "every line end shape: galsmime verify says good" sh -c "'$GALSMIME' verify <shapes.signed >/dev/null 2>&1"

# ---- attachments of every size around stdout's buffer (128 KiB) and
# half of it: what is signed is what is written (the output stream once
# wrote a large write ahead of what it held) ----
for n in 30000 48000 60000 72000 90000 100000 140000; do
	head -c $n /dev/urandom >sz.bin
	# no base64 line starting with F: the whole attachment is then one
	# write of the canonical form, the case that broke
	attached sz.bin nof >sz.eml
	gs sign $PASS <sz.eml >sz.signed 2>/dev/null
	check "a $n-byte attachment signed: openssl smime -verify accepts it" \
		openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in sz.signed -out /dev/null
	"$GALSMIME" verify <sz.signed >sz.v 2>/dev/null
	check "a $n-byte attachment signed: galsmime verify writes it unchanged" cmp sz.signed sz.v
done
