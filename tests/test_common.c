/* test_common.c: JSON escaping (including bytes that are not UTF-8), hex,
 * SHA-256 against known vectors, and the error convention. */
#include "unit.h"
#include "common/sl_common.h"
#include <errno.h>

int main(void)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_json_str(&b, "a\"b\\c\n\x01 é");
	CHECK(!strcmp(b.data, "\"a\\\"b\\\\c\\u000a\\u0001 é\""));
	sl_buf_reset(&b);
	sl_buf_json_strn(&b, "\xff\xfe/\xc3", 4); /* invalid and truncated UTF-8 */
	CHECK(!strcmp(b.data, "\"\\udcff\\udcfe/\\udcc3\""));
	sl_buf_reset(&b);
	sl_buf_json_str(&b, "\xed\xa0\x80"); /* a UTF-16 surrogate is not UTF-8 */
	CHECK(!strcmp(b.data, "\"\\udced\\udca0\\udc80\""));

	uint8_t d[32], back[32];
	char hex[65];
	sl_sha256_once("abc", 3, d);
	sl_hex(hex, d, 32);
	CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(sl_unhex(back, hex, 32) == 0 && !memcmp(back, d, 32));
	CHECK(sl_unhex(back, "zz", 1) == -1);
	sl_sha256 *h = sl_sha256_new();
	sl_sha256_update(h, "a", 1);
	sl_sha256_update(h, "bc", 2);
	sl_sha256_final(h, back);
	CHECK(!memcmp(back, d, 32));
	sl_sha256_free(h);

	sl_err e;
	CHECK(sl_fail_errno(&e, SL_E_IO, ENOSPC, "writing %s", "pack 1") == -SL_E_NOSPC);
	CHECK(e.code == SL_E_NOSPC && strstr(e.msg, "writing pack 1: No space left"));
	CHECK(sl_fail(&e, SL_E_FORMAT, "bad") == -SL_E_FORMAT && !strcmp(sl_code_name(-SL_E_FORMAT), "format"));
	sl_buf_free(&b);
	return UNIT_DONE();
}
