/* XSAVE images of workload threads.
 *
 * The format is the one the host kernel writes in a signal frame: a 512-byte
 * legacy FXSAVE region whose software-reserved bytes hold fpx_sw_bytes
 * (magic, sizes, enabled features), the 64-byte XSAVE header, then the
 * extended components. The sentry learns the exact layout once, from a
 * signal it sends itself, so every image it builds or accepts matches what
 * this host restores. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define FPX_SW_OFF 464
#define FP_XSTATE_MAGIC1 0x46505853U
#define XSAVE_HDR_OFF 512
#define XSAVE_HDR_SIZE 64
#define MXCSR_OFF 24
#define MXCSR_MASK_OFF 28
#define MAX_IMAGE 16384

struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

static unsigned char init_image[MAX_IMAGE] __attribute__((aligned(64)));
static struct fpx_sw_bytes host_sw;
/* Written by the signal handler: volatile, or the compiler may keep the
 * value it read before raise(). */
static volatile size_t image_size;
static uint32_t mxcsr_mask;

static void capture(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	const unsigned char *fp = (const unsigned char *)uc->uc_mcontext.fpregs;
	struct fpx_sw_bytes sw;

	(void)sig;
	(void)si;
	if (!fp)
		return;
	memcpy(&sw, fp + FPX_SW_OFF, sizeof(sw));
	if (sw.magic1 != FP_XSTATE_MAGIC1 || sw.xstate_size < 576 ||
	    sw.xstate_size > MAX_IMAGE)
		return;
	memcpy(init_image, fp, sw.xstate_size);
	host_sw = sw;
	image_size = sw.xstate_size;
}

/* Called once from the platform's init (single-threaded then). */
int plat_fpu_init(void)
{
	struct sigaction sa, old;

	if (image_size)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = capture;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old) < 0)
		return -errno;
	raise(SIGUSR1);
	sigaction(SIGUSR1, &old, NULL);
	if (!image_size)
		return -ENOTSUP; /* no XSAVE frames: not a host we run on */

	memcpy(&mxcsr_mask, init_image + MXCSR_MASK_OFF, 4);
	if (!mxcsr_mask)
		mxcsr_mask = 0xffbf;
	/* The init state: x87 and SSE present with their reset values (so the
	 * kernel loads FCW and MXCSR from the image), every other component
	 * in its init state. */
	memset(init_image, 0, FPX_SW_OFF);
	memset(init_image + XSAVE_HDR_OFF, 0, image_size - XSAVE_HDR_OFF);
	init_image[0] = 0x7f; /* FCW = 0x037f */
	init_image[1] = 0x03;
	uint32_t mxcsr = 0x1f80;
	memcpy(init_image + MXCSR_OFF, &mxcsr, 4);
	memcpy(init_image + MXCSR_MASK_OFF, &mxcsr_mask, 4);
	uint64_t bv = 3 & host_sw.xfeatures;
	memcpy(init_image + XSAVE_HDR_OFF, &bv, 8);
	return 0;
}

size_t plat_fpstate_size(void)
{
	return image_size;
}

const void *plat_fpstate_init_image(void)
{
	return init_image;
}

int plat_fpstate_sanitize(void *buf, size_t len)
{
	unsigned char *p = buf;
	uint32_t mxcsr;
	uint64_t bv;

	if (!image_size || len != image_size)
		return -EINVAL;
	/* The software bytes describe this host, whatever the workload wrote. */
	memcpy(p + FPX_SW_OFF, &host_sw, sizeof(host_sw));
	memcpy(&mxcsr, p + MXCSR_OFF, 4);
	mxcsr &= mxcsr_mask;
	memcpy(p + MXCSR_OFF, &mxcsr, 4);
	memcpy(p + MXCSR_MASK_OFF, &mxcsr_mask, 4);
	/* Header: only features this host enables, standard (uncompacted)
	 * form, reserved bytes zero: what XRSTOR requires not to fault. */
	memcpy(&bv, p + XSAVE_HDR_OFF, 8);
	bv &= host_sw.xfeatures;
	memcpy(p + XSAVE_HDR_OFF, &bv, 8);
	memset(p + XSAVE_HDR_OFF + 8, 0, XSAVE_HDR_SIZE - 8);
	return 0;
}
