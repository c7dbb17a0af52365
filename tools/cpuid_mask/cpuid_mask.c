/* Hide CPU extensions from a process, so it picks the kernels a lesser CPU would, at native speed.
 *
 * Libraries choose their kernels (ONNX Runtime's MLAS, numpy, FAISS, OpenBLAS) from the CPUID
 * instruction at run time. With CPUID faulting (arch_prctl ARCH_SET_CPUID, x86-64 Linux, the
 * `cpuid_fault` flag of /proc/cpuinfo) every CPUID of the process traps to SIGSEGV; this library,
 * preloaded with LD_PRELOAD, answers each trap with the real CPUID minus the bits of the level
 * named by TRIAGE_CPUID_MASK:
 *   avx2    no AVX-512 of any kind, no AVX-VNNI, no AMX, no GFNI/VAES/VPCLMULQDQ (an AMD EPYC Rome)
 *   avx512  AVX-512 F/CD/BW/DQ/VL kept; no VNNI, BF16, VBMI, IFMA, FP16 or AMX (an Intel Skylake-SP)
 * Code compiled for the host's own ISA (-march=native) is not affected: build peers for the level.
 * Other SIGSEGV handlers (Python's faulthandler) keep working: installing one through sigaction or
 * signal records it, and faults that are not CPUID reach it. Faulting is per thread, inherited by
 * new threads and children, and reset by execve, which loads this library again.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

struct mask { uint32_t l7_ebx, l7_ecx, l7_edx, l71_eax, l71_edx, ld_eax; };

#define BIT(n) (1u << (n))
/* Leaf 7.0 EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31. */
static const uint32_t BEYOND_SKX_EBX = BIT(21) | BIT(26) | BIT(27);
static const uint32_t AVX512_EBX = BIT(16) | BIT(17) | BIT(28) | BIT(30) | BIT(31) | BEYOND_SKX_EBX;
/* Leaf 7.0 ECX: VBMI 1, VBMI2 6, GFNI 8, VAES 9, VPCLMULQDQ 10, VNNI 11, BITALG 12, VPOPCNTDQ 14. */
static const uint32_t AVX512_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const uint32_t WIDE_CRYPTO_ECX = BIT(8) | BIT(9) | BIT(10);
/* Leaf 7.0 EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25. */
static const uint32_t AVX512_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(23);
static const uint32_t AMX_EDX = BIT(22) | BIT(24) | BIT(25);
/* Leaf 7.1 EAX: AVX-VNNI 4, AVX512-BF16 5, AMX-FP16 21, AVX-IFMA 23; EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5, AVX10 19. */
static const uint32_t VNNI_L71_EAX = BIT(4) | BIT(5) | BIT(21) | BIT(23);
static const uint32_t VNNI_L71_EDX = BIT(4) | BIT(5) | BIT(19);
/* Leaf 0xD.0 EAX: XSAVE state of opmask 5, ZMM_Hi256 6, Hi16_ZMM 7, TILECFG 17, TILEDATA 18. */
static const uint32_t AVX512_XSAVE = BIT(5) | BIT(6) | BIT(7);
static const uint32_t AMX_XSAVE = BIT(17) | BIT(18);

static struct mask hidden;
static int active; /* set once faulting is on: before that (or with no level) sigaction passes through */
static struct sigaction chained; /* what the process believes its SIGSEGV action is */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static long set_faulting(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

static void masked_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    set_faulting(0);
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    set_faulting(1);
    if (leaf == 7 && sub == 0) {
        r[1] &= ~hidden.l7_ebx; r[2] &= ~hidden.l7_ecx; r[3] &= ~hidden.l7_edx;
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~hidden.l71_eax; r[3] &= ~hidden.l71_edx;
    } else if (leaf == 0xd && sub == 0) {
        r[0] &= ~hidden.ld_eax;
    } else if (leaf == 0x24 && (hidden.l71_edx & BIT(19))) {
        r[0] = r[1] = r[2] = r[3] = 0;
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (info->si_code == SI_KERNEL && ip && ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t r[4];
        masked_cpuid((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
        g[REG_RAX] = r[0]; g[REG_RBX] = r[1]; g[REG_RCX] = r[2]; g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    if (chained.sa_flags & SA_SIGINFO && chained.sa_sigaction) {
        chained.sa_sigaction(sig, info, context);
    } else if (chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN) {
        chained.sa_handler(sig);
    } else { /* default action: let the instruction fault again without us */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &dfl, NULL);
    }
}

static void install(void) {
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_segv;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&ours.sa_mask);
    real_sigaction(SIGSEGV, &ours, NULL);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction) real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !active) return real_sigaction(sig, act, old);
    if (old) *old = chained;
    if (act) chained = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

__attribute__((constructor)) static void start(void) {
    const char *level = getenv("TRIAGE_CPUID_MASK");
    if (!level || !*level) return;
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    /* Both levels: no VNNI in any form, no BF16, FP16, IFMA, VBMI, AMX, AVX10 or wide crypto. */
    hidden.l7_ebx = BEYOND_SKX_EBX;
    hidden.l7_ecx = AVX512_ECX | WIDE_CRYPTO_ECX;
    hidden.l7_edx = AVX512_EDX | AMX_EDX;
    hidden.l71_eax = VNNI_L71_EAX;
    hidden.l71_edx = VNNI_L71_EDX;
    hidden.ld_eax = AMX_XSAVE;
    if (strcmp(level, "avx2") == 0) { /* and no AVX-512 at all */
        hidden.l7_ebx = AVX512_EBX;
        hidden.ld_eax = AVX512_XSAVE | AMX_XSAVE;
    } else if (strcmp(level, "avx512") != 0) {
        fprintf(stderr, "cpuid_mask: TRIAGE_CPUID_MASK=%s is not a level; use avx2 or avx512\n", level);
        _exit(2);
    }
    real_sigaction(SIGSEGV, NULL, &chained); /* a handler set before us stays the one faults reach */
    install();
    if (set_faulting(1) != 0) {
        fprintf(stderr, "cpuid_mask: this kernel or CPU cannot fault on CPUID (no cpuid_fault in /proc/cpuinfo); "
                        "the process would see every extension, so it stops here. Use `make test-avx2-qemu` instead\n");
        _exit(2);
    }
    active = 1;
}
