/* fuzz-cut.c: gs_message_parse_cut (lib/message.c), GMime's parse of a
 * message with runs of lines that hold no '-' taken out first and given
 * back to the leaves that held them, against GMime's parse of the whole.
 * Where the shortcut answers, the whole parse must give the same
 * message: the same tree written back byte for byte, every leaf's
 * content the same slice of the same input (same offsets), the stream
 * left where the whole parse leaves it. It may refuse (NULL) anything.
 * Input: byte 0 sets the smallest run taken out (1 to 64 bytes, so that
 * small inputs reach what 256 KiB runs meet in large ones) and, with
 * 0x40, parses an entity as gs_entity_parse does (gs_entity_parse_cut
 * against GMime's construct_part) instead of a message; byte 1 how
 * many bytes of junk come before the position the parse starts from;
 * the rest is the message. Seeds: fuzz/seeds/cut. */
#include <glib.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs-private.h"
#include "fuzz-parse.h"

/* The leaves of `o` in order, into `out`. */
static void
leaves(GMimeObject *o, GPtrArray *out, int depth)
{
	if (!o || depth > 300)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		int i, n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			leaves(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), out, depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *em = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (em)
			leaves(g_mime_message_get_mime_part(em), out, depth + 1);
	} else if (GMIME_IS_PART(o)) {
		g_ptr_array_add(out, o);
	}
}

/* Both leaves' contents are the same slice of the same memory. */
static void
same_slice(GMimePart *a, GMimePart *b)
{
	GMimeDataWrapper *wa = g_mime_part_get_content(a), *wb = g_mime_part_get_content(b);
	GMimeStream *sa = wa ? g_mime_data_wrapper_get_stream(wa) : NULL;
	GMimeStream *sb = wb ? g_mime_data_wrapper_get_stream(wb) : NULL;
	const unsigned char *ma, *mb;
	size_t la = 0, lb = 0;

	if (!sa || !sb)
		abort();
	ma = gs_stream_memory(sa, &la);
	mb = gs_stream_memory(sb, &lb);
	if (!ma || ma != mb || la != lb || g_mime_data_wrapper_get_encoding(wa) != g_mime_data_wrapper_get_encoding(wb))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GMimeStream *a, *b;
	GMimeMessage *whole, *cut;
	GByteArray *bytes;
	size_t min;

	if (size < 2)
		return 0;
	min = 1 + (data[0] & 0x3f);
	/* both parse the same bytes: their content slices must be the same */
	whole = fz_parse_pair(data, size, &bytes, &a, &b);
	if (data[0] & 0x40) {
		/* as an entity (gs_entity_parse): GMime's part of the bytes
		 * against the cut one, both wrapped in a message to compare */
		GMimeParser *p;
		GMimeObject *wp, *cp;

		g_clear_object(&whole);
		g_mime_stream_seek(a, g_mime_stream_tell(b), GMIME_STREAM_SEEK_SET);
		p = g_mime_parser_new_with_stream(a);
		wp = g_mime_parser_construct_part(p, NULL);
		g_object_unref(p);
		cp = gs_entity_parse_cut(b, min);
		whole = wp ? g_mime_message_new(FALSE) : NULL;
		cut = cp ? g_mime_message_new(FALSE) : NULL;
		if (wp) {
			g_mime_message_set_mime_part(whole, wp);
			g_object_unref(wp);
		}
		if (cp) {
			g_mime_message_set_mime_part(cut, cp);
			g_object_unref(cp);
		}
	} else {
		cut = gs_message_parse_cut(b, min);
	}
	if (cut) {
		GPtrArray *la = g_ptr_array_new(), *lb = g_ptr_array_new();
		char *xa, *xb;
		guint i;

		if (!whole)
			abort();
		leaves(g_mime_message_get_mime_part(whole), la, 0);
		leaves(g_mime_message_get_mime_part(cut), lb, 0);
		if (la->len != lb->len)
			abort();
		for (i = 0; i < la->len; i++)
			same_slice(la->pdata[i], lb->pdata[i]);
		xa = fz_written(whole);
		xb = fz_written(cut);
		if (strcmp(xa, xb) || g_mime_stream_tell(a) != g_mime_stream_tell(b))
			abort();
		g_free(xa);
		g_free(xb);
		g_ptr_array_free(la, TRUE);
		g_ptr_array_free(lb, TRUE);
		g_object_unref(cut);
	}
	if (whole)
		g_object_unref(whole);
	g_object_unref(a);
	g_object_unref(b);
	g_byte_array_unref(bytes);
	return 0;
}
