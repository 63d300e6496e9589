/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hybridmigctl exit codes.
 *
 * The numbering follows cryptsetup(8) where the meanings overlap:
 *
 *   0  HM_EXIT_OK     success
 *   1  HM_EXIT_USAGE  wrong parameters: unknown command or option, missing
 *                     or extra argument
 *   2  HM_EXIT_PERM   permission denied (EACCES/EPERM from device-mapper)
 *   3  HM_EXIT_NOMEM  out of memory
 *   4  HM_EXIT_NODEV  wrong device specified: it does not exist, or it is
 *                     not a hybridmig device
 *   5  HM_EXIT_BUSY   device busy or already exists
 *   6  HM_EXIT_FAIL   unexpected failure: a device-mapper ioctl failed, no
 *                     device-mapper driver, a status line that cannot be
 *                     parsed, or the output could not be written
 *   7  HM_EXIT_TIMEOUT  the --timeout of a wait passed (or the kernel's
 *                     handover acknowledgement did not come in 30 s);
 *                     nothing was changed by the tool
 *   8  HM_EXIT_ABORTED  the migration was aborted (or the source's link
 *                     was disconnected) while the command waited
 *
 * Codes 2, 4 and 5 also cover migration failures of the same nature: 2
 * when the peers' secrets differ (authentication failed), 4 when the
 * destination does not match the source (size, chunk size) or a device
 * is not of the expected role, 5 when the device's phase does not allow
 * the command (handover twice, abort after handover).
 */
#ifndef HM_EXIT_H
#define HM_EXIT_H

#include <errno.h>

enum hm_exit {
	HM_EXIT_OK	= 0,
	HM_EXIT_USAGE	= 1,
	HM_EXIT_PERM	= 2,
	HM_EXIT_NOMEM	= 3,
	HM_EXIT_NODEV	= 4,
	HM_EXIT_BUSY	= 5,
	HM_EXIT_FAIL	= 6,
	HM_EXIT_TIMEOUT	= 7,
	HM_EXIT_ABORTED	= 8,
};

/* Map a negative errno returned by the hm_* helpers to an exit code. */
static inline enum hm_exit hm_exit_from_errno(int err)
{
	switch (err) {
	case 0:
		return HM_EXIT_OK;
	case -EACCES:
	case -EPERM:
		return HM_EXIT_PERM;
	case -ENOMEM:
		return HM_EXIT_NOMEM;
	case -ENODEV:
	case -EMEDIUMTYPE:
		return HM_EXIT_NODEV;
	case -EBUSY:
	case -EEXIST:
		return HM_EXIT_BUSY;
	default:
		return HM_EXIT_FAIL;
	}
}

#endif /* HM_EXIT_H */
