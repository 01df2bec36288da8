/* fuzz-agent.c: the key agent's message parser (lib/agent-proto.c), as a
 * request and as a response. What parses must encode back to the same
 * bytes when its fields came in tag order, and parse again. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int reply;

	for (reply = 0; reply < 2; reply++) {
		gs_agent_msg msg, again;
		GByteArray *enc = NULL;
		char *err = NULL;
		gs_status st = gs_agent_parse(data, size, reply, &msg, &err);

		if (st != GS_OK) {
			/* a refusal says why */
			if (!err)
				abort();
			g_free(err);
			continue;
		}
		if (err)
			abort();
		if (gs_agent_encode(&msg, &enc, NULL) != GS_OK)
			abort();
		if (gs_agent_parse(enc->data, enc->len, reply, &again, NULL) != GS_OK)
			abort();
		if (enc->len != size)
			abort(); /* the same fields, so the same length */
		g_byte_array_unref(enc);
	}
	return 0;
}
