// Threads that share a call's work: helper threads compute under the calling thread's
// floating-point environment, and Eigen's own products stay on the calling thread.
#pragma once

#include "execution.hpp"

#include <cfenv>

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

// The calling thread's floating-point environment, for the helper threads that share its work:
// its rounding mode and, on x86, the flush-to-zero and denormals-are-zero flags that a library
// built with -ffast-math sets in the thread that loads it. Without them a helper (OpenMP's pool
// keeps its threads, with the environment they started with) would round subnormal results
// differently, and the bits would depend on the thread count.
class CallerFloatEnvironment {
public:
    CallerFloatEnvironment() { std::fegetenv(&caller_); }  // in the calling thread

    // In a helper thread: the caller's environment for this scope, then the helper's own again.
    class Adopted {
    public:
        explicit Adopted(const CallerFloatEnvironment& caller) {
            std::fegetenv(&own_);
            std::fesetenv(&caller.caller_);
        }
        ~Adopted() { std::fesetenv(&own_); }
        Adopted(const Adopted&) = delete;
        Adopted& operator=(const Adopted&) = delete;

    private:
        std::fenv_t own_;
    };

private:
    std::fenv_t caller_;
};

// Eigen's own products (inside the decompositions, the factorizer that power projection steps
// through, the diagnostics) run on one thread, whatever the call's count: Eigen sizes its blocks
// by the thread count, so a product at d = 512 rounded differently on two threads (power
// projection's layers differed by 4e-15), and its threads adopt no floating-point environment.
// Sharing them gained nothing measurable (power projection at d = 512, L = 4 on two threads:
// 0.74 s either way); our own kernels share the products that count. OpenMP's thread count is
// the calling thread's own setting, so this scope leaves other threads' calls alone.
class EigenOnOneThread {
public:
    EigenOnOneThread() {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(1);
#endif
    }
    ~EigenOnOneThread() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
    }
    EigenOnOneThread(const EigenOnOneThread&) = delete;
    EigenOnOneThread& operator=(const EigenOnOneThread&) = delete;

private:
    int previous_ = 1;
};

}  // namespace deeplinear
