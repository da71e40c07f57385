/* sha256.c: SHA-256 through OpenSSL's EVP interface (uses SHA-NI/AVX paths). */
#include "sl_common.h"
#include <openssl/evp.h>
#include <stdlib.h>

struct sl_sha256 {
	EVP_MD_CTX *ctx;
};

sl_sha256 *sl_sha256_new(void)
{
	sl_sha256 *h = sl_xmalloc(sizeof *h);
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx)
		abort();
	sl_sha256_reset(h);
	return h;
}

void sl_sha256_reset(sl_sha256 *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
}

void sl_sha256_update(sl_sha256 *h, const void *p, size_t n)
{
	if (n)
		EVP_DigestUpdate(h->ctx, p, n);
}

void sl_sha256_final(sl_sha256 *h, uint8_t out[32])
{
	unsigned len = 32;
	EVP_DigestFinal_ex(h->ctx, out, &len);
	sl_sha256_reset(h);
}

void sl_sha256_free(sl_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void sl_sha256_once(const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 32;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}
