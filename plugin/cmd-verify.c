/* cmd-verify.c: galsmime verify [--annotate | --json] [--passthrough] < MSG.
 * Writes the message unchanged (or with an Authentication-Results
 * header, or a JSON report instead) and exits 0 for a good signature by
 * a trusted signer who matches From, 1 when signed but not good, 2 when
 * not signed. With --passthrough (procmail): exit 0 whenever a message
 * was written, and the original unchanged when it cannot be verified. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int
parse_time(const char *s, time_t *t)
{
	GTimeZone *utc;
	GDateTime *dt;
	char *end;
	long long v;

	if (*s == '@') {
		v = strtoll(s + 1, &end, 10);
		if (*end || end == s + 1)
			return 0;
		*t = (time_t) v;
		return 1;
	}
	utc = g_time_zone_new_utc();
	dt = g_date_time_new_from_iso8601(s, utc);
	g_time_zone_unref(utc);
	if (!dt) {
		char *full = g_strconcat(s, "T00:00:00Z", NULL);
		dt = g_date_time_new_from_iso8601(full, NULL);
		g_free(full);
	}
	if (!dt)
		return 0;
	*t = (time_t) g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return 1;
}

/* Fold an Authentication-Results value at its property boundaries. */
static char *
fold_header(const char *name, const char *value)
{
	GString *g = g_string_new(name);
	char **words = g_strsplit(value, " ", -1), **w;
	size_t col;

	g_string_append(g, ":");
	col = g->len;
	for (w = words; *w; w++) {
		size_t len = strlen(*w);
		if (col + 1 + len > 76 && col > strlen(name) + 1) {
			g_string_append(g, "\n\t");
			col = 8;
		} else {
			g_string_append_c(g, ' ');
			col++;
		}
		g_string_append(g, *w);
		col += len;
	}
	g_string_append_c(g, '\n');
	g_strfreev(words);
	return g_string_free(g, FALSE);
}

/* Length of a leading mbox "From " line (procmail hands one over), or 0. */
static size_t
from_line(const unsigned char *raw, size_t len)
{
	const unsigned char *nl;

	if (len < 5 || memcmp(raw, "From ", 5) != 0 || !(nl = memchr(raw, '\n', len)))
		return 0;
	return (size_t) (nl - raw) + 1;
}

/* The authserv-id of an Authentication-Results value: its first token,
 * after white space and comments. */
static char *
authserv_of(const char *v)
{
	const char *p = v, *e;
	int depth = 0;

	while (*p && (g_ascii_isspace(*p) || *p == '(' || depth)) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth)
			depth--;
		p++;
	}
	for (e = p; *e && *e != ';' && !g_ascii_isspace(*e) && *e != '('; e++)
		;
	return g_strndup(p, (gsize) (e - p));
}

/* The message with every Authentication-Results field that claims our
 * authserv-id removed (RFC 8601 section 5: such a field can only be a
 * forgery), the other bytes untouched. NULL when there is none, or when
 * GMime's view of the header cannot be lined up with the bytes. */
static GByteArray *
strip_forged(const unsigned char *raw, size_t len, GMimeMessage *m, const char *authserv)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	int i, n = hl ? g_mime_header_list_get_count(hl) : 0, found = 0;
	size_t pos = from_line(raw, len);
	GByteArray *out = g_byte_array_new();

	g_byte_array_append(out, raw, (guint) pos);
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_raw_name(h), *value = g_mime_header_get_raw_value(h);
		size_t nl = strlen(name), vl = value ? strlen(value) : 0, fl = nl + 1 + vl;
		int forged = 0;

		/* the field must be exactly where GMime says: name ':' value */
		if (pos + fl > len || memcmp(raw + pos, name, nl) != 0 || raw[pos + nl] != ':' ||
		    memcmp(raw + pos + nl + 1, value, vl) != 0) {
			g_byte_array_unref(out);
			return NULL;
		}
		if (!g_ascii_strcasecmp(name, "Authentication-Results")) {
			char *id = authserv_of(value);
			forged = !g_ascii_strcasecmp(id, authserv);
			g_free(id);
		}
		if (forged)
			found = 1;
		else
			g_byte_array_append(out, raw + pos, (guint) fl);
		pos += fl;
	}
	if (!found) {
		g_byte_array_unref(out);
		return NULL;
	}
	g_byte_array_append(out, raw + pos, (guint) (len - pos));
	return out;
}

/* With --passthrough: the message goes on as it came, exit 0. */
static int
pass_through(cli *c, int rc)
{
	if (rc == EXIT_IOERR || !c->in)
		return rc;
	cli_error(c, "passing the message through unchanged");
	rc = cli_write(c, c->raw, c->raw_len);
	return rc == 0 ? cli_flush(c) : rc;
}

int
cmd_verify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "annotate", no_argument, NULL, 'a' },
		{ "authserv-id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "at", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "passthrough", no_argument, NULL, 'p' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *authserv = NULL;
	GMimeMessage *m = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	int opt, rc, annotate = 0, json = 0, passthrough = 0;
	time_t at = 0;
	gs_status st;

	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': annotate = 1; break;
		case 'j': json = 1; break;
		case 'i': authserv = optarg; break;
		case 'q': c->quiet = 1; break;
		case 'p': passthrough = 1; break;
		case 't':
			if (!parse_time(optarg, &at))
				return cli_usage(c, "--at takes YYYY-MM-DD, an ISO 8601 time or @SECONDS");
			break;
		default:
			if (!cli_common_option(c, opt, optarg))
				return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (annotate && json)
		return cli_usage(c, "--annotate and --json exclude each other");
	if (passthrough && json)
		return cli_usage(c, "--passthrough passes messages, --json writes reports");
	if (!authserv)
		authserv = g_get_host_name();
	/* stdin first: whatever happens next, the original can pass through */
	if ((rc = cli_read_stdin(c)) != 0)
		return passthrough ? pass_through(c, rc) : rc;
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		return passthrough ? pass_through(c, rc) : rc;
	}
	if (at)
		gs_session_set_time(c->session, at);
	if ((rc = cli_parse_message(c, &m)) != 0)
		return passthrough ? pass_through(c, rc) : rc;
	st = gs_message_verify(c->session, m, &r, &msg);
	if (st != GS_OK) {
		g_object_unref(m);
		rc = cli_fail(c, st, msg);
		return passthrough ? pass_through(c, rc) : rc;
	}

	if (json) {
		char *j = gs_report_to_json(r);
		rc = cli_write(c, j, strlen(j));
		if (rc == 0)
			rc = cli_write(c, "\n", 1);
		g_free(j);
	} else if (annotate) {
		GByteArray *clean = strip_forged(c->raw, c->raw_len, m, authserv);
		const unsigned char *body = clean ? clean->data : c->raw;
		size_t blen = clean ? clean->len : c->raw_len, fl = from_line(body, blen);
		char *v = gs_report_to_auth_results(r, authserv);
		char *h = fold_header("Authentication-Results", v);

		/* ours goes first among the header fields (after an mbox From line) */
		rc = cli_write(c, body, fl);
		if (rc == 0)
			rc = cli_write(c, h, strlen(h));
		if (rc == 0)
			rc = cli_write(c, body + fl, blen - fl);
		if (clean && !c->quiet)
			cli_error(c, "removed Authentication-Results claiming to be from %s", authserv);
		g_free(v);
		g_free(h);
		if (clean)
			g_byte_array_unref(clean);
	} else {
		rc = cli_write(c, c->raw, c->raw_len);
	}
	g_object_unref(m);
	/* the caller sees the verdict only if the output reached it: a
	 * failed write is the one error, with no verdict beside it */
	if (rc == 0 && cli_flush(c) != 0)
		rc = EXIT_IOERR;
	if (rc == 0 && !json && (!c->quiet || gs_report_status(r) != GS_SIG_GOOD))
		cli_print_report(c, r);
	if (rc == 0) {
		if (passthrough)
			rc = 0; /* the verdict travels in the header, the message goes on */
		else if (gs_report_kind_of(r) != GS_REPORT_SIGNED)
			rc = EXIT_VERIFY_UNSIGNED;
		else if (gs_report_status(r) != GS_SIG_GOOD)
			rc = EXIT_VERIFY_BAD;
	}
	gs_report_free(r);
	return rc;
}
