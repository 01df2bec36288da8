# tests/gal/lib.sh: what the GAL import suites (t71-t76) share, on top
# of tests/lib.sh: the fixtures galfix.py writes, and the store as the
# command line shows it (gal list --json, gal stats, cert list, trust
# list), never its tables: the suites test what a user can see.
. "$TESTS_TOP/tests/lib.sh"

# galfix FORMAT OUT [OPTIONS] [--then OUT [OPTIONS]]...: the test
# directory (tests/gal/galfix.py) exported as FORMAT
galfix() { python3 "$TESTS_TOP/tests/gal/galfix.py" "$PKI" "$@"; }
# galfix_many FORMAT OUT 'OPTIONS' [OUT 'OPTIONS']...: several files
# from one model (the model runs openssl a dozen times)
galfix_many() {
	python3 - "$PKI" "$@" <<'EOF'
import os, shlex, sys
sys.path.insert(0, os.path.join(os.environ['TESTS_TOP'], 'tests', 'gal'))
import galfix
model = galfix.entries(sys.argv[1])
writer = galfix.load_writer(sys.argv[2])
for out, opts in zip(sys.argv[3::2], sys.argv[4::2]):
    writer.write(model, out, shlex.split(opts))
EOF
}

# fp16 USER: the first 16 hex digits of the SHA-256 of $PKI/USER.crt
fp16() { fp "$1" | cut -c1-16; }

# entries SOURCE: the source's entries as `gal list --json` shows them,
# in the order they were imported, one a line:
#   alias|kind|name|display name|addresses, primary first|attribute=FP16 ...
# (an empty field where the entry has none; FP16 as fp16 prints it)
entries() {
	gs gal list --json --source "$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    print("|".join([e["alias"] or "", e["kind"] or "", e["name"] or "", e["display_name"] or "",
                    " ".join(e["addresses"]),
                    " ".join("%s=%s" % (l["attribute"], l["fingerprint_sha256"][:16])
                             for l in e["certificate_links"])]))'
}
# expected_entries KINDS: the test directory as `entries` shows it once
# imported, its kinds as the format spells them: exchange (RecipientType:
# UserMailbox, MailUser, MailContact), ad (objectClass: user, contact) or
# vcard
expected_entries() {
	while IFS='|' read -r alias kind rest; do
		case $1 in
		ad) case $kind in MailContact) kind=contact ;; *) kind=user ;; esac ;;
		vcard) kind=vcard ;;
		esac
		echo "$alias|$kind|$rest"
	done <<EOF
alice|UserMailbox|Alice Example|Alice Example|alice@example.org alice.example@example.org|userCertificate=$(fp16 alice) userSMIMECertificate=$(fp16 alice)
bob|MailUser|Bob Example|Bob Example|bob@example.org|userCertificate=$(fp16 bob)
carol|MailContact|Carol Example|Carol Example|carol@example.org|userSMIMECertificate=$(fp16 carol)
dave|UserMailbox|Dave Example|Dave Example|dave@example.org|userCertificate=$(fp16 dave)
erin|UserMailbox|Erin Example|Erin Example|erin@example.org|userCertificate=$(fp16 erin)
frank|UserMailbox|Frank Example|Frank Example|frank@example.org|userCertificate=$(fp16 frank)
mallory|MailContact|Mallory Example|Mallory Example|mallory@example.org|userCertificate=$(fp16 mallory)
henry|UserMailbox|Henry Example|Henry Example|henry@example.org|userCertificate=$(fp16 henry2) userSMIMECertificate=$(fp16 henry)
grace|MailContact|Grace Example|Grace Example|grace@example.org|
Grace_SMIME|MailContact|Grace_SMIME|Grace Example (S/MIME)|grace@example.org|userCertificate=$(fp16 grace)
ivan|UserMailbox|Ivan Example|Ivan Example|ivan@example.org|userCertificate=$(fp16 ivan)
nora|UserMailbox|Nora NoCert|Nora NoCert|nora@example.org|
EOF
}
# same_entries SOURCE EXPECTED: the source holds exactly the entries of
# the file EXPECTED (for check: the difference is shown when it fails)
same_entries() {
	entries "$1" >entries.out 2>&1
	diff "$2" entries.out
}
# without FILE ALIAS...: a copy of the expected entries FILE without
# those aliases; prints its name
without() {
	f=$1; shift
	out=$f-without-$(echo "$*" | tr ' ' -)
	cp "$f" "$out"
	for a; do grep -v "^$a|" "$out" >"$out.tmp"; mv "$out.tmp" "$out"; done
	echo "$out"
}

# store_state: everything the command line shows of the store: the
# sources, every entry with its addresses and certificate links, every
# certificate with its sources, the trust anchors. Equal before and after
# a failed import: nothing changed that anybody could see.
store_state() {
	gs gal stats && gs gal list --json && gs cert list && gs trust list
}

# ---- hostile input: exit 65, one line saying where and why, the store as it was ----
# (both compare with the suite's `store_state >before.txt`)

# hostile DESC FILE REGEX [ARGS]: gal import FILE into the snapshot "gal"
# fails with 65, the first line of stderr matches REGEX, nothing comes on
# stdout, the store is unchanged: one check
hostile() {
	desc=$1 file=$2 re=$3; shift 3
	gs gal import "$file" --source gal "$@" >out.txt 2>err.txt; rc=$?
	store_state >after.txt 2>&1
	if [ "$rc" = 65 ] && head -1 err.txt | grep -Eq -- "$re" && lacks out.txt . && cmp -s before.txt after.txt; then
		pass "$desc"
	else
		fail "$desc" "exit $rc (wanted 65), stderr: $(cat err.txt)$(cmp -s before.txt after.txt || echo '
the store changed')"
	fi
}
# bad DESC FILE PATTERN [IMPORT OPTIONS]: the import over the good
# snapshot "corp" fails with 65, stderr says "galsmime gal: PATTERN" and
# that nothing was imported, and the store is exactly as it was
bad() {
	d=$1 f=$2 pat=$3
	shift 3
	"$GALSMIME" gal import --source corp "$@" "$f" >bad.out 2>bad.err
	rc=$?
	if [ "$rc" = 65 ]; then pass "$d: exit 65"; else fail "$d: exit 65" "exit $rc: $(cat bad.err)"; fi
	if head -1 bad.err | grep -Eq -- "^galsmime gal: $pat" && [ "$(wc -l <bad.err)" = 2 ] &&
		sed -n 2p bad.err | grep -q 'nothing imported'; then
		pass "$d: one line says where and why"
	else
		fail "$d: one line says where and why" "$(cat bad.err)"
	fi
	store_state >after.txt 2>&1
	if cmp -s before.txt after.txt; then pass "$d: the store is unchanged"; else
		fail "$d: the store is unchanged" "$(diff before.txt after.txt | head -20)"; fi
}

# ---- fixtures and encryption ----

# edit IN OUT PYTHON: OUT is IN's text after the python statements (on `s`)
edit() {
	python3 -c "
import base64, sys
s = open(sys.argv[1], 'rb').read().decode()
$3
open(sys.argv[2], 'wb').write(s.encode() if isinstance(s, str) else s)" "$1" "$2"
}
# enc FILE QUERY USER: encrypt to QUERY, USER decrypts it with openssl cms
enc() {
	check_exit 0 "encrypt --to '$2' exits 0" sh -c "'$GALSMIME' encrypt --no-self --to '$2' <m.eml >$1"
	check "$3 decrypts what was encrypted to '$2' (openssl cms)" can_read "$3" "$1"
}
# enc_directory SUBJECT: m.eml, then enc to the test directory's people
# as a sender names them (address, alias, name, display name), each
# into USER.p7m, alias.p7m, name.p7m or display.p7m
enc_directory() {
	msg alice@example.org alice@example.org "$1" >m.eml
	enc bob.p7m bob@example.org bob
	enc alice.p7m alice@example.org alice
	enc carol.p7m carol@example.org carol
	enc grace.p7m grace@example.org grace
	enc alias.p7m bob bob
	enc name.p7m Grace_SMIME grace
	enc display.p7m 'Grace Example (S/MIME)' grace
	enc henry.p7m henry@example.org henry
}

# can_read USER FILE: USER's key decrypts FILE (openssl cms) to msg's
# text; cannot_read USER FILE: it does not
can_read() { opens "$1" "$2"; }
cannot_read() { ! openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2" >/dev/null 2>&1; }
