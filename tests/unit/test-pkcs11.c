/* test-pkcs11.c: lib/pkcs11.c's reading of RFC 7512 URIs: what it
 * refuses, before any module is loaded (tokens themselves are
 * tests/t17-pkcs11.sh's, with SoftHSM). */
#include "unit.h"

static void
refused(const char *uri, gs_status want, const char *says)
{
	unit_store u;
	char *msg = NULL, *fp = NULL;
	int checked = 1;

	unit_store_open(&u);
	g_assert_cmpint(gs_identity_import_token(u.store, uri, "/nonexistent/module.so", NULL, NULL, NULL, NULL,
						 &fp, &checked, &msg), ==, want);
	g_assert_null(fp);
	g_assert_cmpint(checked, ==, 0);
	g_assert_nonnull(msg);
	if (!strstr(msg, says))
		g_error("%s: '%s' does not say '%s'", uri, msg, says);
	g_free(msg);
	unit_store_close(&u);
}

static void
test_refused(void)
{
	refused("file:///x.p12", GS_E_USAGE, "not a pkcs11: URI");
	refused("pkcs11:token=a;colour=blue", GS_E_USAGE, "unknown attribute 'colour'");
	refused("pkcs11:token=a?colour=blue", GS_E_USAGE, "unknown attribute 'colour'");
	/* a path attribute is not a query attribute, nor the other way round */
	refused("pkcs11:module-path=/x.so", GS_E_USAGE, "unknown attribute 'module-path'");
	refused("pkcs11:token=a?id=%01", GS_E_USAGE, "unknown attribute 'id'");
	refused("pkcs11:id=%01;id=%02", GS_E_USAGE, "gives id twice");
	refused("pkcs11:id=%zz", GS_E_USAGE, "bad %-escape");
	refused("pkcs11:object=a%00b", GS_E_USAGE, "a NUL in the pkcs11: URI's object");
	refused("pkcs11:token=a;type=secret-key", GS_E_USAGE, "type=secret-key names no key");
	refused("pkcs11:token=a?pin-source=file:/pin", GS_E_UNSUPPORTED, "pin-source is not supported");
	refused("pkcs11:token=a?module-name=opensc-pkcs11", GS_E_UNSUPPORTED, "give module-path");
}

/* What parses goes on to the module: one that is not there is named
 * (vendor attributes, an id holding a NUL byte and a pin-value are
 * fine). */
static void
test_accepted_then_module(void)
{
	refused("pkcs11:token=My%20Card;x-vendor=1;id=%00%01;type=cert?pin-value=1234",
		GS_E_NO_KEY, "cannot load the PKCS#11 module /nonexistent/module.so");
	refused("pkcs11:token=a?module-path=/nonexistent/other.so",
		GS_E_NO_KEY, "cannot load the PKCS#11 module /nonexistent/other.so");
}

static void
test_bad_arguments(void)
{
	char *msg = NULL;

	g_assert_cmpint(gs_identity_import_token(NULL, "pkcs11:", NULL, NULL, NULL, NULL, NULL, NULL, NULL, &msg),
			==, GS_E_PROGRAMMER);
	g_free(msg);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/pkcs11/uri/refused", test_refused);
	g_test_add_func("/pkcs11/uri/accepted-then-module", test_accepted_then_module);
	g_test_add_func("/pkcs11/bad-arguments", test_bad_arguments);
	return UNIT_RUN();
}
