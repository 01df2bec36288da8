/* authres.c: Authentication-Results in the header: our verdict in, any
 * field that claims to be ours out (RFC 8601, the smime method of RFC
 * 7281, ARC-Authentication-Results of RFC 8617).
 *
 * GMime's parser says where each header field begins; a field ends where
 * its last folded line does, which is GMime's own rule (a line that does
 * not begin with white space starts something else). Everything else in
 * the message is copied, never rewritten. */
#include "gs-private.h"

#include <string.h>

/* What a header line may be long, and what we aim for (RFC 5322 2.1.1). */
#define LINE_MAX_OCTETS 998
#define LINE_FOLD_AT 78
/* A property value longer than this is left out of our field: with its
 * name and the folding it stays far below LINE_MAX_OCTETS. */
#define VALUE_MAX_OCTETS 256
#define AUTHSERV_MAX_OCTETS 255

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 token characters: printable ASCII but tspecials. */
static int
is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* RFC 5322 atext. */
static int
is_atext(unsigned char c)
{
	return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int
is_token(const char *s)
{
	for (; *s; s++)
		if (!is_token_char((unsigned char) *s))
			return 0;
	return 1;
}

static int
is_dot_atom(const char *s, const char *end)
{
	const char *p;

	if (s == end || *s == '.' || end[-1] == '.')
		return 0;
	for (p = s; p < end; p++)
		if (!is_atext((unsigned char) *p) && !(*p == '.' && p[1] != '.'))
			return 0;
	return 1;
}

/* Labels of letters, digits and hyphens (RFC 6376's domain-name). */
static int
is_domain(const char *s)
{
	const char *p;

	if (!*s || *s == '.' || *s == '-')
		return 0;
	for (p = s; *p; p++)
		if (!g_ascii_isalnum(*p) && !((*p == '.' || *p == '-') && p[1] && p[1] != '.' && p[-1] != '.'))
			return 0;
	return 1;
}

/* local-part "@" domain-name: a pvalue that needs no quotes (RFC 8601
 * 2.2). */
static int
is_address(const char *s)
{
	const char *at = strchr(s, '@');

	return at && is_dot_atom(s, at) && is_domain(at + 1);
}

int
gs_auth_results_id_valid(const char *authserv_id)
{
	size_t n;

	if (!authserv_id || !(n = strlen(authserv_id)) || n > AUTHSERV_MAX_OCTETS)
		return 0;
	for (; *authserv_id; authserv_id++)
		if ((unsigned char) *authserv_id <= 0x20 || (unsigned char) *authserv_id >= 0x7f)
			return 0;
	return 1;
}

/* ---- which fields are ours ---- */

/* Past comments (nested, with quoted-pairs) and folding white space. */
static const unsigned char *
skip_cfws(const unsigned char *p, const unsigned char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (depth && *p == ')')
			depth--;
		else if (depth && *p == '\\' && p + 1 < end)
			p++;
		else if (!depth && !is_wsp(*p))
			break;
	}
	return p;
}

/* Past the first ';' outside comments and quoted-strings, or NULL. */
static const unsigned char *
after_semicolon(const unsigned char *p, const unsigned char *end)
{
	while ((p = skip_cfws(p, end)) < end) {
		if (*p == ';')
			return p + 1;
		if (*p == '"')
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && p + 1 < end)
					p++;
		if (p < end)
			p++;
	}
	return NULL;
}

/* The authserv-id at p as a reader would take it: a quoted-string
 * without its quotes, quoted-pairs and folding undone; an encoded-word
 * (RFC 2047) decoded, since a reader may display it so; else a token. */
static char *
authserv_at(const unsigned char *p, const unsigned char *end)
{
	GString *g = g_string_new(NULL);
	const unsigned char *e;

	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '\r' || *p == '\n')
				continue;
			g_string_append_c(g, (char) *p);
		}
	} else if (end - p > 2 && p[0] == '=' && p[1] == '?') {
		char *word, *text;

		for (e = p; e < end && !is_wsp(*e) && *e != ';' && *e != '('; e++)
			;
		word = g_strndup((const char *) p, (gsize) (e - p));
		text = g_mime_utils_header_decode_text(NULL, word);
		g_string_append(g, text);
		g_free(text);
		g_free(word);
	} else {
		for (; p < end && is_token_char(*p); p++)
			g_string_append_c(g, (char) *p);
	}
	return g_string_free(g, FALSE);
}

/* Two authserv-ids name the same host: case aside, white space inside
 * quotes aside, a trailing dot (the DNS root) aside. */
static int
same_authserv(const char *a, const char *b)
{
	char *x = g_strstrip(g_strdup(a)), *y = g_strstrip(g_strdup(b));
	size_t nx = strlen(x), ny = strlen(y);
	int same;

	while (nx && x[nx - 1] == '.')
		x[--nx] = 0;
	while (ny && y[ny - 1] == '.')
		y[--ny] = 0;
	same = nx && !g_ascii_strcasecmp(x, y);
	g_free(x);
	g_free(y);
	return same;
}

/* Does the field `name` with the value bytes [v, end) claim `authserv_id`? */
static int
claims(const char *name, const unsigned char *v, const unsigned char *end, const char *authserv_id)
{
	const unsigned char *p = skip_cfws(v, end);
	char *id;
	int ours;

	if (!g_ascii_strcasecmp(name, "ARC-Authentication-Results")) {
		/* "i=N;" first, when there (RFC 8617 4.1.1) */
		if (p < end && (*p == 'i' || *p == 'I')) {
			const unsigned char *q = skip_cfws(p + 1, end);
			if (q < end && *q == '=') {
				if (!(p = after_semicolon(q, end)))
					return 0;
				p = skip_cfws(p, end);
			}
		}
	} else if (g_ascii_strcasecmp(name, "Authentication-Results")) {
		return 0;
	}
	id = authserv_at(p, end);
	ours = same_authserv(id, authserv_id);
	g_free(id);
	return ours;
}

/* ---- where the header is ---- */

/* The mbox "From " lines at the top, which GMime skips (and procmail
 * hands over): "From " or ">From " not followed, after blanks, by ':'
 * (that would be a From field with a blank before its colon). */
static size_t
from_lines(const unsigned char *raw, size_t len)
{
	size_t pos = 0;

	for (;;) {
		const unsigned char *p = raw + pos, *end = raw + len, *nl;
		size_t skip = p < end && *p == '>' ? 1 : 0;

		if ((size_t) (end - p) < skip + 5 || memcmp(p + skip, "From ", 5) != 0)
			return pos;
		for (p += skip + 4; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < end && *p == ':')
			return pos;
		nl = memchr(p, '\n', (size_t) (end - p));
		pos = nl ? (size_t) (nl - raw) + 1 : len;
	}
}

/* Where the header ends: the start of its first empty line, or len. */
static size_t
header_end(const unsigned char *raw, size_t pos, size_t len)
{
	while (pos < len) {
		const unsigned char *nl;

		if (raw[pos] == '\n' || (raw[pos] == '\r' && pos + 1 < len && raw[pos + 1] == '\n'))
			return pos;
		if (!(nl = memchr(raw + pos, '\n', len - pos)))
			return len;
		pos = (size_t) (nl - raw) + 1;
	}
	return len;
}

/* The end of the field that begins at pos: past its last folded line. */
static size_t
field_end(const unsigned char *raw, size_t pos, size_t hend)
{
	const unsigned char *nl;

	while ((nl = memchr(raw + pos, '\n', hend - pos))) {
		pos = (size_t) (nl - raw) + 1;
		if (pos >= hend || (raw[pos] != ' ' && raw[pos] != '\t'))
			return pos;
	}
	return hend;
}

/* The work of strip and annotate: `field` (may be NULL) goes first among
 * the header fields. */
static gs_status
rewrite(const void *data, size_t len, const char *authserv_id, const char *field,
	GByteArray **head, size_t *rest, unsigned *removed, char **errmsg)
{
	const unsigned char *raw = data;
	size_t from, hend, pos;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *m;
	GMimeHeaderList *hl;
	GByteArray *out;
	unsigned n_removed = 0;
	int i, n;

	if ((!raw && len) || !head || !rest || !gs_auth_results_id_valid(authserv_id))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "Authentication-Results: bad arguments");
	if (!len)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty input");
	from = from_lines(raw, len);
	hend = header_end(raw, from, len);
	if (from == len)
		return gs_fail(errmsg, GS_E_MALFORMED, "no header after the From line");
	m = NULL;
	if (hend > from) {
		/* the header alone: the body is never parsed */
		stream = g_mime_stream_mem_new_with_buffer((const char *) raw + from, hend - from);
		parser = g_mime_parser_new_with_stream(stream);
		g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
		m = g_mime_parser_construct_message(parser, NULL);
		g_object_unref(parser);
		g_object_unref(stream);
		if (!m)
			return gs_fail(errmsg, GS_E_MALFORMED, "not a mail message: the header cannot be read");
	}
	hl = m ? g_mime_object_get_header_list(GMIME_OBJECT(m)) : NULL;
	n = hl ? g_mime_header_list_get_count(hl) : 0;
	out = g_byte_array_sized_new((guint) (hend + (field ? strlen(field) : 0)));
	g_byte_array_append(out, raw, (guint) from);
	if (field)
		g_byte_array_append(out, (const guint8 *) field, (guint) strlen(field));
	pos = from;
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw_name = g_mime_header_get_raw_name(h);
		gint64 offset = g_mime_header_get_offset(h);
		size_t start = from + (size_t) offset, colon = start + strlen(raw_name), end;

		/* GMime's offsets are exact (the From lines are not in its
		 * stream); check it all the same */
		if (offset < 0 || start < pos || colon >= hend || raw[colon] != ':' ||
		    memcmp(raw + start, raw_name, strlen(raw_name)) != 0) {
			g_byte_array_unref(out);
			g_object_unref(m);
			return gs_fail(errmsg, GS_E_INTERNAL, "the header field %s is not where GMime says", raw_name);
		}
		end = field_end(raw, colon, hend);
		if (claims(g_mime_header_get_name(h), raw + colon + 1, raw + end, authserv_id)) {
			g_byte_array_append(out, raw + pos, (guint) (start - pos));
			pos = end;
			n_removed++;
		}
	}
	g_byte_array_append(out, raw + pos, (guint) (hend - pos));
	if (m)
		g_object_unref(m);
	*head = out;
	*rest = hend;
	if (removed)
		*removed = n_removed;
	return GS_OK;
}

gs_status
gs_auth_results_strip(const void *raw, size_t len, const char *authserv_id, GByteArray **head,
		      size_t *rest, unsigned *removed, char **errmsg)
{
	return rewrite(raw, len, authserv_id, NULL, head, rest, removed, errmsg);
}

/* ---- our field ---- */

/* A value as it may appear in our field (RFC 2045's value, or for a
 * property RFC 8601's local-part@domain too), or NULL when it must be
 * left out: too long, not UTF-8, or holding a character that is not
 * printable (a control character would end the header field). */
static char *
render_value(const char *v, int address_ok)
{
	const char *p;
	GString *g;

	if (!v || !*v || strlen(v) > VALUE_MAX_OCTETS || !g_utf8_validate(v, -1, NULL))
		return NULL;
	for (p = v; *p; p = g_utf8_next_char(p))
		if (!g_unichar_isprint(g_utf8_get_char(p)))
			return NULL;
	if (is_token(v) || (address_ok && is_address(v)))
		return g_strdup(v);
	g = g_string_new("\"");
	for (p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(g, '\\');
		g_string_append_c(g, *p);
	}
	g_string_append_c(g, '"');
	return g_string_free(g, FALSE);
}

static void
add_property(GPtrArray *words, const char *name, const char *value)
{
	char *v = render_value(value, 1);

	if (v)
		g_ptr_array_add(words, g_strconcat(name, "=", v, NULL));
	g_free(v);
}

/* The words of the field: none has a space, so each space between two
 * words is where the field may fold. */
static GPtrArray *
field_words(const gs_report *r, const char *authserv_id)
{
	GPtrArray *w = g_ptr_array_new_with_free_func(g_free);
	const gs_signer *first = gs_report_signer_count(r) ? gs_report_signer(r, 0) : NULL;
	unsigned reasons = gs_report_reasons(r);
	const char *result;
	char *id = render_value(authserv_id, 0);
	size_t i;

	g_ptr_array_add(w, g_strdup("Authentication-Results:"));
	g_ptr_array_add(w, g_strconcat(id, ";", NULL));
	g_free(id);
	if (gs_report_kind_of(r) != GS_REPORT_SIGNED) {
		g_ptr_array_add(w, g_strdup("smime=none"));
		return w;
	}
	switch (gs_report_status(r)) {
	case GS_SIG_GOOD: result = "smime=pass"; break;
	case GS_SIG_ERROR: result = "smime=permerror"; break;
	default: result = "smime=fail"; break;
	}
	g_ptr_array_add(w, g_strdup(result));
	for (i = 0; i < gs_report_signer_count(r); i++)
		reasons |= gs_report_signer(r, i)->reasons;
	if (reasons) {
		char *words = gs_reasons_string(reasons), *comment, **v, **p;

		g_strdelimit(words, "()\\", ' ');
		comment = g_strconcat("(", words, ")", NULL);
		v = g_strsplit(comment, " ", -1);
		for (p = v; *p; p++)
			if (**p)
				g_ptr_array_add(w, g_strdup(*p));
		g_strfreev(v);
		g_free(comment);
		g_free(words);
	}
	if (first && first->have_cert) {
		/* the first address whole: a quoted local part may hold commas */
		const char *id = first->cert.emails && first->cert.emails[0] ? first->cert.emails[0]
									       : first->cert.subject;

		add_property(w, "body.smime-identifier", id);
		add_property(w, "body.smime-serial", first->cert.serial);
		add_property(w, "body.smime-issuer", first->cert.issuer);
	}
	return w;
}

gs_status
gs_auth_results_field(const gs_report *report, const char *authserv_id, int crlf, char **field,
		      char **errmsg)
{
	const char *eol = crlf ? "\r\n" : "\n";
	GPtrArray *w;
	GString *g;
	size_t col = 0;
	guint i;

	if (!report || !field || !gs_auth_results_id_valid(authserv_id))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "Authentication-Results: bad arguments");
	w = field_words(report, authserv_id);
	g = g_string_new(NULL);
	for (i = 0; i < w->len; i++) {
		const char *word = w->pdata[i];
		size_t n = strlen(word);

		/* fold before the space when the word would pass column 78;
		 * a word never passes 998 (the values are bounded) */
		if (i > 0 && col + 1 + n > LINE_FOLD_AT) {
			g_string_append(g, eol);
			col = 0;
		}
		if (i > 0) {
			g_string_append_c(g, ' ');
			col++;
		}
		g_string_append(g, word);
		col += n;
	}
	g_string_append(g, eol);
	g_ptr_array_free(w, TRUE);
	*field = g_string_free(g, FALSE);
	return GS_OK;
}

gs_status
gs_auth_results_annotate(const void *raw, size_t len, const gs_report *report, const char *authserv_id,
			 GByteArray **head, size_t *rest, unsigned *removed, char **errmsg)
{
	const unsigned char *p = raw;
	size_t from = p && len ? from_lines(p, len) : 0;
	const unsigned char *nl = p && len ? memchr(p + from, '\n', len - from) : NULL;
	char *field = NULL;
	gs_status st;

	/* our field ends its lines as the first header line does (procmail's
	 * From line ends in LF whatever the message's line ends) */
	st = gs_auth_results_field(report, authserv_id, nl && nl > p + from && nl[-1] == '\r', &field, errmsg);
	if (st == GS_OK)
		st = rewrite(raw, len, authserv_id, field, head, rest, removed, errmsg);
	g_free(field);
	return st;
}
