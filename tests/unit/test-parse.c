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

static GMimeDataWrapper *
leaf_content(GMimeMessage *m)
{
	GMimeObject *top = g_mime_message_get_mime_part(m);

	g_assert_true(GMIME_IS_PART(top));
	return g_mime_part_get_content(GMIME_PART(top));
}

/* Two leaves' contents are the same slice of the same memory, with the
 * same encoding: where the whole parse put it and where a shortcut did. */
static void
assert_same_slice(GMimeDataWrapper *x, GMimeDataWrapper *y)
{
	GMimeStream *sx = g_mime_data_wrapper_get_stream(x), *sy = g_mime_data_wrapper_get_stream(y);
	const unsigned char *mx, *my;
	size_t nx = 0, ny = 0;

	g_assert_cmpint(sx->bound_start, ==, sy->bound_start);
	mx = gs_stream_memory(sx, &nx);
	my = gs_stream_memory(sy, &ny);
	g_assert_nonnull(mx);
	g_assert_nonnull(my);
	g_assert_cmpuint(nx, ==, ny);
	g_assert_true(memcmp(mx, my, nx) == 0);
	g_assert_cmpint(g_mime_data_wrapper_get_encoding(x), ==, g_mime_data_wrapper_get_encoding(y));
}

/* The same bytes, `pos` bytes into two memory streams or two mappings
 * of one file, each at `pos`: one for GMime's parse of the whole, one
 * for the shortcut. */
typedef struct {
	GByteArray *buf;
	GMimeStream *a, *b;
	char *path;
	int fd;
} two_streams;

static void
two_streams_open(two_streams *t, const char *msg, size_t len, size_t pos, gboolean mapped)
{
	guint i;

	t->buf = g_byte_array_new();
	t->path = NULL;
	t->fd = -1;
	for (i = 0; i < pos; i++)
		g_byte_array_append(t->buf, (const guint8 *) "x", 1);
	g_byte_array_append(t->buf, (const guint8 *) msg, (guint) len);
	if (mapped) {
		GError *err = NULL;
		t->fd = g_file_open_tmp("parse-XXXXXX", &t->path, &err);
		g_assert_no_error(err);
		g_assert_cmpint(write(t->fd, t->buf->data, t->buf->len), ==, (ssize_t) t->buf->len);
		t->a = g_mime_stream_mmap_new_with_bounds(t->fd, PROT_READ, MAP_PRIVATE, 0, t->buf->len);
		t->b = g_mime_stream_mmap_new_with_bounds(t->fd, PROT_READ, MAP_PRIVATE, 0, t->buf->len);
		g_mime_stream_mmap_set_owner(GMIME_STREAM_MMAP(t->a), FALSE);
		g_mime_stream_mmap_set_owner(GMIME_STREAM_MMAP(t->b), FALSE);
	} else {
		t->a = g_mime_stream_mem_new_with_buffer((const char *) t->buf->data, t->buf->len);
		t->b = g_mime_stream_mem_new_with_buffer((const char *) t->buf->data, t->buf->len);
	}
	g_mime_stream_seek(t->a, (gint64) pos, GMIME_STREAM_SEEK_SET);
	g_mime_stream_seek(t->b, (gint64) pos, GMIME_STREAM_SEEK_SET);
}

static void
two_streams_close(two_streams *t)
{
	g_object_unref(t->a);
	g_object_unref(t->b);
	if (t->fd >= 0) {
		close(t->fd);
		g_unlink(t->path);
		g_free(t->path);
	}
	g_byte_array_unref(t->buf);
}

/* Both parses of `msg`, placed at offset `pos` of a memory stream (or a
 * mapped file with `mapped`): the shortcut answers (want_leaf) and gives
 * what the whole parse gives, or it gives NULL. */
static void
check(const char *msg, size_t len, gint64 prefix, size_t pos, gboolean mapped, gboolean want_leaf)
{
	two_streams t;
	GMimeStream *a, *b;
	GMimeMessage *whole, *leaf;

	two_streams_open(&t, msg, len, pos, mapped);
	a = t.a;
	b = t.b;
	whole = parse_whole(a);
	leaf = gs_message_parse_leaf(b, prefix);
	g_assert_nonnull(whole);
	if (!want_leaf) {
		g_assert_null(leaf);
	} else {
		char *wa, *wb;

		g_assert_nonnull(leaf);
		assert_same_slice(leaf_content(whole), leaf_content(leaf));
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
	two_streams_close(&t);
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

/* ---- gs_message_parse_cut ---- */

static void
leaves(GMimeObject *o, GPtrArray *out)
{
	if (GMIME_IS_MULTIPART(o)) {
		int i, n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			leaves(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), out);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		leaves(g_mime_message_get_mime_part(g_mime_message_part_get_message(GMIME_MESSAGE_PART(o))), out);
	} else if (GMIME_IS_PART(o)) {
		g_ptr_array_add(out, o);
	}
}

/* Both parses of `msg` at offset `pos` of a memory stream or a mapped
 * file: the cut answers (want) and gives the whole parse's message
 * (every leaf the same slice of the input, the same bytes written back,
 * the stream left at the same place), or it gives NULL. */
static void
check_cut(const char *msg, size_t min, size_t pos, gboolean mapped, gboolean want)
{
	two_streams t;
	GMimeMessage *whole, *cut;
	int entity;

	/* as a message (gs_message_parse), then as an entity
	 * (gs_entity_parse, what a decrypted content is parsed as) */
	for (entity = 0; entity < 2; entity++) {
		GMimeObject *ow, *oc;
		guint i;

		two_streams_open(&t, msg, strlen(msg), pos, mapped);
		if (entity) {
			GMimeParser *p = g_mime_parser_new_with_stream(t.a);
			ow = g_mime_parser_construct_part(p, NULL);
			g_object_unref(p);
			oc = gs_entity_parse_cut(t.b, min);
			whole = cut = NULL;
		} else {
			whole = parse_whole(t.a);
			cut = gs_message_parse_cut(t.b, min);
			ow = whole ? g_mime_message_get_mime_part(whole) : NULL;
			oc = cut ? g_mime_message_get_mime_part(cut) : NULL;
		}
		g_assert_nonnull(ow);
		if (!want) {
			g_assert_null(oc);
		} else {
			GPtrArray *la = g_ptr_array_new(), *lb = g_ptr_array_new();
			char *wa, *wb;

			g_assert_nonnull(oc);
			leaves(ow, la);
			leaves(oc, lb);
			g_assert_cmpuint(la->len, ==, lb->len);
			for (i = 0; i < la->len; i++) {
				GMimeDataWrapper *x = g_mime_part_get_content(la->pdata[i]);
				GMimeDataWrapper *y = g_mime_part_get_content(lb->pdata[i]);

				/* the cut's slices end where GMime's do, too */
				g_assert_cmpint(g_mime_data_wrapper_get_stream(x)->bound_end, ==,
						g_mime_data_wrapper_get_stream(y)->bound_end);
				assert_same_slice(x, y);
			}
			wa = entity ? g_mime_object_to_string(ow, NULL) : written(whole);
			wb = entity ? g_mime_object_to_string(oc, NULL) : written(cut);
			g_assert_cmpstr(wa, ==, wb);
			g_assert_cmpint(g_mime_stream_tell(t.b), ==, g_mime_stream_tell(t.a));
			g_free(wa);
			g_free(wb);
			g_ptr_array_free(la, TRUE);
			g_ptr_array_free(lb, TRUE);
		}
		if (entity) {
			g_object_unref(ow);
			if (oc)
				g_object_unref(oc);
		} else {
			g_object_unref(whole);
			if (cut)
				g_object_unref(cut);
		}
		two_streams_close(&t);
	}
}

/* base64 lines, as message() writes them */
static char *
b64_lines(unsigned lines, const char *nl)
{
	char *m = message("", lines, nl, TRUE);
	return m;
}

static void
test_cut_same(void)
{
	char *b = b64_lines(300, "\n"), *b2 = b64_lines(200, "\r\n"), *m;

	/* an attachment beside a text part, the boundary right after it or
	 * after an empty line; several attachments; LF and CRLF */
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
			"This is a multi-part message in MIME format.\n--b\nContent-Type: text/plain\n\nHello\n--b\n"
			"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n", b, "--b\n"
			"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n", b, "\n--b--\n", NULL);
	check_cut(m, 1024, 0, FALSE, TRUE);
	check_cut(m, 1024, 0, TRUE, TRUE);
	check_cut(m, 1024, 333, TRUE, TRUE);
	g_free(m);
	m = g_strconcat("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n", b2,
			"--b--\r\n", NULL);
	check_cut(m, 1024, 0, FALSE, TRUE);
	g_free(m);
	/* inside a signed part, inside an attached message */
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/signed; "
			"protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s\n\n--s\n"
			"Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: message/rfc822\n\n"
			"From: c@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=i\n\n--i\n"
			"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n", b,
			"--i--\n\n--m--\n\n--s\nContent-Type: application/pkcs7-signature\n"
			"Content-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCA\n--s--\n", NULL);
	check_cut(m, 1024, 0, FALSE, TRUE);
	check_cut(m, 1024, 0, TRUE, TRUE);
	g_free(m);
	/* no closing boundary: the attachment runs to the end */
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
			"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n", b, NULL);
	check_cut(m, 1024, 0, FALSE, TRUE);
	g_free(m);
	g_free(b);
	g_free(b2);
}

static void
test_cut_refused(void)
{
	char *b = b64_lines(300, "\n"), *m;
	GString *g = g_string_new("");
	unsigned i;

	/* the lines without '-' are a preamble, an epilogue: not a leaf's */
	for (i = 0; i < 300; i++)
		g_string_append(g, "preamble text that goes on and on without a dash\n");
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n",
			g->str, "--b\nContent-Type: text/plain\n\nhi\n--b--\n", NULL);
	check_cut(m, 1024, 0, FALSE, FALSE);
	g_free(m);
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
			"--b\nContent-Type: text/plain\n\nhi\n--b--\n", g->str, NULL);
	check_cut(m, 1024, 0, FALSE, FALSE);
	g_free(m);
	/* a run shorter than the smallest cut; the message's own header */
	m = g_strconcat("From: a@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
			"--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n", b, "--b--\n", NULL);
	check_cut(m, strlen(b) + 1, 0, FALSE, FALSE);
	g_free(m);
	m = g_strconcat("From: a@example.org\nX: ", g->str, "\nMIME-Version: 1.0\n\nhello\n", NULL);
	check_cut(m, 1024, 0, FALSE, FALSE);
	g_free(m);
	/* another kind of stream */
	{
		GMimeStream *null = g_mime_stream_null_new();
		g_assert_null(gs_message_parse_cut(null, 10));
		g_object_unref(null);
	}
	g_string_free(g, TRUE);
	g_free(b);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/parse/leaf/same", test_leaf_same);
	g_test_add_func("/parse/leaf/refused", test_leaf_refused);
	g_test_add_func("/parse/cut/same", test_cut_same);
	g_test_add_func("/parse/cut/refused", test_cut_refused);
	return UNIT_RUN();
}
