/* config.c: the user's configuration, $XDG_CONFIG_HOME/galsmime/config
 * (a GKeyFile). Only the front end reads it; the library gets plain
 * parameters.
 *
 *   [mutt]
 *   # keep mutt's .index files in step with the store: after every
 *   # gal import, cert/trust import and harvest that changed something
 *   sync_index = ~/.local/share/galsmime/mutt/certificates
 *   sync_keys = ~/.local/share/galsmime/mutt/keys
 *
 *   [verify]
 *   # SHA-1 signatures may be good (with a warning), for old archives
 *   allow_sha1 = true
 *
 *   [pkcs11]
 *   # the PKCS#11 module for keys on tokens whose URI names none
 *   # (default: p11-kit's proxy, which loads every registered module)
 *   module = /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
 */
#include "cli.h"

#include <string.h>

static char *
expand_home(char *path)
{
	char *r;

	if (!path || path[0] != '~' || (path[1] && path[1] != '/'))
		return path;
	r = g_build_filename(g_get_home_dir(), path + 1, NULL);
	g_free(path);
	return r;
}

void
cli_read_config(cli *c)
{
	const char *dir = g_getenv("XDG_CONFIG_HOME");
	char *path = dir && *dir ? g_build_filename(dir, "galsmime", "config", NULL)
				 : g_build_filename(g_get_home_dir(), ".config", "galsmime", "config", NULL);
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;

	if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
		c->sync_index = expand_home(g_key_file_get_string(kf, "mutt", "sync_index", NULL));
		c->sync_keys = expand_home(g_key_file_get_string(kf, "mutt", "sync_keys", NULL));
		c->allow_sha1 = g_key_file_get_boolean(kf, "verify", "allow_sha1", NULL);
		c->p11_module = expand_home(g_key_file_get_string(kf, "pkcs11", "module", NULL));
	} else if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		cli_error(c, "%s: %s (ignored)", path, err->message);
	}
	g_clear_error(&err);
	g_key_file_free(kf);
	g_free(path);
}

int
cli_after_store_change(cli *c)
{
	char *msg = NULL;
	gs_status st;

	if (!c->sync_index)
		return 0;
	if ((st = cli_open_session(c, &msg)) != GS_OK)
		return cli_fail(c, st, msg);
	/* the store changed: mutt's view follows */
	return cli_mutt_sync_index(c, c->sync_index, c->sync_keys, 1);
}
