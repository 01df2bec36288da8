/* dl.c: the libraries galsmime loads only when a command needs them
 * (libldap for LDIF, libcurl for crl update, libnotmuch for notmuch
 * harvest, libp11 for keys on PKCS#11 tokens): a mail filter, which runs once per message, must not pay for
 * loading them and their TLS, SASL and Xapian stacks. One loader, by the
 * SONAMEs the build found (scripts/sonames: they differ between Debian
 * releases), each library loaded once per process. */
#include "gs-private.h"

#include <dlfcn.h>
#include <string.h>
#include "gs-sonames.h"

static const char *const sonames[] = {
	[GS_LIB_LDAP] = GS_LDAP_SONAME,
	[GS_LIB_CURL] = GS_CURL_SONAME,
	[GS_LIB_NOTMUCH] = GS_NOTMUCH_SONAME,
	[GS_LIB_P11] = GS_P11_SONAME,
};

static void *handles[G_N_ELEMENTS(sonames)];
static GMutex lock;

gs_status
gs_library_load(gs_library lib, void *table, const gs_symbol *syms, size_t n, char **errmsg)
{
	void *h;
	size_t i;

	if ((unsigned) lib >= G_N_ELEMENTS(sonames) || !table || (n && !syms))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_library_load: bad arguments");
	g_mutex_lock(&lock);
	if (!handles[lib])
		handles[lib] = dlopen(sonames[lib], RTLD_NOW | RTLD_LOCAL);
	h = handles[lib];
	if (!h) {
		const char *why = dlerror();
		g_mutex_unlock(&lock);
		return gs_fail(errmsg, GS_E_UNSUPPORTED, "cannot load %s: %s", sonames[lib],
			       why ? why : "not found");
	}
	/* through the handle: a library's own dependencies (liblber behind
	 * libldap) are not visible with RTLD_DEFAULT in a local namespace */
	for (i = 0; i < n; i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			g_mutex_unlock(&lock);
			return gs_fail(errmsg, GS_E_UNSUPPORTED, "%s has no %s", sonames[lib], syms[i].name);
		}
		memcpy((char *) table + syms[i].offset, &f, sizeof f);
	}
	g_mutex_unlock(&lock);
	return GS_OK;
}
