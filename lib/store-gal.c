/* store-gal.c: the directory part of the store: entries of GAL
 * snapshots, their addresses and certificates, and the listings. */
#include "gs-private.h"

#include <string.h>
#include <openssl/pem.h>

gs_status
gs_store_source_clear(gs_store *s, int64_t source_id, unsigned long *removed, char **errmsg)
{
	static const char del_entries[] = "DELETE FROM entry WHERE source = ?";
	static const char del_links[] = "DELETE FROM certificate_source WHERE source = ?";
	gs_status st;

	if ((st = gs_store_exec(s, del_entries, "store: replacing the snapshot", errmsg,
				GS_INT(source_id))) != GS_OK)
		return st;
	*removed = (unsigned long) sqlite3_changes(s->db);
	return gs_store_exec(s, del_links, "store: replacing the snapshot", errmsg, GS_INT(source_id));
}

gs_status
gs_store_source_rename(gs_store *s, const char *old, const char *name, int *renamed, char **errmsg)
{
	static const char sql[] = "UPDATE source SET name = ?1 WHERE name = ?2 AND kind = 'gal'"
				  " AND NOT EXISTS (SELECT 1 FROM source WHERE name = ?1)";
	gs_status st = gs_store_exec(s, sql, "store: renaming a snapshot", errmsg, GS_TEXT(name),
				     GS_TEXT(old));

	*renamed = st == GS_OK && sqlite3_changes(s->db) > 0;
	return st;
}

gs_status
gs_store_gc(gs_store *s, char **errmsg)
{
	/* certificates nothing brings any more: no source, not an anchor,
	 * not an identity */
	static const char sql[] =
		"DELETE FROM certificate WHERE NOT EXISTS"
		" (SELECT 1 FROM certificate_source cs WHERE cs.certificate = certificate.id)"
		" AND NOT EXISTS (SELECT 1 FROM anchor a WHERE a.certificate = certificate.id)"
		" AND NOT EXISTS (SELECT 1 FROM identity i WHERE i.certificate = certificate.id)";
	return gs_store_exec_v(s, sql, NULL, 0, "store: removing unused certificates", errmsg);
}

gs_status
gs_store_put_entry(gs_store *s, int64_t source_id, const char *kind, const char *name,
		   const char *alias, const char *display, int64_t *id, char **errmsg)
{
	static const char sql[] =
		"INSERT INTO entry(source, kind, name, alias, display_name) VALUES (?,?,?,?,?)";
	gs_status st = gs_store_exec(s, sql, "store: entry", errmsg, GS_INT(source_id), GS_TEXT(kind),
				     GS_TEXT(name), GS_TEXT(alias), GS_TEXT(display));

	if (st == GS_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	return st;
}

gs_status
gs_store_put_entry_address(gs_store *s, int64_t entry, const char *address, int primary,
			   char **errmsg)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO entry_address(address, entry, is_primary) VALUES (?,?,?)";

	return gs_store_exec(s, sql, "store: entry address", errmsg, GS_TEXT(address), GS_INT(entry),
			     GS_INT(primary));
}

gs_status
gs_store_put_entry_cert(gs_store *s, int64_t entry, int64_t cert, const char *attribute,
			char **errmsg)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO entry_certificate(entry, certificate, attribute) VALUES (?,?,?)";

	return gs_store_exec(s, sql, "store: entry certificate", errmsg, GS_INT(entry), GS_INT(cert),
			     GS_TEXT(attribute));
}

/* ---- listings ---- */

#define ENTRY_SELECT \
	"SELECT e.id, so.name, e.kind, e.name, e.alias, e.display_name," \
	" (SELECT group_concat(address, ' ') FROM (SELECT address FROM entry_address" \
	"   WHERE entry = e.id ORDER BY is_primary DESC, address))," \
	" (SELECT group_concat(attribute || ' ' || sha256, ' ') FROM (SELECT ec.attribute, c.sha256" \
	"   FROM entry_certificate ec JOIN certificate c ON c.id = ec.certificate" \
	"   WHERE ec.entry = e.id ORDER BY ec.attribute, c.sha256))" \
	" FROM entry e JOIN source so ON so.id = e.source"

static gs_status
walk_entries(gs_store *s, sqlite3_stmt *stmt, gs_gal_entry_cb cb, void *data,
	     unsigned long *found, char **errmsg)
{
	int rc;

	if (found)
		*found = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_gal_entry e;
		const char *addrs = (const char *) sqlite3_column_text(stmt, 6);
		const char *certs = (const char *) sqlite3_column_text(stmt, 7);
		char **v = g_strsplit(addrs ? addrs : "", " ", -1);
		/* attribute and fingerprint, pair after pair (an attribute is
		 * one word: the importers name it) */
		char **c = g_strsplit(certs ? certs : "", " ", -1);
		guint i, n = g_strv_length(c) / 2;
		gs_gal_link *links = g_new0(gs_gal_link, n + 1);
		int stop;

		for (i = 0; i < n; i++) {
			links[i].attribute = c[2 * i];
			links[i].sha256 = c[2 * i + 1];
		}

		e.id = sqlite3_column_int64(stmt, 0);
		e.source = (const char *) sqlite3_column_text(stmt, 1);
		e.kind = (const char *) sqlite3_column_text(stmt, 2);
		e.name = (const char *) sqlite3_column_text(stmt, 3);
		e.alias = (const char *) sqlite3_column_text(stmt, 4);
		e.display_name = (const char *) sqlite3_column_text(stmt, 5);
		e.addresses = (const char *const *) v;
		e.n_certs = n;
		e.links = links;
		if (found)
			(*found)++;
		stop = cb ? cb(&e, data) : 0;
		g_strfreev(v);
		g_strfreev(c);
		g_free(links);
		if (stop)
			break;
	}
	return gs_store_walked(s, rc, "store: entries", errmsg);
}

gs_status
gs_gal_lookup(gs_store *s, const char *query, gs_gal_entry_cb cb, void *data,
	      unsigned long *found, char **errmsg)
{
	/* the resolver's rule: an address matches SMTP addresses only, a
	 * name matches names, aliases and display names */
	static const char by_address[] = ENTRY_SELECT
		" WHERE e.id IN (SELECT entry FROM entry_address WHERE address = ?1) ORDER BY e.id";
	static const char by_name[] = ENTRY_SELECT
		" WHERE e.id IN (SELECT id FROM entry WHERE name = ?1 COLLATE NOCASE"
		" UNION SELECT id FROM entry WHERE alias = ?1 COLLATE NOCASE"
		" UNION SELECT id FROM entry WHERE display_name = ?1 COLLATE NOCASE)"
		" ORDER BY e.id";
	sqlite3_stmt *stmt;
	char *q;
	gs_status st;
	int address;

	if (!s || !query)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_lookup: bad arguments");
	q = gs_recipient_address(query);
	address = q != NULL;
	if (!q)
		q = g_strstrip(g_strdup(query));
	if (!(stmt = gs_store_prepare(s, address ? by_address : by_name, errmsg, &st))) {
		g_free(q);
		return st;
	}
	sqlite3_bind_text(stmt, 1, q, -1, SQLITE_STATIC);
	st = walk_entries(s, stmt, cb, data, found, errmsg);
	sqlite3_finalize(stmt);
	g_free(q);
	return st;
}

gs_status
gs_gal_list(gs_store *s, const char *source, gs_gal_entry_cb cb, void *data, char **errmsg)
{
	static const char all[] = ENTRY_SELECT " ORDER BY so.name, e.id";
	static const char one[] = ENTRY_SELECT " WHERE so.name = ? ORDER BY e.id";
	sqlite3_stmt *stmt;
	gs_status st;

	if (!s)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_list: no store");
	if (!(stmt = gs_store_prepare(s, source ? one : all, errmsg, &st)))
		return st;
	if (source)
		sqlite3_bind_text(stmt, 1, source, -1, SQLITE_STATIC);
	st = walk_entries(s, stmt, cb, data, NULL, errmsg);
	sqlite3_finalize(stmt);
	return st;
}

gs_status
gs_gal_sources(gs_store *s, gs_gal_source_cb cb, void *data, char **errmsg)
{
	static const char sql[] =
		"SELECT so.name, so.kind, so.imported_at,"
		" (SELECT count(*) FROM entry WHERE source = so.id),"
		" (SELECT count(*) FROM entry_address ea JOIN entry e ON e.id = ea.entry"
		"   WHERE e.source = so.id),"
		" (SELECT count(*) FROM certificate_source WHERE source = so.id),"
		" (SELECT count(*) FROM entry e WHERE e.source = so.id AND EXISTS"
		"   (SELECT 1 FROM entry_certificate ec WHERE ec.entry = e.id))"
		" FROM source so ORDER BY so.name";
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!s || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_sources: bad arguments");
	if (!(stmt = gs_store_prepare(s, sql, errmsg, &st)))
		return st;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_gal_source_info in;

		in.name = (const char *) sqlite3_column_text(stmt, 0);
		in.kind = (const char *) sqlite3_column_text(stmt, 1);
		in.imported_at = sqlite3_column_int64(stmt, 2);
		in.entries = (unsigned long) sqlite3_column_int64(stmt, 3);
		in.addresses = (unsigned long) sqlite3_column_int64(stmt, 4);
		in.certificates = (unsigned long) sqlite3_column_int64(stmt, 5);
		in.entries_with_certs = (unsigned long) sqlite3_column_int64(stmt, 6);
		if (cb(&in, data))
			break;
	}
	st = gs_store_walked(s, rc, "store: sources", errmsg);
	sqlite3_finalize(stmt);
	return st;
}

gs_status
gs_store_addresses(gs_store *s, int (*cb)(const char *address, void *data), void *data,
		   char **errmsg)
{
	static const char sql[] =
		"SELECT address FROM entry_address UNION SELECT address FROM certificate_address"
		" ORDER BY 1";
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!s || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_addresses: bad arguments");
	if (!(stmt = gs_store_prepare(s, sql, errmsg, &st)))
		return st;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (cb((const char *) sqlite3_column_text(stmt, 0), data))
			break;
	st = gs_store_walked(s, rc, "store: addresses", errmsg);
	sqlite3_finalize(stmt);
	return st;
}

gs_status
gs_store_cert_pem(gs_store *s, const char *sha256, char **pem, unsigned long *subject_hash,
		  unsigned long *issuer_hash, char **errmsg)
{
	X509 *x = NULL;
	gs_status st;
	BIO *b;
	char *p;
	long n;

	if (!s || !sha256 || !pem)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_cert_pem: bad arguments");
	*pem = NULL;
	if ((st = gs_store_cert_by_sha256(s, sha256, &x, errmsg)) != GS_OK)
		return st;
	if (!x)
		return gs_fail(errmsg, GS_E_NOT_FOUND, "no stored certificate %s", sha256);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	*pem = g_strndup(p, (gsize) n);
	if (subject_hash)
		*subject_hash = X509_subject_name_hash(x);
	if (issuer_hash)
		*issuer_hash = X509_issuer_name_hash(x);
	BIO_free(b);
	X509_free(x);
	return GS_OK;
}

/* ---- what the store says about one recipient (resolve.c) ---- */

static gs_status
walk_cand_rows(gs_store *s, sqlite3_stmt *stmt, GCallback fn, void *data, char **errmsg)
{
	gs_cand_row_cb cb = (gs_cand_row_cb) fn;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_cand_row row;
		int stop;

		row.x = gs_store_decode_cert(s, sqlite3_column_blob(stmt, 0), sqlite3_column_bytes(stmt, 0));
		if (!row.x)
			continue;
		row.sources = (const char *) sqlite3_column_text(stmt, 1);
		row.entry_id = sqlite3_column_int64(stmt, 2);
		row.entry = (const char *) sqlite3_column_text(stmt, 3);
		row.kind = (const char *) sqlite3_column_text(stmt, 4);
		row.attribute = (const char *) sqlite3_column_text(stmt, 5);
		stop = cb(&row, data);
		X509_free(row.x);
		if (stop)
			break;
	}
	return gs_store_walked(s, rc, "store: recipient lookup", errmsg);
}

/* the label an entry is shown by: its name, else display name, else alias */
#define ENTRY_LABEL "coalesce(e.name, e.display_name, e.alias)"

/* Run one cached query with one parameter (text when `text` is not
 * NULL, else `num`) and hand its rows to `walk`. */
typedef gs_status (*row_walker)(gs_store *s, sqlite3_stmt *stmt, GCallback cb, void *data, char **errmsg);

static gs_status
run_query(gs_store *s, const char *sql, const char *text, int64_t num, row_walker walk, GCallback cb,
	  void *data, char **errmsg)
{
	sqlite3_stmt *stmt;
	gs_status st;

	if (!(stmt = gs_store_stmt(s, sql, errmsg, &st)))
		return st;
	if (text)
		sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, num);
	st = walk(s, stmt, cb, data, errmsg);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return st;
}

gs_status
gs_store_address_candidates(gs_store *s, const char *address, gs_cand_row_cb cb, void *data,
			    char **errmsg)
{
	/* the certificates that name the address themselves (whatever
	 * brought them), then those of the directory entries that list it
	 * among their SMTP addresses: never by name, alias or display name */
	static const char sql[] =
		"SELECT c.der,"
		" (SELECT group_concat(so.name, ',') FROM certificate_source cs"
		"   JOIN source so ON so.id = cs.source WHERE cs.certificate = c.id),"
		" 0, NULL, NULL, 'certificate'"
		" FROM certificate_address ca JOIN certificate c ON c.id = ca.certificate"
		" WHERE ca.address = ?1 "
		"UNION ALL "
		"SELECT c.der, so.name, e.id, " ENTRY_LABEL ", e.kind, ec.attribute"
		" FROM entry_address ea JOIN entry e ON e.id = ea.entry"
		" JOIN entry_certificate ec ON ec.entry = e.id"
		" JOIN certificate c ON c.id = ec.certificate JOIN source so ON so.id = e.source"
		" WHERE ea.address = ?1";

	return run_query(s, sql, address, 0, walk_cand_rows, G_CALLBACK(cb), data, errmsg);
}

gs_status
gs_store_entry_candidates(gs_store *s, int64_t entry, gs_cand_row_cb cb, void *data, char **errmsg)
{
	static const char sql[] =
		"SELECT c.der, so.name, e.id, " ENTRY_LABEL ", e.kind, ec.attribute"
		" FROM entry e JOIN entry_certificate ec ON ec.entry = e.id"
		" JOIN certificate c ON c.id = ec.certificate JOIN source so ON so.id = e.source"
		" WHERE e.id = ?1";

	return run_query(s, sql, NULL, entry, walk_cand_rows, G_CALLBACK(cb), data, errmsg);
}

static gs_status
walk_entry_rows(gs_store *s, sqlite3_stmt *stmt, GCallback fn, void *data, char **errmsg)
{
	gs_entry_row_cb cb = (gs_entry_row_cb) fn;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_entry_row row;

		row.id = sqlite3_column_int64(stmt, 0);
		row.source = (const char *) sqlite3_column_text(stmt, 1);
		row.label = (const char *) sqlite3_column_text(stmt, 2);
		row.kind = (const char *) sqlite3_column_text(stmt, 3);
		row.primary = (const char *) sqlite3_column_text(stmt, 4);
		row.n_certs = (unsigned) sqlite3_column_int(stmt, 5);
		if (cb(&row, data))
			break;
	}
	return gs_store_walked(s, rc, "store: directory entries", errmsg);
}

#define ENTRY_ROW_SELECT \
	"SELECT e.id, so.name, " ENTRY_LABEL ", e.kind," \
	" (SELECT address FROM entry_address WHERE entry = e.id ORDER BY is_primary DESC, address LIMIT 1)," \
	" (SELECT count(*) FROM entry_certificate WHERE entry = e.id)" \
	" FROM entry e JOIN source so ON so.id = e.source"

gs_status
gs_store_entries_by_address(gs_store *s, const char *address, gs_entry_row_cb cb, void *data,
			    char **errmsg)
{
	static const char sql[] = ENTRY_ROW_SELECT
		" WHERE e.id IN (SELECT entry FROM entry_address WHERE address = ?1) ORDER BY e.id";

	return run_query(s, sql, address, 0, walk_entry_rows, G_CALLBACK(cb), data, errmsg);
}

gs_status
gs_store_entries_by_name(gs_store *s, const char *name, gs_entry_row_cb cb, void *data,
			 char **errmsg)
{
	static const char sql[] = ENTRY_ROW_SELECT
		" WHERE e.id IN (SELECT id FROM entry WHERE name = ?1 COLLATE NOCASE"
		"   UNION SELECT id FROM entry WHERE alias = ?1 COLLATE NOCASE"
		"   UNION SELECT id FROM entry WHERE display_name = ?1 COLLATE NOCASE)"
		" ORDER BY e.id";

	return run_query(s, sql, name, 0, walk_entry_rows, G_CALLBACK(cb), data, errmsg);
}

/* ---- what configured directories answered (directory.c) ---- */

gs_status
gs_store_dir_forget(gs_store *s, int64_t source_id, const char *address, char **errmsg)
{
	static const char del_entries[] =
		"DELETE FROM entry WHERE source = ?1 AND id IN"
		" (SELECT entry FROM entry_address WHERE address = ?2)";
	/* the certificates no entry of the source offers any more; the CAs
	 * of a chain stay (other entries' chains may need them) */
	static const char del_links[] =
		"DELETE FROM certificate_source WHERE source = ?1"
		" AND certificate IN (SELECT id FROM certificate WHERE is_ca = 0)"
		" AND certificate NOT IN (SELECT ec.certificate FROM entry e"
		"   JOIN entry_certificate ec ON ec.entry = e.id WHERE e.source = ?1)";
	gs_status st;

	if ((st = gs_store_exec(s, del_entries, "store: directory answer", errmsg, GS_INT(source_id),
				GS_TEXT(address))) != GS_OK)
		return st;
	return gs_store_exec(s, del_links, "store: directory answer", errmsg, GS_INT(source_id));
}

gs_status
gs_store_dir_answer_put(gs_store *s, const char *directory, const char *address, int64_t at,
			char **errmsg)
{
	/* how many entries of the directory's source list the address now */
	static const char sql[] =
		"INSERT OR REPLACE INTO directory_answer(directory, address, fetched_at, entries)"
		" SELECT ?1, ?2, ?3, count(*) FROM entry_address ea JOIN entry e ON e.id = ea.entry"
		" JOIN source so ON so.id = e.source WHERE ea.address = ?2 AND so.name = ?4";
	char *source = gs_directory_source(directory);
	gs_status st = gs_store_exec(s, sql, "store: directory answer", errmsg, GS_TEXT(directory),
				     GS_TEXT(address), GS_INT(at), GS_TEXT(source));

	g_free(source);
	return st;
}

gs_status
gs_directory_answers(gs_store *s, const char *address, gs_directory_answer_cb cb, void *data,
		     char **errmsg)
{
	static const char sql[] = "SELECT directory, fetched_at, entries FROM directory_answer"
				  " WHERE address = ?1 ORDER BY directory";
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!s || !address || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_directory_answers: bad arguments");
	if (!(stmt = gs_store_prepare(s, sql, errmsg, &st)))
		return st;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_directory_answer a;

		a.directory = (const char *) sqlite3_column_text(stmt, 0);
		a.address = address;
		a.fetched_at = sqlite3_column_int64(stmt, 1);
		a.entries = (unsigned long) sqlite3_column_int64(stmt, 2);
		if (cb(&a, data))
			break;
	}
	st = gs_store_walked(s, rc, "store: directory answers", errmsg);
	sqlite3_finalize(stmt);
	return st;
}
