/* fuzz-verify.c: a whole message as `galsmime verify` reads it:
 * gs_message_parse under small limits, gs_message_verify in a session
 * whose store trusts the test root and knows the intermediate (no
 * identity: an encrypted message stops at "no key"), then the report as
 * JSON and as Authentication-Results (fuzz-smime.h checks both); and
 * the raw input through gs_auth_results_strip and _annotate.
 * Seeds: fuzz/seeds/verify, made by fuzz/mkseeds. */
#include "fuzz-smime.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_setup(0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gs_session *s = fz_setup(0);
	GMimeMessage *m = fz_parse(s, data, size);

	fz_auth_results(data, size);
	if (m) {
		fz_verify(s, m);
		g_object_unref(m);
	}
	fz_session_bounded(s);
	ERR_clear_error();
	return 0;
}
