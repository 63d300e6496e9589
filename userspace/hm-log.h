/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One-line error and warning messages of hybridmigctl
 * ("hybridmigctl: error: ...").
 */
#ifndef HM_LOG_H
#define HM_LOG_H

#include "hm-compiler.h"

#define HM_PROG		"hybridmigctl"

__printf(1, 2) void hm_err(const char *fmt, ...);
/* "hybridmigctl: warning: ..." */
__printf(1, 2) void hm_warn(const char *fmt, ...);
/* An error in the command line; returns HM_EXIT_USAGE. */
__printf(1, 2) int hm_usage_err(const char *fmt, ...);

#endif /* HM_LOG_H */
