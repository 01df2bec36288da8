/* mutt-index.c: galsmime mutt sync-index CERTDIR [--keys KEYDIR]: write
 * mutt's $smime_certificates (and $smime_keys) .index and certificate
 * files, as gs_mutt_index makes them from the store (lib/mutt.c: only
 * gs_resolve's choice is trusted, only lines mutt reads whole), so that
 * mutt's own recipient lookup finds every GAL, imported and harvested
 * certificate galsmime would choose. Private keys are never written:
 * galsmime's mutt commands take them from the store. */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER ".galsmime"

typedef struct index_state {
	cli *c;
	const char *dir;
	GString *index, *keys;
	GString *summary;      /* what to set in the muttrc, per address */
	GPtrArray *files;      /* file names written */
	int failed;            /* the exit status of the first failure, or 0 */
} index_state;

static int
on_file(void *data, const char *name, const char *pem)
{
	index_state *st = data;
	char *path = g_build_filename(st->dir, name, NULL);
	GError *err = NULL;

	if (!g_file_set_contents(path, pem, -1, &err)) {
		cli_error(st->c, "%s: %s", path, err->message);
		g_error_free(err);
		st->failed = EXIT_IOERR;
	}
	g_ptr_array_add(st->files, g_strdup(name));
	g_free(path);
	return st->failed;
}

static int
on_line(void *data, const gs_mutt_line *l)
{
	index_state *st = data;

	if (!l->keys) {
		g_string_append(st->index, l->text);
	} else {
		g_string_append(st->keys, l->text);
		g_string_append_printf(st->summary, "set smime_default_key=\"%s\"  # %s\n", l->keyid,
				       l->mailbox);
	}
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
	gs_mutt_index_cbs cbs = { on_file, on_line, &st };
	gs_mutt_index_stats stats;
	char *msg = NULL;
	gs_status s;
	int rc;

	if ((rc = prepare_dir(c, certdir)) || (keydir && (rc = prepare_dir(c, keydir))))
		return rc;
	st.c = c;
	st.dir = certdir;
	st.index = g_string_new(NULL);
	st.keys = g_string_new(NULL);
	st.summary = g_string_new(NULL);
	st.files = g_ptr_array_new_with_free_func(g_free);
	/* a busy store is "try again" (75), not an internal error */
	if ((s = gs_mutt_index(c->session, keydir != NULL, &cbs, &stats, &msg)) != GS_OK)
		rc = cli_fail(c, s, msg);
	else if (st.failed)
		rc = st.failed;
	if (rc == 0 && keydir)
		rc = write_index(c, keydir, st.keys);
	if (rc == 0)
		rc = write_index(c, certdir, st.index);
	if (rc == 0) {
		remove_stale(&st);
		if (!quiet) {
			cli_printf(c, "%s: %lu index lines, %lu certificate files, %lu addresses left out "
			       "(not a plain mailbox mutt reads whole)\n", certdir, stats.lines, stats.files,
			       stats.left_out);
			if (keydir)
				cli_printf(c, "%s: %lu key lines, %lu addresses left out\n", keydir, stats.key_lines,
				       stats.key_left_out);
			cli_write(c, st.summary->str, st.summary->len);
		}
	}
	g_string_free(st.index, TRUE);
	g_string_free(st.keys, TRUE);
	g_string_free(st.summary, TRUE);
	g_ptr_array_free(st.files, TRUE);
	return rc;
}
