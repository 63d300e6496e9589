/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel-style helpers hybridmigctl uses.
 */
#ifndef HM_COMPILER_H
#define HM_COMPILER_H

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define __printf(a, b)	__attribute__((format(printf, a, b)))

#endif /* HM_COMPILER_H */
