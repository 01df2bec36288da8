/* store.c: the SQLite file. Schema and migrations, transactions, busy
 * handling and every query the other modules need. */
#include "gs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>

#define STORE_FILE "galsmime.db"

/* Each entry upgrades the schema by one version, inside a transaction. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE certificate ("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 TEXT NOT NULL UNIQUE,"
	"  der BLOB NOT NULL,"
	"  subject TEXT, issuer TEXT, serial TEXT,"
	"  subject_hash INTEGER, issuer_hash INTEGER,"
	"  ski BLOB,"
	"  not_before INTEGER, not_after INTEGER,"
	"  key_type TEXT, key_usage TEXT, ext_key_usage TEXT,"
	"  is_ca INTEGER NOT NULL DEFAULT 0,"
	"  added_at INTEGER);"
	"CREATE INDEX certificate_subject ON certificate(subject_hash);"
	"CREATE INDEX certificate_issuer ON certificate(issuer_hash, serial);"
	"CREATE INDEX certificate_ski ON certificate(ski);"
	"CREATE TABLE certificate_address ("
	"  address TEXT NOT NULL,"
	"  certificate INTEGER NOT NULL REFERENCES certificate(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (address, certificate)) WITHOUT ROWID;"
	"CREATE INDEX certificate_address_cert ON certificate_address(certificate);"
	"CREATE TABLE source ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT,"
	"  imported_at INTEGER, digest TEXT);"
	"CREATE TABLE certificate_source ("
	"  certificate INTEGER NOT NULL REFERENCES certificate(id) ON DELETE CASCADE,"
	"  source INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (certificate, source)) WITHOUT ROWID;"
	"CREATE INDEX certificate_source_src ON certificate_source(source);"
	"CREATE TABLE anchor ("
	"  certificate INTEGER PRIMARY KEY REFERENCES certificate(id) ON DELETE CASCADE,"
	"  added_at INTEGER);"
	"CREATE TABLE identity ("
	"  id INTEGER PRIMARY KEY,"
	"  certificate INTEGER NOT NULL UNIQUE REFERENCES certificate(id),"
	"  label TEXT, key_blob BLOB NOT NULL, encrypted INTEGER NOT NULL,"
	"  added_at INTEGER);"
	"CREATE TABLE capability ("
	"  certificate INTEGER PRIMARY KEY REFERENCES certificate(id) ON DELETE CASCADE,"
	"  oids TEXT NOT NULL, seen_at INTEGER);"
	"CREATE TABLE entry ("
	"  id INTEGER PRIMARY KEY,"
	"  source INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,"
	"  kind TEXT, name TEXT, alias TEXT, display_name TEXT);"
	"CREATE INDEX entry_source ON entry(source);"
	"CREATE INDEX entry_name ON entry(name COLLATE NOCASE);"
	"CREATE INDEX entry_alias ON entry(alias COLLATE NOCASE);"
	"CREATE INDEX entry_display ON entry(display_name);"
	"CREATE TABLE entry_address ("
	"  address TEXT NOT NULL,"
	"  entry INTEGER NOT NULL REFERENCES entry(id) ON DELETE CASCADE,"
	"  is_primary INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (address, entry)) WITHOUT ROWID;"
	"CREATE INDEX entry_address_entry ON entry_address(entry);"
	"CREATE TABLE entry_certificate ("
	"  entry INTEGER NOT NULL REFERENCES entry(id) ON DELETE CASCADE,"
	"  certificate INTEGER NOT NULL REFERENCES certificate(id) ON DELETE CASCADE,"
	"  attribute TEXT NOT NULL,"
	"  PRIMARY KEY (entry, certificate, attribute)) WITHOUT ROWID;"
	"CREATE INDEX entry_certificate_cert ON entry_certificate(certificate);"
	"CREATE TABLE crl ("
	"  id INTEGER PRIMARY KEY, issuer_hash INTEGER, issuer TEXT,"
	"  der BLOB NOT NULL, this_update INTEGER, next_update INTEGER,"
	"  url TEXT, fetched_at INTEGER);"
	"CREATE INDEX crl_issuer ON crl(issuer_hash);"
	"CREATE TABLE harvested ("
	"  message_id TEXT PRIMARY KEY, verdict TEXT, at INTEGER);",
	/* 2: an anchor trusted only for certificates issued (notBefore)
	 * before a time: Microsoft's NotBefore property in an .sst */
	"ALTER TABLE anchor ADD COLUMN issued_before INTEGER;",
	/* 3: "send it unencrypted" answers (send.c), for a few minutes */
	"CREATE TABLE confirmation (key TEXT PRIMARY KEY, at INTEGER NOT NULL);",
	/* 4: identities whose key stays on a PKCS#11 token: the token's URI
	 * (RFC 7512) instead of a key blob, never both. SQLite cannot drop a
	 * NOT NULL, so the table is rebuilt (nothing refers to it). */
	"CREATE TABLE identity_new ("
	"  id INTEGER PRIMARY KEY,"
	"  certificate INTEGER NOT NULL UNIQUE REFERENCES certificate(id),"
	"  label TEXT, key_blob BLOB, encrypted INTEGER NOT NULL,"
	"  added_at INTEGER, token_uri TEXT,"
	"  CHECK ((key_blob IS NULL) <> (token_uri IS NULL)));"
	"INSERT INTO identity_new(id, certificate, label, key_blob, encrypted, added_at)"
	"  SELECT id, certificate, label, key_blob, encrypted, added_at FROM identity;"
	"DROP TABLE identity;"
	"ALTER TABLE identity_new RENAME TO identity;",
	/* 5: what configured directories answered, asked live at encrypt
	 * time (directory.c): one row per directory and address, also when
	 * it found nothing. The entries themselves are a source's, of kind
	 * 'directory', as a snapshot's are. */
	"CREATE TABLE directory_answer ("
	"  directory TEXT NOT NULL, address TEXT NOT NULL,"
	"  fetched_at INTEGER NOT NULL, entries INTEGER NOT NULL,"
	"  PRIMARY KEY (directory, address)) WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS(migrations))

gs_status
gs_store_fail(gs_store *s, int rc, char **errmsg, const char *what)
{
	int base = rc & 0xff;
	const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return gs_fail(errmsg, GS_E_BUSY, "%s: the store is busy (locked by another process)", what);
	/* a full disk shows as SQLITE_FULL, or, when the -shm file cannot
	 * grow, as an I/O error whose system error says so */
	if (base == SQLITE_FULL ||
	    (base == SQLITE_IOERR && s && s->db && sqlite3_system_errno(s->db) == ENOSPC))
		return gs_fail(errmsg, GS_E_IO, "%s: disk full", what);
	if (base == SQLITE_NOTADB || base == SQLITE_CORRUPT)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: not a valid store: %s", what, msg);
	if (base == SQLITE_READONLY || base == SQLITE_CANTOPEN || base == SQLITE_IOERR ||
	    base == SQLITE_PERM)
		return gs_fail(errmsg, GS_E_IO, "%s: %s", what, msg);
	return gs_fail(errmsg, GS_E_INTERNAL, "%s: %s", what, msg);
}

static gs_status
exec(gs_store *s, const char *sql, char **errmsg)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return gs_store_fail(s, rc, errmsg, "store");
	return GS_OK;
}

gs_status
gs_store_begin(gs_store *s, char **errmsg)
{
	return exec(s, "BEGIN IMMEDIATE", errmsg);
}

gs_status
gs_store_commit(gs_store *s, char **errmsg)
{
	gs_status st = exec(s, "COMMIT", errmsg);

	if (st != GS_OK)
		gs_store_rollback(s);
	return st;
}

void
gs_store_rollback(gs_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void
finalize_stmt(gpointer p)
{
	sqlite3_finalize(p);
}

sqlite3_stmt *
gs_store_stmt(gs_store *s, const char *sql, char **errmsg, gs_status *st)
{
	sqlite3_stmt *stmt;
	int rc;

	if (!s->stmts)
		s->stmts = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, finalize_stmt);
	stmt = g_hash_table_lookup(s->stmts, sql);
	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		*st = GS_OK;
		return stmt;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		*st = gs_store_fail(s, rc, errmsg, "store query");
		return NULL;
	}
	g_hash_table_insert(s->stmts, (gpointer) sql, stmt);
	*st = GS_OK;
	return stmt;
}

sqlite3_stmt *
gs_store_prepare(gs_store *s, const char *sql, char **errmsg, gs_status *st)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK) {
		*st = gs_store_fail(s, rc, errmsg, "store query");
		return NULL;
	}
	*st = GS_OK;
	return stmt;
}

/* Bind `args` to a statement from gs_store_stmt. */
static void
bind_args(sqlite3_stmt *stmt, const gs_sql_arg *args, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int k = (int) i + 1;

		if (args[i].type == 'i')
			sqlite3_bind_int64(stmt, k, args[i].i);
		else if (args[i].type == 't')
			sqlite3_bind_text(stmt, k, args[i].p, -1, SQLITE_STATIC);
		else if (args[i].p)
			sqlite3_bind_blob(stmt, k, args[i].p, args[i].len, SQLITE_STATIC);
	}
}

gs_status
gs_store_exec_v(gs_store *s, const char *sql, const gs_sql_arg *args, size_t n, const char *what,
		char **errmsg)
{
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!(stmt = gs_store_stmt(s, sql, errmsg, &st)))
		return st;
	bind_args(stmt, args, n);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	st = rc == SQLITE_DONE ? GS_OK : gs_store_fail(s, rc, errmsg, what);
	/* the arguments are borrowed: nothing keeps pointing at them */
	sqlite3_clear_bindings(stmt);
	return st;
}

gs_status
gs_store_int64_v(gs_store *s, const char *sql, const gs_sql_arg *args, size_t n, int64_t *value,
		 int *found, const char *what, char **errmsg)
{
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	*value = 0;
	if (found)
		*found = 0;
	if (!(stmt = gs_store_stmt(s, sql, errmsg, &st)))
		return st;
	bind_args(stmt, args, n);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*value = sqlite3_column_int64(stmt, 0);
	if (found)
		*found = rc == SQLITE_ROW;
	sqlite3_reset(stmt);
	st = gs_store_walked(s, rc, what, errmsg);
	sqlite3_clear_bindings(stmt);
	return st;
}

gs_status
gs_store_walked(gs_store *s, int rc, const char *what, char **errmsg)
{
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? GS_OK : gs_store_fail(s, rc, errmsg, what);
}

static gs_status
schema_version(gs_store *s, int64_t *version, char **errmsg)
{
	static const char sql[] = "PRAGMA user_version";
	gs_status st = gs_store_int64_v(s, sql, NULL, 0, version, NULL, "store", errmsg);

	if (st == GS_OK && *version < 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: not a galsmime store (schema version %" G_GINT64_FORMAT ")",
			       s->path, *version);
	return st;
}

static gs_status
migrate(gs_store *s, char **errmsg)
{
	gs_status st;
	int64_t version = 0;

	if ((st = schema_version(s, &version, errmsg)) != GS_OK)
		return st;
	if (version == SCHEMA_VERSION)
		return GS_OK;
	if (version > SCHEMA_VERSION)
		return gs_fail(errmsg, GS_E_MALFORMED,
			       "%s: store schema version %" G_GINT64_FORMAT " is newer than this galsmime (%d)",
			       s->path, version, SCHEMA_VERSION);
	if ((st = exec(s, "PRAGMA journal_mode=WAL", errmsg)) != GS_OK)
		return st;
	if ((st = gs_store_begin(s, errmsg)) != GS_OK)
		return st;
	/* re-read under the write lock: another process may have migrated */
	if ((st = schema_version(s, &version, errmsg)) != GS_OK)
		goto fail;
	for (; version < SCHEMA_VERSION; version++) {
		char *sql;

		if ((st = exec(s, migrations[version], errmsg)) != GS_OK)
			goto fail;
		sql = g_strdup_printf("PRAGMA user_version=%" G_GINT64_FORMAT, version + 1);
		st = exec(s, sql, errmsg);
		g_free(sql);
		if (st != GS_OK)
			goto fail;
	}
	return gs_store_commit(s, errmsg);
fail:
	gs_store_rollback(s);
	return st;
}

/* Is `sb` (of `path`, a `what`) safe to trust? Owned by us or root, not
 * writable by group or others (unless `sticky_ok` and sticky). */
static gs_status
check_owner_mode(const char *path, const char *what, const struct stat *sb, int sticky_ok,
		 char **errmsg)
{
	if (sb->st_uid != geteuid() && sb->st_uid != 0)
		return gs_fail(errmsg, GS_E_UNSAFE,
			       "%s: the %s belongs to another user (uid %lu): galsmime uses only a "
			       "store that is yours (--home DIR, or $GALSMIME_HOME)",
			       path, what, (unsigned long) sb->st_uid);
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (sb->st_mode & S_ISVTX)))
		return gs_fail(errmsg, GS_E_UNSAFE,
			       "%s: the %s is writable by %s (mode %04o), so anyone could have changed "
			       "the store: check it, then chmod go-w '%s'",
			       path, what, (sb->st_mode & S_IWOTH) ? "others" : "its group",
			       (unsigned) (sb->st_mode & 07777), path);
	return GS_OK;
}

/* The store folder and every folder above it. */
static gs_status
check_folders(const char *dir, char **errmsg)
{
	char *abs = realpath(dir, NULL), *p;
	struct stat sb;
	gs_status st = GS_OK;

	if (!abs)
		return gs_fail(errmsg, GS_E_IO, "%s: %s", dir, g_strerror(errno));
	if (stat(abs, &sb) != 0) {
		st = gs_fail(errmsg, GS_E_IO, "%s: %s", abs, g_strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		st = gs_fail(errmsg, GS_E_IO, "%s: the store is not a folder", abs);
		goto out;
	}
	if ((st = check_owner_mode(abs, "store folder", &sb, 0, errmsg)) != GS_OK)
		goto out;
	/* an ancestor someone else can write could swap the store for theirs */
	while ((p = strrchr(abs, '/')) && p != abs) {
		*p = 0;
		if (stat(abs, &sb) != 0) {
			st = gs_fail(errmsg, GS_E_IO, "%s: %s", abs, g_strerror(errno));
			goto out;
		}
		if ((st = check_owner_mode(abs, "folder above the store", &sb, 1, errmsg)) != GS_OK)
			goto out;
	}
out:
	free(abs);
	return st;
}

/* The database's -wal and -shm files, when they exist: SQLite would read
 * what is in them. */
static gs_status
check_sidecars(const char *path, char **errmsg)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	gs_status st = GS_OK;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(suffix) && st == GS_OK; i++) {
		char *f = g_strconcat(path, suffix[i], NULL);
		struct stat sb;

		if (lstat(f, &sb) == 0) {
			if (!S_ISREG(sb.st_mode))
				st = gs_fail(errmsg, GS_E_UNSAFE, "%s: not a regular file", f);
			else
				st = check_owner_mode(f, "database file", &sb, 0, errmsg);
		}
		g_free(f);
	}
	return st;
}

/* SQLite's count of the commits other connections made to the database
 * since this one opened it (it changes whenever one did), or -1. */
static int64_t
data_version(gs_store *s)
{
	int64_t v;
	int found;

	return gs_store_int64_v(s, "PRAGMA data_version", NULL, 0, &v, &found, "store: data version", NULL) ==
			       GS_OK && found ? v : -1;
}

gs_status
gs_store_open(const char *dir, unsigned flags, int busy_timeout_ms,
	      gs_store **store, char **errmsg)
{
	gs_store *s;
	gs_status st;
	int fd, rc;

	if (!dir || !store)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_open: no folder given");
	*store = NULL;
	if (g_mkdir_with_parents(dir, 0700) != 0)
		return gs_fail(errmsg, GS_E_IO, "%s: cannot create the store folder: %s", dir,
			       g_strerror(errno));
	if ((st = check_folders(dir, errmsg)) != GS_OK)
		return st;
	s = g_new0(gs_store, 1);
	s->has_crls = -1;
	s->dir = g_strdup(dir);
	s->path = g_build_filename(dir, STORE_FILE, NULL);
	s->flags = flags;
	/* the folder and the database file are private whatever the umask;
	 * SQLite gives the -wal and -shm files the database file's mode */
	if ((flags & GS_STORE_READ_WRITE) && chmod(dir, 0700) != 0) {
		st = gs_fail(errmsg, GS_E_UNSAFE, "%s: cannot make the store folder private: %s", dir,
			     g_strerror(errno));
		gs_store_close(s);
		return st;
	}
	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		st = gs_fail(errmsg, errno == ELOOP ? GS_E_UNSAFE : GS_E_IO, "%s: %s", s->path,
			     errno == ELOOP ? "the database is a symbolic link" : g_strerror(errno));
		gs_store_close(s);
		return st;
	}
	{
		struct stat sb;

		if (fstat(fd, &sb) != 0)
			st = gs_fail(errmsg, GS_E_IO, "%s: %s", s->path, g_strerror(errno));
		else if (!S_ISREG(sb.st_mode))
			st = gs_fail(errmsg, GS_E_UNSAFE, "%s: not a regular file", s->path);
		else if ((s->dev = sb.st_dev, s->ino = sb.st_ino,
			  st = check_owner_mode(s->path, "database file", &sb, 0, errmsg)) == GS_OK &&
			 (sb.st_mode & 077) && fchmod(fd, 0600) != 0)
			st = gs_fail(errmsg, GS_E_UNSAFE, "%s: cannot make the database private: %s", s->path,
				     g_strerror(errno));
		close(fd);
		if (st == GS_OK)
			st = check_sidecars(s->path, errmsg);
		if (st != GS_OK) {
			gs_store_close(s);
			return st;
		}
	}
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		st = gs_store_fail(s, rc, errmsg, s->path);
		gs_store_close(s);
		return st;
	}
	sqlite3_busy_timeout(s->db, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if ((st = exec(s, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", errmsg)) != GS_OK ||
	    (st = migrate(s, errmsg)) != GS_OK ||
	    /* read-only: this handle writes nothing, whatever asks it to */
	    (!(flags & GS_STORE_READ_WRITE) && (st = exec(s, "PRAGMA query_only=ON", errmsg)) != GS_OK)) {
		gs_store_close(s);
		return st;
	}
	s->data_version = data_version(s);
	*store = s;
	return GS_OK;
}

gs_status
gs_store_reuse(gs_store *s, int busy_timeout_ms, char **errmsg)
{
	struct stat sb;
	gs_status st;

	if (!s || !s->db)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_reuse: no store");
	if ((st = check_folders(s->dir, errmsg)) != GS_OK)
		return st;
	if (lstat(s->path, &sb) != 0)
		return gs_fail(errmsg, GS_E_IO, "%s: %s", s->path, g_strerror(errno));
	/* the file the handle has open, still at its name */
	if (!S_ISREG(sb.st_mode) || sb.st_dev != s->dev || sb.st_ino != s->ino)
		return gs_fail(errmsg, GS_E_UNSAFE, "%s: no longer the database that was opened", s->path);
	if ((st = check_owner_mode(s->path, "database file", &sb, 0, errmsg)) != GS_OK ||
	    (st = check_sidecars(s->path, errmsg)) != GS_OK)
		return st;
	sqlite3_busy_timeout(s->db, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
	/* written since by another process: what the handle loaded is stale
	 * (the decoded certificates are kept: they are keyed by their DER) */
	{
		int64_t now = data_version(s);

		if (now < 0 || now != s->data_version) {
			gs_store_forget_anchors(s);
			if (s->crls)
				g_hash_table_destroy(s->crls);
			s->crls = NULL;
			s->has_crls = -1;
			s->data_version = now;
		}
	}
	return GS_OK;
}

void
gs_store_close(gs_store *s)
{
	if (!s)
		return;
	if (s->stmts)
		g_hash_table_destroy(s->stmts);
	if (s->decoded)
		g_hash_table_destroy(s->decoded);
	if (s->crls)
		g_hash_table_destroy(s->crls);
	if (s->db)
		sqlite3_close_v2(s->db);
	X509_STORE_free(s->anchors);
	if (s->anchor_limits)
		g_ptr_array_free(s->anchor_limits, TRUE);
	g_free(s->dir);
	g_free(s->path);
	g_free(s);
}

const char *
gs_store_path(const gs_store *s)
{
	return s ? s->path : NULL;
}

/* ---- certificates ---- */

int64_t
gs_name_hash(const X509_NAME *n)
{
	int ok = 0;
	unsigned long h = X509_NAME_hash_ex(n, NULL, NULL, &ok);

	return ok ? (int64_t) h : -1;
}

gs_status
gs_store_source(gs_store *s, const char *name, const char *kind, int64_t *id, char **errmsg)
{
	/* a snapshot's or a directory's source is theirs alone: a GAL
	 * import named "harvest" or "directory:corp" must not fill (and
	 * at its next import clear) the harvested certificates or a
	 * directory's cached answers, nor a directory's answer an import's
	 * snapshot (trust and cert import share "manual", as they always
	 * have) */
	static const char sql[] = "INSERT INTO source(name, kind, imported_at) VALUES (?1, ?2, ?3)"
				  " ON CONFLICT(name) DO UPDATE SET imported_at = ?3"
				  " WHERE kind = ?2 OR (kind NOT IN ('gal', 'directory') AND ?2 NOT IN ('gal', 'directory'))"
				  " RETURNING id";
	gs_status st;
	int found = 0;

	if ((st = gs_store_int64(s, sql, id, &found, "store: source", errmsg, GS_TEXT(name), GS_TEXT(kind),
				 GS_INT(time(NULL)))) != GS_OK)
		return st;
	if (!found)
		return gs_fail(errmsg, GS_E_USAGE, "the store has a source named '%s' of another kind (not %s): "
			       "choose another name", name, kind);
	return GS_OK;
}

static const char sql_cert_by_sha[] = "SELECT id FROM certificate WHERE sha256 = ?";
static const char sql_cert_insert[] =
	"INSERT INTO certificate(sha256, der, subject, issuer, serial, subject_hash,"
	" issuer_hash, ski, not_before, not_after, key_type, key_usage,"
	" ext_key_usage, is_ca, added_at)"
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_cert_address[] =
	"INSERT OR IGNORE INTO certificate_address(address, certificate) VALUES (?,?)";
static const char sql_cert_source[] =
	"INSERT OR IGNORE INTO certificate_source(certificate, source) VALUES (?,?)";

gs_status
gs_store_cert_id(gs_store *s, const char *sha256, int64_t *id, char **errmsg)
{
	return gs_store_int64(s, sql_cert_by_sha, id, NULL, "store: certificate", errmsg, GS_TEXT(sha256));
}

gs_status
gs_store_link_cert_source(gs_store *s, int64_t cert_id, int64_t source_id, char **errmsg)
{
	return gs_store_exec(s, sql_cert_source, "store: certificate source", errmsg, GS_INT(cert_id),
			     GS_INT(source_id));
}

/* Insert a certificate (if absent) from its view and DER, with its
 * addresses, and link it to `source_id`. */
static gs_status
put_cert_view(gs_store *s, const gs_cert_view *v, int64_t source_id, int64_t *id, int *is_new,
	      char **errmsg)
{
	gs_certdata cd;
	ASN1_OCTET_STRING *ski = NULL;
	char **emails = NULL, **e;
	gs_status st = GS_OK;

	*is_new = 0;
	gs_certdata_fill_view(&cd, v);
	if (!cd.info.sha256) {
		st = gs_fail(errmsg, GS_E_INTERNAL, "certificate without its encoding");
		goto out;
	}
	if ((st = gs_store_cert_id(s, cd.info.sha256, id, errmsg)) != GS_OK)
		goto out;
	if (*id == 0) {
		if (v->extensions)
			ski = X509V3_get_d2i(v->extensions, NID_subject_key_identifier, NULL, NULL);
		st = gs_store_exec(s, sql_cert_insert, "store: certificate", errmsg, GS_TEXT(cd.info.sha256),
				   GS_BLOB(v->der, v->der_len), GS_TEXT(cd.info.subject), GS_TEXT(cd.info.issuer),
				   GS_TEXT(cd.info.serial), GS_INT(gs_name_hash(v->subject)),
				   GS_INT(gs_name_hash(v->issuer)), GS_BLOB(ski ? ski->data : NULL, ski ? ski->length : 0),
				   GS_INT(cd.info.not_before), GS_INT(cd.info.not_after), GS_TEXT(cd.info.key_type),
				   GS_TEXT(cd.info.key_usage), GS_TEXT(cd.info.ext_key_usage), GS_INT(cd.info.is_ca),
				   GS_INT(time(NULL)));
		if (st != GS_OK)
			goto out;
		*id = sqlite3_last_insert_rowid(s->db);
		*is_new = 1;
		emails = gs_view_emails(v);
		for (e = emails; *e && st == GS_OK; e++)
			st = gs_store_exec(s, sql_cert_address, "store: certificate address", errmsg, GS_TEXT(*e),
					   GS_INT(*id));
	}
	if (st == GS_OK && source_id > 0)
		st = gs_store_link_cert_source(s, *id, source_id, errmsg);
out:
	ASN1_OCTET_STRING_free(ski);
	g_strfreev(emails);
	gs_certdata_clear(&cd);
	return st;
}

gs_status
gs_store_put_cert(gs_store *s, X509 *x, int64_t source_id, int64_t *id, int *is_new,
		  char **errmsg)
{
	gs_cert_view v;
	unsigned char *der;
	int len;
	gs_status st;

	*is_new = 0;
	if (!(der = gs_cert_to_der(x, &len)))
		return gs_fail_ssl(errmsg, GS_E_MALFORMED, "certificate cannot be encoded");
	gs_cert_view_of(x, &v);
	v.der = der;
	v.der_len = (size_t) len;
	st = put_cert_view(s, &v, source_id, id, is_new, errmsg);
	OPENSSL_free(der);
	return st;
}

gs_status
gs_store_put_cert_lite(gs_store *s, const unsigned char *der, size_t len,
		       const unsigned char *sha256, const gs_certlite *l, int64_t source_id,
		       int64_t *id, int *is_new, int *is_ca, char **errmsg)
{
	gs_cert_view v;

	gs_certlite_view(l, &v);
	v.der = der;
	v.der_len = len;
	v.sha256 = sha256;
	*is_ca = gs_view_is_ca(&v);
	return put_cert_view(s, &v, source_id, id, is_new, errmsg);
}

gs_status
gs_store_add_anchor(gs_store *s, int64_t cert_id, int64_t issued_before, int *is_new,
		    char **errmsg)
{
	static const char insert[] = "INSERT OR IGNORE INTO anchor(certificate, added_at, issued_before)"
				     " VALUES (?1, ?2, nullif(?3, 0))";
	/* a limit never widens: the earliest one stays */
	static const char limit[] = "UPDATE anchor SET issued_before = min(coalesce(issued_before, ?2), ?2)"
				    " WHERE certificate = ?1";
	gs_status st;

	*is_new = 0;
	st = gs_store_exec(s, insert, "store: anchor", errmsg, GS_INT(cert_id), GS_INT(time(NULL)),
			   GS_INT(issued_before));
	if (st != GS_OK)
		return st;
	*is_new = sqlite3_changes(s->db) > 0;
	if (!*is_new && issued_before > 0 &&
	    (st = gs_store_exec(s, limit, "store: anchor", errmsg, GS_INT(cert_id), GS_INT(issued_before))) != GS_OK)
		return st;
	gs_store_forget_anchors(s);
	return GS_OK;
}

void
gs_store_forget_anchors(gs_store *s)
{
	X509_STORE_free(s->anchors);
	s->anchors = NULL;
	if (s->anchor_limits)
		g_ptr_array_set_size(s->anchor_limits, 0);
}

gs_status
gs_store_put_capabilities(gs_store *s, int64_t cert_id, const char *oids, char **errmsg)
{
	static const char sql[] = "INSERT INTO capability(certificate, oids, seen_at) VALUES (?1,?2,?3)"
				  " ON CONFLICT(certificate) DO UPDATE SET oids = ?2, seen_at = ?3"
				  " WHERE ?3 >= seen_at";
	return gs_store_exec(s, sql, "store: capabilities", errmsg, GS_INT(cert_id), GS_TEXT(oids),
			     GS_INT(time(NULL)));
}

gs_status
gs_store_get_capabilities(gs_store *s, const char *sha256, char **oids, char **errmsg)
{
	static const char sql[] =
		"SELECT oids FROM capability JOIN certificate c ON c.id = capability.certificate "
		"WHERE c.sha256 = ?";
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	*oids = NULL;
	if (!(stmt = gs_store_stmt(s, sql, errmsg, &st)))
		return st;
	sqlite3_bind_text(stmt, 1, sha256, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*oids = g_strdup((const char *) sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	return gs_store_walked(s, rc, "store: capabilities", errmsg);
}

/* Decoding a certificate costs ~190 us with OpenSSL 3.0 (the public key
 * goes through the provider decoders), and one message's work reads the
 * same CA and recipient rows again and again: the chain of every
 * recipient, the sender's own. Decoded certificates are kept by their
 * DER bytes (so a row deleted and its id reused can never return the
 * wrong one), up to DECODED_MAX of them; callers get a reference and must
 * not modify the certificate. */
#define DECODED_MAX 1024
/* and at most this many DER bytes: a message's certificates go through
 * here too (gs_cms_read_signed), and a process that reads many hostile
 * messages with one handle (a notmuch or procmail run) must not keep
 * 1024 certificates of a megabyte each */
#define DECODED_MAX_BYTES ((size_t) 4 << 20)

X509 *
gs_store_decode_cert(gs_store *s, const void *der, int len)
{
	GBytes *key;
	X509 *x;

	if (!der || len <= 0)
		return NULL;
	if (!s->decoded)
		s->decoded = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
						   (GDestroyNotify) g_bytes_unref,
						   (GDestroyNotify) X509_free);
	key = g_bytes_new_static(der, (gsize) len);
	x = g_hash_table_lookup(s->decoded, key);
	g_bytes_unref(key);
	if (x)
		return X509_up_ref(x) ? x : NULL;
	if (!(x = gs_warm_cert(der, len))) {
		if (!(x = gs_cert_from_der(der, (size_t) len)))
			return NULL;
		gs_warm_cert_missed(der, len);
	}
	if (g_hash_table_size(s->decoded) < DECODED_MAX && (size_t) len <= DECODED_MAX_BYTES - s->decoded_bytes &&
	    X509_up_ref(x)) {
		g_hash_table_insert(s->decoded, g_bytes_new(der, (gsize) len), x);
		s->decoded_bytes += (size_t) len;
	}
	return x;
}

static X509 *
row_cert(gs_store *s, sqlite3_stmt *stmt, int col)
{
	return gs_store_decode_cert(s, sqlite3_column_blob(stmt, col), sqlite3_column_bytes(stmt, col));
}

/* Step `stmt` to its end (or until `max` certificates are kept, 0: no
 * limit), decoding column 0 of each row and keeping the certificates
 * `keep` accepts (all when NULL) in `out`. A row that is not one
 * certificate is passed over; a failed step is the store's failure. */
static gs_status
collect_certs(gs_store *s, sqlite3_stmt *stmt, int (*keep)(X509 *x, const void *arg),
	      const void *arg, int max, STACK_OF(X509) *out, char **errmsg)
{
	int rc;

	while ((max == 0 || sk_X509_num(out) < max) && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		X509 *x = row_cert(s, stmt, 0);

		if (x && (!keep || keep(x, arg)) && sk_X509_push(out, x) > 0)
			continue;
		X509_free(x);
	}
	if (max && sk_X509_num(out) >= max)
		rc = SQLITE_DONE;
	sqlite3_reset(stmt);
	return gs_store_walked(s, rc, "store: certificate lookup", errmsg);
}

/* The certificates of a cached query with one parameter `arg` (column
 * 0: DER) that `keep` accepts (all when NULL), at most `max` (0: no
 * limit), as a new stack. */
static gs_status
query_certs(gs_store *s, const char *sql, gs_sql_arg arg, int (*keep)(X509 *x, const void *karg),
	    const void *karg, int max, STACK_OF(X509) **certs, char **errmsg)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	sqlite3_stmt *stmt;
	gs_status st;

	*certs = NULL;
	if (!out)
		return gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
	if ((stmt = gs_store_stmt(s, sql, errmsg, &st))) {
		bind_args(stmt, &arg, 1);
		st = collect_certs(s, stmt, keep, karg, max, out, errmsg);
		sqlite3_clear_bindings(stmt);
	}
	if (st != GS_OK) {
		sk_X509_pop_free(out, X509_free);
		return st;
	}
	*certs = out;
	return GS_OK;
}

/* The first certificate of such a query, or NULL. */
static gs_status
first_cert(gs_store *s, const char *sql, gs_sql_arg arg, int (*keep)(X509 *x, const void *karg),
	   const void *karg, X509 **found, char **errmsg)
{
	STACK_OF(X509) *certs;
	gs_status st = query_certs(s, sql, arg, keep, karg, 1, &certs, errmsg);

	*found = st == GS_OK ? sk_X509_shift(certs) : NULL;
	sk_X509_pop_free(certs, X509_free);
	return st;
}

static int
subject_is(X509 *x, const void *name)
{
	return X509_NAME_cmp(X509_get_subject_name(x), name) == 0;
}

/* cached: every recipient's chain asks for its CA */
static const char certs_by_subject_sql[] = "SELECT der FROM certificate WHERE subject_hash = ? LIMIT 64";

gs_status
gs_store_certs_by_subject(gs_store *s, const X509_NAME *name, STACK_OF(X509) **certs, char **errmsg)
{
	return query_certs(s, certs_by_subject_sql, GS_INT(gs_name_hash(name)), subject_is, name, 0, certs, errmsg);
}

static int
no_cand(const gs_cand_row *row, void *data)
{
	(void) row;
	(void) data;
	return 1;
}

static int
no_entry(const gs_entry_row *row, void *data)
{
	(void) row;
	(void) data;
	return 1;
}

gs_status
gs_store_warm(gs_store *s, char **errmsg)
{
	X509_STORE *anchors;
	STACK_OF(X509) *none = NULL;
	gs_status st;
	int has;

	if (!s || !s->db)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_warm: no store");
	if ((st = gs_store_anchor_store(s, &anchors, errmsg)) != GS_OK ||
	    (st = gs_store_has_crls(s, &has, errmsg)) != GS_OK)
		return st;
	/* the query every chain asks, compiled (no row has this hash) */
	st = query_certs(s, certs_by_subject_sql, GS_INT(-1), NULL, NULL, 0, &none, errmsg);
	sk_X509_pop_free(none, X509_free);
	/* and those of a recipient's lookup and of finding one's own
	 * identity (no address or fingerprint is empty): compiling them was
	 * an eighth of a warm 2 KB encrypt */
	if (st == GS_OK)
		st = gs_store_address_candidates(s, "", no_cand, NULL, errmsg);
	if (st == GS_OK)
		st = gs_store_entries_by_address(s, "", no_entry, NULL, errmsg);
	if (st == GS_OK) {
		char *oids = NULL;

		st = gs_store_get_capabilities(s, "", &oids, errmsg);
		g_free(oids);
	}
	if (st == GS_OK) {
		GPtrArray *ids = NULL;

		st = gs_identity_find(s, "", &ids, errmsg);
		if (ids)
			g_ptr_array_free(ids, TRUE);
	}
	return st;
}

typedef struct issuer_serial {
	const X509_NAME *issuer;
	const ASN1_INTEGER *serial;
} issuer_serial;

static int
issuer_serial_is(X509 *x, const void *arg)
{
	const issuer_serial *is = arg;

	return !X509_NAME_cmp(X509_get_issuer_name(x), is->issuer) &&
	       !ASN1_INTEGER_cmp(X509_get0_serialNumber(x), is->serial);
}

gs_status
gs_store_cert_by_issuer_serial(gs_store *s, const X509_NAME *issuer, const ASN1_INTEGER *serial,
			       X509 **found, char **errmsg)
{
	static const char sql[] = "SELECT der FROM certificate WHERE issuer_hash = ?";
	issuer_serial is = { issuer, serial };

	return first_cert(s, sql, GS_INT(gs_name_hash(issuer)), issuer_serial_is, &is, found, errmsg);
}

gs_status
gs_store_cert_by_ski(gs_store *s, const ASN1_OCTET_STRING *ski, X509 **found, char **errmsg)
{
	static const char sql[] = "SELECT der FROM certificate WHERE ski = ?";

	return first_cert(s, sql, GS_BLOB(ski->data, ski->length), NULL, NULL, found, errmsg);
}

gs_status
gs_store_cert_by_sha256(gs_store *s, const char *sha256hex, X509 **found, char **errmsg)
{
	static const char sql[] = "SELECT der FROM certificate WHERE sha256 = lower(?)";

	return first_cert(s, sql, GS_TEXT(sha256hex), NULL, NULL, found, errmsg);
}

typedef struct anchor_limit {
	X509 *anchor;
	int64_t issued_before;
} anchor_limit;

static void
anchor_limit_free(gpointer p)
{
	anchor_limit *l = p;

	X509_free(l->anchor);
	g_free(l);
}

gs_status
gs_store_anchor_store(gs_store *s, X509_STORE **anchors, char **errmsg)
{
	static const char sql[] = "SELECT c.der, a.issued_before FROM anchor a"
				  " JOIN certificate c ON c.id = a.certificate";
	GPtrArray *limits = g_ptr_array_new_with_free_func(anchor_limit_free);
	sqlite3_stmt *stmt;
	X509_STORE *xs;
	gs_status st;
	int rc = SQLITE_DONE;

	*anchors = s->anchors;
	if (s->anchors) {
		g_ptr_array_free(limits, TRUE);
		return GS_OK;
	}
	if (!(xs = X509_STORE_new())) {
		g_ptr_array_free(limits, TRUE);
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "out of memory");
	}
	if ((stmt = gs_store_stmt(s, sql, errmsg, &st))) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			X509 *x = row_cert(s, stmt, 0);
			int64_t before = sqlite3_column_int64(stmt, 1);

			if (!x)
				continue;
			X509_STORE_add_cert(xs, x);
			if (before > 0) {
				anchor_limit *l = g_new(anchor_limit, 1);
				l->anchor = x;
				l->issued_before = before;
				g_ptr_array_add(limits, l);
			} else {
				X509_free(x);
			}
		}
		sqlite3_reset(stmt);
		st = gs_store_walked(s, rc, "store: trust anchors", errmsg);
	}
	ERR_clear_error();
	/* only a whole set of anchors is kept: a lookup that failed half
	 * way is never taken for "these are all the anchors" */
	if (st != GS_OK) {
		X509_STORE_free(xs);
		g_ptr_array_free(limits, TRUE);
		return st;
	}
	if (s->anchor_limits)
		g_ptr_array_free(s->anchor_limits, TRUE);
	s->anchor_limits = limits;
	*anchors = s->anchors = xs;
	return GS_OK;
}

int64_t
gs_store_anchor_limit(gs_store *s, X509 *anchor)
{
	guint i;

	for (i = 0; s->anchor_limits && i < s->anchor_limits->len; i++) {
		anchor_limit *l = s->anchor_limits->pdata[i];
		if (!X509_cmp(l->anchor, anchor))
			return l->issued_before;
	}
	return 0;
}

/* ---- listing ---- */

gs_status
gs_store_list_certs(gs_store *s, gs_cert_filter filter, gs_cert_cb cb, void *data,
		    char **errmsg)
{
	const char *where = "";
	sqlite3_stmt *stmt;
	gs_status st;
	char *sql;
	int rc;

	if (!s || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_list_certs: bad arguments");
	if (filter == GS_LIST_ANCHORS)
		where = " WHERE c.id IN (SELECT certificate FROM anchor)";
	else if (filter == GS_LIST_CORRESPONDENTS)
		where = " WHERE c.is_ca = 0 AND c.id NOT IN (SELECT certificate FROM anchor)"
			" AND c.id NOT IN (SELECT certificate FROM identity)";
	sql = g_strdup_printf(
		"SELECT c.der, (SELECT group_concat(so.name, ',') FROM certificate_source cs"
		" JOIN source so ON so.id = cs.source WHERE cs.certificate = c.id),"
		" (SELECT issued_before FROM anchor WHERE certificate = c.id)"
		" FROM certificate c%s ORDER BY c.subject, c.not_before", where);
	stmt = gs_store_prepare(s, sql, errmsg, &st);
	g_free(sql);
	if (!stmt)
		return st;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		X509 *x = row_cert(s, stmt, 0);
		gs_certdata cd;
		int stop;

		if (!x)
			continue;
		gs_certdata_fill(&cd, x);
		cd.info.issued_before = sqlite3_column_int64(stmt, 2);
		stop = cb(&cd.info, (const char *) sqlite3_column_text(stmt, 1), data);
		gs_certdata_clear(&cd);
		X509_free(x);
		if (stop)
			break;
	}
	st = gs_store_walked(s, rc, "store: list", errmsg);
	sqlite3_finalize(stmt);
	return st;
}

gs_status
gs_store_import_certs(gs_store *s, const unsigned char *data, size_t len, const char *source,
		      gs_cert_role role, gs_import_stats *stats, char **errmsg)
{
	STACK_OF(X509) *certs = NULL;
	gs_import_stats local = { 0 };
	int64_t src = 0;
	gs_status st;
	int i;

	if (!s || !data)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_import_certs: bad arguments");
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if (role == GS_ROLE_ANCHOR)
		return gs_store_import_anchors(s, data, len, source, NULL, NULL, stats, errmsg);
	if ((st = gs_read_certificates(data, len, &certs, errmsg)) != GS_OK)
		return st;
	if ((st = gs_store_begin(s, errmsg)) != GS_OK)
		goto out;
	if ((st = gs_store_source(s, source ? source : "manual", "cert", &src, errmsg)) != GS_OK)
		goto fail;
	for (i = 0; i < sk_X509_num(certs); i++) {
		int64_t id;
		int is_new;

		if ((st = gs_store_put_cert(s, sk_X509_value(certs, i), src, &id, &is_new, errmsg)) != GS_OK)
			goto fail;
		if (is_new)
			stats->certs_new++;
		else
			stats->certs_known++;
	}
	st = gs_store_commit(s, errmsg);
	goto out;
fail:
	gs_store_rollback(s);
out:
	sk_X509_pop_free(certs, X509_free);
	return st;
}
