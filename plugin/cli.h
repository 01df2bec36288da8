/* cli.h: what the subcommands of the galsmime command share: the
 * command table entry, the run state, error printing, the one mapping
 * from library statuses to exit codes, stdin/stdout handling and the
 * passphrase sources. */
#ifndef GALSMIME_CLI_H
#define GALSMIME_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include "galsmime.h"

/* Exit codes (sysexits.h where they mean something to an MDA). */
enum {
	EXIT_GOOD = 0,
	EXIT_VERIFY_BAD = 1,      /* verify: signed but not good; queries: not found */
	EXIT_VERIFY_UNSIGNED = 2, /* verify: not signed */
	EXIT_USAGE = 64,          /* EX_USAGE */
	EXIT_DATAERR = 65,        /* EX_DATAERR: malformed input */
	EXIT_NOUSER = 67,         /* EX_NOUSER: a recipient has no usable certificate */
	EXIT_SOFTWARE = 70,       /* EX_SOFTWARE */
	EXIT_IOERR = 74,          /* EX_IOERR */
	EXIT_TEMPFAIL = 75,       /* EX_TEMPFAIL: store busy, try again */
	EXIT_NOPERM = 77,         /* EX_NOPERM: no matching private key, wrong passphrase */
};

typedef struct cli cli;

/* The access to the store a command needs: read-only unless it writes
 * (the store is opened when the command first asks: cli_open_store). */
typedef enum {
	NEEDS_STORE_READ = 0,
	NEEDS_STORE_WRITE = 1 << 0,
	/* the command opens the store itself, once it has read stdin, so
	 * that a store it cannot open still lets the message pass through */
	NEEDS_STORE_LATE = 1 << 1,
	/* asks the directories the configuration names (their groups are
	 * read only for these commands), and then opens the store
	 * read-write: their answers are cached in it */
	NEEDS_STORE_DIRECTORY = 1 << 2,
} cli_needs;

typedef struct cli_command {
	const char *name;
	int (*run)(cli *c, int argc, char **argv);
	cli_needs needs;
	const char *writes;       /* subcommands that write the store (space-separated), or NULL */
	const char *synopsis;     /* after "galsmime NAME " */
	const char *summary;      /* one line for --help */
	const char *options;      /* every option, one a line, for galsmime NAME --help */
} cli_command;

struct cli {
	const char *cmd;          /* the subcommand's name, for messages */
	char *home;
	int busy_ms;
	gs_store *store;
	gs_session *session;
	/* passphrase sources, in order of precedence */
	char *pass_file;
	int pass_fd;
	char *pass_env_file;
	char *pass_cache;         /* read once, wiped at exit */
	size_t pass_cache_len;
	int pass_read;
	/* stdin, kept whole so the original can pass through unchanged */
	GMimeStream *in;
	const unsigned char *raw;
	size_t raw_len;
	void *raw_map;            /* when stdin is a mapped file */
	size_t raw_map_len;
	int quiet;
	int out_errno;            /* the first failed write to stdout (cli_write) */
	int write;                /* the store is opened read-write (the table says so) */
	int allow_sha1;           /* --allow-sha1, or [verify] allow_sha1 in the configuration */
	/* configuration (config.c) */
	char *sync_index;         /* [mutt] sync_index: mutt's $smime_certificates */
	char *sync_keys;          /* [mutt] sync_keys: mutt's $smime_keys */
	char *p11_module;         /* [pkcs11] module: for token URIs naming none */
	/* the key agent (cmd-agent.c; [agent] in the configuration) */
	int agent_enable;         /* [agent] enable (default true) */
	unsigned agent_default_ttl; /* [agent] default_cache_ttl (600) */
	unsigned agent_max_ttl;   /* [agent] max_cache_ttl (7200) */
	char *agent_pinentry;     /* [agent] pinentry (default /usr/bin/pinentry) */
	char *agent_pinentry_graphical; /* [agent] pinentry_graphical (config.c says the default) */
	/* [directory NAME] groups and [lookup] timeout: asked at encrypt time */
	GArray *directories;      /* gs_directory, strings owned, passwords wiped at exit */
	unsigned dir_timeout_ms;
	gs_agent *agent;          /* the connection, once reached */
	int agent_tried;
};

/* `s` (from a certificate, a message, the GAL, the command line) made
 * safe to show a person: control characters and escapes as \xNN (see
 * gs_printable), at most `max` bytes (0: no limit). The copy lives until
 * cli_cleanup. NULL stays NULL. */
const char *cli_text(const char *s, size_t max);
/* Print "galsmime CMD: message" on stderr (one line). */
void cli_error(cli *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The exit code for a library status: the only such mapping. */
int cli_exit_code(gs_status st);
/* Print errmsg (freeing it) and return the exit code for st. */
int cli_fail(cli *c, gs_status st, char *errmsg);
/* Usage error: print and return EXIT_USAGE. */
int cli_usage(cli *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

gs_status cli_open_store(cli *c, char **errmsg);
gs_status cli_open_session(cli *c, char **errmsg);

/* Read all of stdin (mmap when it is a file). Returns 0 or an exit code. */
int cli_read_stdin(cli *c);
/* Parse stdin as a message. Returns 0 or an exit code (printed). */
int cli_parse_message(cli *c, GMimeMessage **m);
/* The whole of file `path` (new, g_free): 0, or EXIT_IOERR (said). */
int cli_read_file(cli *c, const char *path, unsigned char **data, size_t *len);
/* stdout: one buffered channel for everything a command writes (no
 * printf). Each returns 0 or EXIT_IOERR. The first failure is said once
 * (nothing when the reader went away: EPIPE) and every later write is
 * skipped; a listing's callback stops when cli_out_failed says so.
 * cli_note is a summary line ("3 certificates new"): not under -q. */
int cli_write_message(cli *c, GMimeMessage *m);
int cli_write(cli *c, const void *p, size_t n);
int cli_printf(cli *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int cli_note(cli *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int cli_out_failed(const cli *c);
/* Flush stdout and check it: 0 or EXIT_IOERR. main() calls it after a
 * command that succeeded. */
int cli_flush(cli *c);

/* Options shared by every command that may open a key or judge a
 * signature: the passphrase sources, and --allow-sha1. */
#define CLI_COMMON_OPTIONS \
	{ "passphrase-file", required_argument, NULL, 0x1001 }, \
	{ "passphrase-fd", required_argument, NULL, 0x1002 }, \
	{ "allow-sha1", no_argument, NULL, 0x1003 }
/* Handle a common option; returns 1 when `opt` was one. */
int cli_common_option(cli *c, int opt, const char *arg);
/* Is a passphrase source (file, descriptor, environment) configured? */
int cli_pass_configured(const cli *c);
/* Ask for a secret on the terminal (/dev/tty), without echo. */
gs_status cli_prompt_secret(cli *c, const char *prompt, char **pass, size_t *len);
/* Read the passphrase now (NULL when no source is configured). */
gs_status cli_passphrase(cli *c, char **pass, size_t *len);
/* Read a secret other than the key passphrase (a directory's bind
 * password): the first line of `file` (which others must not be able
 * to read or change) or of descriptor `fd` (when file is NULL; not
 * closed). *pass (cli_free_secret) holds *len bytes and a NUL. Returns
 * 0, or the exit code after saying why on stderr. */
int cli_read_secret(cli *c, const char *file, int fd, char **pass, size_t *len);
/* Wipe and free what cli_read_secret gave. NULL is fine. */
void cli_free_secret(char *pass);
/* Release everything, wiping the cached passphrase. */
void cli_cleanup(cli *c);
/* The passphrase read and the session's keys wiped and freed (part of
 * cli_cleanup; for a process about to end without the rest). */
void cli_drop_secrets(cli *c);

/* Say on stderr how each recipient whose certificate does not name its
 * address was bound (unless --quiet) (plugin/report.c). */
void cli_print_bindings(cli *c, const gs_recipients *r);
/* Say on stderr, even under --quiet, what a directory that did not
 * answer meant for each recipient (an older cached answer used, or
 * none). */
void cli_print_directories(cli *c, const gs_recipients *r);
/* Human rendering of a verdict on stderr (plugin/report.c). */
void cli_print_report(cli *c, const gs_report *r);
/* The warning that decrypted content is not authenticated, when it is
 * not (gs_report_unauthenticated), whatever --quiet says
 * (cmd-decrypt.c; also mutt decrypt). */
void cli_warn_unauthenticated(cli *c, const gs_report *r);
char *cli_time(int64_t t);
char *cli_signed_at(int64_t t);

/* The user's configuration file (config.c); with `directories`, also
 * its [directory NAME] groups (their password files are read) and
 * [lookup]. */
void cli_read_config(cli *c, int directories);
/* Free the directories read from it, wiping their passwords. */
void cli_free_directories(cli *c);
/* [agent] pinentry_graphical, else the first graphical pinentry
 * installed, else [agent] pinentry (looked for on the first call). */
const char *cli_pinentry_graphical(cli *c);
/* $HOME as the environment says now, else the password file's. */
const char *cli_home_dir(void);
/* After a command changed the store: keep mutt's .index in step when the
 * configuration asks for it. Returns 0 or an exit code. */
int cli_after_store_change(cli *c);
/* mutt-index.c; quiet: no summary line */
int cli_mutt_sync_index(cli *c, const char *certdir, const char *keydir, int quiet);

/* The command table (galsmime.c). */
extern const cli_command cli_commands[];
/* What the warm engine's worker (engine.c) asks of cli_main. `go`,
 * called once the configuration is read, may decline the command
 * (returns 0): cli_main then returns CLI_DECLINED having done nothing
 * else. `answered`, called once the command has run and its output is
 * flushed, before anything is freed, is given the exit code (the
 * worker tells its front then); it may end the process (then wiping
 * the secrets first: cli_drop_secrets). */
typedef struct cli_hooks {
	int (*go)(cli *c);
	void (*answered)(cli *c, int rc);
} cli_hooks;
/* galsmime's main: options, configuration, dispatch, exit code; `hooks`
 * NULL but in the warm engine's worker. */
#define CLI_DECLINED (-1)
int cli_main(int argc, char **argv, const cli_hooks *hooks);

/* The key agent's folder (cmd-agent.c): a new string, or NULL (said
 * why, unless it is missing and not `create`). */
char *cli_agent_dir(cli *c, int create);
/* the agent's socket in its folder `dir` (a new string) */
char *cli_agent_socket(const char *dir);
/* Is the socket at `path` still the one bound there (`own`, its stat
 * then), not removed or another's since? */
int cli_socket_ours(const char *path, const struct stat *own);
/* Run `galsmime --home HOME agent SUB FD_OPTION FD` (this binary)
 * detached: its own session, stdio on /dev/null, nobody's child, `fd`
 * its only inherited descriptor. 0, or -1 (fork failed, errno). */
int cli_spawn_self(cli *c, const char *sub, const char *fd_option, int fd);
/* The warm engine (engine.c): `galsmime agent engine --watch-fd N`, run
 * by the agent beside itself; serves until N reports the agent gone. */
int cli_engine_serve(cli *c, int watch_fd);
/* Start the engine beside this agent (engine.c): the write end of its
 * watch pipe, which the agent keeps open while it lives, or -1. */
int cli_engine_spawn(cli *c);
/* In a worker of the engine: the store its spare opened read-only before
 * the request came, when the request asks for that store read-only and
 * gs_store_reuse finds it unchanged (the caller owns it), else NULL (the
 * caller opens the store itself). Taken at most once. */
gs_store *cli_engine_take_store(const char *home, unsigned flags, int busy_ms);
/* In a warm engine's worker: the connection to the key agent at `sock`
 * that its spare made while it waited (HELLO answered), if it is that
 * agent's and still open; else NULL. Taken once. */
gs_agent *cli_engine_take_agent(const char *sock);

/* The subcommands, one file each. */
int cmd_key(cli *c, int argc, char **argv);
int cmd_trust(cli *c, int argc, char **argv);
int cmd_cert(cli *c, int argc, char **argv);
int cmd_sign(cli *c, int argc, char **argv);
int cmd_encrypt(cli *c, int argc, char **argv);
int cmd_decrypt(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_gal(cli *c, int argc, char **argv);
int cmd_send(cli *c, int argc, char **argv);
int cmd_mutt(cli *c, int argc, char **argv);
int cmd_harvest(cli *c, int argc, char **argv);
int cmd_notmuch(cli *c, int argc, char **argv);
int cmd_crl(cli *c, int argc, char **argv);
int cmd_agent(cli *c, int argc, char **argv);

/* The session's way to the key agent (cmd-agent.c): a gs_agent_cb whose
 * data is the cli. */
gs_agent *cli_agent_cb(void *data);
/* Where a pinentry could ask (cmd-agent.c): the configured programs,
 * the terminal (stdin's, else $GPG_TTY), $TERM, $DISPLAY,
 * $WAYLAND_DISPLAY; strings borrowed from the environment and c.
 * Returns non-zero when there is a terminal or a display. */
int cli_terminal(cli *c, gs_pinentry_where *w);

#endif
