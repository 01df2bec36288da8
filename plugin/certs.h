/* certs.h: helpers shared by `cert` and `trust` (certs.c). */
#ifndef GALSMIME_CERTS_H
#define GALSMIME_CERTS_H
#include "cli.h"

int certs_import(cli *c, int argc, char **argv, gs_cert_role role);
int certs_list(cli *c, gs_cert_filter filter);
/* `cert` and `trust` themselves: import FILE... with `role`, or list
 * (every certificate, or the anchors). */
int certs_command(cli *c, int argc, char **argv, gs_cert_role role);
int certs_print(cli *c, const gs_cert_info *ci, const char *sources);
#endif
