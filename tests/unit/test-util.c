/* test-util.c: the small library functions the front end calls instead
 * of its own loops: line ends (gs_crlf_canon, gs_crlf_strip and its
 * in-place form), PEM
 * armour, a certificate file's fingerprint, the entity mutt reads
 * back after decryption (gs_mutt_entity), base64 decoding, stdout's
 * stream and a part's content written from memory. */
#include "unit.h"

static void
assert_bytes(GByteArray *a, const char *want)
{
	g_assert_nonnull(a);
	g_assert_cmpuint(a->len, ==, strlen(want));
	g_assert_true(memcmp(a->data, want, a->len) == 0);
	g_byte_array_unref(a);
}

/* ---- line ends ---- */

static void
test_crlf_canon(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "", "" },
		{ "a", "a" },
		{ "a\n", "a\r\n" },
		{ "\n", "\r\n" },
		{ "\n\n", "\r\n\r\n" },
		{ "a\r\nb\n", "a\r\nb\r\n" },      /* a CRLF already there stays one */
		{ "a\rb\n", "a\rb\r\n" },          /* a lone CR is content */
		{ "a\r\r\n", "a\r\r\n" },
		{ "a\nb", "a\r\nb" },              /* no newline at the end */
		{ "\r\n\n\r\n", "\r\n\r\n\r\n" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		assert_bytes(gs_crlf_canon(cases[i].in, strlen(cases[i].in)), cases[i].want);
	assert_bytes(gs_crlf_canon(NULL, 0), "");
}

static void
test_crlf_strip(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "", "" },
		{ "a\r\n", "a\n" },
		{ "\r\n", "\n" },
		{ "\r\n\r\n", "\n\n" },
		{ "a\nb\r\n", "a\nb\n" },
		{ "a\rb", "a\rb" },                /* a lone CR stays */
		{ "a\r", "a\r" },
		{ "a\r\r\n", "a\r\n" },            /* only the CR before LF goes */
		{ "a\r\nb", "a\nb" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char buf[16];
		size_t n = strlen(cases[i].in);

		assert_bytes(gs_crlf_strip(cases[i].in, n), cases[i].want);
		/* in place (decrypt's plaintext), the same */
		memcpy(buf, cases[i].in, n);
		n = gs_crlf_strip_inplace(buf, n);
		g_assert_cmpuint(n, ==, strlen(cases[i].want));
		g_assert_true(memcmp(buf, cases[i].want, n) == 0);
	}
	assert_bytes(gs_crlf_strip(NULL, 0), "");
	g_assert_cmpuint(gs_crlf_strip_inplace(NULL, 0), ==, 0);
}

/* canon then strip gives back LF text; large input crosses no block edge
 * badly (every 1000th byte a line end) */
static void
test_crlf_round_trip(void)
{
	GString *g = g_string_new(NULL);
	GByteArray *c, *s;
	size_t i, lines = 0;

	for (i = 0; i < 300000; i++) {
		if (i % 1000 == 999) {
			g_string_append_c(g, '\n');
			lines++;
		} else
			g_string_append_c(g, (char) ('a' + i % 26));
	}
	c = gs_crlf_canon(g->str, g->len);
	g_assert_cmpuint(c->len, ==, g->len + lines);
	s = gs_crlf_strip(c->data, c->len);
	g_assert_cmpuint(s->len, ==, g->len);
	g_assert_true(memcmp(s->data, g->str, g->len) == 0);
	g_byte_array_unref(c);
	g_byte_array_unref(s);
	g_string_free(g, TRUE);
}

/* ---- PEM armour ---- */

static void
test_pem_armour_round_trip(void)
{
	guint8 der[200];
	char *pem;
	BIO *b;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long len = 0;
	size_t i;
	gchar **lines;

	for (i = 0; i < sizeof der; i++)
		der[i] = (guint8) (i * 7 + 3);
	pem = gs_pem_armour("PKCS7", der, sizeof der);
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN PKCS7-----\n"));
	g_assert_true(g_str_has_suffix(pem, "-----END PKCS7-----\n"));
	/* lines of 64 base64 characters, the last one shorter */
	lines = g_strsplit(pem, "\n", -1);
	/* 200 bytes are 268 characters: four full lines and 12 */
	for (i = 1; i <= 4; i++)
		g_assert_cmpuint(strlen(lines[i]), ==, 64);
	g_assert_cmpuint(strlen(lines[5]), ==, 12);
	g_assert_cmpstr(lines[6], ==, "-----END PKCS7-----");
	g_strfreev(lines);
	/* OpenSSL reads it back to the same bytes */
	b = BIO_new_mem_buf(pem, -1);
	g_assert_true(PEM_read_bio(b, &name, &header, &data, &len) == 1);
	g_assert_cmpstr(name, ==, "PKCS7");
	g_assert_cmpint(len, ==, (long) sizeof der);
	g_assert_true(memcmp(data, der, sizeof der) == 0);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	g_free(pem);
}

/* ---- a certificate file's fingerprint ---- */

static void
test_fingerprint(void)
{
	cert_spec sp = { .cn = "Fp", .subject_email = "fp@example.org" };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);
	char *want = gs_cert_sha256_hex(x), *hex = NULL, *msg = NULL, *pem, *text;
	GByteArray *junk;

	g_assert_cmpint(dlen, >, 0);
	/* DER */
	g_assert_cmpint(gs_cert_fingerprint(der, (size_t) dlen, &hex, &msg), ==, GS_OK);
	g_assert_cmpstr(hex, ==, want);
	g_free(hex);
	/* PEM after text, as openssl x509 -text writes it, then a second
	 * certificate: the first one counts */
	pem = gs_pem_armour("CERTIFICATE", der, (size_t) dlen);
	text = g_strconcat("Certificate:\n    Data: ...\n", pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", NULL);
	g_assert_cmpint(gs_cert_fingerprint(text, strlen(text), &hex, &msg), ==, GS_OK);
	g_assert_cmpstr(hex, ==, want);
	g_free(hex);
	g_free(text);
	g_free(pem);
	/* DER with bytes after it is not one certificate */
	junk = g_byte_array_new();
	g_byte_array_append(junk, der, (guint) dlen);
	g_byte_array_append(junk, (const guint8 *) "xx", 2);
	hex = (char *) 1;
	g_assert_cmpint(gs_cert_fingerprint(junk->data, junk->len, &hex, &msg), ==, GS_E_MALFORMED);
	g_assert_null(hex);
	g_clear_pointer(&msg, g_free);
	g_byte_array_unref(junk);
	/* garbage, a truncated certificate, nothing */
	g_assert_cmpint(gs_cert_fingerprint("garbage", 7, &hex, &msg), ==, GS_E_MALFORMED);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(gs_cert_fingerprint(der, (size_t) dlen / 2, &hex, &msg), ==, GS_E_MALFORMED);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(gs_cert_fingerprint("", 0, &hex, &msg), ==, GS_E_MALFORMED);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(gs_cert_fingerprint(NULL, 0, &hex, &msg), ==, GS_E_PROGRAMMER);
	g_clear_pointer(&msg, g_free);
	g_free(want);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* ---- what mutt reads back from decrypt ---- */

static void
test_mutt_entity(void)
{
	static const char entity[] = "Content-Type: text/plain\r\n\r\nhello\r\n";
	static const char bare[] = "just text\r\nno headers\r\n";
	GByteArray *e = NULL;
	char *msg = NULL, *s;

	/* an entity: line ends made LF, nothing else changes */
	g_assert_cmpint(gs_mutt_entity(entity, strlen(entity), &e, &msg), ==, GS_OK);
	assert_bytes(e, "Content-Type: text/plain\n\nhello\n");
	/* content with no MIME headers becomes one text/plain part holding
	 * it byte for byte */
	g_assert_cmpint(gs_mutt_entity(bare, strlen(bare), &e, &msg), ==, GS_OK);
	s = g_strndup((const char *) e->data, e->len);
	g_assert_true(g_str_has_prefix(s, "Content-Type: text/plain"));
	g_assert_nonnull(strstr(s, "\n\njust text\nno headers\n"));
	g_assert_null(strchr(s, '\r'));
	g_free(s);
	g_byte_array_unref(e);
	/* binary content with no MIME headers: base64 of every byte, the
	 * CRs in it too (stripping line ends first would lose them) */
	{
		static const guint8 bin[] = { 0x00, 0xff, '\r', '\n', 0x80, '\r', 0x01, '\r' };
		GMimeStream *ms;
		GMimeParser *p;
		GMimeObject *part;
		GMimeDataWrapper *w;
		GByteArray *back = g_byte_array_new();

		g_assert_cmpint(gs_mutt_entity(bin, sizeof bin, &e, &msg), ==, GS_OK);
		ms = g_mime_stream_mem_new_with_buffer((const char *) e->data, e->len);
		p = g_mime_parser_new_with_stream(ms);
		part = g_mime_parser_construct_part(p, NULL);
		g_assert_nonnull(part);
		w = g_mime_part_get_content(GMIME_PART(part));
		g_mime_data_wrapper_write_to_stream(w, g_mime_stream_mem_new_with_byte_array(back));
		g_assert_cmpuint(back->len, ==, sizeof bin);
		g_assert_true(memcmp(back->data, bin, sizeof bin) == 0);
		g_object_unref(part);
		g_object_unref(p);
		g_object_unref(ms);
		g_byte_array_unref(e);
	}
	/* empty: an error, not an empty entity */
	e = (GByteArray *) 1;
	g_assert_cmpint(gs_mutt_entity("", 0, &e, &msg), ==, GS_E_MALFORMED);
	g_assert_null(e);
	g_assert_nonnull(strstr(msg, "empty"));
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(gs_mutt_entity("\r\n", 0, NULL, &msg), ==, GS_E_PROGRAMMER);
	g_clear_pointer(&msg, g_free);
}


/* ---- base64: galsmime's decoder against GMime's ---- */

/* gs_base64_decode_step over `in` fed in pieces of `piece` bytes gives
 * what GMime's decoder gives over the whole. */
static void
assert_base64_same(const char *in, size_t len, size_t piece)
{
	guchar *a = g_malloc(len + 4), *b = g_malloc(len + 4);
	int state = 0;
	guint save = 0;
	size_t na, nb = 0, off;
	gs_base64 d;

	na = g_mime_encoding_base64_decode_step((const guchar *) in, len, a, &state, &save);
	gs_base64_init(&d);
	for (off = 0; off < len; off += piece)
		nb += gs_base64_decode_step(&d, (const guchar *) in + off, MIN(piece, len - off), b + nb);
	g_assert_cmpuint(nb, ==, na);
	g_assert_true(memcmp(a, b, na) == 0);
	g_free(a);
	g_free(b);
}

/* The block decoder (AVX2 where the CPU has it) and the quartet one
 * behind it: every byte value at every place of a 32-character block
 * is refused exactly when it is not in the alphabet ('=' included), and
 * what is decoded is GMime's decoding; then blocks of every length to
 * 200 characters (32 at a time, then quartets) and at every offset. */
static void
test_base64_blocks(void)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char in[256], out[256], want[256];
	guint pos, v, len, off, i;

	for (pos = 0; pos < 32; pos++)
		for (v = 0; v < 256; v++) {
			int state = 0, ok;
			guint save = 0;
			size_t n;

			for (i = 0; i < 32; i++)
				in[i] = (unsigned char) abc[(i * 7 + pos) % 64];
			in[pos] = (unsigned char) v;
			ok = v < 128 && v && strchr(abc, (int) v) != NULL;
			if (!ok) {
				g_assert_null(gs_base64_decode_whole(in, 32, out));
				continue;
			}
			g_assert_true(gs_base64_decode_whole(in, 32, out) == out + 24);
			n = g_mime_encoding_base64_decode_step(in, 32, want, &state, &save);
			g_assert_cmpuint(n, ==, 24);
			g_assert_true(memcmp(out, want, 24) == 0);
		}
	for (len = 4; len <= 200; len += 4)
		for (off = 0; off < 4; off++) {
			int state = 0;
			guint save = 0;
			size_t n;

			for (i = 0; i < len; i++)
				in[off + i] = (unsigned char) abc[(i * 37 + len + off) % 64];
			g_assert_true(gs_base64_decode_whole(in + off, len, out) == out + len / 4 * 3);
			n = g_mime_encoding_base64_decode_step(in + off, len, want, &state, &save);
			g_assert_cmpuint(n, ==, len / 4 * 3);
			g_assert_true(memcmp(out, want, n) == 0);
			/* the last character out of the alphabet: refused */
			in[off + len - 1] = '-';
			g_assert_null(gs_base64_decode_whole(in + off, len, out));
		}
	g_assert_null(gs_base64_decode_whole((const unsigned char *) "QUJD", 3, out));
}

static void
test_base64_lines(void)
{
	static const char line[] = "TUlNRS1WZXJzaW9uOiAxLjAKQ29udGVudC1UeXBlOiB0ZXh0L3BsYWluCgpsaW5lIG9mIHRleHQh";
	static const size_t pieces[] = { 1, 7, 76, 77, 4096, 1 << 20 };
	GString *g;
	guint i, k;

	g_assert_cmpuint(strlen(line), ==, 76);
	for (k = 0; k < 7; k++) {
		g = g_string_new(NULL);
		for (i = 0; i < 300; i++) {
			if (k == 2 && i == 150) {
				/* a line end where the last line's length does not
				 * predict it, and one where the guess lands on a
				 * later line end */
				g_string_append(g, "QUJD\nREVG");
				g_string_append_len(g, line, 68);
			} else if (k == 3 && i == 200) {
				/* '=' inside a line: GMime's decoder stops there */
				g_string_append_len(g, line, 40);
				g_string_append_c(g, '=');
				g_string_append(g, line + 41);
			} else if (k == 4 && i == 100) {
				/* junk inside a line: skipped */
				g_string_append_len(g, line, 30);
				g_string_append(g, "*!");
				g_string_append(g, line + 30);
			} else if (k == 5 && i == 120) {
				/* a short line: the quartets no longer line up */
				g_string_append_len(g, line, 74);
			} else {
				g_string_append(g, line);
			}
			g_string_append(g, k == 1 || k == 6 ? "\r\n" : "\n");
			if (k == 6 && i == 250)
				g_string_append(g, "\n\n"); /* empty lines */
		}
		g_string_append(g, "QUI=\n");
		for (i = 0; i < G_N_ELEMENTS(pieces); i++)
			assert_base64_same(g->str, g->len, pieces[i]);
		g_string_free(g, TRUE);
	}
}


/* ---- stdout's stream: writes come out in the order they were made ---- */

/* Writes of every size around the stream's buffer (128 KiB) and half of
 * it, after small ones still buffered: a large write that fit the buffer
 * once went out ahead of what was buffered (a decrypted part of 64-128
 * KiB came out before its header fields). */
static void
test_output_order(void)
{
	static const size_t sizes[] = { 10, 65536, 3, 70000, 131072, 1, 200000, 65535, 5, 65537, 100000,
					131071, 7, 64000, 64000, 2, 131073, 1, 98304, 40000, 40000, 40000 };
	GByteArray *want = g_byte_array_new();
	GError *err = NULL;
	char *path = NULL, *got = NULL;
	gsize got_len = 0;
	GMimeStream *st;
	guint i;
	size_t k;
	int fd = g_file_open_tmp("out-XXXXXX", &path, &err);

	g_assert_no_error(err);
	st = gs_output_stream_new(fd);
	for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
		guint8 *chunk = g_malloc(sizes[i]);
		for (k = 0; k < sizes[i]; k++)
			chunk[k] = (guint8) ('a' + i % 26);
		g_assert_cmpint(g_mime_stream_write(st, (const char *) chunk, sizes[i]), ==, (gssize) sizes[i]);
		g_byte_array_append(want, chunk, (guint) sizes[i]);
		g_free(chunk);
	}
	g_assert_cmpint(g_mime_stream_flush(st), ==, 0);
	g_object_unref(st);
	g_assert_true(g_file_get_contents(path, &got, &got_len, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(got_len, ==, want->len);
	g_assert_true(memcmp(got, want->data, want->len) == 0);
	g_unlink(path);
	g_free(path);
	g_free(got);
	g_byte_array_unref(want);
}

/* ---- a part's content written from memory (gs_entity_write) ---- */

/* Lines whose line ends fall on and around the edge of the writer's 64
 * KiB buffer, LF and CRLF, the CR of a CRLF as the buffer's last byte
 * and the LF in the next: written as GMime writes them, in both newline
 * formats. (The fuzz target fuzz-writer checks the same for small
 * inputs, which never fill the buffer.) */
static void
test_entity_long_lines(void)
{
	static const size_t lens[] = { 65536, 65530, 65533, 65534, 65535, 65537, 70000, 131071, 131072 };
	guint shift, i, k, nl;

	for (shift = 0; shift < 4; shift++) {
		GString *g = g_string_new("From: a@example.org\nMIME-Version: 1.0\nContent-Type: text/plain\n"
					  "Content-Transfer-Encoding: 8bit\n\n");
		GMimeStream *in;
		GMimeParser *parser;
		GMimeMessage *m;

		/* an empty line first, then 0-2 short lines */
		for (i = 0; i < shift; i++)
			g_string_append(g, i ? "a\n" : "\n");
		for (k = 0; k < G_N_ELEMENTS(lens); k++) {
			/* CRLF first: with no short lines before it (shift 0), the
			 * first line and its CR fill the buffer exactly */
			for (nl = 2; nl-- > 0;) {
				for (i = 0; i < lens[k] - nl; i++)
					g_string_append_c(g, (char) ('a' + (i + k) % 26));
				g_string_append(g, nl ? "\r\n" : "\n");
			}
		}
		in = g_mime_stream_mem_new_with_buffer(g->str, g->len);
		parser = g_mime_parser_new_with_stream(in);
		m = g_mime_parser_construct_message(parser, NULL);
		g_assert_nonnull(m);
		for (nl = 0; nl < 2; nl++) {
			GMimeFormatOptions *fo = g_mime_format_options_new();
			GMimeStream *a = g_mime_stream_mem_new(), *b = g_mime_stream_mem_new();
			GByteArray *x, *y;

			g_mime_format_options_set_newline_format(fo, nl ? GMIME_NEWLINE_FORMAT_DOS
									: GMIME_NEWLINE_FORMAT_UNIX);
			g_assert_cmpint(gs_entity_write(GMIME_OBJECT(m), fo, b), ==,
					g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, a));
			x = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(a));
			y = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(b));
			g_assert_cmpuint(x->len, >, g->len / 2);
			g_assert_cmpuint(y->len, ==, x->len);
			g_assert_true(memcmp(x->data, y->data, x->len) == 0);
			g_object_unref(a);
			g_object_unref(b);
			g_mime_format_options_free(fo);
		}
		g_object_unref(m);
		g_object_unref(parser);
		g_object_unref(in);
		g_string_free(g, TRUE);
	}
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/util/crlf/canon", test_crlf_canon);
	g_test_add_func("/util/crlf/strip", test_crlf_strip);
	g_test_add_func("/util/crlf/round-trip", test_crlf_round_trip);
	g_test_add_func("/util/pem/armour-round-trip", test_pem_armour_round_trip);
	g_test_add_func("/util/cert/fingerprint", test_fingerprint);
	g_test_add_func("/util/mutt/entity", test_mutt_entity);
	g_test_add_func("/util/base64/lines", test_base64_lines);
	g_test_add_func("/util/base64/blocks", test_base64_blocks);
	g_test_add_func("/util/output/order", test_output_order);
	g_test_add_func("/util/entity/long-lines", test_entity_long_lines);
	return UNIT_RUN();
}
