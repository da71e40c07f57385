/* err.c: the sl_err convention (see sl_common.h). */
#include "sl_common.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const names[SL_E__COUNT] = {
	[SL_OK] = "ok",
	[SL_E_USAGE] = "usage",
	[SL_E_IO] = "io",
	[SL_E_NOSPC] = "no-space",
	[SL_E_NOMEM] = "no-memory",
	[SL_E_FORMAT] = "format",
	[SL_E_CHANGED] = "changed",
	[SL_E_CORRUPT] = "corrupt",
	[SL_E_STATE] = "state",
	[SL_E_UNSUPPORTED] = "unsupported",
	[SL_E_SKIP] = "skipped",
};

const char *sl_code_name(int code)
{
	if (code < 0)
		code = -code;
	return code < SL_E__COUNT ? names[code] : "unknown";
}

static int vfail(sl_err *e, int code, const char *suffix, const char *fmt, va_list ap)
{
	if (e) {
		int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		if (suffix && n >= 0 && (size_t)n < sizeof e->msg)
			snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", suffix);
		e->code = code;
	}
	return -code;
}

int sl_fail(sl_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(e, code, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int sl_fail_errno(sl_err *e, int code, int errnum, const char *fmt, ...)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == ENOSPC || errnum == EDQUOT)
		code = SL_E_NOSPC;
	else if (errnum == ENOMEM)
		code = SL_E_NOMEM;
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(e, code, strerror(errnum), fmt, ap);
	va_end(ap);
	return rc;
}

int sl_err_take(sl_err *kept, sl_err *out)
{
	int rc = -kept->code;
	if (out && kept->code)
		*out = *kept;
	memset(kept, 0, sizeof *kept);
	return rc;
}
