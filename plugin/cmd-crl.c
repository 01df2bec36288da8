/* cmd-crl.c: galsmime crl import FILE... | update [--timeout S] | list
 *
 * Revocation lists are fetched here and only here, from cron or by hand:
 * the filters read what is stored and never wait on the network. */
#include "certs.h"

#include <string.h>

#define CRL_FETCH_MAX ((size_t) 64 << 20)

static void
print_stats(cli *c, const char *what, const gs_crl_stats *s)
{
	cli_note(c, "%s: %u new, %u replaced an older one, %u unchanged\n", cli_text(what, 0), s->crls_new,
	       s->crls_replaced, s->crls_known);
}

static int
crl_import(cli *c, int argc, char **argv)
{
	int i, rc;

	if (argc < 2)
		return cli_usage(c, "crl import needs at least one FILE");
	for (i = 1; i < argc; i++) {
		gs_crl_stats stats;
		unsigned char *data;
		size_t len;
		char *msg = NULL;
		gs_status st;

		if ((rc = cli_read_file(c, argv[i], &data, &len)) != 0)
			return rc;
		st = gs_store_import_crls(c->store, data, len, argv[i], &stats, &msg);
		g_free(data);
		if (st != GS_OK) {
			char *full = g_strdup_printf("%s: %s", argv[i], msg);
			g_free(msg);
			return cli_fail(c, st, full);
		}
		print_stats(c, argv[i], &stats);
	}
	return 0;
}

static int
crl_update(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	long timeout = 30;
	char **urls = NULL, *msg = NULL;
	unsigned fetched = 0, failed = 0, skipped = 0, i;
	gs_status st, first_fail = GS_OK;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		if (opt != 't')
			return cli_usage(c, "unknown option");
		timeout = strtol(optarg, &end, 10);
		if (*end || timeout <= 0 || timeout > 3600)
			return cli_usage(c, "--timeout takes seconds, 1 to 3600");
	}
	if (optind < argc)
		return cli_usage(c, "crl update takes no arguments");
	if ((st = gs_store_crl_urls(c->store, &urls, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	for (i = 0; urls[i]; i++) {
		gs_crl_stats stats;
		GBytes *body = NULL;
		gsize len;
		const unsigned char *p;

		if (g_ascii_strncasecmp(urls[i], "http://", 7) && g_ascii_strncasecmp(urls[i], "https://", 8)) {
			cli_note(c, "%s: skipped (only http and https are fetched)\n", cli_text(urls[i], 0));
			skipped++;
			continue;
		}
		st = gs_fetch(urls[i], timeout, CRL_FETCH_MAX, &body, &msg);
		if (st == GS_OK) {
			fetched++;
			p = g_bytes_get_data(body, &len);
			st = gs_store_import_crls(c->store, p, len, urls[i], &stats, &msg);
			g_bytes_unref(body);
		}
		if (st != GS_OK) {
			/* one unreachable point does not stop the others */
			cli_error(c, "%s: %s", urls[i], msg);
			g_clear_pointer(&msg, g_free);
			if (st == GS_E_BUSY)
				first_fail = st; /* the store is locked: the rest would fail too */
			else if (first_fail == GS_OK)
				first_fail = st;
			failed++;
			if (st == GS_E_BUSY)
				break;
			continue;
		}
		print_stats(c, urls[i], &stats);
	}
	cli_note(c, "%u distribution points: %u fetched, %u failed, %u skipped\n", i, fetched, failed,
	       skipped);
	g_strfreev(urls);
	return first_fail == GS_OK ? 0 : cli_exit_code(first_fail);
}

typedef struct list_ctx {
	cli *c;
	unsigned n, stale;
} list_ctx;

static int
print_crl(const gs_crl_info *ci, void *data)
{
	list_ctx *lc = data;
	char *tu = cli_time(ci->this_update), *nu = cli_time(ci->next_update), *fa = cli_time(ci->fetched_at);

	cli_printf(lc->c, "%s\n  issued   %s\n  next     %s%s\n  revoked  %ld certificates\n  from     %s (%s)\n",
	       cli_text(ci->issuer, 0), tu, ci->next_update ? nu : "none given",
	       ci->stale ? "  STALE: past its next update, run galsmime crl update" : "",
	       ci->revoked, ci->origin ? cli_text(ci->origin, 0) : "?", fa);
	lc->n++;
	lc->stale += ci->stale != 0;
	g_free(tu);
	g_free(nu);
	g_free(fa);
	return cli_out_failed(lc->c);
}

static int
crl_list(cli *c)
{
	list_ctx lc = { c, 0, 0 };
	char *msg = NULL;
	gs_status st = gs_store_list_crls(c->store, time(NULL), print_crl, &lc, &msg);

	if (st != GS_OK)
		return cli_fail(c, st, msg);
	if (lc.n == 0 && !c->quiet)
		fprintf(stderr, "galsmime crl: no revocation lists in the store "
				"(galsmime crl import FILE, or crl update)\n");
	return 0;
}

int
cmd_crl(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(c, "crl needs import, update or list");
	if (!strcmp(argv[1], "import"))
		return crl_import(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "update"))
		return crl_update(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return crl_list(c);
	return cli_usage(c, "unknown crl command '%s'", argv[1]);
}
