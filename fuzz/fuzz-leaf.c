/* fuzz-leaf.c: gs_message_parse_leaf (lib/message.c), GMime's parse of a
 * large one-leaf message from its header block and first bytes only,
 * against GMime's parse of the whole. Where the shortcut answers, the
 * whole parse must give a leaf too, with the same content slice of the
 * input, the same encoding and the same bytes written back; it may
 * refuse (NULL) anything, and gs_message_parse then parses the whole.
 * Input: byte 0 sets the prefix (1 to 509 bytes, so that small inputs
 * reach the cases a 256 KiB prefix meets in large ones), byte 1 how many
 * bytes of junk come before the position the parse starts from; the
 * rest is the message. Seeds: fuzz/seeds/leaf. */
#include <glib.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs-private.h"
#include "fuzz-parse.h"

static GMimeDataWrapper *
leaf_content(GMimeMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);

	return top && GMIME_IS_PART(top) ? g_mime_part_get_content(GMIME_PART(top)) : NULL;
}

/* The same header fields, in the same order, at the same offsets. */
static void
same_headers(GMimeObject *a, GMimeObject *b)
{
	GMimeHeaderList *ha = g_mime_object_get_header_list(a), *hb = g_mime_object_get_header_list(b);
	int i, n = g_mime_header_list_get_count(ha);

	if (n != g_mime_header_list_get_count(hb))
		abort();
	for (i = 0; i < n; i++) {
		GMimeHeader *x = g_mime_header_list_get_header_at(ha, i), *y = g_mime_header_list_get_header_at(hb, i);
		if (strcmp(g_mime_header_get_raw_name(x), g_mime_header_get_raw_name(y)) ||
		    g_strcmp0(g_mime_header_get_raw_value(x), g_mime_header_get_raw_value(y)) ||
		    g_mime_header_get_offset(x) != g_mime_header_get_offset(y))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GMimeStream *a, *b;
	GMimeMessage *whole, *leaf;
	GByteArray *bytes;
	gint64 prefix;

	if (size < 2)
		return 0;
	prefix = 1 + (gint64) (data[0] & 0x7f) * 4;
	/* both parse the same bytes: their content slices must be the same */
	whole = fz_parse_pair(data, size, &bytes, &a, &b);
	leaf = gs_message_parse_leaf(b, prefix);
	if (leaf) {
		GMimeDataWrapper *wa = whole ? leaf_content(whole) : NULL, *wb = leaf_content(leaf);
		GMimeStream *sa, *sb;
		const unsigned char *ma, *mb;
		size_t la = 0, lb = 0;
		char *xa, *xb;

		if (!wa || !wb)
			abort();
		sa = g_mime_data_wrapper_get_stream(wa);
		sb = g_mime_data_wrapper_get_stream(wb);
		ma = gs_stream_memory(sa, &la);
		mb = gs_stream_memory(sb, &lb);
		if (!ma || !mb || la != lb || ma != mb ||
		    g_mime_data_wrapper_get_encoding(wa) != g_mime_data_wrapper_get_encoding(wb) ||
		    g_mime_stream_tell(a) != g_mime_stream_tell(b))
			abort();
		same_headers(GMIME_OBJECT(whole), GMIME_OBJECT(leaf));
		same_headers(g_mime_message_get_mime_part(whole), g_mime_message_get_mime_part(leaf));
		xa = fz_written(whole);
		xb = fz_written(leaf);
		if (strcmp(xa, xb))
			abort();
		g_free(xa);
		g_free(xb);
		g_object_unref(leaf);
	}
	if (whole)
		g_object_unref(whole);
	g_object_unref(a);
	g_object_unref(b);
	g_byte_array_unref(bytes);
	return 0;
}
