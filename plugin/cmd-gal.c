/* cmd-gal.c: galsmime gal import | lookup | explain | list | stats | publish:
 * the Global Address List export, cached in the store. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

typedef struct progress {
	cli *c;
	const char *file;
	int tty;
	int shown;
} progress;

static void
on_progress(void *data, uint64_t done, uint64_t total, unsigned long entries)
{
	progress *p = data;

	if (!p->tty)
		return;
	if (total)
		fprintf(stderr, "\rgalsmime gal: importing %s: %3d%%, %lu entries", p->file,
			(int) (done * 100 / (total ? total : 1)), entries);
	else
		fprintf(stderr, "\rgalsmime gal: importing %s: %lu entries", p->file, entries);
	p->shown = 1;
}

static void
on_skip(void *data, const char *where, const char *reason)
{
	progress *p = data;

	if (p->shown) {
		fputc('\n', stderr);
		p->shown = 0;
	}
	cli_error(p->c, "%s: %s (skipped)", where, reason);
}

static void
end_progress(progress *p)
{
	if (p->shown) {
		fputc('\n', stderr);
		p->shown = 0;
	}
}

/* After a commit: what the snapshot now holds, what it replaced (the
 * previous snapshot of the same name: the same full path, or --source),
 * what was left out */
static int
import_summary(cli *c, const char *snapshot, int named, const gs_gal_stats *s)
{
	GString *g = g_string_new(NULL);
	int rc;

	g_string_append_printf(g, "%s%s: %lu entries (%lu replaced), %lu addresses, %lu certificate links; "
			       "certificates: %lu new, %lu known; %lu skipped", cli_text(snapshot, 0),
			       named ? " (snapshot)" : "", s->entries, s->removed, s->addresses, s->entry_certs,
			       s->certs_new, s->certs_known, s->skipped);
	if (s->dropped)
		g_string_append_printf(g, "; %lu record%s with neither an address nor a certificate left out",
				       s->dropped, s->dropped == 1 ? "" : "s");
	rc = cli_note(c, "%s\n", g->str);
	g_string_free(g, TRUE);
	return rc;
}

static int
gal_import(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "source", required_argument, NULL, 's' },
		{ "skip-bad", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	gs_gal_format format = GS_GAL_AUTO;
	gs_gal_import_opts io = { 0 };
	gs_gal_import *imp = NULL;
	const char *source = NULL;
	char *snapshot = NULL, *older = NULL;
	progress pr = { 0 };
	int opt, i, first, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (gs_gal_format_from_name(optarg, &format) != GS_OK)
				return cli_usage(c, "unknown format '%s' (auto, json, csv, ldif, vcard, oab, "
						    "sst, p7b, pem, der)", optarg);
			break;
		case 's': source = optarg; break;
		case 'k': io.skip_bad = 1; break;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage(c, "gal import needs at least one FILE");
	pr.c = c;
	pr.tty = isatty(STDERR_FILENO);
	io.progress = on_progress;
	io.on_skip = on_skip;
	io.cb_data = &pr;

	/* with --source every file goes into one snapshot; without, each
	 * file is the snapshot of the source named by its full path */
	for (i = optind, first = optind; i < argc; i++) {
		const char *path = argv[i];
		char *msg = NULL;
		gs_gal_stats stats;
		gs_status st;
		int fd;

		if (!imp) {
			/* a snapshot is what the user names it, else the file's
			 * full path: t1/gal.json never replaces t2/gal.json */
			g_free(snapshot);
			g_free(older);
			snapshot = source ? g_strdup(source)
				 : strcmp(path, "-") ? g_canonicalize_filename(path, NULL) : g_strdup("stdin");
			/* before full paths, a snapshot was named by the base name */
			older = source || !strcmp(path, "-") ? NULL : g_path_get_basename(path);
			io.older_name = older;
			st = gs_gal_import_begin(c->store, snapshot, &io, &imp, &msg);
			if (st != GS_OK) {
				g_free(snapshot);
				g_free(older);
				return cli_fail(c, st, msg);
			}
			first = i;
		}
		fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
		if (fd < 0) {
			cli_error(c, "%s: %s", path, g_strerror(errno));
			gs_gal_import_abort(imp);
			g_free(snapshot);
			g_free(older);
			return EXIT_IOERR;
		}
		pr.file = path;
		st = gs_gal_import_file(imp, fd, strcmp(path, "-") ? path : "stdin", format, &msg);
		close(fd);
		end_progress(&pr);
		if (st != GS_OK) {
			gs_gal_import_abort(imp);
			rc = cli_fail(c, st, msg);
			cli_error(c, "nothing imported from %s: the store is as it was", path);
			g_free(snapshot);
			g_free(older);
			return rc;
		}
		if (source && i + 1 < argc)
			continue;
		st = gs_gal_import_commit(imp, &stats, &msg);
		imp = NULL;
		if (st != GS_OK) {
			/* a failed commit (disk full) is rolled back whole */
			rc = cli_fail(c, st, msg);
			cli_error(c, "nothing imported from %s: the store is as it was",
				  source ? source : argv[first]);
			g_free(snapshot);
			g_free(older);
			return rc;
		}
		rc = import_summary(c, snapshot, source != NULL, &stats);
		if (stats.took_over)
			cli_note(c, "%s: this snapshot replaces the one an older galsmime named '%s'\n",
				 cli_text(snapshot, 0), cli_text(older, 0));
	}
	g_free(snapshot);
	g_free(older);
	return rc == 0 ? cli_after_store_change(c) : rc;
}

/* ---- JSON (yajl_gen), as gs_report_to_json writes it ---- */

/* A string, or null; bytes that are not UTF-8 (a file name, a query)
 * become U+FFFD, which yajl_gen wants. */
static void
json_str(yajl_gen g, const char *s)
{
	char *valid;

	if (!s) {
		yajl_gen_null(g);
		return;
	}
	valid = g_utf8_validate(s, -1, NULL) ? NULL : g_utf8_make_valid(s, -1);
	yajl_gen_string(g, (const unsigned char *) (valid ? valid : s), strlen(valid ? valid : s));
	g_free(valid);
}

static void
json_key(yajl_gen g, const char *key)
{
	yajl_gen_string(g, (const unsigned char *) key, strlen(key));
}

/* A member whose value is a string (or null). */
static void
json_field(yajl_gen g, const char *key, const char *value)
{
	json_key(g, key);
	json_str(g, value);
}

static yajl_gen
json_new(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	return g;
}

/* Write what the generator holds so far to stdout, and forget it. */
static int
json_flush(cli *c, yajl_gen g)
{
	const unsigned char *buf;
	size_t len;
	int rc;

	yajl_gen_get_buf(g, &buf, &len);
	rc = cli_write(c, buf, len);
	yajl_gen_clear(g);
	return rc;
}

typedef struct entries_out {
	cli *c;
	yajl_gen json;            /* NULL: the text listing */
	int links;                /* with each entry's certificate links (gal list --json) */
	int rc;                   /* a failed write: stop */
} entries_out;

static void
json_entry(yajl_gen g, const gs_gal_entry *e, int links)
{
	const char *const *a;
	unsigned i;

	yajl_gen_map_open(g);
	json_field(g, "source", e->source);
	json_field(g, "kind", e->kind);
	json_field(g, "name", e->name);
	json_field(g, "alias", e->alias);
	json_field(g, "display_name", e->display_name);
	json_key(g, "addresses");
	yajl_gen_array_open(g);
	for (a = e->addresses; *a && **a; a++)
		json_str(g, *a);
	yajl_gen_array_close(g);
	json_key(g, "certificates");
	yajl_gen_integer(g, e->n_certs);
	if (links) {
		json_key(g, "certificate_links");
		yajl_gen_array_open(g);
		for (i = 0; i < e->n_certs; i++) {
			yajl_gen_map_open(g);
			json_field(g, "attribute", e->links[i].attribute);
			json_field(g, "fingerprint_sha256", e->links[i].sha256);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
}

static int
print_entry(const gs_gal_entry *e, void *data)
{
	entries_out *out = data;
	const char *const *a;

	if (out->json) {
		json_entry(out->json, e, out->links);
		/* a long listing goes out as it comes */
		if (out->links && (out->rc = json_flush(out->c, out->json)) != 0)
			return 1;
		return 0;
	}
	/* tab-separated: no field may hold a tab or a line end */
	cli_printf(out->c, "%s\t%s\t%s\t%s\t", e->display_name ? cli_text(e->display_name, 0) : "-",
	       e->name ? cli_text(e->name, 0) : "-", e->alias ? cli_text(e->alias, 0) : "-",
	       e->kind ? cli_text(e->kind, 0) : "-");
	for (a = e->addresses; *a && **a; a++)
		cli_printf(out->c, "%s%s", a == e->addresses ? "" : ",", cli_text(*a, 0));
	cli_printf(out->c, "\t%u certificate%s\t[%s]\n", e->n_certs, e->n_certs == 1 ? "" : "s",
		   cli_text(e->source, 0));
	return cli_out_failed(out->c);
}

static void
json_cert(yajl_gen g, const gs_candidate *cand)
{
	yajl_gen_map_open(g);
	json_field(g, "fingerprint_sha256", cand->cert.sha256);
	json_field(g, "subject", cand->cert.subject);
	json_field(g, "issuer", cand->cert.issuer);
	json_key(g, "not_before");
	yajl_gen_integer(g, cand->cert.not_before);
	json_key(g, "not_after");
	yajl_gen_integer(g, cand->cert.not_after);
	json_field(g, "source", cand->source);
	json_field(g, "entry", cand->entry);
	json_field(g, "attribute", cand->attribute);
	json_field(g, "binding", gs_binding_string(cand->binding));
	json_field(g, "verdict", gs_verdict_string(cand->verdict));
	json_field(g, "reason", cand->reason);
	yajl_gen_map_close(g);
}

static int
gal_lookup(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	entries_out out = { c, NULL, 0, 0 };
	gs_resolution *res = NULL;
	unsigned long found = 0;
	char *msg = NULL;
	gs_status st;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'j' && !out.json)
			out.json = json_new();
		else if (opt != 'j')
			return cli_usage(c, "unknown option");
	}
	if (optind + 1 != argc) {
		if (out.json)
			yajl_gen_free(out.json);
		return cli_usage(c, "gal lookup needs one QUERY");
	}
	if (out.json) {
		yajl_gen_map_open(out.json);
		json_key(out.json, "query");
		json_str(out.json, argv[optind]);
		json_key(out.json, "entries");
		yajl_gen_array_open(out.json);
	}
	if ((st = cli_open_session(c, &msg)) == GS_OK &&
	    (st = gs_gal_lookup(c->store, argv[optind], print_entry, &out, &found, &msg)) == GS_OK)
		st = gs_resolve(c->session, argv[optind], 0, &res, &msg);
	if (st != GS_OK) {
		if (out.json)
			yajl_gen_free(out.json);
		return cli_fail(c, st, msg);
	}
	if (out.json) {
		yajl_gen_array_close(out.json);
		json_key(out.json, "chosen");
		if (gs_resolution_chosen(res))
			json_cert(out.json, gs_resolution_chosen(res));
		else
			yajl_gen_null(out.json);
		yajl_gen_map_close(out.json);
		if ((rc = json_flush(c, out.json)) == 0)
			rc = cli_write(c, "\n", 1);
		yajl_gen_free(out.json);
	} else if (gs_resolution_chosen(res)) {
		const gs_candidate *ch = gs_resolution_chosen(res);
		cli_printf(c, "encrypts to %s (%s), bound by %s\n", ch->cert.sha256, cli_text(ch->cert.subject, 0),
		       ch->binding == GS_BIND_CERTIFICATE ? "its own address"
		       : ch->binding == GS_BIND_NAME	  ? "the entry's name"
							  : "the directory");
	} else if (found || gs_resolution_count(res)) {
		cli_printf(c, "cannot encrypt: %s\n", gs_resolution_failure(res));
	}
	found += gs_resolution_count(res);
	gs_resolution_free(res);
	if (rc)
		return rc;
	return found ? 0 : EXIT_VERIFY_BAD;
}

/* Where the answers came from: each directory's answer about the
 * address, when it was fetched (a snapshot's time is gal stats'). */
typedef struct provenance {
	GHashTable *answers;     /* "directory:NAME" -> "fetched TIME" */
	GPtrArray *lines;        /* one per directory answer, for the summary */
} provenance;

static int
on_answer(const gs_directory_answer *a, void *data)
{
	provenance *p = data;
	char *t = cli_time(a->fetched_at);

	g_hash_table_insert(p->answers, gs_directory_source(a->directory), g_strdup_printf("fetched %s", t));
	g_ptr_array_add(p->lines, g_strdup_printf("directory %s answered %s: %lu entr%s", cli_text(a->directory, 0),
						  t, a->entries, a->entries == 1 ? "y" : "ies"));
	g_free(t);
	return 0;
}

static void
provenance_free(provenance *p)
{
	g_hash_table_destroy(p->answers);
	g_ptr_array_free(p->lines, TRUE);
}

static const char *
source_when(const provenance *p, const char *source)
{
	return source ? g_hash_table_lookup(p->answers, source) : NULL;
}

/* Ask the configured directories as encrypt would (all of them now with
 * --refresh), saying what each did; *res is resolved again after an
 * answer. */
static gs_status
explain_ask(cli *c, const char *recipient, unsigned flags, int refresh, gs_resolution **res, char **msg)
{
	int resolved = gs_resolution_chosen(*res) != NULL, again = 0;
	gs_lookups *notes = NULL;
	gs_status st;
	size_t i;

	if ((st = gs_directory_lookup(c->session, &recipient, &resolved, 1, refresh ? GS_LOOKUP_REFRESH : 0,
				      &notes, msg)) != GS_OK)
		return st;
	for (i = 0; i < gs_lookups_count(notes); i++) {
		const gs_lookup_note *n = gs_lookups_get(notes, i);
		char *t = cli_time(n->fetched_at);

		switch (n->state) {
		case GS_LOOKUP_ASKED:
			cli_printf(c, "directory %s: asked now\n", cli_text(n->directory, 0));
			again = 1;
			break;
		case GS_LOOKUP_CACHED:
			if (n->fetched_at)
				cli_printf(c, "directory %s: not asked, its answer of %s is within its TTL\n",
					   cli_text(n->directory, 0), t);
			else
				cli_printf(c, "directory %s: not asked, the store resolves the recipient\n",
					   cli_text(n->directory, 0));
			break;
		default:
			cli_printf(c, "%s\n", n->text);
		}
		g_free(t);
	}
	if (refresh && gs_lookups_count(notes) == 0)
		cli_printf(c, "no directory asked: none is configured ([directory NAME]), or the recipient is "
			      "not an address\n");
	gs_lookups_free(notes);
	if (again) {
		gs_resolution_free(*res);
		*res = NULL;
		st = gs_resolve(c->session, recipient, flags, res, msg);
	}
	return st;
}

static int
gal_explain(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "allow-untrusted", no_argument, NULL, 'u' },
		{ "refresh", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	provenance prov = { g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
			    g_ptr_array_new_with_free_func(g_free) };
	gs_resolution *res = NULL;
	unsigned flags = 0;
	char *msg = NULL;
	gs_status st;
	size_t i, j, n;
	int opt, refresh = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'u')
			flags |= GS_RESOLVE_ALLOW_UNTRUSTED;
		else if (opt == 'r')
			refresh = 1;
		else {
			provenance_free(&prov);
			return cli_usage(c, "unknown option");
		}
	}
	if (optind + 1 != argc) {
		provenance_free(&prov);
		return cli_usage(c, "gal explain needs one RECIPIENT");
	}
	if ((st = cli_open_session(c, &msg)) != GS_OK ||
	    (st = gs_resolve(c->session, argv[optind], flags, &res, &msg)) != GS_OK ||
	    (st = explain_ask(c, argv[optind], flags, refresh, &res, &msg)) != GS_OK ||
	    (gs_resolution_address(res) &&
	     (st = gs_directory_answers(c->store, gs_resolution_address(res), on_answer, &prov, &msg)) != GS_OK)) {
		gs_resolution_free(res);
		provenance_free(&prov);
		return cli_fail(c, st, msg);
	}
	n = gs_resolution_count(res);
	cli_printf(c, "%s: %zu candidate certificate%s\n", cli_text(argv[optind], 200), n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const gs_candidate *k = gs_resolution_candidate(res, i);
		char *nb = cli_time(k->cert.not_before), *na = cli_time(k->cert.not_after), *addrs;

		cli_printf(c, "\n%s %s\n", k == gs_resolution_chosen(res) ? "*" : " ", k->cert.sha256);
		cli_printf(c, "    subject    %s\n    issuer     %s\n    valid      %s to %s\n",
		       cli_text(k->cert.subject, 0), cli_text(k->cert.issuer, 0), nb, na);
		addrs = gs_cert_info_addresses(&k->cert);
		cli_printf(c, "    addresses  %s%s\n", addrs ? addrs : "(none)",
		       k->address_match || !gs_resolution_address(res)
			       ? "" : "  (not the recipient's address: only the directory binds it)");
		for (j = 0; j < k->n_sources; j++) {
			const gs_cand_source *src = &k->sources[j];
			const char *when = source_when(&prov, src->source);

			if (src->entry)
				cli_printf(c, "    %s source %s, entry %s, attribute %s", j ? "          " : "from      ",
				       src->source ? cli_text(src->source, 0) : "?", cli_text(src->entry, 0),
				       src->attribute ? cli_text(src->attribute, 0) : "?");
			else
				cli_printf(c, "    %s source %s, by its own address", j ? "          " : "from      ",
				       src->source ? cli_text(src->source, 0) : "?");
			cli_printf(c, "%s%s\n", when ? ", " : "", when ? when : "");
		}
		cli_printf(c, "    bound by   %s\n", k->binding == GS_BIND_CERTIFICATE ? "its own address"
					    : k->binding == GS_BIND_NAME       ? "the entry's name"
										: "the directory only");
		/* "revoked (the revocation list ...)", not "revoked: revoked (...)" */
		if (g_str_has_prefix(k->reason, gs_verdict_string(k->verdict)))
			cli_printf(c, "    verdict    %s\n", k->reason);
		else
			cli_printf(c, "    verdict    %s: %s\n", gs_verdict_string(k->verdict), k->reason);
		g_free(nb);
		g_free(addrs);
		g_free(na);
	}
	for (i = 0; i < prov.lines->len; i++)
		cli_printf(c, "%s%s\n", i ? "" : "\n", (const char *) prov.lines->pdata[i]);
	provenance_free(&prov);
	if (gs_resolution_conflict(res))
		cli_printf(c, "\nconflict: %s\n", gs_resolution_conflict(res));
	if (gs_resolution_note(res))
		cli_printf(c, "\n%s\n", gs_resolution_note(res));
	if (gs_resolution_chosen(res))
		cli_printf(c, "\nchosen: %s\n", gs_resolution_chosen(res)->cert.sha256);
	else
		cli_printf(c, "\ncannot encrypt to %s: %s\n", cli_text(argv[optind], 200), gs_resolution_failure(res));
	st = gs_resolution_chosen(res) ? GS_OK : GS_E_NOT_FOUND;
	gs_resolution_free(res);
	return st == GS_OK ? 0 : EXIT_VERIFY_BAD;
}

/* gal stats: one row per source, printed when all are known so that
 * the columns line up whatever the names' lengths */
typedef struct stats_row {
	char *name, *kind, *imported;
	unsigned long entries, addresses, certificates, with_certs;
} stats_row;

static void
stats_row_free(stats_row *r)
{
	g_free(r->name);
	g_free(r->kind);
	g_free(r->imported);
	g_free(r);
}

static int
collect_source(const gs_gal_source_info *in, void *data)
{
	stats_row *r = g_new0(stats_row, 1);

	r->name = g_strdup(cli_text(in->name, 0));
	r->kind = g_strdup(in->kind ? cli_text(in->kind, 0) : "-");
	r->imported = cli_time(in->imported_at);
	r->entries = in->entries;
	r->addresses = in->addresses;
	r->certificates = in->certificates;
	r->with_certs = in->entries_with_certs;
	g_ptr_array_add(data, r);
	return 0;
}

static int
gal_stats(cli *c)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify) stats_row_free);
	char *msg = NULL;
	gs_status st = gs_gal_sources(c->store, collect_source, rows, &msg);
	int wn = (int) strlen("SOURCE"), wk = (int) strlen("KIND"), rc = 0;
	guint i;

	if (st != GS_OK) {
		g_ptr_array_free(rows, TRUE);
		return cli_fail(c, st, msg);
	}
	for (i = 0; i < rows->len; i++) {
		stats_row *r = rows->pdata[i];
		wn = MAX(wn, (int) g_utf8_strlen(r->name, -1));
		wk = MAX(wk, (int) g_utf8_strlen(r->kind, -1));
	}
	if (rows->len)
		rc = cli_printf(c, "%-*s  %-*s  %8s  %9s  %12s  %9s  %s\n", wn, "SOURCE", wk, "KIND", "ENTRIES",
				"ADDRESSES", "CERTIFICATES", "WITH CERT", "IMPORTED");
	for (i = 0; rc == 0 && i < rows->len; i++) {
		stats_row *r = rows->pdata[i];
		/* %-*s counts bytes: pad by characters for names that are not ASCII */
		int pn = wn - (int) g_utf8_strlen(r->name, -1), pk = wk - (int) g_utf8_strlen(r->kind, -1);
		rc = cli_printf(c, "%s%*s  %s%*s  %8lu  %9lu  %12lu  %9lu  %s\n", r->name, pn, "", r->kind, pk, "",
				r->entries, r->addresses, r->certificates, r->with_certs, r->imported);
	}
	g_ptr_array_free(rows, TRUE);
	return rc;
}

static int
gal_list(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	entries_out out = { c, NULL, 1, 0 };
	const char *source = NULL;
	char *msg = NULL;
	gs_status st;
	int opt, json = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			source = optarg;
		else if (opt == 'j')
			json = 1;
		else
			return cli_usage(c, "unknown option");
	}
	if (optind != argc)
		return cli_usage(c, "gal list takes only --source NAME and --json");
	if (json) {
		out.json = json_new();
		/* one document, written entry by entry */
		yajl_gen_map_open(out.json);
		json_key(out.json, "entries");
		yajl_gen_array_open(out.json);
	}
	st = gs_gal_list(c->store, source, print_entry, &out, &msg);
	if (json) {
		yajl_gen_array_close(out.json);
		yajl_gen_map_close(out.json);
		if (st == GS_OK && out.rc == 0 && (out.rc = json_flush(c, out.json)) == 0)
			out.rc = cli_write(c, "\n", 1);
		yajl_gen_free(out.json);
	}
	if (st != GS_OK)
		return cli_fail(c, st, msg);
	return out.rc;
}

/* gal sync URL: one snapshot from a directory, as gal import of its
 * LDIF export would be. The bind password comes from a file or a
 * descriptor, never the command line (ps shows it to every user). */
static int
gal_sync(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "base", required_argument, NULL, 'b' },
		{ "filter", required_argument, NULL, 'f' },
		{ "bind", required_argument, NULL, 'B' },
		{ "bind-dn", required_argument, NULL, 'D' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "password-fd", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "starttls", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	gs_ldap_sync_opts lo = { 0 };
	gs_gal_import_opts io = { 0 };
	gs_gal_import *imp = NULL;
	const char *source = NULL, *pwfile = NULL;
	char *pw = NULL, *end;
	size_t pwlen = 0;
	long pwfd = -1, secs;
	gs_gal_stats stats;
	char *msg = NULL;
	gs_status st;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': source = optarg; break;
		case 'b': lo.base = optarg; break;
		case 'f': lo.filter = optarg; break;
		case 'D': lo.conn.bind_dn = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'c': lo.conn.ca_file = optarg; break;
		case 'S': lo.conn.starttls = 1; break;
		case 'B':
			if (!strcmp(optarg, "simple"))
				lo.conn.bind = GS_LDAP_BIND_SIMPLE;
			else if (!strcmp(optarg, "gssapi"))
				lo.conn.bind = GS_LDAP_BIND_GSSAPI;
			else
				return cli_usage(c, "--bind wants simple or gssapi");
			break;
		case 'P':
			errno = 0;
			pwfd = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || pwfd < 0 || pwfd > INT_MAX)
				return cli_usage(c, "--password-fd wants a descriptor number");
			break;
		case 't':
			errno = 0;
			secs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || secs <= 0 || secs > 86400)
				return cli_usage(c, "--timeout wants a number of seconds");
			lo.conn.timeout_ms = (int) secs * 1000;
			break;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage(c, "gal sync needs one ldap:// URL");
	if (pwfile && pwfd >= 0)
		return cli_usage(c, "--password-file or --password-fd, not both");
	if (lo.conn.bind == GS_LDAP_BIND_GSSAPI && (lo.conn.bind_dn || pwfile || pwfd >= 0))
		return cli_usage(c, "--bind gssapi uses the Kerberos ticket: no --bind-dn, no password");
	if (!lo.conn.bind_dn != !(pwfile || pwfd >= 0))
		return cli_usage(c, "--bind-dn goes with --password-file or --password-fd");
	lo.conn.url = argv[optind];
	if (pwfile || pwfd >= 0) {
		if ((rc = cli_read_secret(c, pwfile, (int) pwfd, &pw, &pwlen)) != 0)
			return rc;
		if (pwlen == 0) {
			/* a DN with an empty password is an unauthenticated bind
			 * (RFC 4513 5.1.2), which some servers take as anonymous */
			cli_free_secret(pw);
			cli_error(c, "%s: the password is empty", pwfile ? cli_text(pwfile, 0) : "--password-fd");
			return EXIT_USAGE;
		}
		lo.conn.password = pw;
		lo.conn.password_len = pwlen;
	}
	if (!source)
		source = lo.conn.url;
	if ((st = gs_gal_import_begin(c->store, source, &io, &imp, &msg)) == GS_OK &&
	    (st = gs_gal_import_ldap(imp, &lo, &msg)) != GS_OK)
		gs_gal_import_abort(imp);
	else if (st == GS_OK)
		st = gs_gal_import_commit(imp, &stats, &msg);
	cli_free_secret(pw);
	if (st != GS_OK) {
		rc = cli_fail(c, st, msg);
		cli_error(c, "nothing imported from %s: the store is as it was", cli_text(lo.conn.url, 0));
		return rc;
	}
	rc = import_summary(c, source, 1, &stats);
	return rc == 0 ? cli_after_store_change(c) : rc;
}

static int
publish_write(const void *buf, size_t len, void *data)
{
	return cli_write(data, buf, len);
}

static int
gal_publish(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "base", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *source = NULL, *base = "ou=gal,dc=example,dc=org";
	unsigned long n = 0;
	char *msg = NULL;
	gs_status st;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			source = optarg;
		else if (opt == 'b')
			base = optarg;
		else
			return cli_usage(c, "unknown option");
	}
	if (optind != argc)
		return cli_usage(c, "gal publish takes only --source NAME and --base DN");
	if ((st = gs_gal_publish(c->store, source, base, publish_write, c, &n, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	if (cli_out_failed(c))
		return EXIT_IOERR;
	if (n == 0) {
		cli_error(c, "no directory entries%s%s to publish", source ? " in " : "",
			  source ? cli_text(source, 0) : "");
		return EXIT_VERIFY_BAD;
	}
	return 0;
}

int
cmd_gal(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(c, "gal needs import, sync, lookup, explain, list, stats or publish");
	if (!strcmp(argv[1], "import"))
		return gal_import(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "lookup"))
		return gal_lookup(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "explain"))
		return gal_explain(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return gal_list(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return gal_stats(c);
	if (!strcmp(argv[1], "publish"))
		return gal_publish(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "sync"))
		return gal_sync(c, argc - 1, argv + 1);
	return cli_usage(c, "unknown gal command '%s'", argv[1]);
}
