/* fuzz-decrypt.c: a whole message as `galsmime decrypt` reads it, in a
 * session whose store holds alice's (RSA) and carol's (EC) identities
 * with their keys unencrypted: gs_message_decrypt, the message written
 * out as the command writes it, then gs_message_verify on the result
 * (on the message as it came when it was not encrypted). A message that
 * is not encrypted must come back untouched. The same input goes through
 * delivery mode first (`decrypt --passthrough`): a message it leaves
 * encrypted comes back untouched, and what it does decrypt is
 * authenticated. Seeds: fuzz/seeds/decrypt, made by fuzz/mkseeds. */
#include "fuzz-smime.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_setup(1);
	return 0;
}

static void
delivery(gs_session *s, const uint8_t *data, size_t size)
{
	gs_decrypt_opts opts = { .delivery = 1 };
	GMimeMessage *m = fz_parse(s, data, size);
	gs_report *r = NULL;
	char *msg = NULL, *before, *after;
	gs_status st;

	if (!m)
		return;
	before = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
	st = gs_message_decrypt(s, m, &opts, &r, &msg);
	after = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
	if ((st == GS_E_NOT_FOUND || (st == GS_OK && gs_report_withheld(r))) && strcmp(before, after) != 0)
		fz_die("gs_message_decrypt (delivery)", "left encrypted, and the message was changed");
	if (st == GS_OK && !gs_report_withheld(r) && gs_report_unauthenticated(r))
		fz_die("gs_message_decrypt (delivery)", "wrote content that is not authenticated");
	if (st != GS_E_NOT_FOUND)
		fz_status("gs_message_decrypt (delivery)", st, &msg);
	g_free(msg);
	g_free(before);
	g_free(after);
	gs_report_free(r);
	g_object_unref(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gs_session *s = fz_setup(1);
	GMimeMessage *m = fz_parse(s, data, size);
	gs_report *r = NULL;
	char *msg = NULL, *before, *after;
	gs_status st;

	if (!m)
		return 0;
	delivery(s, data, size);
	before = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
	st = gs_message_decrypt(s, m, NULL, &r, &msg);
	if (st == GS_E_NOT_FOUND) {
		after = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
		if (strcmp(before, after) != 0)
			fz_die("gs_message_decrypt", "GS_E_NOT_FOUND, and the message was changed");
		g_free(after);
		if (!r)
			fz_die("gs_message_decrypt", "GS_E_NOT_FOUND without a report");
		fz_report(r);
		gs_report_free(r);
		r = NULL;
		g_free(msg);
		msg = NULL;
	} else {
		fz_status("gs_message_decrypt", st, &msg);
		fz_out("gs_message_decrypt", st, r);
	}
	g_free(before);
	if (r) {
		fz_report(r);
		gs_report_free(r);
	}
	if (st == GS_OK)
		fz_write(m);
	fz_verify(s, m);
	g_object_unref(m);
	fz_session_bounded(s);
	ERR_clear_error();
	return 0;
}
