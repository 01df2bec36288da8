/* mutt-index.c: galsmime mutt sync-index CERTDIR [--keys KEYDIR]: write
 * mutt's $smime_certificates (and $smime_keys) .index and certificate
 * files from the store, so that mutt's own recipient lookup finds every
 * GAL, imported and harvested certificate. Each address is resolved
 * with galsmime's policy: the chosen certificate is listed as trusted
 * ('t'); the others are listed expired/revoked/invalid so that mutt's
 * opportunistic encryption never picks them. Private keys are never
 * written: galsmime's mutt commands take them from the store. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER ".galsmime"

typedef struct index_state {
	cli *c;
	const char *dir;
	GHashTable *keyids;    /* sha256 -> keyid ("hash.N") */
	GHashTable *hashes;    /* subject hash string -> next N (GINT) */
	GString *index;
	GPtrArray *files;      /* file names written */
	GHashTable *seen;      /* "address keyid" already listed */
	int failed;            /* the exit status of the first failure, or 0 */
	unsigned long lines;
} index_state;

static const char *
keyid_for(index_state *st, const char *sha256)
{
	const char *k = g_hash_table_lookup(st->keyids, sha256);
	unsigned long sh = 0, ih = 0;
	char *pem = NULL, *msg = NULL, hash[16], *keyid, *path;
	GError *err = NULL;
	gs_status s;
	int n;

	if (k)
		return k;
	if ((s = gs_store_cert_pem(st->c->store, sha256, &pem, &sh, &ih, &msg)) != GS_OK) {
		st->failed = cli_fail(st->c, s, msg);
		return NULL;
	}
	g_snprintf(hash, sizeof hash, "%08lx", sh);
	n = GPOINTER_TO_INT(g_hash_table_lookup(st->hashes, hash));
	g_hash_table_insert(st->hashes, g_strdup(hash), GINT_TO_POINTER(n + 1));
	keyid = g_strdup_printf("%s.%d", hash, n);
	path = g_build_filename(st->dir, keyid, NULL);
	if (!g_file_set_contents(path, pem, -1, &err)) {
		cli_error(st->c, "%s: %s", path, err->message);
		g_error_free(err);
		st->failed = EXIT_IOERR;
	}
	g_ptr_array_add(st->files, g_strdup(keyid));
	g_free(path);
	g_free(pem);
	g_hash_table_insert(st->keyids, g_strdup(sha256), keyid);
	return keyid;
}

static char
trust_letter(gs_verdict v)
{
	switch (v) {
	case GS_VERDICT_USABLE: return 't';
	case GS_VERDICT_EXPIRED:
	case GS_VERDICT_NOT_YET_VALID: return 'e';
	case GS_VERDICT_REVOKED: return 'r';
	default: return 'i';
	}
}

/* mutt's purpose letters: 's' signing, 'e' encryption. An absent key
 * usage extension allows both. */
static const char *
purpose(const gs_cert_info *ci)
{
	const char *ku = ci->key_usage;
	int s, e;

	if (!ku)
		return "se";
	s = strstr(ku, "digitalSignature") || strstr(ku, "nonRepudiation");
	e = strstr(ku, !g_strcmp0(ci->key_type, "ec") ? "keyAgreement" : "keyEncipherment") != NULL;
	return s && e ? "se" : s ? "s" : e ? "e" : "-";
}

/* mutt's label: one word. The certificate's common name with its blanks
 * made underscores, or "-". */
static char *
label_of(const char *name)
{
	char *l;

	if (!name || !*name)
		return g_strdup("-");
	l = g_strdup(name);
	g_strdelimit(l, " \t\r\n", '_');
	return l;
}

static int
on_address(const char *address, void *data)
{
	index_state *st = data;
	gs_resolution *res = NULL;
	char *msg = NULL;
	gs_status s;
	size_t i;

	/* mutt splits .index lines on white space */
	if (strpbrk(address, " \t\n"))
		return 0;
	/* a busy store is "try again" (75), not an internal error */
	if ((s = gs_resolve(st->c->session, address, 0, &res, &msg)) != GS_OK) {
		st->failed = cli_fail(st->c, s, msg);
		return 1;
	}
	for (i = 0; i < gs_resolution_count(res); i++) {
		const gs_candidate *k = gs_resolution_candidate(res, i);
		char t = k == gs_resolution_chosen(res) ? 't' : trust_letter(k->verdict);
		const char *keyid;
		char *line, *label;

		/* a usable certificate that was not chosen is left out: listing
		 * it as trusted would let mutt pick it */
		if (t == 't' && k != gs_resolution_chosen(res))
			continue;
		if (!(keyid = keyid_for(st, k->cert.sha256)))
			break;
		/* the same certificate may come from several sources: one line */
		line = g_strdup_printf("%s %s", address, keyid);
		if (g_hash_table_contains(st->seen, line)) {
			g_free(line);
			continue;
		}
		g_hash_table_add(st->seen, line);
		label = label_of(k->cert.common_name);
		g_string_append_printf(st->index, "%s %s %s ? %c %s\n", address, keyid, label, t,
				       purpose(&k->cert));
		g_free(label);
		st->lines++;
	}
	gs_resolution_free(res);
	return st->failed;
}

typedef struct key_state {
	index_state *st;
	GString *index;
	GString *summary;      /* what to set in the muttrc, per address */
} key_state;

static int
on_identity(const gs_cert_info *ci, const char *label, int encrypted, void *data)
{
	key_state *ks = data;
	const char *keyid = keyid_for(ks->st, ci->sha256);
	const char *const *e;
	char *lab;

	(void) encrypted;
	if (!keyid)
		return 1;
	lab = label_of(label && *label ? label : ci->common_name);
	for (e = ci->emails; *e; e++)
		if (**e) {
			g_string_append_printf(ks->index, "%s %s %s ? t %s\n", *e, keyid, lab, purpose(ci));
			g_string_append_printf(ks->summary, "set smime_default_key=\"%s\"  # %s\n", keyid, *e);
		}
	g_free(lab);
	return 0;
}

static int
prepare_dir(cli *c, const char *dir)
{
	char *marker = g_build_filename(dir, MARKER, NULL);
	GDir *d;
	int empty = 1, ok;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		cli_error(c, "%s: %s", dir, g_strerror(errno));
		g_free(marker);
		return EXIT_IOERR;
	}
	if ((d = g_dir_open(dir, 0, NULL))) {
		empty = g_dir_read_name(d) == NULL;
		g_dir_close(d);
	}
	ok = empty || g_file_test(marker, G_FILE_TEST_EXISTS);
	if (ok && empty)
		g_file_set_contents(marker, "written by galsmime mutt sync-index\n", -1, NULL);
	g_free(marker);
	if (!ok) {
		cli_error(c, "%s is not empty and was not written by galsmime: "
			     "use a folder of its own", dir);
		return EXIT_USAGE;
	}
	return 0;
}

static int
write_index(cli *c, const char *dir, const GString *text)
{
	char *path = g_build_filename(dir, ".index", NULL);
	GError *err = NULL;
	int rc = 0;

	/* g_file_set_contents writes a temporary file and renames it */
	if (!g_file_set_contents(path, text->str, (gssize) text->len, &err)) {
		cli_error(c, "%s: %s", path, err->message);
		g_error_free(err);
		rc = EXIT_IOERR;
	}
	g_free(path);
	return rc;
}

/* Remove certificate files of an earlier sync that this one did not write. */
static void
remove_stale(index_state *st)
{
	GDir *d = g_dir_open(st->dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		guint i;
		int keep = 0;

		if (name[0] == '.' || strlen(name) < 10 || name[8] != '.' ||
		    strspn(name, "0123456789abcdef") != 8)
			continue;
		for (i = 0; i < st->files->len && !keep; i++)
			keep = !strcmp(st->files->pdata[i], name);
		if (!keep) {
			char *p = g_build_filename(st->dir, name, NULL);
			unlink(p);
			g_free(p);
		}
	}
	if (d)
		g_dir_close(d);
}

int
cli_mutt_sync_index(cli *c, const char *certdir, const char *keydir, int quiet)
{
	index_state st = { 0 };
	key_state ks = { 0 };
	char *msg = NULL;
	gs_status s;
	int rc;

	if ((rc = prepare_dir(c, certdir)) || (keydir && (rc = prepare_dir(c, keydir))))
		return rc;
	st.c = c;
	st.dir = certdir;
	st.keyids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	st.hashes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	st.index = g_string_new(NULL);
	st.files = g_ptr_array_new_with_free_func(g_free);
	st.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s = gs_store_addresses(c->store, on_address, &st, &msg);
	if (s != GS_OK) {
		rc = cli_fail(c, s, msg);
		goto out;
	}
	if (keydir && !st.failed) {
		ks.st = &st;
		ks.index = g_string_new(NULL);
		ks.summary = g_string_new(NULL);
		s = gs_store_list_identities(c->store, on_identity, &ks, &msg);
		if (s != GS_OK)
			rc = cli_fail(c, s, msg);
		else if (!st.failed)
			rc = write_index(c, keydir, ks.index);
	}
	if (rc == 0 && st.failed)
		rc = st.failed;
	if (rc == 0)
		rc = write_index(c, certdir, st.index);
	if (rc == 0) {
		remove_stale(&st);
		if (!quiet) {
			printf("%s: %lu index lines, %u certificate files\n", certdir, st.lines, st.files->len);
			if (ks.summary)
				fputs(ks.summary->str, stdout);
		}
	}
out:
	g_hash_table_destroy(st.keyids);
	g_hash_table_destroy(st.hashes);
	g_string_free(st.index, TRUE);
	g_ptr_array_free(st.files, TRUE);
	g_hash_table_destroy(st.seen);
	if (ks.index)
		g_string_free(ks.index, TRUE);
	if (ks.summary)
		g_string_free(ks.summary, TRUE);
	return rc;
}
