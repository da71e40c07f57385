/* version.c: the versions of sluice and its libraries, for --version and for
 * every provenance record (so a record says exactly what produced it). */
#include "engine.h"
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <zlib.h>

/* htslib/hts.h's own; its header is not included here because its format
 * enum (sam, bam, json...) would shadow names in this file. */
const char *hts_version(void);

#ifndef SL_LIBURING_VERSION
#define SL_LIBURING_VERSION "unknown"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char json[512];

static void build(void)
{
	snprintf(json, sizeof json,
		 "{\"sluice\":\"%s\",\"sqlite\":\"%s\",\"openssl\":\"%s\",\"liburing\":\"%s\","
		 "\"zlib\":\"%s\",\"htslib\":\"%s\"}",
		 SL_VERSION, sqlite3_libversion(), OpenSSL_version(OPENSSL_VERSION_STRING),
		 SL_LIBURING_VERSION, zlibVersion(), hts_version());
}

const char *sl_versions_json(void)
{
	pthread_once(&once, build);
	return json;
}

void sl_versions_text(sl_buf *b)
{
	sl_buf_printf(b, "sluice %s\n", SL_VERSION);
	sl_buf_printf(b, "sqlite %s\n", sqlite3_libversion());
	sl_buf_printf(b, "openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	sl_buf_printf(b, "liburing %s\n", SL_LIBURING_VERSION);
	sl_buf_printf(b, "zlib %s\n", zlibVersion());
	sl_buf_printf(b, "htslib %s\n", hts_version());
}
