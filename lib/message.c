/* message.c: whole-message operations on top of GMime: which part is
 * signed or encrypted, what happens to the outer headers, and the
 * report. The crypto goes through GMime's multipart/signed and
 * application/pkcs7-mime APIs, which call our context. */
#include "gs-private.h"

#include <errno.h>
#include <string.h>
#include <openssl/err.h>

static gs_status
status_of(GError *err, char **errmsg, const char *what)
{
	gs_status st;

	if (!err)
		return gs_fail(errmsg, GS_E_INTERNAL, "%s failed", what);
	st = err->domain == GS_ERROR ? (gs_status) err->code : GS_E_MALFORMED;
	gs_fail(errmsg, st, "%s", err->message);
	g_error_free(err);
	return st;
}

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
	GMimeHeaderList *hl = g_mime_object_get_header_list(top);
	unsigned parts = 0;
	int i, n = hl ? g_mime_header_list_get_count(hl) : 0;

	if (n == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a mail message (no header fields)");
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_raw_value(h);
		if (!valid_field_name(g_mime_header_get_name(h)))
			return gs_fail(errmsg, GS_E_MALFORMED,
				       "not a mail message (header field %d has an invalid name)", i + 1);
		if (raw && strlen(raw) > l->max_header)
			return gs_fail(errmsg, GS_E_LIMIT, "header %s longer than %zu bytes",
				       g_mime_header_get_name(h), l->max_header);
	}
	if (!g_mime_message_get_mime_part(m))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	return check_limits(l, g_mime_message_get_mime_part(m), 1, &parts, errmsg);
}

gs_status
gs_message_parse(gs_session *s, GMimeStream *stream, GMimeMessage **out, char **errmsg)
{
	GMimeParser *parser;
	GMimeMessage *m;
	gs_status st;

	if (!s || !stream || !out)
		return gs_fail(errmsg, GS_E_USAGE, "gs_message_parse: bad arguments");
	*out = NULL;
	if (g_mime_stream_length(stream) == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty input");
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
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
		return gs_fail(errmsg, GS_E_USAGE, "gs_message_write: bad arguments");
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
	g_free(s->stream_error);
	s->stream_error = NULL;
	n = g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, stream);
	if (n >= 0 && g_mime_stream_flush(stream) != 0)
		n = -1;
	g_mime_format_options_free(fo);
	if (n >= 0)
		return GS_OK;
	/* a streaming part that failed says why; else the stream did */
	if (s->stream_error)
		return gs_fail(errmsg, s->stream_status, "%s", s->stream_error);
	return gs_fail(errmsg, GS_E_IO, "write error: %s", g_strerror(errno ? errno : EIO));
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
		return gs_fail(errmsg, GS_E_USAGE, "gs_message_sign: bad arguments");
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

struct gs_failures {
	GArray *items;    /* of gs_recipient_failure, strings owned */
};

size_t
gs_failures_count(const gs_failures *f)
{
	return f ? f->items->len : 0;
}

const gs_recipient_failure *
gs_failures_get(const gs_failures *f, size_t i)
{
	return f && i < f->items->len ? &g_array_index(f->items, gs_recipient_failure, i) : NULL;
}

void
gs_failures_free(gs_failures *f)
{
	guint i;

	if (!f)
		return;
	for (i = 0; i < f->items->len; i++) {
		gs_recipient_failure *r = &g_array_index(f->items, gs_recipient_failure, i);
		g_free((char *) r->recipient);
		g_free((char *) r->reason);
	}
	g_array_free(f->items, TRUE);
	g_free(f);
}

static void
failure_add(gs_failures **f, const char *recipient, const char *reason)
{
	gs_recipient_failure r;

	if (!*f) {
		*f = g_new0(gs_failures, 1);
		(*f)->items = g_array_new(FALSE, FALSE, sizeof(gs_recipient_failure));
	}
	r.recipient = g_strdup(recipient);
	r.reason = g_strdup(reason);
	g_array_append_val((*f)->items, r);
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
		   gs_failures **failures, char **errmsg)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *fps = g_ptr_array_new_with_free_func(g_free);
	gs_failures *fails = NULL;
	GMimeObject *entity, *signed_obj = NULL;
	STACK_OF(X509) *recips = sk_X509_new_null();
	GMimeObject *p7 = NULL;
	gs_identity *self = NULL;
	char *owned = NULL;
	const char *sender;
	int all_gcm = 1;
	gs_status st = GS_OK;
	guint i;

	if (failures)
		*failures = NULL;
	if (!s || !m || !opts) {
		st = gs_fail(errmsg, GS_E_USAGE, "gs_message_encrypt: bad arguments");
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
	for (i = 0; i < names->len; i++) {
		gs_resolution *res = NULL;
		const gs_candidate *c;

		if ((st = gs_resolve(s, names->pdata[i], opts->resolve_flags, &res, errmsg)) != GS_OK)
			goto out;
		if ((c = gs_resolution_chosen(res))) {
			if (add_unique(fps, g_strconcat("sha256:", c->cert.sha256, NULL))) {
				X509 *x = gs_resolution_chosen_cert(res);
				X509_up_ref(x);
				sk_X509_push(recips, x);
			}
			if (!supports_gcm(s, c->cert.sha256))
				all_gcm = 0;
		} else {
			failure_add(&fails, names->pdata[i], gs_resolution_failure(res));
		}
		gs_resolution_free(res);
	}
	sender = signer_of(m, opts->from, &owned);
	if (!opts->no_self) {
		char *msg = NULL;
		if ((st = gs_identity_for_address(s, sender, &self, &msg)) != GS_OK) {
			failure_add(&fails, sender ? sender : "(no From)",
				    "no identity of yours to keep a readable copy "
				    "(import your key, or use --no-self)");
			g_free(msg);
			st = GS_OK;
		} else {
			char *fp = gs_cert_sha256_hex(self->cert);
			if (add_unique(fps, g_strconcat("sha256:", fp, NULL))) {
				X509_up_ref(self->cert);
				sk_X509_push(recips, self->cert);
			}
			g_free(fp);
		}
	}
	if (fails) {
		GString *g = g_string_new(NULL);
		for (i = 0; i < gs_failures_count(fails); i++) {
			const gs_recipient_failure *f = gs_failures_get(fails, i);
			g_string_append_printf(g, "%s%s: %s", i ? "; " : "", f->recipient, f->reason);
		}
		st = gs_fail(errmsg, GS_E_NO_CERT, "cannot encrypt to %s", g->str);
		g_string_free(g, TRUE);
		if (failures) {
			*failures = fails;
			fails = NULL;
		}
		goto out;
	}

	if (opts->sign) {
		if ((st = sign_entity(s, entity, sender, opts->opaque_sign, &signed_obj, errmsg)) != GS_OK)
			goto out;
		entity = signed_obj;
	}
	s->cipher = opts->cipher == GS_CIPHER_AUTO ? (all_gcm ? GS_CIPHER_AES256_GCM : GS_CIPHER_AES256_CBC)
						   : opts->cipher;
	s->oaep = opts->oaep;
	/* encrypted while written (stream.c): the recipients go with it */
	p7 = gs_stream_enveloped(s, recips, s->cipher, s->oaep, entity);
	recips = NULL;
	g_mime_message_set_mime_part(m, p7);
	while (g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc"))
		;
out:
	sk_X509_pop_free(recips, X509_free);
	if (p7)
		g_object_unref(p7);
	if (signed_obj)
		g_object_unref(signed_obj);
	gs_identity_free(self);
	gs_failures_free(fails);
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

/* Decoded content of a leaf part. */
static GByteArray *
part_bytes(GMimePart *part, size_t limit, int *too_big)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *a;

	*too_big = 0;
	if (!w)
		return g_byte_array_new();
	{
		/* sized once: base64 decodes to 3/4 of its size, less the line
		 * ends; a buffer that doubles as it grows would copy itself */
		gint64 raw = g_mime_stream_length(g_mime_data_wrapper_get_stream(w));
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
	p = g_mime_parser_new_with_stream(content);
	o = g_mime_parser_construct_part(p, NULL);
	g_object_unref(p);
	if (!o) {
		g_mime_stream_reset(content);
		if ((o = headerless_entity(content)))
			*headerless = 1;
	}
	if (mem)
		g_object_unref(mem);
	return o;
}

/* Decrypt an S/MIME part (application/pkcs7-mime, or
 * application/octet-stream named *.p7m as some clients send it) into a
 * parsed entity. The encoded part is decoded once; its bytes are freed as
 * soon as OpenSSL has parsed them; the plaintext goes through dos2unix
 * into the one buffer the entity is parsed from. */
static gs_status
decrypt_part(gs_session *s, GMimeObject *obj, GMimeObject **plain, int *headerless, char **errmsg)
{
	GMimeStream *clear, *filtered;
	GMimeFilter *d2u;
	GByteArray *der;
	gs_status st;
	int too_big;
	BIO *out;

	*plain = NULL;
	*headerless = 0;
	der = part_bytes(GMIME_PART(obj), s->limits.max_message, &too_big);
	if (too_big) {
		g_byte_array_unref(der);
		return gs_fail(errmsg, GS_E_LIMIT, "encrypted part larger than the message limit");
	}
	/* the encoded input is not needed in memory any more */
	if (s->input_release)
		s->input_release(s->input_release_data);
	clear = g_mime_stream_mem_new();
	filtered = g_mime_stream_filter_new(clear);
	d2u = g_mime_filter_dos2unix_new(FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), d2u);
	g_object_unref(d2u);
	out = gs_bio_new_stream(filtered);
	st = gs_cms_decrypt_bytes(s, der, out, errmsg);
	BIO_free(out);
	if (st == GS_OK && g_mime_stream_flush(filtered) != 0)
		st = gs_fail(errmsg, GS_E_INTERNAL, "out of memory keeping the plaintext");
	g_object_unref(filtered);
	if (st == GS_OK) {
		*plain = gs_entity_parse(clear, headerless);
		if (!*plain)
			st = gs_fail(errmsg, GS_E_MALFORMED, "the decrypted content is empty");
	}
	g_object_unref(clear);
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

/* Opaque signed-data (application/pkcs7-mime, or application/octet-stream;
 * name=smime.p7m, which classify() takes for S/MIME as some clients send
 * it): what g_mime_application_pkcs7_mime_verify() does, except that
 * content without MIME headers (RFC 4134's examples) is given one part
 * (gs_entity_parse, *headerless set) instead of failing. */
static GMimeSignatureList *
verify_p7m_part(GMimePart *part, GMimeObject **inner, int *headerless, GError **err)
{
	GMimeCryptoContext *ctx = g_mime_crypto_context_new("application/pkcs7-mime");
	GMimeStream *sig = g_mime_stream_mem_new(), *clear = g_mime_stream_mem_new();
	GMimeStream *filtered = g_mime_stream_filter_new(clear);
	GMimeFilter *d2u = g_mime_filter_dos2unix_new(FALSE);
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeSignatureList *sigs;

	*inner = NULL;
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), d2u);
	g_object_unref(d2u);
	if (w)
		g_mime_data_wrapper_write_to_stream(w, sig);
	g_mime_stream_reset(sig);
	sigs = g_mime_crypto_context_verify(ctx, GMIME_VERIFY_NONE, sig, NULL, filtered, err);
	g_mime_stream_flush(filtered);
	if (sigs) {
		*inner = gs_entity_parse(clear, headerless);
		if (!*inner) {
			g_object_unref(sigs);
			sigs = NULL;
			g_set_error_literal(err, GS_ERROR, GS_E_MALFORMED, "the signed content is empty");
		}
	}
	g_object_unref(filtered);
	g_object_unref(clear);
	g_object_unref(sig);
	g_object_unref(ctx);
	return sigs;
}

/* A multipart/signed, verified as GMime's multipart/signed code would
 * (the first part written with CRLF line ends is what the signature
 * covers) but streamed: the content goes straight into the digests, and
 * is never copied whole. Signers go to the session. */
static gs_status
verify_detached(gs_session *s, GMimeMultipart *mp, char **errmsg)
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
	der = part_bytes(GMIME_PART(sig), s->limits.max_message, &too_big);
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
	return gs_cms_verifier_finish(v, errmsg);
}

/* Verify a signed entity. *payload (when non-NULL) gets what the
 * signature covers: the first part of a multipart/signed, the entity
 * inside opaque signed-data (a new reference), or NULL. */
static gs_status
verify_entity(gs_session *s, GMimeObject *obj, part_kind kind, const char *from, gs_report *r,
	      GMimeObject **payload, char **errmsg)
{
	GMimeSignatureList *sigs = NULL;
	GMimeObject *inner = NULL;
	GError *err = NULL;

	if (payload)
		*payload = NULL;
	if (kind == PART_SIGNED) {
		gs_status st;

		r->form = "detached";
		st = verify_detached(s, GMIME_MULTIPART(obj), errmsg);
		if (st == GS_E_MALFORMED || st == GS_E_UNSUPPORTED) {
			/* a structure we cannot even parse is a bad signature */
			r->kind = GS_REPORT_SIGNED;
			r->reasons |= st == GS_E_UNSUPPORTED ? GS_REASON_UNSUPPORTED_ALGO : GS_REASON_BAD_SIGNATURE;
			if (errmsg) {
				g_free(*errmsg);
				*errmsg = NULL;
			}
			return GS_OK;
		}
		if (st != GS_OK)
			return st;
		if (payload) {
			*payload = g_mime_multipart_get_part(GMIME_MULTIPART(obj), GMIME_MULTIPART_SIGNED_CONTENT);
			g_object_ref(*payload);
		}
	} else {
		r->form = "opaque";
		int headerless = 0;

		sigs = verify_p7m_part(GMIME_PART(obj), &inner, &headerless, &err);
		if (headerless)
			note_headerless(r, "1", "signed", inner);
		if (inner && payload)
			*payload = inner;
		else if (inner)
			g_object_unref(inner);
	}
	if (kind != PART_SIGNED && !sigs) {
		char *msg = NULL;
		gs_status st = status_of(err, &msg, "verification");
		/* opaque signed-data is the body itself: if it does not parse,
		 * the message is malformed; an algorithm we do not support is
		 * reported (and *errmsg left alone, as on every success) */
		if (st == GS_E_UNSUPPORTED) {
			r->kind = GS_REPORT_SIGNED;
			r->reasons |= st == GS_E_UNSUPPORTED ? GS_REASON_UNSUPPORTED_ALGO : GS_REASON_BAD_SIGNATURE;
			g_free(msg);
			return GS_OK;
		}
		gs_fail(errmsg, st, "%s", msg);
		g_free(msg);
		return st;
	}
	if (sigs)
		g_object_unref(sigs);
	if (kind == PART_SIGNED) {
		/* the digest must be the one micalg names ("sha256" and
		 * "sha-256" name the same one) */
		const char *micalg = g_mime_object_get_content_type_parameter(obj, "micalg");
		char *want = micalg ? digest_key(micalg) : NULL;
		guint i;

		for (i = 0; want && i < s->last_signers->len; i++) {
			gs_signer_data *sd = s->last_signers->pdata[i];
			char *got = sd->digest ? digest_key(sd->digest) : NULL;
			if (got && strcmp(got, want) != 0)
				r->reasons |= GS_REASON_MICALG_MISMATCH;
			g_free(got);
		}
		g_free(want);
	}
	gs_report_take_signers(r, s, from, 1);
	return GS_OK;
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

/* Decrypt one encrypted entity (at PATH, for the report) and check the
 * result against the limits. */
static gs_status
open_entity(gs_session *s, GMimeObject *entity, const char *path, int nid, GMimeObject **plain,
	    gs_report *r, char **errmsg)
{
	gs_status st;
	int headerless;

	*plain = NULL;
	if (nid == NID_undef)
		return gs_fail(errmsg, GS_E_MALFORMED, "the S/MIME part does not hold a CMS structure");
	/* never inflated: a few bytes of compressed-data can claim gigabytes */
	if (nid == NID_id_smime_ct_compressedData)
		return gs_fail(errmsg, GS_E_UNSUPPORTED, "compressed-data (RFC 3274) is not supported");
	if ((st = decrypt_part(s, entity, plain, &headerless, errmsg)) != GS_OK)
		return st;
	if (headerless)
		note_headerless(r, path, "decrypted", *plain);
	if ((st = check_decrypted(s, *plain, errmsg)) != GS_OK) {
		g_object_unref(*plain);
		*plain = NULL;
		return st;
	}
	r->encrypted = 1;
	r->authenticated = s->last_authenticated;
	g_free(r->cipher);
	r->cipher = g_strdup(s->last_cipher);
	return GS_OK;
}

/* What the signature or encryption protects, for header protection:
 * the decrypted entity, or inside it the signed content. */
static void
check_payload(gs_session *s, GMimeObject *plain, GMimeObject *signed_payload, GMimeMessage *m,
	      gs_report *r)
{
	(void) s;
	check_protected(plain, m, r);
	if (signed_payload)
		check_protected(signed_payload, m, r);
}

gs_status
gs_message_decrypt(gs_session *s, GMimeMessage *m, gs_report **report, char **errmsg)
{
	GMimeObject *entity, *plain = NULL, *payload = NULL;
	GPtrArray *found;
	gs_report *r;
	char *from;
	gs_status st = GS_OK;
	part_kind kind;
	int nid, opened = 0;
	guint i;

	if (report)
		*report = NULL;
	if (!s || !m)
		return gs_fail(errmsg, GS_E_USAGE, "gs_message_decrypt: bad arguments");
	if (!(entity = g_mime_message_get_mime_part(m)))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	r = gs_report_new();
	from = from_address(m);
	kind = classify(entity, &nid, s->limits.max_message);
	if (kind == PART_ENCRYPTED) {
		if ((st = open_entity(s, entity, "1", nid, &plain, r, errmsg)) != GS_OK)
			goto out;
		kind = classify(plain, &nid, s->limits.max_message);
		if (kind == PART_SIGNED || kind == PART_OPAQUE_SIGNED)
			st = verify_entity(s, plain, kind, from, r, &payload, errmsg);
		if (st != GS_OK)
			goto out;
		check_payload(s, plain, payload, m, r);
		g_mime_message_set_mime_part(m, plain);
		opened = 1;
		goto out;
	}
	/* EFAIL: decrypt only what is a whole message body, here the body of
	 * an attached message; an encrypted part beside parts the sender
	 * controls stays encrypted, and is reported */
	found = g_ptr_array_new_with_free_func(secured_free);
	find_secured(s, entity, "", NULL, 1, found);
	for (i = 0; i < found->len && st == GS_OK; i++) {
		secured *x = found->pdata[i];
		GMimeObject *inner = NULL;

		if (x->kind != PART_ENCRYPTED)
			continue;
		if (!x->message || g_mime_message_get_mime_part(x->message) != x->obj) {
			gs_report_note(r, x->path, "encrypted part left encrypted: it is not the whole message");
			continue;
		}
		classify(x->obj, &nid, s->limits.max_message);
		if ((st = open_entity(s, x->obj, x->path, nid, &inner, r, errmsg)) != GS_OK)
			break;
		g_mime_message_set_mime_part(x->message, inner);
		g_object_unref(inner);
		gs_report_note(r, x->path, "attached message decrypted");
		opened = 1;
	}
	g_ptr_array_free(found, TRUE);
	if (st == GS_OK && !opened)
		st = gs_fail(errmsg, GS_E_NOT_FOUND, "the message is not encrypted");
out:
	g_free(from);
	if (plain)
		g_object_unref(plain);
	if (payload)
		g_object_unref(payload);
	if ((st == GS_OK || st == GS_E_NOT_FOUND) && report)
		*report = r;
	else
		gs_report_free(r);
	return st;
}

gs_status
gs_message_verify(gs_session *s, GMimeMessage *m, gs_report **report, char **errmsg)
{
	GMimeObject *entity, *plain = NULL, *payload = NULL;
	gs_report *r;
	char *from;
	gs_status st = GS_OK;
	part_kind kind;
	int nid;

	if (!s || !m || !report)
		return gs_fail(errmsg, GS_E_USAGE, "gs_message_verify: bad arguments");
	*report = NULL;
	if (!(entity = g_mime_message_get_mime_part(m)))
		return gs_fail(errmsg, GS_E_MALFORMED, "the message has no body");
	r = gs_report_new();
	from = from_address(m);
	kind = classify(entity, &nid, s->limits.max_message);
	if (kind == PART_ENCRYPTED) {
		/* one encryption layer: look inside when we hold the key */
		if ((st = open_entity(s, entity, "1", nid, &plain, r, errmsg)) != GS_OK)
			goto out;
		entity = plain;
		kind = classify(entity, &nid, s->limits.max_message);
	}
	if (kind == PART_SIGNED || kind == PART_OPAQUE_SIGNED) {
		/* the signature covers the whole body */
		if ((st = verify_entity(s, entity, kind, from, r, &payload, errmsg)) == GS_OK)
			check_payload(s, plain, payload, m, r);
	} else {
		/* a signature on a part is not a signature on the message: it is
		 * reported, naming the part, and never good */
		GPtrArray *found = g_ptr_array_new_with_free_func(secured_free);
		guint i;

		find_secured(s, entity, "", NULL, 1, found);
		for (i = 0; i < found->len; i++) {
			secured *x = found->pdata[i];
			if (x->kind == PART_ENCRYPTED) {
				gs_report_note(r, x->path, "encrypted part not opened: it is not the whole message");
				continue;
			}
			r->reasons |= GS_REASON_PARTIAL;
			gs_report_note(r, x->path, x->message ? "signed, in an attached message: the signature "
								"covers only that part"
							      : "signed: the signature covers only this part");
			if ((st = verify_entity(s, x->obj, x->kind, from, r, NULL, errmsg)) != GS_OK)
				break;
		}
		g_ptr_array_free(found, TRUE);
	}
out:
	if (plain)
		g_object_unref(plain);
	if (payload)
		g_object_unref(payload);
	g_free(from);
	if (st != GS_OK) {
		gs_report_free(r);
		return st;
	}
	*report = r;
	return GS_OK;
}
