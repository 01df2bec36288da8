/* test-parse.c: gs_message_parse_leaf (lib/message.c), GMime's parse of
 * a large message that is one leaf part, with the parser given only the
 * header block and the leaf's first bytes. Wherever it answers, the
 * message must be the one GMime's parse of the whole gives: the same
 * header fields, the same content (same slice of the same input), the
 * same bytes written back. Wherever the shortcut cannot know (a
 * multipart, a message/rfc822, a header block longer than the prefix),
 * it must say so (NULL), never guess. fuzz/fuzz-leaf.c does the same
 * comparison on any input. */
#include "unit.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The whole parse, from the stream's position. */
static GMimeMessage *
parse_whole(GMimeStream *st)
{
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	return m;
}

static char *
written(GMimeMessage *m)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	char *s = g_mime_object_to_string(GMIME_OBJECT(m), fo);

	g_mime_format_options_free(fo);
	return s;
}

static GMimeStream *
leaf_stream(GMimeMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);

	g_assert_true(GMIME_IS_PART(top));
	return g_mime_data_wrapper_get_stream(g_mime_part_get_content(GMIME_PART(top)));
}

/* Both parses of `msg`, placed at offset `pos` of a memory stream (or a
 * mapped file with `mapped`): the shortcut answers (want_leaf) and gives
 * what the whole parse gives, or it gives NULL. */
static void
check(const char *msg, size_t len, gint64 prefix, size_t pos, gboolean mapped, gboolean want_leaf)
{
	GByteArray *buf = g_byte_array_new();
	GMimeStream *a, *b;
	GMimeMessage *whole, *leaf;
	char *path = NULL;
	int fd = -1;
	guint i;

	for (i = 0; i < pos; i++)
		g_byte_array_append(buf, (const guint8 *) "x", 1);
	g_byte_array_append(buf, (const guint8 *) msg, (guint) len);
	if (mapped) {
		GError *err = NULL;
		fd = g_file_open_tmp("parse-XXXXXX", &path, &err);
		g_assert_no_error(err);
		g_assert_cmpint(write(fd, buf->data, buf->len), ==, (ssize_t) buf->len);
		a = g_mime_stream_mmap_new_with_bounds(fd, PROT_READ, MAP_PRIVATE, 0, buf->len);
		b = g_mime_stream_mmap_new_with_bounds(fd, PROT_READ, MAP_PRIVATE, 0, buf->len);
		g_mime_stream_mmap_set_owner(GMIME_STREAM_MMAP(a), FALSE);
		g_mime_stream_mmap_set_owner(GMIME_STREAM_MMAP(b), FALSE);
	} else {
		a = g_mime_stream_mem_new_with_buffer((const char *) buf->data, buf->len);
		b = g_mime_stream_mem_new_with_buffer((const char *) buf->data, buf->len);
	}
	g_mime_stream_seek(a, (gint64) pos, GMIME_STREAM_SEEK_SET);
	g_mime_stream_seek(b, (gint64) pos, GMIME_STREAM_SEEK_SET);
	whole = parse_whole(a);
	leaf = gs_message_parse_leaf(b, prefix);
	g_assert_nonnull(whole);
	if (!want_leaf) {
		g_assert_null(leaf);
	} else {
		GMimeStream *sa, *sb;
		char *wa, *wb;
		const unsigned char *ma, *mb;
		size_t la = 0, lb = 0;

		g_assert_nonnull(leaf);
		sa = leaf_stream(whole);
		sb = leaf_stream(leaf);
		g_assert_cmpint(sa->bound_start, ==, sb->bound_start);
		ma = gs_stream_memory(sa, &la);
		mb = gs_stream_memory(sb, &lb);
		g_assert_nonnull(ma);
		g_assert_nonnull(mb);
		g_assert_cmpuint(la, ==, lb);
		g_assert_true(memcmp(ma, mb, la) == 0);
		g_assert_cmpint(g_mime_data_wrapper_get_encoding(g_mime_part_get_content(
					GMIME_PART(g_mime_message_get_mime_part(whole)))),
				==,
				g_mime_data_wrapper_get_encoding(g_mime_part_get_content(
					GMIME_PART(g_mime_message_get_mime_part(leaf)))));
		wa = written(whole);
		wb = written(leaf);
		g_assert_cmpstr(wa, ==, wb);
		/* the stream is left where the whole parse leaves it */
		g_assert_cmpint(g_mime_stream_tell(b), ==, g_mime_stream_tell(a));
		g_free(wa);
		g_free(wb);
		g_object_unref(leaf);
	}
	g_object_unref(whole);
	g_object_unref(a);
	g_object_unref(b);
	if (mapped) {
		close(fd);
		g_unlink(path);
		g_free(path);
	}
	g_byte_array_unref(buf);
}

/* A message of `head` then `lines` lines of base64-looking text, each
 * ending in `nl`; with `last_nl` FALSE the last line has no line end. */
static char *
message(const char *head, unsigned lines, const char *nl, gboolean last_nl)
{
	GString *g = g_string_new(head);
	unsigned i;

	for (i = 0; i < lines; i++) {
		g_string_append_printf(g, "TUlNRS1WZXJzaW9uOiAxLjAKQ29udGVudC1UeXBlOiB0ZXh0L3BsYWluCgpsaW5lICV1%05u", i);
		if (i + 1 < lines || last_nl)
			g_string_append(g, nl);
	}
	return g_string_free(g, FALSE);
}

static const char smime_crlf[] =
	"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: big\r\n"
	"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n"
	"\tname=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n";
static const char smime_lf[] =
	"From: alice@example.org\nTo: bob@example.org\nSubject: big\n"
	"MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data;\n"
	" name=smime.p7m\nContent-Transfer-Encoding: base64\n\n";

static void
test_leaf_same(void)
{
	char *m;
	size_t hl = strlen(smime_crlf);

	/* CRLF, LF, and content with no final line end */
	m = message(smime_crlf, 400, "\r\n", TRUE);
	check(m, strlen(m), (gint64) hl + 100, 0, FALSE, TRUE);
	check(m, strlen(m), (gint64) hl + 1, 0, FALSE, TRUE);
	check(m, strlen(m), (gint64) hl + 100, 0, TRUE, TRUE);
	g_free(m);
	m = message(smime_lf, 400, "\n", FALSE);
	check(m, strlen(m), 4096, 0, FALSE, TRUE);
	check(m, strlen(m), 4096, 0, TRUE, TRUE);
	g_free(m);
	/* read from the middle of a stream (what follows an mbox's From_
	 * line, or a caller's own position) */
	m = message(smime_crlf, 300, "\r\n", TRUE);
	check(m, strlen(m), 8192, 777, FALSE, TRUE);
	check(m, strlen(m), 8192, 777, TRUE, TRUE);
	g_free(m);
	/* no MIME header at all: a text part, lines that look like
	 * boundaries and From_ lines are content like any other */
	m = message("From: a@example.org\nSubject: plain\n\n--b\nFrom nobody\n--b--\n", 300, "\n", TRUE);
	check(m, strlen(m), 100, 0, FALSE, TRUE);
	g_free(m);
}

static void
test_leaf_refused(void)
{
	char *m, *head;
	GString *g;
	unsigned i;

	/* a multipart, whose boundary lies beyond the prefix or inside it */
	m = message("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
		    "Content-Type: text/plain\n\n",
		    300, "\n", TRUE);
	check(m, strlen(m), 200, 0, FALSE, FALSE);
	check(m, strlen(m), (gint64) strlen(m) - 1, 0, FALSE, FALSE);
	g_free(m);
	/* a message/rfc822 */
	m = message("From: a@example.org\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n"
		    "From: b@example.org\nSubject: inner\n\n",
		    300, "\n", TRUE);
	check(m, strlen(m), 200, 0, FALSE, FALSE);
	g_free(m);
	/* a header block longer than the prefix, or ending just at it */
	g = g_string_new("From: a@example.org\n");
	for (i = 0; i < 200; i++)
		g_string_append_printf(g, "X-Field-%u: %s\n", i, "a value of some length to fill the block");
	g_string_append(g, "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n\n");
	head = g_string_free(g, FALSE);
	m = message(head, 300, "\n", TRUE);
	check(m, strlen(m), 4096, 0, FALSE, FALSE);
	check(m, strlen(m), (gint64) strlen(head), 0, FALSE, FALSE);
	check(m, strlen(m), (gint64) strlen(head) + 1, 0, FALSE, TRUE);
	g_free(m);
	g_free(head);
	/* shorter than the prefix: the whole parse is the only one */
	check(smime_lf, strlen(smime_lf), 1 << 20, 0, FALSE, FALSE);
	/* another kind of stream */
	{
		GMimeStream *null = g_mime_stream_null_new();
		g_assert_null(gs_message_parse_leaf(null, 10));
		g_object_unref(null);
	}
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/parse/leaf/same", test_leaf_same);
	g_test_add_func("/parse/leaf/refused", test_leaf_refused);
	return UNIT_RUN();
}
