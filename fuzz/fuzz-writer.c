/* fuzz-writer.c: gs_entity_write (lib/stream.c) against GMime's own
 * writer. Any input is parsed by GMime's parser, as galsmime parses its
 * stdin, once from memory (a GMimeStreamMem, as a decrypted plaintext
 * is) and once from a mapped file (a GMimeStreamMmap, as stdin is), and
 * it and its body are written both ways in both newline formats (LF, as
 * messages go out; CRLF, as signers and verifiers read them), also with
 * every part that is not base64 turned to quoted-printable first (as
 * sign does). The two must be the same bytes, and report the same
 * length: the part contents gs_entity_write copies from memory (the
 * newline conversions put_unix and put_dos, bare CRs, CRLF, lone LFs at
 * any place) must come out as GMime's dos2unix and unix2dos filters make
 * them.
 *
 * gs_base64_stream_new (streaming parts' base64) is checked the same way
 * against GMime's base64 encoder and newline filters, the input written
 * in pieces of varying size, and gs_base64_decode_step (lib/base64.c),
 * fed the input in pieces, against GMime's base64 decoder over the whole
 * (bad characters, '=' in the middle, CRLF or LF, long lines).
 *
 * Seeds: fuzz/seeds/writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "galsmime.h"
#include "gs-private.h"

static void
die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz-writer: %s (%zu vs %zu)\n", what, a, b);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	g_mime_init();
	return 0;
}

static void
to_qp(GMimeObject *o, unsigned depth)
{
	int i;

	if (depth > 64)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		for (i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++)
			to_qp(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1);
	} else if (GMIME_IS_PART(o) &&
		   g_mime_part_get_content_encoding(GMIME_PART(o)) != GMIME_CONTENT_ENCODING_BASE64) {
		g_mime_part_set_content_encoding(GMIME_PART(o), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	}
}

static void
compare(GMimeObject *o)
{
	GMimeNewLineFormat nl[2] = { GMIME_NEWLINE_FORMAT_UNIX, GMIME_NEWLINE_FORMAT_DOS };
	int i;

	for (i = 0; i < 2; i++) {
		GMimeFormatOptions *fo = g_mime_format_options_new();
		GMimeStream *a = g_mime_stream_mem_new(), *b = g_mime_stream_mem_new();
		GByteArray *x, *y;
		ssize_t na, nb;

		g_mime_format_options_set_newline_format(fo, nl[i]);
		na = g_mime_object_write_to_stream(o, fo, a);
		nb = gs_entity_write(o, fo, b);
		x = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(a));
		y = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b));
		if (na != nb)
			die("the lengths written differ", (size_t) na, (size_t) nb);
		if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0)) {
			size_t k = 0;
			while (k < x->len && k < y->len && x->data[k] == y->data[k])
				k++;
			die("the bytes differ at (GMime's length, ours)", k, y->len);
		}
		g_object_unref(a);
		g_object_unref(b);
		g_mime_format_options_free(fo);
	}
}

static void
one(GMimeStream *in)
{
	GMimeParser *p = g_mime_parser_new_with_stream(in);
	GMimeMessage *m;
	GMimeObject *body;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	if (!m)
		return;
	compare(GMIME_OBJECT(m));
	if ((body = g_mime_message_get_mime_part(m))) {
		compare(body);
		to_qp(body, 0);
		compare(body);
	}
	g_object_unref(m);
}

/* gs_base64_stream_new against GMime's base64 encoder and newline
 * filters, the input written in pieces whose sizes the input's first
 * bytes choose. */
static void
compare_base64(const uint8_t *data, size_t size)
{
	unsigned cut = size ? data[0] : 0;
	int dos, ensure;

	for (dos = 0; dos < 2; dos++) {
		for (ensure = 0; ensure < 2; ensure++) {
			GMimeFormatOptions *fo = g_mime_format_options_new();
			GMimeStream *a = g_mime_stream_mem_new(), *b = g_mime_stream_mem_new();
			GMimeStream *fa = g_mime_stream_filter_new(a), *fb;
			GMimeFilter *f;
			GByteArray *x, *y;
			size_t off = 0, piece = 1 + cut % 131;

			g_mime_format_options_set_newline_format(fo, dos ? GMIME_NEWLINE_FORMAT_DOS
									: GMIME_NEWLINE_FORMAT_UNIX);
			f = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_BASE64, TRUE);
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(fa), f);
			g_object_unref(f);
			f = g_mime_format_options_create_newline_filter(fo, ensure);
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(fa), f);
			g_object_unref(f);
			fb = gs_base64_stream_new(b, fo);
			while (off < size) {
				size_t k = MIN(piece, size - off);
				if (g_mime_stream_write(fa, (const char *) data + off, k) != (ssize_t) k ||
				    g_mime_stream_write(fb, (const char *) data + off, k) != (ssize_t) k)
					abort();
				off += k;
				piece = 1 + (piece * 7 + data[off % size]) % 4099;
			}
			if (g_mime_stream_flush(fa) != 0 || g_mime_stream_flush(fb) != 0)
				abort();
			x = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(a));
			y = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b));
			if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0))
				die("base64 out differs (GMime's length, ours)", x->len, y->len);
			g_object_unref(fa);
			g_object_unref(fb);
			g_object_unref(a);
			g_object_unref(b);
			g_mime_format_options_free(fo);
		}
	}
}

/* gs_base64_decode_step, over the input cut in pieces, against GMime's
 * decoder over the whole of it. */
static void
compare_decode(const uint8_t *data, size_t size)
{
	unsigned char *a = g_malloc(size / 4 * 3 + 4), *b = g_malloc(size / 4 * 3 + 4 + 3 * (size / 7 + 1));
	int state = 0;
	guint32 save = 0;
	size_t na, nb = 0, off = 0, piece = size ? 1 + data[size - 1] % 97 : 1;
	gs_base64 d;

	na = g_mime_encoding_base64_decode_step(data, size, a, &state, &save);
	gs_base64_init(&d);
	while (off < size) {
		size_t k = MIN(piece, size - off);
		nb += gs_base64_decode_step(&d, data + off, k, b + nb);
		off += k;
		piece = 1 + (piece * 13 + data[off % size]) % 1031;
	}
	if (na != nb || (na && memcmp(a, b, na) != 0))
		die("base64 decoded differs (GMime's length, ours)", na, nb);
	g_free(a);
	g_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GByteArray *a = g_byte_array_new();
	GMimeStream *mem, *mm;
	int fd;

	compare_base64(data, size);
	compare_decode(data, size);
	g_byte_array_append(a, data, (guint) size);
	mem = g_mime_stream_mem_new_with_byte_array(a);
	one(mem);
	g_object_unref(mem);

	if (size == 0)
		return 0;
	fd = memfd_create("fuzz-writer", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t) size)
		abort();
	/* the stream owns the descriptor */
	if ((mm = g_mime_stream_mmap_new(fd, PROT_READ, MAP_PRIVATE))) {
		one(mm);
		g_object_unref(mm);
	} else {
		close(fd);
	}
	return 0;
}
