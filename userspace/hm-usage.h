/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef HM_USAGE_H
#define HM_USAGE_H

#include <stdio.h>

/* Print the --help text of command @cmd; returns 0. */
int hm_print_usage(const char *cmd, FILE *f);

#endif /* HM_USAGE_H */
