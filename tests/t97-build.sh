#!/bin/sh
# The build a packager trusts: the SONAMEs of the libraries loaded on
# demand come from the build machine (Debian 12 and 13 name libldap
# differently), a missing pkg-config module stops the build naming it,
# SANITIZE=1 survives a CFLAGS on the command line, DESTDIR/PREFIX
# install and uninstall, and `make deps` changes nothing when nothing is
# missing.
. "$TESTS_TOP/tests/lib.sh"

top=$TESTS_TOP

# ---- scripts/sonames: what a Debian 13 machine's libraries are called ----
mkdir fake
fakelib() { # NAME SONAME
	printf 'int x_%s;\n' "$1" >"fake/$1.c"
	cc -shared -fPIC -Wl,-soname,"$2" -o "fake/$2" "fake/$1.c" && ln -sf "$2" "fake/lib$1.so"
}
fakelib ldap libldap.so.2 && fakelib curl libcurl.so.4 && fakelib notmuch libnotmuch.so.5 &&
	fakelib p11 libp11.so.3
check "Debian 13's names: libldap.so.2 is what the probe finds" \
	sh -c "GS_SONAME_LIBDIR=fake '$top/scripts/sonames' son.h && grep -qx '#define GS_LDAP_SONAME \"libldap.so.2\"' son.h"
check "... with libcurl and libnotmuch beside it" \
	sh -c "grep -q 'GS_CURL_SONAME \"libcurl.so.4\"' son.h && grep -q 'GS_NOTMUCH_SONAME \"libnotmuch.so.5\"' son.h"
check "this machine's: the SONAME of the libldap.so the compiler links" \
	sh -c "'$top/scripts/sonames' here.h && grep -q \"GS_LDAP_SONAME \\\"\$(readelf -d \$(cc -print-file-name=libldap.so) | sed -n 's/.*soname: \\[\\(.*\\)\\]/\\1/p')\\\"\" here.h"
check "the binary loads that name (gal import of an LDIF file works)" \
	sh -c "printf 'dn: cn=x\nmail: x@example.org\ncn: x\n\n' >x.ldif && '$GALSMIME' gal import x.ldif"
rm fake/libnotmuch.so
GS_SONAME_LIBDIR=fake "$top/scripts/sonames" missing.h 2>missing.err; rc=$?
check "a missing library: the probe fails naming it" sh -c "[ $rc != 0 ] && grep -q 'libnotmuch.so not found' missing.err"

# ---- the Makefile ----
mk() { make -C "$top" --no-print-directory "$@"; }
# SANITIZE= : the normal build dir whatever the environment says (make check SANITIZE=1)
mk -n -B SANITIZE= PKGS="gmime-3.0 nosuchmodule" build/lib/dl.o >pc.out 2>&1; rc=$?
check "a pkg-config module that is not there stops the build (exit $rc), naming it" \
	sh -c "[ $rc != 0 ] && grep -q \"pkg-config knows no module 'nosuchmodule'\" pc.out"
mk -n -B SANITIZE=1 CFLAGS=-O2 build-san/lib/dl.o >san.out 2>&1
check "SANITIZE=1 with CFLAGS on the command line still builds with the sanitizers" \
	sh -c "grep -q -- '-O2.*-fsanitize=address,undefined' san.out"
check "header dependencies are tracked (-MMD -MP)" sh -c "grep -q -- '-MMD -MP' san.out"
D="$T_DIR/destdir"
mk install DESTDIR="$D" PREFIX=/usr >inst.out 2>&1
check "make install DESTDIR=... PREFIX=/usr puts the binary in DESTDIR/usr/bin" test -x "$D/usr/bin/galsmime"
check "... the man page and the integration files under DESTDIR/usr/share" \
	sh -c "test -f '$D/usr/share/man/man1/galsmime.1' && test -f '$D/usr/share/galsmime/mutt/smime.rc' &&
	       test -x '$D/usr/share/galsmime/notmuch/post-new'"
mk uninstall DESTDIR="$D" PREFIX=/usr >uninst.out 2>&1
check "make uninstall removes every file it installed" test -z "$(find "$D" -type f)"

# ---- make deps when everything is there ----
mkdir -p fakebin
printf '#!/bin/sh\necho "$0 $*" >>%s/apt.called\nexit 1\n' "$T_DIR" >fakebin/apt-get
chmod +x fakebin/apt-get
check "install-deps with everything installed exits 0" env PATH="$T_DIR/fakebin:$PATH" "$top/scripts/install-deps"
check "... and never calls apt-get" test ! -e "$T_DIR/apt.called"
