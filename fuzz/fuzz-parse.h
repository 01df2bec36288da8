/* fuzz-parse.h: what fuzz-leaf and fuzz-cut share. Both compare a
 * shortcut of gs_message_parse with GMime's parse of the whole, on the
 * same input laid out the same way: byte 0 is the target's own
 * parameter, byte 1 how many bytes of junk come before the position the
 * parses start from, the rest is the message. */
#ifndef GALSMIME_FUZZ_PARSE_H
#define GALSMIME_FUZZ_PARSE_H

#include <glib.h>
#include <gmime/gmime.h>
#include <stdint.h>

/* GMime, once per process (both targets need nothing else) */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	g_mime_init();
	return 0;
}

/* The message as GMime writes it back. */
static char *
fz_written(GMimeMessage *m)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	char *s = g_mime_object_to_string(GMIME_OBJECT(m), fo);

	g_mime_format_options_free(fo);
	return s;
}

/* The input's message after its junk, in `bytes`, read by two memory
 * streams over it (*a for the whole parse, *b for the shortcut), both
 * at the message. Returns GMime's parse of the whole from *a (or NULL). */
static GMimeMessage *
fz_parse_pair(const uint8_t *data, size_t size, GByteArray **bytes, GMimeStream **a, GMimeStream **b)
{
	size_t pos = data[1] % 16;
	GMimeParser *p;
	GMimeMessage *whole;

	*bytes = g_byte_array_new();
	g_byte_array_append(*bytes, (const guint8 *) "From junk\nxxxxxx", (guint) pos);
	g_byte_array_append(*bytes, data + 2, (guint) (size - 2));
	*a = g_mime_stream_mem_new_with_byte_array(*bytes);
	*b = g_mime_stream_mem_new_with_byte_array(*bytes);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(*a), FALSE);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(*b), FALSE);
	g_mime_stream_seek(*a, (gint64) pos, GMIME_STREAM_SEEK_SET);
	g_mime_stream_seek(*b, (gint64) pos, GMIME_STREAM_SEEK_SET);
	p = g_mime_parser_new_with_stream(*a);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	whole = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	return whole;
}

#endif
