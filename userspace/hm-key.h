/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef HM_KEY_H
#define HM_KEY_H

int hm_cmd_key(int argc, char **argv);

#endif /* HM_KEY_H */
