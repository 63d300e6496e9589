/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef HM_KEY_H
#define HM_KEY_H

#include <stdbool.h>

int hm_cmd_key(int argc, char **argv);
int hm_key_load_file(const char *desc, const char *file, bool quiet);
int hm_key_invalidate(const char *desc, bool quiet);

#endif /* HM_KEY_H */
