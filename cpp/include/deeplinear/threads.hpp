// Threads that share a call's work. Eigen's own products inside the decompositions may use
// OpenMP threads: the context's count for one scope, set for the calling thread only (OpenMP's
// per-thread setting), so concurrent calls from several threads do not interfere. And helper
// threads compute under the calling thread's floating-point environment.
#pragma once

#include "execution.hpp"

#include <cfenv>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64) || defined(__SSE__)
#include <xmmintrin.h>
#define DEEPLINEAR_HAS_MXCSR 1
#endif

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

// The calling thread's floating-point environment, for the helper threads that share its work:
// its rounding mode and, on x86, the flush-to-zero and denormals-are-zero flags that a library
// built with -ffast-math sets in the thread that loads it. Without them a helper (OpenMP's pool
// keeps its threads, with the environment they started with) would round subnormal results
// differently, and the bits would depend on the thread count.
//
// A helper leaves each scope in the default environment, whatever it had before: a helper of
// OpenMP's pool starts with the environment of the thread that made the pool, and Eigen's
// products, whose threads adopt nothing, share the pool (see OpenMpThreads).
class CallerFloatEnvironment {
public:
    CallerFloatEnvironment() : thread_(std::this_thread::get_id()) { std::fegetenv(&caller_); }  // in the caller

    // In a thread of the call: the caller's environment for this scope; then, in a helper, the
    // default one (in the calling thread itself, its own again).
    class Adopted {
    public:
        explicit Adopted(const CallerFloatEnvironment& caller) : helper_(std::this_thread::get_id() != caller.thread_) {
            std::fegetenv(&own_);
            std::fesetenv(&caller.caller_);
        }
        ~Adopted() { std::fesetenv(helper_ ? FE_DFL_ENV : &own_); }
        Adopted(const Adopted&) = delete;
        Adopted& operator=(const Adopted&) = delete;

    private:
        std::fenv_t own_;
        bool helper_;
    };

private:
    std::fenv_t caller_;
    std::thread::id thread_;
};

// Whether the calling thread computes in the default floating-point environment: rounding to
// nearest and, on x86, neither flush-to-zero nor denormals-are-zero.
inline bool default_float_environment() {
    if (std::fegetround() != FE_TONEAREST) return false;
#ifdef DEEPLINEAR_HAS_MXCSR
    constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
    if ((_mm_getcsr() & (kFlushToZero | kDenormalsAreZero)) != 0) return false;
#endif
    return true;
}

// Eigen's products (inside the decompositions, the factorizer, the diagnostics) take OpenMP's
// thread count of the calling thread: the context's for this scope. Their threads do not adopt
// the caller's floating-point environment, so a caller in another than the default one gets
// one thread: the bits do not depend on the thread count whatever the environment (OpenMP's
// helpers are in the default one between calls, see CallerFloatEnvironment).
class OpenMpThreads {
public:
    explicit OpenMpThreads(const ExecutionContext& context) {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(default_float_environment() ? context.threads : 1);
#else
        (void)context;
#endif
    }
    ~OpenMpThreads() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
    }
    OpenMpThreads(const OpenMpThreads&) = delete;
    OpenMpThreads& operator=(const OpenMpThreads&) = delete;

private:
    int previous_ = 1;
};

}  // namespace deeplinear
