/* cmd-notmuch.c: galsmime notmuch harvest [--tag] [--decrypt] [QUERY]:
 * walk the signed messages of the notmuch database and learn every good
 * signer's certificate (see gs_harvest). Incremental: message ids done
 * before are skipped. With --tag: smime-signed, and smime-good or
 * smime-bad. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stddef.h>
#include <unistd.h>
#include <notmuch.h>

/* libnotmuch (and Xapian behind it) is loaded only by this command: the
 * filters, which run once per message, must not pay for loading it. */
static struct {
	__typeof__(notmuch_database_open_with_config) *open_with_config;
	__typeof__(notmuch_database_destroy) *database_destroy;
	__typeof__(notmuch_query_create) *query_create;
	__typeof__(notmuch_query_destroy) *query_destroy;
	__typeof__(notmuch_query_count_messages) *query_count_messages;
	__typeof__(notmuch_query_search_messages) *query_search_messages;
	__typeof__(notmuch_messages_valid) *messages_valid;
	__typeof__(notmuch_messages_get) *messages_get;
	__typeof__(notmuch_messages_move_to_next) *messages_move_to_next;
	__typeof__(notmuch_messages_destroy) *messages_destroy;
	__typeof__(notmuch_message_get_message_id) *message_get_message_id;
	__typeof__(notmuch_message_get_filename) *message_get_filename;
	__typeof__(notmuch_message_add_tag) *message_add_tag;
	__typeof__(notmuch_message_remove_tag) *message_remove_tag;
	__typeof__(notmuch_message_freeze) *message_freeze;
	__typeof__(notmuch_message_thaw) *message_thaw;
	__typeof__(notmuch_message_destroy) *message_destroy;
	__typeof__(notmuch_status_to_string) *status_to_string;
} nm;

static gs_status
load_notmuch(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(nm, open_with_config, notmuch_database_open_with_config),
		GS_SYMBOL(nm, database_destroy, notmuch_database_destroy),
		GS_SYMBOL(nm, query_create, notmuch_query_create),
		GS_SYMBOL(nm, query_destroy, notmuch_query_destroy),
		GS_SYMBOL(nm, query_count_messages, notmuch_query_count_messages),
		GS_SYMBOL(nm, query_search_messages, notmuch_query_search_messages),
		GS_SYMBOL(nm, messages_valid, notmuch_messages_valid),
		GS_SYMBOL(nm, messages_get, notmuch_messages_get),
		GS_SYMBOL(nm, messages_move_to_next, notmuch_messages_move_to_next),
		GS_SYMBOL(nm, messages_destroy, notmuch_messages_destroy),
		GS_SYMBOL(nm, message_get_message_id, notmuch_message_get_message_id),
		GS_SYMBOL(nm, message_get_filename, notmuch_message_get_filename),
		GS_SYMBOL(nm, message_add_tag, notmuch_message_add_tag),
		GS_SYMBOL(nm, message_remove_tag, notmuch_message_remove_tag),
		GS_SYMBOL(nm, message_freeze, notmuch_message_freeze),
		GS_SYMBOL(nm, message_thaw, notmuch_message_thaw),
		GS_SYMBOL(nm, message_destroy, notmuch_message_destroy),
		GS_SYMBOL(nm, status_to_string, notmuch_status_to_string),
	};
	return gs_library_load(GS_LIB_NOTMUCH, &nm, syms, G_N_ELEMENTS(syms), errmsg);
}

#define DEFAULT_QUERY                                                                          \
	"mimetype:application/pkcs7-signature or mimetype:application/x-pkcs7-signature or "  \
	"mimetype:application/pkcs7-mime or mimetype:application/x-pkcs7-mime"

typedef struct counts {
	unsigned long seen, good, bad, unsigned_, encrypted, before, failed;
	unsigned long certs_new, certs_known;
} counts;

static void
tag(notmuch_message_t *m1, gs_harvest_outcome o)
{
	nm.message_freeze(m1);
	nm.message_add_tag(m1, "smime-signed");
	if (o == GS_HARVEST_GOOD) {
		nm.message_add_tag(m1, "smime-good");
		nm.message_remove_tag(m1, "smime-bad");
	} else {
		nm.message_add_tag(m1, "smime-bad");
		nm.message_remove_tag(m1, "smime-good");
	}
	nm.message_thaw(m1);
}

/* One message file: parse and harvest. Returns a library status; a
 * message that cannot be parsed is counted, not fatal. */
static gs_status
harvest_file(cli *c, const char *path, const char *id, unsigned flags, gs_harvest_result *res,
	     counts *n, char **errmsg)
{
	GMimeStream *in;
	GMimeMessage *m = NULL;
	char *msg = NULL;
	gs_status st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		n->failed++;
		return GS_E_NOT_FOUND;
	}
	in = g_mime_stream_fs_new(fd);
	st = gs_message_parse(c->session, in, &m, &msg);
	g_object_unref(in);
	if (st != GS_OK) {
		if (!c->quiet)
			cli_error(c, "%s: %s (skipped)", path, msg);
		g_free(msg);
		n->failed++;
		return GS_E_MALFORMED;
	}
	st = gs_harvest(c->session, m, id, flags, res, errmsg);
	g_object_unref(m);
	return st;
}

int
cmd_notmuch(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", no_argument, NULL, 't' },
		{ "decrypt", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	notmuch_database_t *db = NULL;
	notmuch_query_t *q = NULL;
	notmuch_messages_t *msgs = NULL;
	notmuch_status_t ns;
	unsigned flags = 0, total = 0;
	int opt, rc = 0, do_tag = 0, tty = isatty(STDERR_FILENO), shown = 0;
	char *query = NULL, *err = NULL, *msg = NULL;
	counts n = { 0 };
	gs_status st;

	if (argc < 2 || strcmp(argv[1], "harvest"))
		return cli_usage(c, "notmuch harvest [--tag] [--decrypt] [QUERY]");
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (opt) {
		case 't': do_tag = 1; break;
		case 'd': flags |= GS_HARVEST_DECRYPT; break;
		case 'f': flags |= GS_HARVEST_FORCE; break;
		case 'q': c->quiet = 1; break;
		default:
			if (!cli_common_option(c, opt, optarg))
				return cli_usage(c, "unknown option");
		}
	}
	query = optind < argc ? g_strjoinv(" ", argv + optind) : g_strdup(DEFAULT_QUERY);
	if ((st = load_notmuch(&msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	if ((st = cli_open_session(c, &msg)) != GS_OK) {
		rc = cli_fail(c, st, msg);
		goto out;
	}
	ns = nm.open_with_config(NULL, do_tag ? NOTMUCH_DATABASE_MODE_READ_WRITE
							     : NOTMUCH_DATABASE_MODE_READ_ONLY,
					       NULL, NULL, &db, &err);
	if (ns != NOTMUCH_STATUS_SUCCESS) {
		cli_error(c, "cannot open the notmuch database: %s",
			  err ? g_strstrip(err) : nm.status_to_string(ns));
		rc = ns == NOTMUCH_STATUS_XAPIAN_EXCEPTION ? EXIT_TEMPFAIL : EXIT_IOERR;
		goto out;
	}
	q = nm.query_create(db, query);
	if (!q || nm.query_count_messages(q, &total) != NOTMUCH_STATUS_SUCCESS ||
	    nm.query_search_messages(q, &msgs) != NOTMUCH_STATUS_SUCCESS) {
		cli_error(c, "bad query: %s", query);
		rc = EXIT_USAGE;
		goto out;
	}
	for (; nm.messages_valid(msgs); nm.messages_move_to_next(msgs)) {
		notmuch_message_t *m1 = nm.messages_get(msgs);
		const char *id = nm.message_get_message_id(m1);
		const char *path = nm.message_get_filename(m1);
		gs_harvest_result res = { 0 };

		n.seen++;
		if (tty && (n.seen % 50 == 0 || n.seen == total)) {
			fprintf(stderr, "\rgalsmime notmuch: harvest %lu/%u messages", n.seen, total);
			shown = 1;
		}
		st = path ? harvest_file(c, path, id, flags, &res, &n, &msg) : GS_E_NOT_FOUND;
		if (st == GS_E_BUSY || st == GS_E_IO || st == GS_E_INTERNAL) {
			if (shown)
				fputc('\n', stderr);
			rc = cli_fail(c, st, msg);
			nm.message_destroy(m1);
			goto out;
		}
		g_free(msg);
		msg = NULL;
		if (st == GS_OK) {
			switch (res.outcome) {
			case GS_HARVEST_DONE_BEFORE: n.before++; break;
			case GS_HARVEST_UNSIGNED: n.unsigned_++; break;
			case GS_HARVEST_ENCRYPTED: n.encrypted++; break;
			case GS_HARVEST_GOOD: n.good++; break;
			case GS_HARVEST_BAD: n.bad++; break;
			}
			n.certs_new += res.certs_new;
			n.certs_known += res.certs_known;
			if (do_tag && (res.outcome == GS_HARVEST_GOOD || res.outcome == GS_HARVEST_BAD))
				tag(m1, res.outcome);
			gs_report_free(res.report);
		}
		nm.message_destroy(m1);
	}
	if (shown)
		fputc('\n', stderr);
	cli_note(c, "harvest: %lu messages: %lu good (%lu certificates new, %lu known), %lu not good, "
	       "%lu unsigned, %lu encrypted and skipped, %lu done before, %lu unreadable\n",
	       n.seen, n.good, n.certs_new, n.certs_known, n.bad, n.unsigned_, n.encrypted, n.before,
	       n.failed);
	if (n.certs_new)
		rc = cli_after_store_change(c);
out:
	if (msgs)
		nm.messages_destroy(msgs);
	if (q)
		nm.query_destroy(q);
	if (db)
		nm.database_destroy(db);
	free(err);
	g_free(query);
	return rc;
}
