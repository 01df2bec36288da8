/* fuzz-warm.c: the warm engine's decoded certificates change nothing.
 * A whole message is verified three times, each in a new session on a
 * new read-only handle of the fuzz store (fuzz-smime.h: the test root
 * trusted, the intermediate known): with no warm set, with the store's
 * set loaded (gs_warm_certs_load), and with the certificates that second
 * verify decoded outside the set learned (gs_warm_certs_missed, then
 * gs_warm_certs_learn: a signer's certificate, a stranger's, whatever
 * the message carries, as the engine learns them from a worker). The
 * three outcomes (status, message, the report as JSON) must be the same
 * bytes: a certificate taken from the set is the one decoding its DER
 * would give, so no verdict can move because of what the set holds.
 * Seeds: fuzz/seeds/warm (those of fuzz-verify). */
#include "fuzz-smime.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_setup(0);
	return 0;
}

/* One verify on a fresh handle and session: what it said, as one string. */
static char *
verify_once(const uint8_t *data, size_t size)
{
	gs_store *st = NULL;
	gs_session *s = NULL;
	gs_report *r = NULL;
	GMimeMessage *m;
	char *msg = NULL, *json, *out;
	gs_status rc;

	if (gs_store_open(fz_dir, GS_STORE_READ_ONLY, 1000, &st, &msg) != GS_OK ||
	    gs_session_new(st, &s, &msg) != GS_OK)
		fz_die("a second handle on the store", msg);
	fz_session_rules(s);
	if (!(m = fz_parse(s, data, size))) {
		gs_session_free(s);
		gs_store_close(st);
		return g_strdup("no message");
	}
	rc = gs_message_verify(s, m, &r, &msg);
	json = r ? gs_report_to_json(r) : NULL;
	out = g_strdup_printf("%d\n%s\n%s", (int) rc, msg ? msg : "", json ? json : "");
	g_free(json);
	g_free(msg);
	gs_report_free(r);
	g_object_unref(m);
	gs_session_free(s);
	gs_store_close(st);
	ERR_clear_error();
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cold, *loaded, *learned;
	GPtrArray *missed;

	fz_setup(0);
	gs_warm_certs_clear();
	cold = verify_once(data, size);
	if (gs_warm_certs_load(fz_dir, 200, NULL) != GS_OK)
		fz_die("gs_warm_certs_load", NULL);
	loaded = verify_once(data, size);
	missed = gs_warm_certs_missed();
	if (missed->len > 16)
		fz_die("more than 16 certificates noted", NULL);
	gs_warm_certs_learn((GBytes *const *) missed->pdata, missed->len, 500);
	g_ptr_array_unref(missed);
	learned = verify_once(data, size);
	gs_warm_certs_clear();
	if (strcmp(cold, loaded))
		fz_die("the store's warm set changed the outcome", loaded);
	if (strcmp(cold, learned))
		fz_die("the learned certificates changed the outcome", learned);
	g_free(cold);
	g_free(loaded);
	g_free(learned);
	return 0;
}
