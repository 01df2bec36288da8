/* message.c: whole-message operations on top of GMime: which part is
 * signed or encrypted, what happens to the outer headers, and the
 * report. The crypto goes through GMime's multipart/signed and
 * application/pkcs7-mime APIs, which call our context. */
#include "gs-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

/* ---- parsing and limits ---- */

static gs_status
check_limits(const gs_limits *l, GMimeObject *obj, unsigned depth, unsigned *parts, char **errmsg)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int i, n = hl ? g_mime_header_list_get_count(hl) : 0;

	if (depth > l->max_depth)
		return gs_fail(errmsg, GS_E_LIMIT, "MIME nesting deeper than %u levels", l->max_depth);
	if (++*parts > l->max_parts)
		return gs_fail(errmsg, GS_E_LIMIT, "more than %u MIME parts", l->max_parts);
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_raw_value(h);
		if (raw && strlen(raw) > l->max_header)
			return gs_fail(errmsg, GS_E_LIMIT, "header %s longer than %zu bytes",
				       g_mime_header_get_name(h), l->max_header);
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int k, count = g_mime_multipart_get_count(mp);
		gs_status st;

		for (k = 0; k < count; k++)
			if ((st = check_limits(l, g_mime_multipart_get_part(mp, k), depth + 1, parts,
					       errmsg)) != GS_OK)
				return st;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (m && g_mime_message_get_mime_part(m))
			return check_limits(l, g_mime_message_get_mime_part(m), depth + 1, parts, errmsg);
	}
	return GS_OK;
}

/* RFC 5322 field-name: printable US-ASCII but ':'. GMime accepts any
 * bytes before a colon (and skips lines without one), so random bytes
 * can look like a header block; real header names never hold others. */
static int
valid_field_name(const char *name)
{
	const unsigned char *p = (const unsigned char *) name;

	if (!p || !*p)
		return 0;
	for (; *p; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return 0;
	return 1;
}

static gs_status
check_message(const gs_limits *l, GMimeMessage *m, char **errmsg)
{
	GMimeObject *top = GMIME_OBJECT(m);
	GMimeObject *body = g_mime_message_get_mime_part(m);
	/* GMime files the Content-* fields of the top entity under its body,
	 * not the message: a bare MIME entity (what mutt pipes, a part saved
	 * from a message) has header fields, only none of RFC 5322's */
	GMimeHeaderList *lists[2] = { g_mime_object_get_header_list(top),
				      body ? g_mime_object_get_header_list(body) : NULL };
	unsigned parts = 0;
	int i, k, n, seen = 0;

	for (k = 0; k < 2; k++) {
		n = lists[k] ? g_mime_header_list_get_count(lists[k]) : 0;
		for (i = 0; i < n; i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(lists[k], i);
			const char *raw = g_mime_header_get_raw_value(h);
			seen++;
			if (!valid_field_name(g_mime_header_get_name(h)))
				return gs_fail(errmsg, GS_E_MALFORMED,
					       "not a mail message (header field %d has an invalid name)", seen);
			if (raw && strlen(raw) > l->max_header)
				return gs_fail(errmsg, GS_E_LIMIT, "header %s longer than %zu bytes",
					       g_mime_header_get_name(h), l->max_header);
		}
	}
	if (seen == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a mail message (no header fields)");
	if (!body)
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	return check_limits(l, body, 1, &parts, errmsg);
}

/* How much of a large message GMime's parser sees first (its header
 * block must end within it for gs_message_parse_leaf). */
#define LEAF_PREFIX ((gint64) 256 << 10)

GMimeMessage *
gs_message_parse_leaf(GMimeStream *stream, gint64 prefix)
{
	gint64 start, end, len, body;
	GMimeStream *head, *cs, *rest;
	GMimeParser *parser;
	GMimeMessage *m;
	GMimeObject *top;
	GMimeDataWrapper *w, *nw;

	if (!stream || prefix <= 0 || !(GMIME_IS_STREAM_MMAP(stream) || GMIME_IS_STREAM_MEM(stream)))
		return NULL;
	/* GMime's length runs from the stream's start, not its position */
	start = g_mime_stream_tell(stream);
	len = g_mime_stream_length(stream);
	end = stream->bound_start + len;
	if (start < 0 || len < 0 || end - start <= prefix)
		return NULL;
	head = g_mime_stream_substream(stream, start, start + prefix);
	parser = g_mime_parser_new_with_stream(head);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(head);
	if (!m)
		return NULL;
	/* a leaf at the top (GMimeMessagePart and multiparts are not
	 * GMimeParts), its content a slice of the prefix that begins inside
	 * it and runs to its very end: the scan was cut by the prefix's end,
	 * not by anything the message holds */
	top = g_mime_message_get_mime_part(m);
	w = top && GMIME_IS_PART(top) ? g_mime_part_get_content(GMIME_PART(top)) : NULL;
	cs = w ? g_mime_data_wrapper_get_stream(w) : NULL;
	if (!cs || (body = cs->bound_start) <= start || body >= start + prefix || cs->bound_end != start + prefix) {
		g_object_unref(m);
		return NULL;
	}
	rest = g_mime_stream_substream(stream, body, end);
	nw = g_mime_data_wrapper_new_with_stream(rest, g_mime_data_wrapper_get_encoding(w));
	g_mime_part_set_content(GMIME_PART(top), nw);
	g_object_unref(nw);
	g_object_unref(rest);
	g_mime_stream_seek(stream, end, GMIME_STREAM_SEEK_SET);
	return m;
}

/* ---- large leaves inside a multipart ---- */

typedef struct {
	gint64 anchor; /* the start of the line before, in the shortened input */
	gint64 at;     /* where the lines were taken out, in the shortened input */
	gint64 len;    /* how many bytes */
} parse_cut;

#define CUT_MAX 16
#define CUT_DEPTH 256
/* The smallest run of lines gs_message_parse and gs_entity_parse take
 * out: GMime's parse of it costs more than finding it does. */
#define CUT_MIN ((size_t) 256 << 10)

/* Runs of whole lines to take out of `p` before GMime parses it: inside
 * a stretch with no '-' (only a line that begins with '-' can be a
 * boundary; inside a part's content nothing else ends or changes it),
 * between two whole lines of the stretch that stay: the anchor before
 * (not blank, not a CR alone) and the tail after, so that what GMime
 * sees around a cut is what it would have seen, line ends included. The
 * part whose content holds the anchor and the tail holds the run. The
 * message's own header block is never cut. Each run is at least `min`
 * bytes; offsets in `cut` are those of the shortened input. Returns how
 * many. */
static guint
find_cuts(const unsigned char *p, size_t n, size_t min, parse_cut *cut)
{
	const size_t head = MIN(n, (size_t) 1 << 20);
	const unsigned char *lf = memmem(p, head, "\n\n", 2), *crlf = memmem(p, head, "\n\r\n", 3);
	const unsigned char *q, *end = p + n;
	gint64 removed = 0;
	guint k = 0;

	/* after the end of the message's header block, LF or CRLF (within
	 * its first MiB: a longer one is refused anyway) */
	if (!(q = !lf ? crlf : !crlf ? lf : MIN(lf, crlf)))
		return 0;
	while (k < CUT_MAX && (size_t) (end - q) > min) {
		const unsigned char *dash, *stop, *l1, *l2 = NULL, *e, *t;

		/* a stretch of more than `min` bytes without '-' from q: none if
		 * the next `min` bytes hold one (go on after the last of them;
		 * text full of dashes costs a search per `min` bytes, not one per
		 * dash), else it runs to the next '-' */
		if ((dash = memrchr(q, '-', min))) {
			q = dash + 1;
			continue;
		}
		dash = memchr(q + min, '-', (size_t) (end - q) - min);
		stop = dash ? dash : end;
		/* the anchor is the line (l1, l2], the first of the stretch
		 * that is not blank, within its first 4 KiB (a stretch of empty
		 * lines costs no search per line) */
		if ((size_t) (stop - q) > min && (l1 = memchr(q, '\n', (size_t) (stop - q)))) {
			while ((l2 = memchr(l1 + 1, '\n', (size_t) (stop - l1 - 1))) &&
			       (l2 - l1 < 2 || (l2 - l1 == 2 && l2[-1] == '\r'))) {
				l1 = l2;
				if (l1 - q > 4096) {
					l2 = NULL;
					break;
				}
			}
		}
		if (l2) {
			/* e: the start of the line that holds the '-' (or the
			 * input's last, unended line); t: the tail's start */
			const unsigned char *s0 = l2 + 1, *nl;

			e = (nl = memrchr(s0, '\n', (size_t) (stop - s0))) ? nl + 1 : s0;
			t = e > s0 && (nl = memrchr(s0, '\n', (size_t) (e - 1 - s0))) ? nl + 1 : s0;
			if (t > l2 + 1 && (size_t) (t - (l2 + 1)) >= min) {
				cut[k].anchor = (gint64) (l1 + 1 - p) - removed;
				cut[k].at = (gint64) (l2 + 1 - p) - removed;
				cut[k].len = (gint64) (t - (l2 + 1));
				removed += cut[k].len;
				k++;
			}
		}
		if (!dash)
			break;
		q = stop + 1;
	}
	return k;
}

typedef struct {
	GMimeStream *orig;     /* the input */
	gint64 base;           /* where the parse began in it */
	GByteArray *shortened; /* what GMime parsed */
	const parse_cut *cut;
	guint ncut;
	guint spanned[CUT_MAX]; /* per cut: how many leaves hold it */
	int ok;
} cut_map;

/* A leaf's content, a slice of the shortened input, becomes the same
 * slice of the input: a slice after a cut moves by the cut's length, the
 * slice that holds a cut's anchor and tail gains the lines taken out.
 * Anything else (a slice of another buffer, one that begins or ends
 * between an anchor and its tail) and the caller parses the whole. */
static void
cut_remap(GMimePart *part, cut_map *cm)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part), *nw;
	GMimeStream *cs = w ? g_mime_data_wrapper_get_stream(w) : NULL, *slice;
	gint64 x, y, nx, ny;
	guint i;

	if (!cs || !GMIME_IS_STREAM_MEM(cs) || GMIME_STREAM_MEM(cs)->buffer != cm->shortened ||
	    cs->bound_start < 0 || cs->bound_end < cs->bound_start) {
		cm->ok = 0;
		return;
	}
	x = nx = cs->bound_start;
	y = ny = cs->bound_end;
	for (i = 0; i < cm->ncut; i++) {
		const parse_cut *c = &cm->cut[i];

		if (x <= c->anchor && c->anchor < y && y >= c->at) {
			/* holds the anchor and the tail: the run too */
			cm->spanned[i]++;
			ny += c->len;
		} else if (x >= c->at) {
			nx += c->len;
			ny += c->len;
		} else if (y > c->anchor) {
			cm->ok = 0;
			return;
		}
	}
	slice = g_mime_stream_substream(cm->orig, cm->base + nx, cm->base + ny);
	nw = g_mime_data_wrapper_new_with_stream(slice, g_mime_data_wrapper_get_encoding(w));
	g_mime_part_set_content(part, nw);
	g_object_unref(nw);
	g_object_unref(slice);
}

static void
cut_walk(GMimeObject *o, cut_map *cm, int depth)
{
	if (!cm->ok || !o)
		return;
	if (depth > CUT_DEPTH) {
		cm->ok = 0;
	} else if (GMIME_IS_MULTIPART(o)) {
		int i, n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			cut_walk(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), cm, depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *em = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (em)
			cut_walk(g_mime_message_get_mime_part(em), cm, depth + 1);
	} else if (GMIME_IS_PART(o)) {
		cut_remap(GMIME_PART(o), cm);
	}
}

/* gs_message_parse_cut, of a message or (`message` 0) of an entity as
 * g_mime_parser_construct_part reads one */
static GMimeObject *
cut_parse(GMimeStream *stream, size_t min, int message)
{
	const unsigned char *mem;
	size_t len, prev = 0;
	parse_cut cut[CUT_MAX];
	guint n, i;
	GByteArray *shortened;
	GMimeStream *sh;
	GMimeParser *parser;
	GMimeObject *m;
	cut_map cm;
	gint64 start, removed = 0;

	if (!stream || min < 1 || !(mem = gs_stream_memory(stream, &len)) ||
	    (start = g_mime_stream_tell(stream)) < stream->bound_start ||
	    (guint64) (start - stream->bound_start) > len)
		return NULL;
	/* from the stream's position, where GMime would begin */
	mem += start - stream->bound_start;
	len -= (size_t) (start - stream->bound_start);
	if (!(n = find_cuts(mem, len, min, cut)))
		return NULL;
	for (i = 0; i < n; i++)
		removed += cut[i].len;
	shortened = g_byte_array_sized_new((guint) MIN(len - (size_t) removed, (size_t) G_MAXUINT));
	removed = 0;
	for (i = 0; i < n; i++) {
		size_t at = (size_t) (cut[i].at + removed);
		g_byte_array_append(shortened, mem + prev, (guint) (at - prev));
		removed += cut[i].len;
		prev = at + (size_t) cut[i].len;
	}
	g_byte_array_append(shortened, mem + prev, (guint) (len - prev));
	sh = g_mime_stream_mem_new_with_byte_array(shortened);
	parser = g_mime_parser_new_with_stream(sh);
	if (message) {
		g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
		m = (GMimeObject *) g_mime_parser_construct_message(parser, NULL);
	} else {
		m = g_mime_parser_construct_part(parser, NULL);
	}
	g_object_unref(parser);
	if (m) {
		memset(&cm, 0, sizeof cm);
		cm.orig = stream;
		cm.base = start;
		cm.shortened = shortened;
		cm.cut = cut;
		cm.ncut = n;
		cm.ok = 1;
		cut_walk(message ? g_mime_message_get_mime_part(GMIME_MESSAGE(m)) : m, &cm, 0);
		for (i = 0; i < n && cm.ok; i++)
			cm.ok = cm.spanned[i] == 1;
		if (!cm.ok) {
			g_object_unref(m);
			m = NULL;
		}
	}
	g_object_unref(sh);
	if (m)
		g_mime_stream_seek(stream, start + (gint64) len, GMIME_STREAM_SEEK_SET);
	return m;
}

GMimeMessage *
gs_message_parse_cut(GMimeStream *stream, size_t min)
{
	return (GMimeMessage *) cut_parse(stream, min, 1);
}

GMimeObject *
gs_entity_parse_cut(GMimeStream *stream, size_t min)
{
	return cut_parse(stream, min, 0);
}

/* gs_message_parse_cut on a large input, whose pages are mapped first
 * (the search for '-' reads every byte) */
static GMimeMessage *
parse_cut_mapped(GMimeStream *stream)
{
	const unsigned char *mem;
	size_t len;

	if (!(mem = gs_stream_memory(stream, &len)))
		return NULL;
	gs_memory_will_read(mem, len);
	return gs_message_parse_cut(stream, CUT_MIN);
}

gs_status
gs_message_parse(gs_session *s, GMimeStream *stream, GMimeMessage **out, char **errmsg)
{
	GMimeParser *parser;
	GMimeMessage *m;
	gint64 size;
	gs_status st;

	if (!s || !stream || !out)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_parse: bad arguments");
	*out = NULL;
	if ((size = g_mime_stream_length(stream)) == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty input");
	if (size <= LEAF_PREFIX * 4 ||
	    (!(m = gs_message_parse_leaf(stream, LEAF_PREFIX)) && !(m = parse_cut_mapped(stream)))) {
		const unsigned char *mem;
		size_t len;

		/* GMime's parser reads every byte */
		if ((mem = gs_stream_memory(stream, &len)))
			gs_memory_will_read(mem, len);
		parser = g_mime_parser_new_with_stream(stream);
		g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
		m = g_mime_parser_construct_message(parser, NULL);
		g_object_unref(parser);
	}
	if (!m)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a mail message");
	if ((st = check_message(&s->limits, m, errmsg)) != GS_OK) {
		g_object_unref(m);
		return st;
	}
	*out = m;
	return GS_OK;
}

/* ---- addresses ---- */

static void
collect_addresses(InternetAddressList *l, GPtrArray *out)
{
	int i, n = l ? internet_address_list_length(l) : 0;

	for (i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			collect_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			char *norm = gs_address_normalize(a);
			guint k;
			int dup = 0;

			for (k = 0; k < out->len && !dup; k++)
				dup = !strcmp(out->pdata[k], norm);
			if (!dup && *norm)
				g_ptr_array_add(out, norm);
			else
				g_free(norm);
		}
	}
}

char **
gs_message_recipients(GMimeMessage *m)
{
	GPtrArray *out = g_ptr_array_new();

	collect_addresses(g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_TO), out);
	collect_addresses(g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_CC), out);
	collect_addresses(g_mime_message_get_addresses(m, GMIME_ADDRESS_TYPE_BCC), out);
	g_ptr_array_add(out, NULL);
	return (char **) g_ptr_array_free(out, FALSE);
}

gs_status
gs_message_write(gs_session *s, GMimeMessage *m, GMimeStream *stream, char **errmsg)
{
	GMimeFormatOptions *fo;
	ssize_t n;

	if (!s || !m || !stream)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_write: bad arguments");
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
	n = gs_entity_write(GMIME_OBJECT(m), fo, stream);
	if (n >= 0 && g_mime_stream_flush(stream) != 0)
		n = -1;
	g_mime_format_options_free(fo);
	if (n >= 0)
		return GS_OK;
	/* a streaming part that failed says why; else the stream did */
	{
		int e = errno;
		gs_status st = gs_stream_error(GMIME_OBJECT(m), errmsg);

		if (st != GS_OK)
			return st;
		return gs_fail(errmsg, GS_E_IO, "write error: %s", g_strerror(e ? e : EIO));
	}
}

/* The one From mailbox, lower-cased; NULL when there is none or several. */
static char *
from_address(GMimeMessage *m)
{
	InternetAddressList *l = g_mime_message_get_from(m);
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char *r = NULL;

	collect_addresses(l, a);
	if (a->len == 1)
		r = g_strdup(a->pdata[0]);
	g_ptr_array_free(a, TRUE);
	return r;
}

char *
gs_message_from_address(GMimeMessage *m)
{
	return from_address(m);
}

/* ---- sign ---- */

/* The identity to sign as, unlocked (the session keeps it). */
static gs_status
signing_identity(gs_session *s, const char *signer, gs_identity **id, char **errmsg)
{
	gs_identity *i = NULL;
	gs_status st;

	*id = NULL;
	if ((st = gs_identity_for_address(s, signer, &i, errmsg)) != GS_OK)
		return st;
	g_ptr_array_add(s->identities, i);
	if ((st = gs_identity_unlock(s, i, errmsg)) != GS_OK)
		return st;
	*id = i;
	return GS_OK;
}

/* The signed entity: a multipart/signed, or opaque signed-data. Both sign
 * while they are written (stream.c), so the content is never held whole;
 * everything that can fail for a reason the user can act on (no
 * identity, wrong passphrase) fails here, before anything is written. */
static gs_status
sign_entity(gs_session *s, GMimeObject *entity, const char *signer, int opaque,
	    GMimeObject **result, char **errmsg)
{
	gs_identity *id;
	gs_status st;

	*result = NULL;
	if ((st = signing_identity(s, signer, &id, errmsg)) != GS_OK)
		return st;
	if (opaque) {
		*result = gs_stream_signed_data(s, id, entity);
		return GS_OK;
	}
	return gs_stream_multipart_signed(s, id, entity, result, errmsg);
}

static const char *
signer_of(GMimeMessage *m, const char *explicit_from, char **owned)
{
	*owned = NULL;
	if (explicit_from)
		return explicit_from;
	*owned = from_address(m);
	return *owned;
}

gs_status
gs_message_sign(gs_session *s, GMimeMessage *m, const gs_sign_opts *opts, char **errmsg)
{
	GMimeObject *entity, *signed_obj = NULL;
	char *owned;
	const char *signer;
	gs_status st;

	if (!s || !m)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_sign: bad arguments");
	if (!(entity = g_mime_message_get_mime_part(m)))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	signer = signer_of(m, opts ? opts->from : NULL, &owned);
	st = sign_entity(s, entity, signer, opts && opts->opaque, &signed_obj, errmsg);
	if (st == GS_OK) {
		g_mime_message_set_mime_part(m, signed_obj);
		g_object_unref(signed_obj);
	}
	g_free(owned);
	return st;
}

/* ---- encrypt ---- */

struct gs_recipients {
	GArray *items;    /* of gs_recipient_result, strings owned */
};

size_t
gs_recipients_count(const gs_recipients *r)
{
	return r ? r->items->len : 0;
}

const gs_recipient_result *
gs_recipients_get(const gs_recipients *r, size_t i)
{
	return r && i < r->items->len ? &g_array_index(r->items, gs_recipient_result, i) : NULL;
}

void
gs_recipients_free(gs_recipients *r)
{
	guint i;

	if (!r)
		return;
	for (i = 0; i < r->items->len; i++) {
		gs_recipient_result *x = &g_array_index(r->items, gs_recipient_result, i);
		g_free((char *) x->recipient);
		g_free((char *) x->fingerprint);
		g_free((char *) x->note);
		g_free((char *) x->failure);
		g_free((char *) x->directory);
	}
	g_array_free(r->items, TRUE);
	g_free(r);
}

gs_recipients *
gs_recipients_new(void)
{
	gs_recipients *r = g_new0(gs_recipients, 1);

	r->items = g_array_new(FALSE, FALSE, sizeof(gs_recipient_result));
	return r;
}

void
gs_recipients_add(gs_recipients *r, const char *recipient, const char *fingerprint, gs_binding binding,
		  const char *note, const char *failure, const char *directory)
{
	gs_recipient_result x;

	x.recipient = g_strdup(recipient);
	x.fingerprint = g_strdup(fingerprint);
	x.binding = binding;
	x.note = g_strdup(note);
	x.failure = g_strdup(failure);
	x.directory = g_strdup(directory);
	g_array_append_val(r->items, x);
}

/* Add `fp` (taking it) unless present: a person named twice (To and
 * --to, or the sender in To) gets one RecipientInfo. */
static int
add_unique(GPtrArray *a, char *fp)
{
	guint k;

	for (k = 0; k < a->len; k++)
		if (!strcmp(a->pdata[k], fp)) {
			g_free(fp);
			return 0;
		}
	g_ptr_array_add(a, fp);
	return 1;
}

static int
supports_gcm(gs_session *s, const char *sha256)
{
	char *caps = NULL;
	int r;

	/* a failed lookup means AES-CBC, which every recipient reads; not a
	 * verdict (the recipient's resolution has read the store already) */
	gs_store_get_capabilities(s->store, sha256, &caps, NULL);
	r = caps && strstr(caps, GS_OID_AES256_GCM) != NULL;

	g_free(caps);
	return r;
}

gs_status
gs_message_encrypt(gs_session *s, GMimeMessage *m, const gs_encrypt_opts *opts,
		   gs_recipients **recipients, char **errmsg)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *fps = g_ptr_array_new_with_free_func(g_free);
	gs_recipients *results = gs_recipients_new();
	unsigned nfail = 0;
	GMimeObject *entity, *signed_obj = NULL;
	STACK_OF(X509) *recips = sk_X509_new_null();
	GMimeObject *p7 = NULL;
	gs_identity *self = NULL;
	gs_resolution **resolutions = NULL;
	char **dir = NULL;
	char *owned = NULL;
	const char *sender;
	int all_gcm = 1;
	gs_status st = GS_OK;
	guint i;

	if (recipients)
		*recipients = NULL;
	if (!s || !m || !opts) {
		st = gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_encrypt: bad arguments");
		goto out;
	}
	if (!(entity = g_mime_message_get_mime_part(m))) {
		st = gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
		goto out;
	}
	if (opts->header_recipients) {
		char **r = gs_message_recipients(m), **p;
		for (p = r; *p; p++)
			g_ptr_array_add(names, g_strdup(*p));
		g_strfreev(r);
	}
	for (i = 0; opts->extra && opts->extra[i]; i++) {
		char *n = g_strstrip(g_strdup(opts->extra[i]));
		guint k;
		int dup = !*n;

		for (k = 0; k < names->len && !dup; k++)
			dup = !g_ascii_strcasecmp(names->pdata[k], n);
		if (dup)
			g_free(n);
		else
			g_ptr_array_add(names, n);
	}
	if (names->len == 0) {
		st = gs_fail(errmsg, GS_E_USAGE, "no recipients (no To, Cc or Bcc, and no --to)");
		goto out;
	}

	/* resolve everyone first: nothing is encrypted unless all resolve */
	resolutions = g_new0(gs_resolution *, names->len + 1);
	dir = g_new0(char *, names->len + 1);
	if ((st = gs_resolve_many(s, (const char *const *) names->pdata, names->len, opts->resolve_flags,
				  resolutions, dir, errmsg)) != GS_OK)
		goto out;
	for (i = 0; i < names->len; i++) {
		gs_resolution *res = resolutions[i];
		const gs_candidate *c;

		if ((c = gs_resolution_chosen(res))) {
			if (add_unique(fps, g_strconcat("sha256:", c->cert.sha256, NULL))) {
				X509 *x = gs_resolution_chosen_cert(res);
				X509_up_ref(x);
				sk_X509_push(recips, x);
			}
			if (!supports_gcm(s, c->cert.sha256))
				all_gcm = 0;
			gs_recipients_add(results, names->pdata[i], c->cert.sha256, c->binding,
				      gs_resolution_note(res), NULL, dir[i]);
		} else {
			gs_recipients_add(results, names->pdata[i], NULL, GS_BIND_NONE, NULL,
				      gs_resolution_failure(res), dir[i]);
			nfail++;
		}
	}
	sender = signer_of(m, opts->from, &owned);
	if (!opts->no_self) {
		char *msg = NULL;
		if ((st = gs_identity_for_address(s, sender, &self, &msg)) != GS_OK) {
			g_free(msg);
			if (st == GS_E_BUSY || st == GS_E_IO || st == GS_E_INTERNAL)
				goto out;
			gs_recipients_add(results, sender ? sender : "(no From)", NULL, GS_BIND_NONE, NULL,
				      "no identity of yours to keep a readable copy "
				      "(import your key, or use --no-self)", NULL);
			nfail++;
			st = GS_OK;
		} else {
			char *fp = gs_cert_sha256_hex(self->cert);
			if (add_unique(fps, g_strconcat("sha256:", fp, NULL))) {
				X509_up_ref(self->cert);
				sk_X509_push(recips, self->cert);
			}
			gs_recipients_add(results, sender ? sender : "(you)", fp, GS_BIND_CERTIFICATE, NULL, NULL, NULL);
			g_free(fp);
		}
	}
	if (nfail) {
		GString *g = g_string_new(NULL);
		for (i = 0; i < gs_recipients_count(results); i++) {
			const gs_recipient_result *f = gs_recipients_get(results, i);
			if (f->failure)
				g_string_append_printf(g, "%s%s: %s%s%s%s", g->len ? "; " : "", f->recipient, f->failure,
						       f->directory ? " (" : "", f->directory ? f->directory : "",
						       f->directory ? ")" : "");
		}
		st = gs_fail(errmsg, GS_E_NO_CERT, "cannot encrypt to %s", g->str);
		g_string_free(g, TRUE);
		goto out;
	}

	if (opts->sign) {
		if ((st = sign_entity(s, entity, sender, opts->opaque_sign, &signed_obj, errmsg)) != GS_OK)
			goto out;
		entity = signed_obj;
	}
	/* encrypted while written (stream.c): the recipients go with it */
	p7 = gs_stream_enveloped(s, recips,
				 opts->cipher == GS_CIPHER_AUTO
					 ? (all_gcm ? GS_CIPHER_AES256_GCM : GS_CIPHER_AES256_CBC)
					 : opts->cipher,
				 opts->oaep, entity);
	recips = NULL;
	g_mime_message_set_mime_part(m, p7);
	while (g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc"))
		;
out:
	for (i = 0; resolutions && i < names->len; i++) {
		gs_resolution_free(resolutions[i]);
		g_free(dir[i]);
	}
	g_free(resolutions);
	g_free(dir);
	sk_X509_pop_free(recips, X509_free);
	if (p7)
		g_object_unref(p7);
	if (signed_obj)
		g_object_unref(signed_obj);
	gs_identity_free(self);
	if (recipients && (st == GS_OK || st == GS_E_NO_CERT))
		*recipients = results;
	else
		gs_recipients_free(results);
	g_free(owned);
	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(fps, TRUE);
	return st;
}

/* ---- decrypt and verify ---- */

typedef enum { PART_PLAIN, PART_SIGNED, PART_OPAQUE_SIGNED, PART_ENCRYPTED } part_kind;

static int
is_pkcs7_name(const char *filename)
{
	return filename && (g_str_has_suffix(filename, ".p7m") || g_str_has_suffix(filename, ".P7M"));
}

/* Base64 in memory, decoded straight into `out` (sized for it) in large
 * steps, without the filter stream's 4 KiB copies; with `release`, the
 * session may drop the input's pages as it goes (a mapped file: they
 * come back from it if touched again), so that the input and what it
 * decodes to are not both held whole. */
static void
decode_base64_memory(gs_session *s, const unsigned char *in, size_t len, GByteArray *out, int release)
{
	const size_t step = (size_t) 4 << 20;
	gs_base64 state;
	size_t off, n = 0;

	gs_base64_init(&state);
	g_byte_array_set_size(out, (guint) (len / 4 * 3 + 4));
	for (off = 0; off < len; off += step) {
		size_t k = MIN(step, len - off);
		gs_memory_will_read(in + off, k);
		n += gs_base64_decode_step(&state, in + off, k, out->data + n);
		if (release && s->input_release)
			s->input_release(s->input_release_data);
	}
	g_byte_array_set_size(out, (guint) n);
}

/* decode_base64_memory for content that is the slice `mem` of a mapped
 * file, at offset `at` of `fd`: read with pread a block at a time into
 * one buffer that stays in the cache, not through the mapping, whose
 * first touch costs a page fault and TLB misses per 4 KiB page (a fifth
 * of a 25 MB decrypt here). The mapping is never touched, so there is
 * nothing to release. 0 when the file cannot be read there or does not
 * hold the mapping's bytes (the caller decodes the mapping). */
static int
decode_base64_file(int fd, gint64 at, const unsigned char *mem, size_t len, GByteArray *out)
{
	const size_t step = (size_t) 1 << 20;
	unsigned char *buf = g_malloc(step);
	gs_base64 state;
	size_t off, n = 0;

	gs_base64_init(&state);
	g_byte_array_set_size(out, (guint) (len / 4 * 3 + 4));
	for (off = 0; off < len;) {
		ssize_t k = pread(fd, buf, MIN(step, len - off), (off_t) (at + (gint64) off));
		if (k < 0 && errno == EINTR)
			continue;
		/* the first block's first bytes are the mapping's: the same file, the same place */
		if (k <= 0 || (off == 0 && memcmp(buf, mem, MIN((size_t) k, (size_t) 64)) != 0)) {
			g_free(buf);
			return 0;
		}
		n += gs_base64_decode_step(&state, buf, (size_t) k, out->data + n);
		off += (size_t) k;
	}
	g_free(buf);
	g_byte_array_set_size(out, (guint) n);
	return 1;
}

/* Decoded content of a leaf part. */
static GByteArray *
part_bytes(gs_session *s, GMimePart *part, int release, int *too_big)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	size_t limit = s->limits.max_message;
	const unsigned char *raw_mem;
	GMimeStream *mem, *raw_stream;
	GByteArray *a;
	size_t raw_len = 0;

	*too_big = 0;
	if (!w)
		return g_byte_array_new();
	raw_stream = g_mime_data_wrapper_get_stream(w);
	if (g_mime_data_wrapper_get_encoding(w) == GMIME_CONTENT_ENCODING_BASE64 && raw_stream &&
	    (raw_mem = gs_stream_memory(raw_stream, &raw_len)) && raw_len / 4 * 3 <= limit + 4) {
		a = g_byte_array_sized_new((guint) (raw_len / 4 * 3 + 4));
		gs_memory_large(a->data, raw_len / 4 * 3 + 4);
		if (!(GMIME_IS_STREAM_MMAP(raw_stream) && GMIME_STREAM_MMAP(raw_stream)->fd >= 0 &&
		      decode_base64_file(GMIME_STREAM_MMAP(raw_stream)->fd, raw_stream->bound_start, raw_mem, raw_len,
					 a)))
			decode_base64_memory(s, raw_mem, raw_len, a, release);
		*too_big = a->len > limit;
		return a;
	}
	{
		/* sized once: base64 decodes to 3/4 of its size, less the line
		 * ends; a buffer that doubles as it grows would copy itself */
		gint64 raw = g_mime_stream_length(raw_stream);
		size_t want = raw > 0 ? (size_t) raw : 0;

		if (g_mime_data_wrapper_get_encoding(w) == GMIME_CONTENT_ENCODING_BASE64)
			want = want / 4 * 3 + 4;
		if (want > limit)
			want = limit;
		mem = g_mime_stream_mem_new_with_byte_array(g_byte_array_sized_new((guint) want));
	}
	g_mime_data_wrapper_write_to_stream(w, mem);
	/* take the buffer: the stream frees it otherwise */
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	g_object_unref(mem);
	if (a->len > limit)
		*too_big = 1;
	return a;
}

/* The CMS content type of an S/MIME part, from its first bytes only:
 * decoding a 35 MB part to learn that it is enveloped-data would cost a
 * full pass (and its memory) before the real one. NID_undef when it is
 * not CMS. */
static int
cms_type_of_part(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *raw = w ? g_mime_data_wrapper_get_stream(w) : NULL;
	GMimeContentEncoding enc = w ? g_mime_data_wrapper_get_encoding(w) : GMIME_CONTENT_ENCODING_DEFAULT;
	char in[4096], out[4096 + 64];
	const unsigned char *p = (const unsigned char *) out;
	ASN1_OBJECT *oid = NULL;
	size_t n, len;
	ssize_t got;
	long olen;
	int tag, xclass, r, nid = NID_undef;

	if (!raw)
		return NID_undef;
	g_mime_stream_reset(raw);
	got = g_mime_stream_read(raw, in, sizeof in);
	g_mime_stream_reset(raw);
	if (got <= 0)
		return NID_undef;
	n = (size_t) got;
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		GMimeEncoding state;

		g_mime_encoding_init_decode(&state, enc);
		len = g_mime_encoding_step(&state, in, n, out);
	} else {
		memcpy(out, in, n);
		len = n;
	}
	/* ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, ... }.
	 * OpenSSL flags (0x80) a definite length longer than the bytes it
	 * was given, which is what a prefix is; the OID must parse whole */
	r = ASN1_get_object(&p, &olen, &tag, &xclass, (long) len);
	if (p > (const unsigned char *) out && tag == V_ASN1_SEQUENCE && (r & V_ASN1_CONSTRUCTED) &&
	    (oid = d2i_ASN1_OBJECT(NULL, &p, (long) len - (long) (p - (const unsigned char *) out))))
		nid = OBJ_obj2nid(oid);
	ASN1_OBJECT_free(oid);
	ERR_clear_error();
	return nid;
}

static part_kind
classify(GMimeObject *obj, int *cms_nid, size_t limit)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	*cms_nid = NID_undef;
	if (GMIME_IS_MULTIPART_SIGNED(obj)) {
		const char *proto = g_mime_content_type_get_parameter(ct, "protocol");
		if (proto && (!g_ascii_strcasecmp(proto, "application/pkcs7-signature") ||
			      !g_ascii_strcasecmp(proto, "application/x-pkcs7-signature")))
			return PART_SIGNED;
		return PART_PLAIN;
	}
	if (GMIME_IS_APPLICATION_PKCS7_MIME(obj) ||
	    (GMIME_IS_PART(obj) && g_mime_content_type_is_type(ct, "application", "octet-stream") &&
	     is_pkcs7_name(g_mime_part_get_filename(GMIME_PART(obj))))) {
		(void) limit;
		*cms_nid = cms_type_of_part(GMIME_PART(obj));
		if (*cms_nid == NID_pkcs7_signed)
			return PART_OPAQUE_SIGNED;
		if (*cms_nid == NID_pkcs7_enveloped || *cms_nid == NID_id_smime_ct_authEnvelopedData)
			return PART_ENCRYPTED;
		/* claims to be S/MIME but holds no CMS we know */
		return PART_ENCRYPTED;
	}
	return PART_PLAIN;
}

/* Content without MIME headers: one part holding it as it is, never
 * anything a reader would render richly. NULL when there is nothing. */
static GMimeObject *
headerless_entity(GMimeStream *clear)
{
	GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(clear));
	GMimeDataWrapper *w;
	GMimeStream *sub;
	GMimePart *part;
	int ascii = 1;
	guint i;

	if (!b || b->len == 0)
		return NULL;
	for (i = 0; i < b->len && ascii; i++)
		ascii = (b->data[i] >= 0x20 && b->data[i] < 0x7f) || b->data[i] == '\t' ||
			b->data[i] == '\n' || b->data[i] == '\r';
	if (ascii) {
		part = GMIME_PART(g_mime_text_part_new_with_subtype("plain"));
		g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "us-ascii");
	} else {
		part = g_mime_part_new_with_type("application", "octet-stream");
	}
	sub = g_mime_stream_substream(clear, 0, b->len);
	w = g_mime_data_wrapper_new_with_stream(sub, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(sub);
	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_mime_part_set_content_encoding(part, ascii ? g_mime_part_get_best_content_encoding(
					 part, GMIME_ENCODING_CONSTRAINT_7BIT) : GMIME_CONTENT_ENCODING_BASE64);
	return GMIME_OBJECT(part);
}

/* The report's word on content gs_entity_parse gave a part of its own. */
static void
note_headerless(gs_report *r, const char *path, const char *what, GMimeObject *part)
{
	char *note = g_strdup_printf("the %s content has no MIME headers: shown as %s", what,
				     GMIME_IS_TEXT_PART(part) ? "text/plain" : "application/octet-stream");

	gs_report_note(r, path, note);
	g_free(note);
}

GMimeObject *
gs_entity_parse(GMimeStream *content, int *headerless)
{
	GMimeStream *mem = NULL;
	GMimeObject *o;
	GMimeParser *p;

	*headerless = 0;
	if (!content)
		return NULL;
	/* the part of headerless content keeps the bytes: in memory */
	if (!GMIME_IS_STREAM_MEM(content)) {
		mem = g_mime_stream_mem_new();
		if (g_mime_stream_write_to_stream(content, mem) < 0) {
			g_object_unref(mem);
			return NULL;
		}
		content = mem;
	}
	g_mime_stream_reset(content);
	/* a large entity (what a 25 MB message decrypts to): its big
	 * leaves' lines taken out of GMime's scan, as for a message */
	if (g_mime_stream_length(content) <= LEAF_PREFIX * 4 || !(o = gs_entity_parse_cut(content, CUT_MIN))) {
		p = g_mime_parser_new_with_stream(content);
		o = g_mime_parser_construct_part(p, NULL);
		g_object_unref(p);
	}
	/* content that begins with an empty line has no header fields:
	 * GMime makes a part of what follows it, which would lose that line */
	if (o && g_mime_header_list_get_count(g_mime_object_get_header_list(o)) == 0)
		g_clear_object(&o);
	if (!o) {
		g_mime_stream_reset(content);
		if ((o = headerless_entity(content)))
			*headerless = 1;
	}
	if (mem)
		g_object_unref(mem);
	return o;
}

/* Does `p` begin with MIME header fields? Only the header block (up to
 * the first empty line) is parsed, so that a large entity is not parsed
 * twice. */
static int
has_mime_headers(const guint8 *p, size_t n)
{
	const guint8 *end = p + n, *nl = p;
	GMimeStream *head;
	GMimeParser *parser;
	GMimeObject *o;
	size_t hlen = n;
	int fields = 0;

	while (nl < end && (nl = memchr(nl, '\n', (size_t) (end - nl)))) {
		nl++;
		if (nl < end && (*nl == '\n' || (*nl == '\r' && nl + 1 < end && nl[1] == '\n'))) {
			hlen = (size_t) (nl - p);
			break;
		}
	}
	head = g_mime_stream_mem_new_with_buffer((const char *) p, hlen);
	parser = g_mime_parser_new_with_stream(head);
	o = g_mime_parser_construct_part(parser, NULL);
	g_object_unref(parser);
	g_object_unref(head);
	/* as gs_entity_parse judges: a part with no header field is none */
	fields = o ? g_mime_header_list_get_count(g_mime_object_get_header_list(o)) : 0;
	if (o)
		g_object_unref(o);
	return fields > 0;
}

/* Plain bytes (decrypted, or an opaque signature's content) as an entity
 * (gs_entity_parse), in place in `text`, which it takes: an entity's and plain text's
 * CRLFs become LF first; binary content without MIME headers keeps its
 * bytes, every CR among them. */
static GMimeObject *
plain_entity(GByteArray *text, int *headerless)
{
	GMimeStream *clear;
	GMimeObject *o;
	guint i;
	int ascii = 1;

	if (text->len && !has_mime_headers(text->data, text->len)) {
		for (i = 0; i < text->len && ascii; i++)
			ascii = (text->data[i] >= 0x20 && text->data[i] < 0x7f) || text->data[i] == '\t' ||
				text->data[i] == '\n' || text->data[i] == '\r';
	}
	if (ascii)
		g_byte_array_set_size(text, (guint) gs_crlf_strip_inplace(text->data, text->len));
	clear = g_mime_stream_mem_new_with_byte_array(text);
	o = gs_entity_parse(clear, headerless);
	g_object_unref(clear);
	return o;
}

/* Decrypt an S/MIME part (application/pkcs7-mime, or
 * application/octet-stream named *.p7m as some clients send it) into a
 * parsed entity. The encoded part is decoded once, into one buffer of
 * its size; the plaintext takes its place there, its line ends made LF
 * in place, and the entity is parsed from that same buffer. */
static gs_status
decrypt_part(gs_session *s, GMimeObject *obj, GMimeObject **plain, int *headerless,
	     gs_cms_result *res, char **errmsg)
{
	GByteArray *der, *text = NULL;
	gs_status st;
	int too_big;

	*plain = NULL;
	*headerless = 0;
	der = part_bytes(s, GMIME_PART(obj), 1, &too_big);
	if (too_big) {
		g_byte_array_unref(der);
		return gs_fail(errmsg, GS_E_LIMIT, "encrypted part larger than the message limit");
	}
	/* the encoded input is not needed in memory any more */
	if (s->input_release)
		s->input_release(s->input_release_data);
	if ((st = gs_cms_decrypt_bytes(s, der, &text, res, errmsg)) != GS_OK)
		return st;
	*plain = plain_entity(text, headerless);
	if (!*plain)
		st = gs_fail(errmsg, GS_E_MALFORMED, "the decrypted content is empty");
	return st;
}

/* The safety limits hold for what decryption yields too: it replaces
 * the message body (depth 1) and is written out or examined further. */
static gs_status
check_decrypted(gs_session *s, GMimeObject *plain, char **errmsg)
{
	unsigned parts = 0;
	char *msg = NULL;
	gs_status st = check_limits(&s->limits, plain, 1, &parts, &msg);

	if (st != GS_OK)
		gs_fail(errmsg, st, "the decrypted content: %s", msg ? msg : gs_status_string(st));
	g_free(msg);
	return st;
}

/* A digest name without dashes, lower case: "SHA-256" -> "sha256". */
static char *
digest_key(const char *name)
{
	GString *g = g_string_new(NULL);

	for (; *name; name++)
		if (*name != '-')
			g_string_append_c(g, g_ascii_tolower(*name));
	return g_string_free(g, FALSE);
}

/* ---- the structure a reader sees ---- */

/* Two Content-Type or Content-Transfer-Encoding fields on one entity (a
 * message or a part, anywhere in the tree): readers disagree on what the
 * entity is, so no signature over it can be shown as good. */
static int
ambiguous_entity(GMimeObject *o, unsigned depth)
{
	GMimeHeaderList *hl;
	int i, n, ct = 0, cte = 0;

	if (!o || depth > 64)
		return 0;
	hl = g_mime_object_get_header_list(o);
	n = hl ? g_mime_header_list_get_count(hl) : 0;
	for (i = 0; i < n; i++) {
		const char *name = g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i));
		if (!g_ascii_strcasecmp(name, "Content-Type"))
			ct++;
		else if (!g_ascii_strcasecmp(name, "Content-Transfer-Encoding"))
			cte++;
	}
	if (ct > 1 || cte > 1)
		return 1;
	if (GMIME_IS_MESSAGE(o))
		return ambiguous_entity(g_mime_message_get_mime_part(GMIME_MESSAGE(o)), depth + 1);
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		return m && ambiguous_entity(GMIME_OBJECT(m), depth + 1);
	}
	if (GMIME_IS_MULTIPART(o))
		for (i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++)
			if (ambiguous_entity(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1))
				return 1;
	return 0;
}

/* ---- one signature ---- */

/* A multipart/signed, verified as GMime's multipart/signed code would
 * (the first part written with CRLF line ends is what the signature
 * covers) but streamed: the content goes straight into the digests, and
 * is never copied whole. */
static gs_status
verify_detached(gs_session *s, GMimeMultipart *mp, gs_cms_result *res, char **errmsg)
{
	GMimeObject *content, *sig;
	GMimeContentType *ct;
	gs_cms_verifier *v = NULL;
	GByteArray *der;
	gs_status st;
	int too_big;

	if (g_mime_multipart_get_count(mp) < 2)
		return gs_fail(errmsg, GS_E_MALFORMED, "multipart/signed without its two parts");
	content = g_mime_multipart_get_part(mp, GMIME_MULTIPART_SIGNED_CONTENT);
	sig = g_mime_multipart_get_part(mp, GMIME_MULTIPART_SIGNED_SIGNATURE);
	ct = g_mime_object_get_content_type(sig);
	if (!GMIME_IS_PART(sig) || !ct || g_ascii_strcasecmp(g_mime_content_type_get_media_type(ct), "application") ||
	    (g_ascii_strcasecmp(g_mime_content_type_get_media_subtype(ct), "pkcs7-signature") &&
	     g_ascii_strcasecmp(g_mime_content_type_get_media_subtype(ct), "x-pkcs7-signature")))
		return gs_fail(errmsg, GS_E_MALFORMED, "the signature part is not application/pkcs7-signature");
	der = part_bytes(s, GMIME_PART(sig), 0, &too_big);
	if (too_big) {
		g_byte_array_unref(der);
		return gs_fail(errmsg, GS_E_LIMIT, "signature larger than the message limit");
	}
	st = gs_cms_verifier_new(s, der->data, der->len, NULL, 1, NULL, &v, errmsg);
	g_byte_array_unref(der);
	if (st != GS_OK)
		return st;
	if ((st = gs_write_entity_crlf(content, gs_cms_verifier_sink(v), errmsg)) != GS_OK) {
		gs_cms_verifier_free(v);
		return st;
	}
	return gs_cms_verifier_finish(v, res, errmsg);
}

/* Opaque signed-data: verify it and parse the content it carries (LF
 * line ends) into *inner. */
static gs_status
verify_opaque(gs_session *s, GMimePart *part, GMimeObject **inner, int *headerless,
	      gs_cms_result *res, char **errmsg)
{
	GMimeStream *clear = g_mime_stream_mem_new();
	GByteArray *text, *der;
	gs_status st;
	int too_big;
	BIO *out;

	*inner = NULL;
	*headerless = 0;
	der = part_bytes(s, part, 0, &too_big);
	if (too_big)
		st = gs_fail(errmsg, GS_E_LIMIT, "signed-data larger than the message limit");
	else {
		out = gs_bio_new_stream(clear);
		st = gs_cms_verify(s, der->data, der->len, NULL, out, res, errmsg);
		BIO_free(out);
	}
	g_byte_array_unref(der);
	/* the content's bytes leave the stream for plain_entity's */
	text = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(clear));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(clear), FALSE);
	g_object_unref(clear);
	if (st != GS_OK)
		g_byte_array_free(text, TRUE);
	else if (!(*inner = plain_entity(text, headerless)))
		st = gs_fail(errmsg, GS_E_MALFORMED, "the signed content is empty");
	return st;
}

/* The digest must be the one micalg names ("sha256" and "sha-256" name
 * the same one). */
static unsigned
micalg_reasons(GMimeObject *mps, const gs_cms_result *res)
{
	const char *micalg = g_mime_object_get_content_type_parameter(mps, "micalg");
	char *want = micalg ? digest_key(micalg) : NULL;
	unsigned reasons = 0;
	guint i;

	for (i = 0; want && i < res->signers->len; i++) {
		gs_signer_data *sd = res->signers->pdata[i];
		char *got = sd->digest ? digest_key(sd->digest) : NULL;
		if (got && strcmp(got, want) != 0)
			reasons |= GS_REASON_MICALG_MISMATCH;
		g_free(got);
	}
	g_free(want);
	return reasons;
}

/* A structure that cannot even be parsed is a bad signature (an
 * unsupported algorithm: unchecked; one over a cost cap: not checked,
 * and a note at `path` says which cap); anything else is an error.
 * Turns the first kind into layer reasons and forgets the message. */
static int
unparseable(gs_report *r, const char *path, gs_status st, unsigned *reasons, char **errmsg)
{
	if (st == GS_E_LIMIT) {
		char *note = g_strdup_printf("signature not checked: %s",
					     errmsg && *errmsg ? *errmsg : gs_status_string(st));
		gs_report_note(r, path, note);
		g_free(note);
		*reasons |= GS_REASON_LIMIT;
	} else if (st == GS_E_MALFORMED || st == GS_E_UNSUPPORTED) {
		*reasons |= st == GS_E_UNSUPPORTED ? GS_REASON_UNSUPPORTED_ALGO : GS_REASON_BAD_SIGNATURE;
	} else {
		return 0;
	}
	if (errmsg) {
		g_free(*errmsg);
		*errmsg = NULL;
	}
	return 1;
}

/* ---- parts that are not the whole message ---- */

static char *
child_path(const char *path, int i)
{
	return path && *path ? g_strdup_printf("%s.%d", path, i) : g_strdup_printf("%d", i);
}

typedef struct secured {
	char *path;
	GMimeObject *obj;
	part_kind kind;
	GMimeMessage *message; /* the attached message whose body it is, or NULL */
} secured;

static void
secured_free(gpointer p)
{
	secured *x = p;

	g_free(x->path);
	g_free(x);
}

/* Every signed or encrypted part below `o` (never inside a signed or
 * encrypted part: those are what their signature or encryption covers). */
static void
find_secured(gs_session *s, GMimeObject *o, const char *path, GMimeMessage *in_message,
	     unsigned depth, GPtrArray *out)
{
	int nid, i;
	part_kind kind;

	if (!o || depth > s->limits.max_depth)
		return;
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		char *p = child_path(path, 1);
		if (msg)
			find_secured(s, g_mime_message_get_mime_part(msg), p, msg, depth + 1, out);
		g_free(p);
		return;
	}
	kind = classify(o, &nid, s->limits.max_message);
	if (kind != PART_PLAIN) {
		secured *x = g_new0(secured, 1);
		x->path = g_strdup(path && *path ? path : "1");
		x->obj = o;
		x->kind = kind;
		x->message = in_message;
		g_ptr_array_add(out, x);
		return;
	}
	if (GMIME_IS_MULTIPART(o))
		for (i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); i++) {
			char *p = child_path(path, i + 1);
			find_secured(s, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), p, NULL, depth + 1,
				     out);
			g_free(p);
		}
}

/* ---- header protection (RFC 9788, and the protected-headers drafts) ---- */

static char *
address_key(const char *value)
{
	InternetAddressList *l = internet_address_list_parse(NULL, value);
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	char *k;

	collect_addresses(l, a);
	g_ptr_array_add(a, NULL);
	k = g_strjoinv(",", (char **) a->pdata);
	g_ptr_array_free(a, TRUE);
	if (l)
		g_object_unref(l);
	return k;
}

static int
same_header(const char *name, const char *a, const char *b)
{
	char *x, *y;
	int same;

	if (!g_ascii_strcasecmp(name, "From") || !g_ascii_strcasecmp(name, "To") ||
	    !g_ascii_strcasecmp(name, "Cc") || !g_ascii_strcasecmp(name, "Reply-To")) {
		x = address_key(a);
		y = address_key(b);
	} else if (!g_ascii_strcasecmp(name, "Date")) {
		GDateTime *da = g_mime_utils_header_decode_date(a), *db = g_mime_utils_header_decode_date(b);
		same = da && db && g_date_time_compare(da, db) == 0;
		if (da)
			g_date_time_unref(da);
		if (db)
			g_date_time_unref(db);
		return same;
	} else if (!g_ascii_strcasecmp(name, "Message-ID")) {
		x = g_mime_utils_decode_message_id(a);
		y = g_mime_utils_decode_message_id(b);
	} else {
		x = g_mime_utils_header_decode_text(NULL, a);
		y = g_mime_utils_header_decode_text(NULL, b);
		g_strstrip(x);
		g_strstrip(y);
	}
	same = x && y && !strcmp(x, y);
	g_free(x);
	g_free(y);
	return same;
}

/* When the protected entity carries its own header fields, say so and
 * flag every outer field that disagrees with them. */
static void
check_protected(GMimeObject *payload, GMimeMessage *outer, gs_report *r)
{
	static const char *const names[] = { "From", "To", "Cc", "Reply-To", "Subject", "Date",
					     "Message-ID", NULL };
	GMimeContentType *ct;
	const char *const *n;

	if (!payload)
		return;
	ct = g_mime_object_get_content_type(payload);
	if (ct && (g_mime_content_type_get_parameter(ct, "hp") ||
		   g_mime_content_type_get_parameter(ct, "protected-headers")))
		r->protected_headers = 1;
	for (n = names; *n; n++) {
		const char *in = g_mime_object_get_header(payload, *n);
		const char *out;

		if (!in)
			continue;
		r->protected_headers = 1;
		out = g_mime_object_get_header(GMIME_OBJECT(outer), *n);
		if (!out || !same_header(*n, in, out))
			gs_report_mismatch(r, *n);
	}
}

/* ---- the layers a reader sees through ---- */

/* Walking the whole-body layers of a message: each signature and each
 * encryption that wraps all of what lies under it, outermost first. */
typedef struct walk {
	gs_session *s;
	gs_report *r;
	const char *from;          /* the one From address, or NULL */
	int decrypt;               /* the caller wants the plaintext (decrypt) */
	int delivery;              /* ... unattended: only what is authenticated (gs_decrypt_opts) */
	int signed_above;          /* a signature was met: the From rule was applied */
	unsigned layers;
	unsigned checked;          /* signers checked so far (GS_MAX_SIGNER_CHECKS) */
	GMimeObject *payload;      /* the innermost entity (a reference) */
	GMimeObject *under;        /* what lies under the last encryption (a reference) */
	char *under_path;
	GPtrArray *protected;      /* entities that may carry protected headers */
} walk;

/* The most layers followed: more is an attack on the reader's patience. */
#define MAX_LAYERS 8

static gs_status walk_entity(walk *w, GMimeObject *obj, const char *path, char **errmsg);

/* One message checks at most GS_MAX_SIGNER_CHECKS signers, over all its
 * layers and parts: GS_E_LIMIT once they are spent. */
static gs_status
budget(walk *w, char **errmsg)
{
	if (w->checked < GS_MAX_SIGNER_CHECKS)
		return GS_OK;
	return gs_fail(errmsg, GS_E_LIMIT, "more than %d signers in one message", GS_MAX_SIGNER_CHECKS);
}

static gs_status
walk_inner(walk *w, GMimeObject *inner, const char *path, char **errmsg)
{
	char *p = child_path(path, 1);
	gs_status st = walk_entity(w, inner, p, errmsg);

	g_free(p);
	return st;
}

static gs_status
walk_signed(walk *w, GMimeObject *obj, const char *path, char **errmsg)
{
	GMimeMultipart *mp = GMIME_MULTIPART(obj);
	GMimeObject *content = NULL;
	gs_cms_result res;
	unsigned reasons = 0;
	gs_status st;
	int n = g_mime_multipart_get_count(mp), nid;

	/* RFC 1847: the content and the signature, nothing else */
	if (n != 2)
		reasons |= GS_REASON_BAD_STRUCTURE;
	gs_cms_result_init(&res);
	if ((st = budget(w, errmsg)) == GS_OK)
		st = verify_detached(w->s, mp, &res, errmsg);
	w->checked += res.signers->len;
	if (st != GS_OK && !unparseable(w->r, path, st, &reasons, errmsg)) {
		gs_cms_result_clear(&res);
		return st;
	}
	reasons |= micalg_reasons(obj, &res);
	if (n >= 1)
		content = g_mime_multipart_get_part(mp, GMIME_MULTIPART_SIGNED_CONTENT);
	/* a signing gateway's signature over ciphertext */
	if (content && classify(content, &nid, w->s->limits.max_message) == PART_ENCRYPTED)
		reasons |= GS_REASON_SIGNED_CIPHERTEXT;
	gs_report_add_signed(w->r, path, "detached", &res, reasons, w->from, !w->signed_above);
	gs_cms_result_clear(&res);
	w->signed_above = 1;
	return content ? walk_inner(w, content, path, errmsg) : GS_OK;
}

static gs_status
walk_opaque(walk *w, GMimeObject *obj, const char *path, char **errmsg)
{
	GMimeObject *inner = NULL;
	gs_cms_result res;
	unsigned reasons = 0;
	gs_status st;
	int headerless = 0;

	gs_cms_result_init(&res);
	if ((st = budget(w, errmsg)) == GS_OK)
		st = verify_opaque(w->s, GMIME_PART(obj), &inner, &headerless, &res, errmsg);
	w->checked += res.signers->len;
	if (st != GS_OK) {
		gs_cms_result_clear(&res);
		/* decrypt looks for encryption: signed-data it cannot read is
		 * not its business, and the message passes on as it is */
		if (w->decrypt && !w->under && (st == GS_E_MALFORMED || st == GS_E_LIMIT)) {
			if (errmsg) {
				g_free(*errmsg);
				*errmsg = NULL;
			}
			return GS_OK;
		}
		/* opaque signed-data is the body itself: if it does not parse,
		 * the message is malformed; an unsupported algorithm or a cost
		 * cap is a verdict */
		if (st != GS_E_UNSUPPORTED && st != GS_E_LIMIT)
			return st;
		unparseable(w->r, path, st, &reasons, errmsg);
		gs_cms_result_init(&res);
		gs_report_add_signed(w->r, path, "opaque", &res, reasons, w->from, !w->signed_above);
		gs_cms_result_clear(&res);
		return GS_OK;
	}
	if (headerless)
		note_headerless(w->r, path, "signed", inner);
	if (ambiguous_entity(inner, 0))
		reasons |= GS_REASON_BAD_STRUCTURE;
	gs_report_add_signed(w->r, path, "opaque", &res, reasons, w->from, !w->signed_above);
	gs_cms_result_clear(&res);
	w->signed_above = 1;
	g_ptr_array_add(w->protected, g_object_ref(inner));
	st = walk_inner(w, inner, path, errmsg);
	g_object_unref(inner);
	return st;
}

static gs_status
walk_encrypted(walk *w, GMimeObject *obj, const char *path, int nid, char **errmsg)
{
	GMimeObject *plain = NULL;
	gs_cms_result res;
	gs_status st;
	int headerless = 0;

	if (nid == NID_undef)
		return gs_fail(errmsg, GS_E_MALFORMED, "the S/MIME part does not hold a CMS structure");
	/* never inflated: a few bytes of compressed-data can claim gigabytes */
	if (nid == NID_id_smime_ct_compressedData)
		return gs_fail(errmsg, GS_E_UNSUPPORTED, "compressed-data (RFC 3274) is not supported");
	gs_cms_result_init(&res);
	st = decrypt_part(w->s, obj, &plain, &headerless, &res, errmsg);
	if (st == GS_OK)
		st = check_decrypted(w->s, plain, errmsg);
	if (st != GS_OK) {
		gs_cms_result_clear(&res);
		if (plain)
			g_object_unref(plain);
		/* verify, under a signature: the signature is reported, the
		 * content it covers stays closed */
		if (!w->decrypt && w->signed_above && (st == GS_E_NO_KEY || st == GS_E_PASSPHRASE)) {
			char *note = g_strdup_printf("encrypted content not opened: %s",
						     errmsg && *errmsg ? *errmsg : gs_status_string(st));
			gs_report_note(w->r, path, note);
			g_free(note);
			if (errmsg) {
				g_free(*errmsg);
				*errmsg = NULL;
			}
			return GS_OK;
		}
		return st;
	}
	if (headerless)
		note_headerless(w->r, path, "decrypted", plain);
	gs_report_add_encrypted(w->r, path, res.cipher, res.authenticated);
	gs_cms_result_clear(&res);
	/* what a reader sees inside must be as unambiguous as the outside */
	if (ambiguous_entity(plain, 0))
		w->r->reasons |= GS_REASON_BAD_STRUCTURE;
	if (w->under)
		g_object_unref(w->under);
	w->under = g_object_ref(plain);
	g_free(w->under_path);
	w->under_path = g_strdup(path);
	g_ptr_array_add(w->protected, g_object_ref(plain));
	st = walk_inner(w, plain, path, errmsg);
	g_object_unref(plain);
	return st;
}

static gs_status
walk_entity(walk *w, GMimeObject *obj, const char *path, char **errmsg)
{
	part_kind kind;
	int nid;

	kind = classify(obj, &nid, w->s->limits.max_message);
	if (kind == PART_PLAIN) {
		if (w->payload)
			g_object_unref(w->payload);
		w->payload = g_object_ref(obj);
		return GS_OK;
	}
	if (++w->layers > MAX_LAYERS)
		return gs_fail(errmsg, GS_E_LIMIT, "more than %d S/MIME layers", MAX_LAYERS);
	switch (kind) {
	case PART_SIGNED:
		return walk_signed(w, obj, path, errmsg);
	case PART_OPAQUE_SIGNED:
		return walk_opaque(w, obj, path, errmsg);
	default:
		return walk_encrypted(w, obj, path, nid, errmsg);
	}
}

static void
walk_init(walk *w, gs_session *s, GMimeMessage *m, int decrypt)
{
	memset(w, 0, sizeof *w);
	w->s = s;
	w->r = gs_report_new();
	w->from = from_address(m);
	w->decrypt = decrypt;
	w->protected = g_ptr_array_new_with_free_func(g_object_unref);
	/* readers that disagree on the structure disagree on what is signed */
	if (ambiguous_entity(GMIME_OBJECT(m), 0))
		w->r->reasons |= GS_REASON_BAD_STRUCTURE;
}

static void
walk_clear(walk *w)
{
	g_free((char *) w->from);
	if (w->payload)
		g_object_unref(w->payload);
	if (w->under)
		g_object_unref(w->under);
	g_free(w->under_path);
	g_ptr_array_free(w->protected, TRUE);
	gs_report_free(w->r);
}

/* Header protection: the decrypted entities and the signed content of
 * each layer may carry the message's own header fields. */
static void
walk_protected(walk *w, GMimeMessage *m)
{
	guint i;

	for (i = 0; i < w->protected->len; i++)
		check_protected(w->protected->pdata[i], m, w->r);
	if (w->payload && (w->protected->len == 0 || w->protected->pdata[w->protected->len - 1] != w->payload))
		check_protected(w->payload, m, w->r);
}

/* A signature on a part is not a signature on the message: it is
 * reported, naming the part, and never good. */
static gs_status
walk_parts(walk *w, GMimeObject *entity, int decrypt_attached, int *opened, char **errmsg)
{
	GPtrArray *found = g_ptr_array_new_with_free_func(secured_free);
	gs_status st = GS_OK;
	unsigned skipped = 0;
	guint i;

	find_secured(w->s, entity, "", NULL, 1, found);
	for (i = 0; i < found->len && st == GS_OK; i++) {
		secured *x = found->pdata[i];

		if (x->kind == PART_ENCRYPTED) {
			/* EFAIL: decrypt only what is a whole message body, here the
			 * body of an attached message; an encrypted part beside parts
			 * the sender controls stays encrypted, and is reported */
			if (w->delivery && x->message) {
				gs_report_note(w->r, x->path, "encrypted attached message not opened: on delivery "
							      "only the message's own body is decrypted");
			} else if (!decrypt_attached) {
				gs_report_note(w->r, x->path, "encrypted part not opened: it is not the whole message");
			} else if (!x->message || g_mime_message_get_mime_part(x->message) != x->obj) {
				gs_report_note(w->r, x->path, "encrypted part left encrypted: it is not the whole message");
			} else {
				walk sub;
				int nid;

				walk_init(&sub, w->s, x->message, 1);
				classify(x->obj, &nid, w->s->limits.max_message);
				st = walk_encrypted(&sub, x->obj, x->path, nid, errmsg);
				if (st == GS_OK) {
					const char *why;

					g_mime_message_set_mime_part(x->message, sub.under);
					gs_report_note(w->r, x->path, "attached message decrypted");
					gs_report_finish(sub.r);
					if ((why = gs_report_unauthenticated(sub.r)))
						gs_report_unauthenticated_part(w->r, x->path, why);
					*opened = 1;
				}
				walk_clear(&sub);
			}
			continue;
		}
		w->r->reasons |= GS_REASON_PARTIAL;
		if (w->checked >= GS_MAX_SIGNER_CHECKS) {
			/* once: the parts after it are not looked at either */
			if (!skipped++)
				gs_report_note(w->r, x->path, "signed: not checked, nor any signed part after it "
							      "(over the limit of signers in one message)");
			w->r->reasons |= GS_REASON_LIMIT;
			continue;
		}
		gs_report_note(w->r, x->path, x->message ? "signed, in an attached message: the signature "
							   "covers only that part"
							 : "signed: the signature covers only this part");
		w->layers = 0;
		w->signed_above = 0;
		st = walk_entity(w, x->obj, x->path, errmsg);
	}
	g_ptr_array_free(found, TRUE);
	return st;
}

/* ---- decrypt's output: what a MUA that knows no S/MIME can read ---- */

/* Opaque signed-data as the equivalent multipart/signed: the content
 * becomes the first part and the SignedData, its eContent detached, the
 * second; the signature stays valid (it covers the content's bytes, not
 * where they are carried). Checked by verifying the result; NULL when it
 * would not verify the same. */
static GMimeObject *
opaque_to_detached(gs_session *s, GMimeObject *opaque, const gs_report *r, char **why)
{
	GMimeObject *inner = NULL, *sigpart = NULL;
	GMimeMultipart *mps = NULL;
	GMimeDataWrapper *w;
	GMimeStream *mem;
	CMS_ContentInfo *cms = NULL;
	GByteArray *der = NULL, *detached = NULL;
	gs_cms_result res, check;
	const unsigned char *p;
	unsigned char *out = NULL;
	const char *micalg = "sha-256";
	gs_status st;
	int too_big = 0, headerless = 0, len, ok = 0;
	guint i;

	(void) r;
	gs_cms_result_init(&res);
	gs_cms_result_init(&check);
	if (verify_opaque(s, GMIME_PART(opaque), &inner, &headerless, &res, why) != GS_OK || headerless)
		goto out;
	der = part_bytes(s, GMIME_PART(opaque), 0, &too_big);
	p = der->data;
	if (too_big || !(cms = d2i_CMS_ContentInfo(NULL, &p, (long) der->len)) || !CMS_set_detached(cms, 1) ||
	    (len = i2d_CMS_ContentInfo(cms, &out)) <= 0)
		goto out;
	detached = g_byte_array_new();
	g_byte_array_append(detached, out, (guint) len);
	for (i = 0; i < res.signers->len; i++) {
		gs_signer_data *sd = res.signers->pdata[i];
		if (sd->digest && !g_str_has_prefix(sd->digest, "1."))
			micalg = sd->digest;
	}
	mps = GMIME_MULTIPART(g_mime_multipart_signed_new());
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mps), "protocol", "application/pkcs7-signature");
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(mps), "micalg", micalg);
	g_mime_multipart_set_boundary(mps, NULL);
	g_mime_multipart_add(mps, inner);
	sigpart = GMIME_OBJECT(g_mime_part_new_with_type("application", "pkcs7-signature"));
	g_mime_part_set_filename(GMIME_PART(sigpart), "smime.p7s");
	g_mime_object_set_header(sigpart, "Content-Description", "S/MIME Cryptographic Signature", NULL);
	mem = g_mime_stream_mem_new_with_byte_array(detached);
	detached = NULL;
	w = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(mem);
	g_mime_part_set_content(GMIME_PART(sigpart), w);
	g_object_unref(w);
	g_mime_part_set_content_encoding(GMIME_PART(sigpart), GMIME_CONTENT_ENCODING_BASE64);
	g_mime_multipart_add(mps, sigpart);
	/* it must verify as the opaque form did, signer for signer */
	st = verify_detached(s, mps, &check, why);
	ok = st == GS_OK && check.signers->len == res.signers->len && !check.content_mismatch;
	for (i = 0; ok && i < check.signers->len; i++)
		ok = ((gs_signer_data *) check.signers->pdata[i])->pub.status ==
		     ((gs_signer_data *) res.signers->pdata[i])->pub.status;
out:
	gs_cms_result_clear(&res);
	gs_cms_result_clear(&check);
	if (der)
		g_byte_array_unref(der);
	if (detached)
		g_byte_array_unref(detached);
	OPENSSL_free(out);
	CMS_ContentInfo_free(cms);
	if (inner)
		g_object_unref(inner);
	if (sigpart)
		g_object_unref(sigpart);
	if (!ok && mps) {
		g_object_unref(mps);
		mps = NULL;
	}
	ERR_clear_error();
	return mps ? GMIME_OBJECT(mps) : NULL;
}

/* ---- the operations ---- */

/* The body becomes what lies under the last encryption; a signature
 * outside it covered the ciphertext and cannot stay. */
static void
write_plaintext(gs_session *s, GMimeMessage *m, walk *w)
{
	GMimeObject *body = w->under, *mps = NULL;

	if (gs_report_layer_count(w->r) && gs_report_layer(w->r, 0)->kind == GS_LAYER_SIGNED)
		gs_report_note(w->r, "1", "the signature over the encrypted content was checked and removed");
	if (classify(body, &(int){ 0 }, s->limits.max_message) == PART_OPAQUE_SIGNED) {
		char *why = NULL;

		mps = opaque_to_detached(s, body, w->r, &why);
		g_free(why);
		if (mps)
			gs_report_note(w->r, w->under_path, "opaque signed-data written as multipart/signed");
	}
	g_mime_message_set_mime_part(m, mps ? mps : body);
	if (mps)
		g_object_unref(mps);
}

gs_status
gs_message_decrypt(gs_session *s, GMimeMessage *m, const gs_decrypt_opts *opts, gs_report **report,
		   char **errmsg)
{
	GMimeObject *entity;
	gs_status st = GS_OK;
	walk w;
	int opened = 0;

	if (report)
		*report = NULL;
	if (!s || !m)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_decrypt: bad arguments");
	if (!(entity = g_mime_message_get_mime_part(m)))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	walk_init(&w, s, m, 1);
	w.delivery = opts && opts->delivery;
	if (classify(entity, &(int){ 0 }, s->limits.max_message) != PART_PLAIN)
		st = walk_entity(&w, entity, "1", errmsg);
	if (st == GS_OK && w.under) {
		/* judged before anything is written: on delivery, content that
		 * is not authenticated stays as it came */
		gs_report_finish(w.r);
		if (w.delivery && gs_report_unauthenticated(w.r))
			w.r->withheld = 1;
		else
			write_plaintext(s, m, &w);
		opened = 1;
	} else if (st == GS_OK && gs_report_layer_count(w.r) == 0) {
		/* no whole-body layer: maybe an attached message's encryption
		 * (never on delivery: it sits beside parts the sender chose) */
		st = walk_parts(&w, entity, !w.delivery, &opened, errmsg);
	}
	if (st == GS_OK && !opened)
		st = gs_fail(errmsg, GS_E_NOT_FOUND, "the message is not encrypted");
	if (st == GS_OK || st == GS_E_NOT_FOUND) {
		walk_protected(&w, m);
		gs_report_finish(w.r);
		if (report) {
			*report = w.r;
			w.r = NULL;
		}
	}
	walk_clear(&w);
	return st;
}

gs_status
gs_message_verify(gs_session *s, GMimeMessage *m, gs_report **report, char **errmsg)
{
	GMimeObject *entity;
	gs_status st;
	walk w;
	int opened = 0;

	if (!s || !m || !report)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_verify: bad arguments");
	*report = NULL;
	if (!(entity = g_mime_message_get_mime_part(m)))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	walk_init(&w, s, m, 0);
	if (classify(entity, &(int){ 0 }, s->limits.max_message) != PART_PLAIN)
		st = walk_entity(&w, entity, "1", errmsg);
	else
		st = walk_parts(&w, entity, 0, &opened, errmsg);
	if (st == GS_OK) {
		walk_protected(&w, m);
		gs_report_finish(w.r);
		*report = w.r;
		w.r = NULL;
	}
	walk_clear(&w);
	return st;
}
