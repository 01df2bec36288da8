/* stream.c: streaming S/MIME parts for GMime. The message layer builds
 * the outgoing message from these, and GMime's own writer, writing the
 * message to stdout, drives the cryptography as it goes: the content is
 * never held whole, whatever its size.
 *
 *  - GsSinkStream: a GMimeStream that writes into an OpenSSL BIO (and
 *    counts), so GMime can serialise straight into a digest or cipher.
 *  - GsCanonStream: multipart/signed's canonical form, as is to the
 *    message and CRLF to the signer, in one pass.
 *  - GsSignedContent: the first part of a multipart/signed. Written, it
 *    writes its entity as GMime's multipart/signed code canonicalises it
 *    (From armoured, trailing white space stripped), and feeds the same
 *    bytes, CRLF, to the signer.
 *  - GsSignaturePart: the second part. Written after the first, it
 *    finishes the signature and writes it, base64.
 *  - GsCmsPart: application/pkcs7-mime whose body is produced while it
 *    is written: the entity, CRLF, through a streaming encryptor or an
 *    encapsulating signer, base64.
 *
 * Each may be written once; a second write is an error. Errors are kept
 * in the part that met them; gs_stream_error finds the first one in a
 * message that failed to write (nothing is kept in the session).
 */
#include "gs-private.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* ---- GsSinkStream ---- */

typedef struct {
	GMimeStream parent;
	BIO *bio;
	gint64 written;
} GsSinkStream;

typedef struct {
	GMimeStreamClass parent_class;
} GsSinkStreamClass;

static GType gs_sink_stream_get_type(void);
G_DEFINE_TYPE(GsSinkStream, gs_sink_stream, GMIME_TYPE_STREAM)

static ssize_t
sink_write(GMimeStream *stream, const char *buf, size_t len)
{
	GsSinkStream *s = (GsSinkStream *) stream;
	size_t done = 0;

	while (done < len) {
		int chunk = (int) MIN(len - done, (size_t) 1 << 30);
		int n = BIO_write(s->bio, buf + done, chunk);
		if (n <= 0) {
			/* the output's own error when OpenSSL failed writing it */
			int e = gs_bio_stream_errno(s->bio);
			errno = e ? e : EIO;
			return -1;
		}
		done += (size_t) n;
	}
	s->written += (gint64) len;
	stream->position += (gint64) len;
	return (ssize_t) len;
}

static ssize_t
sink_read(GMimeStream *stream, char *buf, size_t len)
{
	(void) stream;
	(void) buf;
	(void) len;
	errno = EBADF;
	return -1;
}

static int
sink_flush(GMimeStream *stream)
{
	(void) stream;
	return 0; /* the owner flushes the BIO when the content is complete */
}

static int
sink_close(GMimeStream *stream)
{
	(void) stream;
	return 0;
}

static gboolean
sink_eos(GMimeStream *stream)
{
	(void) stream;
	return TRUE;
}

static int
sink_reset(GMimeStream *stream)
{
	(void) stream;
	return 0;
}

static gint64
sink_seek(GMimeStream *stream, gint64 offset, GMimeSeekWhence whence)
{
	(void) stream;
	(void) offset;
	(void) whence;
	return -1;
}

static gint64
sink_tell(GMimeStream *stream)
{
	return stream->position;
}

static gint64
sink_length(GMimeStream *stream)
{
	(void) stream;
	return -1;
}

static GMimeStream *
sink_substream(GMimeStream *stream, gint64 start, gint64 end)
{
	(void) stream;
	(void) start;
	(void) end;
	return NULL;
}

/* The class of a stream that is only written to: no reading, no seeking. */
static void
write_only_class(GMimeStreamClass *c, ssize_t (*write)(GMimeStream *, const char *, size_t),
		 int (*flush)(GMimeStream *))
{
	c->read = sink_read;
	c->write = write;
	c->flush = flush;
	c->close = sink_close;
	c->eos = sink_eos;
	c->reset = sink_reset;
	c->seek = sink_seek;
	c->tell = sink_tell;
	c->length = sink_length;
	c->substream = sink_substream;
}

static void
gs_sink_stream_class_init(GsSinkStreamClass *klass)
{
	GMimeStreamClass *c = GMIME_STREAM_CLASS(klass);

	write_only_class(c, sink_write, sink_flush);
}

static void
gs_sink_stream_init(GsSinkStream *s)
{
	(void) s;
}

GMimeStream *
gs_sink_stream_new(BIO *bio)
{
	GsSinkStream *s = g_object_new(gs_sink_stream_get_type(), NULL);

	g_mime_stream_construct(GMIME_STREAM(s), 0, -1);
	s->bio = bio;
	return GMIME_STREAM(s);
}

/* ---- GsOutStream: a filter's stdout ---- */

/* GMime's buffer stream writes in 4 KiB blocks whatever it is given: a
 * system call per 4 KiB of a 35 MB message. This one gathers small
 * writes (header fields, boundaries) and passes large ones (the bulk of
 * a message) to write(2) as they are. */
#define OUT_BUF (128 * 1024)

typedef struct {
	GMimeStream parent;
	int fd;
	size_t len;
	char *buf;
} GsOutStream;

typedef struct {
	GMimeStreamClass parent_class;
} GsOutStreamClass;

static GType gs_out_stream_get_type(void);
G_DEFINE_TYPE(GsOutStream, gs_out_stream, GMIME_TYPE_STREAM)

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* a non-blocking stdout: wait until it takes more */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
				continue;
			return -1;
		}
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		p += k;
		n -= (size_t) k;
	}
	return 0;
}

static int
out_flush(GMimeStream *stream)
{
	GsOutStream *o = (GsOutStream *) stream;

	if (o->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (o->len && write_all(o->fd, o->buf, o->len) != 0)
		return -1;
	o->len = 0;
	return 0;
}

static ssize_t
out_write(GMimeStream *stream, const char *buf, size_t len)
{
	GsOutStream *o = (GsOutStream *) stream;

	if (o->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (len >= OUT_BUF / 2) {
		/* what is buffered goes first, then this as it is (a large
		 * write that still fit the buffer went out ahead of it: a
		 * part of 64-128 KiB came out before its own header fields) */
		if (out_flush(stream) != 0 || write_all(o->fd, buf, len) != 0)
			return -1;
	} else {
		if (len > OUT_BUF - o->len && out_flush(stream) != 0)
			return -1;
		memcpy(o->buf + o->len, buf, len);
		o->len += len;
	}
	stream->position += (gint64) len;
	return (ssize_t) len;
}

static int
out_close(GMimeStream *stream)
{
	GsOutStream *o = (GsOutStream *) stream;
	int rc = 0;

	if (o->fd < 0)
		return 0;
	rc = out_flush(stream);
	if (close(o->fd) != 0)
		rc = -1;
	o->fd = -1;
	return rc;
}

static void
out_finalize(GObject *obj)
{
	GsOutStream *o = (GsOutStream *) obj;

	/* what was not flushed stays unwritten: a message that did not get
	 * out whole gets no more of it out */
	if (o->fd >= 0)
		close(o->fd);
	g_free(o->buf);
	G_OBJECT_CLASS(gs_out_stream_parent_class)->finalize(obj);
}

static gboolean
out_eos(GMimeStream *stream)
{
	(void) stream;
	return FALSE;
}

static void
gs_out_stream_class_init(GsOutStreamClass *klass)
{
	GMimeStreamClass *c = GMIME_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = out_finalize;
	write_only_class(c, out_write, out_flush);
	c->close = out_close;
	c->eos = out_eos;
}

static void
gs_out_stream_init(GsOutStream *o)
{
	o->fd = -1;
}

GMimeStream *
gs_output_stream_new(int fd)
{
	GsOutStream *o = g_object_new(gs_out_stream_get_type(), NULL);

	g_mime_stream_construct(GMIME_STREAM(o), 0, -1);
	o->fd = fd;
	o->buf = g_malloc(OUT_BUF);
	return GMIME_STREAM(o);
}

/* ---- the CRLF form, for OpenSSL ---- */

/* GMime's unix2dos filter, into a buffer: the bytes from *p on are
 * copied to dst (room bytes free), an LF without a CR before it
 * becoming CRLF; *prev is the byte before *p, and stays the last byte
 * taken. Whole lines are taken while they fit with their line end; a
 * line that does not fits in as far as it can (its line end then comes
 * with the next call). Returns the bytes written; *p moves past what was
 * taken, which is something whenever room > 2. Lines are found with
 * memchr and copied with their line end in one step: a 25 MB body is
 * 330 000 lines. */
static size_t
to_crlf(char *dst, size_t room, const char **p, const char *end, char *prev)
{
	const char *q = *p, *nl;
	size_t w = 0;

	while (q < end) {
		size_t k, line_end;

		nl = memchr(q, '\n', (size_t) (end - q));
		k = (size_t) ((nl ? nl : end) - q);
		line_end = !nl ? 0 : (k ? nl[-1] : *prev) == '\r' ? 1 : 2;
		if (k + line_end > room - w) {
			k = MIN(k, room - w);
			memcpy(dst + w, q, k);
			w += k;
			q += k;
			if (k)
				*prev = q[-1];
			break;
		}
		memcpy(dst + w, q, k);
		w += k;
		if (line_end == 2)
			dst[w++] = '\r';
		q += k;
		if (nl) {
			dst[w++] = '\n';
			q++;
		}
		*prev = q[-1];
	}
	*p = q;
	return w;
}

/* A digest or cipher BIO fed a line at a time spends more on the calls
 * than on the bytes: the CRLF form goes to it in large blocks. */
#define CRLF_BUF (64 * 1024)

typedef struct {
	BIO *bio;
	char pc;                 /* the last byte put */
	size_t len;
	char buf[CRLF_BUF];
} crlf_out;

static int
crlf_flush(crlf_out *c)
{
	size_t done = 0;

	while (done < c->len) {
		int n = BIO_write(c->bio, c->buf + done, (int) (c->len - done));
		if (n <= 0) {
			int e = gs_bio_stream_errno(c->bio);
			errno = e ? e : EIO;
			return -1;
		}
		done += (size_t) n;
	}
	c->len = 0;
	return 0;
}

static int
crlf_put(crlf_out *c, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		c->len += to_crlf(c->buf + c->len, CRLF_BUF - c->len, &p, end, &c->pc);
		if (p < end && crlf_flush(c) != 0)
			return -1;
	}
	return 0;
}

/* ---- GsCanonStream: what multipart/signed signs, in one pass ---- */

/* GMime's multipart/signed canonicalisation, as its From filter (ARMOR)
 * and then its strip filter do it: a line starting "From " starts
 * "=46rom " instead, spaces and tabs before a line end (and at the end)
 * go. The result goes as it is to `out` (the message) and CRLF to `crlf`
 * (the signer). Lines are found with memchr; the bytes between the rare
 * changes are written as they came, without a copy. */
typedef struct {
	GMimeStream parent;
	GMimeStream *out;
	crlf_out *crlf;
	int midline;             /* past the start of the current line */
	char head[5];            /* the start of a line that may be "From " */
	size_t headlen;
	GString *ws;             /* trailing spaces and tabs, not yet known to end the line */
} GsCanonStream;

typedef struct {
	GMimeStreamClass parent_class;
} GsCanonStreamClass;

static GType gs_canon_stream_get_type(void);
G_DEFINE_TYPE(GsCanonStream, gs_canon_stream, GMIME_TYPE_STREAM)

static int
canon_emit(GsCanonStream *c, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (g_mime_stream_write(c->out, p, n) != (ssize_t) n)
		return -1;
	return crlf_put(c->crlf, p, n);
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static ssize_t
canon_write(GMimeStream *stream, const char *buf, size_t len)
{
	GsCanonStream *c = (GsCanonStream *) stream;
	const char *p = buf, *end = buf + len, *seg = buf, *nl, *lend, *q;

	while (p < end) {
		if (!c->midline) {
			if (c->headlen == 0 && *p != 'F') {
				c->midline = 1;
				continue;
			}
			if (canon_emit(c, seg, (size_t) (p - seg)) != 0)
				return -1;
			while (c->headlen < 5 && p < end && *p == "From "[c->headlen])
				c->head[c->headlen++] = *p++;
			seg = p;
			if (c->headlen < 5 && p == end)
				break; /* the next write tells */
			if (c->headlen == 5) {
				/* its space may yet be trailing white space */
				if (canon_emit(c, "=46rom", 6) != 0)
					return -1;
				g_string_append_c(c->ws, ' ');
			} else if (canon_emit(c, c->head, c->headlen) != 0) {
				return -1;
			}
			c->headlen = 0;
			c->midline = 1;
		}
		nl = memchr(p, '\n', (size_t) (end - p));
		lend = nl ? nl : end;
		for (q = lend; q > p && is_blank(q[-1]); q--)
			;
		if (q > p && c->ws->len) {
			/* the white space held back was inside the line */
			if (canon_emit(c, seg, (size_t) (p - seg)) != 0 || canon_emit(c, c->ws->str, c->ws->len) != 0)
				return -1;
			g_string_truncate(c->ws, 0);
			seg = p;
		}
		if (q < lend) {
			if (canon_emit(c, seg, (size_t) (q - seg)) != 0)
				return -1;
			seg = lend;
			if (!nl)
				g_string_append_len(c->ws, q, lend - q);
		}
		if (nl) {
			g_string_truncate(c->ws, 0);
			c->midline = 0;
			p = nl + 1;
		} else {
			p = end;
		}
	}
	if (canon_emit(c, seg, (size_t) (p - seg)) != 0)
		return -1;
	stream->position += (gint64) len;
	return (ssize_t) len;
}

static int
canon_flush(GMimeStream *stream)
{
	GsCanonStream *c = (GsCanonStream *) stream;

	/* a last line shorter than "From ": its bytes (GMime's From filter
	 * loses them); white space at the very end goes, as GMime's strip
	 * filter drops it */
	if (c->headlen && canon_emit(c, c->head, c->headlen) != 0)
		return -1;
	c->headlen = 0;
	g_string_truncate(c->ws, 0);
	if (crlf_flush(c->crlf) != 0)
		return -1;
	return g_mime_stream_flush(c->out);
}

static void
canon_finalize(GObject *o)
{
	GsCanonStream *c = (GsCanonStream *) o;

	g_object_unref(c->out);
	g_string_free(c->ws, TRUE);
	g_free(c->crlf);
	G_OBJECT_CLASS(gs_canon_stream_parent_class)->finalize(o);
}

static void
gs_canon_stream_class_init(GsCanonStreamClass *klass)
{
	GMimeStreamClass *c = GMIME_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = canon_finalize;
	write_only_class(c, canon_write, canon_flush);
}

static void
gs_canon_stream_init(GsCanonStream *c)
{
	c->ws = g_string_new(NULL);
}

static GMimeStream *
canon_new(GMimeStream *out, BIO *bio)
{
	GsCanonStream *c = g_object_new(gs_canon_stream_get_type(), NULL);

	g_mime_stream_construct(GMIME_STREAM(c), 0, -1);
	c->out = g_object_ref(out);
	/* not zeroed: a 2 KB message touches one page of the 64 KiB */
	c->crlf = g_new(crlf_out, 1);
	c->crlf->bio = bio;
	c->crlf->pc = 0;
	c->crlf->len = 0;
	return GMIME_STREAM(c);
}

/* ---- GMime's writer, with the bulk bytes copied from memory ---- */

/* GMime writes a part whose encoding does not change (a base64
 * attachment read from the input) by pushing its content stream through
 * a newline filter a byte at a time, in 4 KiB pieces. When that content
 * is a window on memory (the mapped input, or a decrypted plaintext),
 * the same bytes come out here with memchr over the whole window, in
 * large writes. Everything else (header fields, boundaries, parts that
 * are re-encoded, message/rfc822 parts, our own streaming parts) is
 * written by GMime itself, so the output is GMime's, byte for byte. */
#define ENTITY_BUF (64 * 1024)

typedef struct {
	GMimeStream *out;
	size_t len;
	char buf[ENTITY_BUF];
} entity_out;

static int
eo_flush(entity_out *o)
{
	if (o->len && g_mime_stream_write(o->out, o->buf, o->len) != (ssize_t) o->len)
		return -1;
	o->len = 0;
	return 0;
}

/* small pieces gather in the buffer; large ones go as they are */
static int
eo_put(entity_out *o, const char *p, size_t n)
{
	if (n >= ENTITY_BUF / 4) {
		if (eo_flush(o) != 0 || g_mime_stream_write(o->out, p, n) != (ssize_t) n)
			return -1;
		return 0;
	}
	if (n > ENTITY_BUF - o->len && eo_flush(o) != 0)
		return -1;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

/* GMime's dos2unix filter: a CR goes unless a byte other than LF
 * follows it (a CR at the very end goes too). */
static int
put_unix(entity_out *o, const char *p, size_t n)
{
	const char *end = p + n, *cr;

	while ((cr = memchr(p, '\r', (size_t) (end - p)))) {
		if (eo_put(o, p, (size_t) (cr - p)) != 0)
			return -1;
		if (cr + 1 < end && cr[1] != '\n' && eo_put(o, "\r", 1) != 0)
			return -1;
		p = cr + 1;
	}
	return eo_put(o, p, (size_t) (end - p));
}

/* GMime's unix2dos filter (an LF without a CR before it in this part
 * gets one) */
static int
put_dos(entity_out *o, const char *p, size_t n)
{
	const char *end = p + n;
	char prev = 0;

	while (p < end) {
		o->len += to_crlf(o->buf + o->len, ENTITY_BUF - o->len, &p, end, &prev);
		if (p < end && eo_flush(o) != 0)
			return -1;
	}
	return 0;
}

static ssize_t entity_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out,
			    unsigned depth);

static ssize_t
own_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out)
{
	return GMIME_OBJECT_GET_CLASS(o)->write_to_stream(o, fo, content_only, out);
}

static ssize_t
headers_write(GMimeObject *o, GMimeFormatOptions *fo, GMimeStream *out)
{
	ssize_t a, b;

	if ((a = g_mime_header_list_write_to_stream(o->headers, fo, out)) < 0 ||
	    (b = g_mime_stream_write_string(out, g_mime_format_options_get_newline(fo))) < 0)
		return -1;
	return a + b;
}

/* GMime's mime_part_write_to_stream, its content from memory */
static ssize_t
part_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out)
{
	GMimePart *part = GMIME_PART(o);
	entity_out *eo;
	const char *p;
	size_t n;
	ssize_t h = 0;
	int rc;

	if (!part->content || o->ensure_newline ||
	    part->encoding != g_mime_data_wrapper_get_encoding(part->content) ||
	    part->encoding == GMIME_CONTENT_ENCODING_BINARY ||
	    !(p = (const char *) gs_stream_memory(g_mime_data_wrapper_get_stream(part->content), &n)))
		return own_write(o, fo, content_only, out);
	if (!content_only && (h = headers_write(o, fo, out)) < 0)
		return -1;
	eo = g_new(entity_out, 1);
	eo->out = out;
	eo->len = 0;
	if (g_mime_format_options_get_newline_format(fo) == GMIME_NEWLINE_FORMAT_DOS)
		rc = put_dos(eo, p, n);
	else
		rc = put_unix(eo, p, n);
	if (rc == 0)
		rc = eo_flush(eo);
	g_free(eo);
	/* GMime counts the content as it was before its newline filter */
	return rc == 0 ? h + (ssize_t) n : -1;
}

/* GMime's multipart_write_to_stream (with no hidden header fields, its
 * options for a multipart/signed's children are the same) */
static ssize_t
multipart_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out,
		unsigned depth)
{
	GMimeMultipart *mp = GMIME_MULTIPART(o);
	const char *boundary = g_mime_object_get_content_type_parameter(o, "boundary");
	const char *nl = g_mime_format_options_get_newline(fo);
	ssize_t n, total = 0;
	guint i;

#define ADD(expr) do { if ((n = (expr)) < 0) return -1; total += n; } while (0)
	if (!content_only)
		ADD(headers_write(o, fo, out));
	if (mp->prologue) {
		ADD(g_mime_stream_write_string(out, mp->prologue));
		ADD(g_mime_stream_write_string(out, nl));
	}
	for (i = 0; i < mp->children->len; i++) {
		GMimeObject *child = mp->children->pdata[i];

		ADD(g_mime_stream_printf(out, "--%s%s", boundary, nl));
		ADD(entity_write(child, fo, FALSE, out, depth + 1));
		if (!GMIME_IS_MULTIPART(child) || GMIME_MULTIPART(child)->write_end_boundary)
			ADD(g_mime_stream_write_string(out, nl));
	}
	if (mp->write_end_boundary && boundary)
		ADD(g_mime_stream_printf(out, "--%s--%s", boundary, nl));
	if (mp->epilogue)
		ADD(g_mime_stream_write_string(out, mp->epilogue));
#undef ADD
	return total;
}

/* GMime's write_headers_to_stream for a message: its own fields and
 * its body's, in the order they had in the input (by offset), through
 * the newline filter */
static ssize_t
message_headers_write(GMimeObject *o, GMimeObject *body, GMimeFormatOptions *fo, GMimeStream *out)
{
	GMimeHeaderList *mh = o->headers, *bh = body->headers;
	int count = g_mime_header_list_get_count(mh), bcount = g_mime_header_list_get_count(bh);
	int i = 0, bi = 0;
	GMimeStream *filtered;
	GMimeFilter *f;
	ssize_t n, total = 0;

	filtered = g_mime_stream_filter_new(out);
	f = g_mime_format_options_create_newline_filter(fo, FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
	g_object_unref(f);
	while (i < count || bi < bcount) {
		GMimeHeader *h;

		if (i < count && bi < bcount) {
			GMimeHeader *bhdr = g_mime_header_list_get_header_at(bh, bi);
			gint64 boff = g_mime_header_get_offset(bhdr);

			if (boff < 0) {
				/* GMime writes the rest of the message's, then the rest of the body's */
				h = g_mime_header_list_get_header_at(mh, i++);
			} else if (g_mime_header_get_offset(h = g_mime_header_list_get_header_at(mh, i)) < boff) {
				i++;
			} else {
				h = bhdr;
				bi++;
			}
		} else if (i < count) {
			h = g_mime_header_list_get_header_at(mh, i++);
		} else {
			h = g_mime_header_list_get_header_at(bh, bi++);
		}
		if (g_mime_format_options_is_hidden_header(fo, g_mime_header_get_name(h)))
			continue;
		if ((n = g_mime_header_write_to_stream(h, fo, filtered)) < 0) {
			g_object_unref(filtered);
			return -1;
		}
		total += n;
	}
	g_object_unref(filtered);
	return total;
}

/* GMime's message_write_to_stream */
static ssize_t
message_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out, unsigned depth)
{
	GMimeObject *body = g_mime_message_get_mime_part(GMIME_MESSAGE(o));
	ssize_t n, total = 0;

	if (!content_only) {
		n = body ? message_headers_write(o, body, fo, out) : g_mime_header_list_write_to_stream(o->headers, fo, out);
		if (n < 0)
			return -1;
		total += n;
		if ((n = g_mime_stream_write_string(out, g_mime_format_options_get_newline(fo))) < 0)
			return -1;
		total += n;
	}
	if (body) {
		body->ensure_newline = o->ensure_newline;
		n = entity_write(body, fo, TRUE, out, depth + 1);
		body->ensure_newline = FALSE;
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}

static ssize_t
entity_write(GMimeObject *o, GMimeFormatOptions *fo, gboolean content_only, GMimeStream *out, unsigned depth)
{
	GType t = G_OBJECT_TYPE(o);

	/* GMime's own classes only: a subclass (our streaming parts) writes
	 * itself; and GMime's recursion past the depth GMime's parser
	 * builds */
	if (depth > 256)
		return own_write(o, fo, content_only, out);
	if (t == GMIME_TYPE_PART || t == GMIME_TYPE_TEXT_PART || t == GMIME_TYPE_APPLICATION_PKCS7_MIME)
		return part_write(o, fo, content_only, out);
	if (t == GMIME_TYPE_MULTIPART || t == GMIME_TYPE_MULTIPART_SIGNED || t == GMIME_TYPE_MULTIPART_ENCRYPTED)
		return multipart_write(o, fo, content_only, out, depth);
	if (t == GMIME_TYPE_MESSAGE)
		return message_write(o, fo, content_only, out, depth);
	return own_write(o, fo, content_only, out);
}

ssize_t
gs_entity_write(GMimeObject *entity, GMimeFormatOptions *options, GMimeStream *out)
{
	return entity_write(entity, options, FALSE, out, 0);
}

/* ---- writing an entity, canonically, into a BIO ---- */

gs_status
gs_write_entity_crlf(GMimeObject *entity, BIO *bio, char **errmsg)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GMimeStream *sink = gs_sink_stream_new(bio);
	ssize_t n;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	n = gs_entity_write(entity, fo, sink);
	g_mime_format_options_free(fo);
	g_object_unref(sink);
	if (n < 0)
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot pass the content to OpenSSL");
	return GS_OK;
}

/* ---- the parts ---- */

/* What a streaming part keeps: its entity, the crypto to run, an error. */
typedef struct stream_job {
	gs_session *s;
	GMimeObject *entity;
	int written;
	gs_cms_signer *signer;   /* detached signing: fed by the content part */
	int encrypt;             /* GsCmsPart: encrypt, else encapsulated signing */
	STACK_OF(X509) *recips;
	gs_cipher cipher;
	int oaep;
	gs_identity *id;         /* borrowed from the session */
	char *error;             /* the first error met while written */
	gs_status status;
} stream_job;

static void
job_fail(stream_job *j, gs_status st, char *msg)
{
	/* the first error is the one worth telling */
	if (!j->error) {
		j->error = msg;
		j->status = st;
	} else {
		g_free(msg);
	}
}

static void
job_free(stream_job *j)
{
	if (!j)
		return;
	if (j->entity)
		g_object_unref(j->entity);
	gs_cms_signer_free(j->signer);
	sk_X509_pop_free(j->recips, X509_free);
	g_free(j->error);
	g_free(j);
}

static int
job_once(stream_job *j)
{
	if (j->written++) {
		job_fail(j, GS_E_INTERNAL, g_strdup("a streaming S/MIME part can be written only once"));
		return 0;
	}
	return 1;
}

/* ---- GsBase64Stream: base64 out, as GMime writes a base64 part ---- */

/* GMime's base64 encoder filter and then its newline filter, in one
 * pass: 57 bytes a line (76 columns), every line ended, the last one
 * too; LF, or CRLF for the DOS newline format. Whole lines are encoded
 * with EVP_EncodeBlock straight from what is written; only a partial
 * line waits in `in`. */
#define B64_LINE 57
#define B64_BLOCK (B64_LINE * 1024)

typedef struct {
	GMimeStream parent;
	GMimeStream *out;
	int dos;
	size_t len;
	unsigned char in[B64_LINE];
	unsigned char *obuf;     /* B64_BLOCK's lines */
} GsBase64Stream;

typedef struct {
	GMimeStreamClass parent_class;
} GsBase64StreamClass;

static GType gs_base64_stream_get_type(void);
G_DEFINE_TYPE(GsBase64Stream, gs_base64_stream, GMIME_TYPE_STREAM)

/* n bytes (whole lines, or the last line) */
static int
b64_lines(GsBase64Stream *b, const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t chunk = MIN(n, (size_t) B64_BLOCK), i;
		unsigned char *o = b->obuf;

		for (i = 0; i < chunk; i += B64_LINE) {
			o += EVP_EncodeBlock(o, p + i, (int) MIN((size_t) B64_LINE, chunk - i));
			if (b->dos)
				*o++ = '\r';
			*o++ = '\n';
		}
		if (g_mime_stream_write(b->out, (const char *) b->obuf, (size_t) (o - b->obuf)) != o - b->obuf)
			return -1;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static ssize_t
b64_write(GMimeStream *stream, const char *buf, size_t len)
{
	GsBase64Stream *b = (GsBase64Stream *) stream;
	const unsigned char *p = (const unsigned char *) buf;
	size_t n = len, whole;

	if (b->len) {
		size_t k = MIN(n, B64_LINE - b->len);
		memcpy(b->in + b->len, p, k);
		b->len += k;
		p += k;
		n -= k;
		if (b->len < B64_LINE)
			goto done;
		if (b64_lines(b, b->in, B64_LINE) != 0)
			return -1;
		b->len = 0;
	}
	whole = n - n % B64_LINE;
	if (whole && b64_lines(b, p, whole) != 0)
		return -1;
	memcpy(b->in, p + whole, n - whole);
	b->len = n - whole;
done:
	stream->position += (gint64) len;
	return (ssize_t) len;
}

static int
b64_flush(GMimeStream *stream)
{
	GsBase64Stream *b = (GsBase64Stream *) stream;

	if (b->len && b64_lines(b, b->in, b->len) != 0)
		return -1;
	b->len = 0;
	return g_mime_stream_flush(b->out);
}

static void
b64_finalize(GObject *o)
{
	GsBase64Stream *b = (GsBase64Stream *) o;

	g_object_unref(b->out);
	g_free(b->obuf);
	G_OBJECT_CLASS(gs_base64_stream_parent_class)->finalize(o);
}

static void
gs_base64_stream_class_init(GsBase64StreamClass *klass)
{
	GMimeStreamClass *c = GMIME_STREAM_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = b64_finalize;
	write_only_class(c, b64_write, b64_flush);
}

static void
gs_base64_stream_init(GsBase64Stream *b)
{
	(void) b;
}

GMimeStream *
gs_base64_stream_new(GMimeStream *out, GMimeFormatOptions *options)
{
	GsBase64Stream *b = g_object_new(gs_base64_stream_get_type(), NULL);

	g_mime_stream_construct(GMIME_STREAM(b), 0, -1);
	b->out = g_object_ref(out);
	b->dos = g_mime_format_options_get_newline_format(options) == GMIME_NEWLINE_FORMAT_DOS;
	/* 76 columns and a CRLF for every 57 bytes */
	b->obuf = g_malloc(B64_BLOCK / B64_LINE * 78 + 4);
	return GMIME_STREAM(b);
}

/* Write the base64 of what `produce` writes into the BIO it is given, as
 * GMime writes a base64 part (76 columns, the options' newlines). */
typedef gs_status (*producer)(stream_job *j, BIO *out, char **errmsg);

static ssize_t
write_base64(stream_job *j, GMimeObject *object, GMimeFormatOptions *options, GMimeStream *stream,
	     producer produce)
{
	/* its lines all end: GMime's newline filter, told to end with
	 * one (object->ensure_newline), would add none */
	GMimeStream *filtered = gs_base64_stream_new(stream, options);
	char *msg = NULL;
	gs_status st;
	gint64 before = g_mime_stream_tell(stream);
	BIO *bio;
	int e;

	bio = gs_bio_new_stream(filtered);
	st = bio ? produce(j, bio, &msg) : gs_fail(&msg, GS_E_INTERNAL, "out of memory");
	/* OpenSSL (or the content written into it) failed because the
	 * output did: say that, not "signing failed" */
	if (st != GS_OK && st != GS_E_IO && bio && (e = gs_bio_stream_errno(bio))) {
		g_free(msg);
		msg = NULL;
		st = gs_fail(&msg, GS_E_IO, "write error: %s", g_strerror(e));
	}
	BIO_free(bio);
	if (st == GS_OK && g_mime_stream_flush(filtered) != 0)
		st = gs_fail(&msg, GS_E_IO, "write error: %s", g_strerror(errno));
	g_object_unref(filtered);
	if (st != GS_OK) {
		job_fail(j, st, msg);
		return -1;
	}
	return before >= 0 ? (ssize_t) (g_mime_stream_tell(stream) - before) : 1;
}

static ssize_t
write_headers(GMimeObject *object, GMimeFormatOptions *options, gboolean content_only,
	      GMimeStream *stream)
{
	ssize_t a, b;

	if (content_only)
		return 0;
	if ((a = g_mime_header_list_write_to_stream(object->headers, options, stream)) < 0)
		return -1;
	if ((b = g_mime_stream_write_string(stream, g_mime_format_options_get_newline(options))) < 0)
		return -1;
	return a + b;
}

/* A streaming part as GMime writes a part: its headers (unless
 * content_only), then the base64 of what `produce` writes. */
static ssize_t
write_part(stream_job *j, GMimeObject *object, GMimeFormatOptions *options, gboolean content_only,
	   GMimeStream *stream, producer produce)
{
	ssize_t h, b;

	if ((h = write_headers(object, options, content_only, stream)) < 0)
		return -1;
	if ((b = write_base64(j, object, options, stream, produce)) < 0)
		return -1;
	return h + b;
}

/* -- GsSignaturePart: the second part of a multipart/signed; owns the job -- */

typedef struct {
	GMimePart parent;
	stream_job *job;
} GsSignaturePart;

typedef struct {
	GMimePartClass parent_class;
} GsSignaturePartClass;

static GType gs_signature_part_get_type(void);
G_DEFINE_TYPE(GsSignaturePart, gs_signature_part, GMIME_TYPE_PART)

static gs_status
produce_signature(stream_job *j, BIO *out, char **errmsg)
{
	GByteArray *der = NULL;
	gs_cms_signer *sg = j->signer;
	gs_status st;

	j->signer = NULL;
	if (!sg)
		return gs_fail(errmsg, GS_E_INTERNAL, "the signature was written before its content");
	if ((st = gs_cms_signer_finish(sg, &der, errmsg)) != GS_OK)
		return st;
	if (BIO_write(out, der->data, (int) der->len) != (int) der->len)
		st = gs_fail(errmsg, GS_E_IO, "write error: %s", g_strerror(errno));
	g_byte_array_unref(der);
	return st;
}

static ssize_t
signature_part_write(GMimeObject *object, GMimeFormatOptions *options, gboolean content_only,
		     GMimeStream *stream)
{
	GsSignaturePart *p = (GsSignaturePart *) object;

	/* the content part, written before, fed the signer */
	if (!p->job->written) {
		job_fail(p->job, GS_E_INTERNAL, g_strdup("the signature was written before its content"));
		return -1;
	}
	return write_part(p->job, object, options, content_only, stream, produce_signature);
}

static void
signature_part_finalize(GObject *o)
{
	job_free(((GsSignaturePart *) o)->job);
	G_OBJECT_CLASS(gs_signature_part_parent_class)->finalize(o);
}

static void
gs_signature_part_class_init(GsSignaturePartClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = signature_part_finalize;
	GMIME_OBJECT_CLASS(klass)->write_to_stream = signature_part_write;
}

static void
gs_signature_part_init(GsSignaturePart *p)
{
	(void) p;
}

/* -- GsSignedContent: the first part of a multipart/signed -- */

typedef struct {
	GMimeObject parent;
	GsSignaturePart *sig;  /* a reference: the job lives there */
} GsSignedContent;

typedef struct {
	GMimeObjectClass parent_class;
} GsSignedContentClass;

static GType gs_signed_content_get_type(void);
G_DEFINE_TYPE(GsSignedContent, gs_signed_content, GMIME_TYPE_OBJECT)

static ssize_t
signed_content_write(GMimeObject *object, GMimeFormatOptions *options, gboolean content_only,
		     GMimeStream *stream)
{
	stream_job *j = ((GsSignedContent *) object)->sig->job;
	GMimeStream *canon;
	ssize_t n;

	(void) content_only; /* the entity's own headers are this part's content */
	if (!job_once(j))
		return -1;
	/* GMime's multipart/signed canonicalisation (From armoured, trailing
	 * white space stripped), then two ways: as is into the message, and
	 * CRLF into the signer's digest (RFC 8551 3.1.1) */
	canon = canon_new(stream, gs_cms_signer_sink(j->signer));
	n = gs_entity_write(j->entity, options, canon);
	if (n >= 0 && g_mime_stream_flush(canon) != 0)
		n = -1;
	g_object_unref(canon);
	if (n < 0)
		job_fail(j, GS_E_IO, g_strdup_printf("write error: %s", g_strerror(errno)));
	return n;
}

static void
signed_content_finalize(GObject *o)
{
	GsSignedContent *c = (GsSignedContent *) o;

	if (c->sig)
		g_object_unref(c->sig);
	G_OBJECT_CLASS(gs_signed_content_parent_class)->finalize(o);
}

static void
gs_signed_content_class_init(GsSignedContentClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = signed_content_finalize;
	GMIME_OBJECT_CLASS(klass)->write_to_stream = signed_content_write;
}

static void
gs_signed_content_init(GsSignedContent *c)
{
	(void) c;
}

/* GMime's sign_prepare (not public): every leaf that is not base64
 * becomes quoted-printable, so that transport cannot change the bytes
 * the signature covers; signed and encrypted parts stay as they are. */
static void
sign_prepare(GMimeObject *o)
{
	int i;

	if (GMIME_IS_MULTIPART_SIGNED(o) || GMIME_IS_MULTIPART_ENCRYPTED(o))
		return;
	if (GMIME_IS_MULTIPART(o)) {
		for (i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++)
			sign_prepare(g_mime_multipart_get_part(GMIME_MULTIPART(o), i));
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (m && g_mime_message_get_mime_part(m))
			sign_prepare(g_mime_message_get_mime_part(m));
	} else if (GMIME_IS_PART(o) &&
		   g_mime_part_get_content_encoding(GMIME_PART(o)) != GMIME_CONTENT_ENCODING_BASE64) {
		g_mime_part_set_content_encoding(GMIME_PART(o), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	}
}

gs_status
gs_stream_multipart_signed(gs_session *s, gs_identity *id, GMimeObject *entity, GMimeObject **out,
			   char **errmsg)
{
	GMimeMultipartSigned *mps;
	GsSignaturePart *sig;
	GsSignedContent *content;
	stream_job *j;
	gs_status st;

	*out = NULL;
	j = g_new0(stream_job, 1);
	j->s = s;
	if ((st = gs_cms_signer_new(s, id, NULL, &j->signer, errmsg)) != GS_OK) {
		job_free(j);
		return st;
	}
	sign_prepare(entity);
	j->entity = g_object_ref(entity);

	sig = g_object_new(gs_signature_part_get_type(), NULL);
	sig->job = j;
	{
		GMimeContentType *ct = g_mime_content_type_new("application", "pkcs7-signature");
		g_mime_object_set_content_type(GMIME_OBJECT(sig), ct);
		g_object_unref(ct);
	}
	g_mime_part_set_filename(GMIME_PART(sig), "smime.p7s");
	g_mime_part_set_content_encoding(GMIME_PART(sig), GMIME_CONTENT_ENCODING_BASE64);
	g_mime_object_set_header(GMIME_OBJECT(sig), "Content-Description", "S/MIME Cryptographic Signature",
				 NULL);
	content = g_object_new(gs_signed_content_get_type(), NULL);
	content->sig = g_object_ref(sig);

	mps = g_mime_multipart_signed_new();
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mps), "protocol", "application/pkcs7-signature");
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mps), "micalg", "sha-256");
	g_mime_multipart_set_boundary(GMIME_MULTIPART(mps), NULL);
	g_mime_multipart_add(GMIME_MULTIPART(mps), GMIME_OBJECT(content));
	g_mime_multipart_add(GMIME_MULTIPART(mps), GMIME_OBJECT(sig));
	g_object_unref(content);
	g_object_unref(sig);
	*out = GMIME_OBJECT(mps);
	return GS_OK;
}

/* -- GsCmsPart: application/pkcs7-mime, produced while written -- */

typedef struct {
	GMimePart parent;
	stream_job *job;
} GsCmsPart;

typedef struct {
	GMimePartClass parent_class;
} GsCmsPartClass;

static GType gs_cms_part_get_type(void);
G_DEFINE_TYPE(GsCmsPart, gs_cms_part, GMIME_TYPE_PART)

static gs_status
produce_cms(stream_job *j, BIO *out, char **errmsg)
{
	gs_cms_encryptor *e = NULL;
	gs_cms_signer *sg = NULL;
	BIO *sink;
	gs_status st;

	if (j->encrypt)
		st = gs_cms_encryptor_new(j->s, j->recips, j->cipher, j->oaep, out, &e, errmsg);
	else
		st = gs_cms_signer_new(j->s, j->id, out, &sg, errmsg);
	if (st != GS_OK)
		return st;
	sink = e ? gs_cms_encryptor_sink(e) : gs_cms_signer_sink(sg);
	if ((st = gs_write_entity_crlf(j->entity, sink, errmsg)) != GS_OK) {
		gs_cms_encryptor_free(e);
		gs_cms_signer_free(sg);
		return st;
	}
	return e ? gs_cms_encryptor_finish(e, errmsg) : gs_cms_signer_finish(sg, NULL, errmsg);
}

static ssize_t
cms_part_write(GMimeObject *object, GMimeFormatOptions *options, gboolean content_only,
	       GMimeStream *stream)
{
	GsCmsPart *p = (GsCmsPart *) object;

	if (!job_once(p->job))
		return -1;
	return write_part(p->job, object, options, content_only, stream, produce_cms);
}

static void
cms_part_finalize(GObject *o)
{
	job_free(((GsCmsPart *) o)->job);
	G_OBJECT_CLASS(gs_cms_part_parent_class)->finalize(o);
}

static void
gs_cms_part_class_init(GsCmsPartClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = cms_part_finalize;
	GMIME_OBJECT_CLASS(klass)->write_to_stream = cms_part_write;
}

static void
gs_cms_part_init(GsCmsPart *p)
{
	(void) p;
}

static GMimeObject *
cms_part_new(stream_job *j, const char *smime_type)
{
	GsCmsPart *p = g_object_new(gs_cms_part_get_type(), NULL);
	GMimeContentType *ct = g_mime_content_type_new("application", "pkcs7-mime");

	p->job = j;
	g_mime_content_type_set_parameter(ct, "smime-type", smime_type);
	g_mime_object_set_content_type(GMIME_OBJECT(p), ct);
	g_object_unref(ct);
	g_mime_part_set_filename(GMIME_PART(p), "smime.p7m");
	g_mime_part_set_content_encoding(GMIME_PART(p), GMIME_CONTENT_ENCODING_BASE64);
	return GMIME_OBJECT(p);
}

GMimeObject *
gs_stream_enveloped(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep,
		    GMimeObject *entity)
{
	stream_job *j = g_new0(stream_job, 1);

	j->s = s;
	j->encrypt = 1;
	j->recips = recips;
	j->cipher = cipher;
	j->oaep = oaep;
	j->entity = g_object_ref(entity);
	/* RFC 8551 3.4: AuthEnvelopedData is "authEnveloped-data" */
	return cms_part_new(j, cipher == GS_CIPHER_AES256_GCM ? "authEnveloped-data" : "enveloped-data");
}

GMimeObject *
gs_stream_signed_data(gs_session *s, gs_identity *id, GMimeObject *entity)
{
	stream_job *j = g_new0(stream_job, 1);

	j->s = s;
	j->id = id;
	j->entity = g_object_ref(entity);
	return cms_part_new(j, "signed-data");
}

/* ---- what went wrong ---- */

static const stream_job *
find_error(GMimeObject *o, unsigned depth)
{
	const stream_job *j = NULL, *inner;
	int i;

	if (!o || depth > 64)
		return NULL;
	if (G_TYPE_CHECK_INSTANCE_TYPE(o, gs_cms_part_get_type()))
		j = ((GsCmsPart *) o)->job;
	else if (G_TYPE_CHECK_INSTANCE_TYPE(o, gs_signature_part_get_type()))
		j = ((GsSignaturePart *) o)->job;
	else if (G_TYPE_CHECK_INSTANCE_TYPE(o, gs_signed_content_get_type()))
		j = ((GsSignedContent *) o)->sig->job;
	/* an inner part fails first: the outer one only saw its failure */
	if (j && j->entity && (inner = find_error(j->entity, depth + 1)))
		return inner;
	if (j && j->error)
		return j;
	if (GMIME_IS_MULTIPART(o))
		for (i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++)
			if ((inner = find_error(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1)))
				return inner;
	if (GMIME_IS_MESSAGE(o))
		return find_error(g_mime_message_get_mime_part(GMIME_MESSAGE(o)), depth + 1);
	return NULL;
}

gs_status
gs_stream_error(GMimeObject *root, char **errmsg)
{
	const stream_job *j = find_error(root, 0);

	if (!j)
		return GS_OK;
	return gs_fail(errmsg, j->status, "%s", j->error);
}
